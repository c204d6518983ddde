//! What an earlier process left (a reply still pending in the outbox) is
//! picked up beside the bot's receive loop, not before it: a delivery that
//! hangs (a full disk, a platform that does not answer, retries with long
//! backoff) must not stop new messages from being taken and answered. The
//! pick-up runs once per run of the bot, not again on every reconnect, and
//! ends with the bot.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pincer_agent::engine::{Delivered, DeliveryError, ReplySink};
use pincer_agent::store::Commit;
use pincer_agent::{Inbound, OutboundReply, Scene, Store};
use pincer_runtime::channel::{
    Ack, Channel, ChannelError, ChannelHealth, ChannelState, Connector, InboundDelivery,
};
use pincer_runtime::config::{BotConfig, Config, ProviderConfig, ProviderKind};
use pincer_runtime::paths::PincerPaths;
use pincer_runtime::secrets::{Secret, Secrets};
use pincer_runtime::supervisor::Supervisor;
use pincer_sim::provider::ProviderSim;
use tokio::sync::{mpsc, oneshot, watch};

/// The message the earlier process answered but could not deliver.
const OLD: &str = "old-message";

/// What the fake platform saw.
#[derive(Default)]
struct Record {
    /// Delivery attempts of the old reply (each one hangs).
    old_attempts: AtomicU32,
    /// Hanging deliveries given up by their caller (the future was dropped).
    old_abandoned: Arc<AtomicU32>,
    /// Replies delivered, by the message they answer.
    sent: Mutex<Vec<(String, String)>>,
}

#[derive(Default)]
struct Fake {
    connects: AtomicU32,
    inbox: Mutex<Option<mpsc::Sender<InboundDelivery>>>,
    record: Arc<Record>,
}

struct FakeChannel {
    health: watch::Receiver<ChannelHealth>,
    _health_tx: watch::Sender<ChannelHealth>,
    sink: Arc<FakeSink>,
}

struct FakeSink(Arc<Record>);

/// Counts a hanging delivery that its caller dropped.
struct Abandoned(Arc<AtomicU32>);

impl Drop for Abandoned {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl ReplySink for FakeSink {
    async fn deliver(&self, reply: &OutboundReply) -> Result<Delivered, DeliveryError> {
        if reply.reply_to_message_id == OLD {
            // A platform that never answers this one.
            self.0.old_attempts.fetch_add(1, Ordering::SeqCst);
            let _abandoned = Abandoned(self.0.old_abandoned.clone());
            std::future::pending::<()>().await;
        }
        self.0.sent.lock().unwrap().push((reply.reply_to_message_id.clone(), reply.text.clone()));
        Ok(Delivered::default())
    }
}

#[async_trait::async_trait]
impl Channel for FakeChannel {
    fn platform(&self) -> &'static str {
        "fake"
    }
    fn health(&self) -> watch::Receiver<ChannelHealth> {
        self.health.clone()
    }
    fn sink(&self) -> Arc<dyn ReplySink> {
        self.sink.clone()
    }
    async fn shutdown(self: Box<Self>) {}
}

#[async_trait::async_trait]
impl Connector for Fake {
    async fn connect(
        &self,
        _bot: &BotConfig,
        _secret: Secret,
    ) -> Result<(Box<dyn Channel>, mpsc::Receiver<InboundDelivery>), ChannelError> {
        self.connects.fetch_add(1, Ordering::SeqCst);
        // A small buffer, as the QQ shard's is bounded: nobody reading it
        // means the platform's messages wait.
        let (tx, rx) = mpsc::channel(2);
        *self.inbox.lock().unwrap() = Some(tx);
        let (health_tx, health) = watch::channel(ChannelHealth {
            identifies: 1,
            ..ChannelHealth::new(ChannelState::Ready)
        });
        let channel = FakeChannel {
            health,
            _health_tx: health_tx,
            sink: Arc::new(FakeSink(self.record.clone())),
        };
        Ok((Box::new(channel), rx))
    }
}

