//! Skills written by the Pincer team and embedded in the binary. They need no binaries,
//! no network keys and work offline on every OS; tools they mention (`remind`,
//! `web_fetch`, conversation history) are provided by the Pincer runtime.

use std::collections::BTreeSet;
use std::path::Path;

use crate::parse::{parse_skill_str, Rejection};
use crate::skill::{Skill, SkillSource};

/// One embedded skill.
#[derive(Debug, Clone, Copy)]
pub struct BundledSkill {
    /// Folder and skill name.
    pub name: &'static str,
    /// The `SKILL.md` text.
    pub skill_md: &'static str,
    /// Whether a new bot has it switched on.
    pub default_enabled: bool,
}

/// Every bundled skill.
pub const BUNDLED: &[BundledSkill] = &[
    BundledSkill {
        name: "group-digest",
        skill_md: include_str!("../bundled/group-digest/SKILL.md"),
        default_enabled: true,
    },
    BundledSkill {
        name: "reminders",
        skill_md: include_str!("../bundled/reminders/SKILL.md"),
        default_enabled: true,
    },
    BundledSkill {
        name: "summarize-link",
        skill_md: include_str!("../bundled/summarize-link/SKILL.md"),
        default_enabled: true,
    },
    BundledSkill {
        name: "translate",
        skill_md: include_str!("../bundled/translate/SKILL.md"),
        default_enabled: true,
    },
];

/// Names of bundled skills that are on by default.
pub fn default_enabled() -> BTreeSet<String> {
    BUNDLED.iter().filter(|b| b.default_enabled).map(|b| b.name.to_string()).collect()
}

/// Parses every bundled skill as if it lived in `<base>/<name>/SKILL.md`.
pub fn parse_all(base: &Path) -> Vec<Result<Skill, Rejection>> {
    BUNDLED
        .iter()
        .map(|b| {
            let dir = base.join(b.name);
            parse_skill_str(b.skill_md, &dir.join("SKILL.md"), &dir, SkillSource::Bundled)
        })
        .collect()
}

/// Writes the bundled skills to `<base>/<name>/SKILL.md` so the model's `read` tool can
/// open them (load `base` as a [`SkillSource::Bundled`] root). Unchanged files are not
/// rewritten. Blocking.
pub fn materialize(base: &Path) -> std::io::Result<()> {
    for b in BUNDLED {
        let dir = base.join(b.name);
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("SKILL.md");
        if std::fs::read(&file).ok().as_deref() != Some(b.skill_md.as_bytes()) {
            std::fs::write(&file, b.skill_md)?;
        }
    }
    Ok(())
}
