//! The REST client (spec §2, §6): gateway discovery, the bot's own user,
//! sends, media uploads, typing notices and interaction acks, with typed
//! errors (§6.7), retries with backoff on 429/5xx, and one token refresh on
//! 401/11244.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, AUTHORIZATION, RETRY_AFTER, USER_AGENT};
use reqwest::{Method, StatusCode};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

use crate::model::{
    BotUser, GatewayBot, GatewayUrl, MediaUpload, MediaUploadResponse, MessageBody, SendResponse,
};
use crate::token::{TokenError, TokenManager};

/// Production REST base.
pub const PRODUCTION_API_BASE: &str = "https://api.sgroup.qq.com";
/// Sandbox REST base.
pub const SANDBOX_API_BASE: &str = "https://sandbox.api.sgroup.qq.com";
/// The `User-Agent` of every request.
pub const PINCER_USER_AGENT: &str = concat!(
    "Pincer/",
    env!("CARGO_PKG_VERSION"),
    " (pincer-qq; +https://github.com/pincer-app/pincer)"
);

/// How failed requests are retried: 429 and 5xx answers (and connection
/// failures, where the request never left) get up to `max_attempts` tries in
/// all, waiting `base_delay · 2^(n-1)` (capped at `max_delay`, with jitter)
/// or the server's `Retry-After` between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, including the first (at least 1).
    pub max_attempts: u32,
    /// Delay before the first retry.
    pub base_delay: Duration,
    /// Upper bound of any delay, `Retry-After` included.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// The wait after failed try number `attempt` (1-based), with a random
    /// jitter. A `Retry-After` from the server wins (capped at `max_delay`).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        self.delay_with_jitter(attempt, retry_after, rand::random::<f64>())
    }

    /// [`delay`](Self::delay) with the jitter given, `jitter` in `0.0..=1.0`:
    /// "equal jitter", between half and all of the exponential step.
    pub fn delay_with_jitter(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max_delay);
        }
        let exp = 2u32.saturating_pow(attempt.saturating_sub(1).min(31));
        let step = self.base_delay.saturating_mul(exp).min(self.max_delay);
        step / 2 + step.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
    }
}

