use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::Intents;

/// Gateway opcodes (spec §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpCode {
    /// 0: an event push (`t`, `d`, `s`, `id`).
    Dispatch,
    /// 1: heartbeat, `d` = last `s` or null.
    Heartbeat,
    /// 2: authenticate a new session.
    Identify,
    /// 6: resume a dropped session.
    Resume,
    /// 7: the server asks the client to reconnect and resume.
    Reconnect,
    /// 9: Identify or Resume parameters were wrong; `d` says whether resuming is allowed.
    InvalidSession,
    /// 10: first frame on a socket, carries `heartbeat_interval`.
    Hello,
    /// 11: heartbeat acknowledged.
    HeartbeatAck,
    /// 12: webhook ACK of a pushed event.
    HttpCallbackAck,
    /// 13: webhook callback URL validation.
    CallbackValidation,
}

impl OpCode {
    /// The opcode for a wire number, or `None` for numbers QQ does not use.
    pub fn from_u8(op: u8) -> Option<Self> {
        Some(match op {
            0 => Self::Dispatch,
            1 => Self::Heartbeat,
            2 => Self::Identify,
            6 => Self::Resume,
            7 => Self::Reconnect,
            9 => Self::InvalidSession,
            10 => Self::Hello,
            11 => Self::HeartbeatAck,
            12 => Self::HttpCallbackAck,
            13 => Self::CallbackValidation,
            _ => return None,
        })
    }

    /// The wire number.
    pub fn as_u8(self) -> u8 {
        match self {
            Self::Dispatch => 0,
            Self::Heartbeat => 1,
            Self::Identify => 2,
            Self::Resume => 6,
            Self::Reconnect => 7,
            Self::InvalidSession => 9,
            Self::Hello => 10,
            Self::HeartbeatAck => 11,
            Self::HttpCallbackAck => 12,
            Self::CallbackValidation => 13,
        }
    }
}

/// One gateway frame: `{"op", "d", "s", "t", "id"}` (spec §3.1).
///
/// `d` stays raw JSON until the receiver knows what it is, so routing a
/// dispatch costs one parse of the envelope and one of the payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GatewayFrame {
    /// The opcode number (see [`OpCode`]).
    pub op: u8,
    /// The payload, unparsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<Box<RawValue>>,
    /// Sequence number, on dispatches only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s: Option<u64>,
    /// Event type, on dispatches only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<String>,
    /// Event id (`"<TYPE>:<opaque>"`), usable as `event_id` for passive replies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl GatewayFrame {
    /// Decodes a text (or binary UTF-8) frame.
    pub fn decode(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Encodes the frame as JSON text.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a gateway frame always serialises")
    }

    /// The opcode, if QQ defines it.
    pub fn opcode(&self) -> Option<OpCode> {
        OpCode::from_u8(self.op)
    }

    /// Builds a frame with a typed payload.
    pub fn with_payload<T: Serialize>(op: OpCode, d: &T) -> Self {
        let raw = serde_json::value::to_raw_value(d).expect("payload serialises");
        Self { op: op.as_u8(), d: Some(raw), s: None, t: None, id: None }
    }

    /// A heartbeat carrying the last sequence number seen (or null).
    pub fn heartbeat(last_seq: Option<u64>) -> Self {
        Self::with_payload(OpCode::Heartbeat, &last_seq)
    }

    /// The server's `{"op":11}`.
    pub fn heartbeat_ack() -> Self {
        Self { op: OpCode::HeartbeatAck.as_u8(), d: None, s: None, t: None, id: None }
    }

    /// Parses `d` as `T`. A missing `d` parses as JSON `null`.
    pub fn payload<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        match &self.d {
            Some(raw) => serde_json::from_str(raw.get()),
            None => serde_json::from_str("null"),
        }
    }
}

/// Op 10 payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// Heartbeat interval in milliseconds.
    pub heartbeat_interval: f64,
}

/// Op 2 payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identify {
    /// `"QQBot <access_token>"`.
    pub token: String,
    /// Subscribed event groups.
    pub intents: Intents,
    /// `[shard_id, shard_count]`.
    pub shard: [u32; 2],
    /// Client description; ignored by the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<IdentifyProperties>,
}

/// `properties` of Identify.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentifyProperties {
    /// Operating system.
    #[serde(rename = "$os")]
    pub os: String,
    /// Library name.
    #[serde(rename = "$browser")]
    pub browser: String,
    /// Device name.
    #[serde(rename = "$device")]
    pub device: String,
}

impl Default for IdentifyProperties {
    fn default() -> Self {
        Self {
            os: std::env::consts::OS.to_owned(),
            browser: "pincer".to_owned(),
            device: "pincer".to_owned(),
        }
    }
}

/// Op 6 payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resume {
    /// `"QQBot <access_token>"` (botgo sends it bare; servers accept both).
    pub token: String,
    /// The session to resume.
    pub session_id: String,
    /// The last sequence number received.
    pub seq: u64,
}

/// Op 9 payload: whether the session may still be resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InvalidSession(pub bool);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_spec_frames() {
        let hello = GatewayFrame::decode(r#"{"op":10,"d":{"heartbeat_interval":45000}}"#).unwrap();
        assert_eq!(hello.opcode(), Some(OpCode::Hello));
        assert_eq!(hello.payload::<Hello>().unwrap().heartbeat_interval, 45000.0);

        let ack = GatewayFrame::decode(r#"{"op":11}"#).unwrap();
        assert_eq!(ack.opcode(), Some(OpCode::HeartbeatAck));
        assert!(ack.d.is_none());

        let ready = GatewayFrame::decode(
            r#"{"op":0,"s":1,"t":"READY","id":"READY:1","d":{"version":1,"session_id":"x","user":{"id":"1","username":"b","bot":true},"shard":[0,1]}}"#,
        )
        .unwrap();
        assert_eq!((ready.s, ready.t.as_deref()), (Some(1), Some("READY")));

        let invalid = GatewayFrame::decode(r#"{"op":9,"d":false}"#).unwrap();
        assert_eq!(invalid.payload::<InvalidSession>().unwrap(), InvalidSession(false));
        assert!(GatewayFrame::decode(r#"{"op":"x"}"#).is_err());
        assert_eq!(GatewayFrame::decode(r#"{"op":3}"#).unwrap().opcode(), None);
    }

    #[test]
    fn encodes_heartbeat_identify_and_resume_as_the_server_expects() {
        assert_eq!(GatewayFrame::heartbeat(None).encode(), r#"{"op":1,"d":null}"#);
        assert_eq!(GatewayFrame::heartbeat(Some(42)).encode(), r#"{"op":1,"d":42}"#);
        assert_eq!(GatewayFrame::heartbeat_ack().encode(), r#"{"op":11}"#);
        let identify = GatewayFrame::with_payload(
            OpCode::Identify,
            &Identify {
                token: "QQBot t".into(),
                intents: Intents::GROUP_AND_C2C_EVENT,
                shard: [0, 1],
                properties: None,
            },
        );
        assert_eq!(
            identify.encode(),
            r#"{"op":2,"d":{"token":"QQBot t","intents":33554432,"shard":[0,1]}}"#
        );
        let resume = GatewayFrame::with_payload(
            OpCode::Resume,
            &Resume { token: "QQBot t".into(), session_id: "s".into(), seq: 7 },
        );
        assert_eq!(resume.encode(), r#"{"op":6,"d":{"token":"QQBot t","session_id":"s","seq":7}}"#);
    }
}
