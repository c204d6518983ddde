//! Simulators for Pincer's tests, development and demos.
//!
//! - [`qq`]: an in-process (or stand-alone, see the `pincer-sim` binary) QQ Open
//!   Platform server: token endpoint, REST API, WebSocket gateway, QR binding
//!   and a fault-injection / observation API, following `qq-bot-protocol.md`.
//!
//! Every timer in the simulators runs on tokio's clock, so tests may use
//! `#[tokio::test(start_paused = true)]` to drive heartbeats, rotations, resume
//! windows, token lifetimes and reply windows without waiting.

pub mod qq;
