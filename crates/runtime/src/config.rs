//! `config.toml`: versioned, migrated on load, written atomically, never
//! holding a secret (those live in the OS keyring, see [`crate::secrets`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use pincer_qq::model::Intents;
use serde::{Deserialize, Serialize};

/// The schema version this build writes.
pub const CONFIG_VERSION: u32 = 1;

/// QQ allows an individual at most this many bots per account.
pub const MAX_BOTS_PER_QQ_ACCOUNT: usize = 5;

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Schema version.
    pub version: u32,
    /// App-wide settings.
    #[serde(default)]
    pub settings: Settings,
    /// Model providers (API keys are in the keyring).
    #[serde(default, rename = "provider")]
    pub providers: Vec<ProviderConfig>,
    /// QQ bots (AppSecrets are in the keyring).
    #[serde(default, rename = "bot")]
    pub bots: Vec<BotConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: CONFIG_VERSION,
            settings: Settings::default(),
            providers: Vec::new(),
            bots: Vec::new(),
        }
    }
}

/// The UI language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Language {
    /// Follow the OS locale (default).
    #[default]
    #[serde(rename = "auto")]
    Auto,
    /// 简体中文.
    #[serde(rename = "zh-CN")]
    ZhCn,
    /// English.
    #[serde(rename = "en")]
    En,
}

/// App-wide settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// UI language.
    pub language: Language,
    /// Start with the OS session.
    pub autostart: bool,
    /// Closing the window keeps Pincer in the tray.
    pub close_to_tray: bool,
    /// Conversation history older than this many days is deleted.
    pub retention_days: u32,
    /// The skills registry (ClawHub API base); unset = `https://clawhub.ai`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_base: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            language: Language::Auto,
            autostart: false,
            close_to_tray: true,
            retention_days: 90,
            registry_base: None,
        }
    }
}

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI-compatible chat completions.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

/// A model provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Pincer's id for it, used by bots.
    pub id: String,
    /// Wire format.
    pub kind: ProviderKind,
    /// The preset it was made from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// API base URL.
    pub base_url: String,
    /// Default model.
    pub model: String,
}

/// Production or sandbox QQ environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QqEnvironment {
    /// `api.sgroup.qq.com`.
    #[default]
    Production,
    /// `sandbox.api.sgroup.qq.com` (only the developer's own small groups).
    Sandbox,
}

/// One QQ bot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotConfig {
    /// Unique name chosen by the user.
    pub name: String,
    /// QQ AppID.
    pub app_id: String,
    /// Production or sandbox.
    #[serde(default)]
    pub environment: QqEnvironment,
    /// Replaces the QQ REST base (the gateway URL is discovered from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
    /// Replaces the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// Subscribed gateway intents.
    #[serde(default)]
    pub intents: Intents,
    /// System prompt.
    #[serde(default)]
    pub persona: String,
    /// Provider id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Model, overriding the provider's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Enabled skills.
    #[serde(default)]
    pub skills: Vec<String>,
    /// Groups the bot answers in; empty = all.
    #[serde(default)]
    pub allowed_groups: Vec<String>,
    /// Users the bot answers; empty = all.
    #[serde(default)]
    pub allowed_users: Vec<String>,
    /// The owner's user openid: only the owner may use `exec` and admin commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Tokens (input + output) the bot may use per day (China Standard
    /// Time); past it, each user gets one notice a day and no answer until
    /// midnight. Unset: no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_token_cap: Option<u64>,
    /// The same for the day's cost, in the currency of the provider's price
    /// table (CNY for the Chinese presets, USD for the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_cost_cap: Option<f64>,
    /// Whether the supervisor runs it.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A loaded config and what was odd about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The config, migrated to [`CONFIG_VERSION`].
    pub config: Config,
    /// Keys this version does not know (kept out of the config, never fatal).
    pub unknown_keys: Vec<String>,
    /// The version the file had before migration.
    pub migrated_from: Option<u32>,
}

/// Why a config could not be read or written. Each says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file is not valid TOML.
    #[error("{path} is not valid TOML: {detail}. Fix the file or move it away; Pincer did not change it")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        detail: String,
    },
    /// A known key has a value of the wrong type.
    #[error("{path}: {detail}. Fix that value; Pincer did not change the file")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Written by a newer Pincer.
    #[error("{path} was written by a newer Pincer (config version {found}, this one knows {CONFIG_VERSION}); update Pincer. The file was left as it is")]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
    /// Reading or writing failed.
    #[error("cannot {action} {path}: {source}. Check that the folder exists and is writable (or set PINCER_HOME)")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl ConfigError {
    /// The same in Chinese.
    pub fn explain_zh(&self) -> String {
        match self {
            Self::Syntax { path, detail } => {
                format!("{} 不是有效的 TOML：{detail}。请修正或移走该文件；Pincer 没有改动它。", path.display())
            }
            Self::Invalid { path, detail } => {
                format!("{}：{detail}。请修正该值；Pincer 没有改动文件。", path.display())
            }
            Self::TooNew { path, found } => format!(
                "{} 由更新版本的 Pincer 写入（配置版本 {found}，当前支持 {CONFIG_VERSION}）：请升级 Pincer。文件保持原样。",
                path.display()
            ),
            Self::Io { action, path, source } => {
                let action = match *action {
                    "read" => "读取",
                    "write" => "写入",
                    _ => "访问",
                };
                format!("无法{action} {}：{source}。请检查文件夹是否存在且可写（或设置 PINCER_HOME）。", path.display())
            }
        }
    }
}

