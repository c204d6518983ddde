//! Test doubles shared by the engine tests: a deterministic in-process model
//! that records every request, and a reply sink that records deliveries.
#![allow(dead_code, missing_docs)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pincer_agent::provider::{
    ChatProvider, ChatRequest, ChatResponse, FinishReason, ProviderError, Role, ToolCall, Usage,
};
use pincer_agent::{Delivered, DeliveryError, Inbound, OutboundReply, ReplySink, Scene};

/// One scripted model turn.
#[derive(Debug)]
pub enum Step {
    Text(String),
    Tools(Vec<(String, serde_json::Value)>),
    Fail(ProviderError),
}

/// A model that answers from a script, or `echo: <last user message>`.
#[derive(Debug, Default)]
pub struct MockModel {
    pub script: Mutex<VecDeque<Step>>,
    pub requests: Mutex<Vec<ChatRequest>>,
    /// Delay per call (for ordering/concurrency tests).
    pub delay: Mutex<Option<Duration>>,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    /// Tokens reported per call (input, output).
    pub usage: Mutex<(u64, u64)>,
}

impl MockModel {
    pub fn new() -> Arc<Self> {
        let m = MockModel::default();
        *m.usage.lock().unwrap() = (100, 20);
        Arc::new(m)
    }

    pub fn push(&self, step: Step) {
        self.script.lock().unwrap().push_back(step);
    }

    pub fn calls(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    pub fn requests(&self) -> Vec<ChatRequest> {
        self.requests.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl ChatProvider for MockModel {
    async fn chat(
        &self,
        request: &ChatRequest,
        on_delta: &mut (dyn for<'s> FnMut(&'s str) + Send),
    ) -> Result<ChatResponse, ProviderError> {
        self.requests.lock().unwrap().push(request.clone());
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let delay = *self.delay.lock().unwrap();
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let (input_tokens, output_tokens) = *self.usage.lock().unwrap();
        let usage = Usage { input_tokens, output_tokens };
        let step = self.script.lock().unwrap().pop_front();
        match step {
            Some(Step::Fail(e)) => Err(e),
            Some(Step::Tools(calls)) => Ok(ChatResponse {
                content: "让我查一下（内部思考，不应发给用户）".into(),
                tool_calls: calls
                    .into_iter()
                    .enumerate()
                    .map(|(i, (name, arguments))| ToolCall {
                        id: format!("call_{i}"),
                        name,
                        arguments,
                    })
                    .collect(),
                usage,
                finish_reason: FinishReason::ToolCalls,
            }),
            Some(Step::Text(t)) => {
                on_delta(&t);
                Ok(ChatResponse {
                    content: t,
                    tool_calls: Vec::new(),
                    usage,
                    finish_reason: FinishReason::Stop,
                })
            }
            None => {
                let last = request
                    .messages
                    .iter()
                    .rev()
                    .find(|m| m.role == Role::User)
                    .map(|m| m.content.clone())
                    .unwrap_or_default();
                Ok(ChatResponse {
                    content: format!("echo: {last}"),
                    tool_calls: Vec::new(),
                    usage,
                    finish_reason: FinishReason::Stop,
                })
            }
        }
    }
}

/// A sink that records deliveries; can be told to hang (simulating a crash
/// mid-send) or to fail.
#[derive(Debug, Default)]
pub struct RecordingSink {
    pub delivered: Mutex<Vec<OutboundReply>>,
    pub hang: std::sync::atomic::AtomicBool,
    pub fail_transient: AtomicUsize,
    /// Deliveries that fail as [`DeliveryError::Storage`] (a full disk under
    /// the connector's ledger) before one succeeds.
    pub fail_storage: AtomicUsize,
}

impl RecordingSink {
    pub fn new() -> Arc<Self> {
        Arc::new(RecordingSink::default())
    }

    pub fn hanging() -> Arc<Self> {
        let s = RecordingSink::default();
        s.hang.store(true, Ordering::SeqCst);
        Arc::new(s)
    }

    pub fn texts(&self) -> Vec<String> {
        self.delivered.lock().unwrap().iter().map(|r| r.text.clone()).collect()
    }

    pub fn replies(&self) -> Vec<OutboundReply> {
        self.delivered.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.delivered.lock().unwrap().len()
    }
}

#[async_trait::async_trait]
impl ReplySink for RecordingSink {
    async fn deliver(&self, reply: &OutboundReply) -> Result<Delivered, DeliveryError> {
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self
            .fail_transient
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(DeliveryError::Transient("simulated network error".into()));
        }
        if self
            .fail_storage
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(DeliveryError::Storage {
                en: "cannot record the reply (simulated full disk)".into(),
                zh: "无法记录回复（模拟磁盘已满）".into(),
            });
        }
        let mut d = self.delivered.lock().unwrap();
        d.push(reply.clone());
        Ok(Delivered { response_id: Some(format!("resp-{}", d.len())) })
    }
}

/// A private-chat message.
pub fn c2c(bot: &str, msg_id: &str, user: &str, text: &str) -> Inbound {
    Inbound {
        bot: bot.into(),
        message_id: msg_id.into(),
        scene: Scene::C2c { user: user.into() },
        text: text.into(),
    }
}

/// A group message.
pub fn group(bot: &str, msg_id: &str, group: &str, member: &str, text: &str) -> Inbound {
    Inbound {
        bot: bot.into(),
        message_id: msg_id.into(),
        scene: Scene::Group { group: group.into(), member: member.into() },
        text: text.into(),
    }
}

/// Polls `cond` until it holds or `timeout` passes; returns whether it held.
pub async fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}
