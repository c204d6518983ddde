//! Compatibility with 605 real ClawHub skills from the shared corpus.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pincer_skills::{check_skill, parse_skill_file, SkillSource, Verdict};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/clawhub-skills")
}

#[test]
fn corpus_parses_and_is_checked() {
    let dir = corpus_dir();
    if !dir.is_dir() {
        println!("skipping: shared corpus not found at {}", dir.display());
        return;
    }
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    let total = folders.len();
    let mut parsed = 0usize;
    let mut rejected: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut verdicts: BTreeMap<String, usize> = BTreeMap::new();
    let mut blocked = Vec::new();
    for folder in &folders {
        let file = folder.join("SKILL.md");
        match parse_skill_file(&file, folder, SkillSource::Workspace) {
            Ok(skill) => {
                parsed += 1;
                assert!(!skill.name.trim().is_empty());
                assert!(!skill.description.trim().is_empty());
            }
            Err(r) => rejected
                .entry(r.reason.label())
                .or_default()
                .push(folder.file_name().unwrap().to_string_lossy().into_owned()),
        }
        let report = check_skill(folder).expect("corpus folder is readable");
        *verdicts.entry(format!("{:?}", report.verdict)).or_default() += 1;
        if report.verdict == Verdict::Block {
            let f = &report.findings[0];
            blocked.push(format!(
                "{} [{} {}:{} `{}`]",
                folder.file_name().unwrap().to_string_lossy(),
                f.rule,
                f.file,
                f.line,
                f.excerpt
            ));
        }
    }
    println!("corpus: {total} skills, parsed {parsed}, rejected {}", total - parsed);
    for (reason, names) in &rejected {
        println!(
            "  rejected {reason}: {} (e.g. {})",
            names.len(),
            names[..names.len().min(3)].join(", ")
        );
    }
    println!("safety verdicts: {verdicts:?}");
    for b in &blocked {
        println!("  block: {b}");
    }
    assert!(total >= 100, "corpus unexpectedly small: {total}");
    assert!(!rejected.contains_key("io") && !rejected.contains_key("unknown"));
    // 28 of 605 real skills have no frontmatter at all; everything with frontmatter parses.
    assert!(parsed * 100 >= total * 94, "parsed only {parsed} of {total}");
    assert!(verdicts.get("Block").copied().unwrap_or(0) > 0, "expected some unsafe skills");
}
