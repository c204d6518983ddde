use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, SystemTime};

use crate::model::CloseCode;

/// How many heartbeat round trips [`ShardHealth`] keeps (the dashboard's sparkline).
pub const RTT_HISTORY: usize = 60;

/// Where a shard is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShardState {
    /// Opening the socket and waiting for Hello.
    Connecting,
    /// Identify sent, waiting for READY.
    Identifying,
    /// Resume sent, waiting for the replay and RESUMED.
    Resuming,
    /// Receiving events.
    Ready,
    /// Disconnected, waiting before the next attempt.
    Reconnecting,
    /// Shut down on request.
    Stopped,
    /// Closed for a reason the user must fix; see [`ShardHealth::fatal`].
    Fatal,
}

impl ShardState {
    /// The lowercase name used in status output (`pincer status --json`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Identifying => "identifying",
            Self::Resuming => "resuming",
            Self::Ready => "ready",
            Self::Reconnecting => "reconnecting",
            Self::Stopped => "stopped",
            Self::Fatal => "fatal",
        }
    }
}

impl fmt::Display for ShardState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The last close seen, with its meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct CloseRecord {
    /// The close code, or `None` when the transport failed without one.
    pub code: Option<CloseCode>,
    /// A short technical description (close reason, transport error, "zombie").
    pub detail: String,
    /// When it happened.
    pub at: SystemTime,
}

impl CloseRecord {
    /// What it means for the user, in Chinese.
    pub fn explain_zh(&self) -> &'static str {
        self.code
            .map(CloseCode::explain_zh)
            .unwrap_or("与 QQ 平台的网络连接中断，正在自动重连并恢复会话。")
    }

    /// What it means for the user, in English.
    pub fn explain_en(&self) -> &'static str {
        self.code.map(CloseCode::explain_en).unwrap_or(
            "The network connection to QQ dropped; reconnecting and resuming the session.",
        )
    }
}

/// Why a shard stopped for good.
#[derive(Debug, Clone, PartialEq)]
pub struct FatalReason {
    /// The close code, when the gateway closed fatally.
    pub close_code: Option<CloseCode>,
    /// What happened and what to do, in Chinese.
    pub zh: String,
    /// What happened and what to do, in English.
    pub en: String,
}

/// A shard's health as data: the single source for status displays.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardHealth {
    /// `[shard_id, shard_count]`.
    pub shard: [u32; 2],
    /// Current state.
    pub state: ShardState,
    /// When the state was entered.
    pub since: SystemTime,
    /// The server's heartbeat interval, once Hello arrived.
    pub heartbeat_interval: Option<Duration>,
    /// Round trip of the last heartbeats, oldest first, at most [`RTT_HISTORY`].
    pub heartbeat_rtts: VecDeque<Duration>,
    /// When the last heartbeat ACK arrived.
    pub last_heartbeat_ack: Option<SystemTime>,
    /// The current session, if any.
    pub session_id: Option<String>,
    /// The last sequence number received.
    pub last_seq: Option<u64>,
    /// Successful Identifies (READY received).
    pub identifies: u64,
    /// Successful Resumes (RESUMED received).
    pub resumes: u64,
    /// Connections that ended, for any reason.
    pub disconnects: u64,
    /// Connections closed because a heartbeat went unanswered.
    pub zombies: u64,
    /// Dispatches received (including READY/RESUMED).
    pub events_received: u64,
    /// Redelivered messages dropped (same message id seen again).
    pub duplicates_dropped: u64,
    /// Frames that were not valid JSON or not a valid frame.
    pub malformed_frames: u64,
    /// The last close.
    pub last_close: Option<CloseRecord>,
    /// Set when [`state`](Self::state) is [`ShardState::Fatal`].
    pub fatal: Option<FatalReason>,
}

impl ShardHealth {
    pub(crate) fn new(shard: [u32; 2]) -> Self {
        Self {
            shard,
            state: ShardState::Connecting,
            since: SystemTime::now(),
            heartbeat_interval: None,
            heartbeat_rtts: VecDeque::with_capacity(RTT_HISTORY),
            last_heartbeat_ack: None,
            session_id: None,
            last_seq: None,
            identifies: 0,
            resumes: 0,
            disconnects: 0,
            zombies: 0,
            events_received: 0,
            duplicates_dropped: 0,
            malformed_frames: 0,
            last_close: None,
            fatal: None,
        }
    }

    /// The latest heartbeat round trip.
    pub fn latest_rtt(&self) -> Option<Duration> {
        self.heartbeat_rtts.back().copied()
    }

    pub(crate) fn set_state(&mut self, state: ShardState) {
        if self.state != state {
            self.state = state;
            self.since = SystemTime::now();
        }
    }

    pub(crate) fn record_rtt(&mut self, rtt: Duration) {
        if self.heartbeat_rtts.len() == RTT_HISTORY {
            self.heartbeat_rtts.pop_front();
        }
        self.heartbeat_rtts.push_back(rtt);
        self.last_heartbeat_ack = Some(SystemTime::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtt_history_is_bounded_and_state_changes_move_since() {
        let mut h = ShardHealth::new([0, 1]);
        for ms in 0..100 {
            h.record_rtt(Duration::from_millis(ms));
        }
        assert_eq!(h.heartbeat_rtts.len(), RTT_HISTORY);
        assert_eq!(h.heartbeat_rtts.front(), Some(&Duration::from_millis(40)));
        assert_eq!(h.latest_rtt(), Some(Duration::from_millis(99)));
        let before = h.since;
        std::thread::sleep(Duration::from_millis(2));
        h.set_state(ShardState::Connecting);
        assert_eq!(h.since, before, "same state keeps its start time");
        h.set_state(ShardState::Ready);
        assert!(h.since > before);
        assert_eq!(h.state.to_string(), "ready");
    }

    #[test]
    fn transport_closes_are_explained_too() {
        let r = CloseRecord { code: None, detail: "reset".into(), at: SystemTime::now() };
        assert!(r.explain_zh().contains("重连"));
        let r = CloseRecord {
            code: Some(CloseCode::BotBanned),
            detail: String::new(),
            at: SystemTime::now(),
        };
        assert!(r.explain_en().contains("banned"));
    }
}
