//! Hot reload: rescan the skill roots when anything under them changes (debounced).

use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::watch;

use crate::set::{SkillRoot, SkillSet};

/// The debounce OpenClaw uses (spec A.7).
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(250);

/// Errors starting a watcher.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch skill folders: {0}")]
pub struct WatchError(#[from] notify::Error);

/// Watches skill roots and publishes a fresh [`SkillSet`] after each burst of changes.
/// Dropping it stops watching.
pub struct SkillWatcher {
    _watcher: notify::RecommendedWatcher,
    rx: watch::Receiver<Arc<SkillSet>>,
}

impl std::fmt::Debug for SkillWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkillWatcher").finish_non_exhaustive()
    }
}

/// Whether an event can change what a scan finds. notify 8 watches inotify's
/// `IN_OPEN` too, so merely reading a folder reports `Access(Open)`: counting
/// those made every rescan (and every reader, e.g. a second bot's watcher on
/// the shared installed folder) trigger the next one, forever — a reload
/// storm that kept re-registering the bots several times a second.
fn changes_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

impl SkillWatcher {
    /// Loads the roots once and starts watching the ones that exist. Rescans run on the
    /// watcher's own thread, never on the async runtime: one after each burst of changes,
    /// once `debounce` passed without another (or after `20 × debounce` of steady changes).
    pub fn start(roots: Vec<SkillRoot>, debounce: Duration) -> Result<SkillWatcher, WatchError> {
        let (tx, rx) = watch::channel(Arc::new(SkillSet::load(&roots)));
        let scan_roots = roots.clone();
        let (changed_tx, changed_rx) = std::sync::mpsc::channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                if res.is_ok_and(|event| changes_content(&event.kind)) {
                    let _ = changed_tx.send(());
                }
            })?;
        for root in &roots {
            if root.path.is_dir() {
                watcher.watch(&root.path, RecursiveMode::Recursive)?;
            }
        }
        // The thread ends when the watcher (and with it the sender) is dropped.
        std::thread::Builder::new()
            .name("skill-watch".into())
            .spawn(move || {
                use std::sync::mpsc::RecvTimeoutError;
                while changed_rx.recv().is_ok() {
                    let burst_end = std::time::Instant::now() + debounce * 20;
                    loop {
                        match changed_rx.recv_timeout(debounce) {
                            Ok(()) if std::time::Instant::now() < burst_end => {}
                            Ok(()) | Err(RecvTimeoutError::Timeout) => break,
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    let set = SkillSet::load(&scan_roots);
                    tracing::debug!(skills = set.skills.len(), "skills reloaded");
                    if tx.send(Arc::new(set)).is_err() {
                        return;
                    }
                }
            })
            .map_err(notify::Error::io)?;
        Ok(SkillWatcher { _watcher: watcher, rx })
    }

    /// A receiver of the latest skill set (`changed().await` wakes on every reload).
    pub fn subscribe(&self) -> watch::Receiver<Arc<SkillSet>> {
        self.rx.clone()
    }

    /// The latest skill set.
    pub fn current(&self) -> Arc<SkillSet> {
        self.rx.borrow().clone()
    }
}
