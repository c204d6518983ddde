//! Skills for one bot in the runtime (spec `skills-format.md` A.5–A.9).
//!
//! Where skills come from, highest precedence first:
//!
//! 1. the bot's workspace, `<data_dir>/bots/<name>/workspace/skills` (hand-made skills);
//! 2. installed skills, `<data_dir>/skills/installed` (the registry client installs there,
//!    with its lockfile in `<data_dir>/skills/.clawhub/lock.json`);
//! 3. bundled skills, embedded in Pincer and materialized into `<data_dir>/skills/bundled`
//!    so that the model's `read` tool can open them.
//!
//! **Which skills a bot has switched on** is `skills` of its `[[bot]]` in `config.toml`:
//!
//! - absent or `[]`: the bundled defaults ([`pincer_skills::bundled::default_enabled`]) —
//!   what `pincer bot add` leaves, so new bundled default skills reach existing bots;
//! - `["!none"]` ([`NONE_MARKER`]): no skill at all;
//! - any other list: exactly the listed names (an explicit list wins; `pincer skills enable`
//!   and `disable` always write one).
//!
//! An enabled skill reaches the model only when it is found, passes gating (A.6) and, unless
//! bundled, its safety check is not `block` (the check runs again on every apply, so a skill
//! edited after it was enabled is caught). Everything skipped is logged with a reason a
//! person understands and returned in [`BotSkills::skipped`] for status screens.
//!
//! Skill env values (A.9) live in the keyring as [`SecretName::SkillEnv`]; they only make
//! `requires.env` pass and never reach the prompt.

use std::collections::BTreeSet;
use std::path::PathBuf;

use pincer_agent::{BotConfig as AgentBot, Engine};
use pincer_skills::gating::check;
use pincer_skills::registry::lock::Lockfile;
use pincer_skills::{
    bundled, check_skill, skills_prompt_block, slash_commands, Eligibility, GateContext, Lang,
    PromptLimits, Skill, SkillRoot, SkillSet, SkillSource, SlashCommand, Verdict,
};
use serde::Serialize;

use crate::config::BotConfig;
use crate::paths::PincerPaths;
use crate::secrets::{SecretName, Secrets};

/// The `skills` entry meaning "no skill at all" (an empty list means the defaults).
pub const NONE_MARKER: &str = "!none";

/// The install folder, relative to [`skills_dir`] (`InstallOptions::dir`).
pub const INSTALL_SUBDIR: &str = "installed";

/// The first line of the A.7 block; everything from here on is Pincer's, so applying
/// twice replaces the block instead of appending a second one.
const BLOCK_START: &str = "\n\nThe following skills provide specialized instructions";

/// Placeholder put into the gate context for a keyring value: gating only needs to know
/// that the variable is set.
const FROM_KEYRING: &str = "(keyring)";

/// `<data_dir>/skills`: the registry client's workdir (holds `.clawhub/lock.json`).
pub fn skills_dir(paths: &PincerPaths) -> PathBuf {
    paths.data_dir.join("skills")
}

/// `<data_dir>/skills/bundled`.
pub fn bundled_dir(paths: &PincerPaths) -> PathBuf {
    skills_dir(paths).join("bundled")
}

/// `<data_dir>/skills/installed`.
pub fn installed_dir(paths: &PincerPaths) -> PathBuf {
    skills_dir(paths).join(INSTALL_SUBDIR)
}

/// `<data_dir>/bots/<bot>/workspace`.
pub fn workspace_dir(paths: &PincerPaths, bot: &str) -> PathBuf {
    paths.data_dir.join("bots").join(bot).join("workspace")
}

/// The on-disk roots for `bot` (workspace skills only when a bot is given), highest
/// precedence first. Bundled skills are added by [`load`] from memory.
pub fn roots(paths: &PincerPaths, bot: Option<&str>) -> Vec<SkillRoot> {
    let mut roots = Vec::new();
    if let Some(bot) = bot {
        roots
            .push(SkillRoot::new(workspace_dir(paths, bot).join("skills"), SkillSource::Workspace));
    }
    roots.push(SkillRoot::new(installed_dir(paths), SkillSource::Managed));
    roots
}

