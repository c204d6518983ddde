//! The durable store: one SQLite file (WAL, busy timeout) holding inbound
//! messages, the reply outbox, conversation history, tool-call audit, the
//! `exec` audit log, token usage per bot per day and the price table.
//!
//! Every query runs on tokio's blocking pool ([`tokio::task::spawn_blocking`]);
//! nothing here blocks an async task. Operations that arrive while another
//! one runs are committed together (group commit, see [`Store::run`]). The schema is versioned with SQLite's
//! `user_version` and upgraded by [`MIGRATIONS`] when the file is opened.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::scene::Scene;

/// The schema migrations, in order; migration `i` upgrades `user_version`
/// `i` to `i + 1`. Never edit a released entry: append a new one.
pub const MIGRATIONS: &[&str] = &[
    // v1: inbound messages and conversation history.
    "CREATE TABLE inbound (
        bot TEXT NOT NULL,
        message_id TEXT NOT NULL,
        conversation TEXT NOT NULL,
        sender TEXT NOT NULL,
        text TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (bot, message_id)
    );
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        bot TEXT NOT NULL,
        conversation TEXT NOT NULL,
        role TEXT NOT NULL,
        sender TEXT,
        content TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX turns_by_conversation ON turns (bot, conversation, id);",
    // v2: processing state, outbox, audits, usage and prices.
    "ALTER TABLE inbound ADD COLUMN state TEXT NOT NULL DEFAULT 'done';
    ALTER TABLE inbound ADD COLUMN scene TEXT;
    CREATE INDEX inbound_by_state ON inbound (state);
    CREATE TABLE replies (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        bot TEXT NOT NULL,
        conversation TEXT NOT NULL,
        scene TEXT NOT NULL,
        reply_to TEXT NOT NULL,
        part INTEGER NOT NULL,
        parts INTEGER NOT NULL,
        text TEXT NOT NULL,
        markdown INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        response_id TEXT,
        error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (bot, reply_to, part)
    );
    CREATE INDEX replies_by_state ON replies (state, id);
    CREATE TABLE tool_calls (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        bot TEXT NOT NULL,
        conversation TEXT NOT NULL,
        message_id TEXT NOT NULL,
        tool TEXT NOT NULL,
        arguments TEXT NOT NULL,
        ok INTEGER NOT NULL,
        result TEXT NOT NULL,
        duration_ms INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE exec_audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        bot TEXT NOT NULL,
        user TEXT NOT NULL,
        program TEXT NOT NULL,
        args TEXT NOT NULL,
        cwd TEXT NOT NULL,
        decision TEXT NOT NULL,
        exit_code INTEGER,
        output TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE TRIGGER exec_audit_no_update BEFORE UPDATE ON exec_audit
        BEGIN SELECT RAISE(ABORT, 'exec_audit is append-only'); END;
    CREATE TRIGGER exec_audit_no_delete BEFORE DELETE ON exec_audit
        BEGIN SELECT RAISE(ABORT, 'exec_audit is append-only'); END;
    CREATE TABLE usage_daily (
        bot TEXT NOT NULL,
        day TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        calls INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (bot, day, provider, model)
    );
    CREATE TABLE prices (
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        input_per_million REAL NOT NULL,
        output_per_million REAL NOT NULL,
        currency TEXT NOT NULL,
        PRIMARY KEY (provider, model)
    );",
    // v3: the state indexes hold only what is still waiting. Over every
    // row, each state change rewrote two of their leaves (30% of the pages
    // written at 500 messages/s); now it rewrites one small page.
    "DROP INDEX inbound_by_state;
    DROP INDEX replies_by_state;
    CREATE INDEX inbound_new ON inbound (bot, conversation) WHERE state = 'new';
    CREATE INDEX replies_pending ON replies (id) WHERE state = 'pending';",
];

/// The schema version this build writes.
pub fn schema_version() -> u32 {
    MIGRATIONS.len() as u32
}

/// What went wrong with the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file was written by a newer Pincer.
    #[error("the database has schema version {found}, newer than this Pincer supports ({supported}); update Pincer")]
    TooNew {
        /// Version in the file.
        found: u32,
        /// Newest version this build knows.
        supported: u32,
    },
    /// The blocking task running the query panicked or was cancelled.
    #[error("database task failed: {0}")]
    Task(String),
    /// Stored data could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// The current time in seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The calendar day (`YYYY-MM-DD`) of a Unix time in China Standard Time
/// (UTC+8), which is when Pincer's users' days (and daily caps) roll over.
pub fn day_of(unix_secs: i64) -> String {
    let days = (unix_secs + 8 * 3600).div_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// Today (China Standard Time), see [`day_of`].
pub fn today() -> String {
    day_of(now_secs())
}

/// Who wrote a stored turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TurnRole {
    /// A user.
    User,
    /// The bot.
    Assistant,
}

impl TurnRole {
    fn as_str(self) -> &'static str {
        match self {
            TurnRole::User => "user",
            TurnRole::Assistant => "assistant",
        }
    }
}

/// One stored conversation turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// Author role.
    pub role: TurnRole,
    /// For user turns: who wrote it (group attribution).
    pub sender: Option<String>,
    /// The text.
    pub content: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// One conversation as the dashboard lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationSummary {
    /// The conversation id (`c2c:USER`, `group:GROUP`, …).
    pub conversation: String,
    /// The newest turn's text.
    pub last_text: String,
    /// When it was written (unix seconds).
    pub last_at: i64,
    /// Turns in the conversation.
    pub turns: u64,
}

/// Delivery state of one outbox entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyState {
    /// Stored, not (yet) confirmed sent.
    Pending,
    /// The platform accepted it.
    Sent,
    /// Given up.
    Failed,
}

impl ReplyState {
    fn parse(s: &str) -> ReplyState {
        match s {
            "sent" => ReplyState::Sent,
            "failed" => ReplyState::Failed,
            _ => ReplyState::Pending,
        }
    }
}

/// One message of the reply outbox (one chunk of an answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundReply {
    /// Outbox row id: stable across restarts, usable as an idempotency key.
    pub id: i64,
    /// The bot sending it.
    pub bot: String,
    /// Where it goes ([`Scene::qq_scene`], [`Scene::target_id`]).
    pub scene: Scene,
    /// The QQ message id it answers (the passive-reply `msg_id`).
    pub reply_to_message_id: String,
    /// The text of this chunk, already shaped for QQ (plain text when the bot
    /// cannot send markdown, at most the bot's chunk size).
    pub text: String,
    /// Whether `text` is markdown.
    pub markdown: bool,
    /// Index of this chunk (0-based).
    pub part: u32,
    /// Number of chunks of the answer.
    pub parts: u32,
    /// Delivery attempts before this one (0 on the first try; after a
    /// restart an entry may have been sent but not confirmed).
    pub attempts: u32,
}

