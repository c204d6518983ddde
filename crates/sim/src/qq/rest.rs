//! The platform's REST API (spec §2, §6, §9 items 1–4, 21–33) and the QR
//! binding endpoints, behind one dispatcher that logs every request.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use pincer_qq::model::{
    BotUser, GatewayBot, GatewayUrl, MediaUpload, MediaUploadResponse, MessageBody, MsgType,
    SessionStartLimit,
};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::config::{FatalFlag, ProactivePolicy};
use super::state::{Inner, Received, SentMsg, State as SimState, Upload};
use super::{bind, token, util, RecordedRest, RecordedSend, Scene};

/// Largest request body accepted (uploads carry base64 files).
const MAX_BODY: usize = 64 << 20;

/// A response before it becomes HTTP.
pub(crate) struct Reply {
    pub status: u16,
    /// `None`: empty body.
    pub body: Option<Value>,
    pub retry_after: Option<u64>,
    pub trace_id: String,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Self { status: 200, body: Some(body), retry_after: None, trace_id: util::trace_id() }
    }

    pub fn empty() -> Self {
        Self { status: 200, body: None, retry_after: None, trace_id: util::trace_id() }
    }

    /// `{"message","code","err_code","trace_id"}` with an HTTP status.
    pub fn error(status: u16, code: u64, message: &str) -> Self {
        let trace_id = util::trace_id();
        Self {
            status,
            body: Some(
                json!({"message": message, "code": code, "err_code": code, "trace_id": trace_id}),
            ),
            retry_after: None,
            trace_id,
        }
    }

    fn with_retry_after(mut self, secs: Option<u64>) -> Self {
        self.retry_after = secs;
        self
    }
}

/// Fallback handler: every platform REST request.
pub(crate) async fn dispatch(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY).await.unwrap_or_default();
    let body = parse_body(&bytes);
    let reply = match body {
        Ok(body) => {
            let reply = route(&inner, &method, &path, auth.as_deref(), &body);
            log(&inner, &method, &path, &reply, body);
            reply
        }
        Err(()) => {
            let reply = Reply::error(400, 11255, "invalid request body: not JSON");
            let raw = Value::String(String::from_utf8_lossy(&bytes).into_owned());
            log(&inner, &method, &path, &reply, raw);
            reply
        }
    };
    into_response(reply)
}

fn parse_body(bytes: &Bytes) -> Result<Value, ()> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|_| ())
}

fn log(inner: &Inner, method: &Method, path: &str, reply: &Reply, body: Value) {
    let is_send = reply.status == 200 && method == Method::POST && path.ends_with("/messages");
    let mut st = inner.lock();
    if st.logs_off {
        drop(st);
        if is_send {
            inner.sends_notify.notify_waiters();
        }
        return;
    }
    st.rest_log.push(RecordedRest {
        at: Instant::now(),
        method: method.to_string(),
        path: path.to_owned(),
        status: reply.status,
        body,
        response: reply.body.clone().unwrap_or(Value::Null),
    });
    drop(st);
    if is_send {
        inner.sends_notify.notify_waiters();
    }
}

