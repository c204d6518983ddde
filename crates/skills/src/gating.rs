//! Eligibility (spec A.6) with reasons a person understands, in English and zh-CN.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::i18n::Lang;
use crate::skill::{Os, Skill, SkillSource};

/// Per-skill configuration (`skills.entries.<key>`, spec A.8).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillEntryConfig {
    /// `false` switches the skill off.
    pub enabled: Option<bool>,
    /// Fills the skill's `primaryEnv`.
    pub api_key: Option<String>,
    /// Extra env vars for the skill.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// What gating checks against: host platform, PATH, environment and configuration.
#[derive(Debug, Clone)]
pub struct GateContext {
    /// Host platform.
    pub os: Os,
    /// Folders searched for binaries (`PATH`).
    pub path: Vec<PathBuf>,
    /// Environment variables that are set (non-empty).
    pub env: HashMap<String, String>,
    /// The configuration document for `requires.config` dot-paths.
    pub config: serde_json::Value,
    /// `skills.entries`, keyed by skill key.
    pub entries: HashMap<String, SkillEntryConfig>,
    /// `skills.allowBundled`.
    pub allow_bundled: Option<Vec<String>>,
    /// Per-agent visibility list (`None` = unrestricted, `Some([])` = none).
    pub agent_skills: Option<Vec<String>>,
}

impl GateContext {
    /// The current process: host OS, `PATH` and environment, empty configuration.
    pub fn from_host() -> Self {
        let path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        GateContext {
            os: Os::host(),
            path,
            env: std::env::vars().filter(|(_, v)| !v.is_empty()).collect(),
            config: serde_json::Value::Null,
            entries: HashMap::new(),
            allow_bundled: None,
            agent_skills: None,
        }
    }

    /// An empty context for `os`: no binaries, no env, no config (for tests).
    pub fn empty(os: Os) -> Self {
        GateContext {
            os,
            path: Vec::new(),
            env: HashMap::new(),
            config: serde_json::Value::Null,
            entries: HashMap::new(),
            allow_bundled: None,
            agent_skills: None,
        }
    }

    /// Whether `bin` is an executable file in one of the `PATH` folders.
    pub fn has_bin(&self, bin: &str) -> bool {
        if bin.is_empty() || bin.contains(['/', '\\']) {
            return false;
        }
        let exts: Vec<String> = if self.os == Os::Win32 {
            std::env::var("PATHEXT")
                .unwrap_or_else(|_| ".EXE;.CMD;.BAT;.COM".into())
                .split(';')
                .map(|e| e.to_ascii_lowercase())
                .chain(std::iter::once(String::new()))
                .collect()
        } else {
            vec![String::new()]
        };
        self.path.iter().any(|dir| {
            exts.iter().any(|ext| {
                let p = dir.join(format!("{bin}{ext}"));
                p.is_file() && is_executable(&p)
            })
        })
    }

    fn has_env(&self, skill: &Skill, var: &str) -> bool {
        if self.env.get(var).is_some_and(|v| !v.is_empty()) {
            return true;
        }
        let Some(entry) = self.entries.get(skill.key()) else { return false };
        if entry.env.get(var).is_some_and(|v| !v.is_empty()) {
            return true;
        }
        let primary = skill.openclaw.as_ref().and_then(|m| m.primary_env.as_deref());
        primary == Some(var) && entry.api_key.as_deref().is_some_and(|k| !k.is_empty())
    }

    fn config_truthy(&self, dot_path: &str) -> bool {
        let mut v = &self.config;
        for part in dot_path.split('.') {
            match v.get(part) {
                Some(next) => v = next,
                None => return false,
            }
        }
        match v {
            serde_json::Value::Null => false,
            serde_json::Value::Bool(b) => *b,
            serde_json::Value::Number(n) => n.as_f64() != Some(0.0),
            serde_json::Value::String(s) => !s.is_empty(),
            _ => true,
        }
    }
}

#[cfg(unix)]
fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_p: &std::path::Path) -> bool {
    true
}

/// One reason a skill is not eligible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "detail")]
pub enum Missing {
    /// Switched off in configuration.
    Disabled,
    /// Bundled skill not in `allowBundled`.
    NotAllowedBundled,
    /// Runs only on other platforms.
    Os {
        /// Platforms the skill supports.
        supported: Vec<String>,
        /// This host.
        host: String,
    },
    /// A required binary is missing.
    Bin(String),
    /// None of these binaries is present.
    AnyBin(Vec<String>),
    /// A required environment variable is unset.
    Env(String),
    /// A required configuration switch is off.
    Config(String),
    /// Not in this agent's skill list.
    NotVisible,
}