impl Config {
    /// Reads `path`; a missing file is the default config. Older versions
    /// are migrated in memory (the file is rewritten only by [`save`](Self::save)).
    pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Loaded {
                    config: Config::default(),
                    unknown_keys: Vec::new(),
                    migrated_from: None,
                })
            }
            Err(source) => {
                return Err(ConfigError::Io { action: "read", path: path.into(), source })
            }
        };
        Self::parse(&text, path)
    }

    /// Parses config text; `path` is only for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Loaded, ConfigError> {
        let mut value: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigError::Syntax { path: path.into(), detail: e.message().to_owned() }
        })?;
        let found = match value.get("version") {
            None => 1,
            Some(v) => v.as_integer().and_then(|v| u32::try_from(v).ok()).ok_or_else(|| {
                ConfigError::Invalid {
                    path: path.into(),
                    detail: "`version` must be a whole number".into(),
                }
            })?,
        };
        if found > CONFIG_VERSION {
            return Err(ConfigError::TooNew { path: path.into(), found });
        }
        let migrated_from = migrate(&mut value, found);
        value.insert("version".into(), toml::Value::Integer(CONFIG_VERSION.into()));

        // Unknown keys are collected and dropped: a config written by a
        // newer Pincer (or edited by hand) still loads.
        let mut unknown_keys = Vec::new();
        let lenient = strip_unknown(&value, &mut unknown_keys);
        // Through text again so that the error names the offending key.
        let lenient = toml::to_string(&lenient).expect("a parsed table serialises");
        let config: Config =
            toml::from_str(&lenient).map_err(|e: toml::de::Error| ConfigError::Invalid {
                path: path.into(),
                detail: e.to_string().trim().replace('\n', " "),
            })?;
        if let Some(bot) =
            config.bots.iter().find(|b| b.daily_cost_cap.is_some_and(|c| c.is_nan() || c < 0.0))
        {
            return Err(ConfigError::Invalid {
                path: path.into(),
                detail: format!("bot {}: `daily_cost_cap` must be a number ≥ 0", bot.name),
            });
        }
        for key in &unknown_keys {
            tracing::warn!(key = %key, file = %path.display(), "ignoring unknown config key");
        }
        Ok(Loaded { config, unknown_keys, migrated_from })
    }

    /// Writes the config atomically: a temp file in the same folder, flushed
    /// to disk, then renamed over the old one. A crash leaves either the old
    /// or the new file, never half of one.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let io = |source| ConfigError::Io { action: "write", path: path.into(), source };
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let text = toml::to_string_pretty(self).expect("the config always serialises");
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        tmp.write_all(
            b"# Pincer configuration. Secrets are kept in the OS keyring, never here.\n\n",
        )
        .and_then(|_| tmp.write_all(text.as_bytes()))
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        #[cfg(unix)]
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// The bot called `name`.
    pub fn bot(&self, name: &str) -> Option<&BotConfig> {
        self.bots.iter().find(|b| b.name == name)
    }

    /// The provider with id `id`.
    pub fn provider(&self, id: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.id == id)
    }
}

/// Brings an older table up to [`CONFIG_VERSION`], one step at a time.
/// Returns the original version when anything was migrated.
fn migrate(_value: &mut toml::Table, found: u32) -> Option<u32> {
    // Version 1 is the first schema; each later version adds a step here,
    // e.g. `if version == 1 { rename keys…; version = 2 }`.
    (found < CONFIG_VERSION).then_some(found)
}

