use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_util::{FutureExt, SinkExt, StreamExt};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use super::health::{CloseRecord, FatalReason, ShardHealth, ShardState};
use super::ShardConfig;
use crate::model::{
    CloseAction, CloseCode, Dispatch, Event, GatewayFrame, Hello, Identify, InvalidSession, OpCode,
    Ready, Resume,
};
use crate::token::{AccessToken, TokenManager};

/// How many already-received frames are read, at most, before a missed
/// heartbeat ACK is declared a zombie connection.
const ZOMBIE_DRAIN_LIMIT: usize = 256;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type SocketSink = futures_util::stream::SplitSink<Socket, Message>;
type SocketStream = futures_util::stream::SplitStream<Socket>;

/// A gateway session that can be resumed: by this process after a
/// disconnect, or by the next process after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// `session_id` from READY.
    pub id: String,
    /// The last sequence number to resume from.
    pub sequence: u64,
}

/// A dispatch waiting for the consumer, tagged with the session it came from.
type Queued = (Arc<str>, Dispatch);

/// The position of the consumer: the dispatch it is handling now, and the
/// last one it finished (the one before, by the rule of [`Shard::next_event`]).
#[derive(Debug, Default)]
struct Consumed {
    session_id: Option<Arc<str>>,
    sequence: u64,
    in_hand: Option<(Arc<str>, u64)>,
}

/// A cloneable handle to a running shard.
#[derive(Debug, Clone)]
pub struct ShardHandle {
    cancel: CancellationToken,
    consumed: Arc<Mutex<Consumed>>,
}

impl ShardHandle {
    /// Asks the shard to stop. It closes the socket in a way that keeps the
    /// session resumable.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }

    /// The session to persist for the next start: the last dispatch the
    /// consumer finished, i.e. the one before the dispatch it holds now (see
    /// [`Shard::next_event`]). Resuming from it replays the dispatch in hand
    /// and everything after it: at-least-once, for an idempotent consumer.
    pub fn session(&self) -> Option<Session> {
        let consumed = self.consumed.lock().expect("consumed lock poisoned");
        consumed
            .session_id
            .as_ref()
            .map(|id| Session { id: id.to_string(), sequence: consumed.sequence })
    }
}

/// One gateway shard, running as its own task.
#[derive(Debug)]
pub struct Shard {
    events: mpsc::Receiver<Queued>,
    health: watch::Receiver<ShardHealth>,
    handle: ShardHandle,
    task: JoinHandle<()>,
}

impl Shard {
    /// Starts the shard: it connects, identifies (or resumes
    /// `config.session`) and keeps the session alive until shut down or
    /// fatally closed.
    pub fn spawn(config: ShardConfig, tokens: Arc<TokenManager>) -> Shard {
        let (events_tx, events) = mpsc::channel(config.event_buffer.max(1));
        let (health_tx, health) = watch::channel(ShardHealth::new(config.shard));
        let cancel = CancellationToken::new();
        let consumed = Arc::new(Mutex::new(Consumed::default()));
        if let Some(session) = &config.session {
            let mut c = consumed.lock().expect("fresh lock");
            c.session_id = Some(session.id.as_str().into());
            c.sequence = session.sequence;
        }
        let session =
            config.session.clone().map(|s| LiveSession { id: s.id.into(), seq: s.sequence });
        let runner = Runner {
            config,
            tokens,
            health: health_tx,
            events: events_tx,
            cancel: cancel.clone(),
            session,
            pending: VecDeque::new(),
            recent_ids: RecentIds::default(),
            failures: 0,
            quick_disconnects: 0,
            up_since: None,
            token_refreshed: false,
        };
        let task = tokio::spawn(runner.run());
        Shard { events, health, handle: ShardHandle { cancel, consumed }, task }
    }

    /// The next dispatch, in sequence order; `None` once the shard has
    /// stopped (shut down, or fatally closed: see [`ShardHealth::fatal`]).
    ///
    /// Asking for the next dispatch says the previous one is handled: the
    /// session saved by [`ShardHandle::session`] moves past it only then, so
    /// a process killed while handling a dispatch gets it again on resume.
    pub async fn next_event(&mut self) -> Option<Dispatch> {
        self.finish_in_hand();
        let (session_id, dispatch) = self.events.recv().await?;
        let mut consumed = self.handle.consumed.lock().expect("consumed lock poisoned");
        consumed.in_hand = Some((session_id, dispatch.seq));
        Some(dispatch)
    }

