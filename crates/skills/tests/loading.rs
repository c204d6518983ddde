//! Loading our fixture corpus: every frontmatter form of spec Part A, malformed files,
//! precedence, gating reasons, the prompt block, toggles and bundled skills.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pincer_skills::gating::{check, SkillEntryConfig};
use pincer_skills::skill::Lint;
use pincer_skills::{
    bundled, parse_skill_file, skills_prompt_block, slash_commands, ActiveSkills, BotSkillState,
    GateContext, InstallKind, Lang, Missing, Os, PromptLimits, RejectReason, SkillRoot, SkillSet,
    SkillSource,
};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn load(name: &str) -> Result<pincer_skills::Skill, RejectReason> {
    let dir = fixtures().join("skills").join(name);
    parse_skill_file(&dir.join("SKILL.md"), &dir, SkillSource::Workspace).map_err(|r| r.reason)
}

#[test]
fn every_fixture_parses_or_is_rejected_as_expected() {
    let set = SkillSet::load(&[SkillRoot::new(fixtures().join("skills"), SkillSource::Workspace)]);
    let names: Vec<&str> = set.skills.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(set.skills.len(), 31, "loaded: {names:?}");
    let mut reasons: HashMap<String, &'static str> = HashMap::new();
    for r in &set.rejected {
        let folder = r.path.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
        reasons.insert(folder, r.reason.label());
    }
    let expected = [
        ("bad-yaml", "bad-yaml"),
        ("empty-name", "missing-name"),
        ("missing-description", "missing-description"),
        ("no-frontmatter", "no-frontmatter"),
        ("unclosed-frontmatter", "unclosed-frontmatter"),
        ("frontmatter-list", "bad-yaml"),
    ];
    assert_eq!(reasons.len(), expected.len(), "{reasons:?}");
    for (folder, reason) in expected {
        assert_eq!(reasons.get(folder).copied(), Some(reason), "{folder}");
    }
    assert!(names.contains(&"deep-skill"), "nested skill found");
    assert!(names.contains(&"no-name-fallback"));
}

#[test]
fn frontmatter_forms() {
    let full = load("full-block-metadata").unwrap();
    let m = full.openclaw.as_ref().unwrap();
    assert_eq!(m.emoji.as_deref(), Some("📰"));
    assert_eq!(m.os, vec![Os::Darwin, Os::Linux, Os::Win32]);
    assert_eq!(m.requires.bins, vec!["jq"]);
    assert_eq!(m.primary_env.as_deref(), Some("DIGEST_LANG"));
    assert_eq!(m.install.len(), 1);
    assert_eq!(full.homepage.as_deref(), Some("https://example.invalid/qq-daily-digest"));
    assert!(full.body_resolved().contains("fixtures/skills/full-block-metadata/scripts/format.jq"));

    assert_eq!(load("inline-json-metadata").unwrap().openclaw.unwrap().requires.bins, vec!["curl"]);
    assert_eq!(load("json5-metadata").unwrap().openclaw.unwrap().requires.env, vec!["JSON5_KEY"]);
    assert_eq!(load("clawdbot-alias").unwrap().openclaw.unwrap().requires.bins, vec!["curl", "jq"]);
    assert_eq!(
        load("clawdis-alias").unwrap().openclaw.unwrap().requires.any_bins,
        vec!["python3", "python"]
    );
    let s = load("no-name-fallback").unwrap();
    assert_eq!(s.name, "no-name-fallback");
    assert!(s.lints.contains(&Lint::NameFromDirectory));
    assert!(!load("not-user-invocable").unwrap().user_invocable);
    assert!(load("model-hidden").unwrap().disable_model_invocation);
    let sb = load("string-booleans").unwrap();
    assert!(!sb.user_invocable && sb.disable_model_invocation);
    let cd = load("command-dispatch").unwrap();
    assert_eq!(cd.command_dispatch.as_deref(), Some("tool"));
    assert_eq!(cd.command_tool.as_deref(), Some("remind"));
    assert_eq!(load("os-aliases").unwrap().openclaw.unwrap().os, vec![Os::Darwin, Os::Win32]);
    let inst = load("install-specs").unwrap();
    let kinds: Vec<InstallKind> =
        inst.openclaw.as_ref().unwrap().install.iter().map(|i| i.kind).collect();
    assert_eq!(
        kinds,
        vec![
            InstallKind::Brew,
            InstallKind::Node,
            InstallKind::Go,
            InstallKind::Uv,
            InstallKind::Download
        ]
    );
    assert_eq!(inst.lints.iter().filter(|l| matches!(l, Lint::DroppedInstallSpec(_))).count(), 3);
    assert_eq!(
        load("homepage-meta").unwrap().homepage.as_deref(),
        Some("https://example.invalid/meta")
    );
    assert_eq!(
        load("folded-description").unwrap().description,
        "A description folded over several lines."
    );
    assert_eq!(load("crlf").unwrap().description, "Windows line endings.");
    assert_eq!(load("bom").unwrap().name, "bom");
    let lf = load("line-fallback").unwrap();
    assert!(lf.lints.contains(&Lint::LineFallback));
    assert_eq!(lf.description, "Uses: colons: that break YAML");
    assert_eq!(lf.version.as_deref(), Some("1.0.0"));
    assert_eq!(load("skill-key").unwrap().key(), "custom-key");
    assert_eq!(
        load("env-vars").unwrap().openclaw.unwrap().env_vars,
        vec![("API_TOKEN".to_string(), true), ("REGION".to_string(), false)]
    );
    assert_eq!(load("numeric-version").unwrap().version.as_deref(), Some("1.5"));
    assert_eq!(load("chinese").unwrap().emoji(), Some("🀄"));
    assert!(load("non-portable-name").unwrap().lints.contains(&Lint::NonPortableName));
    let bm = load("bad-metadata").unwrap();
    assert!(bm.openclaw.is_none());
    assert!(matches!(bm.lints[..], [Lint::BadMetadata(_)]));
}

