//! ClawHub registry client (spec Part B): search, detail, versions, download, install,
//! update and uninstall with moderation gates, integrity checks, safe unpacking and the
//! safety check before anything is written.

pub mod archive;
mod client;
pub mod lock;
pub mod types;

pub use client::{
    parse_ref, InstallOptions, Installed, Progress, RegistryClient, SkillRef, UpdateOutcome,
    DEFAULT_REGISTRY,
};

use crate::i18n::Lang;
use crate::safety::SafetyReport;
use archive::ArchiveError;

/// Everything that can go wrong talking to a registry or installing from it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The base URL or a skill reference is invalid.
    #[error("invalid reference or URL: {0}")]
    BadRef(String),
    /// Network failure after retries.
    #[error("network error: {0}")]
    Network(String),
    /// 404.
    #[error("not found: {0}")]
    NotFound(String),
    /// 410: removed or soft-deleted.
    #[error("removed from the registry: {0}")]
    Gone(String),
    /// 403: blocked or hidden by the registry.
    #[error("refused by the registry: {0}")]
    Forbidden(String),
    /// 423: the version is waiting for the registry's security scan.
    #[error("waiting for the registry's security scan, try again later: {0}")]
    PendingScan(String),
    /// 409 `AMBIGUOUS_SKILL_SLUG`: several publishers use the slug.
    #[error("several publishers have a skill called {slug:?}; choose one of: {}", matches.join(", "))]
    Ambiguous {
        /// The slug.
        slug: String,
        /// Candidate `@owner/slug` refs (or raw match descriptions).
        matches: Vec<String>,
    },
    /// Another 409 (e.g. install resolution failed).
    #[error("conflict: {0}")]
    Conflict(String),
    /// 429 after retries.
    #[error("rate limited by the registry; retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// Any other HTTP error.
    #[error("registry answered {status}: {message}")]
    Http {
        /// Status code.
        status: u16,
        /// Plain-text body.
        message: String,
    },
    /// The response was not the expected JSON.
    #[error("unexpected registry response: {0}")]
    Decode(String),
    /// The registry marks the skill as malware.
    #[error("{slug} is blocked by the registry as malware")]
    MalwareBlocked {
        /// The slug.
        slug: String,
    },
    /// The registry marks the skill as suspicious; install needs confirmation.
    #[error("{slug} is flagged as suspicious by the registry{}", summary.as_deref().map(|s| format!(": {s}")).unwrap_or_default())]
    NeedsConfirmation {
        /// The slug.
        slug: String,
        /// The registry's summary.
        summary: Option<String>,
    },
    /// The archive is unsafe or broken.
    #[error("unsafe archive: {0}")]
    Archive(#[from] ArchiveError),
    /// A file's SHA-256 or the fingerprint does not match what the registry published.
    #[error("downloaded files do not match the registry's checksums: {0}")]
    IntegrityMismatch(String),
    /// Our safety check blocked the skill.
    #[error("the safety check blocked this skill ({} findings)", report.findings.len())]
    Unsafe {
        /// The full report.
        report: Box<SafetyReport>,
    },
    /// The lockfile pins this skill.
    #[error("{0} is pinned; unpin it first")]
    Pinned(String),
    /// The target folder exists (use `force`).
    #[error("{0} is already installed")]
    AlreadyInstalled(String),
    /// Installed files were edited locally (use `force`).
    #[error("{0} has local changes that match no published version")]
    LocalEdits(String),
    /// Not in the lockfile.
    #[error("{0} is not installed")]
    NotInstalled(String),
    /// Local file error.
    #[error("file error: {0}")]
    Io(String),
}

impl From<std::io::Error> for RegistryError {
    fn from(e: std::io::Error) -> Self {
        RegistryError::Io(e.to_string())
    }
}

impl RegistryError {
    /// The message in the user's language.
    pub fn explain(&self, lang: Lang) -> String {
        if lang == Lang::En {
            return self.to_string();
        }
        match self {
            RegistryError::BadRef(s) => format!("技能名称或地址无效：{s}"),
            RegistryError::Network(s) => format!("网络错误：{s}"),
            RegistryError::NotFound(s) => format!("找不到：{s}"),
            RegistryError::Gone(s) => format!("已从技能市场下架：{s}"),
            RegistryError::Forbidden(s) => format!("技能市场拒绝了请求：{s}"),
            RegistryError::PendingScan(_) => "该技能正在等待技能市场的安全扫描，请稍后再试".into(),
            RegistryError::Ambiguous { slug, matches } => {
                format!("有多个作者发布了名为 {slug} 的技能，请选择：{}", matches.join("、"))
            }
            RegistryError::Conflict(s) => format!("无法安装：{s}"),
            RegistryError::RateLimited { retry_after_secs } => {
                format!("请求太频繁，请 {retry_after_secs} 秒后再试")
            }
            RegistryError::Http { status, message } => {
                format!("技能市场返回错误 {status}：{message}")
            }
            RegistryError::Decode(s) => format!("技能市场返回了无法识别的数据：{s}"),
            RegistryError::MalwareBlocked { slug } => {
                format!("{slug} 已被技能市场标记为恶意软件，禁止安装")
            }
            RegistryError::NeedsConfirmation { slug, .. } => {
                format!("{slug} 被技能市场标记为可疑，需要你确认后才能安装")
            }
            RegistryError::Archive(e) => format!("安装包不安全：{}", e.explain_zh()),
            RegistryError::IntegrityMismatch(s) => {
                format!("下载的文件与技能市场公布的校验值不一致（可能被篡改）：{s}")
            }
            RegistryError::Unsafe { report } => {
                format!("安全检查拦截了此技能（发现 {} 个问题）", report.findings.len())
            }
            RegistryError::Pinned(s) => format!("{s} 已被锁定版本，请先解除锁定"),
            RegistryError::AlreadyInstalled(s) => format!("{s} 已经安装"),
            RegistryError::LocalEdits(s) => {
                format!("{s} 的文件被本地修改过，与任何已发布版本都不一致")
            }
            RegistryError::NotInstalled(s) => format!("{s} 尚未安装"),
            RegistryError::Io(s) => format!("文件读写错误：{s}"),
        }
    }
}