/// Every skill visible to `bot` (or to no bot in particular): materializes the bundled
/// skills (a failure is logged; the model then cannot `read` them but they still load),
/// scans the roots and resolves collisions. Blocking.
pub fn load(paths: &PincerPaths, bot: Option<&str>) -> SkillSet {
    let bundled_dir = bundled_dir(paths);
    if let Err(e) = bundled::materialize(&bundled_dir) {
        tracing::warn!(dir = %bundled_dir.display(), "cannot write the bundled skills: {e}");
    }
    let on_disk = SkillSet::load(&roots(paths, bot));
    let mut found: Vec<Skill> = on_disk.skills;
    found.extend(on_disk.shadowed);
    let mut rejected = on_disk.rejected;
    for parsed in bundled::parse_all(&bundled_dir) {
        match parsed {
            Ok(s) => found.push(s),
            Err(r) => rejected.push(r),
        }
    }
    for r in &rejected {
        tracing::warn!(file = %r.path.display(), "skill not loaded: {:?}", r.reason);
    }
    SkillSet::from_skills(found, rejected)
}

/// The names `bot` has switched on (see the module docs for the rule).
pub fn enabled_names(bot: &BotConfig) -> BTreeSet<String> {
    if bot.skills.is_empty() {
        return bundled::default_enabled();
    }
    bot.skills.iter().filter(|s| !s.starts_with('!')).cloned().collect()
}

/// Switches `skill` on or off for `bot`, writing an explicit list (or [`NONE_MARKER`]
/// when nothing is left). Returns whether anything changed.
pub fn set_enabled(bot: &mut BotConfig, skill: &str, on: bool) -> bool {
    let mut names = enabled_names(bot);
    let changed = if on { names.insert(skill.to_owned()) } else { names.remove(skill) };
    bot.skills =
        if names.is_empty() { vec![NONE_MARKER.to_owned()] } else { names.into_iter().collect() };
    changed
}

/// The safety verdict of a non-bundled skill: the static check of its folder now, raised
/// to the verdict stored in the lockfile at install time (bundled skills are `ok`).
/// Blocking.
pub fn safety_verdict(paths: &PincerPaths, skill: &Skill) -> Result<Verdict, String> {
    if skill.source == SkillSource::Bundled {
        return Ok(Verdict::Ok);
    }
    let now = check_skill(&skill.dir).map_err(|e| e.to_string())?.verdict;
    Ok(now.max(stored_verdict(paths, skill).unwrap_or(Verdict::Ok)))
}

/// The verdict the registry install stored for an installed skill, if any. Blocking.
pub fn stored_verdict(paths: &PincerPaths, skill: &Skill) -> Option<Verdict> {
    let rel = skill.dir.strip_prefix(installed_dir(paths)).ok()?;
    let key = rel.iter().map(|c| c.to_string_lossy()).collect::<Vec<_>>().join("/");
    let lock = Lockfile::read(&skills_dir(paths)).ok()?;
    lock.skills.get(&key).and_then(|e| e.pincer_safety)
}

/// The env vars a skill can take from the keyring: `requires.env` and `primaryEnv`.
pub fn env_vars(skill: &Skill) -> Vec<String> {
    let Some(meta) = &skill.openclaw else { return Vec::new() };
    let mut vars: Vec<String> = meta.requires.env.clone();
    vars.extend(meta.primary_env.iter().cloned());
    vars.extend(meta.env_vars.iter().map(|(v, _)| v.clone()));
    vars.sort();
    vars.dedup();
    vars
}

