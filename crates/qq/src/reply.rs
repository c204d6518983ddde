//! Passive-reply bookkeeping (spec §6.3, §9 items 22–24): which inbound
//! message or event may still be answered, how many answers are left, and
//! which `msg_seq` the next answer uses.
//!
//! # `msg_seq` persistence
//!
//! The platform rejects a repeated `(msg_id, msg_seq)` pair as a duplicate
//! (40054005), and a restarted process must not repeat one. [`ReplyLedger`]
//! hands out `msg_seq` 1, 2, 3, … per anchor (the inbound `msg_id` or
//! `event_id`), and with a file ([`ReplyLedger::open`]) it **writes the
//! advanced counter to the file before it returns the slot**: a process that
//! dies after sending, or even before, has already recorded the seq as used,
//! so a restarted process continues after it.
//!
//! "Written" means handed to the operating system (`write`), not `fdatasync`:
//! that survives the process being killed at any point, not a power cut. The
//! conversation store next to it (SQLite WAL, `synchronous = NORMAL`) makes
//! the same promise, so after a power cut a reply may be repeated either way;
//! a sync here cost 0.3–0.8 ms on every reply, in front of the send, and
//! bought nothing the store keeps. Snapshots are still synced before they
//! replace the file, so a power cut never leaves a half-written one.
//!
//! The file is a journal: each change appends one JSON line holding the
//! anchor's new state; on load the last line per anchor wins. Replies taken while a write runs share the next one (group
//! commit), so a burst costs a few writes, not one each, and a write costs
//! the same however many anchors are live. When the journal holds several
//! lines per live entry it is replaced by a snapshot (temp file, `fsync`,
//! rename). A line cut short by a crash is skipped on load: its slot was
//! never handed out. Entries are kept for [`ReplyPolicy::retention`] (by
//! default twice the reply window, at least two hours) and then pruned: by
//! then the platform no longer accepts replies to the anchor, so a seq
//! cannot collide any more.
//!
//! If a write fails (disk full, read-only), a plain slot
//! ([`ReplyLedger::next_slot`]) is still handed out and the ledger keeps going
//! in memory: a seq reused after a later crash shows up as 40054005, which
//! [`crate::outbound::Replier`] handles by taking the next seq. A keyed slot
//! ([`ReplyLedger::keyed_slot`]) is refused instead ([`SlotError::NotRecorded`]):
//! its key is what makes a send repeated after a crash safe, and a key that
//! only lived in memory would let that repeat go out with a new seq, i.e. a
//! second reply. Two processes must not share one ledger file.
//!
//! On 40054005 the caller takes a fresh slot: the earlier send with that seq
//! (from a previous process, or an attempt whose answer was lost) most likely
//! succeeded.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Where a conversation takes place; decides the passive-reply rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scene {
    /// A private chat with a user (`/v2/users/{openid}`).
    C2c,
    /// A QQ group (`/v2/groups/{group_openid}`).
    Group,
    /// A guild text channel (`/channels/{channel_id}`).
    Channel,
    /// A guild direct message (`/dms/{guild_id}`).
    Dm,
}

impl fmt::Display for Scene {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scene::C2c => "private chat",
            Scene::Group => "group",
            Scene::Channel => "channel",
            Scene::Dm => "guild DM",
        })
    }
}

/// What a passive reply answers: an inbound message (`d.id`, sent as
/// `msg_id`) or an event (the envelope `id`, sent as `event_id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// `msg_id` of an inbound message.
    Message(String),
    /// `event_id` of an inbound event (FRIEND_ADD, GROUP_ADD_ROBOT, …).
    Event(String),
}

impl Anchor {
    /// The id, whichever kind it is.
    pub fn id(&self) -> &str {
        match self {
            Anchor::Message(id) | Anchor::Event(id) => id,
        }
    }
}

/// The passive-reply rules per scene (spec §6.3). Defaults follow the 2026
/// documentation: C2C 60 min / 4 replies, group 5 min / 5 replies, channel
/// and DM 5 min without a count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyPolicy {
    /// C2C reply window after the inbound message.
    pub c2c_window: Duration,
    /// C2C replies per anchor (4 by default; the 2024 docs said 5).
    pub c2c_budget: u32,
    /// Group reply window.
    pub group_window: Duration,
    /// Group replies per anchor.
    pub group_budget: u32,
    /// Channel and DM reply window (no count limit).
    pub guild_window: Duration,
    /// A reply is refused this long before the window closes, to leave time
    /// for the request to arrive.
    pub safety_margin: Duration,
    /// How long an entry is kept (and persisted) after it was first seen.
    pub retention: Duration,
}