/// Why a REST call failed. Decide by the helper methods (which go by the
/// platform `code`, never by the message text, spec §6.7).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The platform answered with an error.
    #[error("{}", describe_api(*status, *code, message, trace_id.as_deref()))]
    Api {
        /// HTTP status.
        status: u16,
        /// `code` (or `err_code`) from the body, when there was one.
        code: Option<i64>,
        /// The platform's message (often Chinese), or the start of a non-JSON body.
        message: String,
        /// `trace_id` from the body or the `X-Tps-trace-ID` header, for support requests.
        trace_id: Option<String>,
    },
    /// No access token could be had.
    #[error("cannot get a QQ access token: {0}")]
    Token(#[from] TokenError),
    /// The API could not be reached.
    #[error("cannot reach the QQ API ({0}); check the network, the request will be retried later")]
    Network(#[source] reqwest::Error),
    /// A success answer that is not the documented shape.
    #[error("unexpected answer from the QQ API (HTTP {status}): {detail}")]
    Decode {
        /// HTTP status.
        status: u16,
        /// What did not fit.
        detail: String,
    },
}

fn describe_api(status: u16, code: Option<i64>, message: &str, trace_id: Option<&str>) -> String {
    let code_text = code.map_or_else(String::new, |c| format!(" {c}"));
    let trace = trace_id.map_or_else(String::new, |t| format!(" [trace {t}]"));
    let advice = advice_en(status, code);
    format!("QQ API error{code_text} (HTTP {status}): {message}; {advice}{trace}")
}

fn advice_en(status: u16, code: Option<i64>) -> &'static str {
    match classify(status, code) {
        Class::Duplicate => "this msg_seq was already used for that message, so the earlier send most likely arrived; use a new msg_seq",
        Class::Budget => "all passive replies to that message are used; wait for the user to write again",
        Class::Expired => "the message being answered is too old to reply to; wait for the user to write again",
        Class::AnchorInvalid => "the message or event being answered is unknown to QQ or cannot be answered",
        Class::Markdown => "this bot may not send markdown here; send plain text instead",
        Class::TooLong => "the message is too long; split it and send the parts",
        Class::BotRemoved => "the bot is no longer in that group; stop sending there",
        Class::Muted => "the bot is muted there; try again later",
        Class::UserRefused => "the user does not accept messages from this bot",
        Class::Proactive => "QQ does not allow this bot to start a conversation; it can only answer messages",
        Class::UrlRejected => "QQ rejected a link in the message; send it without URLs",
        Class::Audit => "the message is held for review and may appear later",
        Class::RateLimited => "QQ is rate-limiting the bot; slow down and retry later",
        Class::Auth => "QQ did not accept the access token; check the AppID and AppSecret",
        Class::Banned => "QQ has banned this bot; check its status on q.qq.com",
        Class::Server => "QQ had an internal error; retry later",
        Class::Other => "see the code in QQ's error list",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Duplicate,
    Budget,
    Expired,
    AnchorInvalid,
    Markdown,
    TooLong,
    BotRemoved,
    Muted,
    UserRefused,
    Proactive,
    UrlRejected,
    Audit,
    RateLimited,
    Auth,
    Banned,
    Server,
    Other,
}

fn classify(status: u16, code: Option<i64>) -> Class {
    match code {
        Some(40054005) => Class::Duplicate,
        Some(40034128) => Class::Budget,
        Some(40034005 | 304027 | 304103 | 40034026) => Class::Expired,
        Some(40034024 | 40034025 | 40034027) => Class::AnchorInvalid,
        Some(40034008..=40034011 | 40034124 | 40034127 | 304036) => Class::Markdown,
        Some(40054007 | 40054018) => Class::TooLong,
        Some(40034101 | 40054003) => Class::BotRemoved,
        Some(40054002) => Class::Muted,
        Some(40054004 | 40054013) => Class::UserRefused,
        Some(40034102 | 40034105) => Class::Proactive,
        Some(40054010 | 304003) => Class::UrlRejected,
        Some(304023 | 304024) => Class::Audit,
        Some(22009 | 40034100 | 50002 | 100001 | 100017) => Class::RateLimited,
        Some(11241..=11244 | 11262 | 11273) => Class::Auth,
        Some(11265) => Class::Banned,
        _ if status == 429 => Class::RateLimited,
        _ if status == 401 => Class::Auth,
        _ if status >= 500 => Class::Server,
        _ => Class::Other,
    }
}

impl ApiError {
    /// HTTP status, for [`ApiError::Api`] and [`ApiError::Decode`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The platform error code, if the platform sent one.
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::Api { code, .. } => *code,
            _ => None,
        }
    }

    fn class(&self) -> Option<Class> {
        match self {
            Self::Api { status, code, .. } => Some(classify(*status, *code)),
            _ => None,
        }
    }

    /// 40054005: `(msg_id, msg_seq)` was used before. Take a new seq; the
    /// earlier send most likely succeeded.
    pub fn is_duplicate_seq(&self) -> bool {
        self.class() == Some(Class::Duplicate)
    }

    /// 40034128: the passive window or reply count of the anchor is used up.
    pub fn is_reply_budget_exhausted(&self) -> bool {
        self.class() == Some(Class::Budget)
    }

    /// 40034005 / 304027 / 304103 (msg_id) or 40034026 (event_id): the anchor
    /// is too old to answer.
    pub fn is_msg_id_expired(&self) -> bool {
        self.class() == Some(Class::Expired)
    }

    /// 40034024 / 40034025 / 40034027: the msg_id or event_id is unknown, not
    /// the bot's, or the event cannot be answered.
    pub fn is_anchor_invalid(&self) -> bool {
        self.class() == Some(Class::AnchorInvalid)
    }

    /// 40034008–40034011, 40034124, 40034127, 304036: markdown refused or not
    /// permitted; send plain text.
    pub fn is_markdown_rejected(&self) -> bool {
        self.class() == Some(Class::Markdown)
    }

    /// 40054007 / 40054018: the message is too long; split and resend.
    pub fn is_too_long(&self) -> bool {
        self.class() == Some(Class::TooLong)
    }

    /// 40034101 / 40054003: the bot is not in the group (any more).
    pub fn is_bot_removed(&self) -> bool {
        self.class() == Some(Class::BotRemoved)
    }

    /// 40034102 / 40034105: proactive (unanchored) sends are not permitted.
    pub fn is_proactive_forbidden(&self) -> bool {
        self.class() == Some(Class::Proactive)
    }

    /// 40054004 / 40054013: no friend relation, or the user refuses messages.
    pub fn is_user_refused(&self) -> bool {
        self.class() == Some(Class::UserRefused)
    }

    /// 40054010 / 304003: a URL in the message was not allowed.
    pub fn is_url_rejected(&self) -> bool {
        self.class() == Some(Class::UrlRejected)
    }

    /// 304023 / 304024: accepted but held for audit; treat as sent-pending.
    pub fn is_audit_pending(&self) -> bool {
        self.class() == Some(Class::Audit)
    }

    /// Authentication failed: HTTP 401, codes 11241–11244/11262/11273, or a
    /// token the platform refuses to issue because of the credentials.
    pub fn is_auth(&self) -> bool {
        match self {
            Self::Token(e) => matches!(
                e,
                TokenError::InvalidCredentials { .. } | TokenError::BotUnavailable { .. }
            ),
            _ => self.class() == Some(Class::Auth),
        }
    }

    /// Rate-limited (HTTP 429, 22009, 40034100, …).
    pub fn is_rate_limited(&self) -> bool {
        self.class() == Some(Class::RateLimited)
    }

    /// Whether the same request may succeed later without any change:
    /// rate limits, server errors, network failures, transient token errors.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Network(_) => true,
            Self::Token(e) => e.is_transient(),
            Self::Decode { status, .. } => *status >= 500,
            Self::Api { .. } => matches!(self.class(), Some(Class::RateLimited | Class::Server)),
        }
    }

    /// What happened and what to do, in Chinese, for the user.
    pub fn explain_zh(&self) -> String {
        let (code, trace) = match self {
            Self::Api { code, trace_id, .. } => (
                code.map_or_else(String::new, |c| format!("（错误码 {c}）")),
                trace_id.as_deref().map_or_else(String::new, |t| format!("［trace {t}］")),
            ),
            Self::Token(e) => return e.explain_zh(),
            Self::Network(_) => {
                return "无法连接 QQ 开放平台接口：请检查网络，稍后会自动重试。".into()
            }
            Self::Decode { status, .. } => {
                return format!("QQ 接口返回了无法识别的内容（HTTP {status}）。")
            }
        };
        let text = match self.class().unwrap_or(Class::Other) {
            Class::Duplicate => {
                "消息被去重：这个 msg_seq 已用过，之前那条很可能已发出；请换一个新的 msg_seq。"
            }
            Class::Budget => "这条消息的被动回复次数或时限已用完；请等待用户再次发消息。",
            Class::Expired => "要回复的消息已过期，无法再被动回复；请等待用户再次发消息。",
            Class::AnchorInvalid => "要回复的消息或事件无效、不属于本机器人，或不能被回复。",
            Class::Markdown => "机器人没有在此处发送 Markdown 的权限；请改发纯文本。",
            Class::TooLong => "消息过长；请拆分后分段发送。",
            Class::BotRemoved => "机器人已不在该群中；请停止向该群发送消息。",
            Class::Muted => "机器人在此处被禁言；请稍后再试。",
            Class::UserRefused => "用户不接收该机器人的消息。",
            Class::Proactive => "QQ 不允许机器人主动发消息，只能回复用户的消息。",
            Class::UrlRejected => "消息中的链接未被允许；请去掉链接后再发。",
            Class::Audit => "消息正在审核，审核通过后才会显示。",
            Class::RateLimited => "发送过于频繁，被 QQ 限流；请放慢速度，稍后重试。",
            Class::Auth => "QQ 不接受当前的访问令牌：请核对 AppID 和 AppSecret。",
            Class::Banned => "机器人已被 QQ 封禁：请到 QQ 开放平台查看机器人状态。",
            Class::Server => "QQ 服务器内部错误；请稍后重试。",
            Class::Other => "QQ 接口返回错误；请对照 QQ 开放平台错误码说明。",
        };
        format!("{text}{code}{trace}")
    }
}