    /// Marks the dispatch in hand as handled.
    fn finish_in_hand(&self) {
        let mut consumed = self.handle.consumed.lock().expect("consumed lock poisoned");
        if let Some((session_id, seq)) = consumed.in_hand.take() {
            consumed.session_id = Some(session_id);
            consumed.sequence = seq;
        }
    }

    /// A receiver of the shard's health; it changes with every state
    /// change, heartbeat ACK and event.
    pub fn health(&self) -> watch::Receiver<ShardHealth> {
        self.health.clone()
    }

    /// A cloneable handle for other tasks.
    pub fn handle(&self) -> ShardHandle {
        self.handle.clone()
    }

    /// Stops the shard, waits for its task, and returns the session to
    /// persist so that the next start resumes. The dispatch last handed out
    /// counts as handled: call this after handling it.
    pub async fn shutdown(self) -> Option<Session> {
        self.finish_in_hand();
        self.handle.shutdown();
        let _ = self.task.await;
        self.handle.session()
    }
}

/// Remembers recent message ids to drop redeliveries (spec §5: "the same
/// msg_id may be pushed again").
#[derive(Debug, Default)]
struct RecentIds {
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl RecentIds {
    /// Records `id`; false if it was already there.
    fn insert(&mut self, id: &str, capacity: usize) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() >= capacity.max(1) {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.set.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        true
    }
}

#[derive(Debug, Clone)]
struct LiveSession {
    id: Arc<str>,
    seq: u64,
}

/// Why one connection ended.
#[derive(Debug)]
enum End {
    Cancelled,
    ConsumerGone,
    ServerClose(u16, String),
    Transport(String),
    Zombie,
    Reconnect,
    InvalidSession(bool),
    HandshakeTimeout,
}

/// What the runner does after a connection ended.
enum Next {
    Reconnect(Duration),
    Stop,
    Fatal(FatalReason),
}

struct Runner {
    config: ShardConfig,
    tokens: Arc<TokenManager>,
    health: watch::Sender<ShardHealth>,
    events: mpsc::Sender<Queued>,
    cancel: CancellationToken,
    session: Option<LiveSession>,
    pending: VecDeque<Queued>,
    recent_ids: RecentIds,
    failures: u32,
    /// Connections in a row that ended quickly (see [`Runner::after`]).
    quick_disconnects: u32,
    /// When the current stretch of service began, carried over a
    /// reconnect the server asked for: the next connection continues it.
    up_since: Option<Instant>,
    /// A close asked for a fresh token (4004) and no session has been ready
    /// since: another such close means the new token did not help.
    token_refreshed: bool,
}

impl Runner {
    async fn run(mut self) {
        let shard = self.config.shard;
        loop {
            let next = self.connect_once().await;
            match next {
                Next::Reconnect(delay) => {
                    self.set_state(ShardState::Reconnecting);
                    tracing::debug!(?shard, ?delay, "gateway reconnecting");
                    if !self.pause(delay).await {
                        break;
                    }
                }
                Next::Stop => break,
                Next::Fatal(reason) => {
                    tracing::error!(?shard, reason = %reason.en, "gateway closed fatally");
                    self.health.send_modify(|h| {
                        h.fatal = Some(reason);
                        h.set_state(ShardState::Fatal);
                    });
                    // Hand over what was received before the fatal close.
                    while let Some(item) = self.pending.pop_front() {
                        if self.events.send(item).await.is_err() {
                            break;
                        }
                    }
                    return;
                }
            }
        }
        self.set_state(ShardState::Stopped);
    }

    fn set_state(&self, state: ShardState) {
        self.health.send_modify(|h| h.set_state(state));
    }

    /// Waits `delay` while still handing pending dispatches to the consumer.
    /// False when the shard must stop.
    async fn pause(&mut self, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        loop {
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return false,
                _ = sleep_until(deadline) => return true,
                permit = self.events.reserve(), if !self.pending.is_empty() => match permit {
                    Ok(permit) => permit.send(self.pending.pop_front().expect("pending is not empty")),
                    Err(_) => return false,
                },
            }
        }
    }

    fn record_close(&self, code: Option<CloseCode>, detail: String) {
        self.health.send_modify(|h| {
            h.disconnects += 1;
            h.last_close = Some(CloseRecord { code, detail, at: SystemTime::now() });
        });
    }

