//! QR binding against the QQ simulator over loopback HTTP.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pincer_qq::bind::{BindClient, BindError, BindProgress, BindStatus, BoundBot};
use pincer_qq::model::Intents;
use pincer_qq::token::{Credentials, TokenManager};
use pincer_sim::qq::{QqSim, QqSimConfig, SimApp};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const QR_PREFIX: &str = "https://q.qq.com/qqbot/openclaw/connect.html?task_id=";

fn new_bot() -> SimApp {
    SimApp {
        app_id: "102030".into(),
        secret: "fresh-Secret/+=秘".into(),
        granted_intents: Intents::GROUP_AND_C2C_EVENT,
        markdown: false,
    }
}

type Progress = Arc<Mutex<Vec<BindProgress>>>;

fn spawn_bind(
    sim: &QqSim,
    cancel: CancellationToken,
) -> (JoinHandle<Result<BoundBot, BindError>>, Progress) {
    let client = BindClient::new(reqwest::Client::new(), sim.bind_base());
    let progress: Progress = Arc::default();
    let seen = progress.clone();
    let handle =
        tokio::spawn(
            async move { client.bind(move |p| seen.lock().unwrap().push(p), cancel).await },
        );
    (handle, progress)
}

/// Waits (tokio time) until the sim knows `n` bind tasks.
async fn wait_for_tasks(sim: &QqSim, n: usize) -> Vec<String> {
    for _ in 0..600 {
        let tasks = sim.bind_tasks();
        if tasks.len() >= n {
            return tasks;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {n} bind tasks: {:?}", sim.bind_tasks());
}

async fn wait_for_progress(progress: &Progress, pred: impl Fn(&BindProgress) -> bool) {
    for _ in 0..600 {
        if progress.lock().unwrap().iter().any(&pred) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("progress never matched: {:?}", progress.lock().unwrap());
}

#[tokio::test(start_paused = true)]
async fn scan_and_confirm_yields_working_credentials() {
    let sim = QqSim::start(QqSimConfig::default()).await.unwrap();
    let (handle, progress) = spawn_bind(&sim, CancellationToken::new());
    let tasks = wait_for_tasks(&sim, 1).await;
    sim.bind_scan(&tasks[0]);
    wait_for_progress(&progress, |p| *p == BindProgress::Scanned).await;
    assert!(sim.bind_confirm(&tasks[0], new_bot(), "OWNER_OPENID"));
    let bot = handle.await.unwrap().unwrap();
    assert_eq!(bot.app_id, "102030", "a numeric bot_appid arrives as a string");
    assert_eq!(bot.app_secret.expose(), "fresh-Secret/+=秘");
    assert_eq!(bot.owner_openid.as_deref(), Some("OWNER_OPENID"));
    assert!(!format!("{bot:?}").contains("fresh-Secret"));

    let progress = progress.lock().unwrap().clone();
    match &progress[0] {
        BindProgress::QrReady { task_id, qr_url } => {
            assert_eq!(task_id, &tasks[0]);
            assert!(
                qr_url.starts_with(QR_PREFIX) && qr_url.ends_with("&source=Pincer&_wv=2"),
                "{qr_url}"
            );
        }
        other => panic!("first progress should be the QR code: {other:?}"),
    }
    assert_eq!(
        progress.iter().filter(|p| **p == BindProgress::Scanned).count(),
        1,
        "scanned is reported once"
    );

    // The create request carried a base64 32-byte key, never echoed anywhere.
    let create = sim.rest_log().into_iter().find(|r| r.path == "/lite/create_bind_task").unwrap();
    let key = create.body["key"].as_str().unwrap();
    use base64::Engine as _;
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(key).unwrap().len(), 32);
    // Polls are 2 s apart.
    let polls: Vec<_> =
        sim.rest_log().into_iter().filter(|r| r.path == "/lite/poll_bind_result").collect();
    assert!(polls.len() >= 2);
    assert!(polls.windows(2).all(|w| w[1].at - w[0].at >= Duration::from_secs(2)));

    // The bound credentials work at the token endpoint.
    let tokens = TokenManager::new(
        reqwest::Client::new(),
        sim.token_url(),
        Credentials { app_id: bot.app_id.clone(), secret: bot.app_secret.clone() },
    );
    tokens.token().await.expect("the bound bot gets a token");
}

#[tokio::test(start_paused = true)]
async fn an_expired_task_is_replaced_and_still_completes() {
    let sim = QqSim::start(QqSimConfig::default()).await.unwrap();
    let (handle, progress) = spawn_bind(&sim, CancellationToken::new());
    let first = wait_for_tasks(&sim, 1).await[0].clone();
    assert!(sim.bind_expire(&first));
    let tasks = wait_for_tasks(&sim, 2).await;
    assert_ne!(tasks[1], first);
    wait_for_progress(&progress, |p| matches!(p, BindProgress::Refreshed { .. })).await;
    let refreshed = progress.lock().unwrap().iter().find_map(|p| match p {
        BindProgress::Refreshed { task_id, qr_url } => Some((task_id.clone(), qr_url.clone())),
        _ => None,
    });
    let (task_id, qr_url) = refreshed.unwrap();
    assert_eq!(task_id, tasks[1]);
    assert!(qr_url.starts_with(QR_PREFIX) && qr_url.contains(&task_id));
    // Confirming the old task is impossible; the new one works.
    assert!(!sim.bind_confirm(&first, new_bot(), "OWNER"));
    assert!(sim.bind_confirm(&tasks[1], new_bot(), "OWNER"));
    let bot = handle.await.unwrap().unwrap();
    assert_eq!(bot.app_id, "102030");
    assert_eq!(sim.bind_tasks().len(), 2, "no extra tasks were created");
}

#[tokio::test(start_paused = true)]
async fn cancel_stops_the_flow() {
    let sim = QqSim::start(QqSimConfig::default()).await.unwrap();
    let cancel = CancellationToken::new();
    let (handle, _progress) = spawn_bind(&sim, cancel.clone());
    wait_for_tasks(&sim, 1).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    cancel.cancel();
    let result = handle.await.unwrap();
    assert!(matches!(result, Err(BindError::Cancelled)), "{result:?}");
    assert_eq!(BindError::Cancelled.explain_zh(), "已取消扫码绑定。");
    // No polling after the cancel.
    let polls = sim.rest_log().iter().filter(|r| r.path == "/lite/poll_bind_result").count();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(sim.rest_log().iter().filter(|r| r.path == "/lite/poll_bind_result").count(), polls);
}

#[tokio::test]
async fn single_steps_and_platform_errors() {
    let sim = QqSim::start(QqSimConfig::default()).await.unwrap();
    // The QR page stays on q.qq.com even though the API is the simulator.
    let client = BindClient::new(reqwest::Client::new(), sim.bind_base()).with_source("第三方 bot");
    let task = client.start().await.unwrap();
    assert!(task.qr_url.starts_with(QR_PREFIX), "{}", task.qr_url);
    assert!(
        task.qr_url.contains("&source=%E7%AC%AC%E4%B8%89%E6%96%B9%20bot&_wv=2"),
        "{}",
        task.qr_url
    );
    assert!(format!("{task:?}").contains("***"));
    assert_eq!(client.poll(&task).await.unwrap(), BindStatus::Waiting);
    sim.bind_scan(&task.task_id);
    assert_eq!(client.poll(&task).await.unwrap(), BindStatus::Scanned);
    sim.bind_expire(&task.task_id);
    assert_eq!(client.poll(&task).await.unwrap(), BindStatus::Expired);

    let mut unknown = task.clone();
    unknown.task_id = "no-such-task".into();
    let err = client.poll(&unknown).await.unwrap_err();
    assert!(matches!(err, BindError::Platform { retcode: 1001, .. }), "{err:?}");
    assert!(err.to_string().contains("task not found"));

    // Another key cannot decrypt the secret: a fresh task's key differs.
    let other = client.start().await.unwrap();
    sim.bind_confirm(&other.task_id, new_bot(), "OWNER");
    let mut wrong_key = client.start().await.unwrap();
    wrong_key.task_id = other.task_id.clone();
    assert!(matches!(client.poll(&wrong_key).await, Err(BindError::Decrypt(_))));
    match client.poll(&other).await.unwrap() {
        BindStatus::Completed(bot) => assert_eq!(bot.app_secret.expose(), "fresh-Secret/+=秘"),
        status => panic!("{status:?}"),
    }

    // An unreachable service is a network error.
    let dead = BindClient::new(reqwest::Client::new(), "http://127.0.0.1:9");
    assert!(matches!(dead.start().await, Err(BindError::Network(_))));
}
