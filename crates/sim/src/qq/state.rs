//! The simulator's shared state: apps, tokens, sessions, connections, what the
//! apps received and sent, and the logs. One `std::sync::Mutex` guards it; no
//! lock is ever held across an `.await`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Duration;

use pincer_qq::model::Intents;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

use super::bind::BindTask;
use super::config::{FatalFlag, ProactivePolicy, QqSimConfig, SimApp};
use super::util;
use super::{Direction, Injected, RecordedFrame, RecordedRest, RecordedSend, Scene};

/// Capacity of a socket's writer channel. Dispatches are pushed with
/// `try_send` under the state lock; a client too slow to drain this many
/// frames has its socket aborted (its session stays resumable). Large, because
/// a resume replays the whole outage at once and a client reading at full
/// speed must not be dropped for it; tokio allocates the queue lazily.
pub(crate) const WRITER_CHANNEL: usize = 1 << 20;

/// What a socket's writer task is asked to do.
#[derive(Debug)]
pub(crate) enum Out {
    /// Send a JSON text frame.
    Frame(Value),
    /// Send a close frame with this code and reason, then stop.
    Close(u16, String),
    /// Drop the TCP connection without a close frame.
    Abort,
}

/// Everything shared between the API handle, the HTTP handlers and the socket tasks.
pub(crate) struct Inner {
    pub config: QqSimConfig,
    pub addr: std::net::SocketAddr,
    pub state: Mutex<State>,
    pub sends_notify: Notify,
    pub shutdown: Notify,
    pub started: Instant,
    pub next_conn: AtomicU64,
}

impl Inner {
    /// Locks the state. A poisoned lock (a panicking handler) is recovered:
    /// the simulator keeps serving so the test reports the real failure.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn gateway_url(&self) -> String {
        format!("ws://{}/websocket", self.addr)
    }
}

/// An access token and when it stops working.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub value: String,
    pub expires_at: Instant,
}

/// A token bucket.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// Takes one token; false when the bucket is empty.
    pub fn take(&mut self, rate: u32, now: Instant) -> bool {
        let rate = f64::from(rate.max(1));
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Per-app state.
#[derive(Debug)]
pub(crate) struct AppState {
    pub app: SimApp,
    pub token: Option<Token>,
    pub prev_token: Option<Token>,
    pub fatal: Option<FatalFlag>,
    pub revoked: Intents,
    pub ack_heartbeats: bool,
    pub identifies: u32,
    pub resumes: u32,
    pub connections: u32,
    pub last_session: Option<String>,
    pub session_starts: u32,
    pub recent_starts: VecDeque<Instant>,
    pub removed_groups: HashSet<String>,
    pub rejected_users: HashSet<String>,
    pub rejected_groups: HashSet<String>,
    pub pending: Vec<Pending>,
    pub buckets: HashMap<&'static str, Bucket>,
}

impl AppState {
    pub fn new(app: SimApp) -> Self {
        Self {
            app,
            token: None,
            prev_token: None,
            fatal: None,
            revoked: Intents::empty(),
            ack_heartbeats: true,
            identifies: 0,
            resumes: 0,
            connections: 0,
            last_session: None,
            session_starts: 0,
            recent_starts: VecDeque::new(),
            removed_groups: HashSet::new(),
            rejected_users: HashSet::new(),
            rejected_groups: HashSet::new(),
            pending: Vec::new(),
            buckets: HashMap::new(),
        }
    }

    /// Whether `token` is one of this app's live tokens.
    pub fn token_valid(&self, token: &str, now: Instant) -> bool {
        [&self.token, &self.prev_token]
            .into_iter()
            .flatten()
            .any(|t| t.value == token && now < t.expires_at)
    }

    /// Takes a token from the named bucket.
    pub fn take_bucket(&mut self, class: &'static str, rate: u32, now: Instant) -> bool {
        self.buckets
            .entry(class)
            .or_insert(Bucket { tokens: f64::from(rate.max(1)), last: now })
            .take(rate, now)
    }
}

/// An event waiting for a session of its shard.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub frame: Value,
    pub guild_id: Option<u64>,
    pub intent: Option<Intents>,
}

/// A gateway session.
#[derive(Debug)]
pub(crate) struct Session {
    pub id: String,
    pub app_id: String,
    pub shard: [u32; 2],
    pub intents: Intents,
    pub last_s: u64,
    /// Every dispatch of the session, `(s, frame)`, for replay on Resume.
    pub buffer: VecDeque<(u64, Value)>,
    pub conn: Option<u64>,
    pub disconnected_at: Option<Instant>,
}

