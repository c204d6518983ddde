use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::string_or_number;

/// A dispatch (op 0) taken off the gateway: its sequence number, its event id
/// and the decoded event.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    /// `s`: increases by one per dispatch within a session.
    pub seq: u64,
    /// The envelope `id` (`"<TYPE>:<opaque>"`), used as `event_id` for passive replies.
    pub event_id: Option<String>,
    /// The event.
    pub event: Event,
}

/// A gateway event (spec §5). Types Pincer does not model, and payloads of a
/// known type that do not decode, are kept as [`Event::Unknown`] with their raw
/// JSON: an unexpected event is never an error and never dropped.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The session is established.
    Ready(Ready),
    /// A resumed session finished replaying.
    Resumed,
    /// A private (C2C) message to the bot.
    C2cMessageCreate(C2cMessage),
    /// A group message that @-mentions the bot.
    GroupAtMessageCreate(GroupMessage),
    /// A group message without @ (UNVERIFIED intent; handled when it arrives).
    GroupMessageCreate(GroupMessage),
    /// A guild channel message that @-mentions the bot.
    AtMessageCreate(GuildMessage),
    /// A guild direct message.
    DirectMessageCreate(GuildMessage),
    /// Any guild message (private-domain bots).
    MessageCreate(GuildMessage),
    /// The bot was added to a group.
    GroupAddRobot(GroupRobotEvent),
    /// The bot was removed from a group.
    GroupDelRobot(GroupRobotEvent),
    /// A group turned off proactive messages from the bot.
    GroupMsgReject(GroupRobotEvent),
    /// A group turned proactive messages back on.
    GroupMsgReceive(GroupRobotEvent),
    /// A user added the bot as a friend.
    FriendAdd(FriendEvent),
    /// A user removed the bot.
    FriendDel(FriendEvent),
    /// A user turned off proactive messages from the bot.
    C2cMsgReject(FriendEvent),
    /// A user turned proactive messages back on.
    C2cMsgReceive(FriendEvent),
    /// A button or menu interaction.
    InteractionCreate(Interaction),
    /// Anything else, kept verbatim.
    Unknown(UnknownEvent),
}

/// An event Pincer does not model, or one whose payload did not decode.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownEvent {
    /// The event type `t`.
    pub kind: String,
    /// The raw payload `d`.
    pub data: Value,
    /// Why a known type did not decode; `None` for types Pincer does not model.
    pub decode_error: Option<String>,
}

/// The event types Pincer models, as a cheap tag for routing and counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// READY
    Ready,
    /// RESUMED
    Resumed,
    /// C2C_MESSAGE_CREATE
    C2cMessageCreate,
    /// GROUP_AT_MESSAGE_CREATE
    GroupAtMessageCreate,
    /// GROUP_MESSAGE_CREATE
    GroupMessageCreate,
    /// AT_MESSAGE_CREATE
    AtMessageCreate,
    /// DIRECT_MESSAGE_CREATE
    DirectMessageCreate,
    /// MESSAGE_CREATE
    MessageCreate,
    /// GROUP_ADD_ROBOT
    GroupAddRobot,
    /// GROUP_DEL_ROBOT
    GroupDelRobot,
    /// GROUP_MSG_REJECT
    GroupMsgReject,
    /// GROUP_MSG_RECEIVE
    GroupMsgReceive,
    /// FRIEND_ADD
    FriendAdd,
    /// FRIEND_DEL
    FriendDel,
    /// C2C_MSG_REJECT
    C2cMsgReject,
    /// C2C_MSG_RECEIVE
    C2cMsgReceive,
    /// INTERACTION_CREATE
    InteractionCreate,
}

impl EventKind {
    /// Every modelled kind.
    pub const ALL: [EventKind; 17] = [
        Self::Ready,
        Self::Resumed,
        Self::C2cMessageCreate,
        Self::GroupAtMessageCreate,
        Self::GroupMessageCreate,
        Self::AtMessageCreate,
        Self::DirectMessageCreate,
        Self::MessageCreate,
        Self::GroupAddRobot,
        Self::GroupDelRobot,
        Self::GroupMsgReject,
        Self::GroupMsgReceive,
        Self::FriendAdd,
        Self::FriendDel,
        Self::C2cMsgReject,
        Self::C2cMsgReceive,
        Self::InteractionCreate,
    ];

