//! OpenClaw-compatible skills for Pincer.
//!
//! A *skill* is a folder with a `SKILL.md` file: YAML frontmatter (name, description,
//! `metadata.openclaw` requirements) followed by Markdown instructions that the model reads
//! on demand. This crate implements the format described in `skills-format.md` Part A and the
//! ClawHub registry client of Part B:
//!
//! - [`parse`]: one `SKILL.md` → [`Skill`] or a typed [`Rejection`] (never a panic);
//! - [`set`]: discovery under ordered roots with precedence → [`SkillSet`];
//! - [`gating`]: eligibility with reasons in English and zh-CN;
//! - [`prompt`]: the `<available_skills>` system-prompt block and `/commands`;
//! - [`toggles`]: per-bot enabled skills (serde, persisted by the runtime);
//! - [`bundled`]: skills written by us and embedded in the binary;
//! - [`watch`]: hot reload when a skill folder changes;
//! - [`safety`]: a static safety check run before a third-party skill is enabled;
//! - [`registry`]: ClawHub search, install, update and uninstall with safe unpacking.

pub mod bundled;
pub mod gating;
pub mod i18n;
pub mod parse;
pub mod prompt;
pub mod registry;
pub mod safety;
pub mod set;
pub mod skill;
pub mod toggles;
pub mod watch;

pub use gating::{Eligibility, GateContext, Missing};
pub use i18n::Lang;
pub use parse::{parse_skill_file, parse_skill_str, RejectReason, Rejection, MAX_SKILL_FILE_BYTES};
pub use prompt::{skills_prompt_block, slash_commands, PromptLimits, SlashCommand};
pub use safety::{check_skill, Finding, SafetyReport, Severity, Verdict};

pub use set::{standard_roots, SkillRoot, SkillSet};
pub use skill::{InstallKind, InstallSpec, OpenClawMeta, Os, Requires, Skill, SkillSource};
pub use toggles::{ActiveSkills, BotSkillState};
