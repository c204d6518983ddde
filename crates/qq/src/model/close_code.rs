use std::fmt;

/// A WebSocket close code sent by the QQ gateway (spec §3.4).
///
/// Each code knows what it allows the client to do next ([`CloseCode::action`])
/// and, for the codes that stop a bot, what the user must do about it
/// ([`CloseCode::explain_zh`], [`CloseCode::explain_en`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseCode {
    /// 4000: unknown error.
    UnknownError,
    /// 4001: the client sent an invalid opcode.
    InvalidOpcode,
    /// 4002: the client sent an invalid payload.
    InvalidPayload,
    /// 4003: a payload was sent before Identify.
    NotAuthenticated,
    /// 4004: the token in Identify/Resume was rejected.
    AuthenticationFailed,
    /// 4005: Identify was sent twice.
    AlreadyAuthenticated,
    /// 4006: the session id is invalid; the session cannot be resumed.
    InvalidSession,
    /// 4007: the sequence number in Resume is invalid.
    InvalidSeq,
    /// 4008: payloads were sent too fast.
    RateLimited,
    /// 4009: the connection expired (the routine ~30 min rotation); resumable.
    SessionTimedOut,
    /// 4010: invalid shard.
    InvalidShard,
    /// 4011: the bot needs more shards.
    ShardingRequired,
    /// 4012: invalid API version.
    InvalidVersion,
    /// 4013: invalid intents.
    InvalidIntents,
    /// 4014: intents the bot is not permitted to use.
    DisallowedIntents,
    /// 4900–4913: internal server error; identify again.
    Internal(u16),
    /// 4914: the bot is delisted and may only use the sandbox.
    BotDelisted,
    /// 4915: the bot is banned.
    BotBanned,
    /// Any other code, including 1000/1001/1006 and codes the spec does not list.
    Other(u16),
}

/// What a client may do after a close (spec §3.4, "client action").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseAction {
    /// Reconnect and resume the session.
    Resume,
    /// Wait for the rate-limit backoff, then reconnect and resume.
    ResumeAfterBackoff,
    /// Drop the session and identify again.
    Identify,
    /// Refresh the access token, then identify.
    RefreshTokenThenIdentify,
    /// Stop: reconnecting cannot succeed until the user changes something.
    Fatal,
}

impl CloseCode {
    /// Classifies a raw close code.
    pub fn from_u16(code: u16) -> Self {
        match code {
            4000 => Self::UnknownError,
            4001 => Self::InvalidOpcode,
            4002 => Self::InvalidPayload,
            4003 => Self::NotAuthenticated,
            4004 => Self::AuthenticationFailed,
            4005 => Self::AlreadyAuthenticated,
            4006 => Self::InvalidSession,
            4007 => Self::InvalidSeq,
            4008 => Self::RateLimited,
            4009 => Self::SessionTimedOut,
            4010 => Self::InvalidShard,
            4011 => Self::ShardingRequired,
            4012 => Self::InvalidVersion,
            4013 => Self::InvalidIntents,
            4014 => Self::DisallowedIntents,
            4900..=4913 => Self::Internal(code),
            4914 => Self::BotDelisted,
            4915 => Self::BotBanned,
            other => Self::Other(other),
        }
    }

    /// The numeric code.
    pub fn as_u16(self) -> u16 {
        match self {
            Self::UnknownError => 4000,
            Self::InvalidOpcode => 4001,
            Self::InvalidPayload => 4002,
            Self::NotAuthenticated => 4003,
            Self::AuthenticationFailed => 4004,
            Self::AlreadyAuthenticated => 4005,
            Self::InvalidSession => 4006,
            Self::InvalidSeq => 4007,
            Self::RateLimited => 4008,
            Self::SessionTimedOut => 4009,
            Self::InvalidShard => 4010,
            Self::ShardingRequired => 4011,
            Self::InvalidVersion => 4012,
            Self::InvalidIntents => 4013,
            Self::DisallowedIntents => 4014,
            Self::Internal(c) | Self::Other(c) => c,
            Self::BotDelisted => 4914,
            Self::BotBanned => 4915,
        }
    }

