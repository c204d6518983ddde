//! The local control socket of a running `pincer run`: `pincer status` and
//! friends talk to it. A Unix socket in the data folder, owner-only (0600):
//! anyone who can open it could see and steer the bots.
//!
//! Protocol: one JSON request line, one JSON answer line; except
//! `{"cmd":"events"}`, answered by `{"event":"subscribed"}` and then one
//! line per [`RuntimeEvent`](crate::events::RuntimeEvent) until the client
//! hangs up.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

use crate::supervisor::{BotStatus, ReloadReport, Supervisor};

/// A request to the running daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// Every bot's status.
    Status,
    /// Pause a bot.
    Pause {
        /// The bot's name.
        bot: String,
    },
    /// Resume a bot.
    Resume {
        /// The bot's name.
        bot: String,
    },
    /// Read `config.toml` again and apply it live.
    Reload,
    /// Stream runtime events as JSON lines.
    Events,
}

/// The daemon's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Response {
    /// For [`Request::Status`].
    Status {
        /// One entry per bot.
        bots: Vec<serde_json::Value>,
        /// `{"rss_bytes", "cpu_percent", "log_bytes"}` when a watchdog runs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        process: Option<serde_json::Value>,
    },
    /// For [`Request::Reload`].
    Reloaded {
        /// What changed.
        reloaded: ReloadReport,
    },
    /// A request that failed.
    Error {
        /// Why, in English.
        error: String,
        /// Why, in Chinese.
        error_zh: String,
    },
    /// For pause/resume.
    Done {
        /// Whether the bot exists.
        ok: bool,
    },
}

/// Where the socket of the daemon using `data_dir` lives.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("pincer.sock")
}

/// Why the daemon could not be reached.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// Nothing listens.
    #[error("Pincer is not running (no daemon at {0}); start it with `pincer run`")]
    NotRunning(PathBuf),
    /// The exchange failed.
    #[error("cannot talk to the running Pincer: {0}")]
    Io(#[from] std::io::Error),
    /// The answer was not understood.
    #[error("the running Pincer answered something unexpected: {0}")]
    Protocol(String),
}

impl ControlError {
    /// The same in Chinese.
    pub fn explain_zh(&self) -> String {
        match self {
            Self::NotRunning(p) => format!(
                "Pincer 没有在运行（{} 处没有守护进程）：请先运行 `pincer run`。",
                p.display()
            ),
            Self::Io(e) => format!("无法与正在运行的 Pincer 通信：{e}"),
            Self::Protocol(e) => format!("正在运行的 Pincer 返回了无法识别的内容：{e}"),
        }
    }
}

/// Serves requests until `cancel`.
#[cfg(unix)]
pub async fn serve(
    path: PathBuf,
    supervisor: Arc<Supervisor>,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // A socket left by a killed daemon: remove it, unless one still answers.
    if path.exists() {
        if tokio::net::UnixStream::connect(&path).await.is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("another Pincer is already running here ({})", path.display()),
            ));
        }
        let _ = std::fs::remove_file(&path);
    }
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    loop {
        let (stream, _) = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => accepted?,
        };
        let supervisor = supervisor.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut read = BufReader::new(read);
            let mut line = String::new();
            if read.read_line(&mut line).await.is_err() {
                return;
            }
            let response = match serde_json::from_str::<Request>(&line) {
                Ok(Request::Events) => return stream_events(&supervisor, read, write).await,
                Ok(Request::Status) => Response::Status {
                    bots: supervisor
                        .status()
                        .await
                        .iter()
                        .map(|b: &BotStatus| serde_json::to_value(b).expect("status serialises"))
                        .collect(),
                    process: supervisor
                        .process_stats()
                        .map(|p| serde_json::to_value(p).expect("stats serialise")),
                },
                Ok(Request::Pause { bot }) => Response::Done { ok: supervisor.pause(&bot).await },
                Ok(Request::Resume { bot }) => Response::Done { ok: supervisor.resume(&bot).await },
                Ok(Request::Reload) => match supervisor.reload_from_disk().await {
                    Ok(reloaded) => Response::Reloaded { reloaded },
                    Err(e) => Response::Error { error: e.to_string(), error_zh: e.explain_zh() },
                },
                Err(_) => Response::Done { ok: false },
            };
            let mut text = serde_json::to_string(&response).expect("serialises");
            text.push('\n');
            let _ = write.write_all(text.as_bytes()).await;
        });
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

/// Writes every runtime event as a JSON line until the client hangs up.
#[cfg(unix)]
async fn stream_events(
    supervisor: &Supervisor,
    mut read: BufReader<tokio::net::unix::OwnedReadHalf>,
    mut write: tokio::net::unix::OwnedWriteHalf,
) {
    use tokio::sync::broadcast::error::RecvError;
    let mut events = supervisor.events().subscribe();
    if write.write_all(b"{\"event\":\"subscribed\"}\n").await.is_err() {
        return;
    }
    let mut scratch = String::new();
    loop {
        let line = tokio::select! {
            // EOF or anything else from the client ends the stream.
            _ = read.read_line(&mut scratch) => return,
            event = events.recv() => match event {
                Ok(event) => serde_json::to_string(&event).expect("events serialise"),
                Err(RecvError::Lagged(n)) => format!("{{\"event\":\"lagged\",\"missed\":{n}}}"),
                Err(RecvError::Closed) => return,
            },
        };
        if write.write_all(format!("{line}\n").as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Opens the event stream of the daemon at `path`: each line is one JSON
/// event, the first `{"event":"subscribed"}`.
#[cfg(unix)]
pub async fn subscribe(
    path: &Path,
) -> Result<tokio::io::Lines<BufReader<tokio::net::UnixStream>>, ControlError> {
    let mut stream = tokio::net::UnixStream::connect(path)
        .await
        .map_err(|_| ControlError::NotRunning(path.to_path_buf()))?;
    let mut text = serde_json::to_string(&Request::Events).expect("serialises");
    text.push('\n');
    stream.write_all(text.as_bytes()).await?;
    Ok(BufReader::new(stream).lines())
}

/// Sends one request to the daemon at `path`.
#[cfg(unix)]
pub async fn request(path: &Path, request: &Request) -> Result<Response, ControlError> {
    let stream = tokio::net::UnixStream::connect(path)
        .await
        .map_err(|_| ControlError::NotRunning(path.to_path_buf()))?;
    let (read, mut write) = stream.into_split();
    let mut text = serde_json::to_string(request).expect("serialises");
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    let mut line = String::new();
    BufReader::new(read).read_line(&mut line).await?;
    serde_json::from_str(&line).map_err(|e| ControlError::Protocol(e.to_string()))
}
