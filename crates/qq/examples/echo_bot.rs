//! The QQ connector end to end: an echo bot.
//!
//! Without credentials it starts the QQ simulator in-process and lets you
//! chat as a simulated QQ user: type a line and press Enter, the bot answers
//! through the real token → gateway → REST path. With credentials it connects
//! to the real QQ platform and echoes every private and group @-message:
//!
//! ```text
//! cargo run -p pincer-qq --example echo_bot                      # simulator
//! PINCER_QQ_APP_ID=102… PINCER_SECRET_QQ_APP_SECRET=… \
//!   cargo run -p pincer-qq --example echo_bot -- [--sandbox]    # real QQ
//! ```

use std::sync::Arc;
use std::time::Duration;

use pincer_qq::gateway::{plan_shards, Shard, ShardHealth};
use pincer_qq::http::{RestClient, PRODUCTION_API_BASE, SANDBOX_API_BASE};
use pincer_qq::model::{Event, Intents};
use pincer_qq::outbound::{Replier, ReplyTarget};
use pincer_qq::reply::{ReplyLedger, ReplyPolicy};
use pincer_qq::token::{Credentials, Secret, TokenManager, DEFAULT_TOKEN_URL};
use pincer_sim::qq::{QqSim, QqSimConfig, SimApp};
use tokio::io::{AsyncBufReadExt, BufReader};

const SIM_APP: &str = "102000001";
const SIM_USER: &str = "SIM_USER_OPENID";

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,pincer_qq=info".into()),
        )
        .init();

    let sandbox = std::env::args().any(|a| a == "--sandbox");
    let real = std::env::var("PINCER_QQ_APP_ID")
        .ok()
        .zip(std::env::var("PINCER_SECRET_QQ_APP_SECRET").ok());
    let (app_id, secret, token_url, api_base, sim) = match real {
        Some((app_id, secret)) => {
            let base = if sandbox { SANDBOX_API_BASE } else { PRODUCTION_API_BASE };
            println!(
                "连接真实 QQ 平台 / connecting to the real QQ platform ({base}) as AppID {app_id}"
            );
            (app_id, secret, DEFAULT_TOKEN_URL.to_owned(), base.to_owned(), None)
        }
        None => {
            let sim = QqSim::start(QqSimConfig::default()).await.expect("simulator starts");
            let secret = format!("demo-{:016x}", rand::random::<u64>());
            sim.add_app(SimApp {
                app_id: SIM_APP.into(),
                secret: secret.clone(),
                granted_intents: Intents::GROUP_AND_C2C_EVENT,
                markdown: false,
            });
            println!("QQ 模拟器已启动 / QQ simulator on {}", sim.api_base());
            (SIM_APP.to_owned(), secret, sim.token_url(), sim.api_base(), Some(sim))
        }
    };

    let http = reqwest::Client::new();
    let tokens = Arc::new(TokenManager::new(
        http.clone(),
        token_url,
        Credentials { app_id: app_id.clone(), secret: Secret::new(secret) },
    ));
    let rest = RestClient::new(http, api_base, tokens.clone());
    let gateway = match rest.gateway_bot().await {
        Ok(gateway) => gateway,
        Err(e) => {
            eprintln!("错误：{}\nerror: {e}", e.explain_zh());
            std::process::exit(1);
        }
    };
    let plan = match plan_shards(&gateway, None) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("错误：{}\nerror: {e}", e.explain_zh());
            std::process::exit(1);
        }
    };
    let mut shard = Shard::spawn(plan.shard_config(0, Intents::GROUP_AND_C2C_EVENT), tokens);
    let replier = Replier::new(rest, Arc::new(ReplyLedger::in_memory(ReplyPolicy::default())));
    tokio::spawn(print_health(shard.health()));

    if let Some(sim) = sim.clone() {
        println!("输入一行文字并回车，以 QQ 用户身份发给机器人；Ctrl-C 退出。");
        println!("Type a line and press Enter to message the bot as a QQ user; Ctrl-C quits.");
        tokio::spawn(async move {
            let mut lines = BufReader::new(tokio::io::stdin()).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if !line.trim().is_empty() {
                    sim.inject_c2c_message(SIM_APP, SIM_USER, &line);
                }
            }
        });
    }

    loop {
        let dispatch = tokio::select! {
            d = shard.next_event() => d,
            _ = tokio::signal::ctrl_c() => break,
        };
        let Some(dispatch) = dispatch else { break };
        let Some(target) = ReplyTarget::for_message(&dispatch.event) else { continue };
        let text = match &dispatch.event {
            Event::C2cMessageCreate(m) => m.content.trim().to_owned(),
            Event::GroupAtMessageCreate(m) => m.content.trim().to_owned(),
            Event::AtMessageCreate(m) | Event::DirectMessageCreate(m) => {
                m.content.trim().to_owned()
            }
            _ => continue,
        };
        println!("[QQ 用户 / user] {text}");
        let reply = format!("🦞 {text}");
        match replier.reply(&target, &reply, false).await {
            Ok(_) => println!("[机器人 / bot] {reply}"),
            Err(e) => eprintln!("回复失败：{}\nreply failed: {e}", e.explain_zh()),
        }
    }
    let health = shard.health();
    shard.shutdown().await;
    if let Some(fatal) = &health.borrow().fatal {
        eprintln!("{}\n{}", fatal.zh, fatal.en);
        std::process::exit(2);
    }
    if let Some(sim) = sim {
        sim.shutdown();
    }
}

async fn print_health(mut health: tokio::sync::watch::Receiver<ShardHealth>) {
    let mut last_state = None;
    while health.changed().await.is_ok() {
        let h = health.borrow_and_update().clone();
        if last_state != Some(h.state) {
            last_state = Some(h.state);
            let rtt = h
                .latest_rtt()
                .map(|d| format!(", heartbeat {} ms", d.as_millis()))
                .unwrap_or_default();
            let close = h
                .last_close
                .as_ref()
                .map(|c| format!(" — {} / {}", c.explain_zh(), c.explain_en()))
                .unwrap_or_default();
            println!("[连接 / gateway] {}{rtt}{close}", h.state);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
