//! Anthropic Messages (`POST {base}/v1/messages`), as spoken by Anthropic
//! and by MiniMax's Anthropic-style endpoint.
//!
//! The system prompt is top-level; tool results travel as `tool_result`
//! blocks in a user message; streaming follows the documented event types
//! (`message_start`, `content_block_start`/`_delta`/`_stop`,
//! `message_delta`, `message_stop`, `ping`, `error`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::http::{self, DEFAULT_IDLE_TIMEOUT};
use super::{
    ApiKey, ChatProvider, ChatRequest, ChatResponse, FinishReason, ProviderError, Role, ToolCall,
    Usage,
};

/// The `anthropic-version` header sent.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// `max_tokens` is mandatory in this API; used when the request sets none.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// A client for one Anthropic-style endpoint.
#[derive(Debug, Clone)]
pub struct AnthropicProvider {
    client: reqwest::Client,
    base_url: String,
    api_key: Option<ApiKey>,
    stream: bool,
    idle_timeout: Duration,
}

impl AnthropicProvider {
    /// A streaming client for `base_url` (e.g. `https://api.anthropic.com`;
    /// `/v1/messages` is appended). The key goes in `x-api-key`.
    pub fn new(base_url: impl Into<String>, api_key: Option<ApiKey>) -> Self {
        Self {
            client: http::client(),
            base_url: base_url.into(),
            api_key,
            stream: true,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }

    /// Streams (`true`, the default) or asks for the whole answer at once.
    pub fn with_streaming(mut self, stream: bool) -> Self {
        self.stream = stream;
        self
    }

    /// The longest wait for the response head and between two streamed
    /// chunks before giving up with [`ProviderError::Timeout`] (default
    /// [`DEFAULT_IDLE_TIMEOUT`]). Without streaming the head comes only after
    /// the whole answer, so this also bounds the generation time.
    pub fn with_idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// Uses `client` instead of a fresh one.
    pub fn with_client(mut self, client: reqwest::Client) -> Self {
        self.client = client;
        self
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The JSON body for `request` (public for inspection and tests).
    pub fn request_body(&self, request: &ChatRequest) -> Value {
        let mut messages: Vec<Value> = Vec::new();
        for m in &request.messages {
            let (role, blocks) = match m.role {
                Role::User => ("user", text_block(&m.content).into_iter().collect::<Vec<_>>()),
                Role::Tool => (
                    "user",
                    vec![json!({
                        "type": "tool_result",
                        "tool_use_id": m.tool_call_id.clone().unwrap_or_default(),
                        "content": m.content,
                    })],
                ),
                Role::Assistant => {
                    let mut blocks: Vec<Value> = text_block(&m.content).into_iter().collect();
                    blocks.extend(m.tool_calls.iter().map(|c| {
                        json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input_object(&c.arguments)})
                    }));
                    ("assistant", blocks)
                }
            };
            if blocks.is_empty() {
                continue;
            }
            // Consecutive same-role messages merge (tool results follow one another).
            match messages.last_mut() {
                Some(last) if last["role"] == role => {
                    if let Some(arr) = last["content"].as_array_mut() {
                        arr.extend(blocks);
                    }
                }
                _ => messages.push(json!({"role": role, "content": blocks})),
            }
        }
        let mut body = json!({
            "model": request.model,
            "max_tokens": request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            "messages": messages,
            "stream": self.stream,
        });
        if let Some(system) = request.system.as_deref().filter(|s| !s.is_empty()) {
            body["system"] = json!(system);
        }
        if let Some(t) = request.temperature {
            body["temperature"] = json!(t);
        }
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
                .collect();
        }
        body
    }

    fn key(&self) -> Option<&ApiKey> {
        self.api_key.as_ref()
    }
}

fn text_block(text: &str) -> Option<Value> {
    (!text.is_empty()).then(|| json!({"type": "text", "text": text}))
}

/// `tool_use.input` must be an object: raw invalid arguments become `{}`
/// unless they parse.
fn input_object(v: &Value) -> Value {
    match v {
        Value::Object(_) => v.clone(),
        Value::String(raw) => match serde_json::from_str::<Value>(raw) {
            Ok(o @ Value::Object(_)) => o,
            _ => json!({}),
        },
        _ => json!({}),
    }
}