impl Default for ReplyPolicy {
    fn default() -> Self {
        Self {
            c2c_window: Duration::from_secs(60 * 60),
            c2c_budget: 4,
            group_window: Duration::from_secs(5 * 60),
            group_budget: 5,
            guild_window: Duration::from_secs(5 * 60),
            safety_margin: Duration::from_secs(5),
            retention: Duration::from_secs(2 * 60 * 60),
        }
    }
}

impl ReplyPolicy {
    /// The window and the count limit (`None` = no limit) of `scene`.
    pub fn rules(&self, scene: Scene) -> (Duration, Option<u32>) {
        match scene {
            Scene::C2c => (self.c2c_window, Some(self.c2c_budget)),
            Scene::Group => (self.group_window, Some(self.group_budget)),
            Scene::Channel | Scene::Dm => (self.guild_window, None),
        }
    }

    fn retention_for(&self, scene: Scene) -> Duration {
        self.retention.max(self.rules(scene).0 * 2)
    }
}

/// Permission for one passive reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplySlot {
    /// The `msg_seq` to send; never handed out twice for the same anchor.
    pub msg_seq: u32,
    /// Replies left after this one; `None` when the scene has no count limit.
    pub remaining_after: Option<u32>,
    /// When the reply window closes.
    pub expires_at: Instant,
}

impl ReplySlot {
    /// Whether this is the last reply the anchor allows: the caller should
    /// say everything it still needs to say in it (or mention that further
    /// answers need a new message from the user).
    pub fn is_last(&self) -> bool {
        self.remaining_after == Some(0)
    }
}

/// Why a passive reply is not possible any more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyRefused {
    /// The reply window has closed.
    #[error("the {scene} message is too old to answer (the {window_min}-minute reply window has closed); wait for the user to write again")]
    Expired {
        /// The scene.
        scene: Scene,
        /// The window, in minutes.
        window_min: u64,
    },
    /// All replies to this message were used.
    #[error("all {budget} replies to this {scene} message are used; the platform allows no more until the user writes again")]
    BudgetExhausted {
        /// The scene.
        scene: Scene,
        /// The replies allowed per message.
        budget: u32,
    },
}

/// Why [`ReplyLedger::keyed_slot`] handed out no slot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    /// The reply rules forbid another reply.
    #[error(transparent)]
    Refused(#[from] ReplyRefused),
    /// The slot could not be written to the ledger file (a full disk): it
    /// was taken back, and nothing may be sent under the key yet.
    #[error("cannot record the reply in {path} ({detail}); free some space on that disk: the reply waits and is sent once it can be recorded")]
    NotRecorded {
        /// The ledger file.
        path: PathBuf,
        /// What the file system said.
        detail: String,
    },
}

impl SlotError {
    /// The same in Chinese, for the user.
    pub fn explain_zh(&self) -> String {
        match self {
            SlotError::Refused(reason) => reason.explain_zh(),
            SlotError::NotRecorded { path, detail } => format!(
                "无法在 {} 中记录这条回复（{detail}，磁盘已满？）：请清理该磁盘的空间，回复会保留，能记录后自动发送。",
                path.display()
            ),
        }
    }
}

