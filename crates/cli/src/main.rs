//! `pincer`: the headless Pincer daemon and its command line. A thin shell
//! over `pincer-runtime`, with the same config as the desktop app.

mod bot;
mod daemon;
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
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bot(cmd) => bot::run(cmd).await,
        Command::Provider(cmd) => provider::run(cmd).await,
        Command::Skills(cmd) => skills::run(cmd),
        Command::Run { log_format } => daemon::run(log_format).await,
        Command::Status { json } => daemon::status(json).await,
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