/// The error body of the platform: `{message, code, err_code, trace_id}`.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    err_code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    trace_id: Option<String>,
}

fn trace_header(headers: &HeaderMap) -> Option<String> {
    headers.get("x-tps-trace-id").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Builds [`ApiError::Api`] from an answer.
fn api_error(status: u16, headers: &HeaderMap, body: &[u8]) -> ApiError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let (code, message, trace_id) = match parsed {
        Some(b) => {
            let code = b.code.filter(|c| *c != 0).or(b.err_code.filter(|c| *c != 0));
            (code, b.message.unwrap_or_default(), b.trace_id)
        }
        None => (None, String::from_utf8_lossy(body).chars().take(200).collect(), None),
    };
    ApiError::Api { status, code, message, trace_id: trace_id.or_else(|| trace_header(headers)) }
}

/// A non-zero `code` in a 2xx body (201/202 audit answers, old endpoints).
fn error_code_in_success(body: &[u8]) -> Option<i64> {
    let b: ErrorBody = serde_json::from_slice(body).ok()?;
    b.code.filter(|c| *c != 0).or(b.err_code.filter(|c| *c != 0))
}

/// `Retry-After` in seconds (integer or decimal). HTTP dates are ignored.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let secs: f64 = value.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// Percent-encodes one path segment (ids are opaque strings).
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Serialize)]
struct InteractionAck {
    code: u8,
}

