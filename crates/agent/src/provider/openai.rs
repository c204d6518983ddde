//! OpenAI-compatible chat completions (`POST {base}/chat/completions`), as
//! spoken by DeepSeek, Qwen (DashScope compatible mode), Hunyuan, Kimi, GLM,
//! Doubao, SiliconFlow, OpenRouter, OpenAI, Ollama and LM Studio.
//!
//! Streams by default (`stream: true` with `stream_options.include_usage`),
//! assembling tool calls from index-keyed deltas; a non-streaming mode is
//! available for servers that stream badly.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::http::{self, DEFAULT_IDLE_TIMEOUT};
use super::{
    ApiKey, ChatMessage, ChatProvider, ChatRequest, ChatResponse, FinishReason, ProviderError,
    Role, ToolCall, Usage,
};

/// A client for one OpenAI-compatible endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiProvider {
    client: reqwest::Client,
    base_url: String,
    api_key: Option<ApiKey>,
    stream: bool,
    idle_timeout: Duration,
}

impl OpenAiProvider {
    /// A streaming client for `base_url` (e.g. `https://api.deepseek.com/v1`;
    /// `/chat/completions` is appended). `api_key` is sent as
    /// `Authorization: Bearer`; local servers need none.
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

    /// Uses `client` (shared pools, proxies) instead of a fresh one.
    pub fn with_client(mut self, client: reqwest::Client) -> Self {
        self.client = client;
        self
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The JSON body for `request` (public for inspection and tests). It
    /// borrows from `request` and is serialised straight to bytes: with a
    /// long history, building a `serde_json::Value` tree first was ~5% of
    /// the daemon's CPU.
    pub fn request_body<'a>(&self, request: &'a ChatRequest) -> RequestBody<'a> {
        let system = request.system.as_deref().filter(|s| !s.is_empty());
        let messages = system
            .map(|content| WireMessage {
                role: "system",
                content: Some(content),
                tool_call_id: None,
                tool_calls: Vec::new(),
            })
            .into_iter()
            .chain(request.messages.iter().map(WireMessage::from))
            .collect();
        RequestBody {
            model: &request.model,
            messages,
            stream: self.stream,
            stream_options: self.stream.then_some(StreamOptions { include_usage: true }),
            max_tokens: request.max_tokens,
            temperature: request.temperature,
            tools: request
                .tools
                .iter()
                .map(|t| WireTool {
                    kind: "function",
                    function: WireFunction {
                        name: &t.name,
                        description: &t.description,
                        parameters: &t.parameters,
                    },
                })
                .collect(),
        }
    }

    fn key(&self) -> Option<&ApiKey> {
        self.api_key.as_ref()
    }
}

/// The body of a chat completions request, borrowing the [`ChatRequest`].
#[derive(Debug, serde::Serialize)]
pub struct RequestBody<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
}

#[derive(Debug, serde::Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Debug, serde::Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    /// `null` only for an assistant turn that is nothing but tool calls.
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<WireToolCall<'a>>,
}

impl<'a> From<&'a ChatMessage> for WireMessage<'a> {
    fn from(m: &'a ChatMessage) -> Self {
        let plain = |role| WireMessage {
            role,
            content: Some(m.content.as_str()),
            tool_call_id: None,
            tool_calls: Vec::new(),
        };
        match m.role {
            Role::User => plain("user"),
            Role::Tool => WireMessage {
                tool_call_id: Some(m.tool_call_id.as_deref().unwrap_or_default()),
                ..plain("tool")
            },
            Role::Assistant if m.tool_calls.is_empty() => plain("assistant"),
            Role::Assistant => WireMessage {
                role: "assistant",
                content: Some(m.content.as_str()).filter(|c| !c.is_empty()),
                tool_call_id: None,
                tool_calls: m
                    .tool_calls
                    .iter()
                    .map(|c| WireToolCall {
                        id: &c.id,
                        kind: "function",
                        function: WireCall {
                            name: &c.name,
                            arguments: arguments_text(&c.arguments),
                        },
                    })
                    .collect(),
            },
        }
    }
}

#[derive(Debug, serde::Serialize)]
struct WireToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireCall<'a>,
}

#[derive(Debug, serde::Serialize)]
struct WireCall<'a> {
    name: &'a str,
    arguments: String,
}

#[derive(Debug, serde::Serialize)]
struct WireTool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunction<'a>,
}

#[derive(Debug, serde::Serialize)]
struct WireFunction<'a> {
    name: &'a str,
    description: &'a str,
    parameters: &'a Value,
}

fn arguments_text(v: &Value) -> String {
    match v {
        Value::String(raw) => raw.clone(),
        other => other.to_string(),
    }
}