impl Session {
    pub fn alive(&self, now: Instant, window: Duration) -> bool {
        match (self.conn, self.disconnected_at) {
            (Some(_), _) => true,
            (None, Some(at)) => now.saturating_duration_since(at) <= window,
            (None, None) => true,
        }
    }
}

/// A live gateway socket.
#[derive(Debug)]
pub(crate) struct ConnHandle {
    pub app_id: Option<String>,
    pub session_id: Option<String>,
    pub tx: mpsc::Sender<Out>,
}

/// Something the app received that a send can answer: a message (`msg_id`)
/// or an event (`event_id`).
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub app_id: String,
    pub scene: Option<Scene>,
    pub at: Instant,
    pub replies: u32,
    pub seqs: HashSet<u32>,
}

/// An upload's `file_info`.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub app_id: String,
    pub group_scene: bool,
    pub expires_at: Instant,
}

/// A message the bot sent, for recall.
#[derive(Debug, Clone)]
pub(crate) struct SentMsg {
    pub app_id: String,
    pub scene: Scene,
    pub at: Instant,
}

/// `fail_next_sends` injection.
#[derive(Debug, Clone)]
pub(crate) struct FailSends {
    pub remaining: u32,
    pub status: u16,
    pub retry_after: Option<u64>,
}

/// All mutable state.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub apps: HashMap<String, AppState>,
    /// Every token ever issued → its app (kept after expiry).
    pub tokens: HashMap<String, String>,
    pub sessions: HashMap<String, Session>,
    pub shard_sessions: HashMap<(String, u32), String>,
    /// Sessions ended by a 49xx close: resuming them gives 4902.
    pub stale_sessions: HashSet<String>,
    pub conns: HashMap<u64, ConnHandle>,
    pub sends: Vec<RecordedSend>,
    pub rest_log: Vec<RecordedRest>,
    pub gateway_log: Vec<RecordedFrame>,
    pub fail_sends: Option<FailSends>,
    pub duplicates: bool,
    pub proactive: ProactivePolicy,
    pub received_msgs: HashMap<String, Received>,
    pub received_events: HashMap<String, Received>,
    pub interactions: HashSet<String>,
    pub uploads: HashMap<String, Upload>,
    pub sent_msgs: HashMap<String, SentMsg>,
    pub bind_tasks: Vec<BindTask>,
    /// [`QqSimConfig::keep_logs`] was false: `log_frame` and the REST log skip.
    pub logs_off: bool,
}

/// The shard a guild event belongs to (spec §3.5).
pub(crate) fn guild_shard(guild_id: u64, count: u32) -> u32 {
    ((guild_id >> 22) % u64::from(count.max(1))) as u32
}

/// Whether a close with this code leaves the session resumable.
pub(crate) fn close_keeps_session(code: u16) -> bool {
    matches!(code, 1000..=3999 | 4000 | 4008 | 4009)
}

/// Event types that carry a `msg_id` (`d.id`) and the scene they come from.
fn message_scene(kind: &str, d: &Value) -> Option<Scene> {
    let s = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_owned);
    let a =
        |k: &str| d.get("author").and_then(|a| a.get(k)).and_then(Value::as_str).map(str::to_owned);
    match kind {
        "C2C_MESSAGE_CREATE" => a("user_openid").map(|openid| Scene::C2c { openid }),
        "GROUP_AT_MESSAGE_CREATE" | "GROUP_MESSAGE_CREATE" => {
            s("group_openid").map(|group_openid| Scene::Group { group_openid })
        }
        "AT_MESSAGE_CREATE" | "MESSAGE_CREATE" => {
            s("channel_id").map(|channel_id| Scene::Channel { channel_id })
        }
        "DIRECT_MESSAGE_CREATE" => s("guild_id").map(|guild_id| Scene::Dm { guild_id }),
        _ => None,
    }
}

/// Whether the event kind carries a `d.id` message id.
pub(crate) fn is_message_kind(kind: &str) -> bool {
    matches!(
        kind,
        "C2C_MESSAGE_CREATE"
            | "GROUP_AT_MESSAGE_CREATE"
            | "GROUP_MESSAGE_CREATE"
            | "AT_MESSAGE_CREATE"
            | "MESSAGE_CREATE"
            | "DIRECT_MESSAGE_CREATE"
    )
}

