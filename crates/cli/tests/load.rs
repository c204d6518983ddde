//! The load tool (`pincer-sim load`) against a debug `pincer`: a tiny load
//! must come back with every message answered exactly once and numbers that
//! make sense. The real measurements (release builds) are in docs/BENCHMARKS.md.

use std::path::PathBuf;

use pincer_sim::load::{self, LoadConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_load_is_answered_exactly_once_and_measured() {
    let config = LoadConfig {
        pincer: Some(PathBuf::from(env!("CARGO_BIN_EXE_pincer"))),
        bots: 2,
        groups: 2,
        rate: 20.0,
        duration: 2.0,
        model_latency_ms: 20,
        idle_secs: 1.0,
        drain_secs: 30.0,
        keep_home: false,
    };
    let report = load::run(&config).await.expect("the load run completes");
    let table = report.table();
    eprintln!("{table}");

    assert_eq!(report.injected, 40, "{table}");
    assert_eq!(report.lost, 0, "{table}");
    assert_eq!(report.duplicated, 0, "{table}");
    assert_eq!(report.answered, 40, "{table}");
    assert_eq!(report.replies, 40, "{table}");
    assert!(report.clean());
    assert!((15.0..=25.0).contains(&report.injected_per_sec), "{table}");
    // Every message was stored by the daemon, within the 2 s of injection
    // plus a moment: it keeps up with 20/s.
    let taken = report.taken_secs.expect("all taken");
    assert!(taken > 1.0 && taken < 10.0, "{table}");
    assert!(table.contains("taken (stored)      40 in"), "{table}");

    // The model's measured time is at least its configured latency, and the
    // overhead is what is left of the end-to-end time.
    let model = report.model_ms.expect("model timings");
    assert!(model.p50 >= 20.0 && model.p50 < 200.0, "{table}");
    let overhead = report.overhead_ms.expect("overhead");
    let e2e = report.end_to_end_ms.expect("end to end");
    assert!(overhead.p50 > 0.0 && overhead.p50 <= overhead.p99, "{table}");
    assert!(overhead.p99 <= overhead.max && overhead.max < 10_000.0, "{table}");
    assert!(e2e.p50 >= model.p50 && e2e.p50 > overhead.p50, "{table}");
    // One model call per message, so the two legs around the model add up
    // to the overhead, message by message (and so in the mean).
    let to_model = report.to_model_ms.expect("the leg to the model");
    let from_model = report.from_model_ms.expect("the leg after the model");
    assert!(to_model.p50 > 0.0 && from_model.p50 > 0.0, "{table}");
    let legs = to_model.mean + from_model.mean;
    assert!((legs - overhead.mean).abs() < 0.01, "{legs} vs {}\n{table}", overhead.mean);
    assert!(table.contains("  to the model") && table.contains("model to reply"), "{table}");

    // A live daemon has memory, threads and used some CPU under load.
    let rss = report.rss_kib;
    assert!(rss.idle > 1024 && rss.idle < 1024 * 1024, "{table}");
    assert!(rss.peak >= rss.idle && rss.after > 0, "{table}");
    assert!(report.threads_idle >= 1 && report.threads_peak >= report.threads_idle, "{table}");
    assert!(report.cpu_secs.load > 0.0 && report.cpu_secs.load_cores < 2.5, "{table}");
    assert!(report.connect_secs > 0.0 && report.connect_secs < 60.0, "{table}");
    // The stall probe ran through the load (2 s of 10 ms sleeps at least).
    let stalls = report.stalls;
    assert!(stalls.probes > 50 && stalls.over_5ms <= stalls.over_1ms, "{table}");
    assert!(stalls.worst_ms >= 0.0 && table.contains("machine stalls"), "{table}");

    // Every message has its own line: in injection order, spread over both
    // bots and groups, answered once, and its legs add up to its overhead.
    assert_eq!(report.messages.len(), 40, "{table}");
    for (k, m) in report.messages.iter().enumerate() {
        assert_eq!((m.index, m.replies), (k, 1), "{m:?}");
        assert_eq!((m.bot, m.group), (k % 2, (k % 4) / 2), "{m:?}");
        let legs = m.to_model_ms.unwrap() + m.from_model_ms.unwrap();
        assert!((legs - m.overhead_ms.unwrap()).abs() < 0.01, "{m:?}");
        assert!(m.model_ms >= 20.0, "{m:?}");
    }
    let spaced = report.messages.windows(2).all(|w| w[1].injected_ms > w[0].injected_ms);
    assert!(spaced && report.messages[39].injected_ms > 1500.0, "{:?}", report.messages);
    let mut overheads: Vec<f64> = report.messages.iter().filter_map(|m| m.overhead_ms).collect();
    assert_eq!(load::Percentiles::of(&mut overheads), report.overhead_ms);
    let csv = report.messages_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 41, "{csv}");
    assert!(lines[0].starts_with("index,bot,group,injected_ms,"), "{csv}");
    assert!(lines[1].starts_with("0,0,0,") && lines[40].starts_with("39,1,1,"), "{csv}");
    assert!(lines[1..].iter().all(|l| l.split(',').count() == 9 && l.ends_with(",1")), "{csv}");

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["lost"], 0);
    assert!(json["overhead_ms"]["p99"].is_number());
}
