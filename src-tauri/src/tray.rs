//! The tray icon: its colour follows the worst bot state; its menu has a line
//! per bot, the skills of one bot as check items, pause/resume all, open and
//! quit. The menu is rendered from a [`TrayModel`], which the `tray_state`
//! command also returns (the end-to-end test reads it), and every menu item
//! goes through [`act`], which the `tray_action` command calls too.

use pincer_runtime::error::UserError;
use pincer_runtime::setup;
use serde::Serialize;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Wry};

use crate::state::AppState;

const TRAY_ID: &str = "main";

/// The overall state the icon shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Light {
    /// Every running bot is connected.
    Green,
    /// No bot runs (none yet, or all paused).
    Grey,
    /// A bot is connecting.
    Amber,
    /// A bot is disconnected or stopped for good.
    Red,
}

/// One bot's line.
#[derive(Debug, Clone, Serialize)]
pub struct BotLine {
    name: String,
    state: String,
    light: Light,
}

/// One skill's check item.
#[derive(Debug, Clone, Serialize)]
pub struct SkillItem {
    id: String,
    name: String,
    checked: bool,
    available: bool,
}

/// What the tray shows.
#[derive(Debug, Clone, Serialize)]
pub struct TrayModel {
    light: Light,
    bots: Vec<BotLine>,
    /// The bot whose skills are listed.
    skills_bot: Option<String>,
    skills: Vec<SkillItem>,
    zh: bool,
}

fn light_of(state: &str) -> Light {
    match state {
        "ready" => Light::Green,
        "paused" | "stopped" => Light::Grey,
        "connecting" | "identifying" | "resuming" => Light::Amber,
        _ => Light::Red,
    }
}

fn state_words(state: &str, zh: bool) -> &'static str {
    match (state, zh) {
        ("ready", true) => "在线",
        ("ready", false) => "online",
        ("paused", true) => "已暂停",
        ("paused", false) => "paused",
        ("connecting" | "identifying" | "resuming", true) => "连接中",
        ("connecting" | "identifying" | "resuming", false) => "connecting",
        ("reconnecting", true) => "重连中",
        ("reconnecting", false) => "reconnecting",
        ("fatal", true) => "已停止（需处理）",
        ("fatal", false) => "stopped (needs attention)",
        (_, true) => "已停止",
        (_, false) => "stopped",
    }
}

/// Computes what the tray shows now.
pub async fn model(app: &AppHandle) -> Result<TrayModel, UserError> {
    let state = app.state::<AppState>();
    let zh = state.locale() == "zh-CN";
    let config = setup::load(&state.paths)?;
    let status = match state.runtime_if_started() {
        Some(rt) => rt.status().await,
        None => Vec::new(),
    };
    let bots: Vec<BotLine> = config
        .bots
        .iter()
        .filter(|b| b.enabled)
        .map(|b| {
            let s =
                status.iter().find(|s| s.name == b.name).map(|s| s.state).unwrap_or("connecting");
            BotLine {
                name: b.name.clone(),
                state: state_words(s, zh).to_owned(),
                light: light_of(s),
            }
        })
        .collect();
    let light = if bots.iter().all(|b| b.light == Light::Grey) {
        Light::Grey
    } else {
        bots.iter().map(|b| b.light).filter(|l| *l != Light::Grey).max().unwrap_or(Light::Grey)
    };
    let skills_bot = {
        let chosen = state.tray_bot.lock().expect("tray lock").clone();
        chosen.filter(|c| config.bot(c).is_some()).or_else(|| bots.first().map(|b| b.name.clone()))
    };
    let skills = match &skills_bot {
        Some(bot) => {
            let (paths, secrets, bot2) = (state.paths.clone(), state.secrets.clone(), bot.clone());
            let views = tauri::async_runtime::spawn_blocking(move || {
                setup::skill_views(&paths, &secrets, &bot2)
            })
            .await
            .unwrap_or_else(|e| Err(UserError::new(e.to_string(), e.to_string())))?;
            views
                .into_iter()
                .map(|v| SkillItem {
                    id: format!("skill:{bot}:{}", v.name),
                    checked: v.enabled,
                    available: v.available,
                    name: match &v.emoji {
                        Some(e) => format!("{e} {}", v.name),
                        None => v.name.clone(),
                    },
                })
                .collect()
        }
        None => Vec::new(),
    };
    Ok(TrayModel { light, bots, skills_bot, skills, zh })
}

/// A 32×32 dot in the light's colour with a white ring, so it reads on dark
/// and light panels alike.
fn icon(light: Light) -> tauri::image::Image<'static> {
    let (r, g, b) = match light {
        Light::Green => (0x2f, 0x9e, 0x44),
        Light::Grey => (0x86, 0x8e, 0x96),
        Light::Amber => (0xf0, 0x8c, 0x00),
        Light::Red => (0xe0, 0x31, 0x31),
    };
    const N: usize = 32;
    let mut rgba = vec![0u8; N * N * 4];
    for y in 0..N {
        for x in 0..N {
            let (dx, dy) = (x as f32 - 15.5, y as f32 - 15.5);
            let d = (dx * dx + dy * dy).sqrt();
            let px = &mut rgba[(y * N + x) * 4..][..4];
            if d <= 11.5 {
                px.copy_from_slice(&[r, g, b, 255]);
            } else if d <= 14.5 {
                px.copy_from_slice(&[255, 255, 255, 255]);
            }
        }
    }
    tauri::image::Image::new_owned(rgba, N as u32, N as u32)
}

