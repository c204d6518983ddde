//! Sending an agent's answer as passive replies: split into chunks, one
//! ledger slot per chunk, markdown with a plain-text fallback, and the
//! recoveries of spec §6.7 (duplicate seq, too long).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::http::{ApiError, RestClient};
use crate::model::{MessageBody, SendResponse};
use crate::reply::{Anchor, ReplyLedger, ReplyRefused, Scene, SlotError};
use crate::text::{markdown_to_plain, split_text, DEFAULT_MAX_CHARS};

/// How often one chunk is re-sent with a new `msg_seq` after 40054005.
const MAX_DUPLICATE_RETRIES: u32 = 3;

/// Where a reply goes and what it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTarget {
    /// The scene, which picks the endpoint and the reply rules.
    pub scene: Scene,
    /// The user openid (C2C), group openid, channel id or DM guild id.
    pub target_id: String,
    /// The inbound message or event being answered.
    pub anchor: Anchor,
}

impl ReplyTarget {
    /// A target from its parts.
    pub fn new(scene: Scene, target_id: impl Into<String>, anchor: Anchor) -> Self {
        Self { scene, target_id: target_id.into(), anchor }
    }

    /// A reply in a private chat to the message `msg_id`.
    pub fn c2c(user_openid: impl Into<String>, msg_id: impl Into<String>) -> Self {
        Self::new(Scene::C2c, user_openid, Anchor::Message(msg_id.into()))
    }

    /// A reply in a group to the message `msg_id`.
    pub fn group(group_openid: impl Into<String>, msg_id: impl Into<String>) -> Self {
        Self::new(Scene::Group, group_openid, Anchor::Message(msg_id.into()))
    }

    /// A reply in a guild channel to the message `msg_id`.
    pub fn channel(channel_id: impl Into<String>, msg_id: impl Into<String>) -> Self {
        Self::new(Scene::Channel, channel_id, Anchor::Message(msg_id.into()))
    }

    /// A reply in a guild DM to the message `msg_id`.
    pub fn dm(guild_id: impl Into<String>, msg_id: impl Into<String>) -> Self {
        Self::new(Scene::Dm, guild_id, Anchor::Message(msg_id.into()))
    }

    /// The passive-reply target of an inbound message event: the sender's
    /// chat (private, group, channel or DM) and the message itself as the
    /// anchor. `None` for events that are not messages.
    pub fn for_message(event: &crate::model::Event) -> Option<Self> {
        use crate::model::Event;
        Some(match event {
            Event::C2cMessageCreate(m) => Self::c2c(&m.author.user_openid, &m.id),
            Event::GroupAtMessageCreate(m) | Event::GroupMessageCreate(m) => {
                Self::group(&m.group_openid, &m.id)
            }
            Event::AtMessageCreate(m) | Event::MessageCreate(m) => {
                Self::channel(&m.channel_id, &m.id)
            }
            Event::DirectMessageCreate(m) => Self::dm(&m.guild_id, &m.id),
            _ => return None,
        })
    }

    /// A reply to an event (FRIEND_ADD, GROUP_ADD_ROBOT, INTERACTION_CREATE, …)
    /// by its envelope id.
    pub fn event(scene: Scene, target_id: impl Into<String>, event_id: impl Into<String>) -> Self {
        Self::new(scene, target_id, Anchor::Event(event_id.into()))
    }
}

/// Why a reply was not (fully) sent. Every kind carries the messages that
/// did go out before the failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// The reply rules forbid another reply; nothing more was sent.
    #[error("{reason}")]
    Refused {
        /// Why.
        reason: ReplyRefused,
        /// Chunks sent before the refusal.
        sent: Vec<SendResponse>,
    },
    /// The answer needs more messages than replies are left; nothing was sent.
    #[error("the answer needs {needed} messages but only {remaining} replies to this message are left; shorten it")]
    NotEnoughReplies {
        /// Chunks the answer was split into.
        needed: usize,
        /// Replies left.
        remaining: u32,
    },
    /// A chunk's `msg_seq` could not be recorded in the reply ledger (a
    /// full disk): that chunk and the rest were not sent. Try again later
    /// with the same key; chunks already sent are then recognised.
    #[error("{source}")]
    NotRecorded {
        /// What the ledger said ([`SlotError::NotRecorded`]).
        source: SlotError,
        /// Chunks sent before.
        sent: Vec<SendResponse>,
    },
    /// The platform refused a send.
    #[error("{source}")]
    Api {
        /// The platform's error.
        #[source]
        source: ApiError,
        /// Chunks sent before the failure.
        sent: Vec<SendResponse>,
    },
}

