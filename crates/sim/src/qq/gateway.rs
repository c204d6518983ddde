//! The WebSocket gateway (spec §3, §9 items 5–20).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use pincer_qq::model::{GatewayFrame, Identify, Intents, OpCode, Resume};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, Instant};

use super::config::{FatalFlag, InvalidResumeMode};
use super::state::WRITER_CHANNEL;
use super::state::{close_keeps_session, ConnHandle, Inner, Out, Session, State as SimState};
use super::token::{gateway_token_app, gateway_token_valid};
use super::util;
use super::Direction;

/// How a socket ended.
#[derive(Debug, Clone, Copy)]
enum End {
    /// The server sent a close frame with this code.
    ServerClosed(u16),
    /// The server dropped the TCP connection without a close frame.
    Aborted,
    /// The client sent a close frame (code, if any).
    ClientClosed,
    /// The connection failed or the client vanished.
    Gone,
}

/// `GET /websocket`: upgrades and runs the socket.
pub(crate) async fn ws_handler(State(inner): State<Arc<Inner>>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(16 << 20).on_upgrade(move |socket| run_socket(inner, socket))
}

/// Sends `out` to the socket after `delay` (op 7 → 4009, op 9 → close).
pub(crate) fn close_later(tx: mpsc::Sender<Out>, delay: Duration, code: u16, reason: &'static str) {
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let _ = tx.send(Out::Close(code, reason.to_owned())).await;
    });
}

async fn writer_task(
    inner: Arc<Inner>,
    conn: u64,
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Out>,
    done: oneshot::Sender<End>,
) {
    let end = loop {
        match rx.recv().await {
            None => break End::Gone,
            Some(Out::Frame(v)) => {
                if sink.send(Message::Text(v.to_string().into())).await.is_err() {
                    break End::Gone;
                }
                inner.lock().log_frame(conn, Direction::ToClient, v, None);
            }
            Some(Out::Close(code, reason)) => {
                let frame = CloseFrame { code, reason: reason.clone().into() };
                let _ = sink.send(Message::Close(Some(frame))).await;
                inner.lock().log_frame(
                    conn,
                    Direction::ToClient,
                    json!({"code": code, "reason": reason}),
                    Some(code),
                );
                break End::ServerClosed(code);
            }
            Some(Out::Abort) => {
                inner.lock().log_frame(
                    conn,
                    Direction::ToClient,
                    json!({"abort": true}),
                    Some(1006),
                );
                break End::Aborted;
            }
        }
    };
    let _ = done.send(end);
}

/// Per-socket state of the reader.
struct Conn {
    inner: Arc<Inner>,
    id: u64,
    tx: mpsc::Sender<Out>,
    authed: bool,
    counted_for: Option<String>,
    closing: bool,
    overflow: bool,
    hb_deadline: Instant,
    rotate_at: Option<Instant>,
}