/// A copy of `value` without the keys [`Config`] does not know, and their paths.
fn strip_unknown(value: &toml::Table, unknown: &mut Vec<String>) -> toml::Table {
    const TOP: &[&str] = &["version", "settings", "provider", "bot"];
    const SETTINGS: &[&str] =
        &["language", "autostart", "close_to_tray", "retention_days", "registry_base"];
    const PROVIDER: &[&str] = &["id", "kind", "preset", "base_url", "model"];
    const BOT: &[&str] = &[
        "name",
        "app_id",
        "environment",
        "api_base",
        "token_url",
        "intents",
        "persona",
        "provider",
        "model",
        "skills",
        "allowed_groups",
        "allowed_users",
        "owner",
        "daily_token_cap",
        "daily_cost_cap",
        "enabled",
    ];
    fn keep(
        table: &toml::Table,
        known: &[&str],
        prefix: &str,
        unknown: &mut Vec<String>,
    ) -> toml::Table {
        table
            .iter()
            .filter(|(k, _)| {
                let ok = known.contains(&k.as_str());
                if !ok {
                    unknown.push(format!("{prefix}{k}"));
                }
                ok
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
    let mut top = keep(value, TOP, "", unknown);
    if let Some(toml::Value::Table(s)) = top.get("settings") {
        let s = keep(s, SETTINGS, "settings.", unknown);
        top.insert("settings".into(), toml::Value::Table(s));
    }
    for (key, known) in [("provider", PROVIDER), ("bot", BOT)] {
        if let Some(toml::Value::Array(items)) = top.get(key) {
            let items = items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    toml::Value::Table(t) => {
                        toml::Value::Table(keep(t, known, &format!("{key}[{i}]."), unknown))
                    }
                    other => other.clone(),
                })
                .collect();
            top.insert(key.into(), toml::Value::Array(items));
        }
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Config {
        Config {
            providers: vec![ProviderConfig {
                id: "deepseek".into(),
                kind: ProviderKind::OpenAi,
                preset: Some("deepseek".into()),
                base_url: "https://api.deepseek.com/v1".into(),
                model: "deepseek-chat".into(),
            }],
            bots: vec![BotConfig {
                name: "xiaoqian".into(),
                app_id: "102030".into(),
                environment: QqEnvironment::Sandbox,
                api_base: None,
                token_url: None,
                intents: Intents::GROUP_AND_C2C_EVENT,
                persona: "你是一个乐于助人的助手。".into(),
                provider: Some("deepseek".into()),
                model: None,
                skills: vec!["translate".into()],
                allowed_groups: vec![],
                allowed_users: vec![],
                owner: Some("OWNER".into()),
                daily_token_cap: Some(200_000),
                daily_cost_cap: Some(1.5),
                enabled: true,
            }],
            ..Config::default()
        }
    }

    #[test]
    fn saves_and_loads_the_same_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        sample().save(&path).unwrap();
        let loaded = Config::load(&path).unwrap();
        assert_eq!(loaded.config, sample());
        assert!(loaded.unknown_keys.is_empty());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("[[bot]]") && text.contains("app_id = \"102030\""), "{text}");
        assert!(text.contains("OS keyring"));
    }

    #[test]
    fn a_negative_cost_cap_is_refused_with_the_bot_named() {
        for cap in ["-1.0", "nan"] {
            let text = format!("[[bot]]\nname = \"xq\"\napp_id = \"1\"\ndaily_cost_cap = {cap}\n");
            let err = Config::parse(&text, Path::new("c.toml")).unwrap_err();
            assert!(matches!(err, ConfigError::Invalid { .. }), "{err}");
            assert!(
                err.to_string().contains("bot xq: `daily_cost_cap` must be a number ≥ 0"),
                "{err}"
            );
        }
        let text =
            "[[bot]]\nname = \"xq\"\napp_id = \"1\"\ndaily_token_cap = 5000\ndaily_cost_cap = 0\n";
        let bot = &Config::parse(text, Path::new("c.toml")).unwrap().config.bots[0];
        assert_eq!((bot.daily_token_cap, bot.daily_cost_cap), (Some(5000), Some(0.0)));
    }

    #[test]
    fn a_missing_file_is_the_default_and_no_version_means_1() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = Config::load(&dir.path().join("none.toml")).unwrap();
        assert_eq!(loaded.config, Config::default());
        let loaded = Config::parse(
            "[settings]\nlanguage = \"en\"\nregistry_base = \"http://127.0.0.1:1/\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(loaded.config.settings.language, Language::En);
        assert_eq!(loaded.config.settings.registry_base.as_deref(), Some("http://127.0.0.1:1/"));
        assert!(loaded.unknown_keys.is_empty());
        assert_eq!(loaded.config.version, CONFIG_VERSION);
    }

    #[test]
    fn unknown_keys_warn_and_never_crash() {
        let text = r#"
version = 1
future_feature = true
[settings]
language = "en"
theme = "dark"
[[bot]]
name = "a"
app_id = "1"
colour = "red"
"#;
        let loaded = Config::parse(text, Path::new("c.toml")).unwrap();
        assert_eq!(loaded.unknown_keys, vec!["future_feature", "settings.theme", "bot[0].colour"]);
        assert_eq!(loaded.config.bots[0].name, "a");
        assert!(loaded.config.bots[0].enabled);
    }

    #[test]
    fn bad_files_are_explained_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        for (text, needle) in [
            ("version = [", "not valid TOML"),
            ("version = 99", "newer Pincer"),
            ("[[bot]]\nname = 3\napp_id = \"1\"", "name"),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = Config::load(&path).unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
            assert!(!err.explain_zh().is_empty());
            assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "file untouched");
        }
    }

    #[test]
    fn an_unwritable_place_is_a_clear_error() {
        // A regular file where the folder should be fails even for root.
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-folder");
        std::fs::write(&blocker, "x").unwrap();
        let err = sample().save(&blocker.join("config.toml")).unwrap_err();
        assert!(err.to_string().contains("writable"), "{err}");
        assert!(err.explain_zh().contains("可写"));
        assert_eq!(std::fs::read_to_string(&blocker).unwrap(), "x");
    }
}