#[test]
fn oversized_and_non_utf8_files_are_rejected_without_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big");
    std::fs::create_dir_all(&big).unwrap();
    let mut text = String::from("---\nname: big\ndescription: two megabytes\n---\n");
    text.push_str(&"x".repeat(2 * 1024 * 1024));
    std::fs::write(big.join("SKILL.md"), text).unwrap();
    let bin = tmp.path().join("binary");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(
        bin.join("SKILL.md"),
        b"---\nname: binary\ndescription: caf\xe9 \xff\xfe\n---\n",
    )
    .unwrap();
    let set = SkillSet::load(&[SkillRoot::new(tmp.path(), SkillSource::Managed)]);
    assert!(set.skills.is_empty());
    let mut labels: Vec<&str> = set.rejected.iter().map(|r| r.reason.label()).collect();
    labels.sort();
    assert_eq!(labels, ["not-utf8", "too-large"]);
    let not_utf8 = set.rejected.iter().find(|r| r.reason.label() == "not-utf8").unwrap();
    assert_eq!(not_utf8.reason, RejectReason::NotUtf8(33));
    assert!(not_utf8.reason.explain(Lang::ZhCn).contains("UTF-8"));
}

#[cfg(unix)]
#[test]
fn symlinked_skill_leaving_the_root_is_rejected() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("SKILL.md"), "---\nname: escaped\ndescription: d\n---\n")
        .unwrap();
    let root = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join("escaped")).unwrap();
    let set = SkillSet::load(&[SkillRoot::new(root.path(), SkillSource::Workspace)]);
    assert!(set.skills.is_empty());
    assert_eq!(set.rejected[0].reason, RejectReason::OutsideRoot);
}

#[test]
fn precedence_workspace_over_managed_over_bundled() {
    let r = fixtures().join("roots");
    // Deliberately listed lowest-first and highest-first: order of roots must not matter.
    for roots in [
        vec![
            SkillRoot::new(r.join("bundled"), SkillSource::Bundled),
            SkillRoot::new(r.join("managed"), SkillSource::Managed),
            SkillRoot::new(r.join("workspace"), SkillSource::Workspace),
        ],
        vec![
            SkillRoot::new(r.join("workspace"), SkillSource::Workspace),
            SkillRoot::new(r.join("bundled"), SkillSource::Bundled),
            SkillRoot::new(r.join("managed"), SkillSource::Managed),
        ],
    ] {
        let set = SkillSet::load(&roots);
        let dup = set.get("dup-skill").unwrap();
        assert_eq!(dup.description, "Workspace copy.");
        assert_eq!(dup.source, SkillSource::Workspace);
        assert_eq!(set.shadowed.len(), 2);
        assert!(set.get("only-bundled").is_some() && set.get("only-managed").is_some());
    }
    let set = SkillSet::load(&[
        SkillRoot::new(r.join("bundled"), SkillSource::Bundled),
        SkillRoot::new(r.join("managed"), SkillSource::Managed),
    ]);
    assert_eq!(set.get("dup-skill").unwrap().description, "Managed copy.");
}

