//! Chat channels: the one seam between a chat platform and the agent.
//!
//! A [`Connector`] connects one bot with its credentials and returns a
//! [`Channel`] plus a stream of [`InboundDelivery`]s. The supervisor never
//! sees platform frames: it gets `pincer_agent::Inbound`s, acknowledges each
//! one once it is stored ([`Ack`]), hands the channel's [`ReplySink`] to the
//! agent, and maps the channel's platform-neutral [`ChannelHealth`] to the
//! bot's status.
//!
//! What stays inside a channel, per platform:
//! - keepalive, reconnect and resume (QQ: heartbeats, shards, saved
//!   sessions; Feishu: ping frames and `ReconnectInterval`; DingTalk: a new
//!   ticket per connection);
//! - the inbound ACK: QQ has none on the wire (the next dispatch is taken
//!   once the previous one is acked, so a saved session never skips one);
//!   Feishu echoes the frame with `{"code":200}` (500 on [`Ack::failed`]);
//!   DingTalk answers `{code,headers,message,data}`. Each is at-least-once:
//!   the agent de-duplicates on `Inbound::message_id`;
//! - reply rules (QQ passive replies with `msg_id`/`msg_seq`, Feishu REST,
//!   DingTalk `sessionWebhook`, WeCom on the same socket): the channel's
//!   [`ReplySink`] takes the agent's outbox entries as they are.
//!
//! [`QqConnector`] is the QQ implementation over [`QqConnection`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use pincer_agent::engine::{Delivered, DeliveryError, ReplySink};
use pincer_agent::qq_sink::QqReplySink;
use pincer_agent::store::OutboundReply;
use pincer_agent::Inbound;
use pincer_qq::gateway::{ShardHealth, ShardState};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::BotConfig;
use crate::qq_connection::{ConnectError, QqConnection};
use crate::secrets::Secret;

/// Where a channel's connection is, on any platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelState {
    /// Opening the connection.
    Connecting,
    /// Authenticating a new session.
    Identifying,
    /// Resuming an earlier session.
    Resuming,
    /// Receiving messages.
    Ready,
    /// Lost; trying again.
    Reconnecting,
    /// Closed on purpose.
    Stopped,
    /// Closed for good (wrong credentials, banned, …): the explanation says why.
    Fatal,
}

impl ChannelState {
    /// The status word (`ready`, `reconnecting`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Identifying => "identifying",
            Self::Resuming => "resuming",
            Self::Ready => "ready",
            Self::Reconnecting => "reconnecting",
            Self::Stopped => "stopped",
            Self::Fatal => "fatal",
        }
    }
}

/// A channel's health, platform-neutral: what the status and the tray show.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelHealth {
    /// Where the connection is.
    pub state: ChannelState,
    /// When that state began.
    pub since: SystemTime,
    /// The platform's last close code, if it has such codes.
    pub last_close_code: Option<u16>,
    /// What the last close or failure means: (Chinese, English).
    pub explanation: Option<(String, String)>,
    /// The last keepalive round trips in ms, oldest first.
    pub keepalive_rtts_ms: Vec<f64>,
    /// When the last keepalive answer arrived.
    pub last_keepalive_at: Option<SystemTime>,
    /// Sessions resumed.
    pub resumes: u64,
    /// Sessions started.
    pub identifies: u64,
}

impl ChannelHealth {
    /// A health in `state`, since now, with nothing else known.
    pub fn new(state: ChannelState) -> Self {
        Self {
            state,
            since: SystemTime::now(),
            last_close_code: None,
            explanation: None,
            keepalive_rtts_ms: Vec::new(),
            last_keepalive_at: None,
            resumes: 0,
            identifies: 0,
        }
    }
}

/// Acknowledges one inbound message to the platform. Call [`done`](Self::done)
/// once the message is stored durably, or [`failed`](Self::failed) to have
/// it delivered again where the platform re-pushes. Dropping it counts as
/// `failed`.
#[derive(Debug)]
pub struct Ack(Option<oneshot::Sender<bool>>);

impl Ack {
    /// An ack that reports to `tx` (`true` = handled).
    pub fn new(tx: oneshot::Sender<bool>) -> Self {
        Self(Some(tx))
    }

    /// An ack nobody waits for.
    pub fn none() -> Self {
        Self(None)
    }

    /// Handled.
    pub fn done(mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(true);
        }
    }

    /// Not handled.
    pub fn failed(mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(false);
        }
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(false);
        }
    }
}

/// One inbound message and its acknowledgement.
#[derive(Debug)]
pub struct InboundDelivery {
    /// The message, as the agent takes it (`bot` is the bot's agent id).
    pub inbound: Inbound,
    /// Acknowledge once handled.
    pub ack: Ack,
}