impl ReplyError {
    /// The messages that were delivered before the failure.
    pub fn sent(&self) -> &[SendResponse] {
        match self {
            Self::Refused { sent, .. }
            | Self::Api { sent, .. }
            | Self::NotRecorded { sent, .. } => sent,
            Self::NotEnoughReplies { .. } => &[],
        }
    }

    /// The same in Chinese, for the user.
    pub fn explain_zh(&self) -> String {
        match self {
            Self::Refused { reason, .. } => reason.explain_zh(),
            Self::NotEnoughReplies { needed, remaining } => {
                format!("回复需要分成 {needed} 条发送，但这条消息只剩 {remaining} 次回复机会；请缩短回复。")
            }
            Self::Api { source, .. } => source.explain_zh(),
            Self::NotRecorded { source, .. } => source.explain_zh(),
        }
    }
}

/// Sends answers as passive replies for one bot. Share it (`Arc`); it
/// remembers, for the bot, whether markdown is allowed and how long a
/// message may be.
#[derive(Debug)]
pub struct Replier {
    rest: RestClient,
    ledger: Arc<ReplyLedger>,
    max_chars: AtomicUsize,
    markdown_allowed: AtomicBool,
}

impl Replier {
    /// A replier sending through `rest` and counting in `ledger`, with
    /// chunks of [`DEFAULT_MAX_CHARS`].
    pub fn new(rest: RestClient, ledger: Arc<ReplyLedger>) -> Self {
        Self {
            rest,
            ledger,
            max_chars: AtomicUsize::new(DEFAULT_MAX_CHARS),
            markdown_allowed: AtomicBool::new(true),
        }
    }

    /// Sets the chunk size in characters.
    pub fn with_max_chars(self, max_chars: usize) -> Self {
        self.max_chars.store(max_chars.max(1), Ordering::Relaxed);
        self
    }

    /// The current chunk size; lowered when the platform says "too long".
    pub fn max_chars(&self) -> usize {
        self.max_chars.load(Ordering::Relaxed)
    }

    /// Whether markdown sends are tried; turned off for good after the
    /// platform rejects one.
    pub fn markdown_allowed(&self) -> bool {
        self.markdown_allowed.load(Ordering::Relaxed)
    }

    /// Sets whether markdown sends are tried (e.g. from stored settings).
    pub fn set_markdown_allowed(&self, allowed: bool) {
        self.markdown_allowed.store(allowed, Ordering::Relaxed);
    }

    /// The ledger, to [`observe`](ReplyLedger::observe) inbound messages and
    /// check [`remaining`](ReplyLedger::remaining) replies before answering.
    pub fn ledger(&self) -> &Arc<ReplyLedger> {
        &self.ledger
    }

    /// The REST client.
    pub fn rest(&self) -> &RestClient {
        &self.rest
    }

    /// Sends `text` as passive replies to `target`.
    ///
    /// The text is split into chunks; if fewer replies are left than chunks,
    /// nothing is sent ([`ReplyError::NotEnoughReplies`]). Each chunk takes a
    /// ledger slot (its own `msg_seq`). With `markdown`, chunks go out as
    /// markdown until the platform rejects markdown, after which this and
    /// later replies are sent as [`markdown_to_plain`] text. A duplicate
    /// `msg_seq` (40054005) is re-sent with the next seq; "too long"
    /// (40054007/40054018) splits the chunk in halves and lowers the chunk
    /// size for later replies. When the platform says the anchor is used up
    /// or expired, the ledger closes it. Empty text sends nothing.
    pub async fn reply(
        &self,
        target: &ReplyTarget,
        text: &str,
        markdown: bool,
    ) -> Result<Vec<SendResponse>, ReplyError> {
        self.send_reply(target, text, markdown, None).await
    }

