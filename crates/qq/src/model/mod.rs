//! Serde types for the QQ bot API v2: gateway frames, intents, close codes,
//! events and REST bodies. Pure data, no I/O.
//!
//! Field names follow the wire format of `qq-bot-protocol.md` §3–§6. Fields the
//! platform documents as optional, or that only some SDKs observed, are
//! `Option` or `#[serde(default)]`, so a payload that lacks them still decodes.

mod close_code;
mod event;
mod frame;
mod intents;
mod message;

pub use close_code::{CloseAction, CloseCode};
pub use event::{
    Attachment, C2cAuthor, C2cMessage, Dispatch, Event, EventKind, FriendEvent, GroupAuthor,
    GroupMessage, GroupRobotEvent, GuildMember, GuildMessage, GuildUser, Interaction,
    InteractionData, InteractionResolved, Mention, MessageReference, MessageScene, Ready,
    ReadyUser, UnknownEvent,
};
pub use frame::{
    GatewayFrame, Hello, Identify, IdentifyProperties, InvalidSession, OpCode, Resume,
};
pub use intents::Intents;
pub use message::{
    BotUser, FileType, GatewayBot, GatewayUrl, InputNotify, Keyboard, Markdown, Media, MediaUpload,
    MediaUploadResponse, MessageBody, MsgType, SendExtInfo, SendResponse, SessionStartLimit,
};

/// Deserialises a value that the platform sends either as a JSON string or as a
/// number (`expires_in`, `bot_appid`, timestamps) into a `String`.
pub(crate) mod string_or_number {
    #![allow(missing_docs)]
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flex {
        S(String),
        I(i64),
        U(u64),
        F(f64),
    }

    pub fn serialize<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(match Flex::deserialize(d)? {
            Flex::S(s) => s,
            Flex::I(i) => i.to_string(),
            Flex::U(u) => u.to_string(),
            Flex::F(f) => f.to_string(),
        })
    }

    /// The same for an optional field.
    pub mod option {
        use super::Flex;
        use serde::{Deserialize, Deserializer};

        pub fn serialize<S: serde::Serializer>(
            v: &Option<String>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => s.serialize_str(v),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
            Ok(Option::<Flex>::deserialize(d)?.map(|f| match f {
                Flex::S(s) => s,
                Flex::I(i) => i.to_string(),
                Flex::U(u) => u.to_string(),
                Flex::F(f) => f.to_string(),
            }))
        }
    }
}