/// Maps OpenAI's `finish_reason`.
pub fn map_finish_reason(reason: &str) -> FinishReason {
    match reason {
        "stop" | "eos" | "end_turn" => FinishReason::Stop,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "length" | "max_tokens" => FinishReason::Length,
        "content_filter" | "sensitive" => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

fn usage_of(v: &Value) -> Option<Usage> {
    let u = v.get("usage").filter(|u| u.is_object())?;
    Some(Usage {
        input_tokens: u.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
        output_tokens: u.get("completion_tokens").and_then(Value::as_u64).unwrap_or(0),
    })
}

#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Assembles a streamed answer.
#[derive(Default)]
struct Assembler {
    content: String,
    calls: BTreeMap<u64, PartialCall>,
    last_index: Option<u64>,
    usage: Usage,
    finish: Option<FinishReason>,
}

impl Assembler {
    fn chunk(&mut self, v: &Value, on_delta: &mut (dyn FnMut(&str) + Send)) {
        if let Some(u) = usage_of(v) {
            self.usage = u;
        }
        let Some(choice) = v.get("choices").and_then(|c| c.get(0)) else { return };
        if let Some(delta) = choice.get("delta") {
            if let Some(text) =
                delta.get("content").and_then(Value::as_str).filter(|t| !t.is_empty())
            {
                self.content.push_str(text);
                on_delta(text);
            }
            for tc in delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
                self.tool_call_delta(tc);
            }
        }
        if let Some(r) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(map_finish_reason(r));
        }
    }

    fn tool_call_delta(&mut self, tc: &Value) {
        let id = tc.get("id").and_then(Value::as_str).filter(|s| !s.is_empty());
        // Some servers omit `index`: a new id starts a new call, else continue the last.
        let index = match tc.get("index").and_then(Value::as_u64) {
            Some(i) => i,
            None => match (id, self.last_index) {
                (Some(id), Some(last)) if self.calls.get(&last).is_some_and(|c| c.id != id) => {
                    last + 1
                }
                (_, Some(last)) => last,
                (_, None) => 0,
            },
        };
        self.last_index = Some(index);
        let call = self.calls.entry(index).or_default();
        if let Some(id) = id {
            call.id = id.to_owned();
        }
        if let Some(f) = tc.get("function") {
            if let Some(name) = f.get("name").and_then(Value::as_str) {
                if call.name != name {
                    call.name.push_str(name);
                }
            }
            if let Some(args) = f.get("arguments").and_then(Value::as_str) {
                call.arguments.push_str(args);
            }
        }
    }

    fn finish(self) -> ChatResponse {
        let tool_calls: Vec<ToolCall> = self
            .calls
            .into_values()
            .enumerate()
            .map(|(i, c)| ToolCall {
                id: if c.id.is_empty() { format!("call_{i}") } else { c.id },
                name: c.name,
                arguments: http::parse_arguments(&c.arguments),
            })
            .collect();
        let mut finish_reason = self.finish.unwrap_or(FinishReason::Stop);
        if !tool_calls.is_empty() && finish_reason == FinishReason::Stop {
            finish_reason = FinishReason::ToolCalls;
        }
        ChatResponse { content: self.content, tool_calls, usage: self.usage, finish_reason }
    }
}

/// Parses a non-streamed answer.
fn parse_whole(
    v: &Value,
    on_delta: &mut (dyn FnMut(&str) + Send),
) -> Result<ChatResponse, ProviderError> {
    let choice = v
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or_else(|| ProviderError::BrokenStream("the answer has no choices".into()))?;
    let message = choice.get("message").cloned().unwrap_or(Value::Null);
    let mut a = Assembler { usage: usage_of(v).unwrap_or_default(), ..Default::default() };
    if let Some(text) = message.get("content").and_then(Value::as_str) {
        a.content = text.to_owned();
        if !text.is_empty() {
            on_delta(text);
        }
    }
    for (i, tc) in
        message.get("tool_calls").and_then(Value::as_array).into_iter().flatten().enumerate()
    {
        let mut tc = tc.clone();
        if tc.get("index").is_none() {
            tc["index"] = json!(i);
        }
        a.tool_call_delta(&tc);
    }
    a.finish = choice.get("finish_reason").and_then(Value::as_str).map(map_finish_reason);
    Ok(a.finish())
}

/// An error object inside a 200 answer or a stream chunk.
fn embedded_error(v: &Value, model: &str, key: Option<&ApiKey>) -> Option<ProviderError> {
    let err = v.get("error").filter(|e| !e.is_null())?;
    let text = http::redact(key, &json!({"error": err}).to_string());
    Some(
        http::classify_body(&text, model)
            .unwrap_or_else(|| ProviderError::BrokenStream(http::error_detail(&text))),
    )
}

