//! `.clawhub/lock.json` and `<skill>/.clawhub/origin.json` (spec B.8).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::safety::Verdict;

/// One installed skill in the lockfile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockEntry {
    /// Installed version.
    pub version: Option<String>,
    /// Install time, ms since the epoch.
    pub installed_at: u64,
    /// Publisher for owner-qualified installs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_handle: Option<String>,
    /// Updates are skipped and reinstall refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
    /// Why it is pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_reason: Option<String>,
    /// Pincer's safety verdict at install time (ignored by other clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pincer_safety: Option<Verdict>,
    /// Fields written by other clients, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `<workdir>/.clawhub/lock.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lockfile {
    /// Always 1.
    pub version: u32,
    /// Keyed by `slug` or `@owner/slug`.
    #[serde(default)]
    pub skills: BTreeMap<String, LockEntry>,
}

impl Default for Lockfile {
    fn default() -> Self {
        Lockfile { version: 1, skills: BTreeMap::new() }
    }
}

impl Lockfile {
    /// The lockfile path under `workdir`.
    pub fn path(workdir: &Path) -> PathBuf {
        workdir.join(".clawhub").join("lock.json")
    }

    /// Reads the lockfile (falling back to legacy `.clawdhub/lock.json`); a missing file
    /// is an empty lockfile. Blocking.
    pub fn read(workdir: &Path) -> std::io::Result<Lockfile> {
        for p in [Self::path(workdir), workdir.join(".clawdhub").join("lock.json")] {
            match std::fs::read(&p) {
                Ok(bytes) => {
                    return serde_json::from_slice(&bytes).map_err(|e| {
                        std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(Lockfile::default())
    }

    /// Writes 2-space JSON plus a newline, atomically. Blocking.
    pub fn write(&self, workdir: &Path) -> std::io::Result<()> {
        let path = Self::path(workdir);
        write_json_atomic(&path, self)
    }

    /// Finds an entry by key `slug` / `@owner/slug`, also matching older entries keyed by
    /// bare slug with an `ownerHandle` field.
    pub fn find(&self, slug: &str, owner: Option<&str>) -> Option<(&String, &LockEntry)> {
        let key = lock_key(slug, owner);
        self.skills.get_key_value(&key).or_else(|| {
            let owner = owner?;
            self.skills
                .get_key_value(slug)
                .filter(|(_, e)| e.owner_handle.as_deref() == Some(owner))
        })
    }
}

/// The lockfile key: `slug` or `@owner/slug`.
pub fn lock_key(slug: &str, owner: Option<&str>) -> String {
    match owner {
        Some(o) => format!("@{o}/{slug}"),
        None => slug.to_string(),
    }
}

/// `<skill>/.clawhub/origin.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Origin {
    /// Always 1.
    pub version: u32,
    /// Registry base URL.
    pub registry: String,
    /// Skill slug.
    pub slug: String,
    /// Publisher handle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_handle: Option<String>,
    /// Installed version.
    pub installed_version: String,
    /// Install time, ms since the epoch.
    pub installed_at: u64,
    /// Fingerprint of the installed files (post-install, incl. `_meta.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

impl Origin {
    /// The origin file of a skill folder.
    pub fn path(skill_dir: &Path) -> PathBuf {
        skill_dir.join(".clawhub").join("origin.json")
    }

    /// Reads it. Blocking.
    pub fn read(skill_dir: &Path) -> std::io::Result<Origin> {
        let bytes = std::fs::read(Self::path(skill_dir))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
    }

    /// Writes it. Blocking.
    pub fn write(&self, skill_dir: &Path) -> std::io::Result<()> {
        write_json_atomic(&Self::path(skill_dir), self)
    }
}

fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
    text.push('\n');
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, path)
}
