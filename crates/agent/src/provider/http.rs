//! HTTP plumbing shared by the wire formats: the client, error mapping from
//! statuses, provider error bodies and transport failures to
//! [`ProviderError`], and URL redaction.

use std::time::Duration;

use super::{ApiKey, ProviderError};

/// Connect timeout of every provider client.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The default gap allowed between two chunks of a streamed answer.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// A client suitable for providers (rustls, connect timeout, no proxy magic).
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("pincer/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// `url` without user info, query or fragment (where keys could hide).
pub(crate) fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string().trim_end_matches('/').to_owned()
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or_default().to_owned(),
    }
}

/// `base` + `path` with exactly one `/` between.
pub(crate) fn join(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// The innermost cause of an error chain, for a short detail.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// A transport failure (no HTTP status) as a [`ProviderError`].
pub(crate) fn map_transport(
    err: &reqwest::Error,
    base_url: &str,
    key: Option<&ApiKey>,
) -> ProviderError {
    let detail = redact(key, &root_cause(err));
    if err.is_timeout() {
        ProviderError::Timeout(CONNECT_TIMEOUT)
    } else if err.is_connect() || err.is_request() || err.is_builder() || err.is_redirect() {
        ProviderError::Unreachable { url: redact_url(base_url), detail }
    } else {
        ProviderError::BrokenStream(detail)
    }
}

/// A failure while reading the body of an answer that had started.
pub(crate) fn map_body(err: &reqwest::Error, key: Option<&ApiKey>) -> ProviderError {
    ProviderError::BrokenStream(redact(key, &root_cause(err)))
}

pub(crate) fn redact(key: Option<&ApiKey>, text: &str) -> String {
    match key {
        Some(k) => k.redact(text),
        None => text.to_owned(),
    }
}

/// Parses `Retry-After` in seconds (HTTP dates are treated as absent).
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    v.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
}