    /// What the client does next. Codes the spec leaves open (4000, 1000,
    /// 1006, unknown codes) are treated like a transport error: keep the
    /// session and resume, which is what botgo does and what loses no event.
    pub fn action(self) -> CloseAction {
        match self {
            Self::SessionTimedOut | Self::UnknownError | Self::Other(_) => CloseAction::Resume,
            Self::RateLimited => CloseAction::ResumeAfterBackoff,
            Self::AuthenticationFailed => CloseAction::RefreshTokenThenIdentify,
            Self::InvalidOpcode
            | Self::InvalidPayload
            | Self::NotAuthenticated
            | Self::AlreadyAuthenticated
            | Self::InvalidSession
            | Self::InvalidSeq
            | Self::Internal(_) => CloseAction::Identify,
            Self::InvalidShard
            | Self::ShardingRequired
            | Self::InvalidVersion
            | Self::InvalidIntents
            | Self::DisallowedIntents
            | Self::BotDelisted
            | Self::BotBanned => CloseAction::Fatal,
        }
    }

    /// Whether the client may reconnect at all after this code.
    pub fn can_reconnect(self) -> bool {
        self.action() != CloseAction::Fatal
    }

    /// What happened and what the user must do, in Chinese (zh-CN).
    pub fn explain_zh(self) -> &'static str {
        match self {
            Self::SessionTimedOut => "连接到期（QQ 平台约每 30 分钟例行轮换），正在自动恢复会话，无需操作。",
            Self::RateLimited => "发送过快被 QQ 限流，稍后自动恢复会话。",
            Self::AuthenticationFailed => "鉴权失败，正在刷新访问令牌后重新登录。若反复出现，请检查 AppSecret 是否已在 QQ 开放平台重置。",
            Self::InvalidSession | Self::InvalidSeq => "会话已失效，正在重新登录；期间的少量消息可能无法补发。",
            Self::Internal(_) => "QQ 平台内部错误，正在重新登录。",
            Self::InvalidOpcode | Self::InvalidPayload | Self::NotAuthenticated | Self::AlreadyAuthenticated => {
                "与 QQ 平台的协议交互出错，正在重新登录。若反复出现，请反馈给 Pincer 开发者。"
            }
            Self::InvalidShard => "分片配置无效：请在设置中把分片数改回自动（由 QQ 平台推荐），然后重新启动机器人。",
            Self::ShardingRequired => "机器人所在频道过多，需要更多分片：请重新启动机器人以按 QQ 平台推荐的分片数连接。",
            Self::InvalidVersion => "QQ 平台不再支持当前协议版本：请升级 Pincer。",
            Self::InvalidIntents => "订阅的事件类型（intents）无效：请在机器人设置中恢复默认的事件订阅。",
            Self::DisallowedIntents => "机器人没有订阅这些事件的权限：请在 QQ 开放平台为机器人申请相应权限（如群聊、单聊），或在 Pincer 中取消这些事件后重新启动。",
            Self::BotDelisted => "机器人已被下架，只能在沙箱环境使用：请到 QQ 开放平台查看下架原因并处理，或把机器人切换到沙箱环境。",
            Self::BotBanned => "机器人已被 QQ 平台封禁：请登录 QQ 开放平台查看封禁原因并申诉，处理完成前无法连接。",
            Self::UnknownError | Self::Other(_) => "与 QQ 平台的连接断开，正在自动重连并恢复会话。",
        }
    }

    /// What happened and what the user must do, in English.
    pub fn explain_en(self) -> &'static str {
        match self {
            Self::SessionTimedOut => "The connection expired (QQ rotates it about every 30 minutes); resuming the session, nothing to do.",
            Self::RateLimited => "QQ rate-limited the connection; the session resumes after a pause.",
            Self::AuthenticationFailed => "Authentication failed; refreshing the access token and logging in again. If this repeats, check whether the AppSecret was reset on the QQ Open Platform.",
            Self::InvalidSession | Self::InvalidSeq => "The session is no longer valid; logging in again. A few messages sent meanwhile may not be replayed.",
            Self::Internal(_) => "Internal error on the QQ platform; logging in again.",
            Self::InvalidOpcode | Self::InvalidPayload | Self::NotAuthenticated | Self::AlreadyAuthenticated => {
                "Protocol error talking to QQ; logging in again. If this repeats, please report it to the Pincer developers."
            }
            Self::InvalidShard => "Invalid shard settings: set the shard count back to automatic (QQ's recommendation) and restart the bot.",
            Self::ShardingRequired => "The bot is in too many guilds and needs more shards: restart it to connect with the shard count QQ recommends.",
            Self::InvalidVersion => "QQ no longer supports this protocol version: please update Pincer.",
            Self::InvalidIntents => "The subscribed event types (intents) are invalid: restore the default event subscription in the bot's settings.",
            Self::DisallowedIntents => "The bot is not permitted to receive these events: request the permission (group / private chat) on the QQ Open Platform, or turn those events off in Pincer and restart.",
            Self::BotDelisted => "The bot was delisted and only works in the sandbox: see the reason on the QQ Open Platform, or switch the bot to the sandbox environment.",
            Self::BotBanned => "The bot was banned by QQ: see the reason and appeal on the QQ Open Platform; it cannot connect until then.",
            Self::UnknownError | Self::Other(_) => "The connection to QQ dropped; reconnecting and resuming the session.",
        }
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        Self::from_u16(code)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_code_round_trips_and_has_the_spec_action() {
        let table: &[(u16, CloseAction)] = &[
            (4000, CloseAction::Resume),
            (4001, CloseAction::Identify),
            (4002, CloseAction::Identify),
            (4003, CloseAction::Identify),
            (4004, CloseAction::RefreshTokenThenIdentify),
            (4005, CloseAction::Identify),
            (4006, CloseAction::Identify),
            (4007, CloseAction::Identify),
            (4008, CloseAction::ResumeAfterBackoff),
            (4009, CloseAction::Resume),
            (4010, CloseAction::Fatal),
            (4011, CloseAction::Fatal),
            (4012, CloseAction::Fatal),
            (4013, CloseAction::Fatal),
            (4014, CloseAction::Fatal),
            (4900, CloseAction::Identify),
            (4902, CloseAction::Identify),
            (4913, CloseAction::Identify),
            (4914, CloseAction::Fatal),
            (4915, CloseAction::Fatal),
            (1000, CloseAction::Resume),
            (1006, CloseAction::Resume),
        ];
        for &(raw, action) in table {
            let code = CloseCode::from_u16(raw);
            assert_eq!(code.as_u16(), raw);
            assert_eq!(code.action(), action, "close code {raw}");
            assert_eq!(code.can_reconnect(), action != CloseAction::Fatal);
        }
    }

    #[test]
    fn fatal_codes_tell_the_user_what_to_do_in_both_languages() {
        for raw in [4010, 4011, 4012, 4013, 4014, 4914, 4915] {
            let code = CloseCode::from_u16(raw);
            let (zh, en) = (code.explain_zh(), code.explain_en());
            assert!(zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{raw}: {zh}");
            assert!(!en.is_empty() && en.is_ascii(), "{raw}: {en}");
            assert!(!zh.contains("正在"), "a fatal code must not promise a retry: {zh}");
        }
        assert!(CloseCode::BotBanned.explain_zh().contains("封禁"));
        assert!(CloseCode::BotDelisted.explain_en().contains("sandbox"));
        assert!(CloseCode::DisallowedIntents.explain_en().contains("permi"));
    }
}