    /// The wire name `t`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "READY",
            Self::Resumed => "RESUMED",
            Self::C2cMessageCreate => "C2C_MESSAGE_CREATE",
            Self::GroupAtMessageCreate => "GROUP_AT_MESSAGE_CREATE",
            Self::GroupMessageCreate => "GROUP_MESSAGE_CREATE",
            Self::AtMessageCreate => "AT_MESSAGE_CREATE",
            Self::DirectMessageCreate => "DIRECT_MESSAGE_CREATE",
            Self::MessageCreate => "MESSAGE_CREATE",
            Self::GroupAddRobot => "GROUP_ADD_ROBOT",
            Self::GroupDelRobot => "GROUP_DEL_ROBOT",
            Self::GroupMsgReject => "GROUP_MSG_REJECT",
            Self::GroupMsgReceive => "GROUP_MSG_RECEIVE",
            Self::FriendAdd => "FRIEND_ADD",
            Self::FriendDel => "FRIEND_DEL",
            Self::C2cMsgReject => "C2C_MSG_REJECT",
            Self::C2cMsgReceive => "C2C_MSG_RECEIVE",
            Self::InteractionCreate => "INTERACTION_CREATE",
        }
    }

    /// The kind for a wire name.
    pub fn from_wire(t: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == t)
    }
}

impl Event {
    /// Decodes the payload of a dispatch of type `kind`. Never fails: what
    /// does not decode becomes [`Event::Unknown`].
    pub fn decode(kind: &str, data: &str) -> Event {
        let Some(known) = EventKind::from_wire(kind) else {
            return Event::Unknown(UnknownEvent {
                kind: kind.to_owned(),
                data: serde_json::from_str(data).unwrap_or(Value::Null),
                decode_error: None,
            });
        };
        let parsed = match known {
            EventKind::Ready => serde_json::from_str(data).map(Event::Ready),
            EventKind::Resumed => Ok(Event::Resumed),
            EventKind::C2cMessageCreate => serde_json::from_str(data).map(Event::C2cMessageCreate),
            EventKind::GroupAtMessageCreate => {
                serde_json::from_str(data).map(Event::GroupAtMessageCreate)
            }
            EventKind::GroupMessageCreate => {
                serde_json::from_str(data).map(Event::GroupMessageCreate)
            }
            EventKind::AtMessageCreate => serde_json::from_str(data).map(Event::AtMessageCreate),
            EventKind::DirectMessageCreate => {
                serde_json::from_str(data).map(Event::DirectMessageCreate)
            }
            EventKind::MessageCreate => serde_json::from_str(data).map(Event::MessageCreate),
            EventKind::GroupAddRobot => serde_json::from_str(data).map(Event::GroupAddRobot),
            EventKind::GroupDelRobot => serde_json::from_str(data).map(Event::GroupDelRobot),
            EventKind::GroupMsgReject => serde_json::from_str(data).map(Event::GroupMsgReject),
            EventKind::GroupMsgReceive => serde_json::from_str(data).map(Event::GroupMsgReceive),
            EventKind::FriendAdd => serde_json::from_str(data).map(Event::FriendAdd),
            EventKind::FriendDel => serde_json::from_str(data).map(Event::FriendDel),
            EventKind::C2cMsgReject => serde_json::from_str(data).map(Event::C2cMsgReject),
            EventKind::C2cMsgReceive => serde_json::from_str(data).map(Event::C2cMsgReceive),
            EventKind::InteractionCreate => {
                serde_json::from_str(data).map(Event::InteractionCreate)
            }
        };
        parsed.unwrap_or_else(|e| {
            Event::Unknown(UnknownEvent {
                kind: kind.to_owned(),
                data: serde_json::from_str(data).unwrap_or(Value::Null),
                decode_error: Some(e.to_string()),
            })
        })
    }