pub(crate) fn into_response(reply: Reply) -> Response {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("X-Tps-trace-ID", reply.trace_id.as_str());
    if let Some(secs) = reply.retry_after {
        builder = builder.header("Retry-After", HeaderValue::from(secs));
    }
    let body = match reply.body {
        Some(v) => {
            builder = builder.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    builder.body(body).unwrap_or_default()
}

fn route(
    inner: &Arc<Inner>,
    method: &Method,
    path: &str,
    auth: Option<&str>,
    body: &Value,
) -> Reply {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let m = method.as_str();
    // Unauthenticated endpoints.
    match (m, segs.as_slice()) {
        ("POST", ["app", "getAppAccessToken"]) => {
            let mut st = inner.lock();
            return Reply::ok(token::get_app_access_token(&mut st, inner.config.token_ttl, body));
        }
        ("POST", ["lite", "create_bind_task"]) => return Reply::ok(bind::create_task(inner, body)),
        ("POST", ["lite", "poll_bind_result"]) => return Reply::ok(bind::poll(inner, body)),
        _ => {}
    }
    let known = matches!(
        (m, segs.as_slice()),
        ("GET", ["gateway"])
            | ("GET", ["gateway", "bot"])
            | ("GET", ["users", "@me" | "%40me"])
            | ("POST", ["v2", "users" | "groups", _, "messages" | "files"])
            | ("POST", ["channels" | "dms", _, "messages"])
            | ("DELETE", ["v2", "users" | "groups", _, "messages", _])
            | ("DELETE", ["channels" | "dms", _, "messages", _])
            | ("PUT", ["interactions", _])
    );
    if !known {
        return Reply::error(404, 404, "not found");
    }
    let app_id = {
        let st = inner.lock();
        match token::rest_auth(&st, auth) {
            Some(app_id) => {
                if st.apps.get(&app_id).and_then(|a| a.fatal) == Some(FatalFlag::Banned) {
                    return Reply::error(403, 11265, "bot banned");
                }
                app_id
            }
            None => return Reply::error(401, 11244, "token not exist or expire"),
        }
    };
    match (m, segs.as_slice()) {
        ("GET", ["gateway"]) => Reply::ok(json!(GatewayUrl { url: inner.gateway_url() })),
        ("GET", ["gateway", "bot"]) => {
            let st = inner.lock();
            let used = st.apps.get(&app_id).map(|a| a.session_starts).unwrap_or(0);
            let c = &inner.config;
            Reply::ok(json!(GatewayBot {
                url: inner.gateway_url(),
                shards: c.recommended_shards,
                session_start_limit: SessionStartLimit {
                    total: c.session_start_total,
                    remaining: c.session_start_total.saturating_sub(used),
                    reset_after: 86_400_000,
                    max_concurrency: c.max_concurrency,
                },
            }))
        }
        ("GET", ["users", _]) => Reply::ok(json!(BotUser {
            id: util::bot_user_id(&app_id),
            username: format!("pincer-sim-{app_id}"),
            avatar: Some(String::new()),
            union_openid: None,
            union_user_account: None,
        })),
        ("POST", ["v2", kind, target, "messages"]) => {
            let scene = v2_scene(kind, target);
            send(inner, &app_id, scene, body)
        }
        ("POST", ["channels", cid, "messages"]) => {
            send(inner, &app_id, Scene::Channel { channel_id: (*cid).to_owned() }, body)
        }
        ("POST", ["dms", gid, "messages"]) => {
            send(inner, &app_id, Scene::Dm { guild_id: (*gid).to_owned() }, body)
        }
        ("POST", ["v2", kind, target, "files"]) => {
            upload(inner, &app_id, v2_scene(kind, target), body)
        }
        ("DELETE", ["v2", kind, target, "messages", mid]) => {
            recall(inner, &app_id, &v2_scene(kind, target), mid)
        }
        ("DELETE", ["channels", cid, "messages", mid]) => {
            recall(inner, &app_id, &Scene::Channel { channel_id: (*cid).to_owned() }, mid)
        }
        ("DELETE", ["dms", gid, "messages", mid]) => {
            recall(inner, &app_id, &Scene::Dm { guild_id: (*gid).to_owned() }, mid)
        }
        ("PUT", ["interactions", id]) => {
            if inner.lock().interactions.contains(*id) {
                Reply::empty()
            } else {
                Reply::error(400, 630001, "interaction not found")
            }
        }
        _ => Reply::error(404, 404, "not found"),
    }
}

fn v2_scene(kind: &str, target: &str) -> Scene {
    if kind == "users" {
        Scene::C2c { openid: target.to_owned() }
    } else {
        Scene::Group { group_openid: target.to_owned() }
    }
}

/// Checks a passive reference (`msg_id` or `event_id`) and returns its key.
fn check_passive(
    inner: &Inner,
    st: &mut SimState,
    app_id: &str,
    scene: &Scene,
    msg: &MessageBody,
    seq: u32,
    now: Instant,
) -> Result<Option<(bool, String)>, Reply> {
    let c = &inner.config;
    let (window, limit) = match scene {
        Scene::C2c { .. } => (c.c2c_reply_window, c.c2c_replies_per_msg),
        Scene::Group { .. } => (c.group_reply_window, c.group_replies_per_msg),
        Scene::Channel { .. } | Scene::Dm { .. } => (c.group_reply_window, u32::MAX),
    };
    let consumes = msg.msg_type != MsgType::InputNotify || c.input_notify_consumes_reply;
    let check = |r: &Received, expired_code: u64, expired_msg: &str| -> Result<(), Reply> {
        if now.saturating_duration_since(r.at) > window {
            return Err(Reply::error(400, expired_code, expired_msg));
        }
        if r.seqs.contains(&seq) {
            return Err(Reply::error(400, 40054005, "消息被去重，请检查请求msgseq"));
        }
        if consumes && r.replies >= limit {
            return Err(Reply::error(400, 40034128, "被动回复超过次数或时间限制"));
        }
        Ok(())
    };
    if let Some(mid) = &msg.msg_id {
        let r = st
            .received_msgs
            .get(mid)
            .filter(|r| r.app_id == app_id && r.scene.as_ref() == Some(scene))
            .ok_or_else(|| Reply::error(400, 40034024, "请求参数msg_id无效或越权"))?;
        check(r, 40034005, "msg_id已过期")?;
        return Ok(Some((true, mid.clone())));
    }
    if let Some(eid) = &msg.event_id {
        let r = st
            .received_events
            .get(eid)
            .filter(|r| r.app_id == app_id)
            .ok_or_else(|| Reply::error(400, 40034025, "请求参数event_id无效或越权"))?;
        let Some(event_scene) = &r.scene else {
            return Err(Reply::error(400, 40034027, "该事件不支持被动回复"));
        };
        if event_scene != scene {
            return Err(Reply::error(400, 40034025, "请求参数event_id无效或越权"));
        }
        check(r, 40034026, "event_id已过期")?;
        return Ok(Some((false, eid.clone())));
    }
    // Proactive.
    let app = st.apps.get(app_id);
    let rejected = match scene {
        Scene::C2c { openid } => app.is_some_and(|a| a.rejected_users.contains(openid)),
        Scene::Group { group_openid } => {
            app.is_some_and(|a| a.rejected_groups.contains(group_openid))
        }
        _ => false,
    };
    if rejected {
        return Err(Reply::error(400, 40054013, "用户已拒收主动消息"));
    }
    if st.proactive == ProactivePolicy::Disabled {
        return Err(Reply::error(400, 40034102, "主动消息失败, 无权限"));
    }
    Ok(None)
}

/// Validates the body's content for its msg_type.
fn check_content(
    inner: &Inner,
    st: &SimState,
    app_id: &str,
    scene: &Scene,
    msg: &MessageBody,
    now: Instant,
) -> Result<(), Reply> {
    let c = &inner.config;
    let too_long = |s: &str| s.chars().count() > c.max_text_len;
    let is_c2c = matches!(scene, Scene::C2c { .. });
    match msg.msg_type {
        MsgType::Text => {
            let text = msg.content.as_deref().unwrap_or("");
            if text.trim().is_empty() {
                return Err(Reply::error(400, 50006, "消息为空"));
            }
        }
        MsgType::Markdown => {
            let markdown = st.apps.get(app_id).is_some_and(|a| a.app.markdown);
            if !markdown {
                return Err(Reply::error(400, 40034011, "没有markdown权限"));
            }
            let md = msg.markdown.as_ref();
            let has = md.is_some_and(|m| {
                m.content.as_deref().is_some_and(|t| !t.trim().is_empty())
                    || m.custom_template_id.is_some()
            });
            if !has {
                return Err(Reply::error(400, 50006, "消息为空"));
            }
            if md.and_then(|m| m.content.as_deref()).is_some_and(too_long) {
                return Err(Reply::error(400, 40054007, "消息过长"));
            }
        }
        MsgType::InputNotify if !is_c2c => {
            return Err(Reply::error(400, 40034106, "该场景不支持输入状态"));
        }
        MsgType::Media => {
            let group = match scene {
                Scene::C2c { .. } => false,
                Scene::Group { .. } => true,
                _ => return Err(Reply::error(400, 304080, "富媒体文件信息无效")),
            };
            let ok =
                msg.media.as_ref().and_then(|m| st.uploads.get(&m.file_info)).is_some_and(|u| {
                    u.app_id == app_id && u.group_scene == group && now < u.expires_at
                });
            if !ok {
                return Err(Reply::error(400, 304080, "富媒体文件信息无效"));
            }
        }
        _ => {}
    }
    if msg.content.as_deref().is_some_and(too_long) {
        return Err(Reply::error(400, 40054007, "消息过长"));
    }
    Ok(())
}

fn send_response(inner: &Inner) -> (String, Value) {
    let id = util::robot_msg_id();
    let now = util::unix_now();
    let timestamp =
        if inner.config.timestamp_as_int { json!(now) } else { json!(util::rfc3339_cst(now)) };
    let body = json!({"id": id, "timestamp": timestamp, "ext_info": {"ref_idx": util::ref_idx()}});
    (id, body)
}

fn send(inner: &Arc<Inner>, app_id: &str, scene: Scene, body: &Value) -> Reply {
    let now = Instant::now();
    let mut st = inner.lock();
    let qps = inner.config.message_qps;
    if !st.app_mut(app_id).is_some_and(|a| a.take_bucket("messages", qps, now)) {
        return Reply::error(429, 22009, "msg limit exceed").with_retry_after(Some(1));
    }
    if let Some(fail) = st.fail_sends.as_mut().filter(|f| f.remaining > 0) {
        fail.remaining -= 1;
        let (status, retry) = (fail.status, fail.retry_after);
        let (code, message) = if status == 429 {
            (22009, "msg limit exceed")
        } else {
            (2000004, "server internal error")
        };
        return Reply::error(status, code, message).with_retry_after(retry);
    }
    let msg: MessageBody = match serde_json::from_value(body.clone()) {
        Ok(m) => m,
        Err(e) => return Reply::error(400, 11255, &format!("invalid request: {e}")),
    };
    if let Scene::Group { group_openid } = &scene {
        if st.apps.get(app_id).is_some_and(|a| a.removed_groups.contains(group_openid)) {
            return Reply::error(400, 40034101, "机器人不在该群");
        }
    }
    if let Err(r) = check_content(inner, &st, app_id, &scene, &msg, now) {
        return r;
    }
    let seq = msg.msg_seq.unwrap_or(1);
    let passive = match check_passive(inner, &mut st, app_id, &scene, &msg, seq, now) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let consumes = msg.msg_type != MsgType::InputNotify || inner.config.input_notify_consumes_reply;
    if let Some((is_msg, key)) = &passive {
        let map = if *is_msg { &mut st.received_msgs } else { &mut st.received_events };
        if let Some(r) = map.get_mut(key) {
            r.seqs.insert(seq);
            if consumes {
                r.replies += 1;
            }
        }
    }
    let (id, response) = send_response(inner);
    record_send(&mut st, app_id, scene, body.clone(), &msg, seq, &id, now);
    Reply::ok(response)
}

#[allow(clippy::too_many_arguments)]
fn record_send(
    st: &mut SimState,
    app_id: &str,
    scene: Scene,
    body: Value,
    msg: &MessageBody,
    seq: u32,
    id: &str,
    now: Instant,
) {
    let target = scene.target().to_owned();
    st.sent_msgs.insert(
        id.to_owned(),
        SentMsg { app_id: app_id.to_owned(), scene: scene.clone(), at: now },
    );
    st.sends.push(RecordedSend {
        at: now,
        app_id: app_id.to_owned(),
        scene,
        target,
        body,
        msg_id: msg.msg_id.clone(),
        event_id: msg.event_id.clone(),
        msg_seq: seq,
        response_id: id.to_owned(),
    });
}

fn upload(inner: &Arc<Inner>, app_id: &str, scene: Scene, body: &Value) -> Reply {
    let now = Instant::now();
    let mut st = inner.lock();
    let qps = inner.config.file_qps;
    if !st.app_mut(app_id).is_some_and(|a| a.take_bucket("files", qps, now)) {
        return Reply::error(429, 22009, "upload limit exceed").with_retry_after(Some(1));
    }
    let req: MediaUpload = match serde_json::from_value(body.clone()) {
        Ok(m) => m,
        Err(e) => return Reply::error(400, 11255, &format!("invalid request: {e}")),
    };
    if let Scene::Group { group_openid } = &scene {
        if st.apps.get(app_id).is_some_and(|a| a.removed_groups.contains(group_openid)) {
            return Reply::error(400, 40034101, "机器人不在该群");
        }
    }
    match (&req.url, &req.file_data) {
        (_, Some(data)) => match base64::engine::general_purpose::STANDARD.decode(data) {
            Ok(bytes) if bytes.len() > inner.config.max_upload_bytes => {
                return Reply::error(400, 850031, "文件过大");
            }
            Ok(_) => {}
            Err(_) => return Reply::error(400, 11255, "file_data is not base64"),
        },
        (Some(url), None) if url.starts_with("http://") || url.starts_with("https://") => {}
        (Some(_), None) => return Reply::error(400, 850026, "文件下载失败"),
        (None, None) => return Reply::error(400, 11255, "url or file_data required"),
    }
    let group_scene = matches!(scene, Scene::Group { .. });
    let ttl = inner.config.upload_ttl;
    let file_info = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}:{}",
        if group_scene { "group" } else { "c2c" },
        app_id,
        util::uuid()
    ));
    st.uploads.insert(
        file_info.clone(),
        Upload { app_id: app_id.to_owned(), group_scene, expires_at: now + ttl },
    );
    let mut response = MediaUploadResponse {
        file_uuid: util::uuid(),
        file_info: file_info.clone(),
        ttl: ttl.as_secs(),
        id: None,
    };
    if req.srv_send_msg {
        let msg = MessageBody::media(file_info);
        let proactive = MessageBody { msg_id: None, event_id: None, ..msg };
        if let Err(r) = check_passive(inner, &mut st, app_id, &scene, &proactive, 1, now) {
            return r;
        }
        let (id, _) = send_response(inner);
        let body = serde_json::to_value(&proactive).unwrap_or(Value::Null);
        record_send(&mut st, app_id, scene, body, &proactive, 1, &id, now);
        response.id = Some(id);
        drop(st);
        inner.sends_notify.notify_waiters();
    }
    Reply::ok(json!(response))
}

fn recall(inner: &Arc<Inner>, app_id: &str, scene: &Scene, mid: &str) -> Reply {
    let st = inner.lock();
    match st.sent_msgs.get(mid).filter(|m| m.app_id == app_id && &m.scene == scene) {
        None => Reply::error(404, 40064001, "消息不存在"),
        Some(m) if Instant::now().saturating_duration_since(m.at).as_secs() > 120 => {
            Reply::error(400, 40064004, "消息已超过撤回时间")
        }
        Some(_) => Reply::empty(),
    }
}
