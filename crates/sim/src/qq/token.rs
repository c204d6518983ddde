//! The token endpoint (spec §1, §9 items 1–2) and token checks.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use super::config::FatalFlag;
use super::state::{State, Token};
use super::util;

/// Tokens are re-issued only within this much of their end.
const ROTATE_BEFORE_END: Duration = Duration::from_secs(60);

/// `POST /app/getAppAccessToken`: always HTTP 200; errors are `{code, message}`.
pub(crate) fn get_app_access_token(st: &mut State, ttl: Duration, body: &Value) -> Value {
    let app_id = body.get("appId").and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let secret = body.get("clientSecret").and_then(Value::as_str);
    let invalid = json!({"code": 100016, "message": "invalid appid or secret"});
    let (Some(app_id), Some(secret)) = (app_id, secret) else { return invalid };
    let Some(app) = st.apps.get_mut(&app_id) else { return invalid };
    if app.app.secret != secret {
        return invalid;
    }
    if app.fatal == Some(FatalFlag::Banned) {
        return json!({"code": 100007, "message": "appid invalid, bot banned or deleted"});
    }
    let now = Instant::now();
    let reuse = app.token.as_ref().filter(|t| now + ROTATE_BEFORE_END < t.expires_at).cloned();
    let token = match reuse {
        Some(t) => t,
        None => {
            let old = app.token.take().filter(|t| t.expires_at > now);
            app.prev_token = old;
            let t = Token { value: util::uuid().to_uppercase(), expires_at: now + ttl };
            app.token = Some(t.clone());
            st.tokens.insert(t.value.clone(), app_id.clone());
            t
        }
    };
    let remaining = token.expires_at.saturating_duration_since(now).as_secs();
    json!({"access_token": token.value, "expires_in": remaining.to_string()})
}

/// Strips `QQBot ` (or accepts a bare token) and returns the app it belongs to,
/// whether or not it is still valid.
pub(crate) fn gateway_token_app(st: &State, token: &str) -> Option<String> {
    let bare = token.strip_prefix("QQBot ").unwrap_or(token).trim();
    st.tokens.get(bare).cloned()
}

/// Whether the gateway token is currently valid.
pub(crate) fn gateway_token_valid(st: &State, token: &str) -> bool {
    let bare = token.strip_prefix("QQBot ").unwrap_or(token).trim();
    st.tokens
        .get(bare)
        .and_then(|app| st.apps.get(app))
        .is_some_and(|a| a.token_valid(bare, Instant::now()))
}

/// The app of a REST `Authorization` header (`QQBot <t>`, or the legacy
/// `Bot <appid>.<t>`), if the token is valid.
pub(crate) fn rest_auth(st: &State, header: Option<&str>) -> Option<String> {
    let header = header?.trim();
    let token = if let Some(t) = header.strip_prefix("QQBot ") {
        t.trim()
    } else if let Some(rest) = header.strip_prefix("Bot ") {
        rest.split_once('.')?.1.trim()
    } else {
        return None;
    };
    let app_id = st.tokens.get(token)?;
    let app = st.apps.get(app_id)?;
    app.token_valid(token, Instant::now()).then(|| app_id.clone())
}