impl ReplyRefused {
    /// The same in Chinese, for the user.
    pub fn explain_zh(&self) -> String {
        match self {
            ReplyRefused::Expired { window_min, .. } => {
                format!("这条消息已超过 {window_min} 分钟的被动回复时限，无法再回复；请等待用户再次发消息。")
            }
            ReplyRefused::BudgetExhausted { budget, .. } => {
                format!("这条消息的 {budget} 次被动回复已用完；请等待用户再次发消息。")
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    scene: Scene,
    /// Wall clock, unix seconds, of the first sighting (persisted).
    first_seen_unix: u64,
    /// Replies counted against the budget.
    used: u32,
    /// The next `msg_seq` to hand out.
    next_seq: u32,
    /// Set when the platform said the anchor is done (40034128 / expired).
    #[serde(default)]
    closed: bool,
    /// Seqs reserved under a caller's key (an outbox entry), so that a send
    /// repeated after a crash reuses its seq: see [`ReplyLedger::keyed_slot`].
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    keyed: std::collections::BTreeMap<String, u32>,
    /// Monotonic first sighting; rebuilt from `first_seen_unix` on load.
    #[serde(skip, default = "Instant::now")]
    first_seen: Instant,
}

/// The file format before the journal: one JSON document, rewritten whole
/// on every change. Still read, and replaced by a journal on the next write.
#[derive(Debug, Default, Serialize, Deserialize)]
struct FileState {
    version: u32,
    entries: Vec<(Anchor, Entry)>,
}

/// The journal is rewritten as a snapshot once it holds this many lines and
/// more than [`COMPACT_FACTOR`] lines per live entry.
const COMPACT_MIN_LINES: u64 = 4096;
const COMPACT_FACTOR: u64 = 4;
/// Expired entries are dropped from memory at most this often.
const PRUNE_EVERY: Duration = Duration::from_secs(10);

/// The ledger's state in memory, behind one lock.
#[derive(Debug, Default)]
struct Book {
    entries: HashMap<Anchor, Entry>,
    /// Journal lines of changes not yet written, one `[anchor, entry]` each.
    pending: Vec<u8>,
    pending_lines: u64,
    /// Changes are numbered 1, 2, …; this is the newest one's number.
    changes: u64,
    pruned_at: Option<Instant>,
    /// The ledger has a file (else changes are not queued).
    journaled: bool,
}

impl Book {
    /// Queues the current state of `anchor` for the journal; the number of
    /// the change, for [`ReplyLedger::persist`]. An in-memory ledger
    /// keeps nothing.
    fn record(&mut self, anchor: &Anchor) -> u64 {
        if !self.journaled {
            return 0;
        }
        if let Some(entry) = self.entries.get(anchor) {
            serde_json::to_writer(&mut self.pending, &(anchor, entry))
                .expect("ledger entry serialises");
            self.pending.push(b'\n');
            self.pending_lines += 1;
        }
        self.changes += 1;
        self.changes
    }

    fn prune(&mut self, policy: &ReplyPolicy) {
        let now = Instant::now();
        self.entries
            .retain(|_, e| now.duration_since(e.first_seen) < policy.retention_for(e.scene));
        self.pruned_at = Some(now);
    }
}

/// The journal file, owned by whichever `persist` call is writing.
#[derive(Debug, Default)]
struct Journal {
    /// Every change up to this number is on disk.
    written: u64,
    /// Open for appending; `None` until the first write.
    file: Option<std::fs::File>,
    /// Lines in the file.
    lines: u64,
    /// The file misses changes (a write failed, or it is in the old format):
    /// the next write is a whole snapshot.
    stale: bool,
}

/// What one journal write puts on disk.
enum Batch {
    /// Lines appended to the journal.
    Append(Vec<u8>),
    /// The whole journal replaced by one line per live entry.
    Snapshot(Vec<u8>),
}

/// Tracks passive replies per anchor; see the module docs for the `msg_seq`
/// design. Cheap to share behind an [`Arc`](std::sync::Arc).
#[derive(Debug)]
pub struct ReplyLedger {
    policy: ReplyPolicy,
    book: Mutex<Book>,
    path: Option<PathBuf>,
    // Serialises file writes. A caller whose change was written meanwhile by
    // another caller's write returns at once (group commit): a burst of
    // slots costs one write instead of one each.
    journal: tokio::sync::Mutex<Journal>,
}

impl ReplyLedger {
    /// A ledger that lives in memory only.
    pub fn in_memory(policy: ReplyPolicy) -> Self {
        Self {
            policy,
            book: Mutex::new(Book::default()),
            path: None,
            journal: tokio::sync::Mutex::new(Journal::default()),
        }
    }

    /// A ledger persisted at `path` (a journal of JSON lines), loading what
    /// an earlier process left there. A missing file is an empty ledger; an
    /// unreadable one is moved aside to `<path>.corrupt` with a warning.
    pub async fn open(path: impl Into<PathBuf>, policy: ReplyPolicy) -> std::io::Result<Self> {
        let path = path.into();
        let load_path = path.clone();
        let loaded = tokio::task::spawn_blocking(move || load(&load_path))
            .await
            .map_err(std::io::Error::other)??;
        let now_unix = unix_now();
        let now = Instant::now();
        let mut entries = HashMap::new();
        for (anchor, mut entry) in loaded.entries {
            let age = Duration::from_secs(now_unix.saturating_sub(entry.first_seen_unix));
            if age >= policy.retention_for(entry.scene) {
                // A later line may hold a newer state of the same anchor
                // (it cannot be younger, but stay exact).
                entries.remove(&anchor);
                continue;
            }
            entry.first_seen = now.checked_sub(age).unwrap_or(now);
            entries.insert(anchor, entry);
        }
        Ok(Self {
            policy,
            book: Mutex::new(Book {
                entries,
                pruned_at: Some(now),
                journaled: true,
                ..Book::default()
            }),
            path: Some(path),
            journal: tokio::sync::Mutex::new(Journal {
                lines: loaded.lines,
                stale: loaded.rewrite,
                ..Journal::default()
            }),
        })
    }

    /// The rules in force.
    pub fn policy(&self) -> &ReplyPolicy {
        &self.policy
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().expect("reply ledger poisoned")
    }

    /// Records that an inbound message or event arrived now, so that its
    /// window is counted from its arrival rather than from the first reply.
    /// Does nothing if the anchor is already known.
    pub fn observe(&self, scene: Scene, anchor: &Anchor) {
        self.book().entries.entry(anchor.clone()).or_insert_with(|| new_entry(scene));
    }

    /// A slot for the next passive reply to the message `msg_id`.
    pub async fn next_reply(&self, scene: Scene, msg_id: &str) -> Result<ReplySlot, ReplyRefused> {
        self.next_slot(scene, &Anchor::Message(msg_id.to_owned())).await
    }

    /// A slot for the next passive reply to the event `event_id`.
    pub async fn next_event_reply(
        &self,
        scene: Scene,
        event_id: &str,
    ) -> Result<ReplySlot, ReplyRefused> {
        self.next_slot(scene, &Anchor::Event(event_id.to_owned())).await
    }

    /// A slot for the next passive reply to `anchor`: counts one reply, takes
    /// the next `msg_seq`, and (with a file) persists both before returning.
    /// Refused without side effects when the window closed or the budget is used.
    pub async fn next_slot(
        &self,
        scene: Scene,
        anchor: &Anchor,
    ) -> Result<ReplySlot, ReplyRefused> {
        let (slot, change) = self.reserve(scene, anchor, None)?;
        // Fails open (logged): see the module docs.
        let _ = self.persist(change).await;
        Ok(slot)
    }

    /// Counts one reply and takes the next `msg_seq` (in memory), filed under
    /// `key` when given, so that one journal line covers both. Returns the
    /// slot and the number of the change.
    fn reserve(
        &self,
        scene: Scene,
        anchor: &Anchor,
        key: Option<&str>,
    ) -> Result<(ReplySlot, u64), ReplyRefused> {
        let mut book = self.book();
        if book.pruned_at.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            book.prune(&self.policy);
        }
        let entry = book.entries.entry(anchor.clone()).or_insert_with(|| new_entry(scene));
        let (window, budget) = self.policy.rules(entry.scene);
        let expires_at = entry.first_seen + window;
        if Instant::now() + self.policy.safety_margin >= expires_at {
            return Err(ReplyRefused::Expired {
                scene: entry.scene,
                window_min: window.as_secs() / 60,
            });
        }
        if let Some(budget) = budget {
            if entry.closed || entry.used >= budget {
                return Err(ReplyRefused::BudgetExhausted { scene: entry.scene, budget });
            }
        } else if entry.closed {
            return Err(ReplyRefused::Expired {
                scene: entry.scene,
                window_min: window.as_secs() / 60,
            });
        }
        entry.used += 1;
        let msg_seq = entry.next_seq;
        entry.next_seq = entry.next_seq.saturating_add(1);
        if let Some(key) = key {
            entry.keyed.insert(key.to_owned(), msg_seq);
        }
        let slot =
            ReplySlot { msg_seq, remaining_after: budget.map(|b| b - entry.used), expires_at };
        let change = book.record(anchor);
        Ok((slot, change))
    }

    /// Like [`next_slot`](Self::next_slot), but idempotent per `key`: the
    /// first call reserves a slot under `key` (persisted before returning),
    /// later calls with the same key, in this process or after a restart,
    /// get the same `msg_seq` back with `reused = true` and count nothing.
    /// Sending again with a reused seq is safe: QQ answers 40054005 when the
    /// first send arrived, which then means "delivered".
    ///
    /// Unlike `next_slot` it does not fail open: when the ledger file cannot
    /// be written the reservation is taken back and
    /// [`SlotError::NotRecorded`] returned, so the caller waits and tries
    /// again instead of sending under a key a restart would not know.
    pub async fn keyed_slot(
        &self,
        scene: Scene,
        anchor: &Anchor,
        key: &str,
    ) -> Result<(ReplySlot, bool), SlotError> {
        let reused = {
            let book = self.book();
            book.entries.get(anchor).and_then(|e| {
                let (window, budget) = self.policy.rules(e.scene);
                e.keyed.get(key).map(|seq| ReplySlot {
                    msg_seq: *seq,
                    remaining_after: budget.map(|b| b.saturating_sub(e.used)),
                    expires_at: e.first_seen + window,
                })
            })
        };
        if let Some(slot) = reused {
            return Ok((slot, true));
        }
        let (slot, change) = self.reserve(scene, anchor, Some(key))?;
        if let Err(e) = self.persist(change).await {
            self.unreserve(anchor, key);
            let path = self.path.clone().unwrap_or_default();
            return Err(SlotError::NotRecorded { path, detail: e.to_string() });
        }
        Ok((slot, false))
    }

    /// Takes back a keyed reservation that could not be persisted. Its seq
    /// stays used (the next one is fresh either way). If another caller's
    /// write put the key on disk meanwhile, a restart reuses it: a seq that
    /// was never sent, which QQ simply accepts.
    fn unreserve(&self, anchor: &Anchor, key: &str) {
        let mut book = self.book();
        let Some(entry) = book.entries.get_mut(anchor) else { return };
        if entry.keyed.remove(key).is_some() {
            entry.used = entry.used.saturating_sub(1);
            book.record(anchor);
        }
    }

    /// How many replies `anchor` has left: `Ok(None)` for no count limit (or
    /// an anchor not seen yet in a scene without one), `Err` when none are.
    pub fn remaining(&self, scene: Scene, anchor: &Anchor) -> Result<Option<u32>, ReplyRefused> {
        let book = self.book();
        let (window, budget) =
            self.policy.rules(book.entries.get(anchor).map_or(scene, |e| e.scene));
        let Some(entry) = book.entries.get(anchor) else {
            return Ok(budget);
        };
        if Instant::now() + self.policy.safety_margin >= entry.first_seen + window {
            return Err(ReplyRefused::Expired {
                scene: entry.scene,
                window_min: window.as_secs() / 60,
            });
        }
        match budget {
            Some(budget) if entry.closed || entry.used >= budget => {
                Err(ReplyRefused::BudgetExhausted { scene: entry.scene, budget })
            }
            Some(budget) => Ok(Some(budget - entry.used)),
            None => Ok(None),
        }
    }

    /// Gives back the budget of a slot whose send the platform rejected for
    /// a reason that means nothing was delivered (markdown refused, message
    /// too long). The `msg_seq` is **not** reused.
    pub async fn refund(&self, anchor: &Anchor) {
        let change = {
            let mut book = self.book();
            let Some(entry) = book.entries.get_mut(anchor) else { return };
            entry.used = entry.used.saturating_sub(1);
            book.record(anchor)
        };
        let _ = self.persist(change).await;
    }

    /// Marks `anchor` as done because the platform said so (40034128, an
    /// expired `msg_id`): later slots are refused.
    pub async fn close(&self, anchor: &Anchor) {
        let change = {
            let mut book = self.book();
            let Some(entry) = book.entries.get_mut(anchor) else { return };
            entry.closed = true;
            book.record(anchor)
        };
        let _ = self.persist(change).await;
    }

    /// Returns once change number `change` is written (if there is a file):
    /// appends every queued change in one write, or, when the
    /// journal has grown to several lines per live entry, replaces it with a
    /// snapshot. Failures are logged and returned; the ledger keeps working
    /// in memory, and the next write is a whole snapshot.
    async fn persist(&self, change: u64) -> std::io::Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        let mut journal = self.journal.lock().await;
        if journal.written >= change {
            return Ok(());
        }
        let (covers, batch, lines) = {
            let mut book = self.book();
            let covers = book.changes;
            let live = book.entries.len() as u64;
            let grown =
                journal.lines + book.pending_lines > COMPACT_MIN_LINES.max(COMPACT_FACTOR * live);
            if journal.stale || grown {
                book.prune(&self.policy);
                book.pending.clear();
                book.pending_lines = 0;
                let mut bytes = Vec::new();
                for line in book.entries.iter() {
                    serde_json::to_writer(&mut bytes, &line).expect("ledger entry serialises");
                    bytes.push(b'\n');
                }
                (covers, Batch::Snapshot(bytes), book.entries.len() as u64)
            } else {
                let lines = std::mem::take(&mut book.pending_lines);
                (covers, Batch::Append(std::mem::take(&mut book.pending)), lines)
            }
        };
        let target = path.clone();
        let file = journal.file.take();
        let snapshot = matches!(batch, Batch::Snapshot(_));
        // An append is one `write` of a few lines into the page cache, which
        // does not wait for the disk: done here, like a log line, it saves the
        // reply a round trip through the blocking pool (44 µs median, 129 µs
        // p99 on a 2-core VM). A snapshot syncs, so it goes to the pool.
        let result = if snapshot {
            tokio::task::spawn_blocking(move || write_journal(&target, file, batch)).await
        } else {
            Ok(write_journal(&target, file, batch))
        };
        match result {
            Ok(Ok((file, replaced))) => {
                if let Some(replaced) = replaced {
                    tokio::task::spawn_blocking(move || drop(replaced));
                }
                journal.file = Some(file);
                journal.written = covers;
                journal.lines = if snapshot { lines } else { journal.lines + lines };
                journal.stale = false;
                Ok(())
            }
            Ok(Err(e)) => {
                journal.stale = true;
                tracing::warn!(path = %path.display(), error = %e, "cannot persist the reply ledger");
                Err(e)
            }
            Err(e) => {
                journal.stale = true;
                tracing::warn!(error = %e, "reply ledger write task failed");
                Err(std::io::Error::other(e))
            }
        }
    }
}

fn new_entry(scene: Scene) -> Entry {
    Entry {
        scene,
        first_seen_unix: unix_now(),
        used: 0,
        next_seq: 1,
        closed: false,
        keyed: Default::default(),
        first_seen: Instant::now(),
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// What [`load`] found in the file.
#[derive(Debug, Default)]
struct Loaded {
    /// In file order; a later line for an anchor replaces an earlier one.
    entries: Vec<(Anchor, Entry)>,
    lines: u64,
    /// The file must be rewritten on the next write: it is in the
    /// pre-journal format, or has unreadable lines or an unfinished last
    /// line (appending to that would glue the next change onto it).
    rewrite: bool,
}

fn load(path: &Path) -> std::io::Result<Loaded> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(e) => return Err(e),
    };
    let move_aside = |e: &dyn fmt::Display| -> std::io::Result<Loaded> {
        let aside = path.with_extension("corrupt");
        tracing::warn!(path = %path.display(), error = %e, "reply ledger unreadable; moved aside, starting empty");
        std::fs::rename(path, aside)?;
        Ok(Loaded::default())
    };
    if bytes.first() == Some(&b'{') {
        return match serde_json::from_slice::<FileState>(&bytes) {
            Ok(state) => Ok(Loaded {
                lines: state.entries.len() as u64,
                entries: state.entries,
                rewrite: true,
            }),
            Err(e) => move_aside(&e),
        };
    }
    let mut loaded = Loaded { rewrite: bytes.last() != Some(&b'\n'), ..Loaded::default() };
    let mut unreadable = 0u64;
    let mut last_error = None;
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        loaded.lines += 1;
        match serde_json::from_slice::<(Anchor, Entry)>(line) {
            Ok(pair) => loaded.entries.push(pair),
            Err(e) => {
                unreadable += 1;
                last_error = Some(e);
            }
        }
    }
    match last_error {
        Some(e) if loaded.entries.is_empty() => move_aside(&e),
        Some(e) => {
            // A line cut short by a crash or a full disk mid-write: that
            // change was never confirmed to anyone, so nothing relied on it.
            loaded.rewrite = true;
            tracing::warn!(path = %path.display(), unreadable, error = %e, "reply ledger: unreadable lines skipped");
            Ok(loaded)
        }
        None => Ok(loaded),
    }
}

