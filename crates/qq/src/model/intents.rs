use serde::{Deserialize, Serialize};

bitflags::bitflags! {
    /// Gateway intents: which event groups a session subscribes to (spec §4).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Intents: u32 {
        /// Guild and channel create/update/delete.
        const GUILDS = 1 << 0;
        /// Guild member add/update/remove.
        const GUILD_MEMBERS = 1 << 1;
        /// All guild messages (private-domain bots only).
        const GUILD_MESSAGES = 1 << 9;
        /// Reactions on guild messages.
        const GUILD_MESSAGE_REACTIONS = 1 << 10;
        /// Guild direct messages.
        const DIRECT_MESSAGE = 1 << 12;
        /// Open forum events.
        const OPEN_FORUMS_EVENT = 1 << 18;
        /// Audio/live channel member enter/exit.
        const AUDIO_OR_LIVE_CHANNEL_MEMBER = 1 << 19;
        /// C2C and group messages and their lifecycle events: what a chat agent needs.
        const GROUP_AND_C2C_EVENT = 1 << 25;
        /// Button and menu interactions.
        const INTERACTION = 1 << 26;
        /// Message audit results.
        const MESSAGE_AUDIT = 1 << 27;
        /// Forum events (private-domain bots only).
        const FORUMS_EVENT = 1 << 28;
        /// Audio actions.
        const AUDIO_ACTION = 1 << 29;
        /// Guild messages that @ the bot.
        const PUBLIC_GUILD_MESSAGES = 1 << 30;
    }
}

// On the wire intents are a plain number; bits Pincer does not name are kept.
impl Serialize for Intents {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.bits())
    }
}

impl<'de> Deserialize<'de> for Intents {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Intents::from_bits_retain(u32::deserialize(d)?))
    }
}

impl Default for Intents {
    /// C2C and group messages: what a personal chat bot needs.
    fn default() -> Self {
        Intents::GROUP_AND_C2C_EVENT
    }
}

impl Intents {
    /// The intent that gates an event type, or `None` for session events
    /// (READY, RESUMED) and types the spec does not map.
    pub fn for_event(kind: &str) -> Option<Intents> {
        Some(match kind {
            "GUILD_CREATE" | "GUILD_UPDATE" | "GUILD_DELETE" | "CHANNEL_CREATE"
            | "CHANNEL_UPDATE" | "CHANNEL_DELETE" => Intents::GUILDS,
            "GUILD_MEMBER_ADD" | "GUILD_MEMBER_UPDATE" | "GUILD_MEMBER_REMOVE" => {
                Intents::GUILD_MEMBERS
            }
            "MESSAGE_CREATE" | "MESSAGE_DELETE" => Intents::GUILD_MESSAGES,
            "MESSAGE_REACTION_ADD" | "MESSAGE_REACTION_REMOVE" => Intents::GUILD_MESSAGE_REACTIONS,
            "DIRECT_MESSAGE_CREATE" | "DIRECT_MESSAGE_DELETE" => Intents::DIRECT_MESSAGE,
            "C2C_MESSAGE_CREATE"
            | "FRIEND_ADD"
            | "FRIEND_DEL"
            | "C2C_MSG_REJECT"
            | "C2C_MSG_RECEIVE"
            | "GROUP_AT_MESSAGE_CREATE"
            | "GROUP_MESSAGE_CREATE"
            | "GROUP_ADD_ROBOT"
            | "GROUP_DEL_ROBOT"
            | "GROUP_MSG_REJECT"
            | "GROUP_MSG_RECEIVE" => Intents::GROUP_AND_C2C_EVENT,
            "INTERACTION_CREATE" => Intents::INTERACTION,
            "MESSAGE_AUDIT_PASS" | "MESSAGE_AUDIT_REJECT" => Intents::MESSAGE_AUDIT,
            "AT_MESSAGE_CREATE" | "PUBLIC_MESSAGE_DELETE" => Intents::PUBLIC_GUILD_MESSAGES,
            "AUDIO_START" | "AUDIO_FINISH" | "AUDIO_ON_MIC" | "AUDIO_OFF_MIC" => {
                Intents::AUDIO_ACTION
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_match_the_spec_examples() {
        let oc = Intents::PUBLIC_GUILD_MESSAGES
            | Intents::DIRECT_MESSAGE
            | Intents::GROUP_AND_C2C_EVENT
            | Intents::INTERACTION;
        assert_eq!(oc.bits(), 1_174_409_216);
        assert_eq!((Intents::GUILD_MESSAGES | Intents::GUILDS).bits(), 513);
        assert_eq!(serde_json::to_string(&Intents::GROUP_AND_C2C_EVENT).unwrap(), "33554432");
        assert_eq!(
            Intents::for_event("GROUP_AT_MESSAGE_CREATE"),
            Some(Intents::GROUP_AND_C2C_EVENT)
        );
        assert_eq!(Intents::for_event("READY"), None);
    }
}
