//! A model-provider simulator: OpenAI-compatible chat completions, Anthropic
//! Messages, and the discovery endpoints of Ollama and LM Studio, on one
//! loopback listener.
//!
//! | path | what |
//! |---|---|
//! | `POST /v1/chat/completions` | OpenAI-compatible chat (OpenAI base URL is `{base_url}/v1`) |
//! | `GET /v1/models` | OpenAI / LM Studio model list |
//! | `POST /v1/messages` | Anthropic Messages (Anthropic base URL is `{base_url}`) |
//! | `GET /api/tags` | Ollama model list |
//!
//! Both chat shapes stream (`"stream": true`, server-sent events split into
//! several deltas, tool-call arguments split across deltas, chunks cut in the
//! middle of events) or answer whole. Replies come from a FIFO of
//! [`ScriptedReply`]; when it is empty the reply is `echo: <text of the last
//! user message>`. Faults from [`ProviderSim::fail_next`] apply to the chat
//! endpoints only, one per request, before the reply is taken.
//!
//! Default usage is deterministic: input tokens = ⌈characters of all text in
//! the system prompt and messages / 2⌉, output tokens = ⌈characters of the
//! reply (for tool calls: names + argument JSON) / 2⌉.

mod wire;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::Notify;
use tokio::time::Instant;

/// A reply the simulated model gives.
#[derive(Debug, Clone, PartialEq)]
pub enum ScriptedReply {
    /// Plain text, with default usage.
    Text(String),
    /// Tool calls `(name, arguments)`, with default usage.
    ToolCalls(Vec<(String, Value)>),
    /// Text with the given usage.
    Usage {
        /// The text.
        text: String,
        /// Reported input tokens.
        input_tokens: u64,
        /// Reported output tokens.
        output_tokens: u64,
    },
}

