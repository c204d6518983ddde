//! Runs every enabled bot: its channel (the QQ connection), its agent, and
//! the pump that carries inbound messages to the agent; restarts what fails,
//! with backoff; pauses, resumes and stops bots; applies a changed config
//! live; drains on shutdown; reports one status per bot and publishes every
//! change on the [`EventBus`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use pincer_agent::provider::presets::{self, ProviderConfig as AgentProvider};
use pincer_agent::provider::ApiKey;
use pincer_agent::{
    BotConfig as AgentBot, Engine, EngineConfig, Inbound, ModelConfig, OutboundReply, Scene, Store,
    Submitted,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::channel::{Channel, ChannelHealth, ChannelState, Connector, QqConnector, RouterSink};
use crate::config::{BotConfig, Config, ConfigError, ProviderKind};
use crate::error::UserError;
use crate::events::{scene_kind, EventBus, RuntimeEvent};
use crate::paths::PincerPaths;
use crate::secrets::{SecretName, Secrets};
use crate::watchdog::ProcessStats;

/// One bot's status, as `pincer status --json` prints it and the desktop
/// app and tray show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BotStatus {
    /// The bot's name.
    pub name: String,
    /// QQ AppID.
    pub app_id: String,
    /// `connecting`, `identifying`, `resuming`, `ready`, `reconnecting`,
    /// `paused`, `stopped` or `fatal`.
    pub state: &'static str,
    /// When the state began (unix seconds).
    pub since: u64,
    /// The last gateway close code.
    pub last_close_code: Option<u16>,
    /// What the last close or failure means, in the user's words.
    pub explanation: Option<String>,
    /// The same in Chinese.
    pub explanation_zh: Option<String>,
    /// Latest heartbeat round trip.
    pub heartbeat_rtt_ms: Option<f64>,
    /// The last heartbeats' round trips, oldest first (the sparkline).
    pub heartbeat_rtts_ms: Vec<f64>,
    /// When the last heartbeat ACK arrived (unix seconds).
    pub last_ack_at: Option<u64>,
    /// Successful resumes.
    pub resumes: u64,
    /// Successful identifies.
    pub identifies: u64,
    /// QQ events received.
    pub events_in: u64,
    /// Replies the agent answered.
    pub replies_out: u64,
    /// Tokens used today (China Standard Time).
    pub tokens_today: u64,
    /// Cost today, in the price table's currency.
    pub cost_today: f64,
    /// The pairing code to send to the bot in a private chat to become its
    /// owner, while it has none.
    pub pairing_code: Option<String>,
}

/// What a [`Supervisor::reload`] did, by bot name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadReport {
    /// Added or enabled bots, now starting.
    pub started: Vec<String>,
    /// Removed or disabled bots, stopped.
    pub stopped: Vec<String>,
    /// Bots whose model, provider, persona, skills or lists changed:
    /// re-registered with the agent, their connection kept.
    pub updated: Vec<String>,
    /// Bots whose QQ settings (AppID, environment, endpoints, intents)
    /// changed: reconnected.
    pub restarted: Vec<String>,
    /// Bots the new config could not be applied to, with why.
    pub failed: Vec<(String, String)>,
}

