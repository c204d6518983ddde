//! Per-bot enabled skills, persisted by the runtime; applying them live only recomputes
//! the prompt block and the command list.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::gating::{check, Eligibility, GateContext};
use crate::prompt::{skills_prompt_block, slash_commands, PromptLimits, SlashCommand};
use crate::set::SkillSet;
use crate::skill::Skill;

/// Which skills each bot has switched on. Bots without an entry get the defaults
/// ([`crate::bundled::default_enabled`]). Third-party skills are never on by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotSkillState {
    /// Bot id → enabled skill names.
    #[serde(default)]
    pub bots: BTreeMap<String, BTreeSet<String>>,
}

impl BotSkillState {
    /// The enabled names for `bot` (defaults when the bot has no entry).
    pub fn enabled(&self, bot: &str) -> BTreeSet<String> {
        self.bots.get(bot).cloned().unwrap_or_else(crate::bundled::default_enabled)
    }

    /// Whether `skill` is on for `bot`.
    pub fn is_enabled(&self, bot: &str, skill: &str) -> bool {
        self.enabled(bot).contains(skill)
    }

    /// Switches `skill` on or off for `bot`; returns whether anything changed.
    pub fn set(&mut self, bot: &str, skill: &str, on: bool) -> bool {
        let mut set = self.enabled(bot);
        let changed = if on { set.insert(skill.to_string()) } else { set.remove(skill) };
        self.bots.insert(bot.to_string(), set);
        changed
    }
}

/// What one bot's agent sees right now: recomputed whenever the skill set, the toggles or
/// the gate context changes (no reconnect needed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActiveSkills {
    /// The block for the system prompt (empty when no skill is visible to the model).
    pub prompt_block: String,
    /// User `/commands`.
    pub commands: Vec<SlashCommand>,
    /// Enabled skills that are not eligible, with reasons (for the settings UI).
    pub ineligible: Vec<(String, Eligibility)>,
}

impl ActiveSkills {
    /// Computes the active skills of `bot`.
    pub fn compute(
        set: &SkillSet,
        state: &BotSkillState,
        bot: &str,
        ctx: &GateContext,
        limits: PromptLimits,
        home: Option<&Path>,
    ) -> ActiveSkills {
        let enabled = state.enabled(bot);
        let mut usable: Vec<&Skill> = Vec::new();
        let mut ineligible = Vec::new();
        for s in set.skills.iter().filter(|s| enabled.contains(&s.name)) {
            let e = check(s, ctx);
            if e.eligible {
                usable.push(s);
            } else {
                ineligible.push((s.name.clone(), e));
            }
        }
        ActiveSkills {
            prompt_block: skills_prompt_block(usable.iter().copied(), limits, home),
            commands: slash_commands(usable.iter().copied()),
            ineligible,
        }
    }
}
