//! Pincer's runtime host, shared by the desktop app and the headless
//! `pincer` daemon.
//!
//! - [`paths`]: where config, data and logs live (`PINCER_HOME` or the OS folders).
//! - [`control`]: the local socket `pincer status` talks to.
//! - [`config`]: `config.toml`, versioned, migrated, written atomically, secret-free.
//! - [`qq_connection`]: one QQ bot's connection: checked credentials, shards, saved sessions.
//! - [`secrets`]: the OS keyring, with `PINCER_SECRET_<NAME>` overrides.
//! - [`supervisor`]: runs every bot (QQ connection → agent → replies) and reports status.

pub mod config;
pub mod control;
pub mod paths;
pub mod qq_connection;
pub mod secrets;
pub mod supervisor;
