//! `pincer-sim`: stand-alone simulators for development and out-of-process tests.
//!
//! ```text
//! pincer-sim qq --port 8080 --app 102000001:secret [--heartbeat-ms 45000] [--rotate-secs 1800]
//! pincer-sim provider --port 8081 [--api-key KEY] [--model NAME]...
//! pincer-sim registry --port 8082 [--publish OWNER/SLUG@VERSION=DIR]...
//! pincer-sim load [--pincer PATH] --bots N --groups M --rate R --duration S [--model-latency-ms L] [--json]
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
    /// A model provider: OpenAI-compatible and Anthropic chat, Ollama / LM Studio model lists.
    Provider(ProviderArgs),
    /// A ClawHub skill registry: search, detail, versions, downloads, resolve.
    Registry(RegistryArgs),
    /// Load test: runs the real `pincer run` against the QQ and provider
    /// simulators and reports throughput, lost/doubled answers, overhead, RSS, CPU.
    Load(LoadArgs),
}

#[derive(Debug, clap::Args)]
struct LoadArgs {
    #[command(flatten)]
    config: pincer_sim::load::LoadConfig,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write every message's times (injection, both legs, model time,
    /// overhead) to this CSV file.
    #[arg(long, value_name = "PATH")]
    messages_csv: Option<std::path::PathBuf>,
}

async fn run_load(args: LoadArgs) -> Result<(), String> {
    let report = pincer_sim::load::run(&args.config).await.map_err(|e| e.to_string())?;
    if let Some(path) = &args.messages_csv {
        std::fs::write(path, report.messages_csv())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if args.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        print!("{}", report.table());
    }
    if !report.clean() {
        return Err(format!(
            "{} of {} messages lost, {} answered more than once",
            report.lost, report.injected, report.duplicated
        ));
    }
    Ok(())
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

#[derive(Debug, clap::Args)]
struct ProviderArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to bind instead of 127.0.0.1.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Require this API key (Bearer or x-api-key).
    #[arg(long)]
    api_key: Option<String>,
    /// A model to list and accept (repeatable); others get 404 model_not_found.
    #[arg(long = "model", value_name = "NAME")]
    models: Vec<String>,
}

async fn run_provider(args: ProviderArgs) -> Result<(), String> {
    let sim = pincer_sim::provider::ProviderSim::start_on(SocketAddr::new(args.host, args.port))
        .await
        .map_err(|e| format!("cannot listen: {e}"))?;
    sim.set_api_key(args.api_key.as_deref());
    sim.set_models(args.models);
    println!(
        "pincer-sim provider listening on {} (OpenAI base {}/v1)",
        sim.base_url(),
        sim.base_url()
    );
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    sim.shutdown();
    Ok(())
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

#[derive(Debug, clap::Args)]
struct RegistryArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to bind instead of 127.0.0.1.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Publish a skill folder as OWNER/SLUG@VERSION=DIR (repeatable).
    #[arg(long = "publish", value_name = "OWNER/SLUG@VERSION=DIR")]
    publish: Vec<String>,
}

async fn run_registry(args: RegistryArgs) -> Result<(), String> {
    let sim = pincer_sim::registry::RegistrySim::start_on(SocketAddr::new(args.host, args.port))
        .await
        .map_err(|e| format!("cannot listen: {e}"))?;
    for p in &args.publish {
        let bad = || format!("--publish {p}: expected OWNER/SLUG@VERSION=DIR");
        let (spec, dir) = p.split_once('=').ok_or_else(bad)?;
        let (owner_slug, version) = spec.split_once('@').ok_or_else(bad)?;
        let (owner, slug) = owner_slug.split_once('/').ok_or_else(bad)?;
        sim.publish_dir(owner, slug, version, std::path::Path::new(dir))
            .map_err(|e| format!("--publish {p}: {e}"))?;
    }
    println!("pincer-sim registry listening on {}", sim.base_url());
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
        Command::Provider(args) => run_provider(args).await,
        Command::Registry(args) => run_registry(args).await,
        Command::Load(args) => run_load(args).await,
    };
    if let Err(e) = result {
        eprintln!("pincer-sim: {e}");
        std::process::exit(1);
    }
}
