//! Control API for out-of-process tests, under `/_sim/`. JSON in, JSON out;
//! each route is a thin wrapper over the [`QqSim`] method of the same name.
//!
//! | route | body / answer |
//! |---|---|
//! | `POST /_sim/apps` | `{app_id, secret, granted_intents?: u32, markdown?: bool}` |
//! | `POST /_sim/inject/c2c` | `{app_id, user_openid, content}` → `Injected` |
//! | `POST /_sim/inject/group` | `{app_id, group_openid, member_openid, content}` → `Injected` |
//! | `POST /_sim/inject/event` | `{app_id, kind, d}` → `Injected` |
//! | `POST /_sim/fault/reconnect` | `{app_id}` |
//! | `POST /_sim/fault/close` | `{app_id, code}` |
//! | `POST /_sim/fault/drop` | `{app_id}` |
//! | `POST /_sim/fault/invalid_session` | `{app_id, resumable}` |
//! | `POST /_sim/fault/ack` | `{app_id, ack}` |
//! | `POST /_sim/fault/server_heartbeat` | `{app_id}` |
//! | `POST /_sim/fault/expire_token` | `{app_id}` |
//! | `POST /_sim/fault/fatal` | `{app_id, fatal: null\|"delisted"\|"banned"}` |
//! | `POST /_sim/fault/revoke_intents` | `{app_id, intents: u32}` |
//! | `POST /_sim/fault/fail_sends` | `{n, status, retry_after_secs?}` |
//! | `POST /_sim/fault/duplicates` | `{on}` |
//! | `POST /_sim/fault/proactive` | `{allowed: bool}` |
//! | `GET /_sim/sends`, `/_sim/rest_log`, `/_sim/gateway_log` | arrays; `at_ms` is ms since the simulator started |
//! | `GET /_sim/stats?app_id=…` | `{identifies, resumes, connections, open_connections, session_id}` |
//! | `GET /_sim/bind/tasks` | `[task_id]` |
//! | `POST /_sim/bind/scan`, `/_sim/bind/expire` | `{task_id}` → `{ok}` |
//! | `POST /_sim/bind/confirm` | `{task_id, app_id, secret, user_openid}` → `{ok}` |

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use pincer_qq::model::Intents;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::{FatalFlag, ProactivePolicy, QqSim, SimApp};

type Answer = (StatusCode, Json<Value>);

fn ok(v: Value) -> Answer {
    (StatusCode::OK, Json(v))
}

fn bad(msg: &str) -> Answer {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg})))
}

fn s<'a>(b: &'a Value, k: &str) -> Option<&'a str> {
    b.get(k).and_then(Value::as_str)
}

/// The `/_sim/` routes.
pub(crate) fn router(sim: QqSim) -> Router {
    Router::new()
        .route("/_sim/apps", post(apps))
        .route("/_sim/inject/{kind}", post(inject))
        .route("/_sim/fault/{kind}", post(fault))
        .route("/_sim/sends", get(sends))
        .route("/_sim/rest_log", get(rest_log))
        .route("/_sim/gateway_log", get(gateway_log))
        .route("/_sim/stats", get(stats))
        .route("/_sim/bind/tasks", get(bind_tasks))
        .route("/_sim/bind/{action}", post(bind_action))
        .with_state(sim)
}

fn ms(sim: &QqSim, at: Instant) -> u64 {
    at.saturating_duration_since(sim.inner.started).as_millis() as u64
}

async fn apps(State(sim): State<QqSim>, Json(b): Json<Value>) -> Answer {
    let (Some(app_id), Some(secret)) = (s(&b, "app_id"), s(&b, "secret")) else {
        return bad("app_id and secret required");
    };
    let mut app = SimApp::new(app_id, secret);
    if let Some(bits) = b.get("granted_intents").and_then(Value::as_u64) {
        app.granted_intents = Intents::from_bits_retain(bits as u32);
    }
    if let Some(md) = b.get("markdown").and_then(Value::as_bool) {
        app.markdown = md;
    }
    sim.add_app(app);
    ok(json!({"ok": true}))
}

async fn inject(
    State(sim): State<QqSim>,
    Path(kind): Path<String>,
    Json(b): Json<Value>,
) -> Answer {
    let Some(app_id) = s(&b, "app_id") else { return bad("app_id required") };
    let injected = match kind.as_str() {
        "c2c" => {
            let (Some(user), Some(content)) = (s(&b, "user_openid"), s(&b, "content")) else {
                return bad("user_openid and content required");
            };
            sim.inject_c2c_message(app_id, user, content)
        }
        "group" => {
            let (Some(g), Some(m), Some(content)) =
                (s(&b, "group_openid"), s(&b, "member_openid"), s(&b, "content"))
            else {
                return bad("group_openid, member_openid and content required");
            };
            sim.inject_group_at_message(app_id, g, m, content)
        }
        "event" => {
            let Some(t) = s(&b, "kind") else { return bad("kind required") };
            sim.inject_event(app_id, t, b.get("d").cloned().unwrap_or(json!({})))
        }
        _ => return bad("unknown injection"),
    };
    ok(json!(injected))
}

