//! `pincer provider …`

use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Subcommand, ValueEnum};
use pincer_agent::provider::presets;
use pincer_runtime::config::{Config, ProviderConfig, ProviderKind};
use pincer_runtime::secrets::{SecretName, Secrets};

use crate::bot::{load_config, paths, read_secret, save_config};
use crate::lang::pick;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Openai,
    Anthropic,
}

/// `pincer provider` subcommands.
#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Add (or replace) a model provider; the API key is read from stdin
    /// (prompted on a terminal) and stored in the OS keyring.
    Add {
        /// Pincer's id for this provider, used by `pincer bot add --provider`.
        id: String,
        /// Wire format.
        #[arg(long, value_enum)]
        kind: Kind,
        /// A preset: deepseek, qwen, hunyuan, kimi, glm, doubao, siliconflow,
        /// openrouter, openai, minimax, anthropic, ollama, lmstudio.
        #[arg(long)]
        preset: Option<String>,
        /// API base URL (default: the preset's).
        #[arg(long)]
        base_url: Option<String>,
        /// Default model (default: the preset's).
        #[arg(long)]
        model: Option<String>,
    },
}

pub async fn run(cmd: ProviderCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ProviderCommand::Add { id, kind, preset, base_url, model } => {
            let preset = match preset.as_deref() {
                Some(name) => Some(presets::preset(name).with_context(|| {
                    pick(
                        format!("没有名为 `{name}` 的预设；可用：{}", preset_ids()),
                        format!("there is no preset `{name}`; known presets: {}", preset_ids()),
                    )
                })?),
                None => None,
            };
            let base_url =
                base_url.or_else(|| preset.map(|p| p.base_url.to_owned())).with_context(|| {
                    pick("请用 --base-url 或 --preset 指定地址", "give --base-url or --preset")
                })?;
            let model = model.or_else(|| preset.map(|p| p.default_model.to_owned())).with_context(
                || pick("请用 --model 或 --preset 指定模型", "give --model or --preset"),
            )?;
            if url_parse(&base_url).is_none() {
                bail!(pick(
                    format!("`{base_url}` 不是有效的网址"),
                    format!("`{base_url}` is not a valid URL")
                ));
            }
            let needs_key = preset.map(|p| p.needs_key).unwrap_or(true);
            let key = read_secret(
                &pick(format!("{id} 的 API Key："), format!("API key for {id}: ")),
                !needs_key,
            )?;
            let paths = paths()?;
            let mut config: Config = load_config(&paths)?;
            if let Some(key) = &key {
                Secrets::default()
                    .set(&SecretName::ProviderApiKey(id.clone()), key)
                    .map_err(|e| anyhow::anyhow!(pick(e.explain_zh(), e.to_string())))?;
            }
            config.providers.retain(|p| p.id != id);
            config.providers.push(ProviderConfig {
                id: id.clone(),
                kind: match kind {
                    Kind::Openai => ProviderKind::OpenAi,
                    Kind::Anthropic => ProviderKind::Anthropic,
                },
                preset: preset.map(|p| p.id.to_owned()),
                base_url,
                model,
            });
            save_config(&paths, &config)?;
            println!("{}", pick(format!("已添加模型服务 {id}"), format!("added provider {id}")));
            crate::daemon::notify_reload().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn preset_ids() -> String {
    presets::PRESETS.iter().map(|p| p.id).collect::<Vec<_>>().join(", ")
}

fn url_parse(s: &str) -> Option<()> {
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"))?;
    (!rest.is_empty()).then_some(())
}