/// The REST client of one bot. Cheap to clone; share it.
#[derive(Clone)]
pub struct RestClient {
    http: reqwest::Client,
    base: String,
    tokens: Arc<TokenManager>,
    retry: RetryPolicy,
}

impl fmt::Debug for RestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestClient")
            .field("base", &self.base)
            .field("app_id", &self.tokens.app_id())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl RestClient {
    /// A client for `api_base` (see [`PRODUCTION_API_BASE`]) using `tokens`.
    pub fn new(
        http: reqwest::Client,
        api_base: impl Into<String>,
        tokens: Arc<TokenManager>,
    ) -> Self {
        let base = api_base.into().trim_end_matches('/').to_owned();
        Self { http, base, tokens, retry: RetryPolicy::default() }
    }

    /// Replaces the retry policy.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The token manager.
    pub fn tokens(&self) -> &Arc<TokenManager> {
        &self.tokens
    }

    /// The REST base URL.
    pub fn api_base(&self) -> &str {
        &self.base
    }

    /// `GET /gateway`: the WebSocket URL.
    pub async fn gateway(&self) -> Result<GatewayUrl, ApiError> {
        self.call(Method::GET, "/gateway".into(), None).await
    }

    /// `GET /gateway/bot`: the URL, the recommended shard count and the
    /// session-start quota.
    pub async fn gateway_bot(&self) -> Result<GatewayBot, ApiError> {
        self.call(Method::GET, "/gateway/bot".into(), None).await
    }

    /// `GET /users/@me`: the bot's own user.
    pub async fn me(&self) -> Result<BotUser, ApiError> {
        self.call(Method::GET, "/users/@me".into(), None).await
    }

    /// `POST /v2/users/{openid}/messages`: a private (C2C) message.
    ///
    /// Like every send it is retried on 429/5xx with the same body (and so
    /// the same `msg_seq`). When an attempt failed with 5xx and its retry is
    /// answered 40054005 (duplicate), the failed attempt evidently arrived:
    /// the result is `Ok` with `id: None`.
    pub async fn send_c2c(
        &self,
        openid: &str,
        body: &MessageBody,
    ) -> Result<SendResponse, ApiError> {
        self.send_message(format!("/v2/users/{}/messages", seg(openid)), body).await
    }

    /// `POST /v2/groups/{group_openid}/messages`: a group message.
    pub async fn send_group(
        &self,
        group_openid: &str,
        body: &MessageBody,
    ) -> Result<SendResponse, ApiError> {
        self.send_message(format!("/v2/groups/{}/messages", seg(group_openid)), body).await
    }

    /// `POST /channels/{channel_id}/messages`: a guild channel message.
    pub async fn send_channel(
        &self,
        channel_id: &str,
        body: &MessageBody,
    ) -> Result<SendResponse, ApiError> {
        self.send_message(format!("/channels/{}/messages", seg(channel_id)), body).await
    }

    /// `POST /dms/{guild_id}/messages`: a guild direct message.
    pub async fn send_dm(
        &self,
        guild_id: &str,
        body: &MessageBody,
    ) -> Result<SendResponse, ApiError> {
        self.send_message(format!("/dms/{}/messages", seg(guild_id)), body).await
    }

    /// `POST /v2/users/{openid}/files`: uploads media for a C2C send.
    pub async fn upload_c2c_media(
        &self,
        openid: &str,
        upload: &MediaUpload,
    ) -> Result<MediaUploadResponse, ApiError> {
        self.post(format!("/v2/users/{}/files", seg(openid)), upload).await
    }

    /// `POST /v2/groups/{group_openid}/files`: uploads media for a group send.
    pub async fn upload_group_media(
        &self,
        group_openid: &str,
        upload: &MediaUpload,
    ) -> Result<MediaUploadResponse, ApiError> {
        self.post(format!("/v2/groups/{}/files", seg(group_openid)), upload).await
    }

    /// A "typing…" notice for `seconds` (1–60) in a private chat, anchored to
    /// `msg_id`. Assume it uses one passive reply (spec §6.4): take its
    /// `msg_seq` from the [`ReplyLedger`](crate::reply::ReplyLedger).
    pub async fn c2c_input_notify(
        &self,
        openid: &str,
        msg_id: &str,
        msg_seq: u32,
        seconds: u8,
    ) -> Result<SendResponse, ApiError> {
        self.send_c2c(openid, &MessageBody::input_notify(seconds).reply_to(msg_id, msg_seq)).await
    }

    /// `PUT /interactions/{id}` with `{code}` (0 ok, 1 failed, 2 too frequent,
    /// 3 duplicate, 4 no permission, 5 admin only): stops the button spinner.
    pub async fn ack_interaction(&self, interaction_id: &str, code: u8) -> Result<(), ApiError> {
        let body = serde_json::to_vec(&InteractionAck { code }).expect("serialises");
        let _: IgnoredAny = self
            .call(Method::PUT, format!("/interactions/{}", seg(interaction_id)), Some(body))
            .await?;
        Ok(())
    }

    async fn send_message(
        &self,
        path: String,
        body: &MessageBody,
    ) -> Result<SendResponse, ApiError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| ApiError::Decode { status: 0, detail: e.to_string() })?;
        let (result, saw_server_error) = self.call_tracked(Method::POST, path, Some(bytes)).await;
        match result {
            Err(e) if saw_server_error && e.is_duplicate_seq() => {
                tracing::warn!(
                    "a send that failed with a server error was delivered after all (retry deduplicated)"
                );
                Ok(SendResponse { id: None, timestamp: None, ext_info: None })
            }
            other => other,
        }
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: String,
        body: &B,
    ) -> Result<T, ApiError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| ApiError::Decode { status: 0, detail: e.to_string() })?;
        self.call(Method::POST, path, Some(bytes)).await
    }

    /// One call with retries. The body is serialised once, so a retried send
    /// carries the same `msg_seq` and the platform's de-duplication makes the
    /// retry safe.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: String,
        body: Option<Vec<u8>>,
    ) -> Result<T, ApiError> {
        self.call_tracked(method, path, body).await.0
    }

    /// [`call`](Self::call), also telling whether an attempt got a 5xx (and so
    /// may have been processed).
    async fn call_tracked<T: DeserializeOwned>(
        &self,
        method: Method,
        path: String,
        body: Option<Vec<u8>>,
    ) -> (Result<T, ApiError>, bool) {
        let mut saw_server_error = false;
        let result = self.call_inner(method, path, body, &mut saw_server_error).await;
        (result, saw_server_error)
    }

    async fn call_inner<T: DeserializeOwned>(
        &self,
        method: Method,
        path: String,
        body: Option<Vec<u8>>,
        saw_server_error: &mut bool,
    ) -> Result<T, ApiError> {
        let url = format!("{}{}", self.base, path);
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let last_try = attempt >= self.retry.max_attempts.max(1);
            let token = match self.tokens.token().await {
                Ok(token) => token,
                Err(e) if e.is_transient() && !last_try => {
                    let wait = self.retry.delay(attempt, None);
                    tracing::warn!(%path, attempt, error = %e, ?wait, "QQ token unavailable, retrying");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header(AUTHORIZATION, token.authorization())
                .header("X-Union-Appid", self.tokens.app_id())
                .header(USER_AGENT, PINCER_USER_AGENT);
            if let Some(body) = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) if e.is_connect() && !last_try => {
                    let wait = self.retry.delay(attempt, None);
                    tracing::warn!(%path, attempt, error = %e, ?wait, "QQ API unreachable, retrying");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Err(e) => return Err(ApiError::Network(e)),
            };
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = match response.bytes().await {
                Ok(bytes) => bytes,
                Err(e) => return Err(ApiError::Network(e)),
            };
            tracing::debug!(%method, %path, status = status.as_u16(), attempt, "QQ API call");

            if status.is_success() {
                return decode(status, &headers, &bytes);
            }
            let error = api_error(status.as_u16(), &headers, &bytes);
            let code = error.code();
            if (status == StatusCode::UNAUTHORIZED || matches!(code, Some(11244 | 11242)))
                && !refreshed
            {
                refreshed = true;
                attempt -= 1; // the refresh does not count as a retry
                tracing::info!(%path, status = status.as_u16(), ?code, "QQ rejected the access token; refreshing it once");
                self.tokens.invalidate(&token);
                continue;
            }
            *saw_server_error |= status.is_server_error();
            let transient = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
            if transient && !last_try {
                let wait = self.retry.delay(attempt, retry_after(&headers));
                tracing::warn!(%path, status = status.as_u16(), ?code, attempt, ?wait, "QQ API busy, retrying");
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(error);
        }
    }
}