/// Writes one batch; returns the file, open for appending the next one,
/// and, after a snapshot, the replaced journal, still open.
///
/// The replaced journal is handed back so that its last close, which frees
/// its blocks, happens after the ledger's lock is released: on a file
/// system mounted with `discard`, freeing waits for the device (up to
/// 1.5 ms a time, measured inside `rename` on this project's 2-core VM).
fn write_journal(
    path: &Path,
    file: Option<std::fs::File>,
    batch: Batch,
) -> std::io::Result<(std::fs::File, Option<std::fs::File>)> {
    use std::io::Write;
    let open_append = || std::fs::OpenOptions::new().create(true).append(true).open(path);
    match batch {
        Batch::Append(bytes) => {
            let mut file = match file {
                Some(f) => f,
                None => open_append()?,
            };
            // No sync: see the module docs.
            file.write_all(&bytes)?;
            Ok((file, None))
        }
        Batch::Snapshot(bytes) => {
            // Windows cannot rename over a file that is open.
            let replaced = if cfg!(unix) {
                file.or_else(|| std::fs::File::open(path).ok())
            } else {
                drop(file);
                None
            };
            write_atomic(path, &bytes)?;
            Ok((open_append()?, replaced))
        }
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn msg(id: &str) -> Anchor {
        Anchor::Message(id.into())
    }

    #[tokio::test(start_paused = true)]
    async fn c2c_budget_is_four_with_a_last_reply_warning() {
        let ledger = ReplyLedger::in_memory(ReplyPolicy::default());
        let mut seqs = Vec::new();
        for i in 0..4 {
            let slot = ledger.next_reply(Scene::C2c, "m1").await.unwrap();
            assert_eq!(slot.remaining_after, Some(3 - i));
            assert_eq!(slot.is_last(), i == 3);
            seqs.push(slot.msg_seq);
        }
        assert_eq!(seqs, vec![1, 2, 3, 4]);
        let refused = ledger.next_reply(Scene::C2c, "m1").await.unwrap_err();
        assert_eq!(refused, ReplyRefused::BudgetExhausted { scene: Scene::C2c, budget: 4 });
        assert!(refused.to_string().contains("all 4 replies"));
        assert!(refused.explain_zh().contains("4 次"));
        // Another message has its own budget.
        assert_eq!(ledger.next_reply(Scene::C2c, "m2").await.unwrap().msg_seq, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn budget_of_five_is_configurable() {
        let policy = ReplyPolicy { c2c_budget: 5, ..ReplyPolicy::default() };
        let ledger = ReplyLedger::in_memory(policy);
        for _ in 0..5 {
            ledger.next_reply(Scene::C2c, "m").await.unwrap();
        }
        assert!(ledger.next_reply(Scene::C2c, "m").await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn windows_close_per_scene() {
        let ledger = ReplyLedger::in_memory(ReplyPolicy::default());
        ledger.observe(Scene::Group, &msg("g"));
        ledger.observe(Scene::C2c, &msg("c"));
        ledger.observe(Scene::Channel, &msg("ch"));
        tokio::time::advance(Duration::from_secs(4 * 60 + 50)).await;
        assert!(ledger.next_reply(Scene::Group, "g").await.is_ok());
        tokio::time::advance(Duration::from_secs(6)).await;
        // 4:56 plus the 5 s margin reaches the 5-minute window.
        assert_eq!(
            ledger.next_reply(Scene::Group, "g").await.unwrap_err(),
            ReplyRefused::Expired { scene: Scene::Group, window_min: 5 }
        );
        assert!(matches!(
            ledger.next_reply(Scene::Channel, "ch").await,
            Err(ReplyRefused::Expired { .. })
        ));
        assert!(ledger.next_reply(Scene::C2c, "c").await.is_ok());
        tokio::time::advance(Duration::from_secs(55 * 60)).await;
        assert!(matches!(
            ledger.next_reply(Scene::C2c, "c").await,
            Err(ReplyRefused::Expired { .. })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn channel_has_no_count_but_unique_seqs() {
        let ledger = ReplyLedger::in_memory(ReplyPolicy::default());
        for expected in 1..=20 {
            let slot = ledger.next_reply(Scene::Channel, "x").await.unwrap();
            assert_eq!(slot.msg_seq, expected);
            assert_eq!(slot.remaining_after, None);
            assert!(!slot.is_last());
        }
        assert_eq!(ledger.remaining(Scene::Channel, &msg("x")), Ok(None));
    }

    #[tokio::test(start_paused = true)]
    async fn events_and_messages_are_separate_anchors() {
        let ledger = ReplyLedger::in_memory(ReplyPolicy::default());
        let a = ledger.next_reply(Scene::C2c, "same").await.unwrap();
        let b = ledger.next_event_reply(Scene::C2c, "same").await.unwrap();
        assert_eq!((a.msg_seq, b.msg_seq), (1, 1));
        assert_eq!(ledger.remaining(Scene::C2c, &msg("same")), Ok(Some(3)));
        assert_eq!(ledger.remaining(Scene::C2c, &msg("unseen")), Ok(Some(4)));
    }

    #[tokio::test(start_paused = true)]
    async fn refund_returns_budget_but_never_the_seq() {
        let ledger = ReplyLedger::in_memory(ReplyPolicy::default());
        let first = ledger.next_reply(Scene::C2c, "m").await.unwrap();
        ledger.refund(&msg("m")).await;
        let second = ledger.next_reply(Scene::C2c, "m").await.unwrap();
        assert_eq!((first.msg_seq, second.msg_seq), (1, 2));
        assert_eq!(second.remaining_after, Some(3));
        ledger.close(&msg("m")).await;
        assert!(matches!(
            ledger.next_reply(Scene::C2c, "m").await,
            Err(ReplyRefused::BudgetExhausted { .. })
        ));
    }

    #[tokio::test]
    async fn seqs_survive_a_restart_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.json");
        let ledger = ReplyLedger::open(&path, ReplyPolicy::default()).await.unwrap();
        let a = ledger.next_reply(Scene::C2c, "m").await.unwrap();
        let b = ledger.next_reply(Scene::Group, "g").await.unwrap();
        drop(ledger);
        assert!(path.exists());
        assert!(!dir.path().join("ledger.json.tmp").exists());

        let reloaded = ReplyLedger::open(&path, ReplyPolicy::default()).await.unwrap();
        let a2 = reloaded.next_reply(Scene::C2c, "m").await.unwrap();
        let b2 = reloaded.next_reply(Scene::Group, "g").await.unwrap();
        assert!(a2.msg_seq > a.msg_seq && b2.msg_seq > b.msg_seq);
        // The budget carried over too: 2 of 4 used on "m".
        assert_eq!(a2.remaining_after, Some(2));
        drop(reloaded);

        let third = ReplyLedger::open(&path, ReplyPolicy::default()).await.unwrap();
        assert_eq!(third.next_reply(Scene::C2c, "m").await.unwrap().msg_seq, 3);
    }

    #[tokio::test]
    async fn old_entries_are_pruned_on_load_and_corrupt_files_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.json");
        let old = Entry {
            scene: Scene::Group,
            first_seen_unix: unix_now() - 3 * 60 * 60,
            used: 2,
            next_seq: 3,
            closed: false,
            keyed: Default::default(),
            first_seen: Instant::now(),
        };
        let fresh = Entry { first_seen_unix: unix_now() - 60, ..old.clone() };
        let state =
            FileState { version: 1, entries: vec![(msg("old"), old), (msg("fresh"), fresh)] };
        std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
        let ledger = ReplyLedger::open(&path, ReplyPolicy::default()).await.unwrap();
        assert_eq!(ledger.remaining(Scene::Group, &msg("fresh")), Ok(Some(3)));
        // "old" was pruned: it is unknown now.
        assert_eq!(ledger.book().entries.len(), 1);
        // The restored first-seen time keeps the window: 60 s used of 5 min.
        tokio::time::pause();
        tokio::time::advance(Duration::from_secs(4 * 60)).await;
        assert!(matches!(
            ledger.next_reply(Scene::Group, "fresh").await,
            Err(ReplyRefused::Expired { .. })
        ));

        std::fs::write(&path, b"{not json").unwrap();
        let ledger = ReplyLedger::open(&path, ReplyPolicy::default()).await.unwrap();
        assert_eq!(ledger.next_reply(Scene::C2c, "m").await.unwrap().msg_seq, 1);
        assert!(path.with_extension("corrupt").exists());
    }

    fn journal_lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
    }

    #[tokio::test]
    async fn the_journal_appends_one_line_per_change_and_skips_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.json");
        let ledger = ReplyLedger::open(&path, ReplyPolicy::default()).await.unwrap();
        for i in 0..50 {
            ledger.keyed_slot(Scene::Group, &msg(&format!("m{i}")), "k").await.unwrap();
        }
        ledger.close(&msg("m0")).await;
        // One line per change, each written before the slot was returned.
        assert_eq!(journal_lines(&path).len(), 51);
        drop(ledger);

        // A crash in the middle of a write leaves half a line.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(br#"[{"message":"m1"},{"scene":"gro"#);
        std::fs::write(&path, &bytes).unwrap();
        let reloaded = ReplyLedger::open(&path, ReplyPolicy::default()).await.unwrap();
        // The last line for m0 (closed) won over its first one.
        assert!(reloaded.next_reply(Scene::Group, "m0").await.is_err());
        let (again, reused) = reloaded.keyed_slot(Scene::Group, &msg("m1"), "k").await.unwrap();
        assert!(reused);
        assert_eq!(again.msg_seq, 1);
        assert_eq!(reloaded.next_reply(Scene::Group, "m1").await.unwrap().msg_seq, 2);
        // That change rewrote the file instead of gluing itself onto the
        // torn line: every line reads, and a third process sees it.
        let lines = journal_lines(&path);
        assert_eq!(lines.len(), 50);
        for line in &lines {
            serde_json::from_str::<(Anchor, Entry)>(line).unwrap();
        }
        drop(reloaded);
        let third = ReplyLedger::open(&path, ReplyPolicy::default()).await.unwrap();
        assert_eq!(third.next_reply(Scene::Group, "m1").await.unwrap().msg_seq, 3);
    }

    #[tokio::test]
    async fn a_grown_journal_is_compacted_into_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.json");
        let ledger = ReplyLedger::open(&path, ReplyPolicy::default()).await.unwrap();
        let changes = COMPACT_MIN_LINES + 100;
        for _ in 0..changes {
            ledger.next_reply(Scene::Channel, "busy").await.unwrap();
        }
        ledger.next_reply(Scene::Channel, "other").await.unwrap();
        // Two live anchors: the file was rewritten instead of growing forever.
        let lines = journal_lines(&path).len() as u64;
        assert!(lines < 200, "{lines} lines after {changes} changes");
        drop(ledger);
        let reloaded = ReplyLedger::open(&path, ReplyPolicy::default()).await.unwrap();
        let next = reloaded.next_reply(Scene::Channel, "busy").await.unwrap().msg_seq;
        assert_eq!(u64::from(next), changes + 1);
        assert_eq!(reloaded.next_reply(Scene::Channel, "other").await.unwrap().msg_seq, 2);
    }

    #[tokio::test]
    async fn the_old_single_document_format_is_read_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.json");
        let entry = Entry { used: 1, next_seq: 2, ..new_entry(Scene::C2c) };
        let state = FileState { version: 1, entries: vec![(msg("m"), entry)] };
        std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
        let ledger = ReplyLedger::open(&path, ReplyPolicy::default()).await.unwrap();
        assert_eq!(ledger.next_reply(Scene::C2c, "m").await.unwrap().msg_seq, 2);
        let lines = journal_lines(&path);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].starts_with('['), "{}", lines[0]);
        drop(ledger);
        let reloaded = ReplyLedger::open(&path, ReplyPolicy::default()).await.unwrap();
        assert_eq!(reloaded.next_reply(Scene::C2c, "m").await.unwrap().msg_seq, 3);
    }

    #[tokio::test]
    async fn concurrent_slots_are_unique() {
        let ledger = Arc::new(ReplyLedger::in_memory(ReplyPolicy::default()));
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let l = ledger.clone();
            tasks.push(tokio::spawn(async move {
                l.next_reply(Scene::Channel, "x").await.unwrap().msg_seq
            }));
        }
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.unwrap());
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
    }
}
