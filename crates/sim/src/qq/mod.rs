//! A QQ Open Platform simulator (spec `qq-bot-protocol.md` §9 and §12).
//!
//! One HTTP listener serves everything:
//!
//! | path | what |
//! |---|---|
//! | `POST /app/getAppAccessToken` | token endpoint ([`QqSim::token_url`]) |
//! | `GET /gateway`, `/gateway/bot`, `/users/@me`, `/v2/…`, `/channels/…`, `/dms/…`, `/interactions/…` | REST ([`QqSim::api_base`]) |
//! | `GET /websocket` | gateway ([`QqSim::gateway_url`]) |
//! | `POST /lite/create_bind_task`, `/lite/poll_bind_result` | QR binding ([`QqSim::bind_base`]) |
//! | `/_sim/…` | control API for out-of-process tests (see [`control`]) |
//!
//! Tests drive faults and inject events through [`QqSim`] and observe what
//! the client did through [`QqSim::sends`], [`QqSim::rest_log`] and
//! [`QqSim::gateway_log`]. All timers use tokio's clock.

mod bind;
mod config;
pub mod control;
mod gateway;
mod rest;
mod state;
mod token;
mod util;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::{any, get};
use axum::Router;
use pincer_qq::model::Intents;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio::time::Instant;

pub use config::{FatalFlag, InvalidResumeMode, ProactivePolicy, QqSimConfig, SimApp};

use bind::BindStatus;
use state::{AppState, FailSends, Inner, Out, State};

/// Where a send went.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scene {
    /// `POST /v2/users/{openid}/messages`.
    C2c {
        /// The user's openid.
        openid: String,
    },
    /// `POST /v2/groups/{group_openid}/messages`.
    Group {
        /// The group's openid.
        group_openid: String,
    },
    /// `POST /channels/{channel_id}/messages`.
    Channel {
        /// The channel id.
        channel_id: String,
    },
    /// `POST /dms/{guild_id}/messages`.
    Dm {
        /// The DM session's guild id.
        guild_id: String,
    },
}

impl Scene {
    /// The id in the send's path.
    pub fn target(&self) -> &str {
        match self {
            Scene::C2c { openid } => openid,
            Scene::Group { group_openid } => group_openid,
            Scene::Channel { channel_id } => channel_id,
            Scene::Dm { guild_id } => guild_id,
        }
    }
}

/// What an injection dispatched.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Injected {
    /// `d.id` of a message event (the `msg_id` for passive replies).
    pub msg_id: Option<String>,
    /// The envelope `id` (the `event_id` for passive replies).
    pub event_id: String,
    /// The `s` it got; 0 when it was not dispatched to a session (queued for
    /// the next READY, or filtered out by intents).
    pub seq: u64,
}

/// A message send the simulator accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedSend {
    /// When (tokio clock).
    pub at: Instant,
    /// Sending app.
    pub app_id: String,
    /// Where to.
    pub scene: Scene,
    /// The id in the path (same as `scene.target()`).
    pub target: String,
    /// The request body as sent.
    pub body: Value,
    /// `msg_id` of a passive reply.
    pub msg_id: Option<String>,
    /// `event_id` of a passive reply.
    pub event_id: Option<String>,
    /// `msg_seq` (1 when absent).
    pub msg_seq: u32,
    /// `id` of the response.
    pub response_id: String,
}

/// One REST request, accepted or not.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRest {
    /// When (tokio clock).
    pub at: Instant,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Response status.
    pub status: u16,
    /// Request body (`null` when empty; a string when not JSON).
    pub body: Value,
    /// Response body (`null` when empty).
    pub response: Value,
}

/// Which way a gateway frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Server → client.
    ToClient,
    /// Client → server.
    ToServer,
}

/// One gateway frame. Close frames have `close_code` set and `frame`
/// `{"code","reason"}`; an abort (TCP drop without close frame) is logged as
/// `close_code` 1006 with `frame` `{"abort":true}`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedFrame {
    /// When (tokio clock).
    pub at: Instant,
    /// The app the socket authenticated as; empty while unknown (filled in
    /// retroactively once Identify/Resume names the app).
    pub app_id: String,
    /// Socket number, from 1.
    pub connection: u64,
    /// Direction.
    pub direction: Direction,
    /// The JSON frame (a string for a text frame that was not JSON).
    pub frame: Value,
    /// Close code of a close frame.
    pub close_code: Option<u16>,
}

