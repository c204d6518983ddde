//! The parsed form of a `SKILL.md` (spec Part A.3/A.4).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where a skill was loaded from. Higher variants win name collisions (spec A.5):
/// `Extra < Bundled < Managed < PersonalAgents < WorkspaceAgents < Workspace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkillSource {
    /// `skills.load.extraDirs` and plugin skills (lowest).
    Extra,
    /// Skills shipped inside Pincer (see [`crate::bundled`]).
    Bundled,
    /// Shared managed skills (`<state-dir>/skills`, registry installs with `--global`).
    Managed,
    /// `~/.agents/skills`.
    PersonalAgents,
    /// `<workspace>/.agents/skills`.
    WorkspaceAgents,
    /// `<workspace>/skills` (highest; registry installs land here by default).
    Workspace,
}

/// A platform named in `metadata.openclaw.os`, normalised to OpenClaw runtime values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    /// macOS (`darwin`, also written `macos`/`mac`).
    Darwin,
    /// Linux.
    Linux,
    /// Windows (`win32`, also written `windows`/`win`).
    Win32,
    /// Anything else, kept verbatim (never matches the host).
    Other(String),
}

impl Os {
    /// Parses a platform name, mapping `macos`→`darwin` and `windows`→`win32` (spec A.4).
    pub fn parse(s: &str) -> Os {
        match s.trim().to_ascii_lowercase().as_str() {
            "darwin" | "macos" | "mac" | "osx" => Os::Darwin,
            "linux" => Os::Linux,
            "win32" | "windows" | "win" | "win64" => Os::Win32,
            other => Os::Other(other.to_string()),
        }
    }

    /// The platform this binary runs on.
    pub fn host() -> Os {
        if cfg!(target_os = "macos") {
            Os::Darwin
        } else if cfg!(target_os = "windows") {
            Os::Win32
        } else if cfg!(target_os = "linux") {
            Os::Linux
        } else {
            Os::Other(std::env::consts::OS.to_string())
        }
    }

    /// The OpenClaw runtime spelling (`darwin`, `linux`, `win32`).
    pub fn as_str(&self) -> &str {
        match self {
            Os::Darwin => "darwin",
            Os::Linux => "linux",
            Os::Win32 => "win32",
            Os::Other(s) => s,
        }
    }
}

/// `metadata.openclaw.requires`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requires {
    /// Every binary must be on `PATH`.
    pub bins: Vec<String>,
    /// At least one binary must be on `PATH`.
    pub any_bins: Vec<String>,
    /// Every environment variable must be set.
    pub env: Vec<String>,
    /// Every config dot-path must be truthy.
    pub config: Vec<String>,
}

/// Installer kind of an [`InstallSpec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstallKind {
    /// Homebrew formula or cask.
    Brew,
    /// npm package.
    Node,
    /// `go install` module.
    Go,
    /// `uv tool install` PyPI requirement.
    Uv,
    /// Direct http(s) download.
    Download,
}

/// One dependency installer offered by skill UIs (spec A.4). Invalid specs are dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallSpec {
    /// Stable id.
    pub id: Option<String>,
    /// Installer kind.
    pub kind: InstallKind,
    /// Button text.
    pub label: Option<String>,
    /// Binaries this installer provides.
    pub bins: Vec<String>,
    /// Platform filter.
    pub os: Vec<Os>,
    /// Homebrew formula or cask.
    pub formula: Option<String>,
    /// npm spec or PyPI requirement.
    pub package: Option<String>,
    /// Go module path.
    pub module: Option<String>,
    /// Download URL (http/https only).
    pub url: Option<String>,
    /// Archive type for downloads (`tar.gz`, `tar.bz2`, `zip`).
    pub archive: Option<String>,
}

/// `metadata.openclaw` (or the `clawdbot` / `clawdis` aliases).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpenClawMeta {
    /// Icon for skill UIs.
    pub emoji: Option<String>,
    /// Website link.
    pub homepage: Option<String>,
    /// Eligible regardless of `requires` (still subject to `os`).
    pub always: bool,
    /// Hard platform filter (empty = any).
    pub os: Vec<Os>,
    /// Requirements checked by gating.
    pub requires: Requires,
    /// The env var that a configured API key fills.
    pub primary_env: Option<String>,
    /// Overrides the configuration key.
    pub skill_key: Option<String>,
    /// Declared env vars incl. optional ones: `(name, required)`.
    pub env_vars: Vec<(String, bool)>,
    /// Valid dependency installers.
    pub install: Vec<InstallSpec>,
}

/// A non-fatal problem found while loading a skill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "detail")]
pub enum Lint {
    /// `name` was absent and the folder name was used.
    NameFromDirectory,
    /// The name is not the portable form (1–64 chars of `[a-z0-9-]`).
    NonPortableName,
    /// YAML failed; the line-based fallback parser was used.
    LineFallback,
    /// `metadata` could not be parsed as JSON5 and was ignored.
    BadMetadata(String),
    /// An install spec was invalid and dropped.
    DroppedInstallSpec(String),
}

/// A loaded skill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skill {
    /// Identity (precedence, slash command, toggles).
    pub name: String,
    /// One-line summary shown to the model.
    pub description: String,
    /// Informational version.
    pub version: Option<String>,
    /// Website link (top-level or from metadata).
    pub homepage: Option<String>,
    /// Exposed as `/<name>` to users.
    pub user_invocable: bool,
    /// Kept out of the model's `<available_skills>`.
    pub disable_model_invocation: bool,
    /// `command-dispatch` (`tool` bypasses the model).
    pub command_dispatch: Option<String>,
    /// `command-tool`.
    pub command_tool: Option<String>,
    /// OpenClaw metadata, when declared.
    pub openclaw: Option<OpenClawMeta>,
    /// The Markdown instructions after the frontmatter.
    pub body: String,
    /// The skill folder.
    pub dir: PathBuf,
    /// The `SKILL.md` file.
    pub file: PathBuf,
    /// Where the skill was loaded from.
    pub source: SkillSource,
    /// Non-fatal problems.
    pub lints: Vec<Lint>,
}

impl Skill {
    /// The configuration key: `metadata.openclaw.skillKey` or the name.
    pub fn key(&self) -> &str {
        self.openclaw.as_ref().and_then(|m| m.skill_key.as_deref()).unwrap_or(&self.name)
    }

    /// The body with `{baseDir}` replaced by the skill folder.
    pub fn body_resolved(&self) -> String {
        self.body.replace("{baseDir}", &self.dir.to_string_lossy())
    }

    /// The emoji, if any.
    pub fn emoji(&self) -> Option<&str> {
        self.openclaw.as_ref().and_then(|m| m.emoji.as_deref())
    }
}

/// Whether `name` is the portable form: 1–64 chars of `[a-z0-9-]`.
pub fn is_portable_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}
