//! The gateway shard (spec §3): one WebSocket session that identifies or
//! resumes, heartbeats at the server's interval, detects a dead connection,
//! follows the close-code table, backs off, and publishes its health.
//!
//! A [`Shard`] runs as its own task. The owner takes dispatches from it with
//! [`Shard::next_event`] (a bounded queue: a slow consumer pauses reading from
//! the socket, never the heartbeat) and watches [`ShardHealth`] for the
//! dashboard, tray and CLI.

mod backoff;
mod config;
mod health;
mod identify_queue;
mod shard;

pub use backoff::Backoff;
pub use config::{plan_shards, ShardConfig, ShardPlan, ShardPlanError};
pub use health::{CloseRecord, FatalReason, ShardHealth, ShardState};
pub use identify_queue::IdentifyQueue;
pub use shard::{Session, Shard, ShardHandle};
