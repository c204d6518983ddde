//! What the model sees: the persona (system prompt), the history trimmed to
//! a token budget, and an optional rolling summary of what was trimmed.
//!
//! # Token estimate
//!
//! Pincer does not ship every provider's tokenizer; it estimates. Each CJK
//! character (Han, kana, Hangul, CJK punctuation and full-width forms)
//! counts as one token; other text counts one token per four characters
//! (rounded up); each message adds [`MESSAGE_OVERHEAD_TOKENS`]. Real
//! tokenizers give 0.6–1.5 tokens per Chinese character and ~4 English
//! characters per token, so budgets keep a safety margin.

use serde::{Deserialize, Serialize};

use crate::provider::{ChatMessage, ToolSpec};

/// Tokens added per message for role markers and separators.
pub const MESSAGE_OVERHEAD_TOKENS: usize = 4;

/// Whether `c` counts as one token on its own (CJK scripts and punctuation).
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF      // Hangul Jamo
        | 0x2E80..=0x2FDF    // CJK radicals
        | 0x3000..=0x303F    // CJK symbols and punctuation
        | 0x3040..=0x30FF    // Hiragana, Katakana
        | 0x3100..=0x31FF    // Bopomofo etc.
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF00..=0xFFEF    // full-width forms
        | 0x20000..=0x3FFFF) // CJK extensions B+
}

/// Estimated tokens of `text` (see the module docs).
pub fn estimate_tokens(text: &str) -> usize {
    let mut cjk = 0usize;
    let mut other = 0usize;
    for c in text.chars() {
        if is_cjk(c) {
            cjk += 1;
        } else {
            other += 1;
        }
    }
    cjk + other.div_ceil(4)
}

/// Estimated tokens of one message, including tool calls and overhead.
pub fn estimate_message_tokens(m: &ChatMessage) -> usize {
    let calls: usize = m
        .tool_calls
        .iter()
        .map(|c| estimate_tokens(&c.name) + estimate_tokens(&c.arguments.to_string()))
        .sum();
    MESSAGE_OVERHEAD_TOKENS + estimate_tokens(&m.content) + calls
}

/// Estimated tokens of tool specs sent with a request.
pub fn estimate_tools_tokens(tools: &[ToolSpec]) -> usize {
    tools
        .iter()
        .map(|t| {
            estimate_tokens(&t.name)
                + estimate_tokens(&t.description)
                + estimate_tokens(&t.parameters.to_string())
        })
        .sum()
}

/// The result of fitting history into a budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Trimmed {
    /// The messages kept, oldest first (always includes the last one).
    pub kept: Vec<ChatMessage>,
    /// The messages dropped (oldest), oldest first.
    pub dropped: Vec<ChatMessage>,
    /// Estimated tokens of `kept`.
    pub tokens: usize,
}

/// Keeps the newest messages whose estimated tokens fit in `budget`,
/// dropping the oldest. The last message (the current user message) is
/// always kept, even if it alone exceeds the budget. A kept history never
/// starts with an assistant message (models expect a user turn first).
pub fn trim_to_budget(messages: Vec<ChatMessage>, budget: usize) -> Trimmed {
    let mut used = 0usize;
    let mut split = messages.len();
    for (i, m) in messages.iter().enumerate().rev() {
        let t = estimate_message_tokens(m);
        if i + 1 != messages.len() && used + t > budget {
            break;
        }
        used += t;
        split = i;
    }
    // Do not start with an assistant turn.
    while split + 1 < messages.len() && messages[split].role != crate::provider::Role::User {
        used -= estimate_message_tokens(&messages[split]);
        split += 1;
    }
    let mut kept = messages;
    let dropped: Vec<ChatMessage> = kept.drain(..split).collect();
    Trimmed { kept, dropped, tokens: used }
}

/// Built-in personas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonaTemplate {
    /// 助手: a general assistant for private chats.
    Assistant,
    /// 群助手: a helper in group chats: brief, addresses members.
    GroupHelper,
    /// 翻译: translates between Chinese and other languages.
    Translator,
    /// 学习伙伴: a patient study buddy.
    StudyBuddy,
}

impl PersonaTemplate {
    /// Every template, for the settings UI.
    pub const ALL: [PersonaTemplate; 4] =
        [Self::Assistant, Self::GroupHelper, Self::Translator, Self::StudyBuddy];