/// Maps Anthropic's `stop_reason`.
pub fn map_stop_reason(reason: &str) -> FinishReason {
    match reason {
        "end_turn" | "stop_sequence" | "pause_turn" => FinishReason::Stop,
        "tool_use" => FinishReason::ToolCalls,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "refusal" => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

fn input_tokens(u: &Value) -> u64 {
    ["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"]
        .iter()
        .filter_map(|k| u.get(k).and_then(Value::as_u64))
        .sum()
}

/// An `error` event or error body as a [`ProviderError`].
fn error_event(v: &Value, model: &str, key: Option<&ApiKey>) -> ProviderError {
    let text = http::redact(key, &v.to_string());
    if let Some(e) = http::classify_body(&text, model) {
        return e;
    }
    let detail = http::error_detail(&text);
    match v.pointer("/error/type").and_then(Value::as_str).unwrap_or_default() {
        "overloaded_error" => ProviderError::Server { status: 529 },
        "api_error" => ProviderError::Server { status: 500 },
        "rate_limit_error" => ProviderError::RateLimited { retry_after: None },
        "authentication_error" | "permission_error" => ProviderError::BadKey { detail },
        "not_found_error" => ProviderError::UnknownModel { model: model.to_owned() },
        _ => ProviderError::BrokenStream(detail),
    }
}

enum Block {
    Text,
    Tool { id: String, name: String, json: String, initial: Value },
    Ignored,
}

#[derive(Default)]
struct Assembler {
    content: String,
    blocks: BTreeMap<u64, Block>,
    usage: Usage,
    stop: Option<FinishReason>,
    done: bool,
}

impl Assembler {
    fn event(&mut self, v: &Value, on_delta: &mut (dyn FnMut(&str) + Send)) -> Result<(), String> {
        let kind = v.get("type").and_then(Value::as_str).unwrap_or_default();
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "message_start" => {
                if let Some(u) = v.pointer("/message/usage") {
                    self.usage.input_tokens = input_tokens(u);
                    self.usage.output_tokens =
                        u.get("output_tokens").and_then(Value::as_u64).unwrap_or(0);
                }
            }
            "content_block_start" => {
                let b = v.get("content_block").cloned().unwrap_or(Value::Null);
                let block = match b.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(t) =
                            b.get("text").and_then(Value::as_str).filter(|t| !t.is_empty())
                        {
                            self.content.push_str(t);
                            on_delta(t);
                        }
                        Block::Text
                    }
                    Some("tool_use") => Block::Tool {
                        id: b.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
                        name: b.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
                        json: String::new(),
                        initial: b.get("input").cloned().unwrap_or(Value::Null),
                    },
                    _ => Block::Ignored,
                };
                self.blocks.insert(index, block);
            }
            "content_block_delta" => {
                let d = v.get("delta").cloned().unwrap_or(Value::Null);
                match (d.get("type").and_then(Value::as_str), self.blocks.get_mut(&index)) {
                    (Some("text_delta"), _) => {
                        if let Some(t) =
                            d.get("text").and_then(Value::as_str).filter(|t| !t.is_empty())
                        {
                            self.content.push_str(t);
                            on_delta(t);
                        }
                    }
                    (Some("input_json_delta"), Some(Block::Tool { json, .. })) => {
                        json.push_str(
                            d.get("partial_json").and_then(Value::as_str).unwrap_or_default(),
                        );
                    }
                    (Some("input_json_delta"), _) => {
                        return Err(format!("input_json_delta for unknown block {index}"))
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(r) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop = Some(map_stop_reason(r));
                }
                if let Some(u) = v.get("usage") {
                    if let Some(o) = u.get("output_tokens").and_then(Value::as_u64) {
                        self.usage.output_tokens = o;
                    }
                    let i = input_tokens(u);
                    if i > 0 {
                        self.usage.input_tokens = i;
                    }
                }
            }
            "message_stop" => self.done = true,
            _ => {}
        }
        Ok(())
    }

    fn finish(self) -> ChatResponse {
        let tool_calls: Vec<ToolCall> = self
            .blocks
            .into_values()
            .filter_map(|b| match b {
                Block::Tool { id, name, json, initial } => Some(ToolCall {
                    id,
                    name,
                    arguments: if json.trim().is_empty() && initial.is_object() {
                        initial
                    } else {
                        http::parse_arguments(&json)
                    },
                }),
                _ => None,
            })
            .collect();
        let mut finish_reason = self.stop.unwrap_or(FinishReason::Stop);
        if !tool_calls.is_empty() && finish_reason == FinishReason::Stop {
            finish_reason = FinishReason::ToolCalls;
        }
        ChatResponse { content: self.content, tool_calls, usage: self.usage, finish_reason }
    }
}

/// Parses a non-streamed message.
fn parse_whole(v: &Value, on_delta: &mut (dyn FnMut(&str) + Send)) -> ChatResponse {
    let mut a = Assembler::default();
    if let Some(u) = v.get("usage") {
        a.usage = Usage {
            input_tokens: input_tokens(u),
            output_tokens: u.get("output_tokens").and_then(Value::as_u64).unwrap_or(0),
        };
    }
    for (i, b) in v.get("content").and_then(Value::as_array).into_iter().flatten().enumerate() {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => {
                a.content.push_str(b.get("text").and_then(Value::as_str).unwrap_or_default())
            }
            Some("tool_use") => {
                a.blocks.insert(
                    i as u64,
                    Block::Tool {
                        id: b.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
                        name: b.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
                        json: String::new(),
                        initial: b.get("input").cloned().unwrap_or_else(|| json!({})),
                    },
                );
            }
            _ => {}
        }
    }
    if !a.content.is_empty() {
        on_delta(&a.content);
    }
    a.stop = v.get("stop_reason").and_then(Value::as_str).map(map_stop_reason);
    a.finish()
}