    /// The modelled kind, or `None` for [`Event::Unknown`].
    pub fn kind(&self) -> Option<EventKind> {
        Some(match self {
            Event::Ready(_) => EventKind::Ready,
            Event::Resumed => EventKind::Resumed,
            Event::C2cMessageCreate(_) => EventKind::C2cMessageCreate,
            Event::GroupAtMessageCreate(_) => EventKind::GroupAtMessageCreate,
            Event::GroupMessageCreate(_) => EventKind::GroupMessageCreate,
            Event::AtMessageCreate(_) => EventKind::AtMessageCreate,
            Event::DirectMessageCreate(_) => EventKind::DirectMessageCreate,
            Event::MessageCreate(_) => EventKind::MessageCreate,
            Event::GroupAddRobot(_) => EventKind::GroupAddRobot,
            Event::GroupDelRobot(_) => EventKind::GroupDelRobot,
            Event::GroupMsgReject(_) => EventKind::GroupMsgReject,
            Event::GroupMsgReceive(_) => EventKind::GroupMsgReceive,
            Event::FriendAdd(_) => EventKind::FriendAdd,
            Event::FriendDel(_) => EventKind::FriendDel,
            Event::C2cMsgReject(_) => EventKind::C2cMsgReject,
            Event::C2cMsgReceive(_) => EventKind::C2cMsgReceive,
            Event::InteractionCreate(_) => EventKind::InteractionCreate,
            Event::Unknown(_) => return None,
        })
    }

    /// The message id `d.id` of a message event: the key for de-duplication
    /// and the `msg_id` of a passive reply.
    pub fn message_id(&self) -> Option<&str> {
        match self {
            Event::C2cMessageCreate(m) => Some(&m.id),
            Event::GroupAtMessageCreate(m) | Event::GroupMessageCreate(m) => Some(&m.id),
            Event::AtMessageCreate(m) | Event::DirectMessageCreate(m) | Event::MessageCreate(m) => {
                Some(&m.id)
            }
            _ => None,
        }
    }
}

/// READY payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ready {
    /// Protocol version (1).
    #[serde(default)]
    pub version: u32,
    /// The new session's id.
    pub session_id: String,
    /// The bot user.
    pub user: ReadyUser,
    /// The shard echoed back.
    #[serde(default)]
    pub shard: Option<[u32; 2]>,
}

/// The bot user in READY.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadyUser {
    /// User id.
    #[serde(with = "string_or_number")]
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub username: String,
    /// Always true for bots.
    #[serde(default)]
    pub bot: bool,
}

/// `message_scene` of a message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MessageScene {
    /// Usually `"default"`.
    #[serde(default)]
    pub source: Option<String>,
    /// `ref_msg_idx=…`, `msg_idx=…` entries.
    #[serde(default)]
    pub ext: Vec<String>,
}

/// An attachment of an inbound message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Attachment {
    /// MIME type, or `voice` / `file`.
    #[serde(default)]
    pub content_type: String,
    /// File name.
    #[serde(default)]
    pub filename: Option<String>,
    /// Image height.
    #[serde(default)]
    pub height: Option<u32>,
    /// Image width.
    #[serde(default)]
    pub width: Option<u32>,
    /// Size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// Download URL; may be protocol-relative (`//…`).
    #[serde(default)]
    pub url: String,
    /// WAV rendering of a voice message.
    #[serde(default)]
    pub voice_wav_url: Option<String>,
    /// The platform's speech recognition of a voice message.
    #[serde(default)]
    pub asr_refer_text: Option<String>,
}

impl Attachment {
    /// The download URL with `https:` in front of a protocol-relative one.
    pub fn absolute_url(&self) -> String {
        absolute(&self.url)
    }

    /// The WAV URL of a voice message, made absolute.
    pub fn absolute_voice_wav_url(&self) -> Option<String> {
        self.voice_wav_url.as_deref().map(absolute)
    }
}

fn absolute(url: &str) -> String {
    if url.starts_with("//") {
        format!("https:{url}")
    } else {
        url.to_owned()
    }
}

/// Author of a C2C message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct C2cAuthor {
    /// Author id (observed by some SDKs).
    #[serde(default)]
    pub id: Option<String>,
    /// The user's openid for this bot: the C2C address.
    pub user_openid: String,
    /// Cross-app id.
    #[serde(default)]
    pub union_openid: Option<String>,
}

