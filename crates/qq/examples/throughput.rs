//! Events per second through a whole shard over loopback: the simulator
//! (in this process, on the other core) pushes N message events as fast as it
//! can; the shard decodes, de-duplicates, counts and hands them out.
//!
//! ```text
//! cargo run --release -p pincer-qq --example throughput -- 100000
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use pincer_qq::gateway::{Shard, ShardConfig};
use pincer_qq::model::{Event, Intents};
use pincer_qq::token::{Credentials, Secret, TokenManager};
use pincer_sim::qq::{QqSim, QqSimConfig, SimApp};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let sim = QqSim::start(QqSimConfig::default()).await.expect("simulator");
    sim.add_app(SimApp {
        app_id: "42".into(),
        secret: "throughput".into(),
        granted_intents: Intents::GROUP_AND_C2C_EVENT,
        markdown: false,
    });
    let tokens = Arc::new(TokenManager::new(
        reqwest::Client::new(),
        sim.token_url(),
        Credentials { app_id: "42".into(), secret: Secret::new("throughput") },
    ));
    let mut shard =
        Shard::spawn(ShardConfig::new(sim.gateway_url(), Intents::GROUP_AND_C2C_EVENT), tokens);
    assert!(matches!(shard.next_event().await.expect("ready").event, Event::Ready(_)));

    let injector = {
        let sim = sim.clone();
        tokio::spawn(async move {
            for i in 0..n {
                sim.inject_c2c_message("42", "USER", &format!("消息 {i}"));
                if i % 256 == 0 {
                    // Let the writer drain: the simulator's per-socket queue is bounded.
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let start = Instant::now();
    let mut received = 0usize;
    while received < n {
        match tokio::time::timeout(Duration::from_secs(30), shard.next_event()).await {
            Ok(Some(d)) if d.event.message_id().is_some() => received += 1,
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    let elapsed = start.elapsed();
    injector.await.expect("injector");
    let h = shard.health().borrow().clone();
    println!(
        "{received} of {n} events in {:.2} s = {:.0} events/s (disconnects {}, duplicates dropped {})",
        elapsed.as_secs_f64(),
        received as f64 / elapsed.as_secs_f64(),
        h.disconnects,
        h.duplicates_dropped
    );
    shard.shutdown().await;
}