    /// Display name (zh-CN).
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::Assistant => "助手",
            Self::GroupHelper => "群助手",
            Self::Translator => "翻译",
            Self::StudyBuddy => "学习伙伴",
        }
    }

    /// Display name (English).
    pub fn name_en(self) -> &'static str {
        match self {
            Self::Assistant => "Assistant",
            Self::GroupHelper => "Group helper",
            Self::Translator => "Translator",
            Self::StudyBuddy => "Study buddy",
        }
    }

    /// The system prompt (zh-CN).
    pub fn system_prompt(self) -> &'static str {
        match self {
            Self::Assistant => {
                "你是一个友好、可靠的 QQ 私人助手。用简体中文回答（用户用其他语言时跟随用户的语言），\
                 回答简洁、准确、直接；不确定时坦白说明，不要编造。\
                 消息会显示在 QQ 聊天里：少用复杂排版，避免过长的回答。"
            }
            Self::GroupHelper => {
                "你是 QQ 群里的助手。群里有多位成员，每条用户消息前会标注发言人。\
                 只回答向你提出的问题，回答要简短、礼貌、不刷屏；\
                 不要泄露其他成员的私人信息，不参与争吵，遇到违规内容礼貌拒绝。"
            }
            Self::Translator => {
                "你是一名专业翻译。用户发来中文时翻译成自然流畅的英文，发来其他语言时翻译成简体中文。\
                 只输出译文，保留原文的语气和格式；用户明确指定目标语言时按用户要求。"
            }
            Self::StudyBuddy => {
                "你是一位耐心的学习伙伴。用简体中文、循序渐进地讲解，多用例子和类比，\
                 先引导用户思考再给出答案；检查用户的理解，鼓励提问。\
                 不要直接代写作业，而是帮助用户学会方法。"
            }
        }
    }
}

/// A bot's persona: the system prompt the model receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Persona {
    /// Bot display name, mentioned in the prompt when set.
    pub name: Option<String>,
    /// The system prompt.
    pub system_prompt: String,
}

impl Persona {
    /// A persona from a built-in template.
    pub fn from_template(t: PersonaTemplate) -> Persona {
        Persona { name: None, system_prompt: t.system_prompt().to_owned() }
    }

    /// A custom persona.
    pub fn custom(system_prompt: impl Into<String>) -> Persona {
        Persona { name: None, system_prompt: system_prompt.into() }
    }

    /// The full system prompt, with the name line when set.
    pub fn render(&self) -> String {
        match &self.name {
            Some(n) => format!("你的名字是「{n}」。\n{}", self.system_prompt),
            None => self.system_prompt.clone(),
        }
    }
}

impl Default for Persona {
    fn default() -> Self {
        Persona::from_template(PersonaTemplate::Assistant)
    }
}

/// A hook that condenses trimmed-away history into a short summary, which
/// is then added to the system prompt. Implementations may call a model;
/// returning `None` adds nothing.
#[async_trait::async_trait]
pub trait Summarizer: Send + Sync + std::fmt::Debug {
    /// Summarises `dropped` (oldest first) of the conversation.
    async fn summarize(
        &self,
        bot: &str,
        conversation: &str,
        dropped: &[ChatMessage],
    ) -> Option<String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_cjk_as_one_and_latin_by_four() {
        assert_eq!(estimate_tokens("你好世界"), 4);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("你好 abc"), 3);
        assert_eq!(estimate_tokens(""), 0);
    }

    #[test]
    fn trims_oldest_and_keeps_the_last_message() {
        let msgs: Vec<ChatMessage> = (0..9)
            .map(|i| {
                if i % 2 == 0 {
                    ChatMessage::user("一二三四五六")
                } else {
                    ChatMessage::assistant("一二三四五六")
                }
            })
            .collect();
        // Each message: 6 + 4 = 10 tokens.
        let t = trim_to_budget(msgs.clone(), 25);
        assert_eq!(t.kept.len(), 1, "2 fit but the first kept must be a user turn");
        assert_eq!(t.kept[0].role, crate::provider::Role::User);
        assert_eq!(t.dropped.len(), 8);
        let t = trim_to_budget(msgs.clone(), 35);
        assert_eq!(t.kept.len(), 3);
        assert_eq!(t.tokens, 30);
        let t = trim_to_budget(msgs, 1);
        assert_eq!(t.kept.len(), 1, "the current message is always kept");
    }

    #[test]
    fn templates_have_chinese_names_and_prompts() {
        for t in PersonaTemplate::ALL {
            assert!(t.system_prompt().chars().any(is_cjk));
            assert!(!t.name_zh().is_empty());
        }
    }
}