/// Why a channel could not connect, in the user's words.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{en}")]
pub struct ChannelError {
    /// Worth retrying with backoff (network, quota, platform busy); else the
    /// user must fix something (credentials, a banned bot).
    pub transient: bool,
    /// English.
    pub en: String,
    /// Chinese.
    pub zh: String,
}

/// A connected bot on one platform.
#[async_trait::async_trait]
pub trait Channel: Send + Sync {
    /// `qq`, `feishu`, `dingtalk`, `wecom`.
    fn platform(&self) -> &'static str;
    /// The connection's health; changes as it reconnects.
    fn health(&self) -> watch::Receiver<ChannelHealth>;
    /// Delivers the agent's replies following the platform's rules.
    fn sink(&self) -> Arc<dyn ReplySink>;
    /// Closes the connection, saving what lets the next connect resume.
    async fn shutdown(self: Box<Self>);
}

/// Connects bots of one platform.
#[async_trait::async_trait]
pub trait Connector: Send + Sync {
    /// Checks the credentials and connects. Inbound messages arrive on the
    /// receiver until the channel shuts down or fails for good.
    async fn connect(
        &self,
        bot: &BotConfig,
        secret: Secret,
    ) -> Result<(Box<dyn Channel>, mpsc::Receiver<InboundDelivery>), ChannelError>;
}

/// QQ bots, over [`QqConnection`].
#[derive(Debug, Clone)]
pub struct QqConnector {
    data_dir: PathBuf,
    http: reqwest::Client,
}

impl QqConnector {
    /// Sessions and reply ledgers are kept under `data_dir/bots/NAME`.
    pub fn new(data_dir: &Path, http: reqwest::Client) -> Self {
        Self { data_dir: data_dir.to_path_buf(), http }
    }
}

#[async_trait::async_trait]
impl Connector for QqConnector {
    async fn connect(
        &self,
        bot: &BotConfig,
        secret: Secret,
    ) -> Result<(Box<dyn Channel>, mpsc::Receiver<InboundDelivery>), ChannelError> {
        let (connection, mut dispatches) =
            QqConnection::connect(bot, secret, &self.data_dir, self.http.clone()).await.map_err(
                |e| {
                    let transient = match &e {
                        ConnectError::Qq { source, .. } => source.is_retryable(),
                        ConnectError::Quota { .. } => true,
                        _ => false,
                    };
                    ChannelError { transient, zh: e.explain_zh(), en: e.to_string() }
                },
            )?;
        let sink = Arc::new(QqReplySink::new());
        sink.insert(bot.app_id.clone(), connection.replier());
        let shards = connection.health().to_vec();
        let (health_tx, health) = watch::channel(merge_shards(&shards));
        let mut watchers = Vec::new();
        for shard in &shards {
            let mut changes = shard.clone();
            let all = shards.clone();
            let tx = health_tx.clone();
            watchers.push(tokio::spawn(async move {
                while changes.changed().await.is_ok() {
                    tx.send_replace(merge_shards(&all));
                }
            }));
        }
        let (tx, rx) = mpsc::channel(64);
        let agent_id = bot.app_id.clone();
        let pump = tokio::spawn(async move {
            while let Some(delivery) = dispatches.recv().await {
                match Inbound::from_event(agent_id.clone(), &delivery.dispatch.event) {
                    Some(inbound) => {
                        let (done, handled) = oneshot::channel();
                        if tx.send(InboundDelivery { inbound, ack: Ack::new(done) }).await.is_err()
                        {
                            break;
                        }
                        // QQ has no wire ACK: either outcome releases the
                        // next dispatch (the agent keeps its own inbox).
                        let _ = handled.await;
                        delivery.done();
                    }
                    None => delivery.done(),
                }
            }
        });
        let channel = QqChannel { connection, sink, health, watchers, pump };
        Ok((Box::new(channel), rx))
    }
}

struct QqChannel {
    connection: QqConnection,
    sink: Arc<QqReplySink>,
    health: watch::Receiver<ChannelHealth>,
    watchers: Vec<JoinHandle<()>>,
    pump: JoinHandle<()>,
}

#[async_trait::async_trait]
impl Channel for QqChannel {
    fn platform(&self) -> &'static str {
        "qq"
    }

    fn health(&self) -> watch::Receiver<ChannelHealth> {
        self.health.clone()
    }

    fn sink(&self) -> Arc<dyn ReplySink> {
        self.sink.clone()
    }

    async fn shutdown(self: Box<Self>) {
        self.pump.abort();
        for w in &self.watchers {
            w.abort();
        }
        self.connection.shutdown().await;
    }
}

