//! The app access token (spec §1): fetched with AppID + AppSecret, cached,
//! refreshed ahead of expiry, one fetch in flight at a time.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::model::string_or_number;

/// Production token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://bots.qq.com/app/getAppAccessToken";

/// A string that must never be printed: an AppSecret or an access token.
/// `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A secret arrives from the user (the desktop app's forms); it never goes
/// back out, so there is no `Serialize`.
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A bot's credentials.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// AppID.
    pub app_id: String,
    /// AppSecret.
    pub secret: Secret,
}

/// Why a token could not be had. The text of each says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// 100016 (or 10004): the AppID or AppSecret is wrong.
    #[error("QQ rejected the AppID or AppSecret (code {code}: {message}); check both on q.qq.com, the AppSecret may have been reset")]
    InvalidCredentials {
        /// Platform code.
        code: i64,
        /// Platform message.
        message: String,
    },
    /// 100007: the AppID is invalid, or the bot was banned or deleted.
    #[error("QQ says this bot is invalid, banned or deleted (code {code}: {message}); check its status on q.qq.com")]
    BotUnavailable {
        /// Platform code.
        code: i64,
        /// Platform message.
        message: String,
    },
    /// 100001 / 100017: too many token requests.
    #[error("QQ rate-limited token requests (code {code}); retrying later")]
    RateLimited {
        /// Platform code.
        code: i64,
    },
    /// Any other non-zero `code`.
    #[error("QQ token endpoint error (code {code}: {message})")]
    Platform {
        /// Platform code.
        code: i64,
        /// Platform message.
        message: String,
    },
    /// A non-200 HTTP status.
    #[error("QQ token endpoint answered HTTP {status}")]
    Http {
        /// HTTP status.
        status: u16,
    },
    /// The endpoint could not be reached.
    #[error("cannot reach the QQ token endpoint ({0}); check the network")]
    Network(#[source] reqwest::Error),
    /// The answer was not the documented shape.
    #[error("unexpected answer from the QQ token endpoint: {0}")]
    Decode(String),
}

impl TokenError {
    /// Whether asking again later can succeed without the user changing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Network(_) | Self::Decode(_) => true,
            Self::Http { status } => *status == 429 || *status >= 500,
            _ => false,
        }
    }

    /// The same in Chinese, for the user.
    pub fn explain_zh(&self) -> String {
        match self {
            Self::InvalidCredentials { .. } => {
                "QQ 拒绝了 AppID 或 AppSecret：请到 QQ 开放平台（q.qq.com）核对，AppSecret 可能已被重置。".into()
            }
            Self::BotUnavailable { .. } => "QQ 表示该机器人无效、已被封禁或已删除：请到 QQ 开放平台查看机器人状态。".into(),
            Self::RateLimited { .. } => "获取令牌过于频繁，被 QQ 限流，稍后自动重试。".into(),
            Self::Platform { code, message } => format!("QQ 令牌接口返回错误（{code}：{message}）。"),
            Self::Http { status } => format!("QQ 令牌接口返回 HTTP {status}，稍后自动重试。"),
            Self::Network(_) => "无法连接 QQ 令牌接口：请检查网络。".into(),
            Self::Decode(_) => "QQ 令牌接口返回了无法识别的内容，稍后自动重试。".into(),
        }
    }
}

#[derive(Serialize)]
struct TokenRequest<'a> {
    #[serde(rename = "appId")]
    app_id: &'a str,
    #[serde(rename = "clientSecret")]
    client_secret: &'a str,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default, with = "string_or_number::option")]
    expires_in: Option<String>,
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
}

/// A fetched access token.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    value: Secret,
    expires_at: Instant,
}

impl AccessToken {
    /// `QQBot <token>`: the REST `Authorization` header and the gateway `token`.
    pub fn authorization(&self) -> String {
        format!("QQBot {}", self.value.expose())
    }

    /// The bare token.
    pub fn expose(&self) -> &str {
        self.value.expose()
    }

    /// When the platform stops accepting it.
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken").field("value", &"***").finish()
    }
}

/// Fetches and caches the access token of one bot.
///
/// The platform issues a new token only in the last 60 s of the old one's
/// life and keeps the old one valid for those 60 s, so a refresh
/// `refresh_ahead` (default 50 s) before expiry gets a new token while the
/// cached one still works.
pub struct TokenManager {
    http: reqwest::Client,
    token_url: String,
    credentials: Credentials,
    refresh_ahead: Duration,
    cached: Mutex<Option<AccessToken>>,
    // Held while a fetch is in flight, so concurrent callers share one fetch.
    fetch: tokio::sync::Mutex<()>,
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("token_url", &self.token_url)
            .field("app_id", &self.credentials.app_id)
            .finish_non_exhaustive()
    }
}

