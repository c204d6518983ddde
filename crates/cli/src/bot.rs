//! `pincer bot …`

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use pincer_qq::bind::{BindClient, BindProgress};
use pincer_runtime::config::{BotConfig, Config, QqEnvironment, MAX_BOTS_PER_QQ_ACCOUNT};
use pincer_runtime::paths::PincerPaths;
use pincer_runtime::qq_connection;
use pincer_runtime::secrets::{Secret, SecretName, Secrets};
use tokio_util::sync::CancellationToken;

use crate::lang::pick;

/// The production host of QQ's one-click binding.
const DEFAULT_BIND_BASE: &str = "https://q.qq.com";

/// `pincer bot` subcommands.
#[derive(Debug, Subcommand)]
pub enum BotCommand {
    /// Add a QQ bot: by QR code (`--qr`, scan with mobile QQ) or by AppID,
    /// with the AppSecret read from stdin (prompted on a terminal).
    Add(AddArgs),
    /// List the bots.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Remove a bot and its AppSecret (its conversations stay on disk).
    Remove {
        /// The bot's name.
        name: String,
    },
    /// Pause a bot in the running Pincer (its connection closes until resumed).
    Pause {
        /// The bot's name.
        name: String,
    },
    /// Resume a paused bot in the running Pincer.
    Resume {
        /// The bot's name.
        name: String,
    },
}

/// `pincer bot add` arguments.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// A name for the bot.
    name: String,
    /// The bot's AppID (from q.qq.com).
    #[arg(long, required_unless_present = "qr", conflicts_with = "qr")]
    app_id: Option<String>,
    /// Bind a bot by scanning a QR code with mobile QQ.
    #[arg(long)]
    qr: bool,
    /// Replaces https://q.qq.com for the binding endpoints.
    #[arg(long, requires = "qr")]
    bind_base: Option<String>,
    /// Use QQ's sandbox environment.
    #[arg(long)]
    sandbox: bool,
    /// Replaces the QQ REST base (the gateway is discovered from it).
    #[arg(long)]
    api_base: Option<String>,
    /// Replaces the QQ token endpoint.
    #[arg(long)]
    token_url: Option<String>,
    /// The model provider's id (see `pincer provider add`).
    #[arg(long)]
    provider: Option<String>,
    /// The model, overriding the provider's default.
    #[arg(long)]
    model: Option<String>,
    /// The bot's persona (system prompt).
    #[arg(long)]
    persona: Option<String>,
}

pub fn paths() -> anyhow::Result<PincerPaths> {
    let paths = PincerPaths::from_env().ok_or_else(|| {
        anyhow!(pick(
            "找不到用户目录：请设置 PINCER_HOME",
            "cannot find a home folder for Pincer: set PINCER_HOME"
        ))
    })?;
    paths.create().with_context(|| {
        pick(
            format!(
                "无法创建 {}：请检查权限，或设置 PINCER_HOME 到可写的文件夹",
                paths.config_dir.display()
            ),
            format!(
                "cannot create {}: check its permissions or set PINCER_HOME to a writable folder",
                paths.config_dir.display()
            ),
        )
    })?;
    Ok(paths)
}

pub fn load_config(paths: &PincerPaths) -> anyhow::Result<Config> {
    let loaded = Config::load(&paths.config_file())
        .map_err(|e| anyhow!(pick(e.explain_zh(), e.to_string())))?;
    for key in &loaded.unknown_keys {
        eprintln!(
            "{}",
            pick(
                format!("注意：忽略未知配置项 {key}"),
                format!("note: ignoring unknown config key {key}")
            )
        );
    }
    Ok(loaded.config)
}

pub fn save_config(paths: &PincerPaths, config: &Config) -> anyhow::Result<()> {
    config.save(&paths.config_file()).map_err(|e| anyhow!(pick(e.explain_zh(), e.to_string())))
}