impl OutboundReply {
    /// The `pincer_qq` passive-reply target of this entry (scene, address,
    /// and the answered message as the anchor), for
    /// `pincer_qq::outbound::Replier::reply`.
    pub fn qq_target(&self) -> pincer_qq::outbound::ReplyTarget {
        pincer_qq::outbound::ReplyTarget::new(
            self.scene.qq_scene(),
            self.scene.target_id(),
            pincer_qq::reply::Anchor::Message(self.reply_to_message_id.clone()),
        )
    }
}

/// The state of an outbox entry, for inspection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyRecord {
    /// The entry.
    pub reply: OutboundReply,
    /// Its delivery state.
    pub state: ReplyState,
    /// The platform's response id (message id / msg_seq) once sent.
    pub response_id: Option<String>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// One row of token usage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRow {
    /// Bot.
    pub bot: String,
    /// Day (`YYYY-MM-DD`, China Standard Time).
    pub day: String,
    /// Provider name as configured for the bot.
    pub provider: String,
    /// Model id.
    pub model: String,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Model calls.
    pub calls: u64,
    /// Cost from the price table, when a price is set.
    pub cost: Option<f64>,
    /// Currency of `cost`.
    pub currency: Option<String>,
}

/// A price per one million tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// Price of 1M prompt tokens.
    pub input_per_million: f64,
    /// Price of 1M completion tokens.
    pub output_per_million: f64,
    /// Currency code, e.g. `CNY` or `USD`.
    pub currency: String,
}

impl Price {
    /// The cost of the given token counts.
    pub fn cost(&self, input_tokens: u64, output_tokens: u64) -> f64 {
        (input_tokens as f64 * self.input_per_million
            + output_tokens as f64 * self.output_per_million)
            / 1_000_000.0
    }
}

/// One row of the `exec` audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecAuditEntry {
    /// Bot.
    pub bot: String,
    /// Who asked (sender id).
    pub user: String,
    /// Program name.
    pub program: String,
    /// Arguments, as JSON array text.
    pub args: String,
    /// Working directory.
    pub cwd: String,
    /// `ran`, or why it was refused (`refused: …`).
    pub decision: String,
    /// Exit code when it ran.
    pub exit_code: Option<i32>,
    /// Captured (capped) output when it ran.
    pub output: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A tool call to audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRecord {
    /// Bot.
    pub bot: String,
    /// Conversation id.
    pub conversation: String,
    /// The inbound message being answered.
    pub message_id: String,
    /// Tool name.
    pub tool: String,
    /// Arguments JSON.
    pub arguments: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// Output or error text (capped).
    pub result: String,
    /// How long it took.
    pub duration_ms: u64,
}

/// An inbound message whose answer was never committed (e.g. the process
/// stopped while the model was thinking).
#[derive(Debug, Clone, PartialEq)]
pub struct UnansweredInbound {
    /// The message.
    pub inbound: crate::scene::Inbound,
}

/// The answer to one inbound message, committed atomically: history turns,
/// outbox entries and the inbound message's state.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    /// Turns to append to the conversation (user, then assistant).
    pub turns: Vec<(TurnRole, Option<String>, String)>,
    /// Reply chunks (text, markdown) to put into the outbox, in order.
    pub chunks: Vec<String>,
    /// Whether the chunks are markdown.
    pub markdown: bool,
}

/// One model call for the usage table: the day (`YYYY-MM-DD`), which
/// provider and model, and the tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageEntry {
    /// The day it counts for, `YYYY-MM-DD`.
    pub day: String,
    /// The provider's name (for prices).
    pub provider: String,
    /// The model.
    pub model: String,
    /// Tokens in and out.
    pub usage: crate::provider::Usage,
}

impl UsageEntry {
    /// An entry for one call.
    pub fn new(day: &str, provider: &str, model: &str, usage: crate::provider::Usage) -> Self {
        Self { day: day.to_owned(), provider: provider.to_owned(), model: model.to_owned(), usage }
    }
}

/// Adds one call to its day's usage row.
fn upsert_usage(c: &Connection, bot: &str, u: &UsageEntry) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO usage_daily (bot, day, provider, model, input_tokens, output_tokens,
         calls) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1)
         ON CONFLICT (bot, day, provider, model) DO UPDATE SET
         input_tokens = input_tokens + excluded.input_tokens,
         output_tokens = output_tokens + excluded.output_tokens,
         calls = calls + 1",
    )?
    .execute(params![
        bot,
        u.day,
        u.provider,
        u.model,
        u.usage.input_tokens as i64,
        u.usage.output_tokens as i64
    ])?;
    Ok(())
}

/// Handle to the store; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    /// Operations waiting for the connection; whoever holds it next runs
    /// them all.
    queue: Arc<Mutex<Vec<Box<dyn Op>>>>,
    /// Tells the checkpoint thread about writes; dropped with the last
    /// clone, which stops the thread.
    checkpointer: Arc<std::sync::mpsc::Sender<()>>,
    /// Set by the checkpoint thread when its checkpoints fall behind the
    /// writers (see `spawn_checkpointer`); the next writer finishes one.
    catch_up: Arc<AtomicBool>,
    path: PathBuf,
}

/// How long the checkpoint thread lets writes accumulate after the first
/// one before it moves the WAL into the database file: small checkpoints,
/// often, keep each one short; none at all while the store is idle.
const CHECKPOINT_DELAY: Duration = Duration::from_millis(100);

/// WAL bytes past which a checkpoint that could not catch up with the
/// writers is finished by the next writer, holding the others off (see
/// `spawn_checkpointer`). Each time costs the writers one short checkpoint
/// (1.5–6.3 ms on a 2-core VM);
/// at 500 messages/s the WAL gets here every 2–3 s, at a person's pace
/// never. Small in unit tests, so they reach it.
const WAL_CATCH_UP: i64 = if cfg!(test) { 1 << 20 } else { 64 << 20 };

/// Bytes the WAL file is cut back to when it starts over. Twice
/// [`WAL_CATCH_UP`], so a WAL kept in bounds is reused as it is: cutting it
/// back frees blocks inside a commit (tens of milliseconds for a few hundred
/// MB on a disk mounted with `discard`), and writing it again allocates them.
/// A quiet store gives the room back instead (see [`IDLE_AFTER`]).
const WAL_SIZE_LIMIT: i64 = 2 * WAL_CATCH_UP;

/// How long the store goes without writes before the checkpoint thread
/// cuts a WAL file bigger than [`WAL_IDLE_SIZE`] back to nothing.
const IDLE_AFTER: Duration = Duration::from_secs(1);

/// Below this (4 MB), a quiet store's WAL file is left as it is, to be
/// written again from its start.
const WAL_IDLE_SIZE: u64 = (WAL_SIZE_LIMIT / 32) as u64;

/// The WAL file SQLite keeps beside the database at `db`.
fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Runs a checkpoint in `mode` (`PASSIVE`, or `NOOP` to only look):
/// returns the WAL's frames and how many of them are in the database file.
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| Ok((r.get(1)?, r.get(2)?)))
}

