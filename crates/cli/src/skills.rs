//! `pincer skills …`: check, list, search, install, enable, disable, set-key.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail};
use clap::Subcommand;
use pincer_runtime::config::Config;
use pincer_runtime::paths::PincerPaths;
use pincer_runtime::secrets::{SecretName, Secrets};
use pincer_runtime::skills as rt;
use pincer_skills::registry::{
    InstallOptions, Installed, Progress, RegistryClient, RegistryError, DEFAULT_REGISTRY,
};
use pincer_skills::{safety, Lang, SafetyReport, Skill, SkillSource, Verdict};

use crate::bot::{load_config, paths, read_secret, save_config};
use crate::lang::{chinese, pick};

/// `pincer skills` subcommands.
#[derive(Debug, Subcommand)]
pub enum SkillsCommand {
    /// Check one skill folder before enabling it: prints `ok`, `warn` or
    /// `block` with the findings; exits 0 (ok), 1 (warn), 2 (block) or
    /// 3 (the skill cannot be read).
    Check {
        /// The skill folder (holding SKILL.md).
        path: PathBuf,
        /// Machine-readable output: `{"verdict": ..., "findings": [...]}`.
        #[arg(long)]
        json: bool,
    },
    /// List every skill (bundled, installed and, with --bot, the bot's own) with
    /// whether it is enabled and usable.
    List {
        /// Show what is enabled for this bot (and its workspace skills).
        #[arg(long)]
        bot: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Search the skills registry (ClawHub).
    Search {
        /// Words to search for.
        query: String,
        /// The registry's API base (default: settings.registry_base, then https://clawhub.ai).
        #[arg(long, env = "CLAWHUB_REGISTRY")]
        registry: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Install a skill from the registry (`[@owner/]slug[@version]`) after a safety check;
    /// it is not enabled for any bot until `pincer skills enable`.
    Install {
        /// `slug`, `@owner/slug`, optionally with `@VERSION`.
        reference: String,
        /// Accept a `warn` safety verdict or a registry "suspicious" flag without asking.
        #[arg(long)]
        yes: bool,
        /// The registry's API base (default: settings.registry_base, then https://clawhub.ai).
        #[arg(long, env = "CLAWHUB_REGISTRY")]
        registry: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Switch a skill on for a bot (edits config.toml).
    Enable {
        /// The skill name.
        name: String,
        /// The bot.
        #[arg(long)]
        bot: String,
        /// Accept a `warn` safety verdict without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Switch a skill off for a bot (edits config.toml).
    Disable {
        /// The skill name.
        name: String,
        /// The bot.
        #[arg(long)]
        bot: String,
    },
    /// Store an environment value a skill needs (e.g. an API key) in the OS keyring;
    /// the value is read from stdin (prompted on a terminal).
    SetKey {
        /// The skill name.
        name: String,
        /// The variable, e.g. `GITHUB_TOKEN`.
        var: String,
    },
}

fn lang() -> Lang {
    if chinese() {
        Lang::ZhCn
    } else {
        Lang::En
    }
}

pub async fn run(cmd: SkillsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SkillsCommand::Check { path, json } => check(path, json),
        SkillsCommand::List { bot, json } => list(bot.as_deref(), json),
        SkillsCommand::Search { query, registry, json } => {
            search(&query, registry.as_deref(), json).await
        }
        SkillsCommand::Install { reference, yes, registry, json } => {
            install(&reference, yes, registry.as_deref(), json).await
        }
        SkillsCommand::Enable { name, bot, yes } => toggle(&name, &bot, true, yes).await,
        SkillsCommand::Disable { name, bot } => toggle(&name, &bot, false, false).await,
        SkillsCommand::SetKey { name, var } => set_key(&name, &var),
    }
}

fn check(path: PathBuf, json: bool) -> anyhow::Result<ExitCode> {
    let result = safety::check_skill(&path);
    let code = safety::exit_code(&result);
    match &result {
        Ok(report) if json => println!("{}", serde_json::to_string(report)?),
        Ok(report) => {
            println!("{}", verdict_word(report.verdict));
            print_findings(report);
        }
        Err(e) if json => {
            println!("{}", serde_json::json!({ "verdict": "unreadable", "error": e.to_string() }))
        }
        Err(e) => eprintln!(
            "pincer: {}",
            pick(
                format!("无法读取技能 {}：{e}", path.display()),
                format!("cannot read the skill {}: {e}", path.display())
            )
        ),
    }
    Ok(ExitCode::from(code as u8))
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "ok",
        Verdict::Warn => "warn",
        Verdict::Block => "block",
    }
}

fn print_findings(report: &SafetyReport) {
    for f in &report.findings {
        let why = if chinese() { &f.explain_zh } else { &f.explain_en };
        println!("  {}:{} [{}] {why}", f.file, f.line, f.rule);
    }
}

fn source_word(s: SkillSource) -> &'static str {
    match s {
        SkillSource::Bundled => "bundled",
        SkillSource::Managed => "installed",
        SkillSource::Workspace | SkillSource::WorkspaceAgents => "workspace",
        SkillSource::PersonalAgents => "personal",
        SkillSource::Extra => "extra",
    }
}

fn bot_config<'a>(
    config: &'a Config,
    name: &str,
) -> anyhow::Result<&'a pincer_runtime::config::BotConfig> {
    config.bot(name).ok_or_else(|| {
        anyhow!(pick(
            format!("没有名为 {name} 的机器人：用 `pincer bot list` 查看"),
            format!("there is no bot named {name}: see `pincer bot list`")
        ))
    })
}