fn fake_bin_dir(names: &[&str]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for n in names {
        let p = d.path().join(n);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    d
}

#[test]
fn gating_reasons_in_both_languages() {
    let gh = load("requires-gh").unwrap();
    let ctx = GateContext::empty(Os::Linux);
    let e = check(&gh, &ctx);
    assert!(!e.eligible);
    assert_eq!(e.missing, vec![Missing::Bin("gh".into()), Missing::Env("GITHUB_TOKEN".into())]);
    assert_eq!(e.explain(Lang::En), "needs `gh` on PATH; needs GITHUB_TOKEN");
    assert_eq!(e.explain(Lang::ZhCn), "需要在 PATH 中安装 `gh`；需要设置 GITHUB_TOKEN");

    let bins = fake_bin_dir(&["gh"]);
    let mut ctx = GateContext::empty(Os::Linux);
    ctx.path = vec![bins.path().to_path_buf()];
    assert_eq!(check(&gh, &ctx).missing, vec![Missing::Env("GITHUB_TOKEN".into())]);
    // apiKey fills primaryEnv.
    ctx.entries.insert(
        "requires-gh".into(),
        SkillEntryConfig { api_key: Some("ghp_x".into()), ..Default::default() },
    );
    assert!(check(&gh, &ctx).eligible);
    // Switched off wins over everything.
    ctx.entries.get_mut("requires-gh").unwrap().enabled = Some(false);
    assert_eq!(check(&gh, &ctx).missing, vec![Missing::Disabled]);

    let darwin = load("os-darwin-only").unwrap();
    let e = check(&darwin, &GateContext::empty(Os::Linux));
    assert_eq!(e.explain(Lang::En), "only works on macOS (this computer: linux)");
    assert_eq!(e.explain(Lang::ZhCn), "仅支持 macOS（本机：linux）");
    assert!(check(&darwin, &GateContext::empty(Os::Darwin)).eligible);

    let any = load("requires-anybins").unwrap();
    assert_eq!(
        check(&any, &GateContext::empty(Os::Linux)).explain(Lang::En),
        "needs one of `mpv`, `vlc`, `ffplay` on PATH"
    );
    let vlc = fake_bin_dir(&["vlc"]);
    let mut ctx = GateContext::empty(Os::Linux);
    ctx.path = vec![vlc.path().to_path_buf()];
    assert!(check(&any, &ctx).eligible);

    let cfg = load("requires-config").unwrap();
    let mut ctx = GateContext::empty(Os::Linux);
    assert_eq!(check(&cfg, &ctx).explain(Lang::ZhCn), "需要开启设置项 `browser.enabled`");
    ctx.config = serde_json::json!({"browser": {"enabled": true}});
    assert!(check(&cfg, &ctx).eligible);

    assert!(check(&load("always-true").unwrap(), &GateContext::empty(Os::Linux)).eligible);
    assert!(check(&load("minimal").unwrap(), &GateContext::empty(Os::Win32)).eligible);

    let mut ctx = GateContext::empty(Os::Linux);
    ctx.agent_skills = Some(vec![]);
    assert_eq!(check(&load("minimal").unwrap(), &ctx).missing, vec![Missing::NotVisible]);
}

#[test]
fn prompt_block_has_the_exact_format_and_filters() {
    let skills =
        vec![load("minimal").unwrap(), load("xml-escape").unwrap(), load("model-hidden").unwrap()];
    let home = fixtures().join("skills");
    let block = skills_prompt_block(&skills, PromptLimits::default(), Some(&home));
    assert!(block.starts_with("\n\nThe following skills provide specialized instructions for specific tasks.\nUse the read tool to load a skill's file when the task matches its description.\n"));
    assert!(block.contains(
        "<available_skills>\n  <skill>\n    <name>minimal</name>\n    <description>The smallest valid skill.</description>\n    <location>~/minimal/SKILL.md</location>\n  </skill>\n"
    ));
    assert!(block
        .contains("Escapes &lt;tags&gt; &amp; &quot;quotes&quot; and &apos;apostrophes&apos;."));
    assert!(!block.contains("model-hidden"), "disable-model-invocation skills are omitted");
    assert!(block.ends_with("</available_skills>"));

    // Over the character budget: compact, then truncated with a count.
    let compact =
        skills_prompt_block(&skills, PromptLimits { max_chars: 700, max_skills: 50 }, None);
    assert!(compact.contains("compact format (descriptions omitted)"));
    assert!(!compact.contains("<description>"));
    let truncated =
        skills_prompt_block(&skills, PromptLimits { max_chars: 2000, max_skills: 1 }, None);
    assert!(truncated.contains("included 1 of 2"));
    assert_eq!(truncated.matches("<skill>").count(), 1);
    assert_eq!(skills_prompt_block(&skills[2..], PromptLimits::default(), None), "");

    let cmds = slash_commands(&[
        load("minimal").unwrap(),
        load("not-user-invocable").unwrap(),
        load("command-dispatch").unwrap(),
    ]);
    let names: Vec<&str> = cmds.iter().map(|c| c.command.as_str()).collect();
    assert_eq!(names, ["command-dispatch", "minimal"]);
    assert_eq!(cmds[0].dispatch_tool.as_deref(), Some("remind"));
}

#[test]
fn bundled_skills_load_are_eligible_and_default_on() {
    let tmp = tempfile::tempdir().unwrap();
    for parsed in bundled::parse_all(tmp.path()) {
        let s = parsed.expect("bundled skill parses");
        assert!(s.lints.is_empty(), "{}: {:?}", s.name, s.lints);
        assert!(s.description.chars().count() < 120, "{} description is short", s.name);
        for os in [Os::Linux, Os::Darwin, Os::Win32] {
            assert!(check(&s, &GateContext::empty(os.clone())).eligible, "{} on {os:?}", s.name);
        }
        let report = pincer_skills::safety::check_files(&[(
            "SKILL.md".into(),
            bundled::BUNDLED
                .iter()
                .find(|b| b.name == s.name)
                .unwrap()
                .skill_md
                .as_bytes()
                .to_vec(),
        )]);
        assert_eq!(report.verdict, pincer_skills::Verdict::Ok, "{}: {:?}", s.name, report.findings);
    }
    bundled::materialize(tmp.path()).unwrap();
    let set = SkillSet::load(&[SkillRoot::new(tmp.path(), SkillSource::Bundled)]);
    let names: Vec<&str> = set.skills.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["group-digest", "reminders", "summarize-link", "translate"]);
    assert!(set.rejected.is_empty());

    let state = BotSkillState::default();
    let ctx = GateContext::empty(Os::host());
    let active = ActiveSkills::compute(&set, &state, "bot-1", &ctx, PromptLimits::default(), None);
    assert_eq!(active.commands.len(), 4);
    assert!(active.prompt_block.contains("<name>reminders</name>"));
}

