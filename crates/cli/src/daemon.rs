//! `pincer run` and `pincer status`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use clap::ValueEnum;
use pincer_runtime::control::{self, Request, Response};
use pincer_runtime::secrets::Secrets;
use pincer_runtime::supervisor::Supervisor;
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

/// A log file opened for appending, shared by the log layer.
#[derive(Clone)]
struct LogFile(Arc<Mutex<std::fs::File>>);

impl Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log file lock").write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().expect("log file lock").flush()
    }
}

pub async fn run(format: LogFormat) -> anyhow::Result<ExitCode> {
    let paths = paths()?;
    let log_path = paths.log_dir.join("pincer.log");
    let file =
        std::fs::OpenOptions::new().create(true).append(true).open(&log_path).map_err(|e| {
            anyhow!(pick(
                format!("无法写入日志 {}：{e}", log_path.display()),
                format!("cannot write the log {}: {e}", log_path.display())
            ))
        })?;
    let file = LogFile(Arc::new(Mutex::new(file)));
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

pub async fn status(json: bool) -> anyhow::Result<ExitCode> {
    let paths = paths()?;
    let socket = control::socket_path(&paths.data_dir);
    let response = control::request(&socket, &Request::Status)
        .await
        .map_err(|e| anyhow!(pick(e.explain_zh(), e.to_string())))?;
    let Response::Status { bots } = response else {
        return Err(anyhow!("unexpected answer from the running Pincer"));
    };
    if json {
        println!("{}", serde_json::json!({ "bots": bots }));
        return Ok(ExitCode::SUCCESS);
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