impl Missing {
    /// A sentence for people, e.g. "needs `gh` on PATH" / "需要在 PATH 中安装 `gh`".
    pub fn explain(&self, lang: Lang) -> String {
        match (self, lang) {
            (Missing::Disabled, Lang::En) => "switched off in settings".into(),
            (Missing::Disabled, Lang::ZhCn) => "已在设置中关闭".into(),
            (Missing::NotAllowedBundled, Lang::En) => "not in the allowed built-in skills".into(),
            (Missing::NotAllowedBundled, Lang::ZhCn) => "不在允许的内置技能列表中".into(),
            (Missing::Os { supported, host }, Lang::En) => {
                format!("only works on {} (this computer: {host})", os_names(supported, lang))
            }
            (Missing::Os { supported, host }, Lang::ZhCn) => {
                format!("仅支持 {}（本机：{host}）", os_names(supported, lang))
            }
            (Missing::Bin(b), Lang::En) => format!("needs `{b}` on PATH"),
            (Missing::Bin(b), Lang::ZhCn) => format!("需要在 PATH 中安装 `{b}`"),
            (Missing::AnyBin(bs), Lang::En) => format!(
                "needs one of {} on PATH",
                bs.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(", ")
            ),
            (Missing::AnyBin(bs), Lang::ZhCn) => format!(
                "需要在 PATH 中安装 {} 之一",
                bs.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join("、")
            ),
            (Missing::Env(v), Lang::En) => format!("needs {v}"),
            (Missing::Env(v), Lang::ZhCn) => format!("需要设置 {v}"),
            (Missing::Config(c), Lang::En) => format!("needs the setting `{c}` turned on"),
            (Missing::Config(c), Lang::ZhCn) => format!("需要开启设置项 `{c}`"),
            (Missing::NotVisible, Lang::En) => "not enabled for this bot".into(),
            (Missing::NotVisible, Lang::ZhCn) => "此机器人未启用该技能".into(),
        }
    }
}

fn os_names(list: &[String], lang: Lang) -> String {
    let names: Vec<&str> = list
        .iter()
        .map(|o| match o.as_str() {
            "darwin" => "macOS",
            "linux" => "Linux",
            "win32" => "Windows",
            other => other,
        })
        .collect();
    names.join(lang.pick(", ", "、"))
}

/// The outcome of gating one skill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eligibility {
    /// Whether the skill may be used.
    pub eligible: bool,
    /// Every failed check (empty when eligible).
    pub missing: Vec<Missing>,
}

impl Eligibility {
    /// All reasons joined into one line, e.g. "needs `gh` on PATH; needs GITHUB_TOKEN".
    pub fn explain(&self, lang: Lang) -> String {
        self.missing.iter().map(|m| m.explain(lang)).collect::<Vec<_>>().join(lang.pick("; ", "；"))
    }
}

/// Gates one skill (spec A.6). Every failing requirement is reported, not just the first.
pub fn check(skill: &Skill, ctx: &GateContext) -> Eligibility {
    let mut missing = Vec::new();
    let done = |missing: Vec<Missing>| Eligibility { eligible: missing.is_empty(), missing };
    if ctx.entries.get(skill.key()).and_then(|e| e.enabled) == Some(false) {
        return done(vec![Missing::Disabled]);
    }
    if skill.source == SkillSource::Bundled {
        if let Some(allow) = &ctx.allow_bundled {
            if !allow.iter().any(|a| a == &skill.name) {
                return done(vec![Missing::NotAllowedBundled]);
            }
        }
    }
    if let Some(list) = &ctx.agent_skills {
        if !list.iter().any(|a| a == &skill.name) {
            return done(vec![Missing::NotVisible]);
        }
    }
    let Some(meta) = &skill.openclaw else { return done(missing) };
    if !meta.os.is_empty() && !meta.os.contains(&ctx.os) {
        return done(vec![Missing::Os {
            supported: meta.os.iter().map(|o| o.as_str().to_string()).collect(),
            host: ctx.os.as_str().to_string(),
        }]);
    }
    if meta.always {
        return done(missing);
    }
    for b in &meta.requires.bins {
        if !ctx.has_bin(b) {
            missing.push(Missing::Bin(b.clone()));
        }
    }
    if !meta.requires.any_bins.is_empty() && !meta.requires.any_bins.iter().any(|b| ctx.has_bin(b))
    {
        missing.push(Missing::AnyBin(meta.requires.any_bins.clone()));
    }
    for v in &meta.requires.env {
        if !ctx.has_env(skill, v) {
            missing.push(Missing::Env(v.clone()));
        }
    }
    for c in &meta.requires.config {
        if !ctx.config_truthy(c) {
            missing.push(Missing::Config(c.clone()));
        }
    }
    done(missing)
}