/// The scene an `event_id` of this event can answer (spec §9 item 24), or
/// `None` when the event is not replyable.
pub(crate) fn event_reply_scene(kind: &str, d: &Value) -> Option<Scene> {
    let s = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_owned);
    match kind {
        "FRIEND_ADD" | "C2C_MSG_RECEIVE" => s("openid").map(|openid| Scene::C2c { openid }),
        "GROUP_ADD_ROBOT" | "GROUP_MSG_RECEIVE" => {
            s("group_openid").map(|group_openid| Scene::Group { group_openid })
        }
        "INTERACTION_CREATE" => match d.get("scene").and_then(Value::as_str) {
            Some("c2c") => s("user_openid").map(|openid| Scene::C2c { openid }),
            Some("group") => s("group_openid").map(|group_openid| Scene::Group { group_openid }),
            _ => s("channel_id").map(|channel_id| Scene::Channel { channel_id }),
        },
        _ => None,
    }
}

/// The numeric guild id of a guild-scoped event, used for shard routing.
fn routing_guild(kind: &str, d: &Value) -> Option<u64> {
    let intent = Intents::for_event(kind);
    if intent == Some(Intents::GROUP_AND_C2C_EVENT) {
        return None;
    }
    if kind == "INTERACTION_CREATE" && d.get("scene").and_then(Value::as_str) != Some("guild") {
        return None;
    }
    match d.get("guild_id")? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

impl State {
    /// The app, if registered.
    pub fn app_mut(&mut self, app_id: &str) -> Option<&mut AppState> {
        self.apps.get_mut(app_id)
    }

    /// Appends a gateway log entry.
    pub fn log_frame(
        &mut self,
        conn: u64,
        direction: Direction,
        frame: Value,
        close_code: Option<u16>,
    ) {
        if self.logs_off {
            return;
        }
        let app_id = self.conns.get(&conn).and_then(|c| c.app_id.clone()).unwrap_or_default();
        self.gateway_log.push(RecordedFrame {
            at: Instant::now(),
            app_id,
            connection: conn,
            direction,
            frame,
            close_code,
        });
    }

    /// Sends to a connection; a full channel aborts the socket.
    pub fn push(&mut self, conn: u64, out: Out) {
        if let Some(c) = self.conns.get(&conn) {
            if let Err(mpsc::error::TrySendError::Full(_)) = c.tx.try_send(out) {
                tracing::warn!(conn, "writer channel full; aborting the socket");
                let tx = c.tx.clone();
                tokio::spawn(async move {
                    let _ = tx.send(Out::Abort).await;
                });
            }
        }
    }

    /// Connection ids of an app's open sockets.
    pub fn app_conns(&self, app_id: &str) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.app_id.as_deref() == Some(app_id))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Forgets a session (not resumable any more).
    pub fn drop_session(&mut self, session_id: &str) {
        if let Some(s) = self.sessions.remove(session_id) {
            let key = (s.app_id.clone(), s.shard[0]);
            if self.shard_sessions.get(&key).map(String::as_str) == Some(session_id) {
                self.shard_sessions.remove(&key);
            }
        }
    }

    /// Drops the app's sessions that are past the resume window.
    fn expire_sessions(&mut self, now: Instant, window: Duration) {
        let dead: Vec<String> = self
            .sessions
            .values()
            .filter(|s| !s.alive(now, window))
            .map(|s| s.id.clone())
            .collect();
        for id in dead {
            self.drop_session(&id);
        }
    }

    /// Appends a dispatch to a session and sends it if a socket is attached.
    /// Returns its `s`.
    pub fn dispatch_to_session(&mut self, session_id: &str, kind: &str, id: &str, d: Value) -> u64 {
        let Some(sess) = self.sessions.get_mut(session_id) else { return 0 };
        sess.last_s += 1;
        let s = sess.last_s;
        let frame = json!({"op": 0, "s": s, "t": kind, "id": id, "d": d});
        sess.buffer.push_back((s, frame.clone()));
        if let Some(conn) = sess.conn {
            self.push(conn, Out::Frame(frame));
        }
        s
    }

    /// Routes one event of an app to the session of its shard (or queues it),
    /// filtered by intents. Returns `(s, envelope id)`; `s` is 0 when the
    /// event was queued or filtered out.
    pub fn route_event(
        &mut self,
        config: &QqSimConfig,
        app_id: &str,
        kind: &str,
        d: &Value,
    ) -> (u64, String) {
        let now = Instant::now();
        let event_id = format!("{kind}:{}", util::uuid());
        self.expire_sessions(now, config.resume_window);
        let intent = Intents::for_event(kind);
        let revoked = match self.apps.get(app_id) {
            Some(a) => a.revoked,
            None => return (0, event_id),
        };
        if intent.is_some_and(|i| revoked.intersects(i)) {
            return (0, event_id);
        }
        let guild = routing_guild(kind, d);
        let target = self
            .sessions
            .values()
            .filter(|s| s.app_id == app_id)
            .filter(|s| match guild {
                Some(g) => guild_shard(g, s.shard[1]) == s.shard[0],
                None => s.shard[0] == 0,
            })
            .min_by_key(|s| s.shard[0])
            .map(|s| (s.id.clone(), s.intents));
        match target {
            Some((sid, intents)) => {
                if intent.is_some_and(|i| !intents.intersects(i)) {
                    return (0, event_id);
                }
                let s = self.dispatch_to_session(&sid, kind, &event_id, d.clone());
                (s, event_id)
            }
            None => {
                if config.queue_events_without_session {
                    let frame = json!({"op": 0, "t": kind, "id": event_id, "d": d});
                    if let Some(app) = self.apps.get_mut(app_id) {
                        app.pending.push(Pending { frame, guild_id: guild, intent });
                    }
                }
                (0, event_id)
            }
        }
    }

    /// Delivers queued events to a fresh session of their shard.
    pub fn deliver_pending(&mut self, session_id: &str) {
        let Some(sess) = self.sessions.get(session_id) else { return };
        let (app_id, shard, intents) = (sess.app_id.clone(), sess.shard, sess.intents);
        let Some(app) = self.apps.get_mut(&app_id) else { return };
        let revoked = app.revoked;
        let (mine, rest): (Vec<Pending>, Vec<Pending>) =
            std::mem::take(&mut app.pending).into_iter().partition(|p| match p.guild_id {
                Some(g) => guild_shard(g, shard[1]) == shard[0],
                None => shard[0] == 0,
            });
        app.pending = rest;
        for p in mine {
            if p.intent.is_some_and(|i| !intents.intersects(i) || revoked.intersects(i)) {
                continue;
            }
            let kind = p.frame["t"].as_str().unwrap_or_default().to_owned();
            let id = p.frame["id"].as_str().unwrap_or_default().to_owned();
            self.dispatch_to_session(session_id, &kind, &id, p.frame["d"].clone());
        }
    }

    /// Injects an event: records what it lets the app answer, applies its side
    /// effects (GROUP_DEL_ROBOT, C2C_MSG_REJECT, …) and dispatches it (twice
    /// when duplicate deliveries are on).
    pub fn inject(&mut self, config: &QqSimConfig, app_id: &str, kind: &str, d: Value) -> Injected {
        let now = Instant::now();
        let msg_id = if is_message_kind(kind) {
            d.get("id").and_then(Value::as_str).map(str::to_owned)
        } else {
            None
        };
        if let Some(mid) = &msg_id {
            self.received_msgs.insert(
                mid.clone(),
                Received {
                    app_id: app_id.to_owned(),
                    scene: message_scene(kind, &d),
                    at: now,
                    replies: 0,
                    seqs: HashSet::new(),
                },
            );
        }
        self.side_effects(app_id, kind, &d);
        let times = if self.duplicates && msg_id.is_some() { 2 } else { 1 };
        let mut first: Option<(u64, String)> = None;
        for _ in 0..times {
            let (s, event_id) = self.route_event(config, app_id, kind, &d);
            self.received_events.insert(
                event_id.clone(),
                Received {
                    app_id: app_id.to_owned(),
                    scene: event_reply_scene(kind, &d),
                    at: now,
                    replies: 0,
                    seqs: HashSet::new(),
                },
            );
            first.get_or_insert((s, event_id));
        }
        let (seq, event_id) = first.unwrap_or_default();
        Injected { msg_id, event_id, seq }
    }

    fn side_effects(&mut self, app_id: &str, kind: &str, d: &Value) {
        let s = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_owned);
        if kind == "INTERACTION_CREATE" {
            if let Some(id) = s("id") {
                self.interactions.insert(id);
            }
        }
        let Some(app) = self.apps.get_mut(app_id) else { return };
        match kind {
            "GROUP_DEL_ROBOT" => {
                if let Some(g) = s("group_openid") {
                    app.removed_groups.insert(g);
                }
            }
            "GROUP_ADD_ROBOT" => {
                if let Some(g) = s("group_openid") {
                    app.removed_groups.remove(&g);
                }
            }
            "GROUP_MSG_REJECT" => {
                if let Some(g) = s("group_openid") {
                    app.rejected_groups.insert(g);
                }
            }
            "GROUP_MSG_RECEIVE" => {
                if let Some(g) = s("group_openid") {
                    app.rejected_groups.remove(&g);
                }
            }
            "C2C_MSG_REJECT" => {
                if let Some(u) = s("openid") {
                    app.rejected_users.insert(u);
                }
            }
            "C2C_MSG_RECEIVE" => {
                if let Some(u) = s("openid") {
                    app.rejected_users.remove(&u);
                }
            }
            _ => {}
        }
    }
}