/// C2C_MESSAGE_CREATE payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct C2cMessage {
    /// Message id (`msg_id` for passive replies, key for de-duplication).
    pub id: String,
    /// Text content.
    #[serde(default)]
    pub content: String,
    /// RFC3339 time with a +08:00 offset.
    #[serde(default, with = "string_or_number::option")]
    pub timestamp: Option<String>,
    /// Sender.
    pub author: C2cAuthor,
    /// Attachments.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Scene info with quote references.
    #[serde(default)]
    pub message_scene: Option<MessageScene>,
    /// 0 text, 103 quote.
    #[serde(default)]
    pub message_type: Option<u32>,
    /// Quoted message elements.
    #[serde(default)]
    pub msg_elements: Option<Value>,
}

/// Author of a group message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GroupAuthor {
    /// Author id.
    #[serde(default)]
    pub id: Option<String>,
    /// The member's openid in this group (differs from `user_openid`).
    pub member_openid: String,
    /// Cross-app id.
    #[serde(default)]
    pub union_openid: Option<String>,
    /// Display name (GROUP_MESSAGE_CREATE only).
    #[serde(default)]
    pub username: Option<String>,
    /// Whether the author is a bot.
    #[serde(default)]
    pub bot: Option<bool>,
}

/// A mention in a group message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Mention {
    /// `all` or `single`.
    #[serde(default)]
    pub scope: Option<String>,
    /// Id.
    #[serde(default, with = "string_or_number::option")]
    pub id: Option<String>,
    /// User openid.
    #[serde(default)]
    pub user_openid: Option<String>,
    /// Member openid.
    #[serde(default)]
    pub member_openid: Option<String>,
    /// Nickname.
    #[serde(default)]
    pub nickname: Option<String>,
    /// Whether a bot is mentioned.
    #[serde(default)]
    pub bot: Option<bool>,
    /// Whether this bot is mentioned.
    #[serde(default)]
    pub is_you: Option<bool>,
}

/// GROUP_AT_MESSAGE_CREATE / GROUP_MESSAGE_CREATE payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMessage {
    /// Message id.
    pub id: String,
    /// Text, usually with a leading space where the @bot was stripped.
    #[serde(default)]
    pub content: String,
    /// RFC3339 time.
    #[serde(default, with = "string_or_number::option")]
    pub timestamp: Option<String>,
    /// Sender.
    pub author: GroupAuthor,
    /// Group id (same value as `group_openid` in samples).
    #[serde(default)]
    pub group_id: Option<String>,
    /// The group's openid: the group address.
    pub group_openid: String,
    /// Scene info.
    #[serde(default)]
    pub message_scene: Option<MessageScene>,
    /// 0 text, 103 quote.
    #[serde(default)]
    pub message_type: Option<u32>,
    /// Mentions.
    #[serde(default)]
    pub mentions: Vec<Mention>,
    /// Attachments.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

/// A guild user.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GuildUser {
    /// User id.
    #[serde(default, with = "string_or_number")]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub username: Option<String>,
    /// Avatar URL.
    #[serde(default)]
    pub avatar: Option<String>,
    /// Whether the user is a bot.
    #[serde(default)]
    pub bot: Option<bool>,
}

/// Guild membership of a message author.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GuildMember {
    /// Nickname in the guild.
    #[serde(default)]
    pub nick: Option<String>,
    /// Role ids.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Join time.
    #[serde(default)]
    pub joined_at: Option<String>,
}

/// A quoted message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MessageReference {
    /// The quoted message's id.
    pub message_id: String,
}

/// AT_MESSAGE_CREATE / MESSAGE_CREATE / DIRECT_MESSAGE_CREATE payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuildMessage {
    /// Message id.
    pub id: String,
    /// Channel id.
    #[serde(default, with = "string_or_number")]
    pub channel_id: String,
    /// Guild id (for DMs: the DM session's guild, the reply address).
    #[serde(default, with = "string_or_number")]
    pub guild_id: String,
    /// Text with `<@id>` mentions.
    #[serde(default)]
    pub content: String,
    /// RFC3339 time.
    #[serde(default, with = "string_or_number::option")]
    pub timestamp: Option<String>,
    /// Sequence in the guild.
    #[serde(default, with = "string_or_number::option")]
    pub seq: Option<String>,
    /// Sequence in the channel.
    #[serde(default, with = "string_or_number::option")]
    pub seq_in_channel: Option<String>,
    /// Sender.
    #[serde(default)]
    pub author: GuildUser,
    /// Sender's membership.
    #[serde(default)]
    pub member: Option<GuildMember>,
    /// Mentioned users.
    #[serde(default)]
    pub mentions: Vec<GuildUser>,
    /// Attachments.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Quoted message.
    #[serde(default)]
    pub message_reference: Option<MessageReference>,
    /// True on DMs.
    #[serde(default)]
    pub direct_message: Option<bool>,
    /// The guild a DM was started from.
    #[serde(default)]
    pub src_guild_id: Option<String>,
}