#[test]
fn toggles_apply_live_and_round_trip() {
    let r = fixtures().join("roots");
    let set = SkillSet::load(&[
        SkillRoot::new(r.join("bundled"), SkillSource::Bundled),
        SkillRoot::new(r.join("managed"), SkillSource::Managed),
    ]);
    let ctx = GateContext::empty(Os::Linux);
    let mut state = BotSkillState::default();
    // Third-party skills are off by default.
    let a = ActiveSkills::compute(&set, &state, "bot", &ctx, PromptLimits::default(), None);
    assert!(!a.prompt_block.contains("only-managed"));
    assert!(state.set("bot", "only-managed", true));
    assert!(!state.set("bot", "only-managed", true), "second enable changes nothing");
    let b = ActiveSkills::compute(&set, &state, "bot", &ctx, PromptLimits::default(), None);
    assert!(b.prompt_block.contains("<name>only-managed</name>"));
    assert_eq!(b.commands.iter().map(|c| c.command.as_str()).collect::<Vec<_>>(), ["only-managed"]);
    // Another bot is unaffected.
    let other = ActiveSkills::compute(&set, &state, "other", &ctx, PromptLimits::default(), None);
    assert!(!other.prompt_block.contains("only-managed"));
    state.set("bot", "only-managed", false);
    assert!(ActiveSkills::compute(&set, &state, "bot", &ctx, PromptLimits::default(), None)
        .prompt_block
        .is_empty());

    let json = serde_json::to_string(&state).unwrap();
    let back: BotSkillState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, state);
    assert!(back.is_enabled("bot", "reminders"), "defaults kept when toggling another skill");
    // Ineligible enabled skills are reported with reasons.
    let set = SkillSet::load(&[SkillRoot::new(fixtures().join("skills"), SkillSource::Managed)]);
    state.set("bot", "requires-gh", true);
    let c = ActiveSkills::compute(&set, &state, "bot", &ctx, PromptLimits::default(), None);
    assert_eq!(c.ineligible[0].0, "requires-gh");
    assert!(c.ineligible[0].1.explain(Lang::En).contains("needs `gh` on PATH"));
}

#[test]
fn home_shortening_only_applies_under_home() {
    let s = load("minimal").unwrap();
    let block =
        skills_prompt_block([&s], PromptLimits::default(), Some(Path::new("/nonexistent-home")));
    assert!(block.contains(&format!("<location>{}</location>", s.file.display())));
}
