//! `pincer init`: the terminal twin of the desktop wizard. Four steps:
//! connect QQ (QR code or AppID + AppSecret), name and persona, model (a
//! preset or a local server, with a real test completion), skills (the
//! bundled ones on). Asks for what is missing on a terminal; with flags and
//! secrets on stdin (one per line: the AppSecret unless `--qr`, then the API
//! key unless the service needs none) it runs without one. Nothing is saved until every step passed.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use pincer_agent::context::PersonaTemplate;
use pincer_agent::provider::{check, detect, presets, ApiKey};
use pincer_qq::bind::BindClient;
use pincer_runtime::config::{BotConfig, ProviderConfig, ProviderKind, QqEnvironment};
use pincer_runtime::qq_connection;
use pincer_runtime::secrets::{Secret, SecretName, Secrets};
use tokio_util::sync::CancellationToken;

use crate::bot::{load_config, paths, save_config};
use crate::lang::{chinese, pick};

/// The production host of QQ's one-click binding.
const DEFAULT_BIND_BASE: &str = "https://q.qq.com";

/// `pincer init` arguments; any left out are asked for on a terminal.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Step 1: bind a bot by scanning a QR code with mobile QQ.
    #[arg(long, conflicts_with = "app_id")]
    qr: bool,
    /// Step 1: the bot's AppID (the AppSecret is read from stdin).
    #[arg(long)]
    app_id: Option<String>,
    /// Replaces https://q.qq.com for the binding endpoints.
    #[arg(long)]
    bind_base: Option<String>,
    /// Use QQ's sandbox environment.
    #[arg(long)]
    sandbox: bool,
    /// Replaces the QQ REST base.
    #[arg(long)]
    api_base: Option<String>,
    /// Replaces the QQ token endpoint.
    #[arg(long)]
    token_url: Option<String>,
    /// Step 2: the bot's name in Pincer.
    #[arg(long)]
    name: Option<String>,
    /// Step 2: assistant, group_helper, translator or study_buddy.
    #[arg(long)]
    persona_template: Option<String>,
    /// Step 3: a model preset (deepseek, qwen, kimi, glm, ollama, …).
    #[arg(long)]
    preset: Option<String>,
    /// Step 3: the API base URL (default: the preset's).
    #[arg(long)]
    base_url: Option<String>,
    /// Step 3: the model (default: the preset's).
    #[arg(long)]
    model: Option<String>,
    /// Step 4: leave the bundled skills off.
    #[arg(long)]
    no_skills: bool,
}

/// Answers from the terminal, or lines from stdin when there is none.
struct Input {
    tty: bool,
    lines: std::io::Lines<std::io::StdinLock<'static>>,
}

impl Input {
    fn new() -> Self {
        Self { tty: std::io::stdin().is_terminal(), lines: std::io::stdin().lock().lines() }
    }

    /// Asks on a terminal; without one, `missing` is the error.
    fn ask(&mut self, prompt: &str, missing: String) -> anyhow::Result<String> {
        if !self.tty {
            bail!(missing);
        }
        print!("{prompt}");
        std::io::stdout().flush()?;
        let line = self.lines.next().transpose()?.unwrap_or_default();
        Ok(line.trim().to_owned())
    }

    /// A secret: prompted without echo, or the next stdin line.
    fn secret(&mut self, prompt: &str) -> anyhow::Result<Option<Secret>> {
        let value = if self.tty {
            rpassword::prompt_password(prompt).context("cannot read from the terminal")?
        } else {
            self.lines.next().transpose()?.unwrap_or_default()
        };
        let value = value.trim().to_owned();
        Ok((!value.is_empty()).then(|| Secret::new(value)))
    }
}

fn step(n: u8, zh: &str, en: &str) {
    println!("\n[{n}/4] {}", pick(zh, en));
}