fn list(bot: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let paths = paths()?;
    let config = load_config(&paths)?;
    let bot_cfg = bot.map(|b| bot_config(&config, b)).transpose()?;
    let set = rt::load(&paths, bot);
    let secrets = Secrets::default();
    let ctx = rt::gate_context(&secrets, &set.skills);
    let enabled = bot_cfg.map(rt::enabled_names);
    let lang = lang();
    let mut rows = Vec::new();
    for s in &set.skills {
        let verdict = rt::safety_verdict(&paths, s);
        let gate = pincer_skills::gating::check(s, &ctx);
        let (eligible, reason) = match &verdict {
            Ok(Verdict::Block) => (false, rt::SkipReason::Blocked.explain(lang)),
            Err(detail) => {
                (false, rt::SkipReason::Unreadable { detail: detail.clone() }.explain(lang))
            }
            Ok(_) => (gate.eligible, gate.explain(lang)),
        };
        rows.push((s, enabled.as_ref().map(|e| e.contains(&s.name)), eligible, reason, verdict));
    }
    if json {
        let skills: Vec<_> = rows
            .iter()
            .map(|(s, on, eligible, reason, verdict)| {
                serde_json::json!({
                    "name": s.name,
                    "source": source_word(s.source),
                    "description": s.description,
                    "dir": s.dir,
                    "enabled": on,
                    "eligible": eligible,
                    "reason": if reason.is_empty() { None } else { Some(reason) },
                    "safety": verdict.as_ref().ok().map(|v| verdict_word(*v)),
                })
            })
            .collect();
        let rejected: Vec<_> = set
            .rejected
            .iter()
            .map(|r| serde_json::json!({ "path": r.path, "reason": format!("{:?}", r.reason) }))
            .collect();
        println!("{}", serde_json::json!({ "bot": bot, "skills": skills, "rejected": rejected }));
        return Ok(ExitCode::SUCCESS);
    }
    for (s, on, eligible, reason, _) in &rows {
        let on = match on {
            Some(true) => pick("已启用", "on"),
            Some(false) => pick("未启用", "off"),
            None => String::new(),
        };
        let state = if *eligible {
            pick("可用", "ready")
        } else {
            pick(format!("不可用：{reason}"), format!("unavailable: {reason}"))
        };
        let cols: Vec<String> = [s.name.clone(), source_word(s.source).to_owned(), on, state]
            .into_iter()
            .filter(|c| !c.is_empty())
            .collect();
        println!("{}", cols.join("\t"));
        println!("    {}", s.description);
    }
    for r in &set.rejected {
        eprintln!(
            "{}",
            pick(
                format!("注意：无法加载 {}：{:?}", r.path.display(), r.reason),
                format!("note: cannot load {}: {:?}", r.path.display(), r.reason)
            )
        );
    }
    if let (Some(enabled), Some(b)) = (&enabled, bot) {
        for name in enabled.iter().filter(|n| set.get(n).is_none()) {
            println!(
                "{}",
                pick(
                    format!("{name}\t已启用，但未安装（机器人 {b}）"),
                    format!("{name}\ton for {b}, but not installed")
                )
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn registry_base(paths: &PincerPaths, flag: Option<&str>) -> anyhow::Result<String> {
    if let Some(f) = flag.filter(|f| !f.is_empty()) {
        return Ok(f.to_owned());
    }
    let config = load_config(paths)?;
    Ok(config.settings.registry_base.unwrap_or_else(|| DEFAULT_REGISTRY.to_owned()))
}

fn registry_err(e: RegistryError) -> anyhow::Error {
    let hint = match &e {
        RegistryError::Network(_) => pick(
            "（请检查网络，或用 --registry 指定技能市场地址）",
            " (check the network, or pass --registry URL)",
        ),
        RegistryError::NotFound(_) => {
            pick("（用 `pincer skills search` 查找）", " (find it with `pincer skills search`)")
        }
        _ => String::new(),
    };
    anyhow!("{}{hint}", e.explain(lang()))
}

fn client(paths: &PincerPaths, flag: Option<&str>) -> anyhow::Result<RegistryClient> {
    let base = registry_base(paths, flag)?;
    RegistryClient::new(&base).map_err(registry_err)
}

async fn search(query: &str, registry: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let paths = paths()?;
    let client = client(&paths, registry)?;
    let results = client.search(query, 20).await.map_err(registry_err)?;
    if json {
        println!("{}", serde_json::json!({ "results": results }));
        return Ok(ExitCode::SUCCESS);
    }
    if results.is_empty() {
        println!(
            "{}",
            pick(format!("没有找到与 {query} 相关的技能"), format!("no skills match {query}"))
        );
    }
    for r in &results {
        let owner = r.owner_handle.as_deref().map(|o| format!("@{o}/")).unwrap_or_default();
        println!("{owner}{}\t{}", r.slug, r.version.as_deref().unwrap_or("-"));
        if let Some(s) = &r.summary {
            println!("    {s}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Splits `[@owner/]slug[@version]` into the reference and the version.
fn split_version(reference: &str) -> (&str, Option<&str>) {
    let search_from = usize::from(reference.starts_with('@'));
    match reference[search_from..].rfind('@') {
        Some(i) => {
            let i = i + search_from;
            (&reference[..i], Some(&reference[i + 1..]).filter(|v| !v.is_empty()))
        }
        None => (reference, None),
    }
}

fn confirm(question: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok()
        && matches!(answer.trim().to_lowercase().as_str(), "y" | "yes" | "是")
}

fn progress_printer() -> impl Fn(Progress) + Send + Sync {
    let tty = std::io::stderr().is_terminal();
    let last = std::sync::atomic::AtomicU64::new(0);
    move |p: Progress| {
        let kb = p.received / 1024;
        let step = p.total.map(|t| p.received * 10 / t.max(1)).unwrap_or(kb / 64);
        if last.swap(step + 1, std::sync::atomic::Ordering::Relaxed) == step + 1 {
            return;
        }
        let text = match p.total {
            Some(t) => pick(
                format!("下载中 {kb} / {} KB", t / 1024),
                format!("downloading {kb} / {} KB", t / 1024),
            ),
            None => pick(format!("下载中 {kb} KB"), format!("downloading {kb} KB")),
        };
        if tty {
            eprint!("\r{text}   ");
        } else {
            eprintln!("{text}");
        }
    }
}

fn print_needs(report: &SafetyReport) {
    let n = &report.declared_needs;
    let none = pick("无", "none");
    let list = |v: &[String]| if v.is_empty() { none.clone() } else { v.join(", ") };
    println!(
        "{}",
        pick(
            format!(
                "需要：程序 {}；环境变量 {}；联网 {}；运行程序 {}",
                list(&n.bins),
                list(&n.env),
                if n.network { "是" } else { "否" },
                if n.exec { "是" } else { "否" }
            ),
            format!(
                "needs: programs {}; env vars {}; network {}; runs programs {}",
                list(&n.bins),
                list(&n.env),
                if n.network { "yes" } else { "no" },
                if n.exec { "yes" } else { "no" }
            )
        )
    );
}

async fn install(
    reference: &str,
    yes: bool,
    registry: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let paths = paths()?;
    let client = client(&paths, registry)?;
    let workdir = rt::skills_dir(&paths);
    let (reference, version) = split_version(reference);
    let mut opts = InstallOptions {
        version: version.map(str::to_owned),
        accept_suspicious: yes,
        dir: rt::INSTALL_SUBDIR.to_owned(),
        ..InstallOptions::default()
    };
    let progress = progress_printer();
    eprintln!("{}", pick(format!("正在安装 {reference} …"), format!("installing {reference} …")));
    let mut result = client.install(&workdir, reference, &opts, Some(&progress)).await;
    if let Err(RegistryError::NeedsConfirmation { summary, .. }) = &result {
        let question = pick(
            format!(
                "{reference} 被技能市场标记为可疑{}。仍要安装吗？",
                summary.as_deref().map(|s| format!("：{s}")).unwrap_or_default()
            ),
            format!(
                "{reference} is flagged as suspicious by the registry{}. Install anyway?",
                summary.as_deref().map(|s| format!(": {s}")).unwrap_or_default()
            ),
        );
        if confirm(&question) {
            opts.accept_suspicious = true;
            result = client.install(&workdir, reference, &opts, Some(&progress)).await;
        }
    }
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    let installed = match result {
        Ok(i) => i,
        Err(RegistryError::Unsafe { report }) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "installed": false, "verdict": "block", "report": report })
                );
            } else {
                println!("block");
                print_findings(&report);
                print_needs(&report);
            }
            bail!(pick(
                format!("安全检查拦截了 {reference}，没有安装"),
                format!("the safety check blocked {reference}; nothing was installed")
            ));
        }
        Err(e @ RegistryError::NeedsConfirmation { .. }) => {
            return Err(anyhow!(
                "{}{}",
                e.explain(lang()),
                pick("（确认无误后加 --yes 重试）", " (add --yes to install it anyway)")
            ))
        }
        Err(e) => return Err(registry_err(e)),
    };
    if installed.safety.verdict == Verdict::Warn && !yes {
        let question = pick(
            format!("安全检查对 {reference} 给出警告（见上）。保留安装吗？"),
            format!("the safety check warns about {reference} (see above). Keep it?"),
        );
        if !json {
            println!("warn");
            print_findings(&installed.safety);
            print_needs(&installed.safety);
        }
        if !confirm(&question) {
            client
                .uninstall(&workdir, reference, rt::INSTALL_SUBDIR)
                .await
                .map_err(registry_err)?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "installed": false, "verdict": "warn", "report": installed.safety })
                );
            }
            bail!(pick(
                format!("{reference} 有安全警告，已撤销安装：确认无误后加 --yes 重试"),
                format!(
                    "{reference} has safety warnings and was not kept: add --yes to install it anyway"
                )
            ));
        }
    }
    report_installed(&installed, json);
    Ok(ExitCode::SUCCESS)
}