/// Reads a secret from stdin when it is not a terminal, else prompts without
/// echo. Empty input is `None` when `optional`, else an error.
pub fn read_secret(prompt: &str, optional: bool) -> anyhow::Result<Option<Secret>> {
    let value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).context("cannot read from the terminal")?
    } else {
        let mut buf = String::new();
        std::io::stdin().read_to_string(&mut buf).context("cannot read stdin")?;
        buf
    };
    let value = value.trim().to_owned();
    if value.is_empty() {
        if optional {
            return Ok(None);
        }
        bail!(pick("没有读到密钥：请通过标准输入提供", "no secret given: pipe it on stdin"));
    }
    Ok(Some(Secret::new(value)))
}

pub async fn run(cmd: BotCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BotCommand::Add(args) => {
            let code = add(args).await?;
            crate::daemon::notify_reload().await;
            Ok(code)
        }
        BotCommand::List { json } => list(json),
        BotCommand::Remove { name } => {
            let code = remove(&name)?;
            crate::daemon::notify_reload().await;
            Ok(code)
        }
        BotCommand::Pause { name } => crate::daemon::pause_resume(&name, true).await,
        BotCommand::Resume { name } => crate::daemon::pause_resume(&name, false).await,
    }
}

async fn add(args: AddArgs) -> anyhow::Result<ExitCode> {
    let paths = paths()?;
    let mut config = load_config(&paths)?;
    if config.bot(&args.name).is_some() {
        bail!(pick(
            format!(
                "已经有名为 {} 的机器人：换个名字，或先 `pincer bot remove {}`",
                args.name, args.name
            ),
            format!(
                "a bot named {} exists: pick another name or `pincer bot remove {}` first",
                args.name, args.name
            )
        ));
    }
    if let Some(p) = &args.provider {
        if config.provider(p).is_none() {
            bail!(pick(
                format!("没有模型服务 {p}：先运行 `pincer provider add {p} …`"),
                format!("unknown provider {p}: run `pincer provider add {p} …` first")
            ));
        }
    }
    let http = reqwest::Client::new();
    let (app_id, secret, owner) = if args.qr {
        let base = args.bind_base.clone().unwrap_or_else(|| DEFAULT_BIND_BASE.to_owned());
        let bound = BindClient::new(http.clone(), base)
            .bind(show_progress, CancellationToken::new())
            .await
            .map_err(|e| anyhow!(pick(e.explain_zh(), e.to_string())))?;
        (bound.app_id, bound.app_secret, bound.owner_openid)
    } else {
        let app_id = args.app_id.clone().expect("clap requires --app-id without --qr");
        let secret = read_secret(&pick("AppSecret：", "AppSecret: "), false)?.expect("required");
        (app_id, secret, None)
    };

    let environment = if args.sandbox { QqEnvironment::Sandbox } else { QqEnvironment::Production };
    // A live check: a token and the bot's own user, before anything is saved.
    let endpoints =
        qq_connection::endpoints(environment, args.api_base.as_deref(), args.token_url.as_deref());
    let me = qq_connection::rest_client(http, endpoints, &app_id, secret.clone())
        .me()
        .await
        .map_err(|e| anyhow!(pick(e.explain_zh(), e.to_string())))?;

    Secrets::default()
        .set(&SecretName::BotAppSecret(args.name.clone()), &secret)
        .map_err(|e| anyhow!(pick(e.explain_zh(), e.to_string())))?;
    config.bots.push(BotConfig {
        name: args.name.clone(),
        app_id: app_id.clone(),
        environment,
        api_base: args.api_base,
        token_url: args.token_url,
        intents: Default::default(),
        persona: args.persona.unwrap_or_default(),
        provider: args.provider,
        model: args.model,
        skills: Vec::new(),
        allowed_groups: Vec::new(),
        allowed_users: Vec::new(),
        owner: owner.clone(),
        daily_token_cap: None,
        daily_cost_cap: None,
        enabled: true,
    });
    save_config(&paths, &config)?;
    println!(
        "{}",
        pick(
            format!("已添加机器人 {}（AppID {app_id}，QQ 名称 {}）", args.name, me.username),
            format!("added bot {} (AppID {app_id}, QQ name {})", args.name, me.username)
        )
    );
    if owner.is_some() {
        println!(
            "{}",
            pick(
                "扫码的 QQ 用户已成为机器人的主人。",
                "The QQ user who scanned is the bot's owner."
            )
        );
    }
    if config.bots.len() > MAX_BOTS_PER_QQ_ACCOUNT {
        println!(
            "{}",
            pick(
                format!("注意：QQ 每个账号最多可创建 {MAX_BOTS_PER_QQ_ACCOUNT} 个机器人。"),
                format!("note: QQ allows {MAX_BOTS_PER_QQ_ACCOUNT} bots per account.")
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn show_progress(progress: BindProgress) {
    match progress {
        BindProgress::QrReady { qr_url, .. } => {
            print_qr(&qr_url);
            println!(
                "{}",
                pick(
                    "请用手机 QQ 扫描上方二维码绑定机器人。",
                    "Scan the QR code above with mobile QQ to bind a bot."
                )
            );
        }
        BindProgress::Scanned => {
            println!("{}", pick("已扫码，请在手机上确认。", "Scanned: confirm on the phone."))
        }
        BindProgress::Refreshed { qr_url, .. } => {
            println!(
                "{}",
                pick("二维码已过期，已自动刷新：", "The QR code expired and was refreshed:")
            );
            print_qr(&qr_url);
        }
        BindProgress::PollFailed { reason } => {
            eprintln!(
                "{}",
                pick(
                    format!("查询绑定结果失败，继续重试：{reason}"),
                    format!("polling failed, retrying: {reason}")
                )
            )
        }
        _ => {}
    }
}

fn print_qr(url: &str) {
    match qrcode::QrCode::new(url.as_bytes()) {
        Ok(code) => {
            let text = code
                .render::<qrcode::render::unicode::Dense1x2>()
                .dark_color(qrcode::render::unicode::Dense1x2::Light)
                .light_color(qrcode::render::unicode::Dense1x2::Dark)
                .quiet_zone(true)
                .build();
            println!("{text}");
        }
        Err(_) => println!("{url}"),
    }
    println!("{url}");
}

fn list(json: bool) -> anyhow::Result<ExitCode> {
    let paths = paths()?;
    let config = load_config(&paths)?;
    if json {
        let bots: Vec<_> = config
            .bots
            .iter()
            .map(|b| {
                serde_json::json!({
                    "name": b.name,
                    "app_id": b.app_id,
                    "environment": b.environment,
                    "provider": b.provider,
                    "model": b.model,
                    "owner": b.owner,
                    "enabled": b.enabled,
                    "skills": b.skills,
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "bots": bots }));
    } else if config.bots.is_empty() {
        println!(
            "{}",
            pick(
                "还没有机器人：运行 `pincer bot add NAME --qr` 添加。",
                "No bots yet: add one with `pincer bot add NAME --qr`."
            )
        );
    } else {
        for b in &config.bots {
            println!(
                "{}\t{}\t{}\t{}",
                b.name,
                b.app_id,
                b.provider.as_deref().unwrap_or("-"),
                if b.enabled { "enabled" } else { "disabled" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn remove(name: &str) -> anyhow::Result<ExitCode> {
    let paths = paths()?;
    let mut config = load_config(&paths)?;
    if config.bot(name).is_none() {
        bail!(pick(format!("没有名为 {name} 的机器人"), format!("there is no bot named {name}")));
    }
    config.bots.retain(|b| b.name != name);
    save_config(&paths, &config)?;
    Secrets::default()
        .delete(&SecretName::BotAppSecret(name.to_owned()))
        .map_err(|e| anyhow!(pick(e.explain_zh(), e.to_string())))?;
    println!("{}", pick(format!("已删除机器人 {name}"), format!("removed bot {name}")));
    Ok(ExitCode::SUCCESS)
}