fn c2c(message_id: &str, text: &str) -> Inbound {
    Inbound {
        bot: "R1".into(),
        message_id: message_id.into(),
        scene: Scene::C2c { user: "U1".into() },
        text: text.into(),
    }
}

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Sends `inbound` as the platform would and waits (5 s at most) for its ack.
async fn deliver(fake: &Fake, inbound: Inbound) -> bool {
    let inbox = fake.inbox.lock().unwrap().clone().expect("connected");
    let (done, acked) = oneshot::channel();
    let id = inbound.message_id.clone();
    tokio::time::timeout(Duration::from_secs(5), async move {
        inbox.send(InboundDelivery { inbound, ack: Ack::new(done) }).await.unwrap();
        acked.await.unwrap()
    })
    .await
    .unwrap_or_else(|_| panic!("{id} was not taken within 5 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_pending_reply_does_not_stop_new_messages() {
    std::env::set_var("PINCER_SECRET_BOT_RESUMER_APP_SECRET", "fake-secret");
    std::env::set_var("PINCER_SECRET_PROVIDER_SIM_API_KEY", "sim-key");
    let model = ProviderSim::start().await.unwrap();
    model.set_api_key(Some("sim-key"));
    let home = tempfile::tempdir().unwrap();
    let paths = PincerPaths::under(home.path());
    paths.create().unwrap();

    // The earlier process: a message answered, its reply still pending.
    {
        let store = Store::open(paths.data_dir.join("pincer.sqlite3")).await.unwrap();
        let old = c2c(OLD, "before the restart");
        assert!(store.record_inbound(&old, "new").await.unwrap());
        let commit =
            Commit { turns: Vec::new(), chunks: vec!["the old answer".into()], markdown: false };
        assert_eq!(store.commit_answer(&old, commit).await.unwrap().len(), 1);
        assert_eq!(store.pending_replies(Some("R1")).await.unwrap().len(), 1);
    }

    let mut config = Config::default();
    config.providers.push(ProviderConfig {
        id: "sim".into(),
        kind: ProviderKind::OpenAi,
        preset: None,
        base_url: format!("{}/v1", model.base_url()),
        model: "sim-model".into(),
    });
    config.bots.push(
        Config::parse(
            "[[bot]]\nname = \"resumer\"\napp_id = \"R1\"\nprovider = \"sim\"\n",
            std::path::Path::new("c.toml"),
        )
        .unwrap()
        .config
        .bots
        .remove(0),
    );
    let fake = Arc::new(Fake::default());
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
    until("the old reply's delivery", || record.old_attempts.load(Ordering::SeqCst) == 1).await;

    // New messages are taken (more than the channel's buffer holds) and
    // answered meanwhile.
    for i in 0..4 {
        let id = format!("new-{i}");
        assert!(deliver(&fake, c2c(&id, &format!("hello {i}"))).await, "{id} acked as handled");
    }
    until("the new answers", || record.sent.lock().unwrap().len() == 4).await;
    let sent = record.sent.lock().unwrap().clone();
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
    assert!(deliver(&fake, c2c("after-reconnect", "again")).await);
    until("the answer after the reconnect", || record.sent.lock().unwrap().len() == 5).await;
    assert_eq!(record.old_attempts.load(Ordering::SeqCst), 1, "one pick-up per run");
    assert_eq!(record.old_abandoned.load(Ordering::SeqCst), 0, "still delivering");

    // Pausing the bot ends the pick-up with it (it would hang forever).
    let paused = tokio::time::timeout(Duration::from_secs(5), supervisor.pause("resumer")).await;
    assert_eq!(paused.ok(), Some(true), "paused promptly");
    until("the hanging delivery abandoned", || record.old_abandoned.load(Ordering::SeqCst) == 1)
        .await;
    assert!(record.sent.lock().unwrap().iter().all(|(id, _)| id != OLD));
    supervisor.shutdown().await;
}