/// The host's gate context plus, for `skills`, which env vars the keyring holds (values
/// are replaced by a placeholder: gating only needs to know they are set). Blocking.
pub fn gate_context<'a>(
    secrets: &Secrets,
    skills: impl IntoIterator<Item = &'a Skill>,
) -> GateContext {
    let mut ctx = GateContext::from_host();
    for skill in skills {
        for var in env_vars(skill) {
            if ctx.env.contains_key(&var) {
                continue;
            }
            let name = SecretName::SkillEnv { skill: skill.name.clone(), var: var.clone() };
            match secrets.get(&name) {
                Ok(Some(_)) => {
                    ctx.entries
                        .entry(skill.key().to_owned())
                        .or_default()
                        .env
                        .insert(var, FROM_KEYRING.to_owned());
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(skill = %skill.name, "keyring lookup failed: {e}"),
            }
        }
    }
    ctx
}

/// Why an enabled skill does not reach the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
#[non_exhaustive]
pub enum SkipReason {
    /// No skill of that name was found.
    NotFound,
    /// Its safety check says `block`.
    Blocked,
    /// Its files could not be checked.
    Unreadable {
        /// What went wrong.
        detail: String,
    },
    /// Gating failed (missing binaries, env vars, wrong OS …).
    Ineligible {
        /// The failed checks.
        eligibility: Eligibility,
    },
}

impl SkipReason {
    /// One line for people.
    pub fn explain(&self, lang: Lang) -> String {
        match self {
            SkipReason::NotFound => lang.pick("not installed", "未安装").to_owned(),
            SkipReason::Blocked => {
                lang.pick("blocked by the safety check", "被安全检查拦截").to_owned()
            }
            SkipReason::Unreadable { detail } => match lang {
                Lang::En => format!("cannot be read: {detail}"),
                Lang::ZhCn => format!("无法读取：{detail}"),
            },
            SkipReason::Ineligible { eligibility } => eligibility.explain(lang),
        }
    }
}

/// An enabled skill that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedSkill {
    /// The skill name.
    pub name: String,
    /// Why.
    pub reason: SkipReason,
}

/// What one bot's agent gets from its skills.
#[derive(Debug, Clone, Default)]
pub struct BotSkills {
    /// Enabled, eligible, not blocked (sorted by name).
    pub active: Vec<Skill>,
    /// Enabled but left out.
    pub skipped: Vec<SkippedSkill>,
    /// The A.7 block appended to the system prompt (empty when no skill is visible).
    pub prompt_block: String,
    /// User `/commands` of the active skills.
    pub commands: Vec<SlashCommand>,
}

impl BotSkills {
    /// Folders of the active skills (the `read` tool may open files in them).
    pub fn skill_dirs(&self) -> Vec<PathBuf> {
        self.active.iter().map(|s| s.dir.clone()).collect()
    }

    /// Binaries the active skills declare (`requires.bins` and `requires.anyBins`), for
    /// the `exec` tool's allowlist.
    pub fn declared_binaries(&self) -> Vec<String> {
        let mut bins: Vec<String> = self
            .active
            .iter()
            .filter_map(|s| s.openclaw.as_ref())
            .flat_map(|m| m.requires.bins.iter().chain(&m.requires.any_bins).cloned())
            .collect();
        bins.sort();
        bins.dedup();
        bins
    }
}

/// Computes the skills of `bot` from `set` against `ctx`. Blocking (safety checks read
/// the skill files).
pub fn compute_with(
    paths: &PincerPaths,
    set: &SkillSet,
    bot: &BotConfig,
    ctx: &GateContext,
) -> BotSkills {
    let mut out = BotSkills::default();
    for name in enabled_names(bot) {
        let Some(skill) = set.get(&name) else {
            out.skipped.push(SkippedSkill { name, reason: SkipReason::NotFound });
            continue;
        };
        let reason = match safety_verdict(paths, skill) {
            Ok(Verdict::Block) => Some(SkipReason::Blocked),
            Err(detail) => Some(SkipReason::Unreadable { detail }),
            Ok(_) => {
                let e = check(skill, ctx);
                (!e.eligible).then_some(SkipReason::Ineligible { eligibility: e })
            }
        };
        match reason {
            Some(reason) => out.skipped.push(SkippedSkill { name, reason }),
            None => out.active.push(skill.clone()),
        }
    }
    for s in &out.skipped {
        tracing::info!(bot = %bot.name, skill = %s.name, "skill skipped: {}", s.reason.explain(Lang::En));
    }
    out.prompt_block = skills_prompt_block(&out.active, PromptLimits::default(), None);
    out.commands = slash_commands(&out.active);
    out
}

/// Loads and computes the skills of `bot`. Blocking (files and keyring).
pub fn compute(paths: &PincerPaths, secrets: &Secrets, bot: &BotConfig) -> BotSkills {
    let set = load(paths, Some(&bot.name));
    let enabled = enabled_names(bot);
    let ctx = gate_context(secrets, set.skills.iter().filter(|s| enabled.contains(&s.name)));
    compute_with(paths, &set, bot, &ctx)
}

/// The system prompt without a skills block added by [`apply`].
pub fn strip_skills_block(prompt: &str) -> &str {
    match prompt.find(BLOCK_START) {
        Some(i) => &prompt[..i],
        None => prompt,
    }
}

