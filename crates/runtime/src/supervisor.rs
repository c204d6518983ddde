//! Runs every enabled bot: its QQ connection, its agent, and the pump that
//! carries QQ events to the agent; restarts what fails, with backoff; pauses,
//! resumes and stops bots; drains on shutdown; and reports one status per bot.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use pincer_agent::provider::presets::{self, ProviderConfig as AgentProvider};
use pincer_agent::provider::ApiKey;
use pincer_agent::qq_sink::QqReplySink;
use pincer_agent::{BotConfig as AgentBot, Engine, EngineConfig, Inbound, ModelConfig, Store};
use pincer_qq::gateway::{ShardHealth, ShardState};
use pincer_qq::model::Event;
use pincer_qq::outbound::ReplyTarget;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{BotConfig, Config, ProviderKind};
use crate::paths::PincerPaths;
use crate::qq_connection::{ConnectError, Delivery, QqConnection};
use crate::secrets::{SecretName, Secrets};

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

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Lifecycle of one bot outside its shards.
#[derive(Debug, Clone)]
enum Phase {
    Connecting,
    Running(Vec<watch::Receiver<ShardHealth>>),
    Retrying { zh: String, en: String },
    Paused,
    Stopped,
    Fatal { zh: String, en: String },
}

struct BotSlot {
    config: BotConfig,
    phase: watch::Sender<(Phase, SystemTime)>,
    events_in: Arc<AtomicU64>,
    pairing_code: Arc<Mutex<Option<String>>>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

struct Inner {
    paths: PincerPaths,
    config: Mutex<Config>,
    secrets: Secrets,
    http: reqwest::Client,
    engine: Engine,
    sink: Arc<QqReplySink>,
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

impl Supervisor {
    /// Opens the store, starts the agent, and starts every enabled bot.
    pub async fn start(
        paths: PincerPaths,
        config: Config,
        secrets: Secrets,
    ) -> Result<Supervisor, SupervisorError> {
        let store = Store::open(paths.data_dir.join("pincer.sqlite3"))
            .await
            .map_err(|e| SupervisorError::Store(e.to_string()))?;
        let sink = Arc::new(QqReplySink::new());
        let engine = Engine::new(store, sink.clone(), EngineConfig::default());
        let inner = Arc::new(Inner {
            paths,
            config: Mutex::new(config.clone()),
            secrets,
            http: reqwest::Client::new(),
            engine,
            sink,
        });
        let supervisor = Supervisor { inner, bots: tokio::sync::Mutex::new(HashMap::new()) };
        for bot in config.bots.iter().filter(|b| b.enabled) {
            supervisor.start_bot(bot.clone()).await;
        }
        if let Err(e) = supervisor.inner.engine.start().await {
            tracing::error!(error = %e, "cannot resume pending replies");
        }
        Ok(supervisor)
    }

    async fn start_bot(&self, config: BotConfig) {
        let (phase, _) = watch::channel((Phase::Connecting, SystemTime::now()));
        let mut slot = BotSlot {
            config: config.clone(),
            phase,
            events_in: Arc::new(AtomicU64::new(0)),
            pairing_code: Arc::new(Mutex::new(None)),
            cancel: CancellationToken::new(),
            task: None,
        };
        self.spawn_bot(&mut slot);
        self.bots.lock().await.insert(config.name.clone(), slot);
    }

    fn spawn_bot(&self, slot: &mut BotSlot) {
        slot.cancel = CancellationToken::new();
        let run = BotRun {
            inner: self.inner.clone(),
            config: slot.config.clone(),
            phase: slot.phase.clone(),
            events_in: slot.events_in.clone(),
            pairing_code: slot.pairing_code.clone(),
            cancel: slot.cancel.clone(),
        };
        slot.task = Some(tokio::spawn(run.run()));
    }