/// One health for all shards: the worst shard speaks for the bot; counters
/// add up; keepalive figures come from shard 0.
fn merge_shards(shards: &[watch::Receiver<ShardHealth>]) -> ChannelHealth {
    let healths: Vec<ShardHealth> = shards.iter().map(|h| h.borrow().clone()).collect();
    let mut out = ChannelHealth::new(ChannelState::Connecting);
    if let Some(h) = healths.iter().max_by_key(|h| severity(h.state)) {
        out.state = match h.state {
            ShardState::Connecting => ChannelState::Connecting,
            ShardState::Identifying => ChannelState::Identifying,
            ShardState::Resuming => ChannelState::Resuming,
            ShardState::Ready => ChannelState::Ready,
            ShardState::Reconnecting => ChannelState::Reconnecting,
            ShardState::Stopped => ChannelState::Stopped,
            _ => ChannelState::Fatal,
        };
        out.since = h.since;
        if let Some(fatal) = &h.fatal {
            out.explanation = Some((fatal.zh.clone(), fatal.en.clone()));
        }
        if let Some(close) = &h.last_close {
            out.last_close_code = close.code.map(|c| c.as_u16());
            if out.explanation.is_none() {
                out.explanation =
                    Some((close.explain_zh().to_owned(), close.explain_en().to_owned()));
            }
        }
    }
    for h in &healths {
        out.resumes += h.resumes;
        out.identifies += h.identifies;
    }
    if let Some(first) = healths.first() {
        out.keepalive_rtts_ms =
            first.heartbeat_rtts.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        out.last_keepalive_at = first.last_heartbeat_ack;
    }
    out
}

fn severity(state: ShardState) -> u8 {
    match state {
        ShardState::Ready => 0,
        ShardState::Identifying | ShardState::Resuming | ShardState::Connecting => 1,
        ShardState::Reconnecting => 2,
        ShardState::Stopped => 3,
        _ => 4,
    }
}

/// A bot's name and its channel's sink, by agent id.
type Routes = std::collections::HashMap<String, (String, Arc<dyn ReplySink>)>;

/// Routes the agent's replies to each bot's channel sink (by agent id), and
/// reports each delivered one.
pub(crate) struct RouterSink {
    routes: std::sync::RwLock<Routes>,
    /// Test-chat replies wanted, by the message id they answer.
    test_chat: std::sync::Mutex<std::collections::HashMap<String, mpsc::Sender<OutboundReply>>>,
    events: crate::events::EventBus,
}

/// The user id of the dashboard's test chat: its messages go through the
/// bot's agent like a QQ private chat, and the replies come back to the
/// window instead of QQ.
pub const TEST_CHAT_USER: &str = "pincer-test-chat";

impl RouterSink {
    pub(crate) fn new(events: crate::events::EventBus) -> Self {
        Self { routes: Default::default(), test_chat: Default::default(), events }
    }

    /// Delivers the replies to `message_id` to the returned receiver instead
    /// of a channel.
    pub(crate) fn expect_test_reply(&self, message_id: &str) -> mpsc::Receiver<OutboundReply> {
        let (tx, rx) = mpsc::channel(16);
        self.test_chat.lock().unwrap_or_else(|p| p.into_inner()).insert(message_id.to_owned(), tx);
        rx
    }

    pub(crate) fn forget_test_reply(&self, message_id: &str) {
        self.test_chat.lock().unwrap_or_else(|p| p.into_inner()).remove(message_id);
    }

    pub(crate) fn insert(&self, agent_id: &str, name: &str, sink: Arc<dyn ReplySink>) {
        self.routes
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(agent_id.to_owned(), (name.to_owned(), sink));
    }

    pub(crate) fn remove(&self, agent_id: &str) {
        self.routes.write().unwrap_or_else(|p| p.into_inner()).remove(agent_id);
    }
}

#[async_trait::async_trait]
impl ReplySink for RouterSink {
    async fn deliver(&self, reply: &OutboundReply) -> Result<Delivered, DeliveryError> {
        if matches!(&reply.scene, pincer_agent::Scene::C2c { user } if user == TEST_CHAT_USER) {
            // A test-chat reply never goes to QQ; one nobody waits for any
            // more (the window gave up) is simply done.
            let waiter = self
                .test_chat
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&reply.reply_to_message_id)
                .cloned();
            if let Some(tx) = waiter {
                let _ = tx.send(reply.clone()).await;
            }
            return Ok(Delivered { response_id: None });
        }
        let route = self.routes.read().unwrap_or_else(|p| p.into_inner()).get(&reply.bot).cloned();
        let Some((name, sink)) = route else {
            return Err(DeliveryError::Transient(format!("bot {} is not connected", reply.bot)));
        };
        let delivered = sink.deliver(reply).await?;
        self.events.send(crate::events::RuntimeEvent::ReplyOut {
            bot: name,
            scene: crate::events::scene_kind(&reply.scene),
            target: reply.scene.target_id().to_owned(),
            text: reply.text.clone(),
        });
        Ok(delivered)
    }
}
