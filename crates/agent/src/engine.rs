//! The processing engine: accepts inbound messages, answers them with the
//! bot's model and tools, and delivers the answers through a [`ReplySink`].
//!
//! - **Idempotent intake**: a message is recorded on `(bot, message id)`
//!   before anything else; a replayed or duplicated event is dropped.
//! - **Ordering and parallelism**: one worker task per conversation
//!   processes its messages in order, from a bounded queue (submitting waits
//!   when it is full: back-pressure); conversations run in parallel, at most
//!   [`EngineConfig::max_concurrent`] at a time.
//! - **Outbox**: the answer, the history turns and the outbox entries are
//!   committed in one transaction before sending; entries go pending → sent
//!   or failed. [`Engine::start`] delivers entries left pending by a crash and
//!   re-queues messages that were accepted but never answered.
//! - **Guards**: a per-user rate limit (one polite refusal, no tokens spent),
//!   a per-bot daily token/cost cap (one message per user per day, status
//!   flag), and an apology after the provider's last failure.
//! - **Stopping**: [`Engine::shutdown`] drains queued work;
//!   [`Engine::cancel`] stops at once (unfinished work resumes on restart).

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::context::{estimate_tokens, estimate_tools_tokens, trim_to_budget, Persona, Summarizer};
use crate::provider::{ChatMessage, ChatProvider, ChatRequest, ProviderError, Role, Usage};
use crate::scene::{ConversationKey, Inbound, Scene};
use crate::store::{
    now_secs, today, Commit, OutboundReply, Store, StoreError, ToolCallRecord, Turn, TurnRole,
    UsageEntry,
};
use crate::tools::{ToolContext, ToolRegistry};

/// What the platform answered for a delivered reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delivered {
    /// The platform's message id or `msg_seq`, stored with the entry.
    pub response_id: Option<String>,
}

/// Why a reply could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// Worth retrying (network, platform hiccup).
    #[error("temporary delivery failure: {0}")]
    Transient(String),
    /// Retrying cannot help (reply window expired, bot removed from group…).
    #[error("delivery failed: {0}")]
    Permanent(String),
    /// The connector could not record what it needs to send the reply
    /// safely (a full disk under its reply ledger). Nothing was sent; the
    /// engine waits and tries again however long it takes, without counting
    /// attempts: giving up would lose the reply.
    #[error("{en}")]
    Storage {
        /// What went wrong and what to do, in English.
        en: String,
        /// The same in Chinese.
        zh: String,
    },
}

/// Sends replies to QQ; the connector implements it (e.g. over
/// `pincer_qq::outbound::Replier`, one `reply` per entry: each entry is one
/// chunk already shaped for the bot).
///
/// Delivery is at-least-once across crashes: an entry whose send was not
/// confirmed before a crash is sent again on restart, with
/// [`OutboundReply::attempts`] > 0 so the connector can detect it (QQ
/// rejects a repeated `msg_seq` for the same `msg_id`, which the connector
/// can map to success). Within one run each entry is sent exactly once.
#[async_trait::async_trait]
pub trait ReplySink: Send + Sync {
    /// Sends one entry.
    async fn deliver(&self, reply: &OutboundReply) -> Result<Delivered, DeliveryError>;
}

/// The model a bot uses.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// Provider name (for usage and prices), e.g. `deepseek`.
    pub provider: String,
    /// Model id, e.g. `deepseek-chat`.
    pub model: String,
    /// Context window in tokens (estimated, see [`crate::context`]).
    pub context_tokens: usize,
    /// Output token limit per call.
    pub max_output_tokens: u32,
    /// Sampling temperature.
    pub temperature: Option<f32>,
}

impl ModelConfig {
    /// A model with a 32k context and 2k output tokens.
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> Self {
        ModelConfig {
            provider: provider.into(),
            model: model.into(),
            context_tokens: 32_000,
            max_output_tokens: 2_000,
            temperature: None,
        }
    }
}

/// A per-user rate limit: at most `max_messages` within `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Messages allowed per window.
    pub max_messages: u32,
    /// The sliding window.
    pub per: Duration,
}

/// Texts the engine sends to users on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTexts {
    /// Sent once when a user exceeds the rate limit.
    pub rate_limited: String,
    /// Sent once per user per day when the bot's daily cap is reached.
    pub daily_cap: String,
    /// Sent after the model provider's last failure.
    pub apology: String,
    /// Sent when the model answered nothing.
    pub empty_answer: String,
}

impl UserTexts {
    /// Simplified Chinese (the default).
    pub fn zh_cn() -> Self {
        UserTexts {
            rate_limited: "你发消息有点快啦，请稍等一会儿再问我～".into(),
            daily_cap: "今天的使用额度已经用完了，明天再来找我吧。如需继续使用，请联系机器人的主人调整每日额度。".into(),
            apology: "抱歉，我暂时无法回答，请稍后再试。".into(),
            empty_answer: "抱歉，我没有想好怎么回答，请换个说法再试一次。".into(),
        }
    }

    /// English.
    pub fn en() -> Self {
        UserTexts {
            rate_limited: "You're sending messages a bit fast; please wait a moment before asking again."
                .into(),
            daily_cap: "Today's usage allowance is used up; please come back tomorrow, or ask the bot's owner to raise the daily limit.".into(),
            apology: "Sorry, I can't answer right now; please try again later.".into(),
            empty_answer: "Sorry, I couldn't come up with an answer; please rephrase and try again."
                .into(),
        }
    }
}

impl Default for UserTexts {
    fn default() -> Self {
        Self::zh_cn()
    }
}

