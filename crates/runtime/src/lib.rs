//! Pincer's runtime host, shared by the desktop app and the headless
//! `pincer` daemon.
//!
//! - [`paths`]: where config, data and logs live (`PINCER_HOME` or the OS folders).
//! - [`control`]: the local socket `pincer status` talks to.
//! - [`config`]: `config.toml`, versioned, migrated, written atomically, secret-free.
//! - [`qq_connection`]: one QQ bot's connection: checked credentials, shards, saved sessions.
//! - [`secrets`]: the OS keyring, with `PINCER_SECRET_<NAME>` overrides.
//! - [`skills`]: which skills each bot has and what its agent gets from them.
//! - [`channel`]: the chat-platform seam (QQ now; Feishu, DingTalk, WeCom later).
//! - [`events`]: the runtime event stream (status changes, messages, replies, warnings).
//! - [`watchdog`]: the daemon's own memory, CPU and log size.
//! - [`supervisor`]: runs every bot (QQ connection → agent → replies) and reports status.

pub mod channel;
pub mod config;
pub mod control;
pub mod error;
pub mod events;
pub mod paths;
pub mod qq_connection;
pub mod secrets;
pub mod setup;
pub mod skills;
pub mod supervisor;
pub mod watchdog;