fn store_error(e: pincer_agent::store::StoreError) -> UserError {
    UserError::new(format!("无法读取对话记录：{e}"), format!("cannot read the conversations: {e}"))
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Lifecycle of one bot outside its channel.
#[derive(Debug, Clone)]
enum Phase {
    Connecting,
    Running(watch::Receiver<ChannelHealth>),
    Retrying { zh: String, en: String },
    Paused,
    Stopped,
    Fatal { zh: String, en: String },
}

/// The state a phase shows as.
struct View {
    state: &'static str,
    since: SystemTime,
    last_close_code: Option<u16>,
    explanation: Option<(String, String)>,
    health: Option<ChannelHealth>,
}

fn view(phase: &Phase, since: SystemTime) -> View {
    let mut v =
        View { state: "connecting", since, last_close_code: None, explanation: None, health: None };
    match phase {
        Phase::Connecting => {}
        Phase::Paused => v.state = "paused",
        Phase::Stopped => v.state = "stopped",
        Phase::Retrying { zh, en } => {
            v.state = "reconnecting";
            v.explanation = Some((zh.clone(), en.clone()));
        }
        Phase::Fatal { zh, en } => {
            v.state = "fatal";
            v.explanation = Some((zh.clone(), en.clone()));
        }
        Phase::Running(health) => {
            let h = health.borrow().clone();
            v.state = h.state.as_str();
            v.since = h.since;
            v.last_close_code = h.last_close_code;
            v.explanation = h.explanation.clone();
            v.health = Some(h);
        }
    }
    v
}

struct BotSlot {
    config: BotConfig,
    live: Arc<Mutex<BotConfig>>,
    phase: watch::Sender<(Phase, SystemTime)>,
    events_in: Arc<AtomicU64>,
    pairing_code: Arc<Mutex<Option<String>>>,
    skills: Arc<Mutex<crate::skills::BotSkills>>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl BotSlot {
    async fn stop(&mut self, phase: Phase) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.phase.send_replace((phase, SystemTime::now()));
    }
}

struct Inner {
    paths: PincerPaths,
    config: Mutex<Config>,
    secrets: Secrets,
    connector: Arc<dyn Connector>,
    engine: Engine,
    sink: Arc<RouterSink>,
    events: EventBus,
    process: Mutex<Option<watch::Receiver<ProcessStats>>>,
}

/// The bot supervisor.
pub struct Supervisor {
    inner: Arc<Inner>,
    bots: tokio::sync::Mutex<HashMap<String, BotSlot>>,
}

/// Why the supervisor could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisorError {
    /// The conversation store could not be opened.
    #[error("cannot open the conversation store: {0}")]
    Store(String),
}

/// Settings whose change needs a new connection.
fn connection_changed(a: &BotConfig, b: &BotConfig) -> bool {
    a.app_id != b.app_id
        || a.environment != b.environment
        || a.api_base != b.api_base
        || a.token_url != b.token_url
        || a.intents != b.intents
}

impl Supervisor {
    /// Opens the store, starts the agent, and starts every enabled bot on QQ.
    pub async fn start(
        paths: PincerPaths,
        config: Config,
        secrets: Secrets,
    ) -> Result<Supervisor, SupervisorError> {
        let connector = Arc::new(QqConnector::new(&paths.data_dir, reqwest::Client::new()));
        Self::start_with(paths, config, secrets, connector).await
    }

    /// [`start`](Self::start) with another channel connector.
    pub async fn start_with(
        paths: PincerPaths,
        config: Config,
        secrets: Secrets,
        connector: Arc<dyn Connector>,
    ) -> Result<Supervisor, SupervisorError> {
        let store = Store::open(paths.data_dir.join("pincer.sqlite3"))
            .await
            .map_err(|e| SupervisorError::Store(e.to_string()))?;
        let events = EventBus::new();
        let sink = Arc::new(RouterSink::new(events.clone()));
        let engine = Engine::new(store, sink.clone(), EngineConfig::default());
        let inner = Arc::new(Inner {
            paths,
            config: Mutex::new(config.clone()),
            secrets,
            connector,
            engine,
            sink,
            events,
            process: Mutex::new(None),
        });
        let supervisor = Supervisor { inner, bots: tokio::sync::Mutex::new(HashMap::new()) };
        {
            let mut bots = supervisor.bots.lock().await;
            for bot in config.bots.iter().filter(|b| b.enabled) {
                supervisor.start_bot(&mut bots, bot.clone());
            }
        }
        // Pending replies and unanswered messages of an earlier process are
        // picked up per bot once its connection is up (`BotRun::run`).
        Ok(supervisor)
    }

    /// The event stream (status changes, messages, replies, warnings).
    pub fn events(&self) -> EventBus {
        self.inner.events.clone()
    }

    /// Reports these process figures in [`process_stats`](Self::process_stats).
    pub fn set_process_stats(&self, stats: watch::Receiver<ProcessStats>) {
        *self.inner.process.lock().expect("process lock") = Some(stats);
    }

    /// The latest process figures, when a watchdog runs.
    pub fn process_stats(&self) -> Option<ProcessStats> {
        self.inner.process.lock().expect("process lock").as_ref().map(|s| s.borrow().clone())
    }

    fn start_bot(&self, bots: &mut HashMap<String, BotSlot>, config: BotConfig) {
        let (phase, phase_rx) = watch::channel((Phase::Connecting, SystemTime::now()));
        tokio::spawn(report(config.name.clone(), phase_rx, self.inner.events.clone()));
        let mut slot = BotSlot {
            live: Arc::new(Mutex::new(config.clone())),
            config: config.clone(),
            phase,
            events_in: Arc::new(AtomicU64::new(0)),
            pairing_code: Arc::new(Mutex::new(None)),
            skills: Arc::default(),
            cancel: CancellationToken::new(),
            task: None,
        };
        self.spawn_bot(&mut slot);
        bots.insert(config.name.clone(), slot);
    }

