//! Pincer's agent: conversations per bot and scene, model providers, the tool
//! loop, a durable store, usage and cost.
//!
//! - [`provider`]: the model-provider interface and its implementations.
//! - [`scene`]: conversation keys `(bot, scene)` and inbound messages.
//! - [`store`]: the SQLite store: inbound de-duplication, reply outbox,
//!   history, audits, usage per bot per day, prices, retention.
//! - [`context`]: token estimates, history trimming, personas, summaries.
//! - [`tools`]: the tool interface and the built-ins `read`, `web_fetch`, `exec`.
//! - [`engine`]: the processing engine: ordering, back-pressure, rate limits,
//!   daily caps, the tool loop, delivery through a [`engine::ReplySink`].
//! - [`qq_sink`]: the [`engine::ReplySink`] over `pincer_qq`'s `Replier`.

pub mod context;
pub mod engine;
pub mod provider;
pub mod qq_sink;
pub mod scene;
pub mod store;
pub mod tools;

pub use engine::{
    BotConfig, BotStatus, Delivered, DeliveryError, Engine, EngineConfig, EngineError, ModelConfig,
    RateLimit, ReplySink, Submitted, UserTexts,
};
pub use scene::{ConversationKey, Inbound, Scene};
pub use store::{OutboundReply, Price, Store, StoreError, UsageEntry, UsageRow};