async fn run_socket(inner: Arc<Inner>, socket: WebSocket) {
    let id = inner.next_conn.fetch_add(1, Ordering::Relaxed) + 1;
    let (sink, mut stream) = socket.split();
    let (tx, rx) = mpsc::channel(WRITER_CHANNEL);
    let (done_tx, mut done_rx) = oneshot::channel();
    inner.lock().conns.insert(id, ConnHandle { app_id: None, session_id: None, tx: tx.clone() });
    let writer = tokio::spawn(writer_task(inner.clone(), id, sink, rx, done_tx));
    let interval = inner.config.heartbeat_interval;
    let _ = tx.try_send(Out::Frame(
        json!({"op": 10, "d": {"heartbeat_interval": interval.as_millis() as u64}}),
    ));
    let mut c = Conn {
        inner: inner.clone(),
        id,
        tx,
        authed: false,
        counted_for: None,
        closing: false,
        overflow: false,
        hb_deadline: Instant::now() + heartbeat_timeout(&inner),
        rotate_at: None,
    };
    let far = Instant::now() + Duration::from_secs(100 * 365 * 86_400);
    let end = loop {
        tokio::select! {
            end = &mut done_rx => break end.unwrap_or(End::Gone),
            msg = stream.next() => match msg {
                None | Some(Err(_)) => break End::Gone,
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.as_ref().map(|f| f.code);
                    let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                    inner.lock().log_frame(
                        id,
                        Direction::ToServer,
                        json!({"code": code, "reason": reason}),
                        code,
                    );
                    break End::ClientClosed;
                }
                Some(Ok(Message::Text(text))) => c.on_text(text.as_str()),
                Some(Ok(Message::Binary(bytes))) => match std::str::from_utf8(&bytes) {
                    Ok(text) => c.on_text(text),
                    Err(_) => c.close(4002, "invalid payload"),
                },
                Some(Ok(_)) => {}
            },
            _ = sleep_until(c.hb_deadline), if !c.closing => {
                c.close(4009, "session timed out: no heartbeat");
            }
            _ = sleep_until(c.rotate_at.unwrap_or(far)), if c.rotate_at.is_some() && !c.closing => {
                c.rotate_at = None;
                let _ = c.tx.try_send(Out::Frame(json!({"op": 7})));
                close_later(c.tx.clone(), inner.config.reconnect_close_delay, 4009, "reconnect");
            }
        }
        if c.overflow {
            break End::Aborted;
        }
    };
    writer.abort();
    finish(&inner, id, end);
}

fn heartbeat_timeout(inner: &Inner) -> Duration {
    inner.config.heartbeat_interval.mul_f64(inner.config.heartbeat_timeout_factor.max(0.0))
}

/// Detaches the socket from its session; drops the session when the close
/// code does not allow a resume.
fn finish(inner: &Inner, conn: u64, end: End) {
    let mut st = inner.lock();
    let Some(handle) = st.conns.remove(&conn) else { return };
    let Some(sid) = handle.session_id else { return };
    let keep = match end {
        End::ServerClosed(code) => close_keeps_session(code),
        End::Aborted | End::ClientClosed | End::Gone => true,
    };
    let attached = st.sessions.get(&sid).is_some_and(|s| s.conn == Some(conn));
    if !attached {
        return;
    }
    if keep {
        if let Some(s) = st.sessions.get_mut(&sid) {
            s.conn = None;
            s.disconnected_at = Some(Instant::now());
        }
    } else {
        if let End::ServerClosed(4900..=4913) = end {
            st.stale_sessions.insert(sid.clone());
        }
        st.drop_session(&sid);
    }
}

impl Conn {
    fn close(&mut self, code: u16, reason: &str) {
        if self.closing {
            return;
        }
        self.closing = true;
        if self.tx.try_send(Out::Close(code, reason.to_owned())).is_err() {
            self.overflow = true;
        }
    }

    fn send(&mut self, frame: Value) {
        if self.tx.try_send(Out::Frame(frame)).is_err() {
            self.overflow = true;
        }
    }