fn report_installed(i: &Installed, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({
                "installed": true,
                "key": i.key,
                "version": i.version,
                "dir": i.dir,
                "verdict": verdict_word(i.safety.verdict),
                "findings": i.safety.findings,
                "declared_needs": i.safety.declared_needs,
                "suspicious": i.suspicious,
            })
        );
        return;
    }
    if i.safety.verdict != Verdict::Warn {
        println!("{}", verdict_word(i.safety.verdict));
        print_findings(&i.safety);
        print_needs(&i.safety);
    }
    println!(
        "{}",
        pick(
            format!(
                "已安装 {} {}（{}）。用 `pincer skills enable 技能名 --bot 机器人` 启用。",
                i.key,
                i.version,
                i.dir.display()
            ),
            format!(
                "installed {} {} ({}). Switch it on with `pincer skills enable NAME --bot BOT`.",
                i.key,
                i.version,
                i.dir.display()
            )
        )
    );
}

async fn toggle(name: &str, bot: &str, on: bool, yes: bool) -> anyhow::Result<ExitCode> {
    let paths = paths()?;
    let mut config = load_config(&paths)?;
    bot_config(&config, bot)?;
    if on {
        let set = rt::load(&paths, Some(bot));
        let Some(skill) = set.get(name) else {
            bail!(pick(
                format!("找不到技能 {name}：用 `pincer skills list --bot {bot}` 查看，或先 `pincer skills install`"),
                format!("there is no skill named {name}: see `pincer skills list --bot {bot}` or `pincer skills install` it first")
            ));
        };
        check_before_enable(&paths, skill, yes)?;
    }
    let entry = config.bots.iter_mut().find(|b| b.name == bot).expect("checked above");
    let changed = rt::set_enabled(entry, name, on);
    if changed {
        save_config(&paths, &config)?;
    }
    let msg = match (on, changed) {
        (true, true) => pick(format!("已为 {bot} 启用 {name}"), format!("{name} is on for {bot}")),
        (true, false) => {
            pick(format!("{name} 已经为 {bot} 启用"), format!("{name} was already on for {bot}"))
        }
        (false, true) => {
            pick(format!("已为 {bot} 关闭 {name}"), format!("{name} is off for {bot}"))
        }
        (false, false) => {
            pick(format!("{name} 本来就没有为 {bot} 启用"), format!("{name} was not on for {bot}"))
        }
    };
    println!("{msg}");
    if changed {
        crate::daemon::notify_reload().await;
    }
    Ok(ExitCode::SUCCESS)
}