/// GROUP_ADD_ROBOT / GROUP_DEL_ROBOT / GROUP_MSG_REJECT / GROUP_MSG_RECEIVE payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRobotEvent {
    /// The group.
    pub group_openid: String,
    /// The member who acted.
    #[serde(default)]
    pub op_member_openid: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub timestamp: Option<i64>,
}

/// FRIEND_ADD / FRIEND_DEL / C2C_MSG_REJECT / C2C_MSG_RECEIVE payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FriendEvent {
    /// The user's openid.
    pub openid: String,
    /// Unix seconds.
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// Reserved.
    #[serde(default)]
    pub nick: Option<String>,
    /// Reserved.
    #[serde(default)]
    pub avatar: Option<String>,
}

/// INTERACTION_CREATE payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    /// Interaction id, for `PUT /interactions/{id}`.
    pub id: String,
    /// 11 button, 12 C2C menu.
    #[serde(default, rename = "type")]
    pub kind: u32,
    /// `c2c`, `group` or `guild`.
    #[serde(default)]
    pub scene: Option<String>,
    /// 0 guild, 1 group, 2 c2c.
    #[serde(default)]
    pub chat_type: Option<u32>,
    /// RFC3339 time.
    #[serde(default, with = "string_or_number::option")]
    pub timestamp: Option<String>,
    /// Guild id.
    #[serde(default)]
    pub guild_id: Option<String>,
    /// Channel id.
    #[serde(default)]
    pub channel_id: Option<String>,
    /// C2C user.
    #[serde(default)]
    pub user_openid: Option<String>,
    /// Group.
    #[serde(default)]
    pub group_openid: Option<String>,
    /// Group member.
    #[serde(default)]
    pub group_member_openid: Option<String>,
    /// Version (1).
    #[serde(default)]
    pub version: Option<u32>,
    /// What was pressed.
    #[serde(default)]
    pub data: Option<InteractionData>,
}

/// `data` of an interaction.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InteractionData {
    /// 11–14.
    #[serde(default, rename = "type")]
    pub kind: u32,
    /// The button.
    #[serde(default)]
    pub resolved: InteractionResolved,
}

