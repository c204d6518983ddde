//! A [`ReplySink`] over `pincer_qq`'s [`Replier`]: the connector side of
//! delivery, one `Replier` per bot.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use pincer_qq::outbound::{Replier, ReplyError};

use crate::engine::{Delivered, DeliveryError, ReplySink};
use crate::store::OutboundReply;

/// Delivers outbox entries as QQ passive replies through each bot's
/// [`Replier`]. Register a bot's replier when its connection is up.
#[derive(Debug, Default)]
pub struct QqReplySink {
    repliers: RwLock<HashMap<String, Arc<Replier>>>,
}

impl QqReplySink {
    /// A sink with no bots.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the replier of `bot`.
    pub fn insert(&self, bot: impl Into<String>, replier: Arc<Replier>) {
        self.repliers.write().unwrap_or_else(|p| p.into_inner()).insert(bot.into(), replier);
    }

    /// Forgets the replier of `bot`; its replies then fail until it is set again.
    pub fn remove(&self, bot: &str) {
        self.repliers.write().unwrap_or_else(|p| p.into_inner()).remove(bot);
    }
}

#[async_trait::async_trait]
impl ReplySink for QqReplySink {
    async fn deliver(&self, reply: &OutboundReply) -> Result<Delivered, DeliveryError> {
        let replier = self
            .repliers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&reply.bot)
            .cloned()
            .ok_or_else(|| {
                DeliveryError::Transient(format!("bot {} has no QQ connection", reply.bot))
            })?;
        // Keyed by the outbox entry: a send repeated after a crash reuses its
        // msg_seq, so QQ's de-duplication tells whether it had arrived.
        let key = format!("outbox-{}", reply.id);
        match replier.reply_once(&reply.qq_target(), &reply.text, reply.markdown, &key).await {
            Ok(sent) => Ok(Delivered { response_id: sent.first().and_then(|s| s.id.clone()) }),
            // Even after some chunks went out: the same key sends only the
            // rest next time (sent chunks reuse their recorded seq).
            Err(e @ ReplyError::NotRecorded { .. }) => {
                Err(DeliveryError::Storage { en: e.to_string(), zh: e.explain_zh() })
            }
            // Part of the entry went out (the platform made the replier split
            // it): sending it again would repeat that part.
            Err(e) if !e.sent().is_empty() => {
                tracing::warn!(error = %e, "reply only partly delivered");
                Ok(Delivered { response_id: e.sent().first().and_then(|s| s.id.clone()) })
            }
            Err(ReplyError::Api { source, .. }) if source.is_retryable() => {
                Err(DeliveryError::Transient(source.to_string()))
            }
            Err(e) => Err(DeliveryError::Permanent(e.to_string())),
        }
    }
}
