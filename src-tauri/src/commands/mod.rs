//! The commands the window calls, grouped by screen. Each is a short wrapper
//! over `pincer_runtime`: the shell holds no business logic.

pub mod dashboard;
pub mod settings;
pub mod skills;
pub mod wizard;

use pincer_runtime::config::{BotConfig, Config};
use pincer_runtime::error::UserError;
use serde::Serialize;
use tauri::{AppHandle, Emitter};

use crate::state::AppState;

/// A bot as the dashboard lists it (its live status comes separately).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BotSummary {
    name: String,
    app_id: String,
    enabled: bool,
    provider: Option<String>,
    model: Option<String>,
    persona: String,
    has_owner: bool,
    daily_token_cap: u64,
    daily_cost_cap: Option<f64>,
    currency: &'static str,
}

impl BotSummary {
    fn from_config(bot: &BotConfig, config: &Config) -> Self {
        let preset = bot
            .provider
            .as_deref()
            .and_then(|p| config.provider(p))
            .and_then(|p| p.preset.as_deref())
            .and_then(pincer_agent::provider::presets::preset);
        let currency = match preset.map(|p| p.price.currency) {
            Some(pincer_agent::provider::presets::Currency::Usd) => "USD",
            _ => "CNY",
        };
        Self {
            name: bot.name.clone(),
            app_id: bot.app_id.clone(),
            enabled: bot.enabled,
            provider: bot.provider.clone(),
            model: bot.model.clone(),
            persona: bot.persona.clone(),
            has_owner: bot.owner.is_some(),
            // 0: no cap (the dashboard then shows no gauge).
            daily_token_cap: bot.daily_token_cap.unwrap_or(0),
            daily_cost_cap: bot.daily_cost_cap,
            currency,
        }
    }
}

/// Runs file and keyring work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, UserError> + Send + 'static,
) -> Result<T, UserError> {
    tauri::async_runtime::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(UserError::new(format!("内部错误：{e}"), format!("internal error: {e}")))
    })
}

/// Applies the saved config to the running runtime and tells the window
/// and the tray.
pub async fn reload(app: &AppHandle, state: &AppState) -> Result<(), UserError> {
    let runtime = state.runtime().await?;
    runtime.reload_from_disk().await?;
    let _ = app.emit("overview-changed", ());
    crate::tray::refresh(app).await;
    Ok(())
}