    /// The delay after an unplanned disconnect: growing with consecutive failures.
    fn failure_delay(&mut self) -> Duration {
        self.failures += 1;
        self.config.backoff.delay(self.failures - 1)
    }

    async fn connect_once(&mut self) -> Next {
        self.set_state(ShardState::Connecting);
        // Only a connection that gets as far as a session continues the
        // stretch; an early failure below ends it.
        let up_since = self.up_since.take();
        if self.session.is_none() {
            // Wait for an identify slot before opening the socket: an open
            // socket must heartbeat, and the wait can be seconds.
            tokio::select! {
                _ = self.cancel.cancelled() => return Next::Stop,
                _ = self.config.identify_queue.acquire() => {}
            }
        }
        // The token comes first: a socket that waits for it would have to heartbeat.
        let token = tokio::select! {
            _ = self.cancel.cancelled() => return Next::Stop,
            token = self.tokens.token() => token,
        };
        let token = match token {
            Ok(token) => token,
            Err(e) if e.is_transient() => {
                self.record_close(None, e.to_string());
                return Next::Reconnect(self.failure_delay());
            }
            Err(e) => {
                return Next::Fatal(FatalReason {
                    close_code: None,
                    zh: e.explain_zh(),
                    en: e.to_string(),
                })
            }
        };

        // Small starting buffers: a gateway mostly carries heartbeats and short
        // messages, and the buffers grow for the rare large frame.
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(8 << 10)
            .write_buffer_size(0)
            .max_message_size(Some(self.config.max_frame_bytes))
            .max_frame_size(Some(self.config.max_frame_bytes));
        let connect = tokio_tungstenite::connect_async_with_config(
            self.config.gateway_url.as_str(),
            Some(ws_config),
            false,
        );
        let socket = tokio::select! {
            _ = self.cancel.cancelled() => return Next::Stop,
            r = timeout(self.config.handshake_timeout, connect) => r,
        };
        let socket = match socket {
            Ok(Ok((socket, _response))) => socket,
            Ok(Err(e)) => {
                self.record_close(None, format!("connect failed: {e}"));
                return Next::Reconnect(self.failure_delay());
            }
            Err(_) => {
                self.record_close(None, "connect timed out".into());
                return Next::Reconnect(self.failure_delay());
            }
        };
        let (mut sink, mut stream) = socket.split();

        let interval = match self.wait_hello(&mut stream).await {
            Ok(interval) => interval,
            Err(end) => return self.after(end, None, Instant::now(), false),
        };
        self.health.send_modify(|h| h.heartbeat_interval = Some(interval));

        let hello_frame = if let Some(session) = &self.session {
            self.set_state(ShardState::Resuming);
            GatewayFrame::with_payload(
                OpCode::Resume,
                &Resume {
                    token: token.authorization(),
                    session_id: session.id.to_string(),
                    seq: session.seq,
                },
            )
        } else {
            self.set_state(ShardState::Identifying);
            GatewayFrame::with_payload(
                OpCode::Identify,
                &Identify {
                    token: token.authorization(),
                    intents: self.config.intents,
                    shard: self.config.shard,
                    properties: Some(self.config.properties.clone()),
                },
            )
        };
        if let Err(e) = sink.send(Message::Text(hello_frame.encode().into())).await {
            return self.after(End::Transport(e.to_string()), Some(&token), Instant::now(), false);
        }

        let connected_at = Instant::now();
        let mut ready = false;
        let end = self.session_loop(&mut sink, &mut stream, interval, &mut ready).await;
        if matches!(end, End::Cancelled) {
            // 4000 asks the server to keep the session for a resume.
            let close = CloseFrame { code: WsCloseCode::Library(4000), reason: "".into() };
            let _ = timeout(Duration::from_secs(1), sink.send(Message::Close(Some(close)))).await;
        }
        self.after(end, Some(&token), up_since.unwrap_or(connected_at), ready)
    }