fn decode<T: DeserializeOwned>(
    status: StatusCode,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<T, ApiError> {
    // 201/202 mean "accepted, but here is an error object" (audit pending).
    if status != StatusCode::OK
        && status != StatusCode::NO_CONTENT
        && error_code_in_success(bytes).is_some()
    {
        return Err(api_error(status.as_u16(), headers, bytes));
    }
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"null" } else { bytes };
    serde_json::from_slice(text).map_err(|e| {
        if error_code_in_success(bytes).is_some() {
            api_error(status.as_u16(), headers, bytes)
        } else {
            ApiError::Decode { status: status.as_u16(), detail: e.to_string() }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn api(status: u16, code: Option<i64>) -> ApiError {
        ApiError::Api { status, code, message: "m".into(), trace_id: None }
    }

    #[test]
    fn codes_are_classified_per_the_spec() {
        assert!(api(400, Some(40054005)).is_duplicate_seq());
        assert!(api(400, Some(40034128)).is_reply_budget_exhausted());
        for c in [40034005, 304027, 304103, 40034026] {
            assert!(api(400, Some(c)).is_msg_id_expired(), "{c}");
        }
        for c in [40034008, 40034009, 40034010, 40034011, 40034124, 40034127, 304036] {
            assert!(api(400, Some(c)).is_markdown_rejected(), "{c}");
        }
        assert!(!api(400, Some(40034012)).is_markdown_rejected());
        assert!(!api(400, Some(40034027)).is_markdown_rejected());
        assert!(api(400, Some(40034027)).is_anchor_invalid());
        assert!(api(400, Some(40054007)).is_too_long());
        assert!(api(400, Some(40054018)).is_too_long());
        assert!(api(400, Some(40034101)).is_bot_removed());
        assert!(api(400, Some(40054003)).is_bot_removed());
        assert!(api(401, Some(11244)).is_auth());
        assert!(api(401, None).is_auth());
        assert!(api(400, Some(40034102)).is_proactive_forbidden());
        assert!(api(202, Some(304023)).is_audit_pending());
        assert!(api(403, Some(304003)).is_url_rejected());
        assert!(api(400, Some(40054013)).is_user_refused());
        let creds =
            ApiError::Token(TokenError::InvalidCredentials { code: 100016, message: "x".into() });
        assert!(creds.is_auth() && !creds.is_retryable());
    }

    #[test]
    fn retryable_means_rate_limit_server_or_network() {
        assert!(api(429, None).is_retryable());
        assert!(api(500, Some(2000004)).is_retryable());
        assert!(api(503, None).is_retryable());
        assert!(api(400, Some(22009)).is_retryable());
        assert!(!api(400, Some(40054005)).is_retryable());
        assert!(!api(401, Some(11244)).is_retryable());
        assert!(!api(404, None).is_retryable());
        assert!(ApiError::Token(TokenError::RateLimited { code: 100001 }).is_retryable());
    }

    #[test]
    fn errors_read_well_in_both_languages() {
        let e = ApiError::Api {
            status: 400,
            code: Some(40054005),
            message: "消息被去重，请检查请求msgseq".into(),
            trace_id: Some("abc123".into()),
        };
        let text = e.to_string();
        assert!(text.starts_with("QQ API error 40054005 (HTTP 400): 消息被去重"), "{text}");
        assert!(
            text.contains("earlier send most likely arrived") && text.contains("[trace abc123]"),
            "{text}"
        );
        let zh = e.explain_zh();
        assert!(
            zh.contains("消息被去重") && zh.contains("40054005") && zh.contains("abc123"),
            "{zh}"
        );
        assert!(api(400, Some(40034011)).to_string().contains("send plain text"));
        assert!(api(400, Some(40034011)).explain_zh().contains("纯文本"));
        assert!(api(400, Some(40054007)).explain_zh().contains("拆分"));
        assert!(api(429, None).to_string().contains("rate-limiting"));
    }

    #[test]
    fn error_bodies_and_headers_are_parsed() {
        let mut headers = HeaderMap::new();
        headers.insert("X-Tps-trace-ID", HeaderValue::from_static("hdr-trace"));
        let body = r#"{"message":"请求参数msg_id无效或越权","code":40034024,"err_code":40034024,"trace_id":"body-trace"}"#.as_bytes();
        match api_error(400, &headers, body) {
            ApiError::Api { status, code, message, trace_id } => {
                assert_eq!((status, code), (400, Some(40034024)));
                assert_eq!(message, "请求参数msg_id无效或越权");
                assert_eq!(trace_id.as_deref(), Some("body-trace"));
            }
            other => panic!("{other:?}"),
        }
        // err_code only, trace id from the header.
        let e = api_error(400, &headers, br#"{"err_code":40054005,"message":"x"}"#);
        assert_eq!(e.code(), Some(40054005));
        assert!(matches!(e, ApiError::Api { trace_id: Some(ref t), .. } if t == "hdr-trace"));
        // Not JSON at all.
        let e = api_error(502, &HeaderMap::new(), b"<html>Bad Gateway</html>");
        assert!(
            matches!(e, ApiError::Api { code: None, ref message, .. } if message.contains("Bad Gateway"))
        );
    }

    #[test]
    fn success_bodies_with_error_codes_are_errors() {
        let h = HeaderMap::new();
        let r: Result<SendResponse, _> = decode(
            StatusCode::ACCEPTED,
            &h,
            br#"{"code":304023,"message":"push message is waiting for audit"}"#,
        );
        assert!(r.unwrap_err().is_audit_pending());
        let r: Result<SendResponse, _> =
            decode(StatusCode::OK, &h, br#"{"id":"m1","timestamp":1}"#);
        assert_eq!(r.unwrap().id.as_deref(), Some("m1"));
        let r: Result<IgnoredAny, _> = decode(StatusCode::NO_CONTENT, &h, b"");
        assert!(r.is_ok());
        let r: Result<GatewayUrl, _> = decode(StatusCode::OK, &h, br#"{"unexpected":true}"#);
        assert!(matches!(r, Err(ApiError::Decode { status: 200, .. })));
    }

    #[test]
    fn retry_delays_grow_cap_and_honour_retry_after() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay_with_jitter(1, None, 0.0), Duration::from_millis(250));
        assert_eq!(p.delay_with_jitter(1, None, 1.0), Duration::from_millis(500));
        assert_eq!(p.delay_with_jitter(2, None, 1.0), Duration::from_secs(1));
        assert_eq!(p.delay_with_jitter(3, None, 1.0), Duration::from_secs(2));
        assert_eq!(p.delay_with_jitter(20, None, 1.0), Duration::from_secs(30));
        assert_eq!(p.delay_with_jitter(u32::MAX, None, 1.0), Duration::from_secs(30));
        for _ in 0..100 {
            let d = p.delay(3, None);
            assert!(d >= Duration::from_secs(1) && d <= Duration::from_secs(2), "{d:?}");
        }
        assert_eq!(p.delay(1, Some(Duration::from_secs(7))), Duration::from_secs(7));
        assert_eq!(p.delay(1, Some(Duration::from_secs(600))), Duration::from_secs(30));
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("0.5"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(500)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(seg("E4F4AB_09-x.y~"), "E4F4AB_09-x.y~");
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
        assert_eq!(seg("ROBOT1.0_x!"), "ROBOT1.0_x%21");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let tokens = Arc::new(TokenManager::new(
            reqwest::Client::new(),
            "http://127.0.0.1:1/token",
            crate::token::Credentials {
                app_id: "1024".into(),
                secret: crate::token::Secret::new("s3cr3t-value"),
            },
        ));
        let client = RestClient::new(reqwest::Client::new(), "http://127.0.0.1:1/", tokens);
        let debug = format!("{client:?}");
        assert!(debug.contains("1024") && !debug.contains("s3cr3t"), "{debug}");
        assert_eq!(client.api_base(), "http://127.0.0.1:1");
    }
}
