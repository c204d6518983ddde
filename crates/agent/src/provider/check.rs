//! "Test connection" for the settings page: one real, minimal completion,
//! and the model list where the service offers one.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::http::{self, DEFAULT_IDLE_TIMEOUT};
use super::presets::{ProviderConfig, ProviderKind};
use super::{ChatMessage, ChatProvider, ChatRequest, ProviderError, Usage};

/// A successful connection test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOk {
    /// From sending the request to the whole answer.
    pub latency: Duration,
    /// The model that answered (as requested).
    pub model: String,
    /// Tokens the test used.
    pub usage: Usage,
    /// The model's (short) reply.
    pub reply: String,
}

/// A failed connection test, with the text to show.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct CheckFailed {
    /// What went wrong.
    #[source]
    pub error: ProviderError,
}

impl CheckFailed {
    /// Plain-language English.
    pub fn message_en(&self) -> String {
        self.error.to_string()
    }

    /// Plain-language Chinese.
    pub fn message_zh(&self) -> String {
        self.error.explain_zh()
    }
}

/// The max tokens of a test completion.
pub const CHECK_MAX_TOKENS: u32 = 8;

/// The request a connection test sends.
pub fn check_request(model: &str) -> ChatRequest {
    ChatRequest {
        model: model.to_owned(),
        system: None,
        messages: vec![ChatMessage::user("Hi")],
        tools: Vec::new(),
        max_tokens: Some(CHECK_MAX_TOKENS),
        temperature: None,
    }
}

/// Sends one minimal completion to `model` through `provider`.
pub async fn test_connection(
    provider: &dyn ChatProvider,
    model: &str,
) -> Result<CheckOk, CheckFailed> {
    let started = Instant::now();
    let resp = provider
        .chat(&check_request(model), &mut |_| {})
        .await
        .map_err(|error| CheckFailed { error })?;
    Ok(CheckOk {
        latency: started.elapsed(),
        model: model.to_owned(),
        usage: resp.usage,
        reply: resp.content,
    })
}

/// Builds the provider of `config` and tests it with [`test_connection`].
pub async fn test_config(config: &ProviderConfig) -> Result<CheckOk, CheckFailed> {
    test_connection(config.build().as_ref(), &config.model).await
}

/// Lists the models of a configured service: `GET {base}/models`
/// (OpenAI kind) or `GET {base}/v1/models` (Anthropic kind). Services
/// without the endpoint answer with an error ([`ProviderError::UnknownModel`]
/// for a 404).
pub async fn list_models(config: &ProviderConfig) -> Result<Vec<String>, ProviderError> {
    let key = config.api_key.as_ref();
    let client = http::client();
    let req = match config.kind {
        ProviderKind::OpenAi => {
            let mut r = client.get(http::join(&config.base_url, "models"));
            if let Some(k) = key {
                r = r.bearer_auth(k.expose());
            }
            r
        }
        ProviderKind::Anthropic => {
            let mut r = client
                .get(http::join(&config.base_url, "v1/models"))
                .header("anthropic-version", super::anthropic::ANTHROPIC_VERSION);
            if let Some(k) = key {
                r = r.header("x-api-key", k.expose());
            }
            r
        }
    };
    let resp = http::send(req, DEFAULT_IDLE_TIMEOUT, &config.base_url, &config.model, key).await?;
    let text = http::read_text(resp, DEFAULT_IDLE_TIMEOUT, key).await?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| ProviderError::BrokenStream(format!("invalid model list: {e}")))?;
    let data = v
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| ProviderError::BrokenStream("the model list has no `data`".into()))?;
    Ok(data.iter().filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_owned)).collect())
}