async fn fault(State(sim): State<QqSim>, Path(kind): Path<String>, Json(b): Json<Value>) -> Answer {
    let app_id = s(&b, "app_id").unwrap_or_default();
    let flag = |k: &str| b.get(k).and_then(Value::as_bool);
    match kind.as_str() {
        "reconnect" => sim.send_reconnect(app_id),
        "close" => {
            let Some(code) = b.get("code").and_then(Value::as_u64) else {
                return bad("code required");
            };
            sim.close_sockets(app_id, code as u16);
        }
        "drop" => sim.drop_sockets(app_id),
        "invalid_session" => sim.invalid_session(app_id, flag("resumable").unwrap_or(false)),
        "ack" => sim.set_ack_heartbeats(app_id, flag("ack").unwrap_or(true)),
        "server_heartbeat" => sim.send_server_heartbeat(app_id),
        "expire_token" => sim.expire_token(app_id),
        "fatal" => {
            let fatal = match s(&b, "fatal") {
                Some("delisted") => Some(FatalFlag::Delisted),
                Some("banned") => Some(FatalFlag::Banned),
                None => None,
                Some(_) => return bad("fatal must be null, \"delisted\" or \"banned\""),
            };
            sim.set_fatal(app_id, fatal);
        }
        "revoke_intents" => {
            let bits = b.get("intents").and_then(Value::as_u64).unwrap_or(0) as u32;
            sim.revoke_intents(app_id, Intents::from_bits_retain(bits));
        }
        "fail_sends" => {
            let n = b.get("n").and_then(Value::as_u64).unwrap_or(1) as u32;
            let status = b.get("status").and_then(Value::as_u64).unwrap_or(500) as u16;
            let retry = b.get("retry_after_secs").and_then(Value::as_u64);
            sim.fail_next_sends(n, status, retry);
        }
        "duplicates" => sim.set_duplicate_deliveries(flag("on").unwrap_or(true)),
        "proactive" => sim.set_proactive(if flag("allowed").unwrap_or(false) {
            ProactivePolicy::Allowed
        } else {
            ProactivePolicy::Disabled
        }),
        _ => return bad("unknown fault"),
    }
    ok(json!({"ok": true}))
}

async fn sends(State(sim): State<QqSim>) -> Answer {
    let list: Vec<Value> = sim
        .sends()
        .into_iter()
        .map(|r| {
            json!({
                "at_ms": ms(&sim, r.at), "app_id": r.app_id, "scene": r.scene, "target": r.target,
                "body": r.body, "msg_id": r.msg_id, "event_id": r.event_id, "msg_seq": r.msg_seq,
                "response_id": r.response_id,
            })
        })
        .collect();
    ok(json!(list))
}

async fn rest_log(State(sim): State<QqSim>) -> Answer {
    let list: Vec<Value> = sim
        .rest_log()
        .into_iter()
        .map(|r| {
            json!({
                "at_ms": ms(&sim, r.at), "method": r.method, "path": r.path, "status": r.status,
                "body": r.body, "response": r.response,
            })
        })
        .collect();
    ok(json!(list))
}

async fn gateway_log(State(sim): State<QqSim>) -> Answer {
    let list: Vec<Value> = sim
        .gateway_log()
        .into_iter()
        .map(|r| {
            json!({
                "at_ms": ms(&sim, r.at), "app_id": r.app_id, "connection": r.connection,
                "direction": r.direction, "frame": r.frame, "close_code": r.close_code,
            })
        })
        .collect();
    ok(json!(list))
}

async fn stats(State(sim): State<QqSim>, Query(q): Query<HashMap<String, String>>) -> Answer {
    let Some(app_id) = q.get("app_id") else { return bad("app_id query parameter required") };
    ok(json!({
        "identifies": sim.identifies(app_id),
        "resumes": sim.resumes(app_id),
        "connections": sim.connections(app_id),
        "open_connections": sim.open_connections(app_id),
        "session_id": sim.session_id(app_id),
        "sends": sim.sends().len(),
    }))
}

async fn bind_tasks(State(sim): State<QqSim>) -> Answer {
    ok(json!(sim.bind_tasks()))
}

async fn bind_action(
    State(sim): State<QqSim>,
    Path(action): Path<String>,
    Json(b): Json<Value>,
) -> Answer {
    let Some(task) = s(&b, "task_id") else { return bad("task_id required") };
    let done = match action.as_str() {
        "scan" => sim.bind_scan(task),
        "expire" => sim.bind_expire(task),
        "confirm" => {
            let (Some(app_id), Some(secret)) = (s(&b, "app_id"), s(&b, "secret")) else {
                return bad("app_id and secret required");
            };
            let openid = s(&b, "user_openid").unwrap_or("SIM_USER_OPENID");
            sim.bind_confirm(task, SimApp::new(app_id, secret), openid)
        }
        _ => return bad("unknown bind action"),
    };
    ok(json!({"ok": done}))
}
