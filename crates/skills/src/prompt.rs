//! How skills reach the model (spec A.7) and the user's `/commands`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::skill::Skill;

const HEADER: &str = "\n\nThe following skills provide specialized instructions for specific tasks.\nUse the read tool to load a skill's file when the task matches its description.\nWhen a skill file references a relative path, resolve it against the skill directory (parent of SKILL.md / dirname of the path) and use that absolute path in tool commands.\n\n";
const NOTICE_RESERVE: usize = 150;

/// Budget for the skills block (`skills.limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptLimits {
    /// Maximum characters of the whole block.
    pub max_chars: usize,
    /// Maximum number of skills listed.
    pub max_skills: usize,
}

impl Default for PromptLimits {
    fn default() -> Self {
        PromptLimits { max_chars: 12_000, max_skills: 50 }
    }
}

/// XML-escapes `& < > " '`.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn location(skill: &Skill, home: Option<&Path>) -> String {
    if let Some(home) = home {
        if let Ok(rest) = skill.file.strip_prefix(home) {
            return format!("~/{}", rest.to_string_lossy().replace('\\', "/"));
        }
    }
    skill.file.to_string_lossy().into_owned()
}

fn entry(skill: &Skill, home: Option<&Path>, full: bool) -> String {
    let mut s = format!("  <skill>\n    <name>{}</name>\n", xml_escape(&skill.name));
    if full {
        s.push_str(&format!("    <description>{}</description>\n", xml_escape(&skill.description)));
    }
    s.push_str(&format!(
        "    <location>{}</location>\n  </skill>\n",
        xml_escape(&location(skill, home))
    ));
    s
}

/// The block appended to the system prompt for `skills` (already filtered to enabled and
/// eligible ones; `disable-model-invocation` skills are dropped here). Empty when nothing
/// is left. `home` shortens locations to `~/`. Over budget, descriptions are dropped
/// (compact format), then skills are truncated with an "included X of Y" notice.
pub fn skills_prompt_block<'a>(
    skills: impl IntoIterator<Item = &'a Skill>,
    limits: PromptLimits,
    home: Option<&Path>,
) -> String {
    let visible: Vec<&Skill> = skills.into_iter().filter(|s| !s.disable_model_invocation).collect();
    if visible.is_empty() {
        return String::new();
    }
    let wrap = |entries: &[String], notice: &str| {
        let mut s = HEADER.to_string();
        if !notice.is_empty() {
            s.push_str(notice);
            s.push_str("\n\n");
        }
        s.push_str("<available_skills>\n");
        for e in entries {
            s.push_str(e);
        }
        s.push_str("</available_skills>");
        s
    };
    let full: Vec<String> = visible.iter().map(|s| entry(s, home, true)).collect();
    let full_block = wrap(&full, "");
    if visible.len() <= limits.max_skills && full_block.chars().count() <= limits.max_chars {
        return full_block;
    }
    let compact: Vec<String> = visible.iter().map(|s| entry(s, home, false)).collect();
    let notice = "Skills are listed in compact format (descriptions omitted); read a skill's file to learn what it does.";
    let compact_block = wrap(&compact, notice);
    if visible.len() <= limits.max_skills && compact_block.chars().count() <= limits.max_chars {
        return compact_block;
    }
    let budget = limits.max_chars.saturating_sub(HEADER.len() + NOTICE_RESERVE + 40);
    let mut used = 0;
    let mut kept = Vec::new();
    for e in &compact {
        if kept.len() >= limits.max_skills || used + e.chars().count() > budget {
            break;
        }
        used += e.chars().count();
        kept.push(e.clone());
    }
    let notice = format!(
        "Skills are listed in compact format (descriptions omitted); included {} of {} skills. Run `pincer skills check` to see all.",
        kept.len(),
        visible.len()
    );
    wrap(&kept, &notice)
}

/// A user-invocable skill exposed as `/<command>` on QQ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlashCommand {
    /// The command without the slash (the skill name).
    pub command: String,
    /// The skill it runs.
    pub skill: String,
    /// Description for the command menu.
    pub description: String,
    /// When set, the command calls this tool directly instead of the model.
    pub dispatch_tool: Option<String>,
}

/// The `/commands` for `skills` (already filtered to enabled and eligible ones).
pub fn slash_commands<'a>(skills: impl IntoIterator<Item = &'a Skill>) -> Vec<SlashCommand> {
    let mut v: Vec<SlashCommand> = skills
        .into_iter()
        .filter(|s| s.user_invocable)
        .map(|s| SlashCommand {
            command: s.name.clone(),
            skill: s.name.clone(),
            description: s.description.clone(),
            dispatch_tool: (s.command_dispatch.as_deref() == Some("tool"))
                .then(|| s.command_tool.clone())
                .flatten(),
        })
        .collect();
    v.sort_by(|a, b| a.command.cmp(&b.command));
    v
}
