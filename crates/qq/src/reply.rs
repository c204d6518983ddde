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
//! advanced counter to disk before it returns the slot**: a process that dies
//! after sending, or even before, has already recorded the seq as used, so a
//! restarted process continues after it. Writes are atomic (temp file,
//! `fsync`, rename) and serialised, and each write stores the newest state, so
//! the file never goes backwards; replies taken while a write runs share the
//! next one (group commit), so a burst costs a few writes, not one each. Entries are kept for
//! [`ReplyPolicy::retention`] (by default twice the reply window, at least
//! two hours) and then pruned: by then the platform no longer accepts replies
//! to the anchor, so a seq cannot collide any more.
//!
//! If a write fails (disk full, read-only) the ledger logs a warning and keeps
//! going in memory; a seq reused after a later crash then shows up as
//! 40054005, which [`crate::outbound::Replier`] handles by taking the next seq.
//! Two processes must not share one ledger file.
//!
//! On 40054005 the caller takes a fresh slot: the earlier send with that seq
//! (from a previous process, or an attempt whose answer was lost) most likely
//! succeeded.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
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

#[derive(Debug, Default, Serialize, Deserialize)]
struct FileState {
    version: u32,
    entries: Vec<(Anchor, Entry)>,
}

/// Tracks passive replies per anchor; see the module docs for the `msg_seq`
/// design. Cheap to share behind an [`Arc`](std::sync::Arc).
#[derive(Debug)]
pub struct ReplyLedger {
    policy: ReplyPolicy,
    entries: Mutex<HashMap<Anchor, Entry>>,
    path: Option<PathBuf>,
    /// Tickets handed to `persist` calls, each taken after its caller's change.
    requested: AtomicU64,
    // Serialises file writes; each write stores the newest state. Holds the
    // highest ticket whose change is on disk: a caller whose ticket is already
    // covered by a write that happened meanwhile returns at once (group
    // commit), so a burst of slots costs one write instead of one each.
    write_lock: tokio::sync::Mutex<u64>,
}

impl ReplyLedger {
    /// A ledger that lives in memory only.
    pub fn in_memory(policy: ReplyPolicy) -> Self {
        Self {
            policy,
            entries: Mutex::new(HashMap::new()),
            path: None,
            requested: AtomicU64::new(0),
            write_lock: tokio::sync::Mutex::new(0),
        }
    }

