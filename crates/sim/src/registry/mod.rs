//! A ClawHub registry simulator (spec `skills-format.md` B.9): search, listing, detail,
//! versions, version files, install resolution, downloads (deterministic B.6 ZIPs),
//! fingerprint resolution, single files and `whoami`, with moderation flags, removed
//! versions (410), pending scans (423), ambiguous slugs (409), rate limits (429) and raw
//! archive overrides for hostile or tampered downloads.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use pincer_sim::registry::RegistrySim;
//! let sim = RegistrySim::start().await?;
//! sim.publish("alice", "hello", "1.0.0", vec![("SKILL.md".into(), b"---\nname: hello\ndescription: hi\n---\n".to_vec())]);
//! println!("{}", sim.base_url());
//! # Ok(()) }
//! ```

mod archive;
mod routes;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

pub use archive::{build_zip, fingerprint, locale_compare, sha256_hex};

/// Registry moderation and availability flags of one skill.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkillFlags {
    /// `moderation.isSuspicious`: clients must ask before installing.
    pub suspicious: bool,
    /// `moderation.isMalwareBlocked`: detail shows it, download answers 403.
    pub malware_blocked: bool,
    /// The latest scan is pending: download and install resolution answer 423.
    pub pending_scan: bool,
}

/// One published version.
#[derive(Debug, Clone)]
pub struct SimVersion {
    /// Semver.
    pub version: String,
    /// Published files (path → bytes); `_meta.json` is added at download time.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Publish time, ms.
    pub created_at: u64,
    /// Removed (download answers 410).
    pub removed: bool,
    /// Served instead of the generated ZIP (hostile or tampered archives).
    pub archive_override: Option<Vec<u8>>,
}

/// One skill of one publisher.
#[derive(Debug, Clone)]
pub struct SimSkill {
    /// Publisher handle.
    pub owner: String,
    /// Slug.
    pub slug: String,
    /// Display name.
    pub display_name: String,
    /// Summary (the SKILL.md description when found).
    pub summary: String,
    /// Versions, oldest first.
    pub versions: Vec<SimVersion>,
    /// Flags.
    pub flags: SkillFlags,
    /// Downloads served.
    pub downloads: u64,
}

impl SimSkill {
    fn latest(&self) -> Option<&SimVersion> {
        self.versions.iter().rev().find(|v| !v.removed)
    }
}

#[derive(Debug, Default)]
struct State {
    skills: Vec<SimSkill>,
    rate_limit_next: u32,
    clock: u64,
}

struct Inner {
    addr: SocketAddr,
    state: Mutex<State>,
    shutdown: Notify,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running registry simulator. Cheap to clone; [`RegistrySim::shutdown`] stops it.
#[derive(Clone)]
pub struct RegistrySim {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RegistrySim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrySim").field("addr", &self.inner.addr).finish_non_exhaustive()
    }
}

fn summary_of(files: &[(String, Vec<u8>)], slug: &str) -> String {
    files
        .iter()
        .find(|(p, _)| p == "SKILL.md")
        .and_then(|(_, b)| std::str::from_utf8(b).ok())
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("description:"))
                .map(|d| d.trim().trim_matches('"').to_string())
        })
        .unwrap_or_else(|| format!("The {slug} skill"))
}

impl RegistrySim {
    /// Starts on `127.0.0.1` with a free port.
    pub async fn start() -> std::io::Result<RegistrySim> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts on `addr`.
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<RegistrySim> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let inner =
            Arc::new(Inner { addr, state: Mutex::new(State::default()), shutdown: Notify::new() });
        let router = routes::router(inner.clone());
        let stop = inner.clone();
        tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.shutdown.notified().await })
                .await;
            if let Err(e) = served {
                tracing::warn!("registry simulator stopped: {e}");
            }
        });
        Ok(RegistrySim { inner })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// `http://127.0.0.1:PORT/` (the registry base for clients).
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.inner.addr)
    }

    /// Stops listening.
    pub fn shutdown(&self) {
        self.inner.shutdown.notify_one();
        self.inner.shutdown.notify_waiters();
    }

    /// Publishes `version` of `owner/slug` from `(path, bytes)` files. A new owner for an
    /// existing slug creates a second skill (ambiguous slug → 409 without `ownerHandle`).
    pub fn publish(&self, owner: &str, slug: &str, version: &str, files: Vec<(String, Vec<u8>)>) {
        let mut st = self.inner.lock();
        st.clock += 1;
        let created_at = 1_730_000_000_000 + st.clock * 1000;
        let summary = summary_of(&files, slug);
        let v = SimVersion {
            version: version.to_string(),
            files: files.into_iter().collect(),
            created_at,
            removed: false,
            archive_override: None,
        };
        match st.skills.iter_mut().find(|s| s.owner == owner && s.slug == slug) {
            Some(s) => {
                s.versions.retain(|old| old.version != version);
                s.versions.push(v);
                s.summary = summary;
            }
            None => st.skills.push(SimSkill {
                owner: owner.to_string(),
                slug: slug.to_string(),
                display_name: slug.to_string(),
                summary,
                versions: vec![v],
                flags: SkillFlags::default(),
                downloads: 0,
            }),
        }
    }

    /// Publishes every regular file under `dir` (hidden paths skipped, as ClawHub does).
    pub fn publish_dir(
        &self,
        owner: &str,
        slug: &str,
        version: &str,
        dir: &Path,
    ) -> std::io::Result<()> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
            for e in std::fs::read_dir(dir)? {
                let e = e?;
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || name == "node_modules" {
                    continue;
                }
                let ft = e.file_type()?;
                if ft.is_dir() {
                    walk(root, &e.path(), out)?;
                } else if ft.is_file() {
                    let p = e.path();
                    let rel = p.strip_prefix(root).unwrap_or(&p);
                    let rel = rel.iter().map(|s| s.to_string_lossy()).collect::<Vec<_>>().join("/");
                    out.push((rel, std::fs::read(&p)?));
                }
            }
            Ok(())
        }
        let mut files = Vec::new();
        walk(dir, dir, &mut files)?;
        self.publish(owner, slug, version, files);
        Ok(())
    }

    /// Sets the moderation / availability flags of every skill called `slug`.
    pub fn set_flags(&self, slug: &str, flags: SkillFlags) {
        for s in self.inner.lock().skills.iter_mut().filter(|s| s.slug == slug) {
            s.flags = flags;
        }
    }

    /// Marks a version removed (download 410; hidden from latest).
    pub fn remove_version(&self, slug: &str, version: &str) {
        for s in self.inner.lock().skills.iter_mut().filter(|s| s.slug == slug) {
            for v in s.versions.iter_mut().filter(|v| v.version == version) {
                v.removed = true;
            }
        }
    }

    /// Serves `bytes` as the download of `slug@version` instead of the generated ZIP
    /// (the published file list and fingerprints stay as they were).
    pub fn set_archive_override(&self, slug: &str, version: &str, bytes: Vec<u8>) {
        for s in self.inner.lock().skills.iter_mut().filter(|s| s.slug == slug) {
            for v in s.versions.iter_mut().filter(|v| v.version == version) {
                v.archive_override = Some(bytes.clone());
            }
        }
    }

    /// Answers the next `n` API requests with 429 and `Retry-After: 1`.
    pub fn rate_limit_next(&self, n: u32) {
        self.inner.lock().rate_limit_next = n;
    }

    /// Downloads served for `slug` (all publishers).
    pub fn downloads(&self, slug: &str) -> u64 {
        self.inner.lock().skills.iter().filter(|s| s.slug == slug).map(|s| s.downloads).sum()
    }
}