/// Everything the engine knows about one bot. Bots are isolated: each has
/// its own persona, model, provider, tools, workspace and history.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// The bot's id (QQ AppID); conversations and usage are keyed by it.
    pub id: String,
    /// System prompt.
    pub persona: Persona,
    /// Model settings.
    pub model: ModelConfig,
    /// The model endpoint.
    pub provider: Arc<dyn ChatProvider>,
    /// Tools offered to the model.
    pub tools: ToolRegistry,
    /// The owner's ids (C2C user openid, group member openids, guild user id).
    pub owners: Vec<String>,
    /// Whether the bot may send markdown; when not, answers are converted
    /// with `pincer_qq::text::markdown_to_plain`.
    pub markdown: bool,
    /// Characters per QQ message; longer answers are split.
    pub max_chars: usize,
    /// Per-user rate limit.
    pub rate_limit: Option<RateLimit>,
    /// Daily token cap (input + output), China Standard Time days.
    pub daily_token_cap: Option<u64>,
    /// Daily cost cap, in the price table's currency.
    pub daily_cost_cap: Option<f64>,
    /// The bot's workspace folder.
    pub workspace: PathBuf,
    /// Folders of enabled skills.
    pub skill_dirs: Vec<PathBuf>,
    /// Binaries enabled skills declare (for `exec`).
    pub declared_binaries: Vec<String>,
    /// Tool rounds per message before the model must answer.
    pub max_tool_rounds: u32,
    /// Bytes of one tool result fed back to the model (the rest is cut).
    pub max_tool_result_bytes: usize,
    /// Stored turns loaded before trimming to the token budget.
    pub history_turns: usize,
    /// Optional rolling summary of trimmed history.
    pub summarizer: Option<Arc<dyn Summarizer>>,
    /// Texts sent by the engine itself.
    pub texts: UserTexts,
}

impl BotConfig {
    /// A bot with the default persona (助手), no tools, plain text, 20
    /// messages per minute per user and no caps.
    pub fn new(id: impl Into<String>, provider: Arc<dyn ChatProvider>, model: ModelConfig) -> Self {
        BotConfig {
            id: id.into(),
            persona: Persona::default(),
            model,
            provider,
            tools: ToolRegistry::new(),
            owners: Vec::new(),
            markdown: false,
            max_chars: pincer_qq::text::DEFAULT_MAX_CHARS,
            rate_limit: Some(RateLimit { max_messages: 20, per: Duration::from_secs(60) }),
            daily_token_cap: None,
            daily_cost_cap: None,
            workspace: PathBuf::from("."),
            skill_dirs: Vec::new(),
            declared_binaries: Vec::new(),
            max_tool_rounds: 4,
            max_tool_result_bytes: 16 * 1024,
            history_turns: 100,
            summarizer: None,
            texts: UserTexts::default(),
        }
    }
}

/// Engine-wide settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Messages per conversation held in memory for its worker. More
    /// messages to answer wait in the store, where `submit` records them
    /// anyway, and are read back in order: `submit` does not wait for a
    /// busy conversation, and a flood costs disk, not memory.
    pub queue_capacity: usize,
    /// Conversations processed at the same time. Most of that time is spent
    /// waiting for the model, so this bounds answers per second at
    /// `max_concurrent / model latency` (16 slots and a 50 ms model: ~310/s);
    /// it is a memory and cost guard, not a CPU one.
    pub max_concurrent: usize,
    /// Retries after a retryable provider error.
    pub provider_retries: u32,
    /// First retry delay (doubles each time; `Retry-After` wins, up to 30 s).
    pub retry_base_delay: Duration,
    /// Retries after a transient delivery error.
    pub delivery_retries: u32,
    /// An idle conversation worker exits after this long.
    pub idle_worker_timeout: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            queue_capacity: 32,
            max_concurrent: 128,
            provider_retries: 2,
            retry_base_delay: Duration::from_millis(800),
            delivery_retries: 3,
            idle_worker_timeout: Duration::from_secs(300),
        }
    }
}

/// A bot's health, for the dashboard and tray.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BotStatus {
    /// The daily cap was reached today.
    pub cap_reached: bool,
    /// The day the cap was reached.
    pub cap_day: Option<String>,
    /// The last failure, in Chinese (for the user-facing dashboard).
    pub last_error_zh: Option<String>,
    /// The last failure, in English.
    pub last_error: Option<String>,
    /// Messages answered by the model.
    pub answered: u64,
    /// Messages answered with the apology.
    pub failed: u64,
    /// Messages refused or dropped by the rate limit.
    pub rate_limited: u64,
    /// Messages not answered because of the cap.
    pub capped: u64,
}

/// What [`Engine::submit`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// Queued for its conversation.
    Queued,
    /// Seen before (replayed or duplicated event); ignored.
    Duplicate,
    /// Over the user's rate limit: the refusal was queued.
    RateLimitedRefusal,
    /// Over the user's rate limit, refusal already sent: dropped.
    RateLimitedSilently,
}

/// Why the engine refused to take a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// No bot with that id is registered.
    #[error("no bot `{0}` is registered with the agent")]
    UnknownBot(String),
    /// The engine is shutting down.
    #[error("the agent is shutting down")]
    ShuttingDown,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug)]
enum JobKind {
    Answer,
    RefuseRateLimited,
}

#[derive(Debug)]
struct Job {
    inbound: Inbound,
    kind: JobKind,
}

/// What a conversation's worker is handed.
#[derive(Debug)]
enum Work {
    Job(Job),
    /// Wakes a worker idling on an empty queue to look at
    /// [`WorkerHandle::waiting_in_store`].
    ReadBack,
}

/// A conversation's worker, as [`Engine::enqueue`] sees it.
struct WorkerHandle {
    id: u64,
    tx: mpsc::Sender<Work>,
    /// Set when messages to answer wait in the store (state `new`, where
    /// `submit` put them first) rather than in the queue: one found the queue
    /// full, or an earlier process left them. The worker reads them back,
    /// oldest first, once its queue is empty. Shared so that the worker
    /// still sees it after a shutdown dropped the handle.
    waiting_in_store: Arc<AtomicBool>,
}

#[derive(Debug, Default, Clone)]
struct RateState {
    times: VecDeque<Instant>,
    refused: bool,
}

struct BotState {
    config: BotConfig,
    status: Mutex<BotStatus>,
    rate: Mutex<HashMap<String, RateState>>,
    cap_notified: Mutex<HashSet<(String, String)>>,
}