    fn bot_run(&self, slot: &BotSlot) -> BotRun {
        BotRun {
            inner: self.inner.clone(),
            config: slot.config.clone(),
            live: slot.live.clone(),
            phase: slot.phase.clone(),
            events_in: slot.events_in.clone(),
            pairing_code: slot.pairing_code.clone(),
            skills: slot.skills.clone(),
            cancel: slot.cancel.clone(),
        }
    }

    fn spawn_bot(&self, slot: &mut BotSlot) {
        slot.cancel = CancellationToken::new();
        let run = self.bot_run(slot);
        slot.task = Some(tokio::spawn(run.run()));
    }

    /// Pauses a bot: its connection closes (the session is saved) until
    /// [`resume`](Self::resume).
    pub async fn pause(&self, name: &str) -> bool {
        let mut bots = self.bots.lock().await;
        let Some(slot) = bots.get_mut(name) else { return false };
        slot.stop(Phase::Paused).await;
        true
    }

    /// Resumes a paused bot.
    pub async fn resume(&self, name: &str) -> bool {
        let mut bots = self.bots.lock().await;
        let Some(slot) = bots.get_mut(name) else { return false };
        if slot.task.as_ref().is_some_and(|t| !t.is_finished()) {
            return true;
        }
        self.spawn_bot(slot);
        true
    }

    /// Reads `config.toml` again and [`reload`](Self::reload)s it.
    pub async fn reload_from_disk(&self) -> Result<ReloadReport, ConfigError> {
        let loaded = Config::load(&self.inner.paths.config_file())?;
        Ok(self.reload(loaded.config).await)
    }

    /// Applies a changed config without a restart. A bot whose QQ settings
    /// are unchanged keeps its connection: a new model, provider, persona,
    /// skills list or allow list re-registers it with the agent (also when
    /// only its provider's entry changed). Added or enabled bots start;
    /// removed or disabled ones stop; a paused bot stays paused.
    pub async fn reload(&self, new: Config) -> ReloadReport {
        let old =
            std::mem::replace(&mut *self.inner.config.lock().expect("config lock"), new.clone());
        let mut report = ReloadReport::default();
        let mut bots = self.bots.lock().await;
        let names: Vec<String> = bots.keys().cloned().collect();
        for name in names {
            let wanted = new.bot(&name).filter(|b| b.enabled).cloned();
            let Some(wanted) = wanted else {
                let mut slot = bots.remove(&name).expect("listed");
                slot.stop(Phase::Stopped).await;
                self.inner.engine.remove_bot(&slot.config.app_id);
                self.inner.sink.remove(&slot.config.app_id);
                report.stopped.push(name);
                continue;
            };
            let slot = bots.get_mut(&name).expect("listed");
            if connection_changed(&slot.config, &wanted) {
                let paused = slot.task.is_none();
                slot.stop(Phase::Stopped).await;
                self.inner.engine.remove_bot(&slot.config.app_id);
                self.inner.sink.remove(&slot.config.app_id);
                slot.config = wanted.clone();
                *slot.live.lock().expect("live lock") = wanted;
                if paused {
                    slot.phase.send_replace((Phase::Paused, SystemTime::now()));
                } else {
                    self.spawn_bot(slot);
                }
                report.restarted.push(name);
                continue;
            }
            let provider =
                |c: &Config| wanted.provider.as_deref().and_then(|p| c.provider(p)).cloned();
            if slot.config != wanted || provider(&old) != provider(&new) {
                // A pairing since the start set the owner in the file too.
                slot.config = wanted.clone();
                *slot.live.lock().expect("live lock") = wanted;
                let run = self.bot_run(slot);
                match run.register_agent() {
                    Ok(()) => {
                        run.seed_price().await;
                        report.updated.push(name);
                    }
                    Err((_, en)) => {
                        tracing::warn!(bot = %name, error = %en, "cannot apply the new config");
                        report.failed.push((name, en));
                    }
                }
            }
        }
        for bot in new.bots.iter().filter(|b| b.enabled) {
            if !bots.contains_key(&bot.name) {
                self.start_bot(&mut bots, bot.clone());
                report.started.push(bot.name.clone());
            }
        }
        drop(bots);
        tracing::info!(?report, "config reloaded");
        self.inner.events.send(RuntimeEvent::Reloaded {
            started: report.started.clone(),
            stopped: report.stopped.clone(),
            updated: report.updated.clone(),
            restarted: report.restarted.clone(),
        });
        report
    }