    async fn wait_hello(&mut self, stream: &mut SocketStream) -> Result<Duration, End> {
        let first = tokio::select! {
            _ = self.cancel.cancelled() => return Err(End::Cancelled),
            r = timeout(self.config.handshake_timeout, stream.next()) => r,
        };
        let message = match first {
            Err(_) => return Err(End::HandshakeTimeout),
            Ok(None) => return Err(End::Transport("closed before Hello".into())),
            Ok(Some(Err(e))) => return Err(End::Transport(e.to_string())),
            Ok(Some(Ok(message))) => message,
        };
        let text = match message {
            Message::Text(text) => text.to_string(),
            Message::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Message::Close(frame) => {
                let (code, reason) = close_parts(frame);
                return Err(End::ServerClose(code, reason));
            }
            other => return Err(End::Transport(format!("expected Hello, got {other:?}"))),
        };
        let hello = GatewayFrame::decode(&text)
            .ok()
            .filter(|f| f.opcode() == Some(OpCode::Hello))
            .and_then(|f| f.payload::<Hello>().ok())
            .map(|h| h.heartbeat_interval)
            .filter(|ms| ms.is_finite() && *ms > 0.0);
        match hello {
            Some(ms) => {
                let interval = Duration::from_secs_f64(ms.min(3_600_000.0) / 1000.0);
                Ok(interval.max(self.config.min_heartbeat_interval))
            }
            None => {
                self.health.send_modify(|h| h.malformed_frames += 1);
                Err(End::Transport("the first frame was not a valid Hello".into()))
            }
        }
    }

    async fn session_loop(
        &mut self,
        sink: &mut SocketSink,
        stream: &mut SocketStream,
        interval: Duration,
        ready: &mut bool,
    ) -> End {
        // A random first beat keeps many bots from beating in step.
        let first = interval.mul_f64(rand::thread_rng().gen_range(0.0..1.0));
        let mut next_beat = Instant::now() + first;
        let mut unacked_since: Option<Instant> = None;
        let handshake_deadline = Instant::now() + self.config.handshake_timeout;
        let buffer = self.config.event_buffer.max(1);
        let cancel = self.cancel.clone();
        loop {
            let received = tokio::select! {
                biased;
                _ = cancel.cancelled() => return End::Cancelled,
                _ = sleep_until(next_beat) => None,
                _ = sleep_until(handshake_deadline), if !*ready => return End::HandshakeTimeout,
                permit = self.events.reserve(), if !self.pending.is_empty() => {
                    match permit {
                        Ok(permit) => permit.send(self.pending.pop_front().expect("pending is not empty")),
                        Err(_) => return End::ConsumerGone,
                    }
                    continue;
                }
                message = stream.next(), if self.pending.len() < buffer => Some(message),
            };
            if let Some(message) = received {
                if let Some(end) = self.on_message(message, sink, &mut unacked_since, ready).await {
                    return end;
                }
                continue;
            }
            if unacked_since.is_some() {
                // An ACK may be waiting in the socket while this task was busy:
                // read what is already there before calling the connection dead.
                for _ in 0..ZOMBIE_DRAIN_LIMIT {
                    let Some(message) = stream.next().now_or_never() else { break };
                    if let Some(end) =
                        self.on_message(message, sink, &mut unacked_since, ready).await
                    {
                        return end;
                    }
                }
                if unacked_since.is_some() {
                    return End::Zombie;
                }
            }
            let beat = GatewayFrame::heartbeat(self.last_seq());
            if let Err(e) = sink.send(Message::Text(beat.encode().into())).await {
                return End::Transport(e.to_string());
            }
            unacked_since = Some(Instant::now());
            next_beat += interval;
        }
    }

    /// Handles one item from the socket; `Some` when the connection ends.
    async fn on_message(
        &mut self,
        message: Option<Result<Message, WsError>>,
        sink: &mut SocketSink,
        unacked_since: &mut Option<Instant>,
        ready: &mut bool,
    ) -> Option<End> {
        let message = match message {
            None => return Some(End::Transport("the server closed the stream".into())),
            Some(Err(e)) => return Some(End::Transport(e.to_string())),
            Some(Ok(message)) => message,
        };
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(bytes) => match String::from_utf8(bytes.to_vec()) {
                Ok(text) => text.into(),
                Err(_) => {
                    self.malformed("binary frame is not UTF-8");
                    return None;
                }
            },
            Message::Close(frame) => {
                let (code, reason) = close_parts(frame);
                return Some(End::ServerClose(code, reason));
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return None,
        };
        let frame = match GatewayFrame::decode(&text) {
            Ok(frame) => frame,
            Err(e) => {
                self.malformed(&e.to_string());
                return None;
            }
        };
        match frame.opcode() {
            Some(OpCode::Dispatch) => self.on_dispatch(frame, ready),
            Some(OpCode::HeartbeatAck) => {
                if let Some(sent) = unacked_since.take() {
                    let rtt = Instant::now().duration_since(sent);
                    self.health.send_modify(|h| h.record_rtt(rtt));
                }
            }
            Some(OpCode::Heartbeat) => {
                let beat = GatewayFrame::heartbeat(self.last_seq());
                if let Err(e) = sink.send(Message::Text(beat.encode().into())).await {
                    return Some(End::Transport(e.to_string()));
                }
            }
            Some(OpCode::Reconnect) => return Some(End::Reconnect),
            Some(OpCode::InvalidSession) => {
                let resumable = frame.payload::<InvalidSession>().map(|d| d.0).unwrap_or(false);
                return Some(End::InvalidSession(resumable));
            }
            Some(other) => tracing::debug!(op = other.as_u8(), "ignoring gateway frame"),
            None => tracing::debug!(op = frame.op, "ignoring unknown gateway opcode"),
        }
        None
    }

