//! The Pincer desktop app: a thin Tauri shell over `pincer_runtime`. It
//! starts the runtime, forwards its events to the window, keeps the tray in
//! step, and notifies when a bot is in trouble.

pub mod commands;
pub mod state;
pub mod tray;
pub mod window;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

use std::time::{Duration, SystemTime};

use pincer_runtime::events::RuntimeEvent;
use pincer_runtime::paths::PincerPaths;
use tauri::{AppHandle, Emitter, Manager, RunEvent, WindowEvent};
use tauri_plugin_notification::NotificationExt;

use crate::state::AppState;

/// Starts Pincer in the tray, without a window.
pub const TRAY_FLAG: &str = "--tray";

/// Set by [`quit`]: the next exit request is real.
static QUITTING: AtomicBool = AtomicBool::new(false);

/// Stops the runtime cleanly (replies in flight delivered, sessions saved)
/// and exits.
pub async fn quit(app: &AppHandle) {
    QUITTING.store(true, Ordering::SeqCst);
    let state = app.state::<AppState>();
    state.cancel.cancel();
    if let Some(rt) = state.runtime_if_started() {
        rt.shutdown().await;
    }
    app.exit(0);
}

/// Closes the window to the tray. Destroying the webview ends WebKit's web
/// process, but the app process keeps what WebKit and GTK allocated in it
/// (~100 MB) and WebKit's network process lives on; so Pincer stops its
/// runtime cleanly (replies delivered, gateway sessions saved) and replaces
/// itself with a fresh `--tray` image, which resumes the sessions. The tray
/// then costs what the runtime costs. Where that cannot be done, the window
/// is destroyed instead.
async fn to_tray(app: &AppHandle) {
    let state = app.state::<AppState>();
    let told = state.paths.data_dir.join("told-about-tray");
    if !told.exists() {
        let _ = std::fs::write(&told, b"");
        let zh = state.locale() == "zh-CN";
        let (title, body) = if zh {
            ("Pincer 仍在运行", "机器人继续在托盘中工作。点托盘图标可以重新打开。")
        } else {
            (
                "Pincer is still running",
                "Your bots keep working from the tray. Click the tray icon to open Pincer again.",
            )
        };
        notify(app, title, body);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        if let Some(exe) = std::env::current_exe().ok().filter(|e| e.exists()) {
            state.cancel.cancel();
            if let Some(rt) = state.runtime_if_started() {
                rt.shutdown().await;
            }
            let err = std::process::Command::new(exe).arg(TRAY_FLAG).exec();
            // Only if the binary vanished in between (an upgrade): stopping
            // is better than a tray icon over a stopped runtime.
            tracing::error!(error = %err, "cannot restart in the tray; exiting");
            QUITTING.store(true, Ordering::SeqCst);
            app.exit(1);
            return;
        }
    }
    if let Some(w) = app.get_webview_window(window::MAIN) {
        let _ = w.destroy();
    }
}

fn notify(app: &AppHandle, title: &str, body: &str) {
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        tracing::warn!(error = %e, "cannot show a notification");
    }
}

fn close_to_tray(app: &AppHandle) -> bool {
    let state = app.state::<AppState>();
    pincer_runtime::setup::load(&state.paths).map(|c| c.settings.close_to_tray).unwrap_or(true)
}

