use std::time::Duration;

use super::{Backoff, IdentifyQueue, Session};
use crate::model::{GatewayBot, IdentifyProperties, Intents};

/// Everything one shard needs to run.
#[derive(Debug, Clone)]
pub struct ShardConfig {
    /// The WebSocket URL from `/gateway` or `/gateway/bot`.
    pub gateway_url: String,
    /// `[shard_id, shard_count]`; `[0, 1]` when not sharding.
    pub shard: [u32; 2],
    /// Subscribed event groups.
    pub intents: Intents,
    /// A session saved by an earlier run, resumed instead of identifying.
    pub session: Option<Session>,
    /// Sent in Identify.
    pub properties: IdentifyProperties,
    /// Reconnect delays after failures.
    pub backoff: Backoff,
    /// Wait after close 4008 (too fast) before resuming. OpenClaw uses 60 s.
    pub rate_limited_wait: Duration,
    /// Random wait before identifying after op 9 (spec: 1–5 s).
    pub invalid_session_wait: (Duration, Duration),
    /// A connection shorter than this counts as a quick disconnect.
    pub quick_disconnect: Duration,
    /// After this many quick disconnects in a row the shard pauses for
    /// [`quick_disconnect_pause`](Self::quick_disconnect_pause).
    pub quick_disconnect_limit: u32,
    /// The pause after repeated quick disconnects.
    pub quick_disconnect_pause: Duration,
    /// Heartbeat intervals below this are raised to it (a bad Hello must
    /// not make the client flood the server).
    pub min_heartbeat_interval: Duration,
    /// How long to wait for the socket, for Hello, and for READY/RESUMED.
    pub handshake_timeout: Duration,
    /// Dispatches buffered for the consumer before the shard stops reading.
    pub event_buffer: usize,
    /// Largest frame accepted, in bytes.
    pub max_frame_bytes: usize,
    /// Message ids remembered to drop redelivered messages (spec §5).
    pub dedupe_window: usize,
    /// Shared with the bot's other shards to respect `max_concurrency`.
    pub identify_queue: IdentifyQueue,
}

impl ShardConfig {
    /// Defaults for shard `[0, 1]` at `gateway_url` with `intents`.
    pub fn new(gateway_url: impl Into<String>, intents: Intents) -> Self {
        Self {
            gateway_url: gateway_url.into(),
            shard: [0, 1],
            intents,
            session: None,
            properties: IdentifyProperties::default(),
            backoff: Backoff::default(),
            rate_limited_wait: Duration::from_secs(60),
            invalid_session_wait: (Duration::from_secs(1), Duration::from_secs(5)),
            quick_disconnect: Duration::from_secs(5),
            quick_disconnect_limit: 3,
            quick_disconnect_pause: Duration::from_secs(60),
            min_heartbeat_interval: Duration::from_secs(1),
            handshake_timeout: Duration::from_secs(30),
            event_buffer: 1024,
            max_frame_bytes: 16 << 20,
            dedupe_window: 4096,
            identify_queue: IdentifyQueue::new(1),
        }
    }
}

/// How many shards to run and how to space their starts, from `/gateway/bot`.
#[derive(Debug, Clone)]
pub struct ShardPlan {
    /// The WebSocket URL.
    pub gateway_url: String,
    /// Shard count.
    pub shard_count: u32,
    /// Shared by all shards of the bot.
    pub identify_queue: IdentifyQueue,
}

/// Why shards cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShardPlanError {
    /// The 24 h session-start quota is used up.
    #[error("QQ's daily session-start quota is used up ({remaining} of {total} left, resets in {reset_after_secs} s); Pincer will connect after the reset")]
    QuotaExhausted {
        /// Starts left.
        remaining: u32,
        /// Starts per day.
        total: u32,
        /// Seconds until reset.
        reset_after_secs: u64,
    },
}

impl ShardPlanError {
    /// The same in Chinese.
    pub fn explain_zh(&self) -> String {
        match self {
            Self::QuotaExhausted { remaining, total, reset_after_secs } => format!(
                "QQ 每日会话启动额度已用完（剩余 {remaining}/{total}），{reset_after_secs} 秒后重置，届时自动连接。"
            ),
        }
    }
}

/// Decides the shard count: `requested`, or QQ's recommendation, and refuses
/// to start more sessions than the quota has left (as botpy and botgo do).
pub fn plan_shards(bot: &GatewayBot, requested: Option<u32>) -> Result<ShardPlan, ShardPlanError> {
    let shard_count = requested.unwrap_or(bot.shards).max(1);
    let limit = &bot.session_start_limit;
    if shard_count > limit.remaining {
        return Err(ShardPlanError::QuotaExhausted {
            remaining: limit.remaining,
            total: limit.total,
            reset_after_secs: limit.reset_after / 1000,
        });
    }
    Ok(ShardPlan {
        gateway_url: bot.url.clone(),
        shard_count,
        identify_queue: IdentifyQueue::new(limit.max_concurrency),
    })
}

impl ShardPlan {
    /// The config of shard `id` of this plan.
    pub fn shard_config(&self, id: u32, intents: Intents) -> ShardConfig {
        let mut config = ShardConfig::new(self.gateway_url.clone(), intents);
        config.shard = [id, self.shard_count];
        config.identify_queue = self.identify_queue.clone();
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SessionStartLimit;

    fn bot(shards: u32, remaining: u32) -> GatewayBot {
        GatewayBot {
            url: "wss://x/websocket".into(),
            shards,
            session_start_limit: SessionStartLimit {
                total: 1000,
                remaining,
                reset_after: 3_600_000,
                max_concurrency: 1,
            },
        }
    }

    #[test]
    fn plans_the_recommended_count_within_the_quota() {
        let plan = plan_shards(&bot(2, 10), None).unwrap();
        assert_eq!(plan.shard_count, 2);
        assert_eq!(plan.shard_config(1, Intents::default()).shard, [1, 2]);
        assert_eq!(plan_shards(&bot(0, 10), None).unwrap().shard_count, 1);
        let err = plan_shards(&bot(2, 1), None).unwrap_err();
        assert!(err.to_string().contains("quota"));
        assert!(err.explain_zh().contains("额度"));
    }
}