    fn malformed(&self, why: &str) {
        // The frame itself is not logged: it may carry user messages.
        tracing::warn!(shard = ?self.config.shard, error = why, "dropping malformed gateway frame");
        self.health.send_modify(|h| h.malformed_frames += 1);
    }

    fn last_seq(&self) -> Option<u64> {
        self.session.as_ref().map(|s| s.seq).filter(|s| *s > 0)
    }

    fn on_dispatch(&mut self, frame: GatewayFrame, ready: &mut bool) {
        let Some(seq) = frame.s else {
            self.malformed("dispatch without a sequence number");
            return;
        };
        let kind = frame.t.as_deref().unwrap_or_default();
        let data = frame.d.as_ref().map(|d| d.get()).unwrap_or("null");
        if kind == "READY" {
            match serde_json::from_str::<Ready>(data) {
                Ok(r) => {
                    self.session = Some(LiveSession { id: r.session_id.as_str().into(), seq: 0 });
                    self.recent_ids = RecentIds::default();
                }
                Err(e) => {
                    self.malformed(&format!("READY without a session: {e}"));
                    return;
                }
            }
        }
        let Some(session) = self.session.as_mut() else {
            self.malformed("dispatch before READY");
            return;
        };
        if seq <= session.seq {
            // Already received in this session (a replay overlap): handled once.
            return;
        }
        session.seq = seq;
        let session_id = session.id.clone();
        let event = Event::decode(kind, data);
        let fresh = event
            .message_id()
            .map(|id| self.recent_ids.insert(id, self.config.dedupe_window))
            .unwrap_or(true);
        let became_ready = matches!(event, Event::Ready(_) | Event::Resumed);
        if became_ready {
            *ready = true;
            self.failures = 0;
            self.token_refreshed = false;
        }
        self.health.send_modify(|h| {
            h.events_received += 1;
            h.last_seq = Some(seq);
            match &event {
                Event::Ready(_) => {
                    h.identifies += 1;
                    h.session_id = Some(session_id.to_string());
                    h.set_state(ShardState::Ready);
                }
                Event::Resumed => {
                    h.resumes += 1;
                    h.set_state(ShardState::Ready);
                }
                _ => {}
            }
            if !fresh {
                h.duplicates_dropped += 1;
            }
        });
        if fresh {
            self.pending.push_back((session_id, Dispatch { seq, event_id: frame.id, event }));
        }
    }