pub async fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    let paths = paths()?;
    let mut config = load_config(&paths)?;
    let mut input = Input::new();
    let http = reqwest::Client::new();

    // 1. QQ.
    step(1, "连接 QQ 机器人", "Connect a QQ bot");
    let qr = args.qr
        || (args.app_id.is_none()
            && input.tty
            && input
                .ask(
                    &pick(
                        "扫码绑定（推荐）还是输入 AppID？[扫码/appid] ",
                        "Bind by QR code (recommended) or enter an AppID? [qr/appid] ",
                    ),
                    String::new(),
                )?
                .to_lowercase()
                .starts_with(['q', '扫']));
    let (app_id, secret, owner) = if qr {
        let base = args.bind_base.clone().unwrap_or_else(|| DEFAULT_BIND_BASE.to_owned());
        let bound = BindClient::new(http.clone(), base)
            .bind(crate::bot::show_progress, CancellationToken::new())
            .await
            .map_err(|e| anyhow!(pick(e.explain_zh(), e.to_string())))?;
        (bound.app_id, bound.app_secret, bound.owner_openid)
    } else {
        let app_id = match args.app_id.clone() {
            Some(a) => a,
            None => input
                .ask("AppID: ", pick("请用 --qr 或 --app-id 连接 QQ", "give --qr or --app-id"))?,
        };
        let secret = input.secret(&pick("AppSecret：", "AppSecret: "))?.ok_or_else(|| {
            anyhow!(pick(
                "没有读到 AppSecret：请在标准输入的第一行提供",
                "no AppSecret: give it on the first line of stdin"
            ))
        })?;
        (app_id, secret, None)
    };
    let environment = if args.sandbox { QqEnvironment::Sandbox } else { QqEnvironment::Production };
    let endpoints =
        qq_connection::endpoints(environment, args.api_base.as_deref(), args.token_url.as_deref());
    let me = qq_connection::rest_client(http.clone(), endpoints, &app_id, secret.clone())
        .me()
        .await
        .map_err(|e| anyhow!(pick(e.explain_zh(), e.to_string())))?;
    println!(
        "{}",
        pick(format!("✓ 已连接：{}", me.username), format!("✓ connected: {}", me.username))
    );

    // 2. Name and persona.
    step(2, "名字和人设", "Name and persona");
    let name = match args.name.clone() {
        Some(n) => n,
        None => input.ask(
            &pick("机器人名字：", "Bot name: "),
            pick("请用 --name 指定名字", "give --name"),
        )?,
    };
    if name.is_empty() || config.bot(&name).is_some() {
        bail!(pick(
            format!("名字 `{name}` 不可用（为空或已存在）：换一个名字"),
            format!("the name `{name}` is empty or taken: pick another")
        ));
    }
    let template = match args.persona_template.clone() {
        Some(t) => t,
        None if input.tty => {
            for (i, t) in PersonaTemplate::ALL.iter().enumerate() {
                println!("  {}. {}", i + 1, if chinese() { t.name_zh() } else { t.name_en() });
            }
            let answer = input.ask(&pick("选择人设 [1]：", "Persona [1]: "), String::new())?;
            let i = answer.parse::<usize>().unwrap_or(1).clamp(1, PersonaTemplate::ALL.len());
            template_id(PersonaTemplate::ALL[i - 1])
        }
        None => "assistant".to_owned(),
    };
    let template: PersonaTemplate =
        serde_json::from_value(serde_json::Value::String(template.clone())).map_err(|_| {
            anyhow!(pick(
                format!("没有人设模板 `{template}`；可用：{}", template_ids()),
                format!("there is no persona template `{template}`; known: {}", template_ids())
            ))
        })?;

    // 3. Model.
    step(3, "选择模型", "Choose a model");
    let preset_id = match args.preset.clone() {
        Some(p) => Some(p),
        None if args.base_url.is_some() => None,
        None if input.tty => Some(ask_preset(&mut input).await?),
        None => {
            bail!(pick("请用 --preset 或 --base-url 指定模型服务", "give --preset or --base-url"))
        }
    };
    let preset = match preset_id.as_deref() {
        Some(id) => Some(presets::preset(id).ok_or_else(|| {
            anyhow!(pick(
                format!("没有名为 `{id}` 的预设；可用：{}", preset_ids()),
                format!("there is no preset `{id}`; known presets: {}", preset_ids())
            ))
        })?),
        None => None,
    };
    let provider = ProviderConfig {
        id: preset.map(|p| p.id.to_owned()).unwrap_or_else(|| "custom".to_owned()),
        kind: match preset.map(|p| p.kind) {
            Some(presets::ProviderKind::Anthropic) => ProviderKind::Anthropic,
            _ => ProviderKind::OpenAi,
        },
        preset: preset.map(|p| p.id.to_owned()),
        base_url: args
            .base_url
            .clone()
            .or_else(|| preset.map(|p| p.base_url.to_owned()))
            .expect("a preset or --base-url"),
        model: args
            .model
            .clone()
            .or_else(|| preset.map(|p| p.default_model.to_owned()))
            .ok_or_else(|| anyhow!(pick("请用 --model 指定模型", "give --model")))?,
    };
    let needs_key = preset.map(|p| p.needs_key).unwrap_or(true);
    let key = if needs_key {
        let key = input.secret(&pick(
            format!("{} 的 API Key：", provider.id),
            format!("API key for {}: ", provider.id),
        ))?;
        Some(key.ok_or_else(|| {
            anyhow!(pick(
                "没有读到 API Key：请在标准输入的第二行提供",
                "no API key: give it on the second line of stdin"
            ))
        })?)
    } else {
        None
    };
    let agent =
        crate::doctor::agent_provider(&provider, key.as_ref().map(|k| ApiKey::new(k.expose())));
    match check::test_config(&agent).await {
        Ok(ok) => println!(
            "{}",
            pick(
                format!("✓ {} 已应答（{} ms）", ok.model, ok.latency.as_millis()),
                format!("✓ {} answered in {} ms", ok.model, ok.latency.as_millis())
            )
        ),
        Err(e) => bail!(pick(
            format!("测试对话失败：{}。什么都没有保存。", e.message_zh()),
            format!("the test completion failed: {}. Nothing was saved.", e.message_en())
        )),
    }

    // 4. Skills.
    step(4, "技能", "Skills");
    // An empty list means "the bundled defaults" (new bundled skills come
    // on with updates); `!none` means none.
    let (skills, shown): (Vec<String>, Vec<String>) = if args.no_skills {
        (vec!["!none".into()], Vec::new())
    } else {
        (Vec::new(), pincer_skills::bundled::default_enabled().into_iter().collect())
    };
    println!(
        "{}",
        pick(
            format!(
                "已启用内置技能：{}",
                if shown.is_empty() { "无".into() } else { shown.join("、") }
            ),
            format!(
                "bundled skills on: {}",
                if shown.is_empty() { "none".into() } else { shown.join(", ") }
            )
        )
    );
    println!(
        "{}",
        pick(
            "用 `pincer skills enable|disable NAME --bot NAME` 调整。",
            "change them with `pincer skills enable|disable NAME --bot NAME`."
        )
    );

    // Save: secrets to the keyring, the rest to config.toml.
    let secrets = Secrets::default();
    let keyring =
        |e: pincer_runtime::secrets::SecretError| anyhow!(pick(e.explain_zh(), e.to_string()));
    secrets.set(&SecretName::BotAppSecret(name.clone()), &secret).map_err(keyring)?;
    if let Some(key) = &key {
        secrets.set(&SecretName::ProviderApiKey(provider.id.clone()), key).map_err(keyring)?;
    }
    let provider_id = provider.id.clone();
    config.providers.retain(|p| p.id != provider_id);
    config.providers.push(provider);
    config.bots.push(BotConfig {
        name: name.clone(),
        app_id: app_id.clone(),
        environment,
        api_base: args.api_base,
        token_url: args.token_url,
        intents: Default::default(),
        persona: template.system_prompt().to_owned(),
        provider: Some(provider_id),
        model: None,
        skills,
        allowed_groups: Vec::new(),
        allowed_users: Vec::new(),
        owner,
        daily_token_cap: None,
        daily_cost_cap: None,
        enabled: true,
    });
    save_config(&paths, &config)?;
    println!(
        "\n{}",
        pick(
            format!("完成：机器人 {name}（AppID {app_id}）已保存。运行 `pincer run` 启动，`pincer doctor` 检查。"),
            format!("Done: bot {name} (AppID {app_id}) saved. Start it with `pincer run`; check with `pincer doctor`.")
        )
    );
    crate::daemon::notify_reload().await;
    Ok(ExitCode::SUCCESS)
}

