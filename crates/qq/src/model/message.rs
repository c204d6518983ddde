use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::string_or_number;

/// `msg_type` of a v2 send (spec §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
#[non_exhaustive]
pub enum MsgType {
    /// 0: plain text.
    Text,
    /// 2: markdown.
    Markdown,
    /// 3: ark template.
    Ark,
    /// 4: embed.
    Embed,
    /// 6: input notify ("typing"), C2C only.
    InputNotify,
    /// 7: rich media from an upload.
    Media,
}

impl From<MsgType> for u8 {
    fn from(t: MsgType) -> u8 {
        match t {
            MsgType::Text => 0,
            MsgType::Markdown => 2,
            MsgType::Ark => 3,
            MsgType::Embed => 4,
            MsgType::InputNotify => 6,
            MsgType::Media => 7,
        }
    }
}

impl TryFrom<u8> for MsgType {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        Ok(match v {
            0 => MsgType::Text,
            2 => MsgType::Markdown,
            3 => MsgType::Ark,
            4 => MsgType::Embed,
            6 => MsgType::InputNotify,
            7 => MsgType::Media,
            other => return Err(format!("unknown msg_type {other}")),
        })
    }
}

/// Native markdown, or a markdown template with parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Markdown {
    /// Native markdown text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Template id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_template_id: Option<String>,
    /// Template parameters `[{key, values}]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
}

/// A keyboard (buttons), by template id or inline content; passed through as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Keyboard(pub Value);

/// `media` of a msg_type 7 send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Media {
    /// From an upload's response.
    pub file_info: String,
}

/// `input_notify` of a msg_type 6 send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputNotify {
    /// 1 = typing.
    pub input_type: u8,
    /// 1..=60 seconds.
    pub input_second: u8,
}

/// The body of a C2C / group / channel / DM send (spec §6.2). Unset fields are
/// left out of the JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageBody {
    /// Text; `" "` for media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// What kind of message.
    pub msg_type: MsgType,
    /// Markdown payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub markdown: Option<Markdown>,
    /// Buttons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyboard: Option<Keyboard>,
    /// Ark template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ark: Option<Value>,
    /// Embed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embed: Option<Value>,
    /// Uploaded media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<Media>,
    /// The inbound message this answers (passive reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<String>,
    /// The inbound event this answers (passive reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Unique per `msg_id`; a repeat is rejected as a duplicate (40054005).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_seq: Option<u32>,
    /// Quote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_reference: Option<Value>,
    /// Typing notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_notify: Option<InputNotify>,
    /// Recall ("wake-up") message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_wakeup: Option<bool>,
}

impl MessageBody {
    /// A plain-text body.
    pub fn text(content: impl Into<String>) -> Self {
        Self::of_type(MsgType::Text, Some(content.into()))
    }

    /// A native-markdown body.
    pub fn markdown(content: impl Into<String>) -> Self {
        let mut body = Self::of_type(MsgType::Markdown, None);
        body.markdown = Some(Markdown {
            content: Some(content.into()),
            custom_template_id: None,
            params: None,
        });
        body
    }

    /// A rich-media body for an uploaded file.
    pub fn media(file_info: impl Into<String>) -> Self {
        let mut body = Self::of_type(MsgType::Media, Some(" ".to_owned()));
        body.media = Some(Media { file_info: file_info.into() });
        body
    }

    /// A typing notice lasting `seconds` (C2C only).
    pub fn input_notify(seconds: u8) -> Self {
        let mut body = Self::of_type(MsgType::InputNotify, None);
        body.input_notify = Some(InputNotify { input_type: 1, input_second: seconds.clamp(1, 60) });
        body
    }

    fn of_type(msg_type: MsgType, content: Option<String>) -> Self {
        Self {
            content,
            msg_type,
            markdown: None,
            keyboard: None,
            ark: None,
            embed: None,
            media: None,
            msg_id: None,
            event_id: None,
            msg_seq: None,
            message_reference: None,
            input_notify: None,
            is_wakeup: None,
        }
    }

    /// Makes the send a passive reply to an inbound message.
    pub fn reply_to(mut self, msg_id: impl Into<String>, msg_seq: u32) -> Self {
        self.msg_id = Some(msg_id.into());
        self.msg_seq = Some(msg_seq);
        self
    }

    /// Makes the send a passive reply to an event (FRIEND_ADD, GROUP_ADD_ROBOT, …).
    pub fn reply_to_event(mut self, event_id: impl Into<String>, msg_seq: u32) -> Self {
        self.event_id = Some(event_id.into());
        self.msg_seq = Some(msg_seq);
        self
    }
}