/// Puts `skills` into `agent`: the prompt block after the persona (replacing an earlier
/// one), `skill_dirs` and `declared_binaries`.
pub fn install_into(skills: &BotSkills, agent: &mut AgentBot) {
    let base = strip_skills_block(&agent.persona.system_prompt).to_owned();
    agent.persona.system_prompt = base + &skills.prompt_block;
    agent.skill_dirs = skills.skill_dirs();
    agent.declared_binaries = skills.declared_binaries();
}

/// Computes the skills of `bot` and applies them to its agent config (idempotent: the
/// earlier block is replaced). Never fails: problems are logged and reported in
/// [`BotSkills::skipped`]. Blocking (files and keyring).
pub fn apply(
    paths: &PincerPaths,
    secrets: &Secrets,
    bot: &BotConfig,
    agent: &mut AgentBot,
) -> BotSkills {
    let skills = compute(paths, secrets, bot);
    install_into(&skills, agent);
    skills
}

/// Live update without reconnecting: recomputes the skills of `bot` onto `agent` (the
/// config the bot was registered with) and re-registers it with the engine. Messages
/// already queued keep their old snapshot; the bot's counters, rate limits and cap
/// notices carry over. Blocking (files and keyring).
pub fn refresh(
    engine: &Engine,
    paths: &PincerPaths,
    secrets: &Secrets,
    bot: &BotConfig,
    mut agent: AgentBot,
) -> BotSkills {
    let skills = apply(paths, secrets, bot, &mut agent);
    engine.add_bot(agent);
    skills
}

/// Follows skill changes for `bot` until `cancel`: whenever a `SKILL.md` under the bot's
/// workspace skills or the installed skills changes (debounced, spec A.7), the bot's skills
/// are recomputed and handed to `on_change` — typically [`install_into`] on the bot's agent
/// config followed by `Engine::add_bot`, which needs no reconnect. `on_change` is also
/// called once as soon as watching has started. Creates the watched folders so that later
/// installs are seen. Errors only when watching cannot start.
pub async fn follow(
    paths: PincerPaths,
    secrets: Secrets,
    bot: BotConfig,
    cancel: tokio_util::sync::CancellationToken,
    mut on_change: impl FnMut(BotSkills) + Send,
) -> Result<(), pincer_skills::watch::WatchError> {
    let roots = roots(&paths, Some(&bot.name));
    for r in &roots {
        if let Err(e) = std::fs::create_dir_all(&r.path) {
            tracing::warn!(dir = %r.path.display(), "cannot create the skill folder: {e}");
        }
    }
    let watcher =
        pincer_skills::watch::SkillWatcher::start(roots, pincer_skills::watch::DEFAULT_DEBOUNCE)?;
    let mut rx = watcher.subscribe();
    // The first round reports the state once watching has started.
    rx.mark_changed();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            changed = rx.changed() => if changed.is_err() { return Ok(()) },
        }
        let (p, s, b) = (paths.clone(), secrets.clone(), bot.clone());
        match tokio::task::spawn_blocking(move || compute(&p, &s, &b)).await {
            Ok(skills) => {
                tracing::info!(bot = %bot.name, active = skills.active.len(), "skills reloaded");
                on_change(skills);
            }
            Err(e) => tracing::warn!(bot = %bot.name, "recomputing skills failed: {e}"),
        }
    }
}

/// Turns a QQ message that starts with a user-invocable skill's `/name`
/// (spec A.7: "users can force a skill with `/name` on channels") into an
/// instruction for the model to follow that skill, keeping the rest of the
/// message as the user's request. `None` when the message is no command of
/// this bot (it then goes to the model as it is).
pub fn expand_command(text: &str, skills: &BotSkills) -> Option<String> {
    let rest = text.trim_start().strip_prefix('/')?;
    let (name, request) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let command = skills.commands.iter().find(|c| c.command.eq_ignore_ascii_case(name))?;
    let skill = skills.active.iter().find(|s| s.name == command.skill)?;
    let location = skill.dir.join("SKILL.md");
    Some(format!(
        "The user invoked the skill `{}` with /{}. Read {} with the read tool and follow it for this request.\n\n{}",
        skill.name,
        command.command,
        location.display(),
        if request.is_empty() { "(no further text)" } else { request }
    ))
}