    /// The status of every bot, in config order.
    pub async fn status(&self) -> Vec<BotStatus> {
        let order: Vec<String> = self
            .inner
            .config
            .lock()
            .expect("config lock")
            .bots
            .iter()
            .map(|b| b.name.clone())
            .collect();
        let bots = self.bots.lock().await;
        let today = pincer_agent::store::today();
        let usage = self.inner.engine.store().usage(None, &today, &today).await.unwrap_or_default();
        let mut out = Vec::new();
        for name in order {
            let Some(slot) = bots.get(&name) else { continue };
            let mut status = slot_status(slot);
            let agent_id = &slot.config.app_id;
            for row in usage.iter().filter(|r| &r.bot == agent_id) {
                status.tokens_today += row.input_tokens + row.output_tokens;
                status.cost_today += row.cost.unwrap_or(0.0);
            }
            status.replies_out =
                self.inner.engine.status(agent_id).map(|s| s.answered).unwrap_or(0);
            out.push(status);
        }
        out
    }

    /// Sends `text` to the bot's agent as the dashboard's test chat (a
    /// private chat that never reaches QQ) and waits for the whole answer.
    pub async fn test_chat(&self, name: &str, text: &str) -> Result<String, UserError> {
        let (agent_id, skills) = {
            let bots = self.bots.lock().await;
            let slot = bots.get(name).ok_or_else(|| {
                UserError::new(
                    format!("机器人 {name} 没有在运行：先完成设置或恢复它。"),
                    format!("bot {name} is not running: finish its setup or resume it"),
                )
            })?;
            (slot.config.app_id.clone(), slot.skills.clone())
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(UserError::new("请输入一句话。", "type a message first"));
        }
        let message_id = format!(
            "test-{}-{:08x}",
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos(),
            rand::random::<u32>()
        );
        let expanded = crate::skills::expand_command(text, &skills.lock().expect("skills lock"));
        let inbound = Inbound {
            bot: agent_id,
            message_id: message_id.clone(),
            scene: Scene::C2c { user: crate::channel::TEST_CHAT_USER.to_owned() },
            text: expanded.unwrap_or_else(|| text.to_owned()),
        };
        let mut replies = self.inner.sink.expect_test_reply(&message_id);
        let answer = async {
            match self.inner.engine.submit(inbound).await {
                Ok(Submitted::Queued | Submitted::RateLimitedRefusal) => {}
                Ok(Submitted::Duplicate | Submitted::RateLimitedSilently) => {
                    return Err(UserError::new(
                        "发得太快了，请稍等再试。",
                        "too many messages: wait a moment and try again",
                    ))
                }
                Err(e) => {
                    return Err(UserError::new(
                        format!("机器人的智能体没有接收这条消息：{e}"),
                        format!("the bot's agent did not take the message: {e}"),
                    ))
                }
            }
            let mut parts = Vec::new();
            let wait = Duration::from_secs(180);
            loop {
                match tokio::time::timeout(wait, replies.recv()).await {
                    Ok(Some(reply)) => {
                        let last = reply.part + 1 >= reply.parts;
                        parts.push(reply.text);
                        if last {
                            return Ok(parts.join("\n"));
                        }
                    }
                    Ok(None) | Err(_) => {
                        return Err(UserError::new(
                            "等了 3 分钟还没有回答：请检查模型服务。",
                            "no answer after 3 minutes: check the model provider",
                        ))
                    }
                }
            }
        }
        .await;
        self.inner.sink.forget_test_reply(&message_id);
        answer
    }

    /// The bot's conversations, the most recently active first.
    pub async fn conversations(
        &self,
        name: &str,
    ) -> Result<Vec<pincer_agent::store::ConversationSummary>, UserError> {
        let agent_id = self.agent_id(name).await?;
        self.inner.engine.store().conversations(&agent_id, 100).await.map_err(store_error)
    }