struct Inner {
    store: Store,
    sink: Arc<dyn ReplySink>,
    config: EngineConfig,
    bots: RwLock<HashMap<String, Arc<BotState>>>,
    workers: Mutex<HashMap<ConversationKey, WorkerHandle>>,
    next_worker: std::sync::atomic::AtomicU64,
    /// Bumped whenever turns may have been deleted from the store
    /// (retention): every worker's [`HistoryCache`] taken under an older
    /// value is stale.
    history_generation: AtomicU64,
    tracker: TaskTracker,
    cancel: CancellationToken,
    closed: AtomicBool,
    /// Cancelled when the engine stops taking work (shutdown or cancel).
    closing: CancellationToken,
    permits: Semaphore,
}

/// The agent engine. Cheap to clone; all clones share one engine.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("store", &self.inner.store.path()).finish_non_exhaustive()
    }
}

/// Why processing one message ended without a model answer.
enum Failure {
    Provider(ProviderError),
    Cap,
    Store(StoreError),
    Cancelled,
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

/// Whether a store error means the storage cannot write right now (a full
/// disk, an I/O error, a locked file): worth waiting for, unlike a bug or a
/// corrupt file.
/// What to tell the user about a store that cannot write: English, Chinese.
fn store_trouble<'a>(
    engine: &'a Engine,
    e: &'a StoreError,
) -> impl FnOnce() -> (String, String) + 'a {
    move || {
        let path = engine.inner.store.path().display().to_string();
        (
            format!(
                "cannot write to the database {path} (is the disk full?): {e}. Free some space on that disk: messages already taken wait and are answered once it can write again"
            ),
            format!(
                "无法写入数据库 {path}（磁盘已满？）：{e}。请清理该磁盘的空间：已收到的消息会保留，空间恢复后自动回复。"
            ),
        )
    }
}

fn storage_unavailable(e: &StoreError) -> bool {
    use rusqlite::ErrorCode as C;
    match e {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => matches!(
            f.code,
            C::DiskFull
                | C::SystemIoFailure
                | C::CannotOpen
                | C::DatabaseBusy
                | C::DatabaseLocked
                | C::OutOfMemory
        ),
        _ => false,
    }
}

/// One episode of waiting for the store (see [`Engine::persist`]).
#[derive(Default)]
struct StorageWait {
    /// The next wait; zero until the first failure.
    delay: Duration,
    /// The Chinese text put in the bot's status, cleared on recovery.
    reported_zh: Option<String>,
}

impl StorageWait {
    /// After a success: says so once if the storage had failed.
    fn recovered(self, engine: &Engine, bot: &str) {
        if self.delay.is_zero() {
            return;
        }
        tracing::info!(bot, "the disk can be written again / 磁盘已恢复写入");
        if let Some(b) = engine.bot(bot) {
            let mut s = lock(&b.status);
            if s.last_error_zh.is_some() && s.last_error_zh == self.reported_zh {
                s.last_error = None;
                s.last_error_zh = None;
            }
        }
    }
}

/// A conversation worker's copy of the newest stored turns of its
/// conversation, so that answering a message does not read the history back
/// from the store each time.
///
/// It holds exactly what [`Store::history`] would return with the same
/// limit: it is loaded from the store, then extended with the turns the
/// worker itself commits (the only writer of its conversation's turns in
/// normal operation: one worker per conversation). It is dropped — and
/// reloaded on the next message — when the bot's `history_turns` changes,
/// when turns may have been deleted (retention bumps
/// `Inner::history_generation`), or when a store operation fails or its
/// outcome is uncertain. It lives and dies with its worker.
struct HistoryCache {
    /// Oldest first, at most `limit`.
    turns: VecDeque<Turn>,
    /// The `history_turns` it was loaded with.
    limit: usize,
    /// `Inner::history_generation` when it was loaded.
    generation: u64,
}

