//! Hot reload: rescan the skill roots when anything under them changes (debounced).

use std::sync::Arc;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_mini::{new_debouncer, DebounceEventResult, Debouncer};
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
    _debouncer: Debouncer<notify::RecommendedWatcher>,
    rx: watch::Receiver<Arc<SkillSet>>,
}

impl std::fmt::Debug for SkillWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkillWatcher").finish_non_exhaustive()
    }
}

impl SkillWatcher {
    /// Loads the roots once and starts watching the ones that exist. Rescans run on the
    /// watcher's own thread, never on the async runtime.
    pub fn start(roots: Vec<SkillRoot>, debounce: Duration) -> Result<SkillWatcher, WatchError> {
        let (tx, rx) = watch::channel(Arc::new(SkillSet::load(&roots)));
        let scan_roots = roots.clone();
        let mut debouncer = new_debouncer(debounce, move |res: DebounceEventResult| {
            if let Ok(events) = res {
                if events.is_empty() {
                    return;
                }
                let set = SkillSet::load(&scan_roots);
                tracing::debug!(skills = set.skills.len(), "skills reloaded");
                let _ = tx.send(Arc::new(set));
            }
        })?;
        for root in &roots {
            if root.path.is_dir() {
                debouncer.watcher().watch(&root.path, RecursiveMode::Recursive)?;
            }
        }
        Ok(SkillWatcher { _debouncer: debouncer, rx })
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
