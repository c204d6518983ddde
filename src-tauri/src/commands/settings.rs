//! Settings: language, autostart, close-to-tray, export.

use pincer_runtime::config::Language;
use pincer_runtime::error::UserError;
use pincer_runtime::setup;
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};
use tauri_plugin_autostart::ManagerExt;
use tauri_plugin_opener::OpenerExt;

use super::blocking;
use crate::state::AppState;

/// The settings page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    language: Language,
    autostart: bool,
    close_to_tray: bool,
    data_dir: String,
}

fn current(app: &AppHandle, state: &AppState) -> Result<Settings, UserError> {
    let config = setup::load(&state.paths)?;
    Ok(Settings {
        language: config.settings.language,
        // The OS is the truth for autostart (the user may change it there).
        autostart: app.autolaunch().is_enabled().unwrap_or(config.settings.autostart),
        close_to_tray: config.settings.close_to_tray,
        data_dir: state.paths.data_dir.display().to_string(),
    })
}

/// The `get_settings` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn get_settings(
    app: AppHandle,
    state: State<'_, AppState>,
) -> Result<Settings, UserError> {
    current(&app, &state)
}

/// The `set_settings` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn set_settings(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: Settings,
) -> Result<Settings, UserError> {
    let launcher = app.autolaunch();
    let os_result = if settings.autostart { launcher.enable() } else { launcher.disable() };
    if let Err(e) = os_result {
        return Err(UserError::new(
            format!("无法更改开机启动：{e}"),
            format!("cannot change start-at-login: {e}"),
        ));
    }
    let paths = state.paths.clone();
    let s = settings.clone();
    blocking(move || {
        let mut config = setup::load(&paths)?;
        config.settings.language = s.language;
        config.settings.autostart = s.autostart;
        config.settings.close_to_tray = s.close_to_tray;
        Ok(config.save(&paths.config_file())?)
    })
    .await?;
    crate::tray::refresh(&app).await;
    current(&app, &state)
}

/// The `export_config` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn export_config(state: State<'_, AppState>) -> Result<String, UserError> {
    let paths = state.paths.clone();
    blocking(move || setup::export_config(&paths)).await
}

/// Opens a web page in the user's browser (https only: the QQ Open Platform,
/// a provider's sign-up page).
#[tauri::command]
pub fn open_url(app: AppHandle, url: String) -> Result<(), UserError> {
    if !url.starts_with("https://") {
        return Err(UserError::new("只能打开 https 网址。", "only https addresses can be opened"));
    }
    app.opener().open_url(url, None::<&str>).map_err(|e| {
        UserError::new(format!("无法打开浏览器：{e}"), format!("cannot open the browser: {e}"))
    })
}
