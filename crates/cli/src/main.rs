//! `pincer`: the headless Pincer daemon and its command line. A thin shell
//! over `pincer-runtime`, with the same config as the desktop app.

mod bot;
mod daemon;
mod doctor;
mod init;
mod lang;
mod provider;
mod skills;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Your own AI agent on QQ, headless.
#[derive(Debug, Parser)]
#[command(name = "pincer", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Add, list and remove QQ bots (QQ allows 5 bots per account).
    #[command(subcommand)]
    Bot(bot::BotCommand),
    /// Add model providers.
    #[command(subcommand)]
    Provider(provider::ProviderCommand),
    /// Check skills.
    #[command(subcommand)]
    Skills(skills::SkillsCommand),
    /// Run every enabled bot in the foreground until SIGINT/SIGTERM.
    Run {
        /// Log format on stderr and in the log file.
        #[arg(long, value_enum, default_value = "text")]
        log_format: daemon::LogFormat,
    },
    /// Show the running bots (asks the running `pincer run`).
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Then follow the event stream, like `pincer events`.
        #[arg(long)]
        watch: bool,
    },
    /// Set up a bot step by step: connect QQ, name and persona, model,
    /// skills. Scriptable: give the flags, and the AppSecret then the API key
    /// on stdin, one per line.
    Init(init::InitArgs),
    /// Check the keyring, the config, each bot and provider (live), the
    /// disk and the daemon; exits non-zero when a check fails.
    Doctor {
        /// Machine-readable output: `{"checks":[{"name","status","detail","hint"}]}`.
        #[arg(long)]
        json: bool,
    },
    /// Make the running `pincer run` apply config.toml now (connections are
    /// kept where only the model, persona or skills changed).
    Reload,
    /// Follow the running bots' events (status changes, messages, replies,
    /// warnings), one JSON object per line.
    Events,
}

/// Tokio's multi-threaded runtime, one worker per core. One thread for every
/// task (`current_thread`) used 20% less CPU per message on a quiet machine,
/// but beside other busy programs it got a smaller share of the cores and
/// the p99 of the latency it adds grew 2.5–18× (docs/BENCHMARKS.md, session 6).
#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bot(cmd) => bot::run(cmd).await,
        Command::Provider(cmd) => provider::run(cmd).await,
        Command::Skills(cmd) => skills::run(cmd).await,
        Command::Run { log_format } => daemon::run(log_format).await,
        Command::Status { json, watch: false } => daemon::status(json).await,
        Command::Status { json, watch: true } => match daemon::status(json).await {
            Ok(_) => daemon::events().await,
            Err(e) => Err(e),
        },
        Command::Events => daemon::events().await,
        Command::Reload => daemon::reload().await,
        Command::Doctor { json } => doctor::run(json).await,
        Command::Init(args) => init::run(args).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // One line: what went wrong and what to do.
            let text = format!("{e:#}").replace('\n', " ");
            eprintln!("pincer: {text}");
            ExitCode::FAILURE
        }
    }
}