/// A running QQ simulator. Cheap to clone; all clones share the server.
#[derive(Clone)]
pub struct QqSim {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for QqSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QqSim").field("addr", &self.inner.addr).finish_non_exhaustive()
    }
}

impl QqSim {
    /// Starts on `127.0.0.1` with a free port.
    pub async fn start(config: QqSimConfig) -> std::io::Result<QqSim> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts on `addr`.
    pub async fn start_on(addr: SocketAddr, config: QqSimConfig) -> std::io::Result<QqSim> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = State { logs_off: !config.keep_logs, ..State::default() };
        let inner = Arc::new(Inner {
            config,
            addr,
            state: Mutex::new(state),
            sends_notify: Notify::new(),
            shutdown: Notify::new(),
            started: Instant::now(),
            next_conn: AtomicU64::new(0),
        });
        let sim = QqSim { inner: inner.clone() };
        let router = Router::new()
            .route("/websocket", get(gateway::ws_handler))
            .route("/websocket/", get(gateway::ws_handler))
            .with_state(inner.clone())
            .merge(control::router(sim.clone()))
            .fallback(any(rest::dispatch).with_state(inner.clone()));
        let stop = inner.clone();
        tokio::spawn(async move {
            // No Nagle: a small frame or response must not wait for the peer's
            // delayed ACK (~40 ms), which would be charged to the client under test.
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.shutdown.notified().await })
                .await;
            if let Err(e) = served {
                tracing::warn!("qq simulator stopped: {e}");
            }
        });
        tracing::debug!(%addr, "qq simulator listening");
        Ok(sim)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// REST base, `http://127.0.0.1:PORT`.
    pub fn api_base(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// `http://127.0.0.1:PORT/app/getAppAccessToken`.
    pub fn token_url(&self) -> String {
        format!("http://{}/app/getAppAccessToken", self.inner.addr)
    }

    /// Base of the QR binding endpoints, `http://127.0.0.1:PORT`.
    pub fn bind_base(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// `ws://127.0.0.1:PORT/websocket`.
    pub fn gateway_url(&self) -> String {
        self.inner.gateway_url()
    }

    /// The configuration in use.
    pub fn config(&self) -> &QqSimConfig {
        &self.inner.config
    }

    /// Registers (or replaces the credentials and grants of) an app.
    pub fn add_app(&self, app: SimApp) {
        let mut st = self.inner.lock();
        match st.apps.get_mut(&app.app_id) {
            Some(existing) => existing.app = app,
            None => {
                st.apps.insert(app.app_id.clone(), AppState::new(app));
            }
        }
    }

    /// Stops listening and aborts every open socket.
    pub fn shutdown(&self) {
        self.inner.shutdown.notify_one();
        self.inner.shutdown.notify_waiters();
        let mut st = self.inner.lock();
        let ids: Vec<u64> = st.conns.keys().copied().collect();
        for id in ids {
            st.push(id, Out::Abort);
        }
    }

    fn for_app_conns(&self, app_id: &str, mut f: impl FnMut(&mut State, u64)) {
        let mut st = self.inner.lock();
        for id in st.app_conns(app_id) {
            f(&mut st, id);
        }
    }

    fn conn_tx(st: &State, conn: u64) -> Option<tokio::sync::mpsc::Sender<Out>> {
        st.conns.get(&conn).map(|c| c.tx.clone())
    }

    // ---- fault injection ----

    /// Sends op 7 on every socket of the app, then closes them with 4009
    /// after [`QqSimConfig::reconnect_close_delay`].
    pub fn send_reconnect(&self, app_id: &str) {
        let delay = self.inner.config.reconnect_close_delay;
        self.for_app_conns(app_id, |st, id| {
            st.push(id, Out::Frame(json!({"op": 7})));
            if let Some(tx) = Self::conn_tx(st, id) {
                gateway::close_later(tx, delay, 4009, "reconnect");
            }
        });
    }

    /// Closes every socket of the app with `code`. The session survives
    /// 1000–3999, 4000, 4008 and 4009 and is dropped otherwise. 1005/1006/1015
    /// cannot be sent on the wire and abort the socket instead.
    pub fn close_sockets(&self, app_id: &str, code: u16) {
        self.for_app_conns(app_id, |st, id| {
            let out = if matches!(code, 1005 | 1006 | 1015) {
                Out::Abort
            } else {
                Out::Close(code, "closed by test".to_owned())
            };
            st.push(id, out);
        });
    }

    /// Drops every socket of the app without a close frame; sessions stay resumable.
    pub fn drop_sockets(&self, app_id: &str) {
        self.for_app_conns(app_id, |st, id| st.push(id, Out::Abort));
    }

    /// Sends `{"op":9,"d":resumable}` on every socket of the app; drops the
    /// session unless `resumable`; closes after [`QqSimConfig::op9_close_delay`]
    /// (4009 when resumable, else 4006).
    pub fn invalid_session(&self, app_id: &str, resumable: bool) {
        let delay = self.inner.config.op9_close_delay;
        self.for_app_conns(app_id, |st, id| {
            st.push(id, Out::Frame(json!({"op": 9, "d": resumable})));
            if !resumable {
                let sid = st.conns.get_mut(&id).and_then(|c| c.session_id.take());
                if let Some(sid) = sid {
                    st.drop_session(&sid);
                }
            }
            if let Some(tx) = Self::conn_tx(st, id) {
                let (code, reason) =
                    if resumable { (4009, "invalid session") } else { (4006, "invalid session") };
                gateway::close_later(tx, delay, code, reason);
            }
        });
    }

    /// `false`: heartbeats of the app's sockets are no longer answered with
    /// op 11 (a zombie connection); the heartbeat timeout still runs on
    /// received heartbeats, so nothing closes the socket.
    pub fn set_ack_heartbeats(&self, app_id: &str, ack: bool) {
        if let Some(app) = self.inner.lock().app_mut(app_id) {
            app.ack_heartbeats = ack;
        }
    }

    /// Sends `{"op":1,"d":<last s>}` on every socket of the app; the client
    /// must answer with op 1.
    pub fn send_server_heartbeat(&self, app_id: &str) {
        self.for_app_conns(app_id, |st, id| {
            let last = st
                .conns
                .get(&id)
                .and_then(|c| c.session_id.as_ref())
                .and_then(|s| st.sessions.get(s))
                .map(|s| s.last_s);
            st.push(id, Out::Frame(json!({"op": 1, "d": last})));
        });
    }

    /// Invalidates the app's access tokens now: REST answers 401/11244 and
    /// Identify/Resume close 4004 until the client fetches a new token. Open
    /// sockets are left alone.
    pub fn expire_token(&self, app_id: &str) {
        let now = Instant::now();
        if let Some(app) = self.inner.lock().app_mut(app_id) {
            if let Some(t) = app.token.as_mut() {
                t.expires_at = now;
            }
            app.prev_token = None;
        }
    }

    /// Sets or clears a fatal flag. While set, every Identify/Resume closes
    /// with 4914 (delisted) or 4915 (banned), and open sockets are closed with
    /// that code at once; banned apps also get REST 11265.
    pub fn set_fatal(&self, app_id: &str, fatal: Option<FatalFlag>) {
        if let Some(app) = self.inner.lock().app_mut(app_id) {
            app.fatal = fatal;
        }
        if let Some(flag) = fatal {
            let code = match flag {
                FatalFlag::Delisted => 4914,
                FatalFlag::Banned => 4915,
            };
            self.for_app_conns(app_id, |st, id| {
                st.push(id, Out::Close(code, "fatal".to_owned()));
            });
        }
    }

    /// Revokes intents: their events silently stop, and the next Identify
    /// asking for them closes with 4014.
    pub fn revoke_intents(&self, app_id: &str, intents: Intents) {
        if let Some(app) = self.inner.lock().app_mut(app_id) {
            app.revoked |= intents;
        }
    }

    /// Grants revoked intents back.
    pub fn restore_intents(&self, app_id: &str, intents: Intents) {
        if let Some(app) = self.inner.lock().app_mut(app_id) {
            app.revoked -= intents;
        }
    }

    /// The next `n` message sends (any app) fail with `status` (429 → code
    /// 22009, else 2000004) and a `Retry-After` header when given. They are
    /// not recorded as delivered.
    pub fn fail_next_sends(&self, n: u32, status: u16, retry_after_secs: Option<u64>) {
        self.inner.lock().fail_sends =
            Some(FailSends { remaining: n, status, retry_after: retry_after_secs });
    }

    /// Each injected message is dispatched twice (same `d.id`, new `s` and envelope id).
    pub fn set_duplicate_deliveries(&self, on: bool) {
        self.inner.lock().duplicates = on;
    }

    /// Whether sends without `msg_id`/`event_id` are accepted.
    pub fn set_proactive(&self, policy: ProactivePolicy) {
        self.inner.lock().proactive = policy;
    }

    /// Makes room in the simulator's records for `messages` more injected
    /// messages and their replies, so a load run's measurements do not
    /// include the simulator growing its tables: doubling a table of
    /// thousands of entries holds the state lock for milliseconds, and every
    /// message then in flight waits for it.
    pub fn reserve_messages(&self, messages: usize) {
        let mut st = self.inner.lock();
        st.received_msgs.reserve(messages);
        st.received_events.reserve(messages);
        st.sent_msgs.reserve(messages);
        st.sends.reserve(messages);
    }

    // ---- injection ----

    /// Injects a C2C_MESSAGE_CREATE from `user_openid` (spec §5 shape).
    pub fn inject_c2c_message(&self, app_id: &str, user_openid: &str, content: &str) -> Injected {
        let d = json!({
            "id": util::robot_msg_id(),
            "content": content,
            "timestamp": util::rfc3339_cst(util::unix_now()),
            "author": {
                "id": user_openid,
                "user_openid": user_openid,
                "union_openid": format!("UNION_{user_openid}"),
            },
            "message_scene": {"source": "default", "ext": [format!("msg_idx={}", util::ref_idx())]},
            "message_type": 0,
        });
        self.inject_event(app_id, "C2C_MESSAGE_CREATE", d)
    }

    /// Injects a GROUP_AT_MESSAGE_CREATE (spec §5 shape). Like the platform,
    /// the content gets a leading space where the @bot was stripped.
    pub fn inject_group_at_message(
        &self,
        app_id: &str,
        group_openid: &str,
        member_openid: &str,
        content: &str,
    ) -> Injected {
        let content =
            if content.starts_with(' ') { content.to_owned() } else { format!(" {content}") };
        let d = json!({
            "id": util::robot_msg_id(),
            "content": content,
            "timestamp": util::rfc3339_cst(util::unix_now()),
            "author": {
                "id": member_openid,
                "member_openid": member_openid,
                "union_openid": format!("UNION_{member_openid}"),
            },
            "group_id": group_openid,
            "group_openid": group_openid,
            "message_scene": {"source": "default"},
            "message_type": 0,
        });
        self.inject_event(app_id, "GROUP_AT_MESSAGE_CREATE", d)
    }

    /// Injects any event type with payload `d`. Message kinds without `d.id`
    /// get a `ROBOT1.0_…` id; INTERACTION_CREATE without `d.id` gets one.
    /// GROUP_DEL_ROBOT / GROUP_ADD_ROBOT, C2C_MSG_REJECT / C2C_MSG_RECEIVE and
    /// GROUP_MSG_REJECT / GROUP_MSG_RECEIVE change what sends are allowed.
    pub fn inject_event(&self, app_id: &str, kind: &str, mut d: Value) -> Injected {
        if let Some(obj) = d.as_object_mut() {
            if state::is_message_kind(kind) {
                obj.entry("id").or_insert_with(|| json!(util::robot_msg_id()));
            } else if kind == "INTERACTION_CREATE" {
                obj.entry("id").or_insert_with(|| json!(util::uuid()));
            }
        }
        let mut st = self.inner.lock();
        st.inject(&self.inner.config, app_id, kind, d)
    }

    // ---- observation ----

    /// Every accepted message send, in order.
    pub fn sends(&self) -> Vec<RecordedSend> {
        self.inner.lock().sends.clone()
    }

    /// The accepted message sends from index `from` on (`sends()[from..]`),
    /// without copying the earlier ones: a poller keeps its own cursor.
    pub fn sends_since(&self, from: usize) -> Vec<RecordedSend> {
        let st = self.inner.lock();
        st.sends.get(from..).map(<[RecordedSend]>::to_vec).unwrap_or_default()
    }

    /// How many message sends were accepted so far.
    pub fn send_count(&self) -> usize {
        self.inner.lock().sends.len()
    }

    /// Every REST request (token, REST, binding), including rejected ones.
    pub fn rest_log(&self) -> Vec<RecordedRest> {
        self.inner.lock().rest_log.clone()
    }

    /// Every gateway frame in both directions, closes and aborts included.
    pub fn gateway_log(&self) -> Vec<RecordedFrame> {
        self.inner.lock().gateway_log.clone()
    }

    /// Waits until at least `n` sends were accepted, or `timeout` passed
    /// (tokio clock); returns the sends so far either way.
    pub async fn wait_for_sends(&self, n: usize, timeout: Duration) -> Vec<RecordedSend> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.inner.sends_notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let st = self.inner.lock();
                if st.sends.len() >= n {
                    return st.sends.clone();
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.sends();
            }
        }
    }

    fn app_counter(&self, app_id: &str, f: impl Fn(&AppState) -> u32) -> u32 {
        self.inner.lock().apps.get(app_id).map(f).unwrap_or(0)
    }

    /// Identify frames received for the app (accepted or not).
    pub fn identifies(&self, app_id: &str) -> u32 {
        self.app_counter(app_id, |a| a.identifies)
    }

    /// Resume frames received for the app (accepted or not).
    pub fn resumes(&self, app_id: &str) -> u32 {
        self.app_counter(app_id, |a| a.resumes)
    }

    /// Sockets that sent Identify/Resume with one of the app's tokens.
    pub fn connections(&self, app_id: &str) -> u32 {
        self.app_counter(app_id, |a| a.connections)
    }

    /// Sockets of the app open right now.
    pub fn open_connections(&self, app_id: &str) -> usize {
        self.inner.lock().app_conns(app_id).len()
    }

    /// The app's current (or last) session id.
    pub fn session_id(&self, app_id: &str) -> Option<String> {
        self.inner.lock().apps.get(app_id).and_then(|a| a.last_session.clone())
    }

    /// The last `s` of a session, if it still exists.
    pub fn session_seq(&self, session_id: &str) -> Option<u64> {
        self.inner.lock().sessions.get(session_id).map(|s| s.last_s)
    }

    /// Fetches a token for the app exactly as `POST /app/getAppAccessToken`
    /// with the right secret would (same token until its last 60 s).
    pub fn issue_token(&self, app_id: &str) -> Option<String> {
        let mut st = self.inner.lock();
        let secret = st.apps.get(app_id)?.app.secret.clone();
        let body = json!({"appId": app_id, "clientSecret": secret});
        let answer = token::get_app_access_token(&mut st, self.inner.config.token_ttl, &body);
        answer.get("access_token").and_then(Value::as_str).map(str::to_owned)
    }

    /// The app's current access token, if one was issued.
    pub fn current_token(&self, app_id: &str) -> Option<String> {
        self.inner.lock().apps.get(app_id).and_then(|a| a.token.as_ref().map(|t| t.value.clone()))
    }

    // ---- QR binding ----

    /// Bind task ids, oldest first.
    pub fn bind_tasks(&self) -> Vec<String> {
        self.inner.lock().bind_tasks.iter().map(|t| t.id.clone()).collect()
    }

    /// The user scanned the QR code: status 0 → 1.
    pub fn bind_scan(&self, task_id: &str) -> bool {
        bind::transition(&self.inner, task_id, &[BindStatus::Waiting], BindStatus::Scanned, None)
    }

    /// The user confirmed: status → 2 with the app's credentials; the app is
    /// registered so its token works.
    pub fn bind_confirm(&self, task_id: &str, app: SimApp, user_openid: &str) -> bool {
        let from = [BindStatus::Waiting, BindStatus::Scanned];
        let ok = bind::transition(
            &self.inner,
            task_id,
            &from,
            BindStatus::Done,
            Some((&app, user_openid)),
        );
        if ok {
            self.add_app(app);
        }
        ok
    }

    /// The task expired: status → 3.
    pub fn bind_expire(&self, task_id: &str) -> bool {
        let from = [BindStatus::Waiting, BindStatus::Scanned];
        bind::transition(&self.inner, task_id, &from, BindStatus::Expired, None)
    }
}
