//! Registry response shapes (spec B.4). Every field is lenient: absent → default.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A publisher.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Owner {
    /// Handle (no `@`).
    pub handle: String,
    /// Display name.
    pub display_name: Option<String>,
}

/// One search hit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SearchResult {
    /// Relevance.
    pub score: f64,
    /// Slug.
    pub slug: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Summary (the skill description).
    pub summary: Option<String>,
    /// Latest version.
    pub version: Option<String>,
    /// Last update, ms.
    pub updated_at: Option<u64>,
    /// Publisher handle.
    pub owner_handle: Option<String>,
    /// Downloads.
    pub downloads: Option<u64>,
}

/// `GET /api/v1/search`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchResponse {
    /// Hits, best first.
    pub results: Vec<SearchResult>,
}

/// A version summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VersionInfo {
    /// Semver.
    pub version: String,
    /// Publish time, ms.
    pub created_at: Option<u64>,
    /// Changelog.
    pub changelog: Option<String>,
}

/// Skill summary inside detail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SkillInfo {
    /// Slug.
    pub slug: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Summary.
    pub summary: Option<String>,
}

/// Moderation state (present only when flagged).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Moderation {
    /// Needs explicit confirmation.
    pub is_suspicious: bool,
    /// Must not be installed.
    pub is_malware_blocked: bool,
    /// `clean`, `suspicious`, `malicious`, …
    pub verdict: Option<String>,
    /// Reason codes.
    pub reason_codes: Vec<String>,
    /// Human summary.
    pub summary: Option<String>,
}

/// `GET /api/v1/skills/{slug}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SkillDetail {
    /// The skill.
    pub skill: Option<SkillInfo>,
    /// Latest version.
    pub latest_version: Option<VersionInfo>,
    /// Publisher.
    pub owner: Option<Owner>,
    /// Moderation, when flagged.
    pub moderation: Option<Moderation>,
    /// Registry metadata (`os`, `systems`, `setup`).
    pub metadata: Option<Value>,
}

/// One page of versions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VersionsPage {
    /// Versions, newest first.
    pub items: Vec<VersionInfo>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// One file of a version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VersionFile {
    /// Path relative to the skill root.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Hex SHA-256.
    pub sha256: String,
}

/// The `version` object of version detail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VersionDetailInner {
    /// Semver.
    pub version: String,
    /// Changelog.
    pub changelog: Option<String>,
    /// License (always MIT-0 on ClawHub).
    pub license: Option<String>,
    /// Published files.
    pub files: Vec<VersionFile>,
}

/// `GET /api/v1/skills/{slug}/versions/{version}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VersionDetail {
    /// The version.
    pub version: VersionDetailInner,
    /// The skill.
    pub skill: Option<SkillInfo>,
}

/// A version reference `{"version": "..."}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VersionRef {
    /// Semver.
    pub version: String,
}

/// `GET /api/v1/resolve`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResolveResponse {
    /// Slug.
    pub slug: String,
    /// The version whose fingerprint matches, if any.
    #[serde(rename = "match")]
    pub matched: Option<VersionRef>,
    /// The latest version.
    pub latest_version: Option<VersionRef>,
}

/// The archive part of install resolution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InstallArchive {
    /// Version to download.
    pub version: String,
    /// Download URL.
    pub download_url: Option<String>,
}

/// `GET /api/v1/skills/{slug}/install`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InstallResolution {
    /// Whether installation is possible.
    pub ok: bool,
    /// `archive` or `github`.
    pub install_kind: Option<String>,
    /// Archive details.
    pub archive: Option<InstallArchive>,
    /// Failure reason code.
    pub reason: Option<String>,
    /// Failure message.
    pub message: Option<String>,
}
