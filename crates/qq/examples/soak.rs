//! A long run of one shard against the simulator while it rotates the
//! connection (op 7 + close 4009) on a schedule and drops sockets at random.
//! Counts every injected message on the way out: at the end nothing may be
//! missing and nothing may have arrived twice.
//!
//! ```text
//! cargo run --release -p pincer-qq --example soak -- --secs 600 --rotate-secs 20 --rate 50
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use pincer_qq::gateway::{Shard, ShardConfig};
use pincer_qq::model::Intents;
use pincer_qq::token::{Credentials, Secret, TokenManager};
use pincer_sim::qq::{QqSim, QqSimConfig, SimApp};
use rand::Rng;
use tokio::time::Instant;

struct Args {
    secs: u64,
    rotate_secs: u64,
    rate: u64,
    drop_every_secs: (u64, u64),
}

fn args() -> Args {
    let mut args = Args { secs: 600, rotate_secs: 20, rate: 50, drop_every_secs: (5, 40) };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().and_then(|v| v.parse::<u64>().ok()).expect("a number");
        match flag.as_str() {
            "--secs" => args.secs = value(),
            "--rotate-secs" => args.rotate_secs = value(),
            "--rate" => args.rate = value(),
            "--drop-min-secs" => args.drop_every_secs.0 = value(),
            "--drop-max-secs" => args.drop_every_secs.1 = value(),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

#[tokio::main]
async fn main() {
    let args = args();
    const APP: &str = "900001";
    let sim = QqSim::start(QqSimConfig {
        heartbeat_interval: Duration::from_secs(5),
        rotation_every: Some(Duration::from_secs(args.rotate_secs)),
        ..QqSimConfig::default()
    })
    .await
    .expect("simulator");
    sim.add_app(SimApp {
        app_id: APP.into(),
        secret: "soak-secret".into(),
        granted_intents: Intents::GROUP_AND_C2C_EVENT,
        markdown: false,
    });
    let tokens = Arc::new(TokenManager::new(
        reqwest::Client::new(),
        sim.token_url(),
        Credentials { app_id: APP.into(), secret: Secret::new("soak-secret") },
    ));
    let mut shard =
        Shard::spawn(ShardConfig::new(sim.gateway_url(), Intents::GROUP_AND_C2C_EVENT), tokens);
    let health = shard.health();

    let start = Instant::now();
    let end = start + Duration::from_secs(args.secs);

    // Random socket drops and 4009 closes on top of the scheduled rotation.
    let chaos = {
        let sim = sim.clone();
        let (lo, hi) = args.drop_every_secs;
        tokio::spawn(async move {
            let mut drops = 0u64;
            let mut closes = 0u64;
            while Instant::now() < end {
                let wait = rand::thread_rng().gen_range(lo..=hi.max(lo));
                tokio::time::sleep(Duration::from_secs(wait)).await;
                if rand::thread_rng().gen_bool(0.5) {
                    sim.drop_sockets(APP);
                    drops += 1;
                } else {
                    sim.close_sockets(APP, 4009);
                    closes += 1;
                }
            }
            (drops, closes)
        })
    };

    let injector = {
        let sim = sim.clone();
        let period = Duration::from_micros(1_000_000 / args.rate.max(1));
        tokio::spawn(async move {
            let mut ids = Vec::new();
            let mut tick = tokio::time::interval(period);
            let mut n = 0u64;
            while Instant::now() < end {
                tick.tick().await;
                n += 1;
                let injected = if n % 3 == 0 {
                    sim.inject_group_at_message(APP, "GROUP_SOAK", "MEMBER", &format!("g{n}"))
                } else {
                    sim.inject_c2c_message(APP, "USER_SOAK", &format!("c{n}"))
                };
                ids.push(injected.msg_id.expect("message id"));
            }
            ids
        })
    };

    let mut received: HashMap<String, u32> = HashMap::new();
    let mut last_report = Instant::now();
    loop {
        let ev = tokio::select! {
            ev = shard.next_event() => ev,
            _ = tokio::time::sleep_until(end) => break,
        };
        let Some(ev) = ev else { break };
        if let Some(id) = ev.event.message_id() {
            *received.entry(id.to_owned()).or_default() += 1;
        }
        if last_report.elapsed() >= Duration::from_secs(30) {
            let h = health.borrow().clone();
            println!(
                "t={:>4}s received={} state={} identifies={} resumes={} disconnects={} zombies={}",
                start.elapsed().as_secs(),
                received.len(),
                h.state,
                h.identifies,
                h.resumes,
                h.disconnects,
                h.zombies
            );
            last_report = Instant::now();
        }
    }
    let injected = injector.await.expect("injector");
    let (drops, closes) = chaos.await.expect("chaos");
    // Wait for stragglers after the injector stopped.
    let deadline = Instant::now() + Duration::from_secs(30);
    while injected.iter().any(|id| !received.contains_key(id)) && Instant::now() < deadline {
        tokio::select! {
            ev = shard.next_event() => if let Some(ev) = ev {
                if let Some(id) = ev.event.message_id() {
                    *received.entry(id.to_owned()).or_default() += 1;
                }
            },
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    let h = health.borrow().clone();
    let lost = injected.iter().filter(|id| !received.contains_key(*id)).count();
    let twice = received.values().filter(|n| **n > 1).count();
    let mut rtts: Vec<Duration> = h.heartbeat_rtts.iter().copied().collect();
    rtts.sort();
    println!("--- soak result after {} s", start.elapsed().as_secs());
    println!("injected          {}", injected.len());
    println!("received (unique) {}", received.len());
    println!("lost              {lost}");
    println!("delivered twice   {twice}");
    println!("sim identifies    {}", sim.identifies(APP));
    println!("sim resumes       {}", sim.resumes(APP));
    println!("sim connections   {}", sim.connections(APP));
    println!("random drops      {drops}");
    println!("random 4009       {closes}");
    println!("shard zombies     {}", h.zombies);
    println!("shard duplicates dropped {}", h.duplicates_dropped);
    if let (Some(lo), Some(hi)) = (rtts.first(), rtts.last()) {
        println!("heartbeat rtt     min {lo:?} max {hi:?} (last {} beats)", rtts.len());
    }
    shard.shutdown().await;
    if lost > 0 || twice > 0 {
        eprintln!("FAILED: {lost} lost, {twice} delivered twice");
        std::process::exit(1);
    }
}
