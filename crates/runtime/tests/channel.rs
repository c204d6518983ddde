//! The supervisor over a channel that is not QQ: a fake platform built on
//! the public `Channel`/`Connector` traits only, as Feishu, DingTalk or WeCom
//! will be. Messages reach the agent and are acked once stored; replies go
//! out through the channel's sink; health maps to the status; events flow;
//! a reload re-registers without reconnecting, reconnects when the
//! platform settings change, and stops removed bots.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{bot, c2c, model_sim, sim_provider, until, Fake};
use pincer_runtime::channel::{Ack, InboundDelivery};
use pincer_runtime::config::{BotConfig, Config};
use pincer_runtime::events::RuntimeEvent;
use pincer_runtime::paths::PincerPaths;
use pincer_runtime::secrets::Secrets;
use pincer_runtime::supervisor::Supervisor;
use tokio::sync::oneshot;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supervisor_drives_any_channel_and_reloads_live() {
    std::env::set_var("PINCER_SECRET_BOT_FAKE_APP_SECRET", "fake-secret");
    let model = model_sim().await;
    let home = tempfile::tempdir().unwrap();
    let paths = PincerPaths::under(home.path());
    paths.create().unwrap();
    let mut config = Config::default();
    config.providers.push(sim_provider(&model));
    config.bots.push(bot("fake", "A1"));
    let fake = Fake::new(8);
    let record = fake.record.clone();
    let supervisor = Supervisor::start_with(
        paths,
        config.clone(),
        Secrets::new(format!("app.pincer.test.channel.{}", std::process::id())),
        fake.clone(),
    )
    .await
    .unwrap();
    let mut events = supervisor.events().subscribe();
    let mut status = supervisor.status().await;
    for _ in 0..200 {
        if status[0].state == "ready" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        status = supervisor.status().await;
    }
    assert_eq!((status[0].state, status[0].identifies), ("ready", 1));
    assert_eq!(status[0].heartbeat_rtt_ms, Some(12.0));

    // A message in, acked once stored; the reply out through the channel's sink.
    let inbox = fake.inbox.lock().unwrap().clone().unwrap();
    let (done, acked) = oneshot::channel();
    let inbound = c2c("A1", "m1", "你好");
    inbox.send(InboundDelivery { inbound, ack: Ack::new(done) }).await.unwrap();
    assert!(acked.await.unwrap(), "acked as handled");
    until("the reply", || !record.sent.lock().unwrap().is_empty()).await;
    assert_eq!(record.sent.lock().unwrap()[0].text, "echo: 你好");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await.unwrap().unwrap() {
            RuntimeEvent::MessageIn { text, .. } => seen.push(format!("in {text}")),
            RuntimeEvent::ReplyOut { text, .. } => seen.push(format!("out {text}")),
            _ => {}
        }
    }
    assert_eq!(seen, ["in 你好", "out echo: 你好"]);

    // A new model: re-registered, same connection.
    config.bots[0].model = Some("sim-reasoner".into());
    let report = supervisor.reload(config.clone()).await;
    assert_eq!(report.updated, ["fake"]);
    assert_eq!(fake.connects.load(Ordering::SeqCst), 1);
    let (done, acked) = oneshot::channel();
    let inbound = c2c("A1", "m2", "again");
    inbox.send(InboundDelivery { inbound, ack: Ack::new(done) }).await.unwrap();
    acked.await.unwrap();
    until("the second reply", || record.sent.lock().unwrap().len() == 2).await;
    assert_eq!(model.requests().last().unwrap().body["model"], "sim-reasoner");

    // Nothing changed: nothing happens.
    let report = supervisor.reload(config.clone()).await;
    assert!(report.updated.is_empty() && report.restarted.is_empty(), "{report:?}");

    // New platform settings: a new connection.
    config.bots[0] = BotConfig { model: Some("sim-reasoner".into()), ..bot("fake", "A2") };
    let report = supervisor.reload(config.clone()).await;
    assert_eq!(report.restarted, ["fake"]);
    until("reconnected", || fake.connects.load(Ordering::SeqCst) == 2).await;
    assert_eq!(record.shutdowns.load(Ordering::SeqCst), 1);

    // Removed: stopped.
    config.bots.clear();
    let report = supervisor.reload(config.clone()).await;
    assert_eq!(report.stopped, ["fake"]);
    assert!(supervisor.status().await.is_empty());
    assert_eq!(record.shutdowns.load(Ordering::SeqCst), 2);
    supervisor.shutdown().await;
}

#[test]
fn a_dropped_ack_counts_as_failed() {
    let (tx, mut rx) = oneshot::channel();
    drop(Ack::new(tx));
    assert_eq!(rx.try_recv(), Ok(false));
    let (tx, mut rx) = oneshot::channel();
    Ack::new(tx).done();
    assert_eq!(rx.try_recv(), Ok(true));
    Ack::none().failed();
}