    /// [`reply`](Self::reply) that can be repeated safely after a crash:
    /// each chunk's `msg_seq` is reserved in the ledger under `key` (e.g. an
    /// outbox entry id) before it is sent. Called again with the same key —
    /// by a restarted process that does not know whether the first send
    /// arrived — a chunk goes out with the same seq, and QQ's "duplicate
    /// msg_seq" (40054005) answer then counts as delivered. Never doubled,
    /// never lost.
    pub async fn reply_once(
        &self,
        target: &ReplyTarget,
        text: &str,
        markdown: bool,
        key: &str,
    ) -> Result<Vec<SendResponse>, ReplyError> {
        self.send_reply(target, text, markdown, Some(key)).await
    }

    async fn send_reply(
        &self,
        target: &ReplyTarget,
        text: &str,
        markdown: bool,
        key: Option<&str>,
    ) -> Result<Vec<SendResponse>, ReplyError> {
        let mut queue: VecDeque<String> = split_text(text, self.max_chars()).into();
        let mut sent = Vec::new();
        if queue.is_empty() {
            return Ok(sent);
        }
        match self.ledger.remaining(target.scene, &target.anchor) {
            Err(reason) => return Err(ReplyError::Refused { reason, sent }),
            Ok(Some(remaining)) if (remaining as usize) < queue.len() => {
                return Err(ReplyError::NotEnoughReplies { needed: queue.len(), remaining });
            }
            Ok(_) => {}
        }
        let mut chunk_index = 0usize;
        while let Some(chunk) = queue.pop_front() {
            let mut duplicates = 0;
            // Only the first attempt of an original chunk is keyed: a retry
            // (markdown fallback, duplicate seq, re-split) is a new send.
            let mut chunk_key = key.map(|k| format!("{k}/{chunk_index}"));
            chunk_index += 1;
            loop {
                let (slot, reused) = match chunk_key.take() {
                    Some(k) => {
                        match self.ledger.keyed_slot(target.scene, &target.anchor, &k).await {
                            Ok(slot) => slot,
                            Err(SlotError::Refused(reason)) => {
                                return Err(ReplyError::Refused { reason, sent })
                            }
                            Err(source) => return Err(ReplyError::NotRecorded { source, sent }),
                        }
                    }
                    None => (
                        self.ledger
                            .next_slot(target.scene, &target.anchor)
                            .await
                            .map_err(|reason| ReplyError::Refused { reason, sent: sent.clone() })?,
                        false,
                    ),
                };
                let as_markdown = markdown && self.markdown_allowed();
                let body = if as_markdown {
                    MessageBody::markdown(chunk.as_str())
                } else if markdown {
                    MessageBody::text(markdown_to_plain(&chunk))
                } else {
                    MessageBody::text(chunk.as_str())
                };
                let body = match &target.anchor {
                    Anchor::Message(id) => body.reply_to(id.as_str(), slot.msg_seq),
                    Anchor::Event(id) => body.reply_to_event(id.as_str(), slot.msg_seq),
                };
                if slot.is_last() {
                    tracing::info!(target = %target.target_id, "sending the last passive reply this message allows");
                }
                let error = match self.send(target, &body).await {
                    Ok(response) => {
                        sent.push(response);
                        break;
                    }
                    Err(error) => error,
                };
                if as_markdown && error.is_markdown_rejected() {
                    tracing::warn!(code = ?error.code(), "QQ rejected markdown; sending plain text from now on");
                    self.markdown_allowed.store(false, Ordering::Relaxed);
                    self.ledger.refund(&target.anchor).await;
                    continue;
                }
                if error.is_duplicate_seq() && reused {
                    // This exact (msg_id, msg_seq) arrived before the crash.
                    tracing::info!(msg_seq = slot.msg_seq, "a repeated send had already arrived");
                    sent.push(SendResponse { id: None, timestamp: None, ext_info: None });
                    break;
                }
                if error.is_duplicate_seq() && duplicates < MAX_DUPLICATE_RETRIES {
                    // The seq was used before (by an earlier process or a lost
                    // answer); the slot stays counted, the next one has a new seq.
                    duplicates += 1;
                    tracing::warn!(
                        msg_seq = slot.msg_seq,
                        "QQ says msg_seq was already used; retrying with the next one"
                    );
                    continue;
                }
                if error.is_too_long() {
                    let len = chunk.chars().count();
                    if len > 1 {
                        let smaller = len.div_ceil(2);
                        self.max_chars.fetch_min(smaller, Ordering::Relaxed);
                        self.ledger.refund(&target.anchor).await;
                        tracing::warn!(
                            len,
                            smaller,
                            "QQ says the message is too long; splitting it"
                        );
                        for piece in split_text(&chunk, smaller).into_iter().rev() {
                            queue.push_front(piece);
                        }
                        break;
                    }
                }
                if error.is_reply_budget_exhausted() || error.is_msg_id_expired() {
                    self.ledger.close(&target.anchor).await;
                }
                return Err(ReplyError::Api { source: error, sent });
            }
        }
        Ok(sent)
    }

