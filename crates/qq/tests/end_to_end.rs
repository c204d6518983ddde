//! The whole connector path over real loopback HTTP and WebSocket against
//! the simulator: token → `/gateway/bot` → shard plan → shard → inbound
//! message → passive reply → the simulator records it. Also proves that no
//! secret reaches the logs.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pincer_qq::gateway::{plan_shards, Shard};
use pincer_qq::http::RestClient;
use pincer_qq::model::{Event, Intents};
use pincer_qq::outbound::{Replier, ReplyTarget};
use pincer_qq::reply::{ReplyLedger, ReplyPolicy};
use pincer_qq::token::{Credentials, Secret, TokenManager};
use pincer_sim::qq::{QqSim, QqSimConfig, Scene, SimApp};

const APP: &str = "1100220033";
const SECRET: &str = "e2e-app-secret-0123456789";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An echo bot: answers every message with its text, until `expected` replies went out.
async fn echo(shard: &mut Shard, replier: &Replier, expected: usize) {
    let mut replied = 0;
    while replied < expected {
        let dispatch = tokio::time::timeout(Duration::from_secs(20), shard.next_event())
            .await
            .expect("events keep coming")
            .expect("shard running");
        let Some(target) = ReplyTarget::for_message(&dispatch.event) else { continue };
        let text = match &dispatch.event {
            Event::C2cMessageCreate(m) => m.content.trim().to_owned(),
            Event::GroupAtMessageCreate(m) => m.content.trim().to_owned(),
            _ => continue,
        };
        replier.reply(&target, &format!("echo: {text}"), false).await.expect("reply sent");
        replied += 1;
    }
}

#[tokio::test]
async fn a_qq_message_gets_a_reply_through_the_whole_connector() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sim = QqSim::start(QqSimConfig {
        heartbeat_interval: Duration::from_millis(300),
        reconnect_close_delay: Duration::from_millis(20),
        ..QqSimConfig::default()
    })
    .await
    .unwrap();
    sim.add_app(SimApp {
        app_id: APP.into(),
        secret: SECRET.into(),
        granted_intents: Intents::GROUP_AND_C2C_EVENT,
        markdown: false,
    });

    let http = reqwest::Client::new();
    let tokens = Arc::new(TokenManager::new(
        http.clone(),
        sim.token_url(),
        Credentials { app_id: APP.into(), secret: Secret::new(SECRET) },
    ));
    let rest = RestClient::new(http, sim.api_base(), tokens.clone());
    let plan = plan_shards(&rest.gateway_bot().await.unwrap(), None).unwrap();
    assert_eq!(plan.shard_count, 1);
    let mut config = plan.shard_config(0, Intents::GROUP_AND_C2C_EVENT);
    config.min_heartbeat_interval = Duration::from_millis(50);
    let mut shard = Shard::spawn(config, tokens.clone());
    let replier = Replier::new(rest, Arc::new(ReplyLedger::in_memory(ReplyPolicy::default())));

    let c2c = sim.inject_c2c_message(APP, "USER_OPENID_1", "你好，钳子");
    let group = sim.inject_group_at_message(APP, "GROUP_OPENID_1", "MEMBER_1", "ping");
    echo(&mut shard, &replier, 2).await;

    // A routine rotation in the middle of a conversation loses nothing.
    sim.send_reconnect(APP);
    let after = sim.inject_c2c_message(APP, "USER_OPENID_1", "still there?");
    echo(&mut shard, &replier, 1).await;

    let sends = sim.wait_for_sends(3, Duration::from_secs(5)).await;
    assert_eq!(sends.len(), 3);
    assert_eq!(sends[0].scene, Scene::C2c { openid: "USER_OPENID_1".into() });
    assert_eq!(sends[0].body["content"], "echo: 你好，钳子");
    assert_eq!(sends[0].msg_id, c2c.msg_id);
    assert_eq!(sends[0].msg_seq, 1);
    assert_eq!(sends[1].scene, Scene::Group { group_openid: "GROUP_OPENID_1".into() });
    assert_eq!(sends[1].body["content"], "echo: ping");
    assert_eq!(sends[1].msg_id, group.msg_id);
    assert_eq!(sends[2].body["content"], "echo: still there?");
    assert_eq!(sends[2].msg_id, after.msg_id);
    assert_eq!((sim.identifies(APP), sim.resumes(APP)), (1, 1));
    shard.shutdown().await;

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("fetched QQ access token"), "the logs were captured: {logs}");
    let access_token = sim.current_token(APP).expect("a token was issued");
    assert!(!logs.contains(SECRET), "the AppSecret leaked into the logs");
    assert!(!logs.contains(&access_token), "the access token leaked into the logs");
}