/// Forwards runtime events to the window and the tray.
async fn forward_events(app: AppHandle) {
    let state = app.state::<AppState>();
    let runtime = match state.runtime().await {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e.en, "the runtime did not start");
            return;
        }
    };
    crate::tray::refresh(&app).await;
    let mut events = runtime.events().subscribe();
    loop {
        match events.recv().await {
            Ok(event) => {
                let tray_changes =
                    matches!(event, RuntimeEvent::BotStatus { .. } | RuntimeEvent::Reloaded { .. });
                let _ = app.emit("runtime-event", &event);
                if tray_changes {
                    crate::tray::refresh(&app).await;
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Whether a bot in `state` since `since` (unix seconds) needs the user's
/// attention at `now`: stopped for good, or not connected for over a minute.
fn in_trouble(state: &str, since: u64, now: u64) -> bool {
    match state {
        "fatal" => true,
        "reconnecting" | "connecting" | "identifying" | "resuming" => {
            now.saturating_sub(since) > 60
        }
        _ => false,
    }
}

/// Notifies once per episode when a bot has been disconnected over 60 s, or
/// closed fatally.
async fn watch_for_trouble(app: AppHandle) {
    let mut told: HashSet<String> = HashSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        let state = app.state::<AppState>();
        let Some(rt) = state.runtime_if_started() else { continue };
        let now =
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs();
        for s in rt.status().await {
            if !in_trouble(s.state, s.since, now) {
                told.remove(&s.name);
                continue;
            }
            if !told.insert(s.name.clone()) {
                continue;
            }
            // The config is read only when there is something to say.
            let zh = state.locale() == "zh-CN";
            let why = if zh { s.explanation_zh.clone() } else { s.explanation.clone() }
                .unwrap_or_default();
            let (title, body) = match (s.state, zh) {
                ("fatal", true) => (format!("机器人 {} 已停止", s.name), why),
                ("fatal", false) => (format!("Bot {} stopped", s.name), why),
                (_, true) => (format!("机器人 {} 已断开超过 1 分钟", s.name), why),
                (_, false) => (format!("Bot {} disconnected for over a minute", s.name), why),
            };
            notify(&app, &title, &body);
        }
    }
}

/// Runs the app.
pub fn run() {
    let tray_only = std::env::args().any(|a| a == TRAY_FLAG);
    if cfg!(target_os = "linux") && tray_only && std::env::var_os("GDK_GL").is_none() {
        // Nothing in the tray draws with OpenGL; without this GTK loads Mesa
        // (and its 44 MB LLVM) for a window that never exists. Set before
        // GTK starts and before any other thread.
        std::env::set_var("GDK_GL", "disable");
    }
    let paths = match PincerPaths::from_env() {
        Some(p) => p,
        None => {
            eprintln!("cannot find a home folder for Pincer: set PINCER_HOME");
            std::process::exit(2);
        }
    };
    if let Err(e) = paths.create() {
        eprintln!("cannot create {}: {e}", paths.config_dir.display());
        std::process::exit(2);
    }
    let log_dir = paths.log_dir.clone();
    let app = tauri::Builder::default()
        // First, as the plugin guide says: a second launch shows this window.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            let _ = window::open_main(app);
        }))
        .plugin(tauri_plugin_autostart::Builder::new().args([TRAY_FLAG]).build())
        .plugin(tauri_plugin_notification::init())
        .plugin(
            tauri_plugin_log::Builder::new()
                .level(log::LevelFilter::Info)
                .targets([
                    tauri_plugin_log::Target::new(tauri_plugin_log::TargetKind::Stdout),
                    tauri_plugin_log::Target::new(tauri_plugin_log::TargetKind::Folder {
                        path: log_dir,
                        file_name: Some("pincer-desktop".into()),
                    }),
                ])
                .max_file_size(20 * 1024 * 1024)
                .build(),
        )
        .plugin(tauri_plugin_window_state::Builder::new().build())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_updater::Builder::new().build())
        .manage(AppState::new(paths))
        .invoke_handler(tauri::generate_handler![
            commands::wizard::app_info,
            commands::wizard::save_wizard,
            commands::wizard::bind_start,
            commands::wizard::bind_cancel,
            commands::wizard::connect_manual,
            commands::wizard::persona_templates,
            commands::wizard::create_bot,
            commands::wizard::provider_presets,
            commands::wizard::detect_local,
            commands::wizard::test_provider,
            commands::wizard::save_provider,
            commands::wizard::finish_wizard,
            commands::skills::list_skills,
            commands::skills::set_skill_enabled,
            commands::skills::set_skill_key,
            commands::skills::search_skills,
            commands::skills::install_skill,
            commands::dashboard::overview,
            commands::dashboard::pause_bot,
            commands::dashboard::resume_bot,
            commands::dashboard::edit_bot,
            commands::dashboard::remove_bot,
            commands::dashboard::conversations,
            commands::dashboard::transcript,
            commands::dashboard::test_chat,
            commands::settings::get_settings,
            commands::settings::set_settings,
            commands::settings::export_config,
            commands::settings::open_url,
            tray::tray_state,
            tray::tray_action,
        ])
        .setup(move |app| {
            // `--tray` (login autostart, and the image a window closed to the
            // tray turns into) starts without a window.
            if !tray_only {
                if let Err(e) = window::open_main(app.handle()) {
                    tracing::error!(error = %e.en, "cannot open the window");
                }
            }
            tray::create(app.handle())?;
            tauri::async_runtime::spawn(forward_events(app.handle().clone()));
            tauri::async_runtime::spawn(watch_for_trouble(app.handle().clone()));
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                let app = window.app_handle().clone();
                if !close_to_tray(&app) {
                    tauri::async_runtime::spawn(async move { quit(&app).await });
                    return;
                }
                api.prevent_close();
                let _ = window.hide();
                tauri::async_runtime::spawn(async move { to_tray(&app).await });
            }
        })
        .build(tauri::generate_context!())
        .expect("the Tauri app could not be built");
    app.run(|_app, event| {
        if let RunEvent::ExitRequested { code: None, api, .. } = event {
            // The last window closed: keep running in the tray.
            if !QUITTING.load(Ordering::SeqCst) {
                api.prevent_exit();
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::in_trouble;

    #[test]
    fn a_bot_is_in_trouble_when_fatal_or_disconnected_over_a_minute() {
        assert!(in_trouble("fatal", 100, 100));
        assert!(!in_trouble("reconnecting", 100, 160));
        assert!(in_trouble("reconnecting", 100, 161));
        assert!(in_trouble("connecting", 0, 1_000));
        assert!(!in_trouble("ready", 0, 1_000));
        assert!(!in_trouble("paused", 0, 1_000));
    }
}
