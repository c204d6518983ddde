//! What the shell keeps while it runs: where Pincer's files are, the keyring,
//! the QQ hosts, and the runtime (started once, on first need).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pincer_runtime::config::Language;
use pincer_runtime::error::UserError;
use pincer_runtime::paths::PincerPaths;
use pincer_runtime::secrets::Secrets;
use pincer_runtime::setup::{self, QqHosts};
use pincer_runtime::supervisor::Supervisor;
use pincer_runtime::{control, watchdog};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

/// The shell's state, managed by Tauri.
pub struct AppState {
    /// Pincer's folders.
    pub paths: PincerPaths,
    /// The OS keyring.
    pub secrets: Secrets,
    /// Where QQ is reached.
    pub hosts: QqHosts,
    /// One HTTP client for the wizard's checks.
    pub http: reqwest::Client,
    runtime: OnceCell<Arc<Supervisor>>,
    /// Cancels the QR binding in progress.
    pub bind: Mutex<Option<CancellationToken>>,
    /// Stops the control socket and watchdog on quit.
    pub cancel: CancellationToken,
    /// The bot whose skills the tray shows.
    pub tray_bot: Mutex<Option<String>>,
}

/// Where the wizard is, saved so that it resumes after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WizardProgress {
    /// 1 to 4.
    pub step: u8,
    /// The draft bot.
    pub bot: Option<String>,
    /// Adding another bot from the dashboard.
    pub adding: bool,
}

impl AppState {
    /// The state for `paths`.
    pub fn new(paths: PincerPaths) -> Self {
        Self {
            paths,
            secrets: Secrets::default(),
            hosts: QqHosts::from_env(),
            http: reqwest::Client::new(),
            runtime: OnceCell::new(),
            bind: Mutex::new(None),
            cancel: CancellationToken::new(),
            tray_bot: Mutex::new(None),
        }
    }

    /// The running supervisor; starts it (with its control socket, so that
    /// `pincer status` sees the app, and its watchdog) the first time.
    pub async fn runtime(&self) -> Result<Arc<Supervisor>, UserError> {
        self.runtime
            .get_or_try_init(|| async {
                let config = setup::load(&self.paths)?;
                let supervisor =
                    Supervisor::start(self.paths.clone(), config, self.secrets.clone())
                        .await
                        .map_err(|e| {
                            UserError::new(
                                format!("无法启动 Pincer：{e}"),
                                format!("cannot start Pincer: {e}"),
                            )
                        })?;
                let supervisor = Arc::new(supervisor);
                let stats = watchdog::spawn(
                    watchdog::WatchdogConfig {
                        log_file: Some(self.paths.log_dir.join("pincer.log")),
                        ..Default::default()
                    },
                    supervisor.events(),
                    self.cancel.clone(),
                );
                supervisor.set_process_stats(stats);
                let socket = control::socket_path(&self.paths.data_dir);
                tokio::spawn(control::serve(socket, supervisor.clone(), self.cancel.clone()));
                Ok(supervisor)
            })
            .await
            .cloned()
    }

    /// The runtime if it started.
    pub fn runtime_if_started(&self) -> Option<Arc<Supervisor>> {
        self.runtime.get().cloned()
    }

    fn wizard_file(&self) -> PathBuf {
        self.paths.data_dir.join("wizard.json")
    }

    /// The wizard in progress.
    pub fn wizard(&self) -> Option<WizardProgress> {
        let text = std::fs::read_to_string(self.wizard_file()).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Saves (or, with `None`, clears) the wizard's progress.
    pub fn save_wizard(&self, progress: Option<&WizardProgress>) -> Result<(), UserError> {
        let path = self.wizard_file();
        let result = match progress {
            Some(p) => std::fs::write(&path, serde_json::to_vec(p).unwrap_or_default()),
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                r => r,
            },
        };
        result.map_err(|e| {
            UserError::new(
                format!("无法保存设置进度到 {}：{e}", path.display()),
                format!("cannot save the setup progress to {}: {e}", path.display()),
            )
        })
    }

    /// The UI language: the saved choice, else the OS locale.
    pub fn locale(&self) -> &'static str {
        let saved = setup::load(&self.paths).map(|c| c.settings.language).unwrap_or_default();
        match saved {
            Language::ZhCn => "zh-CN",
            Language::En => "en",
            Language::Auto => os_locale(),
        }
    }
}

/// `zh-CN` when the OS locale is Chinese, else `en`.
pub fn os_locale() -> &'static str {
    let chinese = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .is_none_or(|l| l.starts_with("zh"));
    if chinese {
        "zh-CN"
    } else {
        "en"
    }
}