fn template_id(t: PersonaTemplate) -> String {
    serde_json::to_value(t).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn template_ids() -> String {
    PersonaTemplate::ALL.iter().map(|t| template_id(*t)).collect::<Vec<_>>().join(", ")
}

fn preset_ids() -> String {
    presets::PRESETS.iter().map(|p| p.id).collect::<Vec<_>>().join(", ")
}

/// Lists local model servers found running, then every preset; returns the chosen id.
async fn ask_preset(input: &mut Input) -> anyhow::Result<String> {
    let local = detect::detect_local(&detect::DetectTargets {
        timeout: Duration::from_millis(800),
        ..Default::default()
    })
    .await;
    for server in &local {
        println!(
            "{}",
            pick(
                format!(
                    "发现本机模型服务：{}（{} 个模型）",
                    server.kind.preset_id(),
                    server.models.len()
                ),
                format!(
                    "found a local model server: {} ({} models)",
                    server.kind.preset_id(),
                    server.models.len()
                )
            )
        );
    }
    let ids: Vec<&str> = presets::PRESETS.iter().map(|p| p.id).collect();
    for (i, p) in presets::PRESETS.iter().enumerate() {
        println!("  {}. {}", i + 1, p.name(if chinese() { "zh" } else { "en" }));
    }
    let default = local.first().map(|s| s.kind.preset_id()).unwrap_or(ids[0]);
    let answer = input.ask(
        &pick(format!("选择模型服务 [{default}]："), format!("Model service [{default}]: ")),
        String::new(),
    )?;
    if answer.is_empty() {
        return Ok(default.to_owned());
    }
    Ok(match answer.parse::<usize>() {
        Ok(i) if (1..=ids.len()).contains(&i) => ids[i - 1].to_owned(),
        _ => answer,
    })
}
