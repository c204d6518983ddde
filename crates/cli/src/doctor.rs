//! `pincer doctor`: checks everything Pincer needs, live, and says what to
//! fix: the keyring, the config, each bot's credentials and gateway, its
//! intents, each model provider (a real minimal completion), free disk
//! space, and whether the daemon runs.

use std::path::Path;
use std::process::ExitCode;

use pincer_agent::provider::presets::{self, ProviderConfig as AgentProvider};
use pincer_agent::provider::{check, ApiKey};
use pincer_qq::model::Intents;
use pincer_runtime::config::{BotConfig, Config, ProviderConfig, ProviderKind};
use pincer_runtime::control::{self, Request};
use pincer_runtime::qq_connection;
use pincer_runtime::secrets::{SecretName, Secrets};
use serde::Serialize;

use crate::bot::paths;
use crate::lang::{chinese, pick};

/// Less free space than this in PINCER_HOME warns.
const DISK_WARN_BYTES: u64 = 500 * 1024 * 1024;
/// Less than this fails.
const DISK_FAIL_BYTES: u64 = 50 * 1024 * 1024;

/// How a check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    pub hint: Option<String>,
}

fn check(name: impl Into<String>, status: Status, detail: String, hint: Option<String>) -> Check {
    Check { name: name.into(), status, detail, hint }
}

/// The agent's provider config for a configured provider.
pub fn agent_provider(provider: &ProviderConfig, key: Option<ApiKey>) -> AgentProvider {
    let mut out = match provider.preset.as_deref().and_then(presets::preset) {
        Some(p) => AgentProvider::from_preset(p, key),
        None => AgentProvider::custom(provider.base_url.clone(), provider.model.clone(), key),
    };
    out.base_url = provider.base_url.clone();
    out.model = provider.model.clone();
    out.kind = match provider.kind {
        ProviderKind::OpenAi => presets::ProviderKind::OpenAi,
        ProviderKind::Anthropic => presets::ProviderKind::Anthropic,
    };
    out
}

