//! The main window's life: closing it to the tray destroys its webview (the
//! WebKit processes go with it: Pincer then idles at a few tens of MB), and
//! "Open Pincer" builds it again.

use pincer_runtime::error::UserError;
use tauri::{AppHandle, Manager, WebviewWindowBuilder};

/// The main window's label (as in tauri.conf.json).
pub const MAIN: &str = "main";

/// Shows the main window, building it when it was closed to the tray.
pub fn open_main(app: &AppHandle) -> Result<(), UserError> {
    if let Some(w) = app.get_webview_window(MAIN) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
        return Ok(());
    }
    let fail = |e: tauri::Error| {
        UserError::new(format!("无法打开窗口：{e}"), format!("cannot open the window: {e}"))
    };
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN)
        .cloned()
        .ok_or_else(|| UserError::new("缺少窗口配置", "the window configuration is missing"))?;
    let window =
        WebviewWindowBuilder::from_config(app, &config).map_err(fail)?.build().map_err(fail)?;
    tune(&window);
    Ok(())
}

/// WebKitGTK settings for a window that lives for days next to a tray icon:
/// no GPU process work, no page cache, the smallest memory cache.
pub fn tune(window: &tauri::WebviewWindow) {
    #[cfg(target_os = "linux")]
    {
        let _ = window.with_webview(|webview| {
            use webkit2gtk::{
                CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt,
            };
            let view = webview.inner();
            if let Some(settings) = WebViewExt::settings(&view) {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
                settings.set_enable_page_cache(false);
            }
            if let Some(context) = view.context() {
                context.set_cache_model(CacheModel::DocumentViewer);
            }
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}