/// `data.resolved` of an interaction.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InteractionResolved {
    /// The button's data.
    #[serde(default)]
    pub button_data: Option<String>,
    /// The button's id.
    #[serde(default)]
    pub button_id: Option<String>,
    /// The user.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Menu feature.
    #[serde(default)]
    pub feature_id: Option<String>,
    /// The message the button belongs to.
    #[serde(default)]
    pub message_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_real_group_sample() {
        let d = r#"{ "id":"ROBOT1.0_yiT7!", "content":" lssv", "timestamp":"2025-09-08T23:13:34+08:00",
          "author":{"id":"0BA1","member_openid":"0BA1","union_openid":"0BA1"},
          "group_id":"82B3","group_openid":"82B3","message_scene":{"source":"default"},"message_type":0 }"#;
        let Event::GroupAtMessageCreate(m) = Event::decode("GROUP_AT_MESSAGE_CREATE", d) else {
            panic!("not a group message")
        };
        assert_eq!(m.content, " lssv");
        assert_eq!(m.author.member_openid, "0BA1");
        assert_eq!(m.group_openid, "82B3");
    }

    #[test]
    fn decodes_c2c_with_voice_attachment_and_fixes_protocol_relative_urls() {
        let d = r#"{"id":"ROBOT1.0_a","content":"hi","timestamp":"2023-11-06T13:37:18+08:00",
          "author":{"user_openid":"E4F4"},
          "attachments":[{"content_type":"voice","url":"//x.qq.com/a.silk","voice_wav_url":"//x.qq.com/a.wav","asr_refer_text":"你好"}]}"#;
        let ev = Event::decode("C2C_MESSAGE_CREATE", d);
        assert_eq!(ev.message_id(), Some("ROBOT1.0_a"));
        let Event::C2cMessageCreate(m) = ev else { panic!() };
        assert_eq!(m.attachments[0].absolute_url(), "https://x.qq.com/a.silk");
        assert_eq!(m.attachments[0].absolute_voice_wav_url().unwrap(), "https://x.qq.com/a.wav");
    }

    #[test]
    fn every_modelled_kind_decodes_its_spec_shape() {
        let samples = [
            (
                "READY",
                r#"{"version":1,"session_id":"s","user":{"id":"1","username":"b","bot":true},"shard":[0,1]}"#,
            ),
            ("RESUMED", r#""""#),
            ("C2C_MESSAGE_CREATE", r#"{"id":"m","content":"x","author":{"user_openid":"u"}}"#),
            (
                "GROUP_AT_MESSAGE_CREATE",
                r#"{"id":"m","content":"x","author":{"member_openid":"u"},"group_openid":"g"}"#,
            ),
            (
                "GROUP_MESSAGE_CREATE",
                r#"{"id":"m","content":"x","author":{"member_openid":"u","username":"n","bot":false},"group_openid":"g"}"#,
            ),
            (
                "AT_MESSAGE_CREATE",
                r#"{"id":"m","channel_id":"1","guild_id":"2","content":"x","author":{"id":"3","username":"u","bot":false},"member":{"nick":"n","roles":["1"]},"seq":5}"#,
            ),
            (
                "DIRECT_MESSAGE_CREATE",
                r#"{"id":"m","channel_id":"1","guild_id":"2","content":"x","author":{"id":"3"},"direct_message":true,"src_guild_id":"9"}"#,
            ),
            (
                "MESSAGE_CREATE",
                r#"{"id":"m","channel_id":"1","guild_id":"2","content":"x","author":{"id":3}}"#,
            ),
            (
                "GROUP_ADD_ROBOT",
                r#"{"group_openid":"g","op_member_openid":"o","timestamp":1700000000}"#,
            ),
            (
                "GROUP_DEL_ROBOT",
                r#"{"group_openid":"g","op_member_openid":"o","timestamp":1700000000}"#,
            ),
            ("GROUP_MSG_REJECT", r#"{"group_openid":"g","op_member_openid":"o","timestamp":1}"#),
            ("GROUP_MSG_RECEIVE", r#"{"group_openid":"g","op_member_openid":"o","timestamp":1}"#),
            ("FRIEND_ADD", r#"{"openid":"u","timestamp":1}"#),
            ("FRIEND_DEL", r#"{"openid":"u","timestamp":1}"#),
            ("C2C_MSG_REJECT", r#"{"openid":"u","timestamp":1}"#),
            ("C2C_MSG_RECEIVE", r#"{"openid":"u","timestamp":1}"#),
            (
                "INTERACTION_CREATE",
                r#"{"id":"i","type":11,"scene":"group","chat_type":1,"timestamp":"2025-01-01T00:00:00+08:00","group_openid":"g","group_member_openid":"m","version":1,"data":{"type":11,"resolved":{"button_data":"b","button_id":"1"}}}"#,
            ),
        ];
        assert_eq!(samples.len(), EventKind::ALL.len());
        for (t, d) in samples {
            let ev = Event::decode(t, d);
            assert_eq!(ev.kind().map(EventKind::as_str), Some(t), "{t}: {ev:?}");
        }
    }

    #[test]
    fn unknown_and_malformed_events_are_kept_raw() {
        let ev = Event::decode("AUDIO_START", r#"{"channel_id":"1"}"#);
        let Event::Unknown(u) = ev else { panic!() };
        assert_eq!(u.kind, "AUDIO_START");
        assert_eq!(u.data["channel_id"], "1");
        assert!(u.decode_error.is_none());

        let ev = Event::decode("C2C_MESSAGE_CREATE", r#"{"content":"no id"}"#);
        let Event::Unknown(u) = ev else { panic!() };
        assert_eq!(u.data["content"], "no id");
        assert!(u.decode_error.unwrap().contains("id"));
    }
}
