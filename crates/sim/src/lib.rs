//! Simulators for Pincer's tests, development and demos.
//!
//! - [`qq`]: an in-process (or stand-alone, see the `pincer-sim` binary) QQ Open
//!   Platform server: token endpoint, REST API, WebSocket gateway, QR binding
//!   and a fault-injection / observation API, following `qq-bot-protocol.md`.
//! - [`provider`]: a model-provider server speaking the OpenAI-compatible and
//!   Anthropic chat shapes plus Ollama / LM Studio discovery, with scripted
//!   replies and injected faults.
//! - [`registry`]: a ClawHub skill registry (search, detail, versions, deterministic
//!   ZIP downloads, fingerprint resolution) with moderation flags and faults.
//!
//! - [`load`]: `pincer-sim load`, which drives the real `pincer run` with the
//!   QQ and provider simulators and reports throughput, lost and doubled
//!   answers, runtime overhead per message, RSS and CPU.
//!
//! Every timer in the simulators runs on tokio's clock, so tests may use
//! `#[tokio::test(start_paused = true)]` to drive heartbeats, rotations, resume
//! windows, token lifetimes and reply windows without waiting.

pub mod load;
pub mod provider;
pub mod qq;
pub mod registry;