#[async_trait::async_trait]
impl ChatProvider for OpenAiProvider {
    async fn chat(
        &self,
        request: &ChatRequest,
        on_delta: &mut (dyn for<'s> FnMut(&'s str) + Send),
    ) -> Result<ChatResponse, ProviderError> {
        let url = http::join(&self.base_url, "chat/completions");
        let mut req = self.client.post(&url).json(&self.request_body(request));
        if let Some(key) = self.key() {
            req = req.bearer_auth(key.expose());
        }
        let resp =
            http::send(req, self.idle_timeout, &self.base_url, &request.model, self.key()).await?;
        if !self.stream || http::is_json(&resp) {
            let text = http::read_text(resp, self.idle_timeout, self.key()).await?;
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| ProviderError::BrokenStream(format!("invalid JSON answer: {e}")))?;
            if let Some(e) = embedded_error(&v, &request.model, self.key()) {
                return Err(e);
            }
            return parse_whole(&v, on_delta);
        }
        let mut a = Assembler::default();
        let key = self.key();
        let model = request.model.as_str();
        let done = http::read_sse(resp, self.idle_timeout, key, |ev| {
            let data = ev.data.trim();
            if data == "[DONE]" {
                return Ok(true);
            }
            if data.is_empty() {
                return Ok(false);
            }
            let v: Value = serde_json::from_str(data)
                .map_err(|e| ProviderError::BrokenStream(format!("invalid stream chunk: {e}")))?;
            if let Some(e) = embedded_error(&v, model, key) {
                return Err(e);
            }
            a.chunk(&v, on_delta);
            Ok(false)
        })
        .await?;
        if !done && a.finish.is_none() {
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
    use crate::provider::ToolSpec;

    #[test]
    fn body_has_system_tools_and_stream_options() {
        let p = OpenAiProvider::new("http://x/v1", None);
        let mut assistant = ChatMessage::assistant("");
        assistant.tool_calls.push(ToolCall {
            id: "c1".into(),
            name: "f".into(),
            arguments: json!({"a": 1}),
        });
        let req = ChatRequest {
            model: "m".into(),
            system: Some("sys".into()),
            messages: vec![
                ChatMessage::user("hi"),
                assistant,
                ChatMessage::tool_result("c1", "ok"),
            ],
            tools: vec![ToolSpec {
                name: "f".into(),
                description: "d".into(),
                parameters: json!({"type": "object"}),
            }],
            max_tokens: Some(8),
            temperature: None,
        };
        let b = serde_json::to_value(p.request_body(&req)).unwrap();
        assert_eq!(b["messages"][0], json!({"role": "system", "content": "sys"}));
        assert_eq!(b["messages"][2]["content"], Value::Null);
        assert_eq!(b["messages"][2]["tool_calls"][0]["function"]["arguments"], "{\"a\":1}");
        assert_eq!(
            b["messages"][3],
            json!({"role": "tool", "tool_call_id": "c1", "content": "ok"})
        );
        assert_eq!(b["stream_options"]["include_usage"], true);
        assert_eq!(b["tools"][0]["function"]["name"], "f");
        assert_eq!(b["max_tokens"], 8);
        assert!(b.get("temperature").is_none());
        let nb = serde_json::to_value(p.clone().with_streaming(false).request_body(&req)).unwrap();
        assert!(nb.get("stream_options").is_none());
    }

    #[test]
    fn assembles_index_keyed_tool_call_deltas() {
        let mut a = Assembler::default();
        let mut seen = String::new();
        let mut on = |t: &str| seen.push_str(t);
        for chunk in [
            json!({"choices":[{"delta":{"role":"assistant","content":"Hi"}}]}),
            json!({"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","type":"function","function":{"name":"x","arguments":"{\"q\":"}}]}}]}),
            json!({"choices":[{"delta":{"tool_calls":[{"index":1,"id":"b","function":{"name":"y","arguments":""}}]}}]}),
            json!({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]}}]}),
            json!({"choices":[{"delta":{},"finish_reason":"tool_calls"}]}),
            json!({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}),
        ] {
            a.chunk(&chunk, &mut on);
        }
        let r = a.finish();
        assert_eq!(seen, "Hi");
        assert_eq!(r.tool_calls.len(), 2);
        assert_eq!(r.tool_calls[0].arguments, json!({"q": 1}));
        assert_eq!(r.tool_calls[1].arguments, json!({}));
        assert_eq!(r.usage, Usage { input_tokens: 3, output_tokens: 4 });
        assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    }

    #[test]
    fn invalid_arguments_are_kept_raw_and_finish_reasons_map() {
        assert_eq!(http::parse_arguments("{oops"), Value::String("{oops".into()));
        assert_eq!(map_finish_reason("length"), FinishReason::Length);
        assert_eq!(map_finish_reason("content_filter"), FinishReason::ContentFilter);
        assert_eq!(map_finish_reason("weird"), FinishReason::Other);
    }
}
