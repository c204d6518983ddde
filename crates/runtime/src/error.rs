//! The error the desktop app and the CLI show people: what went wrong and
//! what to do, in both languages.

use serde::Serialize;

/// What went wrong and what to do, in Chinese and English. Never holds a
/// secret: build it from errors that redact theirs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{en}")]
pub struct UserError {
    /// 中文.
    pub zh: String,
    /// English.
    pub en: String,
}

impl UserError {
    /// An error from its two texts.
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self { zh: zh.into(), en: en.into() }
    }
}

/// Errors of this workspace that explain themselves in Chinese (`explain_zh`)
/// and English (`Display`).
pub trait Explain: std::fmt::Display {
    /// The Chinese explanation.
    fn explain_zh(&self) -> String;
}

impl<E: Explain> From<E> for UserError {
    fn from(e: E) -> Self {
        UserError { zh: e.explain_zh(), en: e.to_string() }
    }
}

macro_rules! explained {
    ($($t:ty),* $(,)?) => {$(
        impl Explain for $t {
            fn explain_zh(&self) -> String {
                <$t>::explain_zh(self)
            }
        }
    )*};
}

explained!(
    crate::config::ConfigError,
    crate::secrets::SecretError,
    crate::control::ControlError,
    pincer_qq::http::ApiError,
    pincer_qq::bind::BindError,
    pincer_agent::provider::ProviderError,
);
