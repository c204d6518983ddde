//! The runtime's event stream: bot status changes, messages in, replies
//! out, and watchdog warnings, on one `tokio::sync::broadcast` that the
//! desktop app, the tray and `pincer events` consume. A slow consumer loses
//! the oldest events (it is told how many), never slows the bots.

use pincer_agent::Scene;
use serde::Serialize;
use tokio::sync::broadcast;

/// Events kept for a slow consumer before the oldest are dropped.
pub const EVENT_BUFFER: usize = 1024;

/// One runtime event, serialised as `{"event": "bot_status", …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RuntimeEvent {
    /// A bot's state changed.
    BotStatus {
        /// Bot name.
        bot: String,
        /// The new state (as in `pincer status`).
        state: &'static str,
        /// When it began (unix seconds).
        since: u64,
        /// The last close code.
        last_close_code: Option<u16>,
        /// Why, in English.
        explanation: Option<String>,
        /// Why, in Chinese.
        explanation_zh: Option<String>,
    },
    /// A message reached a bot.
    MessageIn {
        /// Bot name.
        bot: String,
        /// `c2c`, `group`, `channel` or `dm`.
        scene: &'static str,
        /// The group, user, channel or guild it came from.
        target: String,
        /// Who wrote it.
        sender: String,
        /// Its text.
        text: String,
    },
    /// A reply was delivered.
    ReplyOut {
        /// Bot name.
        bot: String,
        /// `c2c`, `group`, `channel` or `dm`.
        scene: &'static str,
        /// The group, user, channel or guild it went to.
        target: String,
        /// Its text (one chunk).
        text: String,
    },
    /// A live config reload was applied.
    Reloaded {
        /// Bots started.
        started: Vec<String>,
        /// Bots stopped.
        stopped: Vec<String>,
        /// Bots re-registered with the agent (connection kept).
        updated: Vec<String>,
        /// Bots reconnected (their QQ settings changed).
        restarted: Vec<String>,
    },
    /// The process left its bounds (see [`crate::watchdog`]).
    Warning {
        /// `rss`, `log_size` or `cpu`.
        kind: &'static str,
        /// English.
        detail: String,
        /// Chinese.
        detail_zh: String,
    },
}

/// `c2c`, `group`, `channel` or `dm`.
pub fn scene_kind(scene: &Scene) -> &'static str {
    match scene {
        Scene::C2c { .. } => "c2c",
        Scene::Group { .. } => "group",
        Scene::Channel { .. } => "channel",
        Scene::Dm { .. } => "dm",
    }
}

/// The sending side of the event stream; clone freely.
#[derive(Debug, Clone)]
pub struct EventBus(broadcast::Sender<RuntimeEvent>);

impl Default for EventBus {
    fn default() -> Self {
        Self(broadcast::channel(EVENT_BUFFER).0)
    }
}

impl EventBus {
    /// A bus with nobody listening.
    pub fn new() -> Self {
        Self::default()
    }

    /// Publishes `event` (dropped when nobody listens).
    pub fn send(&self, event: RuntimeEvent) {
        let _ = self.0.send(event);
    }

    /// Every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<RuntimeEvent> {
        self.0.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_serialise_with_their_kind_and_reach_every_subscriber() {
        let bus = EventBus::new();
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        bus.send(RuntimeEvent::MessageIn {
            bot: "xiaoqian".into(),
            scene: scene_kind(&Scene::Group { group: "G".into(), member: "M".into() }),
            target: "G".into(),
            sender: "M".into(),
            text: "你好".into(),
        });
        let got = a.recv().await.unwrap();
        assert_eq!(got, b.recv().await.unwrap());
        let json = serde_json::to_value(&got).unwrap();
        assert_eq!(json["event"], "message_in");
        assert_eq!(json["scene"], "group");
        assert_eq!(json["sender"], "M");
    }
}