pub async fn run(json: bool) -> anyhow::Result<ExitCode> {
    let checks = checks().await;
    if json {
        println!("{}", serde_json::json!({ "checks": checks }));
    } else {
        for c in &checks {
            let word = match c.status {
                Status::Ok => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            println!("{word}  {:<24} {}", c.name, c.detail);
            if let Some(hint) = &c.hint {
                println!("      → {hint}");
            }
        }
    }
    let failed = checks.iter().any(|c| c.status == Status::Fail);
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

async fn checks() -> Vec<Check> {
    let mut out = Vec::new();
    let secrets = Secrets::default();
    match secrets.probe() {
        Ok(()) => out.push(check(
            "keyring",
            Status::Ok,
            pick("系统钥匙串可用", "the OS keyring answers"),
            None,
        )),
        Err(e) => out.push(check(
            "keyring",
            Status::Fail,
            pick(e.explain_zh(), e.to_string()),
            Some(pick(
                "在桌面会话中运行，或在无钥匙串的服务器上通过 PINCER_SECRET_* 环境变量（权限 0600 的 EnvironmentFile）提供密钥。",
                "run inside a desktop session, or on a server without a keyring give secrets as PINCER_SECRET_* variables (an EnvironmentFile with mode 0600)",
            )),
        )),
    }
    let paths = match paths() {
        Ok(p) => p,
        Err(e) => {
            out.push(check("home", Status::Fail, format!("{e:#}"), None));
            return out;
        }
    };
    let config = match Config::load(&paths.config_file()) {
        Ok(loaded) if loaded.unknown_keys.is_empty() => {
            out.push(check("config", Status::Ok, paths.config_file().display().to_string(), None));
            loaded.config
        }
        Ok(loaded) => {
            out.push(check(
                "config",
                Status::Warn,
                pick(
                    format!("忽略未知配置项：{}", loaded.unknown_keys.join(", ")),
                    format!("unknown keys ignored: {}", loaded.unknown_keys.join(", ")),
                ),
                Some(pick("删除这些配置项，或升级 Pincer。", "remove those keys or update Pincer")),
            ));
            loaded.config
        }
        Err(e) => {
            out.push(check("config", Status::Fail, pick(e.explain_zh(), e.to_string()), None));
            Config::default()
        }
    };
    if config.bots.is_empty() {
        out.push(check(
            "bots",
            Status::Warn,
            pick("还没有机器人", "no bots yet"),
            Some(pick(
                "运行 `pincer init` 或 `pincer bot add NAME --qr`。",
                "run `pincer init` or `pincer bot add NAME --qr`",
            )),
        ));
    }
    let http = reqwest::Client::new();
    for bot in &config.bots {
        out.push(check_bot(&secrets, &http, bot).await);
        out.push(check_intents(bot));
    }
    for provider in &config.providers {
        out.push(check_provider(&secrets, provider).await);
    }
    out.push(check_disk(&paths.data_dir));
    let socket = control::socket_path(&paths.data_dir);
    out.push(match control::request(&socket, &Request::Status).await {
        Ok(_) => check("daemon", Status::Ok, pick("Pincer 正在运行", "Pincer is running"), None),
        Err(e) => check(
            "daemon",
            Status::Warn,
            pick(e.explain_zh(), e.to_string()),
            Some(pick(
                "用 `pincer run` 启动，或安装 systemd 服务（见 installers/README.md）。",
                "start it with `pincer run` or install the systemd unit (see installers/README.md)",
            )),
        ),
    });
    out
}

async fn check_bot(secrets: &Secrets, http: &reqwest::Client, bot: &BotConfig) -> Check {
    let name = format!("bot:{}", bot.name);
    let readd = pick(
        format!(
            "在 q.qq.com 核对 AppID {} 的 AppSecret，然后 `pincer bot remove {n}` 并重新 `pincer bot add {n}`。",
            bot.app_id,
            n = bot.name
        ),
        format!(
            "check the AppSecret of AppID {} on q.qq.com, then `pincer bot remove {n}` and `pincer bot add {n}` again",
            bot.app_id,
            n = bot.name
        ),
    );
    let secret = match secrets.get(&SecretName::BotAppSecret(bot.name.clone())) {
        Ok(Some((s, _))) => s,
        Ok(None) => {
            return check(
                name,
                Status::Fail,
                pick("钥匙串中没有 AppSecret", "no AppSecret in the keyring"),
                Some(readd),
            )
        }
        Err(e) => return check(name, Status::Fail, pick(e.explain_zh(), e.to_string()), None),
    };
    let endpoints = qq_connection::endpoints(
        bot.environment,
        bot.api_base.as_deref(),
        bot.token_url.as_deref(),
    );
    let rest = qq_connection::rest_client(http.clone(), endpoints, &bot.app_id, secret);
    let me = match rest.me().await {
        Ok(me) => me,
        Err(e) => {
            let hint = (!e.is_retryable())
                .then_some(readd)
                .or_else(|| Some(pick("检查网络后重试。", "check the network and try again")));
            return check(name, Status::Fail, pick(e.explain_zh(), e.to_string()), hint);
        }
    };
    match rest.gateway_bot().await {
        Ok(g) => check(
            name,
            Status::Ok,
            pick(
                format!(
                    "{}：凭据有效，网关可用（今日剩余会话 {}）",
                    me.username, g.session_start_limit.remaining
                ),
                format!(
                    "{}: credentials valid, gateway reachable ({} session starts left today)",
                    me.username, g.session_start_limit.remaining
                ),
            ),
            None,
        ),
        Err(e) => check(
            name,
            Status::Fail,
            pick(e.explain_zh(), e.to_string()),
            Some(pick("检查网络后重试。", "check the network and try again")),
        ),
    }
}

fn check_intents(bot: &BotConfig) -> Check {
    let name = format!("intents:{}", bot.name);
    if bot.intents.is_empty() {
        return check(
            name,
            Status::Fail,
            pick("没有订阅任何事件：机器人收不到消息", "no intents: the bot receives nothing"),
            Some(pick(
                "删除 config.toml 中该机器人的 `intents` 行（默认即私聊与群聊）。",
                "remove the bot's `intents` line from config.toml (the default is C2C and group messages)",
            )),
        );
    }
    if !bot.intents.contains(Intents::GROUP_AND_C2C_EVENT) {
        return check(
            name,
            Status::Warn,
            pick("未订阅私聊和群聊消息", "C2C and group messages are not subscribed"),
            Some(pick(
                "个人机器人通常需要 GROUP_AND_C2C_EVENT：删除 `intents` 行以使用默认值。",
                "a personal bot needs GROUP_AND_C2C_EVENT: remove the `intents` line to use the default",
            )),
        );
    }
    check(name, Status::Ok, format!("{:?}", bot.intents), None)
}

async fn check_provider(secrets: &Secrets, provider: &ProviderConfig) -> Check {
    let name = format!("provider:{}", provider.id);
    let needs_key =
        provider.preset.as_deref().and_then(presets::preset).map(|p| p.needs_key).unwrap_or(true);
    let key = match secrets.get(&SecretName::ProviderApiKey(provider.id.clone())) {
        Ok(k) => k.map(|(k, _)| ApiKey::new(k.expose())),
        Err(e) => return check(name, Status::Fail, pick(e.explain_zh(), e.to_string()), None),
    };
    let fix_key = pick(
        format!(
            "在服务商控制台核对 API Key，然后 `pincer provider add {} …` 重新填写。",
            provider.id
        ),
        format!(
            "check the API key in the provider's console, then run `pincer provider add {} …` again",
            provider.id
        ),
    );
    if key.is_none() && needs_key {
        return check(
            name,
            Status::Fail,
            pick("钥匙串中没有 API Key", "no API key in the keyring"),
            Some(fix_key),
        );
    }
    match check::test_config(&agent_provider(provider, key)).await {
        Ok(ok) => check(
            name,
            Status::Ok,
            pick(
                format!("{} 已应答（{} ms）", ok.model, ok.latency.as_millis()),
                format!("{} answered in {} ms", ok.model, ok.latency.as_millis()),
            ),
            None,
        ),
        Err(e) => {
            let detail = if chinese() { e.message_zh() } else { e.message_en() };
            check(name, Status::Fail, detail, Some(fix_key))
        }
    }
}

/// Free space where Pincer keeps its data, from `df -Pk`.
fn check_disk(dir: &Path) -> Check {
    let free = std::process::Command::new("df")
        .arg("-Pk")
        .arg(dir)
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            let line = text.lines().nth(1)?.to_owned();
            line.split_whitespace().nth(3)?.parse::<u64>().ok()
        })
        .map(|kb| kb * 1024);
    let Some(free) = free else {
        return check(
            "disk",
            Status::Warn,
            pick("无法测量剩余空间", "cannot measure the free space"),
            None,
        );
    };
    let mb = free / (1024 * 1024);
    let detail = pick(
        format!("{} 剩余 {mb} MB", dir.display()),
        format!("{mb} MB free in {}", dir.display()),
    );
    let hint = Some(pick(
        "清理磁盘，或把 PINCER_HOME 设到空间更大的位置。",
        "free some space or set PINCER_HOME to a larger disk",
    ));
    if free < DISK_FAIL_BYTES {
        check("disk", Status::Fail, detail, hint)
    } else if free < DISK_WARN_BYTES {
        check("disk", Status::Warn, detail, hint)
    } else {
        check("disk", Status::Ok, detail, None)
    }
}