    /// A "typing…" notice in a private chat, using one passive reply
    /// (spec §6.4). Other scenes have no typing notice and return `Ok(None)`.
    pub async fn typing(
        &self,
        target: &ReplyTarget,
        seconds: u8,
    ) -> Result<Option<SendResponse>, ReplyError> {
        let (Scene::C2c, Anchor::Message(msg_id)) = (target.scene, &target.anchor) else {
            return Ok(None);
        };
        let slot = self
            .ledger
            .next_slot(target.scene, &target.anchor)
            .await
            .map_err(|reason| ReplyError::Refused { reason, sent: Vec::new() })?;
        self.rest
            .c2c_input_notify(&target.target_id, msg_id, slot.msg_seq, seconds)
            .await
            .map(Some)
            .map_err(|source| ReplyError::Api { source, sent: Vec::new() })
    }

    async fn send(
        &self,
        target: &ReplyTarget,
        body: &MessageBody,
    ) -> Result<SendResponse, ApiError> {
        match target.scene {
            Scene::C2c => self.rest.send_c2c(&target.target_id, body).await,
            Scene::Group => self.rest.send_group(&target.target_id, body).await,
            Scene::Channel => self.rest.send_channel(&target.target_id, body).await,
            Scene::Dm => self.rest.send_dm(&target.target_id, body).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_pick_anchor_kinds() {
        let t = ReplyTarget::c2c("U", "M");
        assert_eq!((t.scene, t.anchor.clone()), (Scene::C2c, Anchor::Message("M".into())));
        let e = ReplyTarget::event(Scene::Group, "G", "GROUP_ADD_ROBOT:1");
        assert_eq!(e.anchor, Anchor::Event("GROUP_ADD_ROBOT:1".into()));
        assert_eq!(ReplyTarget::dm("g", "m").scene, Scene::Dm);
        assert_eq!(ReplyTarget::channel("c", "m").scene, Scene::Channel);
        assert_eq!(ReplyTarget::group("g", "m").target_id, "g");
    }

    #[test]
    fn reply_errors_explain_themselves() {
        let e = ReplyError::NotEnoughReplies { needed: 3, remaining: 1 };
        assert!(e.to_string().contains("needs 3 messages but only 1"));
        assert!(e.explain_zh().contains("3 条"));
        assert!(e.sent().is_empty());
        let r = ReplyError::Refused {
            reason: ReplyRefused::BudgetExhausted { scene: Scene::C2c, budget: 4 },
            sent: vec![SendResponse { id: Some("x".into()), timestamp: None, ext_info: None }],
        };
        assert_eq!(r.sent().len(), 1);
        assert!(r.to_string().contains("all 4 replies"));
    }
}