/// A non-bundled skill needs a safety verdict other than `block` (and `--yes` or a
/// confirmation for `warn`, unless it was accepted at install).
fn check_before_enable(paths: &PincerPaths, skill: &Skill, yes: bool) -> anyhow::Result<()> {
    if skill.source == SkillSource::Bundled {
        return Ok(());
    }
    let verdict = rt::safety_verdict(paths, skill).map_err(|e| {
        anyhow!(pick(
            format!("无法检查技能 {}：{e}", skill.name),
            format!("cannot check the skill {}: {e}", skill.name)
        ))
    })?;
    match verdict {
        Verdict::Ok => Ok(()),
        Verdict::Block => bail!(pick(
            format!(
                "安全检查拦截了 {}，不能启用（运行 `pincer skills check {}` 查看原因）",
                skill.name,
                skill.dir.display()
            ),
            format!(
                "the safety check blocks {}; it cannot be enabled (see `pincer skills check {}`)",
                skill.name,
                skill.dir.display()
            )
        )),
        Verdict::Warn => {
            let accepted_at_install = rt::stored_verdict(paths, skill) == Some(Verdict::Warn);
            let question = pick(
                format!("安全检查对 {} 给出警告。仍要启用吗？", skill.name),
                format!("the safety check warns about {}. Enable it anyway?", skill.name),
            );
            if yes || accepted_at_install || confirm(&question) {
                Ok(())
            } else {
                bail!(pick(
                    format!(
                        "{} 有安全警告（`pincer skills check {}` 查看），确认无误后加 --yes 启用",
                        skill.name,
                        skill.dir.display()
                    ),
                    format!(
                        "{} has safety warnings (see `pincer skills check {}`): add --yes to enable it anyway",
                        skill.name,
                        skill.dir.display()
                    )
                ))
            }
        }
    }
}

fn set_key(name: &str, var: &str) -> anyhow::Result<ExitCode> {
    pincer_runtime::setup::check_env_var_name(var).map_err(|e| anyhow!(pick(e.zh, e.en)))?;
    let value = read_secret(&format!("{name} {var}: "), false)?.expect("required");
    let secret = SecretName::SkillEnv { skill: name.to_owned(), var: var.to_owned() };
    Secrets::default()
        .set(&secret, &value)
        .map_err(|e| anyhow!(pick(e.explain_zh(), e.to_string())))?;
    println!(
        "{}",
        pick(
            format!("已把 {name} 的 {var} 存入系统钥匙串"),
            format!("stored {var} for {name} in the OS keyring")
        )
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::split_version;

    #[test]
    fn a_version_suffix_is_split_off() {
        assert_eq!(split_version("weather"), ("weather", None));
        assert_eq!(split_version("weather@1.2.0"), ("weather", Some("1.2.0")));
        assert_eq!(split_version("@alice/weather"), ("@alice/weather", None));
        assert_eq!(split_version("@alice/weather@2.0.0"), ("@alice/weather", Some("2.0.0")));
        assert_eq!(split_version("weather@"), ("weather", None));
    }
}