    /// Pauses a bot: its connection closes (the session is saved) until
    /// [`resume`](Self::resume).
    pub async fn pause(&self, name: &str) -> bool {
        let mut bots = self.bots.lock().await;
        let Some(slot) = bots.get_mut(name) else { return false };
        slot.cancel.cancel();
        if let Some(task) = slot.task.take() {
            let _ = task.await;
        }
        slot.phase.send_replace((Phase::Paused, SystemTime::now()));
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

    /// Stops every bot: no new events are taken, replies in flight are
    /// delivered, gateway sessions are saved for the next start.
    pub async fn shutdown(&self) {
        let mut bots = self.bots.lock().await;
        for slot in bots.values_mut() {
            slot.cancel.cancel();
        }
        for slot in bots.values_mut() {
            if let Some(task) = slot.task.take() {
                let _ = task.await;
            }
            slot.phase.send_replace((Phase::Stopped, SystemTime::now()));
        }
        drop(bots);
        self.inner.engine.shutdown().await;
    }
}

fn slot_status(slot: &BotSlot) -> BotStatus {
    let (phase, phase_since) = slot.phase.borrow().clone();
    let mut status = BotStatus {
        name: slot.config.name.clone(),
        app_id: slot.config.app_id.clone(),
        state: "connecting",
        since: unix(phase_since),
        last_close_code: None,
        explanation: None,
        explanation_zh: None,
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
    match phase {
        Phase::Connecting => {}
        Phase::Paused => status.state = "paused",
        Phase::Stopped => status.state = "stopped",
        Phase::Retrying { zh, en } => {
            status.state = "reconnecting";
            status.explanation = Some(en);
            status.explanation_zh = Some(zh);
        }
        Phase::Fatal { zh, en } => {
            status.state = "fatal";
            status.explanation = Some(en);
            status.explanation_zh = Some(zh);
        }
        Phase::Running(shards) => {
            // The worst shard speaks for the bot.
            let healths: Vec<ShardHealth> = shards.iter().map(|h| h.borrow().clone()).collect();
            let worst = healths.iter().max_by_key(|h| severity(h.state)).cloned();
            if let Some(h) = worst {
                status.state = h.state.as_str();
                status.since = unix(h.since);
                if let Some(fatal) = &h.fatal {
                    status.explanation = Some(fatal.en.clone());
                    status.explanation_zh = Some(fatal.zh.clone());
                }
                if let Some(close) = &h.last_close {
                    status.last_close_code = close.code.map(|c| c.as_u16());
                    if status.explanation.is_none() {
                        status.explanation = Some(close.explain_en().to_owned());
                        status.explanation_zh = Some(close.explain_zh().to_owned());
                    }
                }
            }
            for h in &healths {
                status.resumes += h.resumes;
                status.identifies += h.identifies;
            }
            if let Some(first) = healths.first() {
                status.heartbeat_rtt_ms = first.latest_rtt().map(|d| d.as_secs_f64() * 1000.0);
                status.heartbeat_rtts_ms =
                    first.heartbeat_rtts.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
                status.last_ack_at = first.last_heartbeat_ack.map(unix);
            }
        }
    }
    status
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

/// One bot's run: connect, pump, reconnect after failures, until cancelled.
struct BotRun {
    inner: Arc<Inner>,
    config: BotConfig,
    phase: watch::Sender<(Phase, SystemTime)>,
    events_in: Arc<AtomicU64>,
    pairing_code: Arc<Mutex<Option<String>>>,
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
        self.seed_price().await;
        if self.config.owner.is_none() {
            let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
            tracing::info!(bot = %name, "pairing code for the bot's owner: {code}");
            *self.pairing_code.lock().expect("pairing lock") = Some(code);
        }
        let mut failures = 0u32;
        loop {
            self.set(Phase::Connecting);
            let connected = tokio::select! {
                _ = self.cancel.cancelled() => return,
                c = QqConnection::connect(&self.config, secret.clone(), &self.inner.paths.data_dir, self.inner.http.clone()) => c,
            };
            let (connection, mut rx) = match connected {
                Ok(ok) => ok,
                Err(e) => {
                    let transient = match &e {
                        ConnectError::Qq { source, .. } => source.is_retryable(),
                        ConnectError::Quota { .. } => true,
                        _ => false,
                    };
                    if !transient {
                        return self.set(Phase::Fatal { zh: e.explain_zh(), en: e.to_string() });
                    }
                    failures += 1;
                    self.set(Phase::Retrying { zh: e.explain_zh(), en: e.to_string() });
                    let delay = Duration::from_secs((1u64 << failures.min(6)).min(60));
                    tokio::select! {
                        _ = self.cancel.cancelled() => return,
                        _ = tokio::time::sleep(delay) => continue,
                    }
                }
            };
            failures = 0;
            self.inner.sink.insert(self.config.app_id.clone(), connection.replier());
            self.set(Phase::Running(connection.health().to_vec()));
            loop {
                let delivery = tokio::select! {
                    _ = self.cancel.cancelled() => None,
                    d = rx.recv() => d,
                };
                let Some(delivery) = delivery else { break };
                self.handle(&connection, delivery).await;
            }
            let health: Vec<ShardHealth> =
                connection.health().iter().map(|h| h.borrow().clone()).collect();
            connection.shutdown().await;
            if self.cancel.is_cancelled() {
                return;
            }
            if let Some(fatal) = health.iter().find_map(|h| h.fatal.clone()) {
                return self.set(Phase::Fatal { zh: fatal.zh, en: fatal.en });
            }
        }
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
        let workspace =
            self.inner.paths.data_dir.join("bots").join(&self.config.name).join("workspace");
        if let Err(e) = std::fs::create_dir_all(&workspace) {
            return Err((
                format!("无法创建 {}：{e}", workspace.display()),
                format!("cannot create {}: {e}", workspace.display()),
            ));
        }
        bot.workspace = workspace;
        self.inner.engine.add_bot(bot);
        Ok(())
    }

    async fn handle(&self, connection: &QqConnection, delivery: Delivery) {
        let event = &delivery.dispatch.event;
        if event.message_id().is_some() {
            self.events_in.fetch_add(1, Ordering::Relaxed);
        }
        if self.try_pair(connection, event).await {
            return delivery.done();
        }
        if let Some(inbound) = Inbound::from_event(self.config.app_id.clone(), event) {
            if self.allowed(&inbound) {
                if let Err(e) = self.inner.engine.submit(inbound).await {
                    tracing::warn!(bot = %self.config.name, error = %e, "the agent did not take a message");
                }
            }
        }
        delivery.done();
    }

    fn allowed(&self, inbound: &Inbound) -> bool {
        use pincer_agent::Scene;
        match &inbound.scene {
            Scene::Group { group, .. } => {
                self.config.allowed_groups.is_empty() || self.config.allowed_groups.contains(group)
            }
            Scene::C2c { user } => {
                self.config.allowed_users.is_empty() || self.config.allowed_users.contains(user)
            }
            _ => true,
        }
    }

    /// The first QQ user who sends the pairing code in a private chat becomes
    /// the owner (saved to the config).
    async fn try_pair(&self, connection: &QqConnection, event: &Event) -> bool {
        let Event::C2cMessageCreate(m) = event else { return false };
        let code = self.pairing_code.lock().expect("pairing lock").clone();
        let Some(code) = code else { return false };
        if m.content.trim() != code {
            return false;
        }
        *self.pairing_code.lock().expect("pairing lock") = None;
        let owner = m.author.user_openid.clone();
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
        let reply = "配对成功：你现在是这个机器人的主人。\nPaired: you are this bot's owner now.";
        if let Err(e) =
            connection.replier().reply(&ReplyTarget::c2c(&owner, &m.id), reply, false).await
        {
            tracing::warn!(error = %e, "cannot confirm the pairing");
        }
        true
    }

    fn register_agent_owner(&self, owner: &str) -> Result<(), (String, String)> {
        let mut config = self.config.clone();
        config.owner = Some(owner.to_owned());
        BotRun {
            inner: self.inner.clone(),
            config,
            phase: self.phase.clone(),
            events_in: self.events_in.clone(),
            pairing_code: self.pairing_code.clone(),
            cancel: self.cancel.clone(),
        }
        .register_agent()
    }
}
