//! Runtime overhead per message: submit → store → model → commit → deliver,
//! with a zero-latency in-process model and sink, at a fixed arrival rate.
//!
//! Run with `cargo bench -p pincer-agent --bench overhead`. Prints p50, p99
//! and max latency from `submit` to delivery, and the achieved throughput.
//! Settings: `PINCER_BENCH_RATE` (messages/s, default 500),
//! `PINCER_BENCH_MESSAGES` (default 5000), `PINCER_BENCH_CONVERSATIONS`
//! (default 50).
#![allow(missing_docs)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pincer_agent::provider::{
    ChatProvider, ChatRequest, ChatResponse, FinishReason, ProviderError, Usage,
};
use pincer_agent::{
    BotConfig, Delivered, DeliveryError, Engine, EngineConfig, Inbound, ModelConfig, OutboundReply,
    ReplySink, Scene, Store,
};

#[derive(Debug)]
struct InstantModel;

#[async_trait::async_trait]
impl ChatProvider for InstantModel {
    async fn chat(
        &self,
        request: &ChatRequest,
        _on_delta: &mut (dyn for<'s> FnMut(&'s str) + Send),
    ) -> Result<ChatResponse, ProviderError> {
        let last = request.messages.last().map(|m| m.content.as_str()).unwrap_or("");
        Ok(ChatResponse {
            content: format!("收到：{last}"),
            tool_calls: Vec::new(),
            usage: Usage { input_tokens: 50, output_tokens: 10 },
            finish_reason: FinishReason::Stop,
        })
    }
}

#[derive(Default)]
struct TimingSink {
    delivered: Mutex<HashMap<String, Instant>>,
}

#[async_trait::async_trait]
impl ReplySink for TimingSink {
    async fn deliver(&self, reply: &OutboundReply) -> Result<Delivered, DeliveryError> {
        self.delivered.lock().unwrap().insert(reply.reply_to_message_id.clone(), Instant::now());
        Ok(Delivered::default())
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // useful either: only run the measurement under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        println!("overhead: skipped (run with `cargo bench`)");
        return;
    }
    let rate = env("PINCER_BENCH_RATE", 500).max(1);
    let total = env("PINCER_BENCH_MESSAGES", 5000);
    let conversations = env("PINCER_BENCH_CONVERSATIONS", 50).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("bench.db")).await.unwrap();
        let sink = Arc::new(TimingSink::default());
        let engine = Engine::new(store, sink.clone(), EngineConfig::default());
        let mut bot = BotConfig::new("bench", Arc::new(InstantModel), ModelConfig::new("x", "y"));
        bot.rate_limit = None;
        engine.add_bot(bot);
        engine.start().await.unwrap();

        let interval = Duration::from_secs_f64(1.0 / rate as f64);
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut submitted: HashMap<String, Instant> = HashMap::new();
        let start = Instant::now();
        for i in 0..total {
            ticker.tick().await;
            let id = format!("m{i}");
            let msg = Inbound {
                bot: "bench".into(),
                message_id: id.clone(),
                scene: Scene::C2c { user: format!("u{}", i % conversations) },
                text: format!("第 {i} 条消息"),
            };
            submitted.insert(id, Instant::now());
            engine.submit(msg).await.unwrap();
        }
        engine.shutdown().await;
        let elapsed = start.elapsed();
        let delivered = sink.delivered.lock().unwrap();
        let mut lat: Vec<Duration> = submitted
            .iter()
            .filter_map(|(id, t0)| delivered.get(id).map(|t1| t1.duration_since(*t0)))
            .collect();
        lat.sort();
        println!(
            "overhead: {} messages at {rate}/s over {conversations} conversations in {:.2?} ({:.0} msg/s)",
            lat.len(),
            elapsed,
            lat.len() as f64 / elapsed.as_secs_f64()
        );
        println!(
            "overhead: submit→delivered p50 {:.2?}  p99 {:.2?}  max {:.2?}",
            percentile(&lat, 0.50),
            percentile(&lat, 0.99),
            lat.last().copied().unwrap_or_default()
        );
    });
}
