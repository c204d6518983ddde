//! Memory per connected shard. The simulator runs in a child process (this
//! same binary with `--serve-sim`), so only the client side is measured here:
//! resident set size from `/proc/self/statm` and live heap bytes from a
//! counting allocator, before and after N shards reach READY.
//!
//! ```text
//! cargo run --release -p pincer-qq --example shard_memory -- 1 10 100
//! ```

// A counting global allocator cannot be written without `unsafe`; it only
// forwards to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pincer_qq::gateway::{Shard, ShardConfig, ShardState};
use pincer_qq::model::Intents;
use pincer_qq::token::{Credentials, Secret, TokenManager};
use pincer_sim::qq::{QqSim, QqSimConfig, SimApp};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn app_id(i: usize) -> String {
    format!("{}", 700_000 + i)
}

async fn serve(apps: usize) {
    let sim = QqSim::start(QqSimConfig::default()).await.expect("simulator");
    for i in 0..apps {
        sim.add_app(SimApp {
            app_id: app_id(i),
            secret: format!("secret-{i}"),
            granted_intents: Intents::GROUP_AND_C2C_EVENT,
            markdown: false,
        });
    }
    println!("{}", sim.api_base());
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve-sim") {
        serve(args[1].parse().expect("app count")).await;
        return;
    }
    let counts: Vec<usize> = if args.is_empty() {
        vec![1, 10, 100]
    } else {
        args.iter().map(|a| a.parse().expect("a shard count")).collect()
    };
    let max = counts.iter().copied().max().unwrap_or(1);
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args(["--serve-sim", &max.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("simulator process");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("base url");
    let base = line.trim().to_owned();
    let gateway_url = format!("{}/websocket", base.replacen("http", "ws", 1));
    let token_url = format!("{base}/app/getAppAccessToken");
    let http = reqwest::Client::new();

    println!("shards  rss_delta_total  rss_per_shard  heap_per_shard");
    for n in counts {
        // Warm up the runtime, TLS-less HTTP client and allocator pools.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (rss0, heap0) = (rss_bytes(), LIVE.load(Ordering::Relaxed));
        let mut shards = Vec::with_capacity(n);
        for i in 0..n {
            let tokens = Arc::new(TokenManager::new(
                http.clone(),
                token_url.clone(),
                Credentials { app_id: app_id(i), secret: Secret::new(format!("secret-{i}")) },
            ));
            shards.push(Shard::spawn(
                ShardConfig::new(gateway_url.clone(), Intents::GROUP_AND_C2C_EVENT),
                tokens,
            ));
        }
        for shard in &shards {
            let mut health = shard.health();
            health.wait_for(|h| h.state == ShardState::Ready).await.expect("ready");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (rss1, heap1) = (rss_bytes(), LIVE.load(Ordering::Relaxed));
        let rss_delta = rss1.saturating_sub(rss0);
        println!(
            "{n:>6}  {:>12.1} KiB  {:>9.1} KiB  {:>10.1} KiB",
            rss_delta as f64 / 1024.0,
            rss_delta as f64 / 1024.0 / n as f64,
            (heap1 - heap0) as f64 / 1024.0 / n as f64
        );
        for shard in shards {
            shard.shutdown().await;
        }
    }
    println!("process rss at the end: {:.1} MiB", rss_bytes() as f64 / (1 << 20) as f64);
    let _ = child.kill();
    let _ = child.wait();
}