    /// A ledger persisted at `path` (JSON), loading what an earlier process
    /// left there. A missing file is an empty ledger; an unreadable one is
    /// moved aside to `<path>.corrupt` with a warning.
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
                continue;
            }
            entry.first_seen = now.checked_sub(age).unwrap_or(now);
            entries.insert(anchor, entry);
        }
        Ok(Self {
            policy,
            entries: Mutex::new(entries),
            path: Some(path),
            requested: AtomicU64::new(0),
            write_lock: tokio::sync::Mutex::new(0),
        })
    }

    /// The rules in force.
    pub fn policy(&self) -> &ReplyPolicy {
        &self.policy
    }

    /// Records that an inbound message or event arrived now, so that its
    /// window is counted from its arrival rather than from the first reply.
    /// Does nothing if the anchor is already known.
    pub fn observe(&self, scene: Scene, anchor: &Anchor) {
        let mut entries = self.entries.lock().expect("reply ledger poisoned");
        entries.entry(anchor.clone()).or_insert_with(|| new_entry(scene));
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
        let slot = self.reserve(scene, anchor, None)?;
        self.persist().await;
        Ok(slot)
    }

    /// Counts one reply and takes the next `msg_seq` (in memory), filed under
    /// `key` when given, so that one persist covers both.
    fn reserve(
        &self,
        scene: Scene,
        anchor: &Anchor,
        key: Option<&str>,
    ) -> Result<ReplySlot, ReplyRefused> {
        {
            let mut entries = self.entries.lock().expect("reply ledger poisoned");
            self.prune(&mut entries);
            let entry = entries.entry(anchor.clone()).or_insert_with(|| new_entry(scene));
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
            Ok(ReplySlot { msg_seq, remaining_after: budget.map(|b| b - entry.used), expires_at })
        }
    }

    /// Like [`next_slot`](Self::next_slot), but idempotent per `key`: the
    /// first call reserves a slot under `key` (persisted before returning),
    /// later calls with the same key, in this process or after a restart,
    /// get the same `msg_seq` back with `reused = true` and count nothing.
    /// Sending again with a reused seq is safe: QQ answers 40054005 when the
    /// first send arrived, which then means "delivered".
    pub async fn keyed_slot(
        &self,
        scene: Scene,
        anchor: &Anchor,
        key: &str,
    ) -> Result<(ReplySlot, bool), ReplyRefused> {
        let reused = {
            let entries = self.entries.lock().expect("reply ledger poisoned");
            entries.get(anchor).and_then(|e| {
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
        // The seq and its key go to disk in one write (it used to be two).
        let slot = self.reserve(scene, anchor, Some(key))?;
        self.persist().await;
        Ok((slot, false))
    }

    /// How many replies `anchor` has left: `Ok(None)` for no count limit (or
    /// an anchor not seen yet in a scene without one), `Err` when none are.
    pub fn remaining(&self, scene: Scene, anchor: &Anchor) -> Result<Option<u32>, ReplyRefused> {
        let entries = self.entries.lock().expect("reply ledger poisoned");
        let (window, budget) = self.policy.rules(entries.get(anchor).map_or(scene, |e| e.scene));
        let Some(entry) = entries.get(anchor) else {
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
        {
            let mut entries = self.entries.lock().expect("reply ledger poisoned");
            if let Some(entry) = entries.get_mut(anchor) {
                entry.used = entry.used.saturating_sub(1);
            }
        }
        self.persist().await;
    }

    /// Marks `anchor` as done because the platform said so (40034128, an
    /// expired `msg_id`): later slots are refused.
    pub async fn close(&self, anchor: &Anchor) {
        {
            let mut entries = self.entries.lock().expect("reply ledger poisoned");
            if let Some(entry) = entries.get_mut(anchor) {
                entry.closed = true;
            }
        }
        self.persist().await;
    }

    fn prune(&self, entries: &mut HashMap<Anchor, Entry>) {
        let now = Instant::now();
        entries
            .retain(|_, e| now.duration_since(e.first_seen) < self.policy.retention_for(e.scene));
    }

    /// Writes the newest state, if there is a file. Failures are logged.
    async fn persist(&self) {
        let Some(path) = &self.path else { return };
        // The caller changed the entries before calling: any snapshot taken
        // after this ticket includes that change.
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut written = self.write_lock.lock().await;
        if *written >= ticket {
            return;
        }
        // Every ticket up to `covers` was taken after its change, so the
        // snapshot below (taken later) holds all of those changes.
        let covers = self.requested.load(Ordering::SeqCst);
        let bytes = {
            let mut entries = self.entries.lock().expect("reply ledger poisoned");
            self.prune(&mut entries);
            let state = FileState {
                version: 1,
                entries: entries.iter().map(|(a, e)| (a.clone(), e.clone())).collect(),
            };
            serde_json::to_vec(&state).expect("ledger state serialises")
        };
        let target = path.clone();
        let result = tokio::task::spawn_blocking(move || write_atomic(&target, &bytes)).await;
        match result {
            Ok(Ok(())) => *written = covers,
            Ok(Err(e)) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot persist the reply ledger; msg_seq uniqueness across restarts is not guaranteed")
            }
            Err(e) => tracing::warn!(error = %e, "reply ledger write task failed"),
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

fn load(path: &Path) -> std::io::Result<FileState> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileState::default()),
        Err(e) => return Err(e),
    };
    match serde_json::from_slice(&bytes) {
        Ok(state) => Ok(state),
        Err(e) => {
            let aside = path.with_extension("corrupt");
            tracing::warn!(path = %path.display(), error = %e, "reply ledger unreadable; moved aside, starting empty");
            std::fs::rename(path, aside)?;
            Ok(FileState::default())
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
        assert_eq!(ledger.entries.lock().unwrap().len(), 1);
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
