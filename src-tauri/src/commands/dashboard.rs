//! The dashboard: bots and their live status, conversations, the test chat.

use pincer_agent::store::TurnRole;
use pincer_runtime::error::UserError;
use pincer_runtime::setup;
use pincer_runtime::supervisor::BotStatus;
use serde::Serialize;
use tauri::{AppHandle, State};

use super::{blocking, reload, BotSummary};
use crate::state::AppState;

/// Every bot and its status.
#[derive(Debug, Serialize)]
pub struct Overview {
    bots: Vec<BotSummary>,
    status: Vec<BotStatus>,
}

/// The `overview` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn overview(state: State<'_, AppState>) -> Result<Overview, UserError> {
    let config = setup::load(&state.paths)?;
    let status = state.runtime().await?.status().await;
    Ok(Overview {
        bots: config.bots.iter().map(|b| BotSummary::from_config(b, &config)).collect(),
        status,
    })
}

/// The `pause_bot` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn pause_bot(
    app: AppHandle,
    state: State<'_, AppState>,
    name: String,
) -> Result<(), UserError> {
    state.runtime().await?.pause(&name).await;
    crate::tray::refresh(&app).await;
    Ok(())
}

/// The `resume_bot` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn resume_bot(
    app: AppHandle,
    state: State<'_, AppState>,
    name: String,
) -> Result<(), UserError> {
    state.runtime().await?.resume(&name).await;
    crate::tray::refresh(&app).await;
    Ok(())
}

/// The `edit_bot` command (the contract is `ui/src/api.ts`): the persona and
/// daily caps, applied to the running bot at once.
#[tauri::command]
pub async fn edit_bot(
    app: AppHandle,
    state: State<'_, AppState>,
    name: String,
    edit: setup::BotEdit,
) -> Result<BotSummary, UserError> {
    let paths = state.paths.clone();
    let bot = blocking(move || setup::edit_bot(&paths, &name, &edit)).await?;
    reload(&app, &state).await?;
    let config = setup::load(&state.paths)?;
    Ok(BotSummary::from_config(&bot, &config))
}

/// The `remove_bot` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn remove_bot(
    app: AppHandle,
    state: State<'_, AppState>,
    name: String,
) -> Result<(), UserError> {
    let (paths, secrets) = (state.paths.clone(), state.secrets.clone());
    blocking(move || setup::remove_bot(&paths, &secrets, &name)).await?;
    reload(&app, &state).await
}

/// A conversation in the list.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    id: String,
    scene: String,
    peer: String,
    last_text: String,
    last_at: i64,
    turns: u64,
}

/// The `conversations` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn conversations(
    state: State<'_, AppState>,
    bot: String,
) -> Result<Vec<Conversation>, UserError> {
    let list = state.runtime().await?.conversations(&bot).await?;
    Ok(list
        .into_iter()
        .map(|c| {
            let (scene, peer) = c.conversation.split_once(':').unwrap_or(("c2c", &c.conversation));
            let test = peer == pincer_runtime::channel::TEST_CHAT_USER;
            Conversation {
                scene: if test { "test".into() } else { scene.to_owned() },
                peer: peer.to_owned(),
                id: c.conversation.clone(),
                last_text: c.last_text,
                last_at: c.last_at,
                turns: c.turns,
            }
        })
        .collect())
}

/// One turn of a transcript.
#[derive(Debug, Serialize)]
pub struct Turn {
    role: &'static str,
    sender: Option<String>,
    content: String,
    at: i64,
}

/// The `transcript` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn transcript(
    state: State<'_, AppState>,
    bot: String,
    conversation: String,
) -> Result<Vec<Turn>, UserError> {
    let turns = state.runtime().await?.transcript(&bot, &conversation).await?;
    Ok(turns
        .into_iter()
        .map(|t| Turn {
            role: match t.role {
                TurnRole::Assistant => "assistant",
                _ => "user",
            },
            sender: t.sender,
            content: t.content,
            at: t.created_at,
        })
        .collect())
}

/// The `test_chat` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn test_chat(
    state: State<'_, AppState>,
    bot: String,
    text: String,
) -> Result<String, UserError> {
    state.runtime().await?.test_chat(&bot, &text).await
}
