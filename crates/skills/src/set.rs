//! Discovering skills under ordered roots and resolving name collisions (spec A.5).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::parse::{parse_skill_file, RejectReason, Rejection};
use crate::skill::{Skill, SkillSource};

/// How deep below a root a `SKILL.md` may sit (spec A.5).
pub const MAX_DEPTH: usize = 6;

/// A folder scanned for skills, with its precedence class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillRoot {
    /// The folder.
    pub path: PathBuf,
    /// Its source (decides precedence).
    pub source: SkillSource,
}

impl SkillRoot {
    /// A root at `path` of the given source.
    pub fn new(path: impl Into<PathBuf>, source: SkillSource) -> Self {
        Self { path: path.into(), source }
    }
}

/// The standard roots of spec A.5 (missing folders are simply skipped when loading):
/// `<workspace>/skills`, `<workspace>/.agents/skills`, `<home>/.agents/skills`,
/// `<state_dir>/skills` and the folder the bundled skills were materialized into.
pub fn standard_roots(
    workspace: &Path,
    home: Option<&Path>,
    state_dir: &Path,
    bundled_dir: &Path,
) -> Vec<SkillRoot> {
    let mut roots = vec![
        SkillRoot::new(workspace.join("skills"), SkillSource::Workspace),
        SkillRoot::new(workspace.join(".agents").join("skills"), SkillSource::WorkspaceAgents),
    ];
    if let Some(home) = home {
        roots
            .push(SkillRoot::new(home.join(".agents").join("skills"), SkillSource::PersonalAgents));
    }
    roots.push(SkillRoot::new(state_dir.join("skills"), SkillSource::Managed));
    roots.push(SkillRoot::new(bundled_dir, SkillSource::Bundled));
    roots
}

/// All skills found under a list of roots, after precedence.
#[derive(Debug, Clone, Default)]
pub struct SkillSet {
    /// Winning skills, sorted by name.
    pub skills: Vec<Skill>,
    /// Skills hidden by a same-named skill from a higher-precedence source.
    pub shadowed: Vec<Skill>,
    /// `SKILL.md` files that could not be loaded.
    pub rejected: Vec<Rejection>,
}

impl SkillSet {
    /// Scans every root (missing roots are skipped). Blocking: call from `spawn_blocking`
    /// in async code.
    pub fn load(roots: &[SkillRoot]) -> SkillSet {
        let mut found = Vec::new();
        let mut rejected = Vec::new();
        for root in roots {
            let Ok(real_root) = root.path.canonicalize() else { continue };
            let mut dirs = Vec::new();
            find_skill_dirs(&root.path, 0, &mut dirs);
            for (dir, file) in dirs {
                match dir.canonicalize() {
                    Ok(real) if real.starts_with(&real_root) => {}
                    _ => {
                        rejected.push(Rejection { path: file, reason: RejectReason::OutsideRoot });
                        continue;
                    }
                }
                match parse_skill_file(&file, &dir, root.source) {
                    Ok(s) => found.push(s),
                    Err(r) => rejected.push(r),
                }
            }
        }
        Self::from_skills(found, rejected)
    }

    /// Builds a set from already parsed skills: on a name collision the higher
    /// [`SkillSource`] wins; within one source the first one wins.
    pub fn from_skills(found: Vec<Skill>, rejected: Vec<Rejection>) -> SkillSet {
        let mut winners: BTreeMap<String, Skill> = BTreeMap::new();
        let mut shadowed = Vec::new();
        for s in found {
            match winners.get(&s.name) {
                Some(existing) if existing.source >= s.source => shadowed.push(s),
                Some(_) => {
                    if let Some(old) = winners.insert(s.name.clone(), s) {
                        shadowed.push(old);
                    }
                }
                None => {
                    winners.insert(s.name.clone(), s);
                }
            }
        }
        SkillSet { skills: winners.into_values().collect(), shadowed, rejected }
    }

    /// The winning skill called `name`.
    pub fn get(&self, name: &str) -> Option<&Skill> {
        self.skills.iter().find(|s| s.name == name)
    }
}

fn find_skill_dirs(dir: &Path, depth: usize, out: &mut Vec<(PathBuf, PathBuf)>) {
    let file = dir.join("SKILL.md");
    if file.is_file() {
        out.push((dir.to_path_buf(), file));
        return;
    }
    if depth >= MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut subdirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            !name.starts_with('.') && name != "node_modules" && e.path().is_dir()
        })
        .map(|e| e.path())
        .collect();
    subdirs.sort();
    for d in subdirs {
        find_skill_dirs(&d, depth + 1, out);
    }
}
