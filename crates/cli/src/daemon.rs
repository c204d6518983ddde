//! `pincer run`, `pincer status`, `pincer events`, and telling a running
//! daemon about config changes.

use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use clap::ValueEnum;
use pincer_runtime::control::{self, Request, Response};
use pincer_runtime::secrets::Secrets;
use pincer_runtime::supervisor::Supervisor;
use pincer_runtime::watchdog::{self, WatchdogConfig};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::bot::{load_config, paths};
use crate::lang::pick;

/// How `pincer run` writes its log.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The log is rotated (to `pincer.log.1`, replacing an older one) when it
/// would grow past this; `PINCER_LOG_ROTATE_MB` changes it.
const LOG_ROTATE_BYTES: u64 = 100 * 1024 * 1024;

struct LogState {
    file: std::fs::File,
    size: u64,
}

/// A log file opened for appending, shared by the log layers, rotated at a
/// size.
#[derive(Clone)]
struct LogFile {
    state: Arc<Mutex<LogState>>,
    path: Arc<std::path::PathBuf>,
    rotate_at: u64,
}

impl LogFile {
    fn open(path: &std::path::Path, rotate_at: u64) -> std::io::Result<LogFile> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(LogFile {
            state: Arc::new(Mutex::new(LogState { file, size })),
            path: Arc::new(path.to_path_buf()),
            rotate_at,
        })
    }
}

impl Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut state = self.state.lock().expect("log file lock");
        if state.size > 0 && state.size + buf.len() as u64 > self.rotate_at {
            let old = self.path.with_extension("log.1");
            if std::fs::rename(&*self.path, old).is_ok() {
                if let Ok(file) =
                    std::fs::OpenOptions::new().create(true).append(true).open(&*self.path)
                {
                    *state = LogState { file, size: 0 };
                }
            }
        }
        let n = state.file.write(buf)?;
        state.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.state.lock().expect("log file lock").file.flush()
    }
}