/// `ext_info` of a send response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SendExtInfo {
    /// `REFIDX_…`, usable to quote the sent message.
    #[serde(default)]
    pub ref_idx: Option<String>,
}

/// A successful send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendResponse {
    /// The sent message's id.
    #[serde(default)]
    pub id: Option<String>,
    /// Int or RFC3339 string, depending on the endpoint's age.
    #[serde(default, with = "string_or_number::option")]
    pub timestamp: Option<String>,
    /// Extra info.
    #[serde(default)]
    pub ext_info: Option<SendExtInfo>,
}

/// `file_type` of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum FileType {
    /// 1
    Image,
    /// 2
    Video,
    /// 3 (SILK)
    Voice,
    /// 4
    File,
}

impl From<FileType> for u8 {
    fn from(t: FileType) -> u8 {
        match t {
            FileType::Image => 1,
            FileType::Video => 2,
            FileType::Voice => 3,
            FileType::File => 4,
        }
    }
}

impl TryFrom<u8> for FileType {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        Ok(match v {
            1 => FileType::Image,
            2 => FileType::Video,
            3 => FileType::Voice,
            4 => FileType::File,
            other => return Err(format!("unknown file_type {other}")),
        })
    }
}

/// Body of `POST /v2/{users|groups}/{id}/files`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaUpload {
    /// What kind of file.
    pub file_type: FileType,
    /// Where the platform fetches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Base64 of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<String>,
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Send it at once (counts as proactive).
    #[serde(default)]
    pub srv_send_msg: bool,
}

/// Response of an upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaUploadResponse {
    /// File id.
    #[serde(default)]
    pub file_uuid: String,
    /// Pass as `media.file_info`.
    pub file_info: String,
    /// Seconds of validity, 0 = long-lived.
    #[serde(default)]
    pub ttl: u64,
    /// Message id when `srv_send_msg` was set.
    #[serde(default)]
    pub id: Option<String>,
}

/// `GET /gateway`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayUrl {
    /// The WebSocket URL.
    pub url: String,
}

/// `session_start_limit` of `/gateway/bot`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionStartLimit {
    /// Session starts per 24 h.
    pub total: u32,
    /// Starts left.
    pub remaining: u32,
    /// Milliseconds until the quota resets.
    pub reset_after: u64,
    /// Sessions that may start per 5 s.
    pub max_concurrency: u32,
}

/// `GET /gateway/bot`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayBot {
    /// The WebSocket URL.
    pub url: String,
    /// Recommended shard count.
    pub shards: u32,
    /// Identify quota.
    pub session_start_limit: SessionStartLimit,
}

/// `GET /users/@me`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotUser {
    /// Bot user id.
    #[serde(with = "string_or_number")]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub username: String,
    /// Avatar URL.
    #[serde(default)]
    pub avatar: Option<String>,
    /// Cross-app id.
    #[serde(default)]
    pub union_openid: Option<String>,
    /// Cross-app account.
    #[serde(default)]
    pub union_user_account: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_serialise_without_unset_fields() {
        let body = MessageBody::text("hi").reply_to("m1", 3);
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"content":"hi","msg_type":0,"msg_id":"m1","msg_seq":3}"#
        );
        let md = MessageBody::markdown("**x**");
        assert_eq!(serde_json::to_value(&md).unwrap()["markdown"]["content"], "**x**");
        assert_eq!(
            serde_json::to_value(MessageBody::input_notify(200)).unwrap()["input_notify"]
                ["input_second"],
            60
        );
        let back: MessageBody =
            serde_json::from_str(r#"{"content":" ","msg_type":7,"media":{"file_info":"f"}}"#)
                .unwrap();
        assert_eq!(back, MessageBody::media("f"));
    }

    #[test]
    fn send_response_accepts_int_and_string_timestamps() {
        let a: SendResponse = serde_json::from_str(r#"{"id":"x","timestamp":1700000000}"#).unwrap();
        let b: SendResponse = serde_json::from_str(r#"{"id":"x","timestamp":"2025-01-01T00:00:00+08:00","ext_info":{"ref_idx":"REFIDX_1"}}"#).unwrap();
        assert_eq!(a.timestamp.as_deref(), Some("1700000000"));
        assert_eq!(b.ext_info.unwrap().ref_idx.as_deref(), Some("REFIDX_1"));
    }
}
