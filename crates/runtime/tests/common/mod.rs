//! A fake chat platform for the supervisor tests, built on the public
//! `Channel`/`Connector` traits only, so it stands in for any platform the
//! way Feishu, DingTalk or WeCom will plug in.
// Each test binary compiles its own copy of this module and uses only part
// of it.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pincer_agent::engine::{Delivered, DeliveryError, ReplySink};
use pincer_agent::{Inbound, OutboundReply, Scene};
use pincer_runtime::channel::{
    Ack, Channel, ChannelError, ChannelHealth, ChannelState, Connector, InboundDelivery,
};
use pincer_runtime::config::{BotConfig, Config, ProviderConfig, ProviderKind};
use pincer_runtime::secrets::Secret;
use pincer_sim::provider::ProviderSim;
use tokio::sync::{mpsc, oneshot, watch};

/// What the fake platform saw, kept apart from the connector so that it
/// outlives each connection and a test can look at it across reconnects.
#[derive(Default)]
pub struct Record {
    /// Replies delivered, in the order they arrived.
    pub sent: Mutex<Vec<OutboundReply>>,
    /// Connections the supervisor shut down itself (not lost ones).
    pub shutdowns: AtomicU32,
    /// Ids of the messages whose replies the platform never answers.
    pub hang_on: Mutex<Vec<String>>,
    /// Delivery attempts that hung, counted as they start, so a test can
    /// tell "tried once and still waiting" from "never tried".
    pub hung: AtomicU32,
    /// Hanging deliveries given up by their caller (the future was dropped):
    /// the only sign that whoever was delivering has ended.
    pub abandoned: AtomicU32,
}

/// The platform's side of the connection: the connector the supervisor
/// calls, and the inbox a test pushes messages through as the platform would.
pub struct Fake {
    /// Connections made, to tell a reload that re-registers from one that
    /// reconnects.
    pub connects: AtomicU32,
    /// The sending end of the latest connection's messages; taking it out
    /// drops the connection as a lost platform link would.
    pub inbox: Mutex<Option<mpsc::Sender<InboundDelivery>>>,
    /// Shared with every channel this connector hands out.
    pub record: Arc<Record>,
    buffer: usize,
}

impl Fake {
    /// A platform whose connections buffer `buffer` messages: a small one
    /// stands in for a bounded shard, where nobody reading means the
    /// platform's messages wait.
    pub fn new(buffer: usize) -> Arc<Self> {
        Arc::new(Fake {
            connects: AtomicU32::new(0),
            inbox: Mutex::new(None),
            record: Arc::default(),
            buffer,
        })
    }

    /// Makes every delivery of a reply to `message_id` hang until its caller
    /// gives up, as a platform that never answers (or a full disk) would.
    pub fn hang_on(&self, message_id: &str) {
        self.record.hang_on.lock().unwrap().push(message_id.into());
    }

    /// Sends `inbound` as the platform would, once the supervisor has
    /// connected, and waits (5 s at most) for its ack, so a receive loop that
    /// stopped taking messages fails the test instead of hanging it.
    pub async fn deliver(&self, inbound: Inbound) -> bool {
        // Connecting runs beside the pick-up of earlier replies: a test that
        // waited for one has not necessarily seen the other.
        until("connected", || self.inbox.lock().unwrap().is_some()).await;
        let inbox = self.inbox.lock().unwrap().clone().expect("connected");
        let (done, acked) = oneshot::channel();
        let id = inbound.message_id.clone();
        tokio::time::timeout(Duration::from_secs(5), async move {
            inbox.send(InboundDelivery { inbound, ack: Ack::new(done) }).await.unwrap();
            acked.await.unwrap()
        })
        .await
        .unwrap_or_else(|_| panic!("{id} was not taken within 5 s"))
    }
}

/// One connection handed to the supervisor.
pub struct FakeChannel {
    health: watch::Receiver<ChannelHealth>,
    // Kept so the health never reads as closed while the channel lives.
    _health_tx: watch::Sender<ChannelHealth>,
    sink: Arc<FakeSink>,
}

/// Where the supervisor's replies go: recorded, or hung on request.
pub struct FakeSink(Arc<Record>);

/// Counts a hanging delivery when its caller drops it, the only way to see
/// that a delivery that never ends was given up.
struct Abandoned<'a>(&'a AtomicU32);

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl ReplySink for FakeSink {
    async fn deliver(&self, reply: &OutboundReply) -> Result<Delivered, DeliveryError> {
        if self.0.hang_on.lock().unwrap().contains(&reply.reply_to_message_id) {
            self.0.hung.fetch_add(1, Ordering::SeqCst);
            let _abandoned = Abandoned(&self.0.abandoned);
            std::future::pending::<()>().await;
        }
        self.0.sent.lock().unwrap().push(reply.clone());
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
    async fn shutdown(self: Box<Self>) {
        self.sink.0.shutdowns.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl Connector for Fake {
    async fn connect(
        &self,
        _bot: &BotConfig,
        secret: Secret,
    ) -> Result<(Box<dyn Channel>, mpsc::Receiver<InboundDelivery>), ChannelError> {
        // Refused, as a real platform would, so a test sees whether the
        // supervisor passed on the bot's secret.
        if secret.expose() != "fake-secret" {
            return Err(ChannelError {
                transient: false,
                en: "wrong secret".into(),
                zh: "密钥错误".into(),
            });
        }
        self.connects.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = mpsc::channel(self.buffer);
        *self.inbox.lock().unwrap() = Some(tx);
        let (health_tx, health) = watch::channel(ChannelHealth {
            identifies: 1,
            keepalive_rtts_ms: vec![12.0],
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

/// A bot on the `sim` provider, parsed from TOML as a user would write it,
/// so its secret comes from `PINCER_SECRET_BOT_<NAME>_APP_SECRET`.
pub fn bot(name: &str, app_id: &str) -> BotConfig {
    let mut config: Config = Config::parse(
        &format!("[[bot]]\nname = \"{name}\"\napp_id = \"{app_id}\"\nprovider = \"sim\"\n"),
        std::path::Path::new("c.toml"),
    )
    .unwrap()
    .config;
    config.bots.remove(0)
}

/// A private (C2C) message from user `U1` to the bot `app_id`.
pub fn c2c(app_id: &str, message_id: &str, text: &str) -> Inbound {
    Inbound {
        bot: app_id.into(),
        message_id: message_id.into(),
        scene: Scene::C2c { user: "U1".into() },
        text: text.into(),
    }
}

/// Polls `f` for up to 5 s: the supervisor works on its own tasks, so what a
/// test waits for shows up some time later, not at a known point.
pub async fn until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The provider simulator, started with the API key the tests' secrets hold
/// (`PINCER_SECRET_PROVIDER_SIM_API_KEY`, set here too).
pub async fn model_sim() -> ProviderSim {
    std::env::set_var("PINCER_SECRET_PROVIDER_SIM_API_KEY", "sim-key");
    let model = ProviderSim::start().await.unwrap();
    model.set_api_key(Some("sim-key"));
    model
}

/// Provider `sim`: `model` as an OpenAI-compatible endpoint.
pub fn sim_provider(model: &ProviderSim) -> ProviderConfig {
    ProviderConfig {
        id: "sim".into(),
        kind: ProviderKind::OpenAi,
        preset: None,
        base_url: format!("{}/v1", model.base_url()),
        model: "sim-model".into(),
    }
}
