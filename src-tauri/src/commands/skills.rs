//! Skills: the bot's list, toggles (shared with the tray), keys, and the
//! community registry.

use pincer_runtime::error::UserError;
use pincer_runtime::secrets::Secret;
use pincer_runtime::setup::{self, CommunitySkill, InstallOutcome, SkillView};
use tauri::{AppHandle, Emitter, Manager, State};

use super::blocking;
use crate::state::AppState;

/// The `list_skills` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn list_skills(
    state: State<'_, AppState>,
    bot: String,
) -> Result<Vec<SkillView>, UserError> {
    let (paths, secrets) = (state.paths.clone(), state.secrets.clone());
    blocking(move || setup::skill_views(&paths, &secrets, &bot)).await
}

/// Turns a skill on or off and applies it live: the window's command and the
/// tray's check items both come here.
pub async fn toggle(app: &AppHandle, bot: &str, skill: &str, on: bool) -> Result<(), UserError> {
    let state = app.state::<AppState>();
    let (paths, b, s) = (state.paths.clone(), bot.to_owned(), skill.to_owned());
    let changed = blocking(move || setup::set_skill_enabled(&paths, &b, &s, on)).await?;
    if changed {
        if let Some(runtime) = state.runtime_if_started() {
            runtime.reload_from_disk().await?;
        }
        let _ = app.emit("skills-changed", serde_json::json!({ "bot": bot }));
        crate::tray::refresh(app).await;
    }
    Ok(())
}

/// The `set_skill_enabled` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn set_skill_enabled(
    app: AppHandle,
    state: State<'_, AppState>,
    bot: String,
    skill: String,
    enabled: bool,
) -> Result<Vec<SkillView>, UserError> {
    toggle(&app, &bot, &skill, enabled).await?;
    let (paths, secrets) = (state.paths.clone(), state.secrets.clone());
    blocking(move || setup::skill_views(&paths, &secrets, &bot)).await
}

/// The `set_skill_key` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn set_skill_key(
    app: AppHandle,
    state: State<'_, AppState>,
    skill: String,
    name: String,
    value: Secret,
) -> Result<(), UserError> {
    let secrets = state.secrets.clone();
    blocking(move || setup::set_skill_key(&secrets, &skill, &name, &value)).await?;
    // A key can make a skill eligible: recompute every bot's skills.
    if let Some(runtime) = state.runtime_if_started() {
        runtime.reload_from_disk().await?;
    }
    let _ = app.emit("overview-changed", ());
    Ok(())
}

/// The `search_skills` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn search_skills(
    state: State<'_, AppState>,
    query: String,
) -> Result<Vec<CommunitySkill>, UserError> {
    setup::search_skills(&state.paths, &query).await
}

/// The `install_skill` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn install_skill(
    app: AppHandle,
    state: State<'_, AppState>,
    slug: String,
) -> Result<InstallOutcome, UserError> {
    let _ = app.emit(
        "install-progress",
        serde_json::json!({ "slug": slug, "stage": "downloading", "verdict": null, "findings": [], "error": null }),
    );
    let outcome = setup::install_skill(&state.paths, &slug).await;
    let _ = app.emit("install-progress", &outcome);
    Ok(outcome)
}
