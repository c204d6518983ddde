//! The setup wizard: connect QQ (QR or AppID), name the bot, choose its
//! model, pick its skills, finish.

use pincer_qq::bind::{BindClient, BindProgress};
use pincer_runtime::config::QqEnvironment;
use pincer_runtime::error::UserError;
use pincer_runtime::secrets::Secret;
use pincer_runtime::setup::{self, DraftBot, PersonaView, PresetView, ProviderChoice};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, State};
use tokio_util::sync::CancellationToken;

use super::{blocking, reload, BotSummary};
use crate::state::{AppState, WizardProgress};

/// What the app shows first.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    version: &'static str,
    locale: &'static str,
    wizard: Option<WizardProgress>,
    bot_count: usize,
    data_dir: String,
}

/// The `app_info` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn app_info(state: State<'_, AppState>) -> Result<AppInfo, UserError> {
    let config = setup::load(&state.paths)?;
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        locale: state.locale(),
        wizard: state.wizard(),
        bot_count: config.bots.len(),
        data_dir: state.paths.data_dir.display().to_string(),
    })
}

/// The `save_wizard` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn save_wizard(
    state: State<'_, AppState>,
    progress: Option<WizardProgress>,
) -> Result<(), UserError> {
    state.save_wizard(progress.as_ref())
}

/// `bind-progress` events, as the UI reads them.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
enum BindEvent {
    Qr {
        #[serde(rename = "qrUrl")]
        qr_url: String,
    },
    Scanned,
    Refreshed {
        #[serde(rename = "qrUrl")]
        qr_url: String,
    },
    PollFailed {
        error: UserError,
    },
    Checking,
    Done {
        bot: DraftBot,
    },
    Failed {
        error: UserError,
    },
    Cancelled,
}

fn emit_bind(app: &AppHandle, event: BindEvent) {
    if let Err(e) = app.emit("bind-progress", event) {
        tracing::warn!(error = %e, "cannot send bind progress to the window");
    }
}

/// Starts the QR binding (spec §12); progress arrives as `bind-progress`
/// events. A binding already running is cancelled first.
#[tauri::command]
pub async fn bind_start(app: AppHandle, state: State<'_, AppState>) -> Result<(), UserError> {
    let cancel = CancellationToken::new();
    if let Some(old) = state.bind.lock().expect("bind lock").replace(cancel.clone()) {
        old.cancel();
    }
    let client = BindClient::new(state.http.clone(), state.hosts.bind_base().to_owned());
    let app2 = app.clone();
    tauri::async_runtime::spawn(async move {
        let progress = |p: BindProgress| {
            let event = match p {
                BindProgress::QrReady { qr_url, .. } => BindEvent::Qr { qr_url },
                BindProgress::Scanned => BindEvent::Scanned,
                BindProgress::Refreshed { qr_url, .. } => BindEvent::Refreshed { qr_url },
                BindProgress::PollFailed { reason } => BindEvent::PollFailed {
                    error: UserError::new(
                        format!("查询扫码结果失败，正在重试：{reason}"),
                        format!("checking the scan failed, retrying: {reason}"),
                    ),
                },
                _ => return,
            };
            emit_bind(&app2, event);
        };
        let bound = client.bind(progress, cancel.clone()).await;
        let state = app.state::<AppState>();
        let event = match bound {
            Err(pincer_qq::bind::BindError::Cancelled) => BindEvent::Cancelled,
            Err(e) => BindEvent::Failed { error: e.into() },
            Ok(bound) => {
                emit_bind(&app, BindEvent::Checking);
                match connect(
                    &state,
                    QqEnvironment::Production,
                    &bound.app_id,
                    bound.app_secret,
                    bound.owner_openid,
                )
                .await
                {
                    Ok(bot) => BindEvent::Done { bot },
                    Err(error) => BindEvent::Failed { error },
                }
            }
        };
        emit_bind(&app, event);
    });
    Ok(())
}

/// The `bind_cancel` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn bind_cancel(state: State<'_, AppState>) -> Result<(), UserError> {
    if let Some(cancel) = state.bind.lock().expect("bind lock").take() {
        cancel.cancel();
    }
    Ok(())
}

/// Checks the credentials live, then saves the draft bot.
async fn connect(
    state: &AppState,
    environment: QqEnvironment,
    app_id: &str,
    secret: Secret,
    owner: Option<String>,
) -> Result<DraftBot, UserError> {
    let qq_name = setup::check_credentials(
        state.http.clone(),
        &state.hosts,
        environment,
        app_id,
        secret.clone(),
    )
    .await?;
    let (paths, secrets, hosts) = (state.paths.clone(), state.secrets.clone(), state.hosts.clone());
    let app_id = app_id.trim().to_owned();
    blocking(move || {
        setup::save_draft(&paths, &secrets, &hosts, environment, &qq_name, &app_id, &secret, owner)
    })
    .await
}

/// The `connect_manual` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn connect_manual(
    state: State<'_, AppState>,
    app_id: String,
    app_secret: Secret,
    sandbox: bool,
) -> Result<DraftBot, UserError> {
    if app_secret.expose().trim().is_empty() {
        return Err(UserError::new("请填写 AppSecret。", "enter the AppSecret"));
    }
    let secret = Secret::new(app_secret.expose().trim());
    let environment = if sandbox { QqEnvironment::Sandbox } else { QqEnvironment::Production };
    connect(&state, environment, &app_id, secret, None).await
}

/// The `persona_templates` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub fn persona_templates() -> Vec<PersonaView> {
    setup::persona_templates()
}

/// The `create_bot` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn create_bot(
    state: State<'_, AppState>,
    draft: String,
    name: String,
    persona: String,
) -> Result<BotSummary, UserError> {
    let (paths, secrets) = (state.paths.clone(), state.secrets.clone());
    let bot = blocking(move || setup::name_bot(&paths, &secrets, &draft, &name, &persona)).await?;
    Ok(BotSummary::from_config(&bot, &setup::load(&state.paths)?))
}

/// The `provider_presets` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn provider_presets(state: State<'_, AppState>) -> Result<Vec<PresetView>, UserError> {
    let secrets = state.secrets.clone();
    blocking(move || Ok(setup::provider_presets(&secrets))).await
}

/// The `detect_local` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn detect_local() -> Vec<setup::LocalView> {
    setup::detect_local().await
}

/// The `test_provider` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn test_provider(
    state: State<'_, AppState>,
    choice: ProviderChoice,
) -> Result<setup::ProviderTestResult, UserError> {
    setup::test_provider(&state.secrets, &choice).await
}

/// The `save_provider` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn save_provider(
    app: AppHandle,
    state: State<'_, AppState>,
    bot: String,
    choice: ProviderChoice,
) -> Result<(), UserError> {
    let (paths, secrets) = (state.paths.clone(), state.secrets.clone());
    blocking(move || setup::save_provider(&paths, &secrets, &bot, &choice)).await?;
    reload(&app, &state).await
}

/// The `finish_wizard` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn finish_wizard(
    app: AppHandle,
    state: State<'_, AppState>,
    bot: String,
) -> Result<(), UserError> {
    let paths = state.paths.clone();
    let name = bot.clone();
    blocking(move || setup::finish(&paths, &name)).await?;
    state.save_wizard(None)?;
    *state.tray_bot.lock().expect("tray lock") = Some(bot);
    reload(&app, &state).await
}
