//! The QQ Open Platform bot API v2, as Pincer's connector uses it.
//!
//! - [`bind`]: QR binding: scan with mobile QQ, receive a bot's AppID and AppSecret.
//! - [`gateway`]: the WebSocket shard: identify, resume, heartbeat, close codes, health.
//! - [`http`]: the REST client: sends, uploads, gateway discovery, typed errors, retries.
//! - [`model`]: serde types for gateway frames, events and REST bodies.
//! - [`outbound`]: the [`Replier`](outbound::Replier): an answer as chunked passive replies with fallbacks.
//! - [`reply`]: passive-reply windows, budgets and restart-safe `msg_seq` per inbound message.
//! - [`text`]: splitting long text at safe boundaries; markdown to plain text.
//! - [`token`]: the app access token, cached and refreshed ahead of expiry.
//! - `webhook` (feature `webhook`): Ed25519 callback signatures, op 13 validation, op 12 ACK.
//!
//! Everything follows `qq-bot-protocol.md`; where that spec marks a behaviour
//! UNVERIFIED the behaviour is configurable and defaults to the safe choice.

pub mod bind;
pub mod gateway;
pub mod http;
pub mod model;
pub mod outbound;
pub mod reply;
pub mod text;
pub mod token;
#[cfg(feature = "webhook")]
pub mod webhook;
