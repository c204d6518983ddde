//! Where a conversation takes place, and the inbound messages the engine
//! processes.
//!
//! A conversation is keyed by `(bot, scene)`: a private chat with one user,
//! one group (members share the conversation; each turn remembers its author
//! for attribution), one guild channel, or one guild DM.

use serde::{Deserialize, Serialize};

use pincer_qq::model::Event;

/// Where a message was received and where its reply goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scene {
    /// A private (C2C) chat with a user.
    C2c {
        /// The user's openid for this bot.
        user: String,
    },
    /// A QQ group; `member` is who wrote the message (attribution only: the
    /// whole group shares one conversation).
    Group {
        /// The group's openid.
        group: String,
        /// The author's member openid.
        member: String,
    },
    /// A guild text channel.
    Channel {
        /// The channel id.
        channel: String,
        /// The author's user id.
        user: String,
    },
    /// A guild direct message.
    Dm {
        /// The DM session's guild id (the reply address).
        guild: String,
        /// The author's user id.
        user: String,
    },
}

impl Scene {
    /// The conversation id within a bot: `c2c:<user>`, `group:<group>`,
    /// `channel:<channel>` or `dm:<guild>`. Group members share one id.
    pub fn conversation_id(&self) -> String {
        match self {
            Scene::C2c { user } => format!("c2c:{user}"),
            Scene::Group { group, .. } => format!("group:{group}"),
            Scene::Channel { channel, .. } => format!("channel:{channel}"),
            Scene::Dm { guild, .. } => format!("dm:{guild}"),
        }
    }

    /// Who wrote the message (user openid, member openid or guild user id).
    pub fn sender(&self) -> &str {
        match self {
            Scene::C2c { user } => user,
            Scene::Group { member, .. } => member,
            Scene::Channel { user, .. } | Scene::Dm { user, .. } => user,
        }
    }

    /// The QQ scene, which picks the send endpoint and the reply rules.
    pub fn qq_scene(&self) -> pincer_qq::reply::Scene {
        match self {
            Scene::C2c { .. } => pincer_qq::reply::Scene::C2c,
            Scene::Group { .. } => pincer_qq::reply::Scene::Group,
            Scene::Channel { .. } => pincer_qq::reply::Scene::Channel,
            Scene::Dm { .. } => pincer_qq::reply::Scene::Dm,
        }
    }

    /// The address a reply is sent to: user openid, group openid, channel id
    /// or DM guild id.
    pub fn target_id(&self) -> &str {
        match self {
            Scene::C2c { user } => user,
            Scene::Group { group, .. } => group,
            Scene::Channel { channel, .. } => channel,
            Scene::Dm { guild, .. } => guild,
        }
    }
}

/// Identifies one conversation: a bot and a conversation id
/// ([`Scene::conversation_id`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConversationKey {
    /// The bot (its QQ AppID or any stable id the runtime chooses).
    pub bot: String,
    /// The conversation within the bot.
    pub conversation: String,
}

/// One inbound user message for the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inbound {
    /// The bot that received it.
    pub bot: String,
    /// QQ's message id: the de-duplication key and the passive-reply anchor.
    pub message_id: String,
    /// Where it was received.
    pub scene: Scene,
    /// The text (trimmed; voice messages use the platform's recognition).
    pub text: String,
}

/// Removes guild mention markup (`<@123>`, `<@!123>`) from message text.
pub fn strip_guild_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let body = after.strip_prefix('!').unwrap_or(after);
        let digits = body.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && body[digits..].starts_with('>') {
            rest = &body[digits + 1..];
        } else {
            out.push_str("<@");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

impl Inbound {
    /// The inbound message of a QQ message event received by `bot`, or
    /// `None` for events that are not messages or carry no text.
    pub fn from_event(bot: impl Into<String>, event: &Event) -> Option<Inbound> {
        let (id, scene, content, attachments) = match event {
            Event::C2cMessageCreate(m) => (
                &m.id,
                Scene::C2c { user: m.author.user_openid.clone() },
                m.content.clone(),
                &m.attachments,
            ),
            Event::GroupAtMessageCreate(m) | Event::GroupMessageCreate(m) => (
                &m.id,
                Scene::Group {
                    group: m.group_openid.clone(),
                    member: m.author.member_openid.clone(),
                },
                m.content.clone(),
                &m.attachments,
            ),
            Event::AtMessageCreate(m) | Event::MessageCreate(m) => (
                &m.id,
                Scene::Channel { channel: m.channel_id.clone(), user: m.author.id.clone() },
                strip_guild_mentions(&m.content),
                &m.attachments,
            ),
            Event::DirectMessageCreate(m) => (
                &m.id,
                Scene::Dm { guild: m.guild_id.clone(), user: m.author.id.clone() },
                strip_guild_mentions(&m.content),
                &m.attachments,
            ),
            _ => return None,
        };
        let mut text = content.trim().to_owned();
        for a in attachments {
            if let Some(asr) = a.asr_refer_text.as_deref().filter(|s| !s.trim().is_empty()) {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(asr.trim());
            }
        }
        if text.is_empty() {
            return None;
        }
        Some(Inbound { bot: bot.into(), message_id: id.clone(), scene, text })
    }

    /// The conversation this message belongs to.
    pub fn key(&self) -> ConversationKey {
        ConversationKey { bot: self.bot.clone(), conversation: self.scene.conversation_id() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_members_share_a_conversation_but_keep_attribution() {
        let a = Scene::Group { group: "g1".into(), member: "m1".into() };
        let b = Scene::Group { group: "g1".into(), member: "m2".into() };
        assert_eq!(a.conversation_id(), b.conversation_id());
        assert_ne!(a.sender(), b.sender());
        assert_ne!(a.conversation_id(), Scene::C2c { user: "g1".into() }.conversation_id());
    }

    #[test]
    fn strips_guild_mentions() {
        assert_eq!(strip_guild_mentions("<@!123> 你好 <@45>!"), " 你好 !");
        assert_eq!(strip_guild_mentions("a <@x> b <@"), "a <@x> b <@");
        let ev = Event::decode(
            "AT_MESSAGE_CREATE",
            r#"{"id":"g1","channel_id":"c1","guild_id":"G","content":"<@!99> 帮我翻译","author":{"id":"u7"}}"#,
        );
        let inb = Inbound::from_event("bot", &ev).unwrap();
        assert_eq!(inb.text, "帮我翻译");
        assert_eq!(inb.scene, Scene::Channel { channel: "c1".into(), user: "u7".into() });
    }

    #[test]
    fn decodes_a_c2c_event() {
        let ev = Event::decode(
            "C2C_MESSAGE_CREATE",
            r#"{"id":"m1","content":" 你好 ","author":{"user_openid":"u1"}}"#,
        );
        let inb = Inbound::from_event("bot", &ev).unwrap();
        assert_eq!(inb.text, "你好");
        assert_eq!(inb.scene, Scene::C2c { user: "u1".into() });
        assert_eq!(inb.key().conversation, "c2c:u1");
    }
}