impl TokenManager {
    /// A manager for `credentials` against `token_url` (see [`DEFAULT_TOKEN_URL`]).
    pub fn new(
        http: reqwest::Client,
        token_url: impl Into<String>,
        credentials: Credentials,
    ) -> Self {
        Self {
            http,
            token_url: token_url.into(),
            credentials,
            refresh_ahead: Duration::from_secs(50),
            cached: Mutex::new(None),
            fetch: tokio::sync::Mutex::new(()),
        }
    }

    /// Sets how long before expiry the token is refreshed.
    pub fn with_refresh_ahead(mut self, ahead: Duration) -> Self {
        self.refresh_ahead = ahead;
        self
    }

    /// The AppID.
    pub fn app_id(&self) -> &str {
        &self.credentials.app_id
    }

    /// A valid token: the cached one, or a fresh one when the cached one is
    /// missing, invalidated or within `refresh_ahead` of expiry.
    pub async fn token(&self) -> Result<AccessToken, TokenError> {
        if let Some(token) = self.fresh_cached() {
            return Ok(token);
        }
        let _flight = self.fetch.lock().await;
        // Another caller may have fetched while this one waited.
        if let Some(token) = self.fresh_cached() {
            return Ok(token);
        }
        let token = self.fetch_token().await?;
        *self.cached.lock().expect("token cache poisoned") = Some(token.clone());
        Ok(token)
    }

    /// Forgets `stale` (after a 401 / 11244 or a 4004 close) so that the next
    /// [`token`](Self::token) fetches again. A token that was already
    /// replaced is left alone, so many failing requests cause one fetch.
    pub fn invalidate(&self, stale: &AccessToken) {
        let mut cached = self.cached.lock().expect("token cache poisoned");
        if cached.as_ref().is_some_and(|c| c.value == stale.value) {
            *cached = None;
        }
    }

    /// Forgets the cached token, whatever it is.
    pub fn invalidate_all(&self) {
        *self.cached.lock().expect("token cache poisoned") = None;
    }

    fn fresh_cached(&self) -> Option<AccessToken> {
        let cached = self.cached.lock().expect("token cache poisoned");
        cached.as_ref().filter(|t| Instant::now() + self.refresh_ahead < t.expires_at).cloned()
    }

    async fn fetch_token(&self) -> Result<AccessToken, TokenError> {
        let request = TokenRequest {
            app_id: &self.credentials.app_id,
            client_secret: self.credentials.secret.expose(),
        };
        let started = Instant::now();
        let response = self
            .http
            .post(&self.token_url)
            .json(&request)
            .send()
            .await
            .map_err(|e| TokenError::Network(e.without_url()))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(TokenError::Http { status });
        }
        let body: TokenResponse =
            response.json().await.map_err(|e| TokenError::Decode(e.without_url().to_string()))?;
        if let Some(code) = body.code.filter(|c| *c != 0) {
            let message = body.message.unwrap_or_default();
            return Err(match code {
                100016 | 10004 => TokenError::InvalidCredentials { code, message },
                100007 => TokenError::BotUnavailable { code, message },
                100001 | 100017 => TokenError::RateLimited { code },
                _ => TokenError::Platform { code, message },
            });
        }
        let value = body
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| TokenError::Decode("no access_token".into()))?;
        let expires_in: f64 = body
            .expires_in
            .as_deref()
            .unwrap_or("7200")
            .trim()
            .parse()
            .map_err(|_| TokenError::Decode("expires_in is not a number".into()))?;
        let expires_in = Duration::from_secs_f64(expires_in.clamp(0.0, 7200.0));
        tracing::debug!(app_id = %self.credentials.app_id, expires_in = expires_in.as_secs(), "fetched QQ access token");
        Ok(AccessToken { value: Secret::new(value), expires_at: started + expires_in })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("super-secret-value");
        assert_eq!(format!("{s}"), "***");
        assert!(!format!("{s:?}").contains("super"));
        let creds = Credentials { app_id: "1".into(), secret: s };
        assert!(!format!("{creds:?}").contains("super"));
        let t = AccessToken { value: Secret::new("tok-abc"), expires_at: Instant::now() };
        assert!(!format!("{t:?}").contains("tok-abc"));
        assert_eq!(t.authorization(), "QQBot tok-abc");
    }

    #[test]
    fn token_response_accepts_string_and_number_expiry() {
        let a: TokenResponse =
            serde_json::from_str(r#"{"access_token":"a","expires_in":"7200"}"#).unwrap();
        let b: TokenResponse =
            serde_json::from_str(r#"{"access_token":"a","expires_in":7200}"#).unwrap();
        assert_eq!(a.expires_in, b.expires_in);
        let e: TokenResponse =
            serde_json::from_str(r#"{"code":100016,"message":"invalid appid or secret"}"#).unwrap();
        assert_eq!(e.code, Some(100016));
    }
}
