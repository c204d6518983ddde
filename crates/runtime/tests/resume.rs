//! What an earlier process left (a reply still pending in the outbox) is
//! picked up beside the bot's receive loop, not before it: a delivery that
//! hangs (a full disk, a platform that does not answer, retries with long
//! backoff) must not stop new messages from being taken and answered. The
//! pick-up runs once per run of the bot, not again on every reconnect, and
//! ends with the bot.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{bot, c2c, model_sim, sim_provider, until, Fake};
use pincer_agent::store::Commit;
use pincer_agent::Store;
use pincer_runtime::config::Config;
use pincer_runtime::paths::PincerPaths;
use pincer_runtime::secrets::Secrets;
use pincer_runtime::supervisor::Supervisor;

/// The message the earlier process answered but could not deliver.
const OLD: &str = "old-message";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_pending_reply_does_not_stop_new_messages() {
    std::env::set_var("PINCER_SECRET_BOT_RESUMER_APP_SECRET", "fake-secret");
    let model = model_sim().await;
    let home = tempfile::tempdir().unwrap();
    let paths = PincerPaths::under(home.path());
    paths.create().unwrap();

    // The earlier process: a message answered, its reply still pending.
    {
        let store = Store::open(paths.data_dir.join("pincer.sqlite3")).await.unwrap();
        let old = c2c("R1", OLD, "before the restart");
        assert!(store.record_inbound(&old, "new").await.unwrap());
        let commit =
            Commit { turns: Vec::new(), chunks: vec!["the old answer".into()], markdown: false };
        assert_eq!(store.commit_answer(&old, commit).await.unwrap().len(), 1);
        assert_eq!(store.pending_replies(Some("R1")).await.unwrap().len(), 1);
    }

    let mut config = Config::default();
    config.providers.push(sim_provider(&model));
    config.bots.push(bot("resumer", "R1"));
    // A small buffer, as the QQ shard's is bounded: nobody reading it means
    // the platform's messages wait.
    let fake = Fake::new(2);
    fake.hang_on(OLD);
    let record = fake.record.clone();
    let supervisor = Supervisor::start_with(
        paths,
        config,
        Secrets::new(format!("app.pincer.test.resume.{}", std::process::id())),
        fake.clone(),
    )
    .await
    .unwrap();

    // The old reply's delivery starts, and hangs.
    until("the old reply's delivery", || record.hung.load(Ordering::SeqCst) == 1).await;

    // New messages are taken (more than the channel's buffer holds) and
    // answered meanwhile.
    for i in 0..4 {
        let id = format!("new-{i}");
        assert!(fake.deliver(c2c("R1", &id, &format!("hello {i}"))).await, "{id} acked as handled");
    }
    until("the new answers", || record.sent.lock().unwrap().len() == 4).await;
    let sent: Vec<(String, String)> = record
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|reply| (reply.reply_to_message_id.clone(), reply.text.clone()))
        .collect();
    for i in 0..4 {
        let id = format!("new-{i}");
        assert!(
            sent.contains(&(id.clone(), format!("echo: hello {i}"))),
            "{id} answered: {sent:?}"
        );
    }

    // The platform connection is lost and comes back: the earlier process's
    // leftovers are not picked up a second time.
    drop(fake.inbox.lock().unwrap().take());
    until("reconnected", || fake.connects.load(Ordering::SeqCst) == 2).await;
    assert!(fake.deliver(c2c("R1", "after-reconnect", "again")).await);
    until("the answer after the reconnect", || record.sent.lock().unwrap().len() == 5).await;
    assert_eq!(record.hung.load(Ordering::SeqCst), 1, "one pick-up per run");
    assert_eq!(record.abandoned.load(Ordering::SeqCst), 0, "still delivering");

    // Pausing the bot ends the pick-up with it (it would hang forever).
    let paused = tokio::time::timeout(Duration::from_secs(5), supervisor.pause("resumer")).await;
    assert_eq!(paused.ok(), Some(true), "paused promptly");
    until("the hanging delivery abandoned", || record.abandoned.load(Ordering::SeqCst) == 1).await;
    assert!(record.sent.lock().unwrap().iter().all(|reply| reply.reply_to_message_id != OLD));
    supervisor.shutdown().await;
}