    /// Decides what follows the end of a connection that was up since
    /// `up_since` (its own start, or that of the connection before it when
    /// it followed a reconnect the server asked for).
    ///
    /// The quick-disconnect guard (OpenClaw's: a pause after 3 connections
    /// in a row that lasted < 5 s, spec §3.6) is for a connection that keeps
    /// failing, which a growing backoff alone does not catch: each READY
    /// resets the backoff. A reconnect the server asks for on a working
    /// session (op 7, or close 4009, its routine rotation: "resume", spec
    /// §3.3/§3.4) says nothing about our connection, however soon it comes:
    /// it neither counts nor resets the count, and the time in service goes
    /// on across it. Counting it would let a server that rotates often (or
    /// a few of those between real drops) pause a healthy bot for a minute;
    /// resetting on it would let a rotation hide a flapping connection. A
    /// 4009 before the session is ready still counts: resuming is what fails.
    /// The first 4004 (the token expired) is routine too: a fresh token
    /// cures it, so it neither counts nor backs off (it identifies, as
    /// always after 4004); a second one before a session is ready again (the
    /// fresh token refused as well) counts and backs off.
    fn after(
        &mut self,
        end: End,
        token: Option<&AccessToken>,
        up_since: Instant,
        was_ready: bool,
    ) -> Next {
        let routine = match &end {
            End::Reconnect => was_ready,
            End::ServerClose(raw, _) => match CloseCode::from_u16(*raw) {
                CloseCode::SessionTimedOut => was_ready,
                code => {
                    code.action() == CloseAction::RefreshTokenThenIdentify && !self.token_refreshed
                }
            },
            _ => false,
        };
        let lived = Instant::now().duration_since(up_since);
        if routine {
            self.up_since = Some(up_since);
        } else if was_ready && lived >= self.config.quick_disconnect {
            self.failures = 0;
            self.quick_disconnects = 0;
        } else if !matches!(end, End::Cancelled | End::ConsumerGone) {
            self.quick_disconnects += 1;
        }
        let mut delay = match end {
            End::Cancelled | End::ConsumerGone => return Next::Stop,
            End::Reconnect => {
                self.record_close(None, "server asked to reconnect (op 7)".into());
                Duration::ZERO
            }
            End::Zombie => {
                self.record_close(None, "heartbeat not acknowledged (zombie connection)".into());
                self.health.send_modify(|h| h.zombies += 1);
                self.failure_delay()
            }
            End::Transport(detail) => {
                self.record_close(None, detail);
                self.failure_delay()
            }
            End::HandshakeTimeout => {
                self.record_close(None, "no answer to Identify/Resume in time".into());
                self.failure_delay()
            }
            End::InvalidSession(resumable) => {
                self.record_close(None, format!("invalid session (op 9, resumable: {resumable})"));
                if !resumable {
                    self.session = None;
                }
                let (lo, hi) = self.config.invalid_session_wait;
                if hi > lo {
                    rand::thread_rng().gen_range(lo..=hi)
                } else {
                    lo
                }
            }
            End::ServerClose(raw, reason) => {
                let code = CloseCode::from_u16(raw);
                self.record_close(Some(code), reason);
                match code.action() {
                    CloseAction::Resume if code == CloseCode::SessionTimedOut => Duration::ZERO,
                    CloseAction::Resume => self.failure_delay(),
                    CloseAction::ResumeAfterBackoff => self.config.rate_limited_wait,
                    CloseAction::Identify => {
                        self.session = None;
                        self.failure_delay()
                    }
                    CloseAction::RefreshTokenThenIdentify => {
                        if let Some(token) = token {
                            self.tokens.invalidate(token);
                        }
                        self.token_refreshed = true;
                        // Identify with the fresh token, as the spec says
                        // (§3.4: "refresh the token, then Identify"), even
                        // though that drops what the server held for the
                        // session: whether a Resume would be accepted after
                        // 4004 is not known.
                        self.session = None;
                        if routine {
                            // An expired token is cured by the fresh one at
                            // once: no wait, no step up the backoff.
                            Duration::ZERO
                        } else {
                            // The fresh token was refused too: back off.
                            self.failure_delay()
                        }
                    }
                    CloseAction::Fatal => {
                        return Next::Fatal(FatalReason {
                            close_code: Some(code),
                            zh: code.explain_zh().to_owned(),
                            en: code.explain_en().to_owned(),
                        })
                    }
                }
            }
        };
        if self.quick_disconnects >= self.config.quick_disconnect_limit.max(1) {
            tracing::warn!(shard = ?self.config.shard, "repeated quick disconnects; pausing");
            self.quick_disconnects = 0;
            delay = delay.max(self.config.quick_disconnect_pause);
        }
        Next::Reconnect(delay)
    }
}

fn close_parts(frame: Option<CloseFrame>) -> (u16, String) {
    match frame {
        Some(frame) => (u16::from(frame.code), frame.reason.to_string()),
        // A close without a code: treat like an abnormal closure.
        None => (1005, String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_drop_repeats_within_the_window() {
        let mut ids = RecentIds::default();
        assert!(ids.insert("a", 2));
        assert!(!ids.insert("a", 2));
        assert!(ids.insert("b", 2));
        assert!(ids.insert("c", 2));
        assert!(ids.insert("a", 2), "a fell out of the window");
    }
}