/// A failure injected into the next chat requests.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer with this status (and `Retry-After`, and this body; by default
    /// a provider-style error body).
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` seconds.
        retry_after_secs: Option<u64>,
        /// Response body instead of the default.
        body: Option<Value>,
    },
    /// Wait this long, then answer normally (taking the next scripted reply
    /// even when the client gave up meanwhile).
    Slow(Duration),
    /// Start the answer, then drop the connection mid-way (before any text
    /// delta: only the role chunk / `message_start` gets through).
    BrokenStream,
    /// The provider's "insufficient balance" error (OpenAI shape: HTTP 402
    /// `Insufficient Balance` as DeepSeek answers; Anthropic shape: HTTP 400
    /// "credit balance is too low").
    InsufficientBalance,
    /// HTTP 404 `model_not_found`.
    UnknownModel,
}

/// One request the simulator received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// When (tokio clock).
    pub at: Instant,
    /// Request path, e.g. `/v1/chat/completions`.
    pub path: String,
    /// JSON body (`null` for GET or a body that was not JSON).
    pub body: Value,
    /// Whether the request asked for streaming.
    pub streamed: bool,
}

/// The simulated model time of one chat request (one that passed the key,
/// fault and model checks).
#[derive(Debug, Clone, PartialEq)]
pub struct CallTiming {
    /// When the simulated model started: the request's body had arrived
    /// (tokio clock).
    pub at: Instant,
    /// Text of the request's last user message.
    pub last_user_text: String,
    /// How long the simulated model took, measured from the moment the
    /// simulator had the request's body (its parsing included) until the
    /// answer's last byte was handed to the connection: the thinking time
    /// ([`ProviderSim::set_latency`], rounded up by tokio's timer) plus the
    /// streaming pauses ([`ProviderSim::set_stream_pause`]).
    pub model_time: Duration,
}

/// Models listed when [`ProviderSim::set_models`] was not called (or with an empty list).
pub const DEFAULT_MODELS: &[&str] = &["sim-chat", "sim-reasoner"];

#[derive(Debug, Default)]
struct State {
    api_key: Option<String>,
    replies: VecDeque<ScriptedReply>,
    faults: VecDeque<Fault>,
    requests: Vec<RecordedRequest>,
    models: Vec<String>,
    /// Simulated model time added to every chat answer.
    latency: Duration,
    /// Pause between the two halves of each streamed event.
    stream_pause: Duration,
    /// `set_record_requests(false)`: request bodies are not kept.
    requests_off: bool,
    timings: Vec<CallTiming>,
}

#[derive(Debug)]
struct Inner {
    addr: SocketAddr,
    state: Mutex<State>,
    ids: AtomicU64,
    shutdown: Notify,
}

/// A running provider simulator. Cheap to clone; clones share the server.
#[derive(Clone)]
pub struct ProviderSim {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ProviderSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSim").field("addr", &self.inner.addr).finish_non_exhaustive()
    }
}

impl ProviderSim {
    /// Starts on `127.0.0.1` with a free port.
    pub async fn start() -> std::io::Result<ProviderSim> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts on `addr`.
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<ProviderSim> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let sim = ProviderSim {
            inner: Arc::new(Inner {
                addr,
                state: Mutex::new(State {
                    stream_pause: Duration::from_millis(1),
                    ..State::default()
                }),
                ids: AtomicU64::new(0),
                shutdown: Notify::new(),
            }),
        };
        let router = Router::new()
            .route("/v1/chat/completions", post(wire::openai_chat))
            .route("/v1/messages", post(wire::anthropic_messages))
            .route("/v1/models", get(wire::models))
            .route("/api/tags", get(wire::ollama_tags))
            .with_state(sim.clone());
        let stop = sim.inner.clone();
        tokio::spawn(async move {
            // No Nagle: a small frame or response must not wait for the peer's
            // delayed ACK (~40 ms), which would be charged to the client under test.
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.shutdown.notified().await })
                .await;
            if let Err(e) = served {
                tracing::warn!("provider simulator stopped: {e}");
            }
        });
        tracing::debug!(%addr, "provider simulator listening");
        Ok(sim)
    }

    /// `http://127.0.0.1:PORT` (the OpenAI-compatible base is `{base_url}/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// When `Some`, requests must carry this key (`Authorization: Bearer` or
    /// `x-api-key`), else they get 401 with a provider-style error body.
    pub fn set_api_key(&self, key: Option<&str>) {
        self.lock().api_key = key.map(str::to_owned);
    }

    /// Queues a reply (FIFO).
    pub fn push_reply(&self, reply: ScriptedReply) {
        self.lock().replies.push_back(reply);
    }

    /// The next `n` chat requests fail with `fault`.
    pub fn fail_next(&self, n: u32, fault: Fault) {
        let mut st = self.lock();
        for _ in 0..n {
            st.faults.push_back(fault.clone());
        }
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The models listed and accepted; with a non-empty list, other model
    /// names get 404 `model_not_found`.
    pub fn set_models(&self, models: Vec<String>) {
        self.lock().models = models;
    }

    /// Every chat answer waits `latency` first (after faults): a model with a
    /// fixed thinking time, for load runs. Zero (the default) answers at once.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// The pause between the two halves of every streamed event (1 ms by
    /// default, so a client really receives events split across reads). Load
    /// runs set zero: a model that answers at once.
    pub fn set_stream_pause(&self, pause: Duration) {
        self.lock().stream_pause = pause;
    }

    /// `false` stops keeping request bodies for [`ProviderSim::requests`]
    /// (load runs: long histories at thousands of requests would pile up).
    pub fn set_record_requests(&self, on: bool) {
        self.lock().requests_off = !on;
    }

    /// The measured model time of every chat request answered so far, oldest first.
    pub fn timings(&self) -> Vec<CallTiming> {
        self.lock().timings.clone()
    }

    /// Stops listening (open answers are cut).
    pub fn shutdown(&self) {
        self.inner.shutdown.notify_one();
        self.inner.shutdown.notify_waiters();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn next_id(&self) -> u64 {
        self.inner.ids.fetch_add(1, Ordering::Relaxed) + 1
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    async fn post(
        sim: &ProviderSim,
        path: &str,
        key: Option<&str>,
        body: Value,
    ) -> reqwest::Response {
        let mut req = reqwest::Client::new().post(format!("{}{path}", sim.base_url())).json(&body);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        req.send().await.unwrap()
    }

    fn data_lines(text: &str) -> Vec<Value> {
        text.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter(|d| *d != "[DONE]")
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn the_measured_model_time_covers_the_whole_stream() {
        let sim = ProviderSim::start().await.unwrap();
        sim.set_stream_pause(Duration::from_millis(20));
        let body = json!({"model": "sim-chat", "stream": true,
            "messages": [{"role": "user", "content": "abcdefghi"}]});
        let started = std::time::Instant::now();
        let text =
            post(&sim, "/v1/chat/completions", None, body.clone()).await.text().await.unwrap();
        let client_saw = started.elapsed();
        // "echo: abcdefghi" in 3-character pieces, plus the role, finish and
        // [DONE] events: each event waits once.
        let events = text.matches("data: ").count() as u32;
        let timings = timings_after(&sim, 1).await;
        let t = &timings[0];
        assert_eq!(t.last_user_text, "abcdefghi");
        assert!(t.model_time >= Duration::from_millis(20) * events, "{t:?} for {events} events");
        // (The body is dropped a moment after its end reached the client.)
        let margin = Duration::from_millis(50);
        assert!(t.model_time <= client_saw + margin, "{t:?} but the client waited {client_saw:?}");

        // Without pauses a zero-latency model takes next to nothing.
        sim.set_stream_pause(Duration::ZERO);
        post(&sim, "/v1/chat/completions", None, body).await.text().await.unwrap();
        assert!(timings_after(&sim, 2).await[1].model_time < Duration::from_millis(20));
    }

    /// The timings once there are `n`: the server records one when it drops
    /// the answer's body, which can be a moment after the client read its end.
    async fn timings_after(sim: &ProviderSim, n: usize) -> Vec<CallTiming> {
        for _ in 0..200 {
            let t = sim.timings();
            if t.len() >= n {
                assert_eq!(t.len(), n);
                return t;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("no timing recorded for call {n}");
    }

    #[tokio::test]
    async fn openai_stream_is_split_into_deltas_with_usage_and_done() {
        let sim = ProviderSim::start().await.unwrap();
        sim.push_reply(ScriptedReply::ToolCalls(vec![(
            "f".into(),
            json!({"city": "北京", "n": 12}),
        )]));
        let body = json!({"model": "m", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "abcd"}]});
        let resp = post(&sim, "/v1/chat/completions", None, body).await;
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let text = resp.text().await.unwrap();
        assert!(text.starts_with(": keep-alive"));
        assert!(text.trim_end().ends_with("data: [DONE]"));
        let chunks = data_lines(&text);
        let arg_pieces: Vec<&str> = chunks
            .iter()
            .filter_map(|c| c.pointer("/choices/0/delta/tool_calls/0/function/arguments"))
            .filter_map(Value::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        assert!(arg_pieces.len() >= 3, "arguments split across deltas: {arg_pieces:?}");
        assert_eq!(
            serde_json::from_str::<Value>(&arg_pieces.concat()).unwrap(),
            json!({"city": "北京", "n": 12})
        );
        let last = chunks.last().unwrap();
        assert_eq!(last["usage"]["prompt_tokens"], 2);
        assert!(chunks
            .iter()
            .any(|c| c.pointer("/choices/0/finish_reason") == Some(&json!("tool_calls"))));
    }

    #[tokio::test]
    async fn keys_statuses_and_models() {
        let sim = ProviderSim::start().await.unwrap();
        sim.set_api_key(Some("k1"));
        let msg =
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
        let r = post(&sim, "/v1/chat/completions", Some("wrong"), msg.clone()).await;
        assert_eq!(r.status(), 401);
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "invalid_api_key");
        let r = reqwest::Client::new()
            .post(format!("{}/v1/messages", sim.base_url()))
            .header("x-api-key", "k1")
            .json(&msg)
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["content"][0]["text"], "echo: hi");
        assert_eq!(v["usage"], json!({"input_tokens": 1, "output_tokens": 4}));

        sim.fail_next(1, Fault::Status { status: 429, retry_after_secs: Some(3), body: None });
        let r = post(&sim, "/v1/messages", Some("k1"), msg.clone()).await;
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "3");
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["type"], "rate_limit_error");

        sim.set_models(vec!["a".into()]);
        let r = post(&sim, "/v1/chat/completions", Some("k1"), msg).await;
        assert_eq!(r.status(), 404);
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "model_not_found");
        let tags: Value = reqwest::get(format!("{}/api/tags", sim.base_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(tags["models"][0]["name"], "a");
        assert_eq!(sim.requests().len(), 5);
        assert!(sim.requests().iter().all(|r| !r.streamed));
    }
}