    /// The newest turns of one of the bot's conversations, oldest first.
    pub async fn transcript(
        &self,
        name: &str,
        conversation: &str,
    ) -> Result<Vec<pincer_agent::store::Turn>, UserError> {
        let agent_id = self.agent_id(name).await?;
        self.inner.engine.store().history(&agent_id, conversation, 200).await.map_err(store_error)
    }

    async fn agent_id(&self, name: &str) -> Result<String, UserError> {
        if let Some(slot) = self.bots.lock().await.get(name) {
            return Ok(slot.config.app_id.clone());
        }
        let config = self.inner.config.lock().expect("config lock");
        config.bot(name).map(|b| b.app_id.clone()).ok_or_else(|| {
            UserError::new(
                format!("没有名为 {name} 的机器人。"),
                format!("there is no bot named {name}"),
            )
        })
    }

    /// Stops every bot: no new events are taken, replies in flight are
    /// delivered, gateway sessions are saved for the next start.
    pub async fn shutdown(&self) {
        let mut bots = self.bots.lock().await;
        for slot in bots.values_mut() {
            slot.cancel.cancel();
        }
        for slot in bots.values_mut() {
            slot.stop(Phase::Stopped).await;
        }
        drop(bots);
        self.inner.engine.shutdown().await;
    }
}