/// The provider's message from an error body: `error.message`, `error`
/// (string), `message`, `msg`, or the raw body (shortened).
pub(crate) fn error_detail(body: &str) -> String {
    let from_json = serde_json::from_str::<serde_json::Value>(body).ok().and_then(|v| {
        let e = v.get("error");
        e.and_then(|e| e.get("message"))
            .and_then(|m| m.as_str())
            .map(str::to_owned)
            .or_else(|| e.and_then(|e| e.as_str()).map(str::to_owned))
            .or_else(|| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .or_else(|| v.get("msg").and_then(|m| m.as_str()).map(str::to_owned))
            .or_else(|| {
                e.and_then(|e| e.get("code").or_else(|| e.get("type")))
                    .map(|c| c.as_str().map(str::to_owned).unwrap_or_else(|| c.to_string()))
            })
    });
    let text = from_json.unwrap_or_else(|| body.trim().to_owned());
    let mut short: String = text.chars().take(300).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    if short.is_empty() {
        short.push_str("no details");
    }
    short
}

const NO_BALANCE: &[&str] = &[
    "insufficient_quota",
    "insufficient balance",
    "insufficient_balance",
    "insufficient_user_quota",
    "arrearage",
    "exceeded your current quota",
    "credit balance is too low",
    "account balance",
    "余额不足",
    "欠费",
    "accountoverdue",
    "exceeded_current_quota",
];

const UNKNOWN_MODEL: &[&str] = &[
    "model_not_found",
    "model not exist",
    "model does not exist",
    "model_not_exist",
    "no such model",
    "invalid model",
    "unknown model",
    "not a valid model",
    "model not found",
    "模型不存在",
];

const BLOCKED: &[&str] = &[
    "unsupported_country_region_territory",
    "country, region, or territory not supported",
    "not available in your region",
    "unsupported_country",
    "request not allowed from your region",
    "data_inspection_failed",
    "违规",
];

/// Classifies a provider error body regardless of status (providers disagree
/// on statuses: OpenAI answers 429 for no quota, DeepSeek 402, Qwen 400
/// `Arrearage`, DeepSeek 400 "Model Not Exist").
pub(crate) fn classify_body(body: &str, model: &str) -> Option<ProviderError> {
    let lower = body.to_lowercase();
    let has = |list: &[&str]| list.iter().any(|p| lower.contains(p));
    // "1113" is Zhipu's code for arrears; only trust it as a JSON code.
    let no_balance =
        has(NO_BALANCE) || lower.contains("\"code\":\"1113\"") || lower.contains("\"code\":1113");
    if no_balance {
        return Some(ProviderError::NoBalance { detail: error_detail(body) });
    }
    if has(UNKNOWN_MODEL) {
        return Some(ProviderError::UnknownModel { model: model.to_owned() });
    }
    if has(BLOCKED) {
        return Some(ProviderError::Blocked { detail: error_detail(body) });
    }
    None
}

/// An HTTP error answer as a [`ProviderError`].
pub(crate) fn map_status(
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
    model: &str,
    key: Option<&ApiKey>,
) -> ProviderError {
    let body = redact(key, body);
    if status == 401 || status == 403 {
        // A 403 can also be a region block or arrears; prefer those when named.
        return match classify_body(&body, model) {
            Some(e @ (ProviderError::NoBalance { .. } | ProviderError::Blocked { .. }))
                if status == 403 =>
            {
                e
            }
            _ => ProviderError::BadKey { detail: error_detail(&body) },
        };
    }
    match classify_body(&body, model) {
        // A 429 is a rate limit unless the body says the money ran out.
        Some(e @ ProviderError::NoBalance { .. }) => return e,
        Some(e) if status != 429 => return e,
        _ => {}
    }
    match status {
        402 => ProviderError::NoBalance { detail: error_detail(&body) },
        404 => ProviderError::UnknownModel { model: model.to_owned() },
        429 => ProviderError::RateLimited { retry_after },
        451 => ProviderError::Blocked { detail: error_detail(&body) },
        500..=599 => ProviderError::Server { status },
        _ => ProviderError::BadRequest { status, detail: error_detail(&body) },
    }
}

/// Sends `req`, waiting at most `idle` for the response head; maps transport
/// failures and error statuses.
pub(crate) async fn send(
    req: reqwest::RequestBuilder,
    idle: Duration,
    base_url: &str,
    model: &str,
    key: Option<&ApiKey>,
) -> Result<reqwest::Response, ProviderError> {
    let resp = match tokio::time::timeout(idle, req.send()).await {
        Err(_) => return Err(ProviderError::Timeout(idle)),
        Ok(Err(e)) => return Err(map_transport(&e, base_url, key)),
        Ok(Ok(r)) => r,
    };
    let status = resp.status().as_u16();
    if resp.status().is_success() {
        return Ok(resp);
    }
    let after = retry_after(resp.headers());
    let body = match tokio::time::timeout(idle, resp.text()).await {
        Ok(Ok(b)) => b,
        _ => String::new(),
    };
    Err(map_status(status, after, &body, model, key))
}

/// Reads a whole (non-streamed) body, with `idle` as the limit.
pub(crate) async fn read_text(
    resp: reqwest::Response,
    idle: Duration,
    key: Option<&ApiKey>,
) -> Result<String, ProviderError> {
    match tokio::time::timeout(idle, resp.text()).await {
        Err(_) => Err(ProviderError::Timeout(idle)),
        Ok(Err(e)) => Err(map_body(&e, key)),
        Ok(Ok(b)) => Ok(b),
    }
}

/// Whether the answer is JSON rather than an event stream (some servers
/// ignore `stream: true`).
pub(crate) fn is_json(resp: &reqwest::Response) -> bool {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"))
}

/// Reads an event stream, handing each event to `on_event` until it returns
/// `Ok(true)` (the end marker). Returns whether the end marker was seen.
/// At most `idle` may pass between two chunks.
pub(crate) async fn read_sse(
    mut resp: reqwest::Response,
    idle: Duration,
    key: Option<&ApiKey>,
    mut on_event: impl FnMut(super::sse::SseEvent) -> Result<bool, ProviderError>,
) -> Result<bool, ProviderError> {
    let mut parser = super::sse::SseParser::new();
    loop {
        let chunk = match tokio::time::timeout(idle, resp.chunk()).await {
            Err(_) => return Err(ProviderError::Timeout(idle)),
            Ok(Err(e)) => return Err(map_body(&e, key)),
            Ok(Ok(c)) => c,
        };
        let Some(chunk) = chunk else { break };
        for ev in parser.feed(&chunk) {
            if on_event(ev)? {
                return Ok(true);
            }
        }
    }
    match parser.finish() {
        Some(ev) => on_event(ev),
        None => Ok(false),
    }
}

/// Parses tool-call arguments: empty → `{}`, invalid → the raw string.
pub(crate) fn parse_arguments(raw: &str) -> serde_json::Value {
    if raw.trim().is_empty() {
        return serde_json::json!({});
    }
    serde_json::from_str(raw).unwrap_or_else(|_| serde_json::Value::String(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(status: u16, body: &str) -> ProviderError {
        map_status(status, None, body, "m", None)
    }

    #[test]
    fn statuses_and_bodies_map_to_kinds() {
        assert!(
            matches!(map(401, r#"{"error":{"message":"bad"}}"#), ProviderError::BadKey { detail } if detail == "bad")
        );
        assert!(matches!(map(403, "nope"), ProviderError::BadKey { .. }));
        assert!(matches!(
            map(402, r#"{"error":{"message":"Insufficient Balance"}}"#),
            ProviderError::NoBalance { .. }
        ));
        assert!(matches!(
            map(
                429,
                r#"{"error":{"code":"insufficient_quota","message":"You exceeded your current quota"}}"#
            ),
            ProviderError::NoBalance { .. }
        ));
        assert!(matches!(
            map(400, r#"{"code":"Arrearage","message":"Access denied"}"#),
            ProviderError::NoBalance { .. }
        ));
        assert!(matches!(
            map(400, r#"{"error":{"code":"1113","message":"x"}}"#),
            ProviderError::NoBalance { .. }
        ));
        assert!(matches!(map(404, "{}"), ProviderError::UnknownModel { model } if model == "m"));
        assert!(matches!(
            map(400, r#"{"error":{"message":"Model Not Exist"}}"#),
            ProviderError::UnknownModel { .. }
        ));
        assert!(matches!(map(429, "slow down"), ProviderError::RateLimited { retry_after: None }));
        assert!(matches!(
            map(429, r#"{"error":{"code":"1113","message":"您的账户已欠费"}}"#),
            ProviderError::NoBalance { .. }
        ));
        assert!(matches!(
            map(429, r#"{"error":{"message":"too many requests for model xyz"}}"#),
            ProviderError::RateLimited { .. }
        ));
        assert!(matches!(map(451, "no"), ProviderError::Blocked { .. }));
        assert!(matches!(
            map(403, r#"{"error":{"code":"unsupported_country_region_territory"}}"#),
            ProviderError::Blocked { .. }
        ));
        assert!(matches!(map(503, ""), ProviderError::Server { status: 503 }));
        assert!(matches!(map(529, ""), ProviderError::Server { status: 529 }));
        assert!(
            matches!(map(400, r#"{"error":{"message":"bad param"}}"#), ProviderError::BadRequest { status: 400, detail } if detail == "bad param")
        );
    }

    #[test]
    fn keys_are_redacted_from_details() {
        let key = ApiKey::new("sk-abcdef123456");
        let e = map_status(
            401,
            None,
            r#"{"error":{"message":"Incorrect API key provided: sk-abcdef123456"}}"#,
            "m",
            Some(&key),
        );
        assert!(!e.to_string().contains("sk-abcdef123456"));
        assert!(e.to_string().contains("***"));
    }

    #[test]
    fn urls_lose_credentials_and_queries() {
        assert_eq!(redact_url("https://u:p@api.x.com/v1?key=sk-1#f"), "https://api.x.com/v1");
        assert_eq!(join("http://h/v1/", "/chat/completions"), "http://h/v1/chat/completions");
    }

    #[test]
    fn long_details_are_shortened() {
        let d = error_detail(&"x".repeat(1000));
        assert!(d.chars().count() <= 301);
    }
}
