//! Model providers: one interface ([`ChatProvider`]) for every chat API
//! Pincer speaks — OpenAI-compatible chat completions (DeepSeek, Qwen,
//! Hunyuan, Kimi, GLM, Doubao, SiliconFlow, OpenRouter, OpenAI, Ollama,
//! LM Studio, …) and Anthropic Messages.
//!
//! The agent core depends only on the types in this file; the wire formats
//! live in their own modules.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Who wrote a message in a conversation sent to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The person chatting with the bot.
    User,
    /// The model.
    Assistant,
    /// The result of a tool call, answering [`ChatMessage::tool_call_id`].
    Tool,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Name, `[a-zA-Z0-9_-]{1,64}`.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
}

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's call id; the tool result answers it.
    pub id: String,
    /// Which tool.
    pub name: String,
    /// The arguments, parsed from the model's JSON. A model that produced
    /// invalid JSON yields `Value::String` with the raw text.
    pub arguments: serde_json::Value,
}

/// One message of the conversation sent to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Author.
    pub role: Role,
    /// Text (for [`Role::Tool`]: the tool's output).
    pub content: String,
    /// Tool calls made in this assistant message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For [`Role::Tool`]: the call this answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// A tool result.
    pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: Role::Tool,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: Some(call_id.into()),
        }
    }
}

/// A request for one model turn.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatRequest {
    /// Model id, e.g. `deepseek-chat`.
    pub model: String,
    /// System prompt (persona, skills list).
    pub system: Option<String>,
    /// The conversation, oldest first.
    pub messages: Vec<ChatMessage>,
    /// Tools the model may call.
    pub tools: Vec<ToolSpec>,
    /// Output token limit.
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
}

/// Tokens used by one call, from the provider's usage fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// A complete answer.
    Stop,
    /// It wants tool results.
    ToolCalls,
    /// It hit `max_tokens`.
    Length,
    /// The provider filtered the output.
    ContentFilter,
    /// Anything else the provider said.
    Other,
}

/// The model's answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The text (may be empty when only tools are called).
    pub content: String,
    /// Tool calls to run before the next turn.
    pub tool_calls: Vec<ToolCall>,
    /// Tokens used.
    pub usage: Usage,
    /// Why it stopped.
    pub finish_reason: FinishReason,
}

/// What went wrong talking to a provider, in terms a user can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// 401/403 on the key.
    #[error(
        "the provider rejected the API key ({detail}); check the key in Pincer's model settings"
    )]
    BadKey {
        /// The provider's message.
        detail: String,
    },
    /// 402 or the provider's "insufficient balance" codes.
    #[error(
        "the provider account has no balance left ({detail}); top it up on the provider's site"
    )]
    NoBalance {
        /// The provider's message.
        detail: String,
    },
    /// 404 / model_not_found.
    #[error("the provider does not know the model `{model}`; pick another model")]
    UnknownModel {
        /// The model asked for.
        model: String,
    },
    /// 429.
    #[error("the provider is rate-limiting requests{}", retry_after.map(|d| format!(" (retry after {} s)", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// From `Retry-After`, when given.
        retry_after: Option<Duration>,
    },
    /// 451, or a region/compliance refusal.
    #[error("the provider refuses requests from this region or for this content ({detail})")]
    Blocked {
        /// The provider's message.
        detail: String,
    },
    /// No answer in time.
    #[error("the provider did not answer within {} s", .0.as_secs())]
    Timeout(Duration),
    /// 5xx.
    #[error("the provider had a server error (HTTP {status}); try again later")]
    Server {
        /// HTTP status.
        status: u16,
    },
    /// Another 4xx the request caused.
    #[error("the provider refused the request (HTTP {status}: {detail})")]
    BadRequest {
        /// HTTP status.
        status: u16,
        /// The provider's message.
        detail: String,
    },
    /// The provider could not be reached.
    #[error("cannot reach the provider at {url} ({detail}); check the address and the network")]
    Unreachable {
        /// The base URL (never with a key in it).
        url: String,
        /// What failed.
        detail: String,
    },
    /// A streamed answer broke off or was not the documented shape.
    #[error("the provider's answer broke off or could not be read ({0})")]
    BrokenStream(String),
}

impl ProviderError {
    /// Whether a retry (after a backoff) can succeed without the user doing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::Timeout(_)
                | Self::Server { .. }
                | Self::Unreachable { .. }
                | Self::BrokenStream(_)
        )
    }

    /// The same in Chinese, for the user.
    pub fn explain_zh(&self) -> String {
        match self {
            Self::BadKey { .. } => {
                "模型服务拒绝了 API Key：请在 Pincer 的模型设置中检查密钥。".into()
            }
            Self::NoBalance { .. } => "模型服务账户余额不足：请到服务商网站充值。".into(),
            Self::UnknownModel { model } => {
                format!("模型服务没有名为 `{model}` 的模型：请换一个模型。")
            }
            Self::RateLimited { .. } => "模型服务限流，稍后自动重试。".into(),
            Self::Blocked { .. } => "模型服务拒绝了来自当前地区或此内容的请求。".into(),
            Self::Timeout(d) => format!("模型服务在 {} 秒内没有响应。", d.as_secs()),
            Self::Server { status } => format!("模型服务内部错误（HTTP {status}），请稍后再试。"),
            Self::BadRequest { status, detail } => {
                format!("模型服务拒绝了请求（HTTP {status}：{detail}）。")
            }
            Self::Unreachable { url, .. } => format!("无法连接模型服务 {url}：请检查地址和网络。"),
            Self::BrokenStream(_) => "模型服务的回答中断或无法解析，稍后自动重试。".into(),
        }
    }
}

/// A chat model endpoint. Implementations stream: `on_delta` receives text
/// as it arrives (for typing indicators and the desktop's test chat), and
/// the returned [`ChatResponse`] holds the whole answer.
///
/// `on_delta` is spelled `dyn for<'s> FnMut(&'s str)` on purpose: written as
/// `FnMut(&str)`, `#[async_trait]` turns the elided lifetime into a method
/// lifetime parameter, and implementations could then pass it only strings
/// that outlive the call (never text decoded from the network). Callers are
/// unaffected (any `|t: &str| …` closure fits); implementations write the
/// same `for<'s>` form.
#[async_trait::async_trait]
pub trait ChatProvider: Send + Sync + fmt::Debug {
    /// One model turn.
    async fn chat(
        &self,
        request: &ChatRequest,
        on_delta: &mut (dyn for<'s> FnMut(&'s str) + Send),
    ) -> Result<ChatResponse, ProviderError>;
}

pub mod anthropic;
pub mod check;
pub mod detect;
mod http;
mod key;
pub mod openai;
pub mod presets;
pub mod resilient;
pub mod sse;

pub use http::DEFAULT_IDLE_TIMEOUT;
pub use key::ApiKey;