/// Publishes a [`RuntimeEvent::BotStatus`] each time the bot's state (or
/// close code) changes, until the bot is dropped.
async fn report(bot: String, mut phase: watch::Receiver<(Phase, SystemTime)>, events: EventBus) {
    let mut last = None;
    loop {
        let (current, since) = phase.borrow_and_update().clone();
        let mut health = match &current {
            Phase::Running(h) => {
                let mut h = h.clone();
                h.borrow_and_update();
                Some(h)
            }
            _ => None,
        };
        let v = view(&current, since);
        let key = (v.state, v.last_close_code);
        if last != Some(key) {
            last = Some(key);
            events.send(RuntimeEvent::BotStatus {
                bot: bot.clone(),
                state: v.state,
                since: unix(v.since),
                last_close_code: v.last_close_code,
                explanation_zh: v.explanation.as_ref().map(|e| e.0.clone()),
                explanation: v.explanation.map(|e| e.1),
            });
        }
        match &mut health {
            Some(h) => {
                tokio::select! {
                    r = phase.changed() => if r.is_err() { return },
                    r = h.changed() => if r.is_err() && phase.changed().await.is_err() { return },
                }
            }
            None => {
                if phase.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

fn slot_status(slot: &BotSlot) -> BotStatus {
    let (phase, phase_since) = slot.phase.borrow().clone();
    let v = view(&phase, phase_since);
    let mut status = BotStatus {
        name: slot.config.name.clone(),
        app_id: slot.config.app_id.clone(),
        state: v.state,
        since: unix(v.since),
        last_close_code: v.last_close_code,
        explanation_zh: v.explanation.as_ref().map(|e| e.0.clone()),
        explanation: v.explanation.map(|e| e.1),
        heartbeat_rtt_ms: None,
        heartbeat_rtts_ms: Vec::new(),
        last_ack_at: None,
        resumes: 0,
        identifies: 0,
        events_in: slot.events_in.load(Ordering::Relaxed),
        replies_out: 0,
        tokens_today: 0,
        cost_today: 0.0,
        pairing_code: slot.pairing_code.lock().expect("pairing lock").clone(),
    };
    if let Some(h) = v.health {
        status.heartbeat_rtt_ms = h.keepalive_rtts_ms.last().copied();
        status.heartbeat_rtts_ms = h.keepalive_rtts_ms;
        status.last_ack_at = h.last_keepalive_at.map(unix);
        status.resumes = h.resumes;
        status.identifies = h.identifies;
    }
    status
}

/// Inbound messages taken in one go at most (see `BotRun::run`).
const MAX_BURST: usize = 256;

/// A task that is aborted when this handle is dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One bot's run: connect, pump, reconnect after failures, until cancelled.
struct BotRun {
    inner: Arc<Inner>,
    /// The config the run started with (its connection settings).
    config: BotConfig,
    /// The current config, changed by reloads and pairing.
    live: Arc<Mutex<BotConfig>>,
    phase: watch::Sender<(Phase, SystemTime)>,
    events_in: Arc<AtomicU64>,
    pairing_code: Arc<Mutex<Option<String>>>,
    /// The bot's active skills, for its `/commands`.
    skills: Arc<Mutex<crate::skills::BotSkills>>,
    cancel: CancellationToken,
}

impl BotRun {
    fn set(&self, phase: Phase) {
        self.phase.send_replace((phase, SystemTime::now()));
    }

    async fn run(self) {
        let name = self.config.name.clone();
        let secret = match self.inner.secrets.get(&SecretName::BotAppSecret(name.clone())) {
            Ok(Some((secret, _))) => secret,
            Ok(None) => {
                return self.set(Phase::Fatal {
                    zh: format!("没有机器人 {name} 的 AppSecret：请重新运行 `pincer bot add`。"),
                    en: format!("no AppSecret for bot {name}: run `pincer bot add` again"),
                })
            }
            Err(e) => return self.set(Phase::Fatal { zh: e.explain_zh(), en: e.to_string() }),
        };
        if let Err((zh, en)) = self.register_agent() {
            return self.set(Phase::Fatal { zh, en });
        }
        self.follow_skills();
        self.seed_price().await;
        if self.config.owner.is_none() {
            let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
            tracing::info!(bot = %name, "pairing code for the bot's owner: {code}");
            *self.pairing_code.lock().expect("pairing lock") = Some(code);
        }
        let mut failures = 0u32;
        // What an earlier process left (replies to deliver, messages to
        // answer), picked up once, on the first connection, in its own task:
        // delivering them can wait for a full disk or retry for minutes, and
        // inbound messages must be taken meanwhile. Dropped with this run (the
        // guard aborts it), so it never outlives a paused or stopped bot.
        let mut resuming: Option<AbortOnDrop> = None;
        loop {
            self.set(Phase::Connecting);
            let connected = tokio::select! {
                _ = self.cancel.cancelled() => return,
                c = self.inner.connector.connect(&self.config, secret.clone()) => c,
            };
            let (channel, mut rx) = match connected {
                Ok(ok) => ok,
                Err(e) => {
                    if !e.transient {
                        return self.set(Phase::Fatal { zh: e.zh, en: e.en });
                    }
                    failures += 1;
                    self.set(Phase::Retrying { zh: e.zh, en: e.en });
                    let delay = Duration::from_secs((1u64 << failures.min(6)).min(60));
                    tokio::select! {
                        _ = self.cancel.cancelled() => return,
                        _ = tokio::time::sleep(delay) => continue,
                    }
                }
            };
            failures = 0;
            self.inner.sink.insert(&self.config.app_id, &name, channel.sink());
            self.set(Phase::Running(channel.health()));
            if resuming.is_none() {
                // Now that replies can go out.
                resuming = Some(self.spawn_resume());
            }
            loop {
                let delivery = tokio::select! {
                    _ = self.cancel.cancelled() => None,
                    d = rx.recv() => d,
                };
                let Some(delivery) = delivery else { break };
                // What else has arrived meanwhile is taken with it, in one
                // store commit: under a flood, messages are taken as fast as
                // they come, not one commit at a time.
                let mut burst = vec![delivery];
                while burst.len() < MAX_BURST {
                    match rx.try_recv() {
                        Ok(d) => burst.push(d),
                        Err(_) => break,
                    }
                }
                self.handle(channel.as_ref(), burst).await;
            }
            let health = channel.health().borrow().clone();
            channel.shutdown().await;
            if self.cancel.is_cancelled() {
                return;
            }
            if health.state == ChannelState::Fatal {
                let (zh, en) = health.explanation.unwrap_or_else(|| {
                    ("连接已被平台关闭。".into(), "the platform closed the connection".into())
                });
                return self.set(Phase::Fatal { zh, en });
            }
        }
    }

    /// Starts picking up what an earlier process left for this bot: pending
    /// replies are delivered, unanswered messages queued. Ends early when the
    /// bot is cancelled; the returned guard aborts it when dropped.
    fn spawn_resume(&self) -> AbortOnDrop {
        let engine = self.inner.engine.clone();
        let cancel = self.cancel.clone();
        let (name, app_id) = (self.config.name.clone(), self.config.app_id.clone());
        AbortOnDrop(tokio::spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                resumed = engine.resume_bot(&app_id) => if let Err(e) = resumed {
                    tracing::error!(bot = %name, error = %e, "cannot pick up pending replies");
                }
            }
        }))
    }

    /// Gives the bot's model the preset's default price, unless the user set
    /// one, so that "cost today" means something from the first message.
    async fn seed_price(&self) {
        let config = self.inner.config.lock().expect("config lock").clone();
        let Some(pid) = self.config.provider.as_deref() else { return };
        let Some(provider) = config.provider(pid) else { return };
        let Some(preset) = provider.preset.as_deref().and_then(presets::preset) else { return };
        let model = self.config.model.clone().unwrap_or_else(|| provider.model.clone());
        let store = self.inner.engine.store();
        let known = store.prices().await.unwrap_or_default();
        if known.iter().any(|(p, m, _)| p == pid && *m == model) {
            return;
        }
        let price = pincer_agent::Price {
            input_per_million: preset.price.input_per_million,
            output_per_million: preset.price.output_per_million,
            currency: match preset.price.currency {
                presets::Currency::Cny => "CNY".into(),
                presets::Currency::Usd => "USD".into(),
            },
        };
        if let Err(e) = store.set_price(pid, &model, price).await {
            tracing::warn!(error = %e, "cannot store the model's default price");
        }
    }

    fn register_agent(&self) -> Result<(), (String, String)> {
        let config = self.inner.config.lock().expect("config lock").clone();
        let Some(pid) = self.config.provider.as_deref() else {
            return Err((
                format!(
                    "机器人 {} 还没有模型服务：用 `pincer bot add --provider` 指定。",
                    self.config.name
                ),
                format!(
                    "bot {} has no model provider: set one with `pincer bot add --provider`",
                    self.config.name
                ),
            ));
        };
        let Some(provider) = config.provider(pid) else {
            return Err((
                format!("找不到模型服务 {pid}。"),
                format!("unknown model provider {pid}"),
            ));
        };
        let key = match self.inner.secrets.get(&SecretName::ProviderApiKey(pid.to_owned())) {
            Ok(key) => key.map(|(k, _)| ApiKey::new(k.expose())),
            Err(e) => return Err((e.explain_zh(), e.to_string())),
        };
        let model = self.config.model.clone().unwrap_or_else(|| provider.model.clone());
        let preset = provider.preset.as_deref().and_then(presets::preset);
        let mut agent_provider = match preset {
            Some(p) => AgentProvider::from_preset(p, key),
            None => AgentProvider::custom(provider.base_url.clone(), model.clone(), key),
        };
        agent_provider.base_url = provider.base_url.clone();
        agent_provider.model = model.clone();
        agent_provider.kind = match provider.kind {
            ProviderKind::OpenAi => presets::ProviderKind::OpenAi,
            ProviderKind::Anthropic => presets::ProviderKind::Anthropic,
        };
        let mut bot = AgentBot::new(
            self.config.app_id.clone(),
            agent_provider.build(),
            ModelConfig::new(pid, model),
        );
        if !self.config.persona.is_empty() {
            bot.persona = pincer_agent::context::Persona::custom(self.config.persona.clone());
        }
        bot.owners = self.config.owner.iter().cloned().collect();
        bot.daily_token_cap = self.config.daily_token_cap;
        bot.daily_cost_cap = self.config.daily_cost_cap;
        let workspace =
            self.inner.paths.data_dir.join("bots").join(&self.config.name).join("workspace");
        if let Err(e) = std::fs::create_dir_all(&workspace) {
            return Err((
                format!("无法创建 {}：{e}", workspace.display()),
                format!("cannot create {}: {e}", workspace.display()),
            ));
        }
        bot.workspace = workspace;
        let skills =
            crate::skills::apply(&self.inner.paths, &self.inner.secrets, &self.config, &mut bot);
        *self.skills.lock().expect("skills lock") = skills;
        self.inner.engine.add_bot(bot);
        Ok(())
    }

    /// Takes a burst of inbound messages, in order: pairing codes, the
    /// allow lists and skill commands first, then one submission of the
    /// rest to the agent; each is acknowledged once taken.
    async fn handle(&self, channel: &dyn Channel, burst: Vec<crate::channel::InboundDelivery>) {
        let mut inbounds = Vec::with_capacity(burst.len());
        let mut acks = Vec::with_capacity(burst.len());
        for delivery in burst {
            let mut inbound = delivery.inbound;
            self.events_in.fetch_add(1, Ordering::Relaxed);
            self.inner.events.send(RuntimeEvent::MessageIn {
                bot: self.config.name.clone(),
                scene: scene_kind(&inbound.scene),
                target: inbound.scene.target_id().to_owned(),
                sender: inbound.scene.sender().to_owned(),
                text: inbound.text.clone(),
            });
            if self.try_pair(channel, &inbound).await || !self.allowed(&inbound) {
                delivery.ack.done();
                continue;
            }
            let expanded = crate::skills::expand_command(
                &inbound.text,
                &self.skills.lock().expect("skills lock"),
            );
            if let Some(text) = expanded {
                inbound.text = text;
            }
            inbounds.push(inbound);
            acks.push(delivery.ack);
        }
        if inbounds.is_empty() {
            return;
        }
        for (result, ack) in self.inner.engine.submit_all(inbounds).await.into_iter().zip(acks) {
            if let Err(e) = result {
                tracing::warn!(bot = %self.config.name, error = %e, "the agent did not take a message");
            }
            ack.done();
        }
    }

    fn allowed(&self, inbound: &Inbound) -> bool {
        let live = self.live.lock().expect("live lock");
        match &inbound.scene {
            Scene::Group { group, .. } => {
                live.allowed_groups.is_empty() || live.allowed_groups.contains(group)
            }
            Scene::C2c { user } => {
                live.allowed_users.is_empty() || live.allowed_users.contains(user)
            }
            _ => true,
        }
    }

    /// The first user who sends the pairing code in a private chat becomes
    /// the owner (saved to the config).
    async fn try_pair(&self, channel: &dyn Channel, inbound: &Inbound) -> bool {
        let Scene::C2c { user } = &inbound.scene else { return false };
        let code = self.pairing_code.lock().expect("pairing lock").clone();
        let Some(code) = code else { return false };
        if inbound.text.trim() != code {
            return false;
        }
        *self.pairing_code.lock().expect("pairing lock") = None;
        let owner = user.clone();
        {
            let mut config = self.inner.config.lock().expect("config lock");
            if let Some(bot) = config.bots.iter_mut().find(|b| b.name == self.config.name) {
                bot.owner = Some(owner.clone());
            }
            if let Err(e) = config.save(&self.inner.paths.config_file()) {
                tracing::error!(error = %e, "cannot save the new owner");
            }
        }
        tracing::info!(bot = %self.config.name, "the bot has an owner now");
        let _ = self.register_agent_owner(&owner);
        let reply = OutboundReply {
            id: 0,
            bot: self.config.app_id.clone(),
            scene: inbound.scene.clone(),
            reply_to_message_id: inbound.message_id.clone(),
            text: "配对成功：你现在是这个机器人的主人。\nPaired: you are this bot's owner now."
                .into(),
            markdown: false,
            part: 0,
            parts: 1,
            attempts: 0,
        };
        if let Err(e) = channel.sink().deliver(&reply).await {
            tracing::warn!(error = %e, "cannot confirm the pairing");
        }
        true
    }

    fn register_agent_owner(&self, owner: &str) -> Result<(), (String, String)> {
        let mut config = self.live.lock().expect("live lock").clone();
        config.owner = Some(owner.to_owned());
        *self.live.lock().expect("live lock") = config;
        self.with_live_config().register_agent()
    }

    /// The same run, seen with the bot's current (live) config.
    fn with_live_config(&self) -> BotRun {
        BotRun {
            inner: self.inner.clone(),
            config: self.live.lock().expect("live lock").clone(),
            live: self.live.clone(),
            phase: self.phase.clone(),
            events_in: self.events_in.clone(),
            pairing_code: self.pairing_code.clone(),
            skills: self.skills.clone(),
            cancel: self.cancel.clone(),
        }
    }

    /// Re-registers the bot with the agent whenever a skill folder changes
    /// (a skill added, edited or removed): live, without reconnecting.
    fn follow_skills(&self) {
        let run = self.with_live_config();
        let (paths, secrets) = (self.inner.paths.clone(), self.inner.secrets.clone());
        let cancel = self.cancel.child_token();
        let bot = self.config.clone();
        tokio::spawn(async move {
            let mut first = true;
            let followed = crate::skills::follow(paths, secrets, bot, cancel, move |_| {
                // The first report is the state registration already used.
                if std::mem::take(&mut first) {
                    return;
                }
                if let Err((_, en)) = run.with_live_config().register_agent() {
                    tracing::warn!(bot = %run.config.name, error = %en, "cannot apply changed skills");
                } else {
                    tracing::info!(bot = %run.config.name, "skills changed; applied without reconnecting");
                }
            })
            .await;
            if let Err(e) = followed {
                tracing::warn!(error = %e, "cannot watch the skill folders; changes apply on reload");
            }
        });
    }
}