pub async fn run(format: LogFormat) -> anyhow::Result<ExitCode> {
    let paths = paths()?;
    let log_path = paths.log_dir.join("pincer.log");
    let rotate_at = std::env::var("PINCER_LOG_ROTATE_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(|mb| mb * 1024 * 1024)
        .unwrap_or(LOG_ROTATE_BYTES);
    let file = LogFile::open(&log_path, rotate_at).map_err(|e| {
        anyhow!(pick(
            format!("无法写入日志 {}：{e}", log_path.display()),
            format!("cannot write the log {}: {e}", log_path.display())
        ))
    })?;
    let filter =
        || EnvFilter::try_from_env("PINCER_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let (stderr_layer, file_layer) = match format {
        LogFormat::Json => (
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(std::io::stderr)
                .with_filter(filter())
                .boxed(),
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(move || file.clone())
                .with_filter(filter())
                .boxed(),
        ),
        LogFormat::Text => (
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter())
                .boxed(),
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || file.clone())
                .with_filter(filter())
                .boxed(),
        ),
    };
    tracing_subscriber::registry().with(stderr_layer).with(file_layer).init();

    let config = load_config(&paths)?;
    if config.bots.iter().all(|b| !b.enabled) {
        eprintln!(
            "{}",
            pick(
                "注意：没有启用的机器人；用 `pincer bot add` 添加。",
                "note: no enabled bots; add one with `pincer bot add`."
            )
        );
    }
    let supervisor = Arc::new(
        Supervisor::start(paths.clone(), config, Secrets::default())
            .await
            .map_err(|e| anyhow!(e.to_string()))?,
    );
    let cancel = CancellationToken::new();
    let stats = watchdog::spawn(
        watchdog_config(log_path, paths.data_dir.clone()),
        supervisor.events(),
        cancel.clone(),
    );
    supervisor.set_process_stats(stats);
    let socket = control::socket_path(&paths.data_dir);
    let server = tokio::spawn(control::serve(socket, supervisor.clone(), cancel.clone()));
    tracing::info!("pincer is running; Ctrl-C or SIGTERM stops it");

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("stopping: draining replies and saving gateway sessions");
    cancel.cancel();
    supervisor.shutdown().await;
    if let Ok(Err(e)) = server.await {
        tracing::warn!(error = %e, "control socket");
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The watchdog's bounds; `PINCER_WATCHDOG_INTERVAL_MS`,
/// `PINCER_WATCHDOG_MAX_RSS_MB`, `PINCER_WATCHDOG_MAX_LOG_MB` and
/// `PINCER_WATCHDOG_MIN_FREE_MB` override them.
fn watchdog_config(log_file: std::path::PathBuf, data_dir: std::path::PathBuf) -> WatchdogConfig {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let mut config = WatchdogConfig {
        log_file: Some(log_file),
        data_dir: Some(data_dir),
        ..WatchdogConfig::default()
    };
    if let Some(ms) = env("PINCER_WATCHDOG_INTERVAL_MS") {
        config.interval = std::time::Duration::from_millis(ms.max(10));
    }
    if let Some(mb) = env("PINCER_WATCHDOG_MAX_RSS_MB") {
        config.max_rss_bytes = mb * 1024 * 1024;
    }
    if let Some(mb) = env("PINCER_WATCHDOG_MAX_LOG_MB") {
        config.max_log_bytes = mb * 1024 * 1024;
    }
    if let Some(mb) = env("PINCER_WATCHDOG_MIN_FREE_MB") {
        config.min_free_bytes = mb * 1024 * 1024;
    }
    config
}

/// Tells a running daemon to apply the saved config; says nothing when none runs.
pub async fn notify_reload() {
    let Ok(paths) = paths() else { return };
    let socket = control::socket_path(&paths.data_dir);
    match control::request(&socket, &Request::Reload).await {
        Ok(Response::Reloaded { .. }) => println!(
            "{}",
            pick("正在运行的 Pincer 已应用此更改。", "The running Pincer applied the change.")
        ),
        Ok(Response::Error { error, error_zh }) => eprintln!(
            "{}",
            pick(
                format!("正在运行的 Pincer 未能应用此更改：{error_zh}"),
                format!("the running Pincer could not apply the change: {error}")
            )
        ),
        Ok(_) | Err(control::ControlError::NotRunning(_)) => {}
        Err(e) => eprintln!("{}", pick(e.explain_zh(), e.to_string())),
    }
}

/// `pincer reload`: prints what changed as JSON.
pub async fn reload() -> anyhow::Result<ExitCode> {
    let paths = paths()?;
    let socket = control::socket_path(&paths.data_dir);
    match control::request(&socket, &Request::Reload)
        .await
        .map_err(|e| anyhow!(pick(e.explain_zh(), e.to_string())))?
    {
        Response::Reloaded { reloaded } => {
            println!("{}", serde_json::to_string(&reloaded)?);
            Ok(ExitCode::SUCCESS)
        }
        Response::Error { error, error_zh } => Err(anyhow!(pick(error_zh, error))),
        _ => Err(anyhow!("unexpected answer from the running Pincer")),
    }
}

/// `pincer bot pause|resume NAME`.
pub async fn pause_resume(name: &str, pause: bool) -> anyhow::Result<ExitCode> {
    let paths = paths()?;
    let socket = control::socket_path(&paths.data_dir);
    let request = if pause {
        Request::Pause { bot: name.to_owned() }
    } else {
        Request::Resume { bot: name.to_owned() }
    };
    let response = control::request(&socket, &request)
        .await
        .map_err(|e| anyhow!(pick(e.explain_zh(), e.to_string())))?;
    match response {
        Response::Done { ok: true } => {
            println!(
                "{}",
                match pause {
                    true => pick(format!("已暂停机器人 {name}"), format!("paused bot {name}")),
                    false => pick(format!("已恢复机器人 {name}"), format!("resumed bot {name}")),
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(anyhow!(pick(
            format!("正在运行的 Pincer 中没有机器人 {name}（已停用？）"),
            format!("the running Pincer has no bot {name} (is it disabled?)")
        ))),
    }
}

/// `pincer events`: prints each runtime event as one JSON line until
/// interrupted (or the daemon stops).
pub async fn events() -> anyhow::Result<ExitCode> {
    let paths = paths()?;
    let socket = control::socket_path(&paths.data_dir);
    let mut lines = control::subscribe(&socket)
        .await
        .map_err(|e| anyhow!(pick(e.explain_zh(), e.to_string())))?;
    let mut stdout = std::io::stdout();
    let human = std::io::IsTerminal::is_terminal(&stdout);
    while let Some(line) = lines.next_line().await? {
        match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(v) if human => writeln!(stdout, "{}", describe(&v))?,
            _ => writeln!(stdout, "{line}")?,
        }
        stdout.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One event as a line for people (a terminal); pipes get the JSON.
fn describe(v: &serde_json::Value) -> String {
    let s = |k: &str| v[k].as_str().unwrap_or("").to_owned();
    let zh = crate::lang::chinese();
    match v["event"].as_str() {
        Some("subscribed") => {
            pick("正在关注事件（Ctrl-C 退出）…", "following events (Ctrl-C to stop)…")
        }
        Some("bot_status") => {
            let why = s(if zh { "explanation_zh" } else { "explanation" });
            format!(
                "{} ⟶ {}{}",
                s("bot"),
                s("state"),
                if why.is_empty() { why } else { format!(": {why}") }
            )
        }
        Some("message_in") => {
            format!("{} ← [{}] {}: {}", s("bot"), s("scene"), s("sender"), s("text"))
        }
        Some("reply_out") => format!("{} → [{}] {}", s("bot"), s("scene"), s("text")),
        Some("warning") => format!("⚠ {}", s(if zh { "detail_zh" } else { "detail" })),
        Some("reloaded") => format!("{} {v}", pick("已重新加载配置：", "config reloaded:")),
        _ => v.to_string(),
    }
}

pub async fn status(json: bool) -> anyhow::Result<ExitCode> {
    let paths = paths()?;
    let socket = control::socket_path(&paths.data_dir);
    let response = control::request(&socket, &Request::Status)
        .await
        .map_err(|e| anyhow!(pick(e.explain_zh(), e.to_string())))?;
    let Response::Status { bots, process } = response else {
        return Err(anyhow!("unexpected answer from the running Pincer"));
    };
    if json {
        println!("{}", serde_json::json!({ "bots": bots, "process": process }));
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(p) = &process {
        let mb = |k: &str| {
            p[k].as_u64().map(|b| format!("{:.1} MB", b as f64 / 1048576.0)).unwrap_or("-".into())
        };
        let cpu = p["cpu_percent"].as_f64().map(|c| format!("{c:.1}%")).unwrap_or("-".into());
        println!(
            "{}",
            pick(
                format!("进程：内存 {}，CPU {cpu}，日志 {}", mb("rss_bytes"), mb("log_bytes")),
                format!("process: memory {}, CPU {cpu}, log {}", mb("rss_bytes"), mb("log_bytes"))
            )
        );
    }
    if bots.is_empty() {
        println!("{}", pick("没有机器人在运行。", "No bots are running."));
    }
    for b in &bots {
        let s = |k: &str| b[k].as_str().unwrap_or("-").to_owned();
        let rtt = b["heartbeat_rtt_ms"]
            .as_f64()
            .map(|r| format!("{r:.0} ms"))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<16} {:<12} {:<13} rtt {:<7} in {:<5} out {:<5} tokens {}",
            s("name"),
            s("app_id"),
            s("state"),
            rtt,
            b["events_in"],
            b["replies_out"],
            b["tokens_today"]
        );
        let explain = if crate::lang::chinese() { "explanation_zh" } else { "explanation" };
        if let Some(e) = b[explain].as_str() {
            println!("    {e}");
        }
        if let Some(code) = b["pairing_code"].as_str() {
            println!(
                "    {}",
                pick(
                    format!("配对码 {code}：在 QQ 私聊中把它发给机器人，即可成为主人。"),
                    format!("pairing code {code}: send it to the bot in a QQ private chat to become its owner.")
                )
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_rotates_at_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pincer.log");
        let mut log = LogFile::open(&path, 100).unwrap();
        log.write_all(&[b'a'; 80]).unwrap();
        log.write_all(&[b'b'; 30]).unwrap();
        log.write_all(&[b'c'; 10]).unwrap();
        log.flush().unwrap();
        assert_eq!(std::fs::read(dir.path().join("pincer.log.1")).unwrap(), [b'a'; 80]);
        let now = std::fs::read(&path).unwrap();
        assert_eq!(now.len(), 40);
        assert!(now.starts_with(&[b'b'; 30]));
    }
}