impl HistoryCache {
    /// Appends turns just committed, keeping the newest `limit`.
    fn push(&mut self, turns: Vec<(TurnRole, Option<String>, String)>) {
        let created_at = now_secs();
        for (role, sender, content) in turns {
            self.turns.push_back(Turn { role, sender, content, created_at });
        }
        while self.turns.len() > self.limit {
            self.turns.pop_front();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Engine {
    /// An engine over `store`, delivering through `sink`. Register bots with
    /// [`Engine::add_bot`], then call [`Engine::start`].
    pub fn new(store: Store, sink: Arc<dyn ReplySink>, config: EngineConfig) -> Engine {
        let permits = Semaphore::new(config.max_concurrent.max(1));
        Engine {
            inner: Arc::new(Inner {
                store,
                sink,
                config,
                bots: RwLock::new(HashMap::new()),
                workers: Mutex::new(HashMap::new()),
                next_worker: std::sync::atomic::AtomicU64::new(0),
                history_generation: AtomicU64::new(0),
                tracker: TaskTracker::new(),
                cancel: CancellationToken::new(),
                closed: AtomicBool::new(false),
                closing: CancellationToken::new(),
                permits,
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Registers a bot, or replaces the config of a registered one (its
    /// status, rate limits and cap notices carry over).
    pub fn add_bot(&self, config: BotConfig) {
        let id = config.id.clone();
        let mut bots = self.inner.bots.write().unwrap_or_else(|p| p.into_inner());
        // A new config for a known bot (a changed model, persona or skill set)
        // keeps its counters, rate limits and cap notices: it is the same bot.
        let (status, rate, cap_notified) = match bots.get(&id) {
            Some(old) => (
                old.status.lock().unwrap_or_else(|p| p.into_inner()).clone(),
                old.rate.lock().unwrap_or_else(|p| p.into_inner()).clone(),
                old.cap_notified.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            ),
            None => Default::default(),
        };
        let state = Arc::new(BotState {
            config,
            status: Mutex::new(status),
            rate: Mutex::new(rate),
            cap_notified: Mutex::new(cap_notified),
        });
        bots.insert(id, state);
    }

    /// Unregisters a bot; its queued messages are answered with the
    /// configuration they were queued with.
    pub fn remove_bot(&self, id: &str) {
        self.inner.bots.write().unwrap_or_else(|p| p.into_inner()).remove(id);
    }

    fn bot(&self, id: &str) -> Option<Arc<BotState>> {
        self.inner.bots.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    /// The status of a bot.
    pub fn status(&self, bot: &str) -> Option<BotStatus> {
        let b = self.bot(bot)?;
        let mut s = lock(&b.status).clone();
        if s.cap_day.as_deref() != Some(today().as_str()) {
            s.cap_reached = false;
        }
        Some(s)
    }

    /// Recovers after a restart: [`resume_bot`](Self::resume_bot) for every
    /// registered bot. Call once, after registering the bots and before
    /// submitting.
    pub async fn start(&self) -> Result<(), EngineError> {
        let ids: Vec<String> =
            self.inner.bots.read().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect();
        for id in ids {
            self.resume_bot(&id).await?;
        }
        Ok(())
    }

    /// Picks up where an earlier process left `bot`: delivers its replies left
    /// pending and has its messages accepted but never answered read back
    /// from the store by their conversations' workers, which answer each
    /// once even if it also arrives again meanwhile. Call it
    /// once per process, after the bot is registered and its connection can
    /// deliver (unlike [`start`](Self::start), which does this for every
    /// registered bot at once). While the store cannot be read or written
    /// (a full disk) it waits: giving up would strand those messages until
    /// the next restart.
    pub async fn resume_bot(&self, bot: &str) -> Result<(), EngineError> {
        let store = &self.inner.store;
        let pending = self.persist(bot, || store.pending_replies(Some(bot))).await?;
        if !pending.is_empty() {
            tracing::info!(bot, count = pending.len(), "delivering replies left pending");
        }
        self.deliver_all(pending).await;
        for key in self.persist(bot, || store.waiting_conversations(bot)).await? {
            self.read_back(key)?;
        }
        Ok(())
    }

    /// Has `key`'s worker (started if needed) answer the conversation's
    /// messages waiting in the store, once its queue is empty.
    fn read_back(&self, key: ConversationKey) -> Result<(), EngineError> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(EngineError::ShuttingDown);
        }
        let mut workers = lock(&self.inner.workers);
        match workers.get(&key) {
            // Set under the workers lock, where an idle worker decides to
            // exit: it sees the flag and stays.
            Some(w) if !w.tx.is_closed() => {
                w.waiting_in_store.store(true, Ordering::SeqCst);
                // A full queue needs no wake-up: the worker looks at the
                // flag once it has emptied it.
                let _ = w.tx.try_send(Work::ReadBack);
            }
            _ => {
                self.spawn_worker(&mut workers, key, true);
            }
        }
        Ok(())
    }

    /// Starts `key`'s worker and registers it; `waiting` when messages of
    /// the conversation already wait in the store.
    fn spawn_worker(
        &self,
        workers: &mut HashMap<ConversationKey, WorkerHandle>,
        key: ConversationKey,
        waiting: bool,
    ) -> mpsc::Sender<Work> {
        let (tx, rx) = mpsc::channel(self.inner.config.queue_capacity.max(1));
        let id = self.inner.next_worker.fetch_add(1, Ordering::Relaxed);
        let waiting_in_store = Arc::new(AtomicBool::new(waiting));
        let handle =
            WorkerHandle { id, tx: tx.clone(), waiting_in_store: waiting_in_store.clone() };
        workers.insert(key.clone(), handle);
        let engine = self.clone();
        self.inner.tracker.spawn(async move { engine.worker(key, id, rx, waiting_in_store).await });
        tx
    }

    /// Takes one inbound message. Returns once it is recorded and queued
    /// (in memory, or in the store when its conversation is busy: see
    /// [`EngineConfig::queue_capacity`]).
    pub async fn submit(&self, inbound: Inbound) -> Result<Submitted, EngineError> {
        let mut results = self.submit_all(vec![inbound]).await;
        results.pop().unwrap_or(Err(EngineError::ShuttingDown))
    }

    /// [`submit`](Self::submit) for a burst, in order: the messages are
    /// recorded in one store operation (one commit instead of one each), so
    /// a connector that hands over what has piled up takes messages as fast
    /// as they come. One result per message.
    pub async fn submit_all(&self, inbounds: Vec<Inbound>) -> Vec<Result<Submitted, EngineError>> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return inbounds.iter().map(|_| Err(EngineError::ShuttingDown)).collect();
        }
        let mut results: Vec<Option<Result<Submitted, EngineError>>> = Vec::new();
        // (index of the result, message) for the known bots.
        let mut taken = Vec::new();
        let mut bots: HashMap<String, Arc<BotState>> = HashMap::new();
        for inbound in inbounds {
            let Some(bot) = self.bot(&inbound.bot) else {
                results.push(Some(Err(EngineError::UnknownBot(inbound.bot.clone()))));
                continue;
            };
            bots.insert(inbound.bot.clone(), bot);
            results.push(None);
            taken.push((results.len() - 1, inbound));
        }
        let Some((_, first)) = taken.first() else {
            return results.into_iter().flatten().collect();
        };
        let first_bot = first.bot.clone();
        let messages: Vec<Inbound> = taken.iter().map(|(_, m)| m.clone()).collect();
        // The rate limiter decides as each message is stored, so that it is
        // stored in its final state (a `new` row is one a worker may read
        // back and answer, see `answer_waiting`), and only for messages not
        // seen before.
        let state_of = {
            let bots = bots.clone();
            move |m: &Inbound| {
                let verdict = bots.get(&m.bot).and_then(|b| {
                    b.config.rate_limit.map(|rl| check_rate(b, m.scene.sender(), rl))
                });
                match verdict {
                    // Not `new`: a restart must not answer them with the model.
                    Some(RateVerdict::Drop) => "ignored",
                    Some(RateVerdict::Refuse) => "refused",
                    _ => "new",
                }
                .to_owned()
            }
        };
        // While the disk is full this waits (the platform holds the next
        // messages meanwhile): a message is taken only once it is stored.
        let store = &self.inner.store;
        let recorded = self
            .persist(&first_bot, || store.record_inbounds(messages.clone(), state_of.clone()))
            .await;
        let recorded = match recorded {
            Ok(recorded) => recorded,
            Err(e) => {
                // One operation failed for all: each gets the error (the
                // first the original, StoreError is not Clone).
                let text = e.to_string();
                let mut e = Some(e);
                for (i, _) in &taken {
                    let e = e.take().unwrap_or_else(|| StoreError::Task(text.clone()));
                    results[*i] = Some(Err(EngineError::Store(e)));
                }
                return results.into_iter().flatten().collect();
            }
        };
        for ((i, inbound), state) in taken.into_iter().zip(recorded) {
            let bot = &bots[&inbound.bot];
            let result = match state.as_deref() {
                None => Ok(Submitted::Duplicate),
                Some("ignored") => {
                    lock(&bot.status).rate_limited += 1;
                    Ok(Submitted::RateLimitedSilently)
                }
                Some("refused") => {
                    lock(&bot.status).rate_limited += 1;
                    self.enqueue(Job { inbound, kind: JobKind::RefuseRateLimited })
                        .await
                        .map(|()| Submitted::RateLimitedRefusal)
                }
                Some(_) => self
                    .enqueue(Job { inbound, kind: JobKind::Answer })
                    .await
                    .map(|()| Submitted::Queued),
            };
            results[i] = Some(result);
        }
        results.into_iter().flatten().collect()
    }

    async fn enqueue(&self, job: Job) -> Result<(), EngineError> {
        let key = job.inbound.key();
        // A refusal is not in the store as `new`: it must go through the queue.
        let may_wait_in_store = matches!(job.kind, JobKind::Answer);
        let mut work = Work::Job(job);
        loop {
            if self.inner.closed.load(Ordering::SeqCst) {
                return Err(EngineError::ShuttingDown);
            }
            let tx = {
                let mut workers = lock(&self.inner.workers);
                match workers.get(&key) {
                    Some(w) if !w.tx.is_closed() => {
                        if !may_wait_in_store {
                            w.tx.clone()
                        } else if w.waiting_in_store.load(Ordering::SeqCst) {
                            // Later than what waits in the store: wait there too.
                            return Ok(());
                        } else {
                            match w.tx.try_send(work) {
                                Ok(()) => return Ok(()),
                                Err(mpsc::error::TrySendError::Full(_)) => {
                                    w.waiting_in_store.store(true, Ordering::SeqCst);
                                    return Ok(());
                                }
                                Err(mpsc::error::TrySendError::Closed(w)) => {
                                    work = w;
                                    continue;
                                }
                            }
                        }
                    }
                    _ => self.spawn_worker(&mut workers, key.clone(), false),
                }
            };
            match tx.send(work).await {
                Ok(()) => return Ok(()),
                // The worker exited; start another.
                Err(mpsc::error::SendError(w)) => work = w,
            }
        }
    }

    async fn worker(
        self,
        key: ConversationKey,
        id: u64,
        mut rx: mpsc::Receiver<Work>,
        waiting_in_store: Arc<AtomicBool>,
    ) {
        let idle = self.inner.config.idle_worker_timeout;
        // This conversation's recent turns; dies with the worker.
        let mut history: Option<HistoryCache> = None;
        // Messages answered from the store while their copies may still be
        // in the queue (one that arrived while the store was being read
        // back is in both): those copies are skipped.
        let mut done: HashSet<String> = HashSet::new();
        loop {
            if rx.is_empty() {
                if waiting_in_store.swap(false, Ordering::SeqCst) {
                    if !self.answer_waiting(&key, &mut done, &mut history).await {
                        return;
                    }
                    continue;
                }
                done.clear();
            }
            let next = tokio::select! {
                _ = self.inner.cancel.cancelled() => return,
                r = tokio::time::timeout(idle, rx.recv()) => r,
            };
            match next {
                // The loop's head reads back.
                Ok(Some(Work::ReadBack)) => {}
                Ok(Some(Work::Job(job))) => {
                    if done.remove(&job.inbound.message_id) {
                        continue;
                    }
                    if !self.run_job(job, &mut history).await {
                        return;
                    }
                }
                Ok(None) => {
                    // Every sender dropped (shutdown): answer what still
                    // waits in the store too, as the queue was.
                    if waiting_in_store.swap(false, Ordering::SeqCst) {
                        self.answer_waiting(&key, &mut done, &mut history).await;
                    }
                    return;
                }
                Err(_) => {
                    // Idle: exit only if nobody can still send to us.
                    let mut workers = lock(&self.inner.workers);
                    let unused = workers.get(&key).is_some_and(|w| {
                        w.id == id
                            && w.tx.strong_count() == 1
                            && !w.waiting_in_store.load(Ordering::SeqCst)
                    });
                    if unused && rx.is_empty() {
                        workers.remove(&key);
                        rx.close();
                        return;
                    }
                }
            }
        }
    }

    /// Answers, oldest first, the conversation's messages that were left in
    /// the store because its queue was full. `false` when the engine was
    /// cancelled meanwhile (what is left stays for the next start).
    async fn answer_waiting(
        &self,
        key: &ConversationKey,
        done: &mut HashSet<String>,
        history: &mut Option<HistoryCache>,
    ) -> bool {
        let store = &self.inner.store;
        let page = self.inner.config.queue_capacity.max(1);
        let mut after = 0;
        loop {
            let waiting = match self.persist(&key.bot, || store.waiting_in(key, after, page)).await
            {
                Ok(waiting) => waiting,
                Err(e) => {
                    // Left `new`: the next start answers them.
                    tracing::error!(bot = %key.bot, error = %e, "cannot read waiting messages back");
                    return true;
                }
            };
            let Some((last, _)) = waiting.last() else { return true };
            after = *last;
            for (_, inbound) in waiting {
                if !done.insert(inbound.message_id.clone()) {
                    continue;
                }
                if !self.run_job(Job { inbound, kind: JobKind::Answer }, history).await {
                    return false;
                }
            }
        }
    }

    /// Runs one job once a concurrency slot is free. `false` when the engine
    /// was cancelled meanwhile.
    async fn run_job(&self, job: Job, history: &mut Option<HistoryCache>) -> bool {
        let permit = tokio::select! {
            _ = self.inner.cancel.cancelled() => return false,
            p = self.inner.permits.acquire() => p,
        };
        let Ok(_permit) = permit else { return false };
        tokio::select! {
            _ = self.inner.cancel.cancelled() => false,
            _ = self.process(job, history) => true,
        }
    }

    async fn process(&self, job: Job, history: &mut Option<HistoryCache>) {
        let Some(bot) = self.bot(&job.inbound.bot) else {
            tracing::warn!(bot = %job.inbound.bot, "message for a removed bot dropped");
            return;
        };
        let inbound = job.inbound;
        let mut waiting = StorageWait::default();
        let result = loop {
            let result = match job.kind {
                JobKind::RefuseRateLimited => {
                    self.commit_notice(&inbound, &bot.config.texts.rate_limited).await
                }
                JobKind::Answer => self.answer(&bot, &inbound, history).await,
            };
            if result.is_err() {
                // Whatever failed, the store is the truth: reload next time.
                *history = None;
            }
            // The disk is full: the message stays accepted ("new") and is
            // answered once the store can write again (commits are idempotent).
            match result {
                Err(e)
                    if storage_unavailable(&e)
                        && self
                            .wait_for_storage(&bot.config.id, store_trouble(self, &e), &mut waiting)
                            .await => {}
                other => break other,
            }
        };
        waiting.recovered(self, &bot.config.id);
        match result {
            Ok(replies) => self.deliver_all(replies).await,
            Err(e) => tracing::error!(error = %e, "cannot store the answer"),
        }
    }

    /// Puts a notice (refusal, cap, apology) into the outbox, without turns.
    async fn commit_notice(
        &self,
        inbound: &Inbound,
        text: &str,
    ) -> Result<Vec<OutboundReply>, StoreError> {
        let commit = Commit { turns: Vec::new(), chunks: vec![text.to_owned()], markdown: false };
        self.inner.store.commit_answer(inbound, commit).await
    }

    async fn answer(
        &self,
        bot: &BotState,
        inbound: &Inbound,
        history: &mut Option<HistoryCache>,
    ) -> Result<Vec<OutboundReply>, StoreError> {
        let cfg = &bot.config;
        match self.run_model(bot, inbound, history).await {
            Ok((answer, usage)) => {
                lock(&bot.status).answered += 1;
                let answer = answer.trim();
                let answer =
                    if answer.is_empty() { cfg.texts.empty_answer.as_str() } else { answer };
                let shaped = if cfg.markdown {
                    answer.to_owned()
                } else {
                    pincer_qq::text::markdown_to_plain(answer)
                };
                let chunks = pincer_qq::text::split_text(&shaped, cfg.max_chars);
                let sender = Some(inbound.scene.sender().to_owned());
                let commit = Commit {
                    turns: vec![
                        (TurnRole::User, sender, inbound.text.clone()),
                        (TurnRole::Assistant, None, answer.to_owned()),
                    ],
                    chunks,
                    markdown: cfg.markdown,
                };
                let turns = commit.turns.clone();
                let usage = UsageEntry::new(&today(), &cfg.model.provider, &cfg.model.model, usage);
                let result =
                    self.inner.store.commit_answer_with_usage(inbound, commit, Some(usage)).await;
                match (&result, history.as_mut()) {
                    // Replies were created, so the turns were inserted with
                    // them (one transaction).
                    (Ok(replies), Some(cache)) if !replies.is_empty() => cache.push(turns),
                    // An error, or nothing inserted (the message was already
                    // answered): the cache may be wrong.
                    _ => *history = None,
                }
                result
            }
            Err(Failure::Cap) => {
                let day = today();
                {
                    let mut s = lock(&bot.status);
                    s.cap_reached = true;
                    s.cap_day = Some(day.clone());
                    s.capped += 1;
                    s.last_error = Some("the bot's daily token/cost cap is reached".into());
                    s.last_error_zh = Some("已达到机器人的每日用量上限。".into());
                }
                let who = format!("{}|{}", inbound.scene.conversation_id(), inbound.scene.sender());
                let first = {
                    let mut notified = lock(&bot.cap_notified);
                    notified.retain(|(d, _)| *d == day);
                    notified.insert((day, who))
                };
                if first {
                    self.commit_notice(inbound, &cfg.texts.daily_cap).await
                } else {
                    self.inner
                        .store
                        .set_inbound_state(&cfg.id, &inbound.message_id, "capped")
                        .await?;
                    Ok(Vec::new())
                }
            }
            Err(Failure::Provider(e)) => {
                tracing::warn!(bot = %cfg.id, error = %e, "model provider failed");
                {
                    let mut s = lock(&bot.status);
                    s.failed += 1;
                    s.last_error = Some(e.to_string());
                    s.last_error_zh = Some(e.explain_zh());
                }
                self.commit_notice(inbound, &cfg.texts.apology).await
            }
            Err(Failure::Store(e)) => Err(e),
            Err(Failure::Cancelled) => Ok(Vec::new()),
        }
    }

    /// Whether the bot's daily cap is reached.
    async fn cap_reached(&self, cfg: &BotConfig) -> Result<bool, StoreError> {
        if cfg.daily_token_cap.is_none() && cfg.daily_cost_cap.is_none() {
            return Ok(false);
        }
        let day = today();
        let rows = self.inner.store.usage(Some(&cfg.id), &day, &day).await?;
        let tokens: u64 = rows.iter().map(|r| r.input_tokens + r.output_tokens).sum();
        let cost: f64 = rows.iter().filter_map(|r| r.cost).sum();
        Ok(cfg.daily_token_cap.is_some_and(|cap| tokens >= cap)
            || cfg.daily_cost_cap.is_some_and(|cap| cost >= cap))
    }

    /// Builds the context and runs the tool loop; returns the final answer
    /// and the usage of the call that gave it (for the caller to store with
    /// the answer; earlier tool rounds are stored here).
    async fn run_model(
        &self,
        bot: &BotState,
        inbound: &Inbound,
        history: &mut Option<HistoryCache>,
    ) -> Result<(String, Usage), Failure> {
        let cfg = &bot.config;
        let conversation = inbound.scene.conversation_id();
        // Shared rooms (groups, guild channels): tag user turns with the author.
        let group = matches!(inbound.scene, Scene::Group { .. } | Scene::Channel { .. });
        let attribute = |sender: Option<&str>, text: &str| match (group, sender) {
            (true, Some(s)) => format!("[{s}] {text}"),
            _ => text.to_owned(),
        };
        let history = self.history(cfg, &conversation, history).await?;
        let mut messages: Vec<ChatMessage> = history
            .iter()
            .map(|t| match t.role {
                TurnRole::User => ChatMessage::user(attribute(t.sender.as_deref(), &t.content)),
                TurnRole::Assistant => ChatMessage::assistant(t.content.clone()),
            })
            .collect();
        messages.push(ChatMessage::user(attribute(Some(inbound.scene.sender()), &inbound.text)));

        let tools = cfg.tools.specs();
        let mut system = cfg.persona.render();
        let fixed = estimate_tokens(&system) + estimate_tools_tokens(&tools);
        let budget = cfg
            .model
            .context_tokens
            .saturating_sub(cfg.model.max_output_tokens as usize)
            .saturating_sub(fixed);
        let trimmed = trim_to_budget(messages, budget);
        if let (false, Some(s)) = (trimmed.dropped.is_empty(), cfg.summarizer.as_ref()) {
            if let Some(summary) = s.summarize(&cfg.id, &conversation, &trimmed.dropped).await {
                system.push_str("\n\n此前对话的摘要：\n");
                system.push_str(&summary);
            }
        }
        let mut messages = trimmed.kept;
        let ctx = ToolContext {
            bot: cfg.id.clone(),
            conversation: conversation.clone(),
            sender: inbound.scene.sender().to_owned(),
            is_owner: cfg.owners.iter().any(|o| o == inbound.scene.sender()),
            workspace: cfg.workspace.clone(),
            skill_dirs: cfg.skill_dirs.clone(),
            declared_binaries: cfg.declared_binaries.clone(),
            store: self.inner.store.clone(),
        };
        for round in 0..=cfg.max_tool_rounds {
            let offer_tools = round < cfg.max_tool_rounds && !tools.is_empty();
            let request = ChatRequest {
                model: cfg.model.model.clone(),
                system: Some(system.clone()),
                messages: messages.clone(),
                tools: if offer_tools { tools.clone() } else { Vec::new() },
                max_tokens: Some(cfg.model.max_output_tokens),
                temperature: cfg.model.temperature,
            };
            if self.cap_reached(cfg).await? {
                return Err(Failure::Cap);
            }
            let response = self.call_provider(cfg, &request).await?;
            if response.tool_calls.is_empty() {
                return Ok((response.content, response.usage));
            }
            if !offer_tools {
                // Still asking for tools when none are offered: its text is
                // tool chatter, not an answer (the caller sends the fallback).
                return Ok((String::new(), response.usage));
            }
            self.inner
                .store
                .add_usage(&cfg.id, &today(), &cfg.model.provider, &cfg.model.model, response.usage)
                .await?;
            messages.push(ChatMessage {
                role: Role::Assistant,
                content: response.content.clone(),
                tool_calls: response.tool_calls.clone(),
                tool_call_id: None,
            });
            for call in &response.tool_calls {
                let started = Instant::now();
                let result = match cfg.tools.get(&call.name) {
                    Some(tool) => tool.call(&ctx, call.arguments.clone()).await,
                    None => Err(crate::tools::ToolError::InvalidArguments(format!(
                        "there is no tool called `{}`",
                        call.name
                    ))),
                };
                let (ok, text) = match result {
                    Ok(t) => (true, t),
                    Err(e) => (false, format!("error: {e}")),
                };
                self.inner
                    .store
                    .record_tool_call(ToolCallRecord {
                        bot: cfg.id.clone(),
                        conversation: conversation.clone(),
                        message_id: inbound.message_id.clone(),
                        tool: call.name.clone(),
                        arguments: call.arguments.to_string(),
                        ok,
                        result: crate::tools::cap_text(text.clone(), 4000),
                        duration_ms: started.elapsed().as_millis() as u64,
                    })
                    .await?;
                let text = crate::tools::cap_text(text, cfg.max_tool_result_bytes);
                messages.push(ChatMessage::tool_result(call.id.clone(), text));
            }
        }
        // Unreachable: the last round offers no tools and returns.
        Err(Failure::Cancelled)
    }

    /// The conversation's newest `history_turns` turns, oldest first: what
    /// [`Store::history`] returns, from the worker's cache when it is still
    /// valid (else reloaded into it).
    async fn history<'c>(
        &self,
        cfg: &BotConfig,
        conversation: &str,
        cache: &'c mut Option<HistoryCache>,
    ) -> Result<&'c VecDeque<Turn>, StoreError> {
        // Read before loading: retention deleting rows meanwhile bumps it
        // after its deletion, so such a load is never trusted later.
        let generation = self.inner.history_generation.load(Ordering::SeqCst);
        let valid =
            cache.take().filter(|c| c.generation == generation && c.limit == cfg.history_turns);
        if let Some(c) = valid {
            return Ok(&cache.insert(c).turns);
        }
        let turns = self.inner.store.history(&cfg.id, conversation, cfg.history_turns).await?;
        let loaded = HistoryCache { turns: turns.into(), limit: cfg.history_turns, generation };
        Ok(&cache.insert(loaded).turns)
    }

    /// One model call with retries on retryable errors.
    async fn call_provider(
        &self,
        cfg: &BotConfig,
        request: &ChatRequest,
    ) -> Result<crate::provider::ChatResponse, Failure> {
        let mut attempt = 0u32;
        loop {
            match cfg.provider.chat(request, &mut |_| {}).await {
                Ok(r) => return Ok(r),
                Err(e) if e.is_retryable() && attempt < self.inner.config.provider_retries => {
                    let base = self.inner.config.retry_base_delay * 2u32.pow(attempt);
                    let delay = match &e {
                        ProviderError::RateLimited { retry_after: Some(d) } => *d,
                        _ => base,
                    }
                    .min(Duration::from_secs(30));
                    tracing::info!(error = %e, attempt, "retrying the model provider");
                    attempt += 1;
                    tokio::select! {
                        _ = self.inner.cancel.cancelled() => return Err(Failure::Cancelled),
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
                Err(e) => return Err(Failure::Provider(e)),
            }
        }
    }

    /// Delivers outbox entries in order, recording each outcome.
    async fn deliver_all(&self, replies: Vec<OutboundReply>) {
        for reply in replies {
            if let Err(e) = self.deliver_one(&reply).await {
                tracing::error!(error = %e, "cannot record a delivery");
            }
        }
    }

    async fn deliver_one(&self, reply: &OutboundReply) -> Result<(), StoreError> {
        let store = &self.inner.store;
        let mut reply = reply.clone();
        let mut waiting = StorageWait::default();
        loop {
            // A full disk must not leave an entry pending until the next
            // start, nor send it twice: each mark waits for the store.
            if reply.attempts > 0 {
                // The first try was counted when the entry was committed.
                self.persist(&reply.bot, || store.mark_attempt(reply.id)).await?;
            }
            match self.inner.sink.deliver(&reply).await {
                Ok(d) => {
                    waiting.recovered(self, &reply.bot);
                    return self
                        .persist(&reply.bot, || store.mark_sent(reply.id, d.response_id.clone()))
                        .await;
                }
                Err(DeliveryError::Storage { en, zh }) => {
                    if !self.wait_for_storage(&reply.bot, || (en, zh), &mut waiting).await {
                        // Stopping: the entry stays pending for the next start.
                        return Ok(());
                    }
                }
                Err(DeliveryError::Transient(e))
                    if reply.attempts < self.inner.config.delivery_retries =>
                {
                    tracing::info!(error = %e, id = reply.id, "retrying a delivery");
                    let delay =
                        self.inner.config.retry_base_delay * 2u32.pow(reply.attempts.min(6));
                    reply.attempts += 1;
                    tokio::time::sleep(delay.min(Duration::from_secs(30))).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, id = reply.id, "delivery failed");
                    if let Some(b) = self.bot(&reply.bot) {
                        let mut s = lock(&b.status);
                        s.last_error = Some(e.to_string());
                        s.last_error_zh = Some(format!("回复发送失败：{e}"));
                    }
                    return self
                        .persist(&reply.bot, || store.mark_failed(reply.id, e.to_string()))
                        .await;
                }
            }
        }
    }

    /// Runs a store write again while the storage cannot write (a full
    /// disk), until it succeeds or the engine stops; other errors return at once.
    async fn persist<T, F, Fut>(&self, bot: &str, mut op: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let mut waiting = StorageWait::default();
        loop {
            match op().await {
                Err(e)
                    if storage_unavailable(&e)
                        && self
                            .wait_for_storage(bot, store_trouble(self, &e), &mut waiting)
                            .await => {}
                other => {
                    waiting.recovered(self, bot);
                    return other;
                }
            }
        }
    }

    /// Reports a store that cannot write (once per episode: log and the bot's
    /// status, in English and Chinese) and waits before the next try. `false`
    /// when the engine stops meanwhile.
    async fn wait_for_storage(
        &self,
        bot: &str,
        trouble: impl FnOnce() -> (String, String),
        waiting: &mut StorageWait,
    ) -> bool {
        if self.inner.closing.is_cancelled() {
            return false;
        }
        if waiting.delay.is_zero() {
            let (en, zh) = trouble();
            tracing::error!(bot, "{en} / {zh}");
            if let Some(b) = self.bot(bot) {
                let mut s = lock(&b.status);
                s.last_error = Some(en);
                s.last_error_zh = Some(zh.clone());
            }
            waiting.reported_zh = Some(zh);
            waiting.delay = Duration::from_millis(250);
        }
        let delay = waiting.delay;
        waiting.delay = (delay * 2).min(Duration::from_secs(5));
        tokio::select! {
            _ = self.inner.closing.cancelled() => false,
            _ = tokio::time::sleep(delay) => true,
        }
    }

    /// Stops taking messages, finishes everything already queued, and
    /// returns when all workers are done.
    pub async fn shutdown(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.closing.cancel();
        lock(&self.inner.workers).clear();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }

    /// Stops at once: model calls and deliveries in flight are abandoned.
    /// Accepted but unanswered messages and pending replies stay in the
    /// store and are resumed by the next [`Engine::start`].
    pub async fn cancel(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.closing.cancel();
        self.inner.cancel.cancel();
        lock(&self.inner.workers).clear();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }

    /// Deletes history older than `days` days (see [`Store::apply_retention`]).
    /// Use this rather than the store's own method while the engine runs:
    /// it also tells the conversation workers to reload their history.
    pub async fn apply_retention(&self, days: u32) -> Result<usize, StoreError> {
        let result = self.inner.store.apply_retention(days, now_secs()).await;
        // Turns were deleted (or may have been): the workers' cached
        // histories are stale.
        if !matches!(result, Ok(0)) {
            self.inner.history_generation.fetch_add(1, Ordering::SeqCst);
        }
        result
    }

    /// Applies retention now and then every `every`, until the engine is
    /// cancelled or shut down.
    pub fn spawn_retention(&self, days: u32, every: Duration) {
        let engine = self.clone();
        let closing = self.inner.closing.clone();
        self.inner.tracker.spawn(async move {
            loop {
                match engine.apply_retention(days).await {
                    Ok(n) if n > 0 => tracing::info!(deleted = n, days, "old history deleted"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "retention failed"),
                }
                tokio::select! {
                    _ = closing.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
            }
        });
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RateVerdict {
    Allow,
    Refuse,
    Drop,
}

fn check_rate(bot: &BotState, sender: &str, rl: RateLimit) -> RateVerdict {
    let now = Instant::now();
    let mut map = lock(&bot.rate);
    if map.len() > 10_000 {
        // Forget users with no message in the window.
        map.retain(|_, st| st.times.back().is_some_and(|t| now.duration_since(*t) < rl.per));
    }
    let st = map.entry(sender.to_owned()).or_default();
    while st.times.front().is_some_and(|t| now.duration_since(*t) >= rl.per) {
        st.times.pop_front();
    }
    if (st.times.len() as u32) < rl.max_messages {
        st.times.push_back(now);
        st.refused = false;
        RateVerdict::Allow
    } else if !st.refused {
        st.refused = true;
        RateVerdict::Refuse
    } else {
        RateVerdict::Drop
    }
}
