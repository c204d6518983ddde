//! Configuration of the QQ simulator and of the apps it knows.

use std::time::Duration;

use pincer_qq::model::Intents;

/// What the gateway does when a Resume names an unknown or expired session
/// (spec §9 item 15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvalidResumeMode {
    /// Close the socket with 4006.
    #[default]
    Close4006,
    /// Send `{"op":9,"d":false}`, then close after
    /// [`QqSimConfig::op9_close_delay`].
    OpInvalidSession,
}

/// A fatal account state (spec §9 item 17).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FatalFlag {
    /// The bot is delisted: every gateway connect closes with 4914.
    Delisted,
    /// The bot is banned: every gateway connect closes with 4915 and REST
    /// answers 11265.
    Banned,
}

/// Whether sends without `msg_id`/`event_id` are accepted (spec §6.3, §9 item 25).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProactivePolicy {
    /// Proactive sends fail with 40034102 (the platform's state since 2025-04-21).
    #[default]
    Disabled,
    /// Proactive sends are accepted.
    Allowed,
}

/// Timings and policies of the simulated platform. [`Default`] gives the
/// spec's defaults; override fields with struct update syntax.
#[derive(Debug, Clone)]
pub struct QqSimConfig {
    /// `heartbeat_interval` sent in op 10 (45 s).
    pub heartbeat_interval: Duration,
    /// No heartbeat for `heartbeat_interval × factor` closes the socket with
    /// 4009; the session stays resumable (1.5).
    pub heartbeat_timeout_factor: f64,
    /// `Some(T)`: every `T` after READY/RESUMED the server sends op 7, then
    /// closes with 4009 after [`Self::reconnect_close_delay`] (None).
    pub rotation_every: Option<Duration>,
    /// Delay between op 7 and the 4009 close (1 s).
    pub reconnect_close_delay: Duration,
    /// How long a disconnected session stays resumable (5 min).
    pub resume_window: Duration,
    /// Lifetime of an access token (7200 s).
    pub token_ttl: Duration,
    /// Passive replies allowed per C2C `msg_id` (4; the 2024 docs say 5).
    pub c2c_replies_per_msg: u32,
    /// How long a C2C `msg_id` can be replied to (60 min).
    pub c2c_reply_window: Duration,
    /// Passive replies allowed per group `msg_id` (5).
    pub group_replies_per_msg: u32,
    /// How long a group (and guild) `msg_id` can be replied to (5 min).
    pub group_reply_window: Duration,
    /// Longest text in characters; longer gives 40054007 (4000).
    pub max_text_len: usize,
    /// Reaction to a Resume of an unknown session.
    pub invalid_resume: InvalidResumeMode,
    /// Delay between op 9 and the close (1 s).
    pub op9_close_delay: Duration,
    /// `session_start_limit.total` of `/gateway/bot` (1000).
    pub session_start_total: u32,
    /// `session_start_limit.max_concurrency` (1).
    pub max_concurrency: u32,
    /// `shards` of `/gateway/bot` (1).
    pub recommended_shards: u32,
    /// Send responses carry `timestamp` as a unix-seconds integer instead of an
    /// RFC3339 string (false).
    pub timestamp_as_int: bool,
    /// Close Identify/Resume bursts beyond `max_concurrency` per 5 s with 4008
    /// (spec §9 item 18, UNVERIFIED; false).
    pub enforce_max_concurrency: bool,
    /// Events injected while an app has no session for the target shard are
    /// queued and dispatched right after the next READY of that shard (true).
    /// With false they are dropped, as the live platform presumably does.
    pub queue_events_without_session: bool,
    /// Token bucket of the message-send endpoints, requests per second (100).
    pub message_qps: u32,
    /// Token bucket of the upload endpoints, requests per second (50).
    pub file_qps: u32,
    /// `ttl` of uploaded media; a `file_info` is refused after it (1 h).
    pub upload_ttl: Duration,
    /// Largest decoded `file_data` of an upload; larger gives 850031 (10 MB).
    pub max_upload_bytes: usize,
    /// A typing notice (msg_type 6) with `msg_id` consumes one passive reply (true).
    pub input_notify_consumes_reply: bool,
    /// Keep the REST and gateway logs ([`super::QqSim::rest_log`],
    /// [`super::QqSim::gateway_log`]) (true). Load runs turn them off: at
    /// thousands of events a second they cost the simulator memory and CPU
    /// that would otherwise be charged to the client under test.
    pub keep_logs: bool,
}

impl Default for QqSimConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(45),
            heartbeat_timeout_factor: 1.5,
            rotation_every: None,
            reconnect_close_delay: Duration::from_secs(1),
            resume_window: Duration::from_secs(5 * 60),
            token_ttl: Duration::from_secs(7200),
            c2c_replies_per_msg: 4,
            c2c_reply_window: Duration::from_secs(60 * 60),
            group_replies_per_msg: 5,
            group_reply_window: Duration::from_secs(5 * 60),
            max_text_len: 4000,
            invalid_resume: InvalidResumeMode::Close4006,
            op9_close_delay: Duration::from_secs(1),
            session_start_total: 1000,
            max_concurrency: 1,
            recommended_shards: 1,
            timestamp_as_int: false,
            enforce_max_concurrency: false,
            queue_events_without_session: true,
            message_qps: 100,
            file_qps: 50,
            upload_ttl: Duration::from_secs(3600),
            max_upload_bytes: 10 * 1024 * 1024,
            input_notify_consumes_reply: true,
            keep_logs: true,
        }
    }
}

/// A bot registered with the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimApp {
    /// AppID.
    pub app_id: String,
    /// AppSecret (`clientSecret` of the token endpoint).
    pub secret: String,
    /// Intents the bot may subscribe to; Identify with others closes 4014.
    pub granted_intents: Intents,
    /// Whether the bot may send markdown (msg_type 2); otherwise 40034011.
    pub markdown: bool,
}

impl SimApp {
    /// An app granted every defined intent, with markdown permission.
    pub fn new(app_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            app_id: app_id.into(),
            secret: secret.into(),
            granted_intents: Intents::all(),
            markdown: true,
        }
    }
}