/// Starts the thread that checkpoints the WAL on its own connection, a
/// moment after each write (each message on the returned sender), until the
/// sender is dropped. `PASSIVE` checkpoints never wait for or block the
/// writer; a failed one (a full disk) is retried after the next write.
///
/// SQLite starts the WAL over (writes it again from its start) only when a
/// write finds every frame already in the database file. Under steady
/// writes a checkpoint beside them never gets there, and the WAL grew
/// without end: 1 GB after 30 s at 500 messages/s. So when one falls behind
/// past [`WAL_CATCH_UP`], it sets `catch_up`, and the next writer runs a
/// second checkpoint before letting the others in (see [`Store::run`]),
/// copying only what came in since (a few dozen frames).
///
/// The thread runs only when a core has nothing else to do (SCHED_IDLE, on
/// Linux): the slowest 1% of messages under load were nearly all in flight
/// during a checkpoint, which took a core from them on a 2-core machine.
/// That is also why it never holds the writer: at the lowest priority it
/// could be kept off the cores while everyone waited for it.
fn spawn_checkpointer(path: PathBuf, catch_up: Arc<AtomicBool>) -> std::sync::mpsc::Sender<()> {
    let (wrote, writes) = std::sync::mpsc::channel::<()>();
    let spawned = std::thread::Builder::new().name("pincer-store-checkpoint".into()).spawn(
        move || {
            if let Err(e) = run_only_when_idle() {
                tracing::debug!(error = %e, "the checkpoint thread keeps its normal priority");
            }
            let conn = match Connection::open(&path) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot open the store for checkpoints");
                    return;
                }
            };
            let _ = conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT);
            let frame_bytes = 24 + conn
                .pragma_query_value(None, "page_size", |r| r.get::<_, i64>(0))
                .unwrap_or(4096);
            let wal = wal_path(&path);
            let mut wrote = false;
            loop {
                use std::sync::mpsc::RecvTimeoutError;
                let next = if wrote {
                    writes.recv_timeout(IDLE_AFTER)
                } else {
                    writes.recv().map_err(|_| RecvTimeoutError::Disconnected)
                };
                match next {
                    Ok(()) => wrote = true,
                    // Every sender is gone: the store was dropped.
                    Err(RecvTimeoutError::Disconnected) => break,
                    Err(RecvTimeoutError::Timeout) => {
                        // Quiet now: give back the room a burst took. This
                        // holds the writer, but only to cut the file: the
                        // checkpoints since the last write copied everything.
                        wrote = false;
                        let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
                        if size > WAL_IDLE_SIZE {
                            if let Err(e) = checkpoint(&conn, "TRUNCATE") {
                                tracing::debug!(error = %e, "cannot cut the WAL back");
                            }
                        }
                        continue;
                    }
                }
                std::thread::sleep(CHECKPOINT_DELAY);
                while writes.try_recv().is_ok() {}
                let done = checkpoint(&conn, "PASSIVE").and_then(|_| {
                    // Frames committed while it ran are not in its counts.
                    let (log, copied) = checkpoint(&conn, "NOOP")?;
                    if copied < log && log * frame_bytes > WAL_CATCH_UP {
                        catch_up.store(true, Ordering::Relaxed);
                    }
                    Ok(())
                });
                if let Err(e) = done {
                    tracing::debug!(error = %e, "WAL checkpoint failed; retrying after the next write");
                }
            }
        },
    );
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the checkpoint thread");
    }
    wrote
}

/// Puts the calling thread in Linux's SCHED_IDLE class: it runs only on a
/// core no other thread wants.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn run_only_when_idle() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid `sched_param` that outlives the call, and
    // pid 0 is the calling thread; nothing else is touched.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Elsewhere the thread keeps its normal priority.
#[cfg(not(target_os = "linux"))]
fn run_only_when_idle() -> std::io::Result<()> {
    Ok(())
}

impl std::fmt::Debug for dyn Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Op")
    }
}

/// A queued store operation, type-erased so one batch can hold many kinds.
trait Op: Send {
    /// Runs the operation and keeps its result (again, if the batch it ran
    /// in was rolled back).
    fn run(&mut self, c: &mut Connection);
    /// Hands the kept result to the caller.
    fn finish(self: Box<Self>);
}

/// The result of one operation, from the thread that ran it to its caller.
type Slot<R> = Arc<Mutex<Option<Result<R, StoreError>>>>;

struct Pending<R, F> {
    f: F,
    result: Option<Result<R, StoreError>>,
    slot: Slot<R>,
}

impl<R: Send, F: FnMut(&mut Connection) -> Result<R, StoreError> + Send> Op for Pending<R, F> {
    fn run(&mut self, c: &mut Connection) {
        let f = &mut self.f;
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(c)))
            .unwrap_or_else(|_| Err(StoreError::Task("a store operation panicked".into())));
        self.result = Some(r);
    }

    fn finish(self: Box<Self>) {
        let r = self.result.unwrap_or_else(|| Err(StoreError::Task("not run".into())));
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
    }
}

