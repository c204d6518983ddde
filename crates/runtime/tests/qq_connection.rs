//! A bot's QQ connection against the QQ simulator: credentials checked up
//! front, sessions saved and resumed across restarts, nothing handled twice
//! or lost.

use std::time::Duration;

use pincer_qq::model::{Event, Intents};
use pincer_runtime::config::{BotConfig, QqEnvironment};
use pincer_runtime::qq_connection::{ConnectError, Delivery, QqConnection};
use pincer_runtime::secrets::Secret;
use pincer_sim::qq::{QqSim, QqSimConfig, SimApp};
use tokio::sync::mpsc;

const APP: &str = "303030";
const SECRET: &str = "runtime-secret-xyz";

fn bot(sim: &QqSim) -> BotConfig {
    BotConfig {
        name: "xiaoqian".into(),
        app_id: APP.into(),
        environment: QqEnvironment::Production,
        api_base: Some(sim.api_base()),
        token_url: Some(sim.token_url()),
        intents: Intents::GROUP_AND_C2C_EVENT,
        persona: String::new(),
        provider: None,
        model: None,
        skills: vec![],
        allowed_groups: vec![],
        allowed_users: vec![],
        owner: None,
        daily_token_cap: None,
        daily_cost_cap: None,
        enabled: true,
    }
}

async fn sim() -> QqSim {
    let sim = QqSim::start(QqSimConfig::default()).await.unwrap();
    sim.add_app(SimApp {
        app_id: APP.into(),
        secret: SECRET.into(),
        granted_intents: Intents::GROUP_AND_C2C_EVENT,
        markdown: false,
    });
    sim
}

async fn next_message(rx: &mut mpsc::Receiver<Delivery>) -> (String, Delivery) {
    loop {
        let d = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
        if let Some(id) = d.dispatch.event.message_id() {
            return (id.to_owned(), d);
        }
        d.done();
    }
}

#[tokio::test]
async fn a_wrong_app_secret_is_refused_with_qqs_reason() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let err =
        QqConnection::connect(&bot(&sim), Secret::new("wrong"), dir.path(), reqwest::Client::new())
            .await
            .unwrap_err();
    assert!(matches!(err, ConnectError::Qq { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("xiaoqian") && text.contains("AppSecret"), "{text}");
    assert!(err.explain_zh().contains("AppSecret"), "{}", err.explain_zh());
    assert!(!text.contains("wrong"), "the secret is not echoed");
    assert_eq!(sim.connections(APP), 0);
}

#[tokio::test]
async fn a_restart_resumes_and_redelivers_only_what_was_not_handled() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (conn, mut rx) =
        QqConnection::connect(&bot(&sim), Secret::new(SECRET), dir.path(), http.clone())
            .await
            .unwrap();
    assert!(!conn.user().id.is_empty());
    let a = sim.inject_c2c_message(APP, "U", "a").msg_id.unwrap();
    let (id, d) = next_message(&mut rx).await;
    assert_eq!(id, a);
    d.done();
    conn.shutdown().await;
    let saved =
        std::fs::read_to_string(dir.path().join("bots/xiaoqian/gateway-session-0.json")).unwrap();
    assert!(saved.contains(&sim.session_id(APP).unwrap()), "{saved}");

    // Messages that arrive while Pincer is down.
    let b = sim.inject_c2c_message(APP, "U", "b").msg_id.unwrap();
    let c = sim.inject_group_at_message(APP, "G", "M", "c").msg_id.unwrap();

    let (conn, mut rx) =
        QqConnection::connect(&bot(&sim), Secret::new(SECRET), dir.path(), http).await.unwrap();
    let (id, d) = next_message(&mut rx).await;
    assert_eq!(id, b);
    d.done();
    let (id, d) = next_message(&mut rx).await;
    assert_eq!(id, c);
    d.done();
    let resumed = loop {
        let d = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
        let is_resumed = matches!(d.dispatch.event, Event::Resumed);
        d.done();
        if is_resumed {
            break true;
        }
    };
    assert!(resumed);
    assert_eq!((sim.identifies(APP), sim.resumes(APP)), (1, 1));
    conn.shutdown().await;
}
