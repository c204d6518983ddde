//! Secrets (AppSecrets, API keys, skill keys) in the OS keyring: Keychain on
//! macOS, Credential Manager on Windows, the Secret Service (gnome-keyring,
//! KWallet) on Linux. `PINCER_SECRET_<NAME>` in the environment overrides
//! for servers and containers; it is read, never written. There is no
//! plaintext fallback: without a keyring the error names both ways out.

use std::fmt;

pub use pincer_qq::token::Secret;

/// The keyring service name Pincer's entries are filed under.
pub const DEFAULT_SERVICE: &str = "app.pincer.desktop";

/// Which secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretName {
    /// A QQ bot's AppSecret, by bot name.
    BotAppSecret(String),
    /// A model provider's API key, by provider id.
    ProviderApiKey(String),
    /// An environment value a skill needs, by skill and variable.
    SkillEnv {
        /// Skill name.
        skill: String,
        /// Variable, e.g. `GITHUB_TOKEN`.
        var: String,
    },
}

impl SecretName {
    /// The keyring account name, e.g. `bot/xiaoqian/app-secret`.
    pub fn key(&self) -> String {
        match self {
            Self::BotAppSecret(bot) => format!("bot/{bot}/app-secret"),
            Self::ProviderApiKey(id) => format!("provider/{id}/api-key"),
            Self::SkillEnv { skill, var } => format!("skill/{skill}/{var}"),
        }
    }

    /// The environment variable that overrides it, e.g.
    /// `PINCER_SECRET_BOT_XIAOQIAN_APP_SECRET`.
    pub fn env_var(&self) -> String {
        let mut name = String::from("PINCER_SECRET_");
        for c in self.key().chars() {
            name.push(if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' });
        }
        name
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// Why a secret could not be read or stored. Never contains the secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// No keyring service could be reached.
    #[error("no OS keyring is available ({detail}). Either start one (on Linux: gnome-keyring or KWallet in your desktop session) or set {env_var} in the environment")]
    NoKeyring {
        /// What the platform said.
        detail: String,
        /// The override that would work instead.
        env_var: String,
    },
    /// The keyring refused or failed.
    #[error("the OS keyring failed for {name}: {detail}")]
    Keyring {
        /// Which secret.
        name: String,
        /// What the platform said.
        detail: String,
    },
}

impl SecretError {
    /// The same in Chinese.
    pub fn explain_zh(&self) -> String {
        match self {
            Self::NoKeyring { detail, env_var } => format!(
                "系统钥匙串不可用（{detail}）。请启动一个（Linux 桌面上的 gnome-keyring 或 KWallet），或在环境变量中设置 {env_var}。"
            ),
            Self::Keyring { name, detail } => format!("系统钥匙串读写 {name} 失败：{detail}"),
        }
    }
}

/// Where a secret came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    /// `PINCER_SECRET_<NAME>`.
    Environment,
    /// The OS keyring.
    Keyring,
}

/// The secret store. Calls block on the platform's keyring (D-Bus on
/// Linux): from async code, run them in `spawn_blocking`.
#[derive(Debug, Clone)]
pub struct Secrets {
    service: String,
}

impl Default for Secrets {
    fn default() -> Self {
        Self::new(DEFAULT_SERVICE)
    }
}

impl Secrets {
    /// A store filing entries under `service`.
    pub fn new(service: impl Into<String>) -> Self {
        Self { service: service.into() }
    }

    fn entry(&self, name: &SecretName) -> Result<keyring::Entry, SecretError> {
        keyring::Entry::new(&self.service, &name.key()).map_err(|e| map_error(name, e))
    }

    /// The secret: the environment override if set, else the keyring entry,
    /// else `None`.
    pub fn get(&self, name: &SecretName) -> Result<Option<(Secret, SecretSource)>, SecretError> {
        if let Some(value) = std::env::var(name.env_var()).ok().filter(|v| !v.is_empty()) {
            return Ok(Some((Secret::new(value), SecretSource::Environment)));
        }
        match self.entry(name)?.get_password() {
            Ok(value) => Ok(Some((Secret::new(value), SecretSource::Keyring))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(name, e)),
        }
    }

    /// Stores `value` in the keyring.
    pub fn set(&self, name: &SecretName, value: &Secret) -> Result<(), SecretError> {
        self.entry(name)?.set_password(value.expose()).map_err(|e| map_error(name, e))
    }

    /// Removes the keyring entry (a missing one is fine).
    pub fn delete(&self, name: &SecretName) -> Result<(), SecretError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error(name, e)),
        }
    }

    /// Checks that the keyring answers (for `pincer doctor`).
    pub fn probe(&self) -> Result<(), SecretError> {
        let name = SecretName::SkillEnv { skill: "pincer-doctor".into(), var: "PROBE".into() };
        match self.entry(&name)?.get_password() {
            Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error(&name, e)),
        }
    }
}

fn map_error(name: &SecretName, e: keyring::Error) -> SecretError {
    match e {
        // The store exists in principle but cannot be used: absent, locked.
        keyring::Error::NoStorageAccess(inner) => {
            SecretError::NoKeyring { detail: inner.to_string(), env_var: name.env_var() }
        }
        keyring::Error::PlatformFailure(inner) => {
            let detail = inner.to_string();
            // No session bus or no Secret Service on it: no keyring here.
            let lower = detail.to_lowercase();
            let absent =
                ["d-bus", "dbus", "serviceunknown", "org.freedesktop.secrets", "autolaunch"]
                    .iter()
                    .any(|needle| lower.contains(needle));
            if absent {
                SecretError::NoKeyring { detail, env_var: name.env_var() }
            } else {
                SecretError::Keyring { name: name.key(), detail }
            }
        }
        other => SecretError::Keyring { name: name.key(), detail: other.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_keys_and_env_vars() {
        let n = SecretName::BotAppSecret("xiao-qian".into());
        assert_eq!(n.key(), "bot/xiao-qian/app-secret");
        assert_eq!(n.env_var(), "PINCER_SECRET_BOT_XIAO_QIAN_APP_SECRET");
        let n = SecretName::ProviderApiKey("deepseek".into());
        assert_eq!(n.env_var(), "PINCER_SECRET_PROVIDER_DEEPSEEK_API_KEY");
        let n = SecretName::SkillEnv { skill: "github".into(), var: "GITHUB_TOKEN".into() };
        assert_eq!(n.env_var(), "PINCER_SECRET_SKILL_GITHUB_GITHUB_TOKEN");
    }
}