#[async_trait::async_trait]
impl ChatProvider for AnthropicProvider {
    async fn chat(
        &self,
        request: &ChatRequest,
        on_delta: &mut (dyn for<'s> FnMut(&'s str) + Send),
    ) -> Result<ChatResponse, ProviderError> {
        let url = http::join(&self.base_url, "v1/messages");
        let mut req = self
            .client
            .post(&url)
            .header("anthropic-version", ANTHROPIC_VERSION)
            .json(&self.request_body(request));
        if let Some(key) = self.key() {
            req = req.header("x-api-key", key.expose());
        }
        let key = self.key();
        let model = request.model.as_str();
        let resp = http::send(req, self.idle_timeout, &self.base_url, model, key).await?;
        if !self.stream || http::is_json(&resp) {
            let text = http::read_text(resp, self.idle_timeout, key).await?;
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| ProviderError::BrokenStream(format!("invalid JSON answer: {e}")))?;
            if v.get("type").and_then(Value::as_str) == Some("error") {
                return Err(error_event(&v, model, key));
            }
            return Ok(parse_whole(&v, on_delta));
        }
        let mut a = Assembler::default();
        http::read_sse(resp, self.idle_timeout, key, |ev| {
            if ev.data.trim().is_empty() {
                return Ok(false);
            }
            let v: Value = serde_json::from_str(&ev.data)
                .map_err(|e| ProviderError::BrokenStream(format!("invalid stream event: {e}")))?;
            let kind =
                v.get("type").and_then(Value::as_str).or(ev.event.as_deref()).unwrap_or_default();
            if kind == "error" {
                return Err(error_event(&v, model, key));
            }
            a.event(&v, on_delta).map_err(ProviderError::BrokenStream)?;
            Ok(a.done)
        })
        .await?;
        if !a.done && a.stop.is_none() {
            return Err(ProviderError::BrokenStream(
                "the stream ended before the answer was complete".into(),
            ));
        }
        Ok(a.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{ChatMessage, ToolSpec};

    #[test]
    fn body_merges_tool_results_and_puts_system_on_top() {
        let p = AnthropicProvider::new("http://x", None);
        let mut assistant = ChatMessage::assistant("let me look");
        assistant.tool_calls.push(ToolCall {
            id: "t1".into(),
            name: "f".into(),
            arguments: json!({"a": 1}),
        });
        assistant.tool_calls.push(ToolCall {
            id: "t2".into(),
            name: "f".into(),
            arguments: json!("{bad"),
        });
        let req = ChatRequest {
            model: "m".into(),
            system: Some("sys".into()),
            messages: vec![
                ChatMessage::user("hi"),
                assistant,
                ChatMessage::tool_result("t1", "one"),
                ChatMessage::tool_result("t2", "two"),
            ],
            tools: vec![ToolSpec {
                name: "f".into(),
                description: "d".into(),
                parameters: json!({"type": "object"}),
            }],
            max_tokens: None,
            temperature: Some(0.5),
        };
        let b = p.request_body(&req);
        assert_eq!(b["system"], "sys");
        assert_eq!(b["max_tokens"], DEFAULT_MAX_TOKENS);
        let msgs = b["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[1]["content"][1]["type"], "tool_use");
        assert_eq!(msgs[1]["content"][2]["input"], json!({}));
        assert_eq!(msgs[2]["role"], "user");
        assert_eq!(
            msgs[2]["content"][1],
            json!({"type": "tool_result", "tool_use_id": "t2", "content": "two"})
        );
        assert_eq!(b["tools"][0]["input_schema"], json!({"type": "object"}));
    }

    #[test]
    fn stream_events_assemble() {
        let mut a = Assembler::default();
        let mut seen = String::new();
        let mut on = |t: &str| seen.push_str(t);
        for e in [
            json!({"type":"message_start","message":{"usage":{"input_tokens":10,"output_tokens":1}}}),
            json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}),
            json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"f","input":{}}}),
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"x\""}}),
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":":2}"}}),
            json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":7}}),
            json!({"type":"message_stop"}),
        ] {
            a.event(&e, &mut on).unwrap();
        }
        assert!(a.done);
        let r = a.finish();
        assert_eq!(seen, "Hi");
        assert_eq!(
            r.tool_calls,
            vec![ToolCall { id: "t".into(), name: "f".into(), arguments: json!({"x": 2}) }]
        );
        assert_eq!(r.usage, Usage { input_tokens: 10, output_tokens: 7 });
        assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    }

    #[test]
    fn error_events_map() {
        let e = |t: &str| {
            error_event(&json!({"type":"error","error":{"type":t,"message":"m"}}), "x", None)
        };
        assert!(matches!(e("overloaded_error"), ProviderError::Server { status: 529 }));
        assert!(matches!(e("rate_limit_error"), ProviderError::RateLimited { .. }));
        assert!(matches!(e("authentication_error"), ProviderError::BadKey { .. }));
        assert!(matches!(e("invalid_request_error"), ProviderError::BrokenStream(_)));
        assert_eq!(map_stop_reason("max_tokens"), FinishReason::Length);
    }
}
