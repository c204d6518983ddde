//! `pincer-sim`: stand-alone simulators for development and out-of-process tests.
//!
//! ```text
//! pincer-sim qq --port 8080 --app 102000001:secret [--heartbeat-ms 45000] [--rotate-secs 1800]
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};
use pincer_sim::qq::{QqSim, QqSimConfig, SimApp};

#[derive(Debug, Parser)]
#[command(name = "pincer-sim", about = "Simulators for Pincer's tests and demos")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The QQ Open Platform: token endpoint, REST, gateway, QR binding, `/_sim/` control API.
    Qq(QqArgs),
}

#[derive(Debug, clap::Args)]
struct QqArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to bind instead of 127.0.0.1.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// An app as APPID:SECRET (repeatable); granted every intent, markdown allowed.
    #[arg(long = "app", value_name = "APPID:SECRET")]
    apps: Vec<String>,
    /// Heartbeat interval announced in op 10, in milliseconds.
    #[arg(long)]
    heartbeat_ms: Option<u64>,
    /// Send op 7 and close 4009 every N seconds.
    #[arg(long)]
    rotate_secs: Option<u64>,
    /// Accept proactive sends (no msg_id/event_id).
    #[arg(long)]
    proactive: bool,
}

async fn run_qq(args: QqArgs) -> Result<(), String> {
    let mut config = QqSimConfig::default();
    if let Some(ms) = args.heartbeat_ms {
        config.heartbeat_interval = Duration::from_millis(ms);
    }
    config.rotation_every = args.rotate_secs.map(Duration::from_secs);
    let sim = QqSim::start_on(SocketAddr::new(args.host, args.port), config)
        .await
        .map_err(|e| format!("cannot listen: {e}"))?;
    for app in &args.apps {
        let (id, secret) =
            app.split_once(':').ok_or_else(|| format!("--app {app}: expected APPID:SECRET"))?;
        sim.add_app(SimApp::new(id, secret));
    }
    if args.proactive {
        sim.set_proactive(pincer_sim::qq::ProactivePolicy::Allowed);
    }
    println!("pincer-sim qq listening on {}", sim.api_base());
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    sim.shutdown();
    Ok(())
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Qq(args) => run_qq(args).await,
    };
    if let Err(e) = result {
        eprintln!("pincer-sim: {e}");
        std::process::exit(1);
    }
}