fn menu(app: &AppHandle, m: &TrayModel) -> tauri::Result<Menu<Wry>> {
    let t = |zh: &str, en: &str| if m.zh { zh.to_owned() } else { en.to_owned() };
    let menu = Menu::new(app)?;
    if m.bots.is_empty() {
        menu.append(&MenuItem::with_id(
            app,
            "none",
            t("还没有机器人", "No bots yet"),
            false,
            None::<&str>,
        )?)?;
    }
    for b in &m.bots {
        let dot = match b.light {
            Light::Green => "🟢",
            Light::Grey => "⚪",
            Light::Amber => "🟡",
            Light::Red => "🔴",
        };
        let text = format!("{dot} {} · {}", b.name, b.state);
        menu.append(&MenuItem::with_id(
            app,
            format!("bot:{}", b.name),
            text,
            false,
            None::<&str>,
        )?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    if let Some(bot) = &m.skills_bot {
        let sub = Submenu::with_id(
            app,
            "skills",
            t(&format!("技能（{bot}）"), &format!("Skills ({bot})")),
            true,
        )?;
        for s in &m.skills {
            sub.append(&CheckMenuItem::with_id(
                app,
                &s.id,
                &s.name,
                s.available || s.checked,
                s.checked,
                None::<&str>,
            )?)?;
        }
        menu.append(&sub)?;
    }
    menu.append(&MenuItem::with_id(
        app,
        "pause-all",
        t("全部暂停", "Pause all"),
        !m.bots.is_empty(),
        None::<&str>,
    )?)?;
    menu.append(&MenuItem::with_id(
        app,
        "resume-all",
        t("全部恢复", "Resume all"),
        !m.bots.is_empty(),
        None::<&str>,
    )?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        "open",
        t("打开 Pincer", "Open Pincer"),
        true,
        None::<&str>,
    )?)?;
    menu.append(&MenuItem::with_id(app, "quit", t("退出", "Quit"), true, None::<&str>)?)?;
    Ok(menu)
}

/// Creates the tray icon (grey until the runtime reports).
pub fn create(app: &AppHandle) -> tauri::Result<()> {
    let initial = TrayModel {
        light: Light::Grey,
        bots: Vec::new(),
        skills_bot: None,
        skills: Vec::new(),
        zh: true,
    };
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(Light::Grey))
        .tooltip("Pincer")
        .menu(&menu(app, &initial)?)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| {
            let app = app.clone();
            let id = event.id().as_ref().to_owned();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = act(&app, &id).await {
                    tracing::warn!(action = %id, error = %e, "tray action failed");
                }
            });
        })
        .build(app)?;
    Ok(())
}

/// Re-renders the tray from the current state.
pub async fn refresh(app: &AppHandle) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else { return };
    match model(app).await {
        Ok(m) => {
            let tooltip = m
                .bots
                .iter()
                .map(|b| format!("{}: {}", b.name, b.state))
                .collect::<Vec<_>>()
                .join("\n");
            let _ = tray.set_icon(Some(icon(m.light)));
            let _ = tray.set_tooltip(Some(if tooltip.is_empty() {
                "Pincer".to_owned()
            } else {
                tooltip
            }));
            match menu(app, &m) {
                Ok(menu) => {
                    let _ = tray.set_menu(Some(menu));
                }
                Err(e) => tracing::warn!(error = %e, "cannot build the tray menu"),
            }
        }
        Err(e) => tracing::warn!(error = %e.en, "cannot compute the tray state"),
    }
}

/// Does what a tray menu item says.
pub async fn act(app: &AppHandle, id: &str) -> Result<(), UserError> {
    let state = app.state::<AppState>();
    match id {
        "open" => crate::window::open_main(app),
        "quit" => {
            crate::quit(app).await;
            Ok(())
        }
        "pause-all" | "resume-all" => {
            let rt = state.runtime().await?;
            for s in rt.status().await {
                if id == "pause-all" {
                    rt.pause(&s.name).await;
                } else {
                    rt.resume(&s.name).await;
                }
            }
            refresh(app).await;
            let _ = tauri::Emitter::emit(app, "overview-changed", ());
            Ok(())
        }
        _ => match id.strip_prefix("skill:").and_then(|r| r.split_once(':')) {
            Some((bot, skill)) => {
                let config = setup::load(&state.paths)?;
                let on = !config
                    .bot(bot)
                    .is_some_and(|b| pincer_runtime::skills::enabled_names(b).contains(skill));
                crate::commands::skills::toggle(app, bot, skill, on).await
            }
            None => Ok(()),
        },
    }
}

/// The `tray_state` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn tray_state(app: AppHandle) -> Result<TrayModel, UserError> {
    model(&app).await
}

/// The `tray_action` command (the contract is `ui/src/api.ts`).
#[tauri::command]
pub async fn tray_action(app: AppHandle, id: String) -> Result<(), UserError> {
    act(&app, &id).await
}