    fn on_text(&mut self, text: &str) {
        if self.closing {
            return;
        }
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(_) => {
                self.log_in(Value::String(text.to_owned()));
                return self.close(4002, "invalid payload");
            }
        };
        self.log_in(value);
        let Ok(frame) = GatewayFrame::decode(text) else {
            return self.close(4002, "invalid payload");
        };
        match frame.opcode() {
            None => self.close(4001, "invalid opcode"),
            Some(OpCode::Heartbeat) => self.heartbeat(),
            Some(op @ (OpCode::Identify | OpCode::Resume)) if self.authed => {
                if let Some(app_id) = self.counted_for.clone() {
                    if let Some(app) = self.inner.lock().app_mut(&app_id) {
                        match op {
                            OpCode::Identify => app.identifies += 1,
                            _ => app.resumes += 1,
                        }
                    }
                }
                self.close(4005, "already authenticated")
            }
            Some(OpCode::Identify) => {
                if let Err((code, reason)) = self.identify(&frame) {
                    self.close(code, reason);
                }
            }
            Some(OpCode::Resume) => {
                if let Err((code, reason)) = self.resume(&frame) {
                    self.close(code, reason);
                }
            }
            Some(OpCode::HeartbeatAck | OpCode::HttpCallbackAck) if self.authed => {}
            Some(_) if self.authed => self.close(4001, "invalid opcode"),
            Some(_) => self.close(4003, "not authenticated"),
        }
    }

    fn log_in(&self, frame: Value) {
        self.inner.lock().log_frame(self.id, Direction::ToServer, frame, None);
    }

    fn heartbeat(&mut self) {
        self.hb_deadline = Instant::now() + heartbeat_timeout(&self.inner);
        let ack = {
            let st = self.inner.lock();
            let app = st.conns.get(&self.id).and_then(|c| c.app_id.as_ref());
            app.and_then(|a| st.apps.get(a)).is_none_or(|a| a.ack_heartbeats)
        };
        if ack {
            self.send(json!({"op": 11}));
        }
    }

    /// Ties the socket to the app named by the token (for logs and counters).
    fn bind_app(&mut self, st: &mut SimState, app_id: &str) {
        if self.counted_for.as_deref() == Some(app_id) {
            return;
        }
        self.counted_for = Some(app_id.to_owned());
        if let Some(app) = st.app_mut(app_id) {
            app.connections += 1;
        }
        if let Some(h) = st.conns.get_mut(&self.id) {
            h.app_id = Some(app_id.to_owned());
        }
        for entry in st.gateway_log.iter_mut().rev() {
            if entry.connection == self.id && entry.app_id.is_empty() {
                entry.app_id = app_id.to_owned();
            }
        }
    }

    /// Common Identify/Resume checks: token, fatal flags, burst limit.
    fn admit(&mut self, st: &mut SimState, token: &str) -> Result<String, (u16, &'static str)> {
        let app_id = gateway_token_app(st, token);
        if let Some(app_id) = &app_id {
            self.bind_app(st, app_id);
        }
        let Some(app_id) = app_id.filter(|_| gateway_token_valid(st, token)) else {
            return Err((4004, "authentication failed"));
        };
        let config = &self.inner.config;
        let app = st.app_mut(&app_id).ok_or((4004, "authentication failed"))?;
        match app.fatal {
            Some(FatalFlag::Delisted) => return Err((4914, "bot delisted")),
            Some(FatalFlag::Banned) => return Err((4915, "bot banned")),
            None => {}
        }
        if config.enforce_max_concurrency {
            let now = Instant::now();
            let window = Duration::from_secs(5);
            while app
                .recent_starts
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= window)
            {
                app.recent_starts.pop_front();
            }
            if app.recent_starts.len() >= config.max_concurrency.max(1) as usize {
                return Err((4008, "rate limited"));
            }
            app.recent_starts.push_back(now);
        }
        Ok(app_id)
    }

    /// Detaches a previous socket from a session this socket takes over.
    fn take_over(&self, st: &mut SimState, session_id: &str) {
        let old = st.sessions.get(session_id).and_then(|s| s.conn);
        if let Some(old) = old.filter(|o| *o != self.id) {
            if let Some(h) = st.conns.get_mut(&old) {
                h.session_id = None;
            }
            st.push(old, Out::Abort);
        }
    }

    fn identify(&mut self, frame: &GatewayFrame) -> Result<(), (u16, &'static str)> {
        let mut d: Value = frame.payload().map_err(|_| (4002, "invalid payload"))?;
        if let Some(obj) = d.as_object_mut() {
            obj.entry("shard").or_insert(json!([0, 1]));
        }
        let identify: Identify =
            serde_json::from_value(d).map_err(|_| (4002, "invalid payload"))?;
        let inner = self.inner.clone();
        let config = &inner.config;
        let mut st = inner.lock();
        if let Some(app_id) = gateway_token_app(&st, &identify.token) {
            if let Some(app) = st.app_mut(&app_id) {
                app.identifies += 1;
            }
        }
        let app_id = self.admit(&mut st, &identify.token)?;
        let [shard_id, shard_count] = identify.shard;
        if shard_count < 1 || shard_id >= shard_count {
            return Err((4010, "invalid shard"));
        }
        let intents = identify.intents;
        if intents.bits() & !Intents::all().bits() != 0 {
            return Err((4013, "invalid intents"));
        }
        let app = st.app_mut(&app_id).ok_or((4004, "authentication failed"))?;
        let allowed = app.app.granted_intents - app.revoked;
        if !allowed.contains(intents) {
            return Err((4014, "disallowed intents"));
        }
        if app.session_starts >= config.session_start_total {
            return Err((4008, "session start limit reached"));
        }
        app.session_starts += 1;
        let key = (app_id.clone(), shard_id);
        if let Some(old) = st.shard_sessions.get(&key).cloned() {
            self.take_over(&mut st, &old);
            st.drop_session(&old);
        }
        let sid = uuid::Uuid::new_v4().to_string();
        st.sessions.insert(
            sid.clone(),
            Session {
                id: sid.clone(),
                app_id: app_id.clone(),
                shard: identify.shard,
                intents,
                last_s: 0,
                buffer: Default::default(),
                conn: Some(self.id),
                disconnected_at: None,
            },
        );
        st.shard_sessions.insert(key, sid.clone());
        if let Some(h) = st.conns.get_mut(&self.id) {
            h.session_id = Some(sid.clone());
        }
        if let Some(app) = st.app_mut(&app_id) {
            app.last_session = Some(sid.clone());
        }
        let ready = json!({
            "version": 1,
            "session_id": sid,
            "user": {"id": util::bot_user_id(&app_id), "username": format!("pincer-sim-{app_id}"), "bot": true},
            "shard": identify.shard,
        });
        st.dispatch_to_session(&sid, "READY", &format!("READY:{}", util::uuid()), ready);
        st.deliver_pending(&sid);
        drop(st);
        self.authed = true;
        self.rotate_at = config.rotation_every.map(|t| Instant::now() + t);
        Ok(())
    }

    fn resume(&mut self, frame: &GatewayFrame) -> Result<(), (u16, &'static str)> {
        let resume: Resume = frame.payload().map_err(|_| (4002, "invalid payload"))?;
        let inner = self.inner.clone();
        let config = &inner.config;
        let mut st = inner.lock();
        if let Some(app_id) = gateway_token_app(&st, &resume.token) {
            if let Some(app) = st.app_mut(&app_id) {
                app.resumes += 1;
            }
        }
        let app_id = self.admit(&mut st, &resume.token)?;
        if st.stale_sessions.contains(&resume.session_id) {
            return Err((4902, "reset by resume"));
        }
        let now = Instant::now();
        let known = st
            .sessions
            .get(&resume.session_id)
            .is_some_and(|s| s.app_id == app_id && s.alive(now, config.resume_window));
        if !known {
            st.drop_session(&resume.session_id);
            return match config.invalid_resume {
                InvalidResumeMode::Close4006 => Err((4006, "invalid session")),
                InvalidResumeMode::OpInvalidSession => {
                    drop(st);
                    self.send(json!({"op": 9, "d": false}));
                    self.closing = true;
                    close_later(self.tx.clone(), config.op9_close_delay, 4006, "invalid session");
                    Ok(())
                }
            };
        }
        let sid = resume.session_id.clone();
        let last_s = st.sessions.get(&sid).map(|s| s.last_s).unwrap_or(0);
        if resume.seq > last_s {
            st.drop_session(&sid);
            return Err((4007, "invalid seq"));
        }
        self.take_over(&mut st, &sid);
        let replay: Vec<Value> = {
            let Some(sess) = st.sessions.get_mut(&sid) else {
                return Err((4006, "invalid session"));
            };
            sess.conn = Some(self.id);
            sess.disconnected_at = None;
            sess.buffer.iter().filter(|(s, _)| *s > resume.seq).map(|(_, f)| f.clone()).collect()
        };
        if let Some(h) = st.conns.get_mut(&self.id) {
            h.session_id = Some(sid.clone());
        }
        for frame in replay {
            st.push(self.id, Out::Frame(frame));
        }
        st.dispatch_to_session(&sid, "RESUMED", &format!("RESUMED:{}", util::uuid()), json!(""));
        drop(st);
        self.authed = true;
        self.rotate_at = config.rotation_every.map(|t| Instant::now() + t);
        Ok(())
    }
}