/// Runs queued operations. Several run in one transaction, so they share
/// one commit (one WAL append) instead of one each; each operation is
/// atomic on its own (one statement, or a savepoint). If the transaction
/// cannot be kept (SQLite rolled it back, e.g. on a full disk, or the commit
/// failed), nothing of it was stored and every operation runs again alone,
/// so each caller gets its own result.
fn run_batch(conn: &mut Connection, mut ops: Vec<Box<dyn Op>>) {
    if ops.len() > 1 && conn.execute_batch("BEGIN IMMEDIATE").is_ok() {
        let mut intact = true;
        for op in ops.iter_mut() {
            op.run(conn);
            if conn.is_autocommit() {
                intact = false;
                break;
            }
        }
        if intact && conn.execute_batch("COMMIT").is_ok() {
            ops.into_iter().for_each(|op| op.finish());
            return;
        }
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
    for mut op in ops {
        op.run(conn);
        op.finish();
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path`, sets WAL mode and
    /// a busy timeout, and migrates the schema to [`schema_version`].
    pub async fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_owned();
        let p = path.clone();
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection, StoreError> {
            let mut conn = Connection::open(&p)?;
            conn.busy_timeout(Duration::from_secs(5))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            // Checkpoints run on their own thread (see `spawn_checkpointer`):
            // inside a commit they stalled it, and every operation batched
            // with it, for several milliseconds.
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            // A WAL file keeps its largest size unless told otherwise: one
            // that outgrew its bound (a full disk, when no checkpoint can
            // finish) would hold that space for good, and on a nearly full
            // disk take back the room just freed.
            conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            // Every query goes through `prepare_cached`; keep all of them
            // parsed (the default of 16 is fewer than the store's statements).
            conn.set_prepared_statement_cache_capacity(64);
            migrate(&mut conn)?;
            Ok(conn)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))??;
        let conn = Arc::new(Mutex::new(conn));
        let catch_up = Arc::new(AtomicBool::new(false));
        let checkpointer = Arc::new(spawn_checkpointer(path.clone(), catch_up.clone()));
        Ok(Store { conn, queue: Arc::default(), checkpointer, catch_up, path })
    }

    /// The file this store uses.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with the connection on the blocking pool. `f` is queued;
    /// the first thread to get the connection runs everything queued by then
    /// in one transaction (see [`run_batch`]), and the others find their
    /// results done when they get it. `f` may run twice (after a batch was
    /// rolled back), never with its effects kept twice.
    async fn run<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnMut(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (conn, queue) = (self.conn.clone(), self.queue.clone());
        let (checkpointer, catch_up) = (self.checkpointer.clone(), self.catch_up.clone());
        tokio::task::spawn_blocking(move || {
            let slot: Slot<R> = Arc::default();
            let op = Pending { f, result: None, slot: slot.clone() };
            queue.lock().unwrap_or_else(|p| p.into_inner()).push(Box::new(op));
            let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(done) = slot.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return done;
            }
            let batch = std::mem::take(&mut *queue.lock().unwrap_or_else(|p| p.into_inner()));
            run_batch(&mut conn, batch);
            if catch_up.load(Ordering::Relaxed) && catch_up.swap(false, Ordering::Relaxed) {
                // Fails at once (busy) if the checkpoint thread is in one;
                // it asks again after its next.
                if let Err(e) = checkpoint(&conn, "PASSIVE") {
                    tracing::debug!(error = %e, "the WAL could not catch up this time");
                }
            }
            let _ = checkpointer.send(());
            let done = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
            done.unwrap_or_else(|| Err(StoreError::Task("the operation was not run".into())))
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// The schema version of the open file.
    pub async fn version(&self) -> Result<u32, StoreError> {
        self.run(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get::<_, u32>(0))?)).await
    }

    /// Records an inbound message. Returns `false` (and changes nothing) when
    /// `(bot, message_id)` was recorded before: a replayed or duplicated event.
    pub async fn record_inbound(
        &self,
        inbound: &crate::scene::Inbound,
        state: &str,
    ) -> Result<bool, StoreError> {
        let state = state.to_owned();
        let recorded = self.record_inbounds(vec![inbound.clone()], move |_| state.clone()).await?;
        Ok(recorded.first().is_some_and(Option::is_some))
    }

    /// [`record_inbound`](Self::record_inbound) for several messages, in
    /// order, in one operation (all or none): one commit for a burst. The
    /// state of each new message is decided by `state_of`, which is called
    /// only for messages not recorded before (so a repeated event cannot
    /// count against anything). Returns, per message, the state it was
    /// recorded in, or `None` for a repeat.
    pub async fn record_inbounds<F>(
        &self,
        inbounds: Vec<crate::scene::Inbound>,
        mut state_of: F,
    ) -> Result<Vec<Option<String>>, StoreError>
    where
        F: FnMut(&crate::scene::Inbound) -> String + Send + 'static,
    {
        self.run(move |c| {
            // A savepoint, not a transaction: it may run inside a batch.
            let tx = c.savepoint()?;
            let mut recorded = Vec::with_capacity(inbounds.len());
            {
                let mut seen =
                    tx.prepare_cached("SELECT 1 FROM inbound WHERE bot = ?1 AND message_id = ?2")?;
                let mut insert = tx.prepare_cached(
                    "INSERT INTO inbound
                     (bot, message_id, conversation, sender, text, received_at, state, scene)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                let now = now_secs();
                for inb in &inbounds {
                    if seen.exists(params![inb.bot, inb.message_id])? {
                        recorded.push(None);
                        continue;
                    }
                    let scene = serde_json::to_string(&inb.scene)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    let state = state_of(inb);
                    insert.execute(params![
                        inb.bot,
                        inb.message_id,
                        inb.scene.conversation_id(),
                        inb.scene.sender(),
                        inb.text,
                        now,
                        state,
                        scene
                    ])?;
                    recorded.push(Some(state));
                }
            }
            tx.commit()?;
            Ok(recorded)
        })
        .await
    }

    /// Sets the processing state of an inbound message (`new`, `done`,
    /// `ignored`, …).
    pub async fn set_inbound_state(
        &self,
        bot: &str,
        message_id: &str,
        state: &str,
    ) -> Result<(), StoreError> {
        let (bot, id, state) = (bot.to_owned(), message_id.to_owned(), state.to_owned());
        self.run(move |c| {
            c.prepare_cached("UPDATE inbound SET state = ?3 WHERE bot = ?1 AND message_id = ?2")?
                .execute(params![bot, id, state])?;
            Ok(())
        })
        .await
    }

    /// Inbound messages of `bot` still in state `new` (accepted but never
    /// answered), oldest first.
    pub async fn unanswered(&self, bot: &str) -> Result<Vec<crate::scene::Inbound>, StoreError> {
        let bot = bot.to_owned();
        self.run(move |c| {
            let mut st = c.prepare_cached(
                "SELECT message_id, scene, text FROM inbound
                 WHERE bot = ?1 AND state = 'new' AND scene IS NOT NULL
                 ORDER BY received_at, rowid",
            )?;
            let rows = st.query_map(params![bot], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (message_id, scene, text) = row?;
                let scene: Scene =
                    serde_json::from_str(&scene).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                out.push(crate::scene::Inbound { bot: bot.clone(), message_id, scene, text });
            }
            Ok(out)
        })
        .await
    }

    /// The conversations of `bot` with messages accepted and not answered
    /// yet (state `new`), the one waiting longest first. A restarted engine
    /// has each of them read back ([`waiting_in`](Self::waiting_in)).
    pub async fn waiting_conversations(
        &self,
        bot: &str,
    ) -> Result<Vec<crate::scene::ConversationKey>, StoreError> {
        let bot = bot.to_owned();
        self.run(move |c| {
            let mut st = c.prepare_cached(
                "SELECT conversation FROM inbound
                 WHERE bot = ?1 AND state = 'new' AND scene IS NOT NULL
                 GROUP BY conversation ORDER BY min(rowid)",
            )?;
            let rows = st.query_map(params![bot], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for conversation in rows {
                out.push(crate::scene::ConversationKey {
                    bot: bot.clone(),
                    conversation: conversation?,
                });
            }
            Ok(out)
        })
        .await
    }

    /// Up to `limit` messages of one conversation that were accepted and not
    /// answered yet (state `new`), oldest first, after the row `after` (0
    /// for the start). Each comes with its row number, the cursor for the
    /// next call. The engine reads a conversation's messages back from here
    /// when they arrived faster than it answers ([`crate::Engine::submit`]).
    pub async fn waiting_in(
        &self,
        key: &crate::scene::ConversationKey,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, crate::scene::Inbound)>, StoreError> {
        let key = key.clone();
        self.run(move |c| {
            let mut st = c.prepare_cached(
                "SELECT rowid, message_id, scene, text FROM inbound
                 WHERE bot = ?1 AND conversation = ?2 AND state = 'new' AND scene IS NOT NULL
                   AND rowid > ?3
                 ORDER BY rowid LIMIT ?4",
            )?;
            let rows =
                st.query_map(params![key.bot, key.conversation, after, limit as i64], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                })?;
            let mut out = Vec::new();
            for row in rows {
                let (rowid, message_id, scene, text) = row?;
                let scene: Scene =
                    serde_json::from_str(&scene).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let bot = key.bot.clone();
                out.push((rowid, crate::scene::Inbound { bot, message_id, scene, text }));
            }
            Ok(out)
        })
        .await
    }

    /// The newest `limit` turns of a conversation, oldest first.
    pub async fn history(
        &self,
        bot: &str,
        conversation: &str,
        limit: usize,
    ) -> Result<Vec<Turn>, StoreError> {
        let (bot, conv) = (bot.to_owned(), conversation.to_owned());
        self.run(move |c| {
            let mut st = c.prepare_cached(
                "SELECT role, sender, content, created_at FROM turns
                 WHERE bot = ?1 AND conversation = ?2 ORDER BY id DESC LIMIT ?3",
            )?;
            let rows = st.query_map(params![bot, conv, limit as i64], |r| {
                let role: String = r.get(0)?;
                Ok(Turn {
                    role: if role == "assistant" { TurnRole::Assistant } else { TurnRole::User },
                    sender: r.get(1)?,
                    content: r.get(2)?,
                    created_at: r.get(3)?,
                })
            })?;
            let mut out = rows.collect::<Result<Vec<_>, _>>()?;
            out.reverse();
            Ok(out)
        })
        .await
    }

    /// The bot's conversations, the most recently active first: what the
    /// dashboard lists.
    pub async fn conversations(
        &self,
        bot: &str,
        limit: usize,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        let bot = bot.to_owned();
        self.run(move |c| {
            // The newest turn of each conversation carries the preview; the
            // turns index makes MAX(id) per conversation cheap.
            let mut st = c.prepare_cached(
                "SELECT t.conversation, t.content, t.created_at, s.turns
                 FROM (SELECT conversation, MAX(id) AS last, COUNT(*) AS turns
                       FROM turns WHERE bot = ?1 GROUP BY conversation) s
                 JOIN turns t ON t.id = s.last
                 ORDER BY t.id DESC LIMIT ?2",
            )?;
            let rows = st.query_map(params![bot, limit as i64], |r| {
                Ok(ConversationSummary {
                    conversation: r.get(0)?,
                    last_text: r.get(1)?,
                    last_at: r.get(2)?,
                    turns: r.get::<_, i64>(3)? as u64,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Commits the answer to `inbound` in one transaction: appends the turns,
    /// puts the chunks into the outbox as pending, and marks the message
    /// `answered`. Returns the outbox entries. Committing twice for the same
    /// message adds nothing the second time.
    ///
    /// The entries are stored with one delivery attempt counted and returned
    /// with none: the caller starts delivering them at once, and a restart
    /// must treat them as possibly sent. So the first try needs no
    /// [`mark_attempt`](Self::mark_attempt) of its own.
    pub async fn commit_answer(
        &self,
        inbound: &crate::scene::Inbound,
        commit: Commit,
    ) -> Result<Vec<OutboundReply>, StoreError> {
        self.commit_answer_with_usage(inbound, commit, None).await
    }

    /// [`commit_answer`](Self::commit_answer) that also adds the model call
    /// which produced the answer to the usage table, in the same transaction
    /// (one commit per answer instead of two). The usage is added even when
    /// the message turns out to be answered already: the call was made.
    pub async fn commit_answer_with_usage(
        &self,
        inbound: &crate::scene::Inbound,
        commit: Commit,
        usage: Option<UsageEntry>,
    ) -> Result<Vec<OutboundReply>, StoreError> {
        let inb = inbound.clone();
        self.run(move |c| {
            // A savepoint, not a transaction: it may run inside a batch.
            let tx = c.savepoint()?;
            if let Some(u) = &usage {
                upsert_usage(&tx, &inb.bot, u)?;
            }
            let now = now_secs();
            let conv = inb.scene.conversation_id();
            let scene = serde_json::to_string(&inb.scene)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let already: Option<String> = tx
                .prepare_cached("SELECT state FROM inbound WHERE bot = ?1 AND message_id = ?2")?
                .query_row(params![inb.bot, inb.message_id], |r| r.get(0))
                .optional()?;
            let mut out = Vec::new();
            if already.as_deref() != Some("answered") {
                // The cached statements borrow `tx`: they are dropped (returned
                // to the cache) at the end of their blocks, before the commit.
                {
                    let mut insert_turn = tx.prepare_cached(
                        "INSERT INTO turns (bot, conversation, role, sender, content, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?;
                    for (role, sender, content) in &commit.turns {
                        insert_turn.execute(params![
                            inb.bot,
                            conv,
                            role.as_str(),
                            sender,
                            content,
                            now
                        ])?;
                    }
                }
                let parts = commit.chunks.len() as u32;
                let mut insert_reply = tx.prepare_cached(
                    "INSERT OR IGNORE INTO replies (bot, conversation, scene, reply_to, part,
                         parts, text, markdown, attempts, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?9)",
                )?;
                for (i, text) in commit.chunks.iter().enumerate() {
                    insert_reply.execute(params![
                        inb.bot,
                        conv,
                        scene,
                        inb.message_id,
                        i as i64,
                        parts,
                        text,
                        commit.markdown,
                        now
                    ])?;
                    out.push(OutboundReply {
                        id: tx.last_insert_rowid(),
                        bot: inb.bot.clone(),
                        scene: inb.scene.clone(),
                        reply_to_message_id: inb.message_id.clone(),
                        text: text.clone(),
                        markdown: commit.markdown,
                        part: i as u32,
                        parts,
                        attempts: 0,
                    });
                }
                tx.prepare_cached(
                    "UPDATE inbound SET state = 'answered' WHERE bot = ?1 AND message_id = ?2",
                )?
                .execute(params![inb.bot, inb.message_id])?;
            }
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    /// Pending outbox entries (all bots when `bot` is `None`), oldest first.
    pub async fn pending_replies(
        &self,
        bot: Option<&str>,
    ) -> Result<Vec<OutboundReply>, StoreError> {
        let bot = bot.map(str::to_owned);
        self.run(move |c| {
            let mut st = c.prepare_cached(
                "SELECT id, bot, scene, reply_to, text, markdown, part, parts, attempts
                 FROM replies WHERE state = 'pending' AND (?1 IS NULL OR bot = ?1) ORDER BY id",
            )?;
            let rows = st.query_map(params![bot], row_to_reply)?;
            let mut out = Vec::new();
            for r in rows {
                out.push(r??);
            }
            Ok(out)
        })
        .await
    }

    /// Every outbox entry answering `(bot, message_id)`, in order.
    pub async fn replies_to(
        &self,
        bot: &str,
        message_id: &str,
    ) -> Result<Vec<ReplyRecord>, StoreError> {
        let (bot, id) = (bot.to_owned(), message_id.to_owned());
        self.run(move |c| {
            let mut st = c.prepare_cached(
                "SELECT id, bot, scene, reply_to, text, markdown, part, parts, attempts,
                        state, response_id, error
                 FROM replies WHERE bot = ?1 AND reply_to = ?2 ORDER BY part",
            )?;
            let rows = st.query_map(params![bot, id], |r| {
                let reply = row_to_reply(r)?;
                Ok((reply, r.get::<_, String>(9)?, r.get(10)?, r.get(11)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (reply, state, response_id, error) = row?;
                out.push(ReplyRecord {
                    reply: reply?,
                    state: ReplyState::parse(&state),
                    response_id,
                    error,
                });
            }
            Ok(out)
        })
        .await
    }

    /// Counts a delivery attempt of an outbox entry (before sending it).
    pub async fn mark_attempt(&self, id: i64) -> Result<(), StoreError> {
        self.run(move |c| {
            c.prepare_cached(
                "UPDATE replies SET attempts = attempts + 1, updated_at = ?2 WHERE id = ?1",
            )?
            .execute(params![id, now_secs()])?;
            Ok(())
        })
        .await
    }

    /// Marks an outbox entry sent, with the platform's response id.
    pub async fn mark_sent(&self, id: i64, response_id: Option<String>) -> Result<(), StoreError> {
        self.run(move |c| {
            c.prepare_cached(
                "UPDATE replies SET state = 'sent', response_id = ?2, updated_at = ?3
                 WHERE id = ?1",
            )?
            .execute(params![id, response_id, now_secs()])?;
            Ok(())
        })
        .await
    }

    /// Marks an outbox entry failed (given up), with the reason.
    pub async fn mark_failed(&self, id: i64, error: String) -> Result<(), StoreError> {
        self.run(move |c| {
            c.prepare_cached(
                "UPDATE replies SET state = 'failed', error = ?2, updated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![id, error, now_secs()])?;
            Ok(())
        })
        .await
    }

    /// Audits one tool call.
    pub async fn record_tool_call(&self, rec: ToolCallRecord) -> Result<(), StoreError> {
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO tool_calls (bot, conversation, message_id, tool, arguments, ok,
                 result, duration_ms, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                rec.bot,
                rec.conversation,
                rec.message_id,
                rec.tool,
                rec.arguments,
                rec.ok,
                rec.result,
                rec.duration_ms as i64,
                now_secs()
            ])?;
            Ok(())
        })
        .await
    }

    /// Audited tool calls of a bot, oldest first: (tool, arguments, ok).
    pub async fn tool_calls(&self, bot: &str) -> Result<Vec<ToolCallRecord>, StoreError> {
        let bot = bot.to_owned();
        self.run(move |c| {
            let mut st = c.prepare_cached(
                "SELECT bot, conversation, message_id, tool, arguments, ok, result, duration_ms
                 FROM tool_calls WHERE bot = ?1 ORDER BY id",
            )?;
            let rows = st.query_map(params![bot], |r| {
                Ok(ToolCallRecord {
                    bot: r.get(0)?,
                    conversation: r.get(1)?,
                    message_id: r.get(2)?,
                    tool: r.get(3)?,
                    arguments: r.get(4)?,
                    ok: r.get(5)?,
                    result: r.get(6)?,
                    duration_ms: r.get::<_, i64>(7)? as u64,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Appends to the `exec` audit log (append-only: the table refuses
    /// updates and deletes).
    pub async fn append_exec_audit(&self, e: ExecAuditEntry) -> Result<(), StoreError> {
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO exec_audit (bot, user, program, args, cwd, decision, exit_code,
                 output, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                e.bot,
                e.user,
                e.program,
                e.args,
                e.cwd,
                e.decision,
                e.exit_code,
                e.output,
                e.created_at
            ])?;
            Ok(())
        })
        .await
    }

    /// The `exec` audit log of a bot, oldest first.
    pub async fn exec_audit(&self, bot: &str) -> Result<Vec<ExecAuditEntry>, StoreError> {
        let bot = bot.to_owned();
        self.run(move |c| {
            let mut st = c.prepare_cached(
                "SELECT bot, user, program, args, cwd, decision, exit_code, output, created_at
                 FROM exec_audit WHERE bot = ?1 ORDER BY id",
            )?;
            let rows = st.query_map(params![bot], |r| {
                Ok(ExecAuditEntry {
                    bot: r.get(0)?,
                    user: r.get(1)?,
                    program: r.get(2)?,
                    args: r.get(3)?,
                    cwd: r.get(4)?,
                    decision: r.get(5)?,
                    exit_code: r.get(6)?,
                    output: r.get(7)?,
                    created_at: r.get(8)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Adds one model call's tokens to `bot`'s usage for `day`.
    pub async fn add_usage(
        &self,
        bot: &str,
        day: &str,
        provider: &str,
        model: &str,
        usage: crate::provider::Usage,
    ) -> Result<(), StoreError> {
        let bot = bot.to_owned();
        let entry = UsageEntry::new(day, provider, model, usage);
        self.run(move |c| upsert_usage(c, &bot, &entry)).await
    }

    /// Usage rows (with cost from the price table) for `bot` (all bots when
    /// `None`) between `from_day` and `to_day` inclusive (`YYYY-MM-DD`),
    /// ordered by day, bot, provider, model. This is the dashboard's query.
    pub async fn usage(
        &self,
        bot: Option<&str>,
        from_day: &str,
        to_day: &str,
    ) -> Result<Vec<UsageRow>, StoreError> {
        let (bot, from, to) = (bot.map(str::to_owned), from_day.to_owned(), to_day.to_owned());
        self.run(move |c| {
            let mut st = c.prepare_cached(
                "SELECT u.bot, u.day, u.provider, u.model, u.input_tokens, u.output_tokens,
                        u.calls, p.input_per_million, p.output_per_million, p.currency
                 FROM usage_daily u LEFT JOIN prices p
                   ON p.provider = u.provider AND p.model = u.model
                 WHERE (?1 IS NULL OR u.bot = ?1) AND u.day >= ?2 AND u.day <= ?3
                 ORDER BY u.day, u.bot, u.provider, u.model",
            )?;
            let rows = st.query_map(params![bot, from, to], |r| {
                let input = r.get::<_, i64>(4)? as u64;
                let output = r.get::<_, i64>(5)? as u64;
                let price = match (r.get::<_, Option<f64>>(7)?, r.get::<_, Option<f64>>(8)?) {
                    (Some(i), Some(o)) => Some(Price {
                        input_per_million: i,
                        output_per_million: o,
                        currency: r.get(9)?,
                    }),
                    _ => None,
                };
                Ok(UsageRow {
                    bot: r.get(0)?,
                    day: r.get(1)?,
                    provider: r.get(2)?,
                    model: r.get(3)?,
                    input_tokens: input,
                    output_tokens: output,
                    calls: r.get::<_, i64>(6)? as u64,
                    cost: price.as_ref().map(|p| p.cost(input, output)),
                    currency: price.map(|p| p.currency),
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Sets (or replaces) the price of a `(provider, model)`.
    pub async fn set_price(
        &self,
        provider: &str,
        model: &str,
        price: Price,
    ) -> Result<(), StoreError> {
        let (provider, model) = (provider.to_owned(), model.to_owned());
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO prices (provider, model, input_per_million, output_per_million,
                 currency) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (provider, model) DO UPDATE SET
                 input_per_million = excluded.input_per_million,
                 output_per_million = excluded.output_per_million,
                 currency = excluded.currency",
            )?
            .execute(params![
                provider,
                model,
                price.input_per_million,
                price.output_per_million,
                price.currency
            ])?;
            Ok(())
        })
        .await
    }

    /// Removes the price of a `(provider, model)`.
    pub async fn remove_price(&self, provider: &str, model: &str) -> Result<(), StoreError> {
        let (provider, model) = (provider.to_owned(), model.to_owned());
        self.run(move |c| {
            c.prepare_cached("DELETE FROM prices WHERE provider = ?1 AND model = ?2")?
                .execute(params![provider, model])?;
            Ok(())
        })
        .await
    }

    /// The whole price table: `(provider, model, price)`.
    pub async fn prices(&self) -> Result<Vec<(String, String, Price)>, StoreError> {
        self.run(|c| {
            let mut st = c.prepare_cached(
                "SELECT provider, model, input_per_million, output_per_million, currency
                 FROM prices ORDER BY provider, model",
            )?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    Price {
                        input_per_million: r.get(2)?,
                        output_per_million: r.get(3)?,
                        currency: r.get(4)?,
                    },
                ))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Deletes conversation history, inbound records, finished outbox entries
    /// and tool-call audits older than `days` days (relative to `now`, Unix
    /// seconds). Pending replies, usage totals and the `exec` audit log are
    /// kept. Returns the number of history turns deleted.
    pub async fn apply_retention(&self, days: u32, now: i64) -> Result<usize, StoreError> {
        let cutoff = now - i64::from(days) * 86_400;
        self.run(move |c| {
            let tx = c.savepoint()?;
            let turns = tx
                .prepare_cached("DELETE FROM turns WHERE created_at < ?1")?
                .execute(params![cutoff])?;
            tx.prepare_cached("DELETE FROM inbound WHERE received_at < ?1 AND state != 'new'")?
                .execute(params![cutoff])?;
            tx.prepare_cached("DELETE FROM replies WHERE created_at < ?1 AND state != 'pending'")?
                .execute(params![cutoff])?;
            tx.prepare_cached("DELETE FROM tool_calls WHERE created_at < ?1")?
                .execute(params![cutoff])?;
            tx.commit()?;
            Ok(turns)
        })
        .await
    }

    /// Appends a turn with an explicit time (imports, tests of retention).
    pub async fn append_turn_at(
        &self,
        bot: &str,
        conversation: &str,
        role: TurnRole,
        content: &str,
        created_at: i64,
    ) -> Result<(), StoreError> {
        let (bot, conv, content) = (bot.to_owned(), conversation.to_owned(), content.to_owned());
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO turns (bot, conversation, role, sender, content, created_at)
                 VALUES (?1, ?2, ?3, NULL, ?4, ?5)",
            )?
            .execute(params![bot, conv, role.as_str(), content, created_at])?;
            Ok(())
        })
        .await
    }
}

type ReplyRow = Result<OutboundReply, StoreError>;

fn row_to_reply(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReplyRow> {
    let scene: String = r.get(2)?;
    let reply = serde_json::from_str::<Scene>(&scene)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
        .map(|scene| OutboundReply {
            id: 0,
            bot: String::new(),
            scene,
            reply_to_message_id: String::new(),
            text: String::new(),
            markdown: false,
            part: 0,
            parts: 0,
            attempts: 0,
        });
    let Ok(mut reply) = reply else { return Ok(reply) };
    reply.id = r.get(0)?;
    reply.bot = r.get(1)?;
    reply.reply_to_message_id = r.get(3)?;
    reply.text = r.get(4)?;
    reply.markdown = r.get(5)?;
    reply.part = r.get(6)?;
    reply.parts = r.get(7)?;
    reply.attempts = r.get(8)?;
    Ok(Ok(reply))
}

/// Brings the schema to [`schema_version`], one transaction per step.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let supported = schema_version();
    if current > supported {
        return Err(StoreError::TooNew { found: current, supported });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as u32)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "store schema migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An op for [`run_batch`] tests: runs `sql`, counts its runs.
    fn op(sql: &'static str, runs: Arc<Mutex<u32>>) -> (Box<dyn Op>, Slot<usize>) {
        let slot: Slot<usize> = Arc::default();
        let f = move |c: &mut Connection| {
            *runs.lock().unwrap() += 1;
            Ok(c.execute(sql, [])?)
        };
        (Box::new(Pending { f, result: None, slot: slot.clone() }), slot)
    }

    /// A connection with an empty table `t`, and a run counter for [`op`].
    fn table() -> (Connection, Arc<Mutex<u32>>) {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (x INTEGER PRIMARY KEY)").unwrap();
        (c, Arc::default())
    }

    fn count(c: &Connection) -> i64 {
        c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_batch_commits_together_and_a_failing_op_fails_alone() {
        let (mut c, runs) = table();
        let (a, ra) = op("INSERT INTO t VALUES (1)", runs.clone());
        let (b, rb) = op("INSERT INTO t VALUES (1)", runs.clone()); // duplicate key
        let (d, rd) = op("INSERT INTO t VALUES (2)", runs.clone());
        run_batch(&mut c, vec![a, b, d]);
        assert_eq!(ra.lock().unwrap().take().unwrap().unwrap(), 1);
        assert!(rb.lock().unwrap().take().unwrap().is_err());
        assert_eq!(rd.lock().unwrap().take().unwrap().unwrap(), 1);
        assert_eq!(count(&c), 2);
        assert_eq!(*runs.lock().unwrap(), 3, "one transaction, each op once");
        assert!(c.is_autocommit());
    }

    #[test]
    fn a_batch_rolled_back_under_it_reruns_each_op_alone_once() {
        let (mut c, runs) = table();
        let (a, ra) = op("INSERT INTO t VALUES (1)", runs.clone());
        // What SQLite does to the transaction on a full disk or an I/O error.
        let (b, rb) = op("ROLLBACK", runs.clone());
        let (d, rd) = op("INSERT INTO t VALUES (2)", runs.clone());
        run_batch(&mut c, vec![a, b, d]);
        assert_eq!(ra.lock().unwrap().take().unwrap().unwrap(), 1);
        // Alone, outside a transaction, the ROLLBACK itself fails.
        assert!(rb.lock().unwrap().take().unwrap().is_err());
        assert_eq!(rd.lock().unwrap().take().unwrap().unwrap(), 1);
        // Rows 1 and 2 once each: the first try of `a` was rolled back.
        assert_eq!(count(&c), 2);
        assert_eq!(*runs.lock().unwrap(), 2 + 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_operations_all_land_with_their_own_results() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s.db")).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..200 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let inbound = crate::scene::Inbound {
                    bot: "b".into(),
                    message_id: format!("m{i}"),
                    scene: Scene::C2c { user: format!("u{}", i % 7) },
                    text: format!("hello {i}"),
                };
                let first = store.record_inbound(&inbound, "new").await.unwrap();
                let again = store.record_inbound(&inbound, "new").await.unwrap();
                let commit = Commit {
                    turns: vec![(TurnRole::User, None, inbound.text.clone())],
                    chunks: vec![format!("answer {i}")],
                    markdown: false,
                };
                let replies = store.commit_answer(&inbound, commit).await.unwrap();
                (first, again, replies)
            }));
        }
        let mut ids = std::collections::HashSet::new();
        for (i, t) in tasks.into_iter().enumerate() {
            let (first, again, replies) = t.await.unwrap();
            assert!(first && !again, "message {i}");
            assert_eq!(replies.len(), 1);
            assert_eq!(replies[0].text, format!("answer {i}"));
            assert!(ids.insert(replies[0].id), "outbox ids are unique");
        }
        assert_eq!(store.pending_replies(None).await.unwrap().len(), 200);
        let turns = history_len(&store).await;
        assert_eq!(turns, 200);
    }

    #[tokio::test]
    async fn the_wal_is_checkpointed_off_the_commit_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = Store::open(&path).await.unwrap();
        for i in 0..300 {
            store
                .append_turn_at("b", "c2c:u", TurnRole::User, &format!("turn {i}"), now_secs())
                .await
                .unwrap();
        }
        // Commits no longer checkpoint (that stalled them); the store's own
        // thread does, within a second or so: then a checkpoint finds every
        // frame of the WAL already in the database file.
        let other = Connection::open(&path).unwrap();
        let mut left = i64::MAX;
        for _ in 0..100 {
            let (busy, log, done): (i64, i64, i64) = other
                .query_row("PRAGMA wal_checkpoint(NOOP)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .unwrap_or((1, 1, 0));
            left = log - done;
            if busy == 0 && log > 0 && left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(left, 0, "WAL frames never checkpointed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_under_steady_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = Store::open(&path).await.unwrap();
        // Writers that never pause, so no checkpoint beside them catches up;
        // 3 KB turns, each about a page of its own in the WAL.
        let content = "x".repeat(3000);
        let target = 8 * WAL_SIZE_LIMIT as usize;
        let written = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut writers = Vec::new();
        for w in 0..4 {
            let (store, content, written) = (store.clone(), content.clone(), written.clone());
            writers.push(tokio::spawn(async move {
                use std::sync::atomic::Ordering::Relaxed;
                while written.fetch_add(content.len(), Relaxed) < target {
                    let conv = format!("c2c:{w}");
                    store.append_turn_at("b", &conv, TurnRole::User, &content, 0).await.unwrap();
                }
            }));
        }
        // The WAL's frame count drops when it starts over.
        let other = Connection::open(&path).unwrap();
        let (mut frames, mut restarts) = (0, 0);
        while writers.iter().any(|w| !w.is_finished()) {
            let (now, _) = checkpoint(&other, "NOOP").unwrap();
            restarts += usize::from(now < frames);
            frames = now;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        for w in writers {
            w.await.unwrap();
        }
        assert!(restarts >= 2, "the WAL started over {restarts} times under steady writes");
        // Quiet now: the room it took is given back.
        let wal = dir.path().join("s.db-wal");
        let size = || std::fs::metadata(&wal).map_or(0, |m| m.len());
        let grown = size();
        for _ in 0..100 {
            if size() <= WAL_IDLE_SIZE {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(grown > WAL_IDLE_SIZE && size() <= WAL_IDLE_SIZE, "{grown} then {}", size());
        let turns: i64 = other.query_row("SELECT count(*) FROM turns", [], |r| r.get(0)).unwrap();
        assert_eq!(turns as usize, target.div_ceil(content.len()), "every write is kept");
    }

    /// Linux's scheduling policy (`/proc/.../stat` field 41) of this
    /// process's threads named `name`.
    #[cfg(target_os = "linux")]
    fn thread_policies(name: &str) -> Vec<u32> {
        let mut policies = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if comm.trim_end() != name {
                continue;
            }
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            // Fields after the command name's ')' start at field 3.
            let rest = &stat[stat.rfind(')').unwrap() + 1..];
            policies.push(rest.split_whitespace().nth(41 - 3).unwrap().parse().unwrap());
        }
        policies
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_checkpoint_thread_runs_only_when_a_core_is_idle() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s.db")).await.unwrap();
        store.append_turn_at("b", "c2c:u", TurnRole::User, "hi", 0).await.unwrap();
        // Thread names are cut to 15 bytes.
        let name = "pincer-store-ch";
        // Other tests' stores have theirs too; every one must be idle.
        let mut policies = thread_policies(name);
        for _ in 0..100 {
            if !policies.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            policies = thread_policies(name);
        }
        let idle = libc::SCHED_IDLE as u32;
        assert!(!policies.is_empty() && policies.iter().all(|p| *p == idle), "{policies:?}");
        // Only that thread: the test's own keeps the normal policy.
        let mine = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let rest = &mine[mine.rfind(')').unwrap() + 1..];
        assert_eq!(rest.split_whitespace().nth(41 - 3), Some("0"), "{mine}");
    }

    #[tokio::test]
    async fn the_waiting_queries_use_the_small_state_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        drop(Store::open(&path).await.unwrap());
        let c = Connection::open(&path).unwrap();
        for (sql, index) in [
            (
                "SELECT conversation FROM inbound WHERE bot = 'b' AND state = 'new'
                 AND scene IS NOT NULL GROUP BY conversation ORDER BY min(rowid)",
                "inbound_new",
            ),
            (
                "SELECT rowid FROM inbound WHERE bot = 'b' AND conversation = 'c'
                 AND state = 'new' AND scene IS NOT NULL AND rowid > 0 ORDER BY rowid LIMIT 9",
                "inbound_new",
            ),
            ("SELECT id FROM replies WHERE state = 'pending' ORDER BY id", "replies_pending"),
        ] {
            let plan: Vec<String> = c
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map([], |r| r.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(plan.iter().any(|p| p.contains(index)), "{sql}: {plan:?}");
        }
    }

    async fn history_len(store: &Store) -> usize {
        let mut n = 0;
        for u in 0..7 {
            n += store.history("b", &format!("c2c:u{u}"), 1000).await.unwrap().len();
        }
        n
    }

    #[test]
    fn days_roll_over_at_midnight_beijing_time() {
        // 2024-02-29T15:59:59Z is 23:59:59 in Beijing; a second later it is March.
        assert_eq!(day_of(1_709_222_399), "2024-02-29");
        assert_eq!(day_of(1_709_222_400), "2024-03-01");
        assert_eq!(day_of(0), "1970-01-01");
    }

    #[test]
    fn price_cost_is_per_million() {
        let p = Price { input_per_million: 2.0, output_per_million: 8.0, currency: "CNY".into() };
        assert!((p.cost(500_000, 250_000) - 3.0).abs() < 1e-9);
    }
}
