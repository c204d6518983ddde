//! Tools the model may call: the [`Tool`] interface skills plug into, the
//! per-bot [`ToolRegistry`], and the built-ins [`read`], [`web_fetch`] and
//! [`exec`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::provider::ToolSpec;
use crate::store::Store;

pub mod exec;
pub mod read;
pub mod web_fetch;

/// What a tool call knows about its caller. Built by the engine per call.
#[derive(Debug, Clone)]
pub struct ToolContext {
    /// The bot.
    pub bot: String,
    /// The conversation id.
    pub conversation: String,
    /// Who sent the message being answered.
    pub sender: String,
    /// Whether the sender is the bot's owner.
    pub is_owner: bool,
    /// The bot's workspace directory (the `read` root, `exec`'s cwd).
    pub workspace: PathBuf,
    /// Folders of the bot's enabled skills (readable by `read`).
    pub skill_dirs: Vec<PathBuf>,
    /// Binaries the bot's enabled skills declare (the `exec` allow-list).
    pub declared_binaries: Vec<String>,
    /// The store, for audits.
    pub store: Store,
}

/// Why a tool call failed. The text is fed back to the model (never shown
/// to the user directly).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The arguments are missing or malformed.
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// The call is not allowed (path outside the workspace, private address,
    /// not the owner, undeclared binary, …).
    #[error("refused: {0}")]
    Refused(String),
    /// The tool ran but failed.
    #[error("failed: {0}")]
    Failed(String),
    /// The tool took too long.
    #[error("timed out after {0} s")]
    Timeout(u64),
}

/// A tool the model can call.
#[async_trait::async_trait]
pub trait Tool: Send + Sync + std::fmt::Debug {
    /// The spec sent to the model (name, description, JSON Schema).
    fn spec(&self) -> ToolSpec;

    /// Runs one call; the returned text goes back to the model.
    async fn call(&self, ctx: &ToolContext, args: serde_json::Value) -> Result<String, ToolError>;
}

/// The tools one bot may use, by name. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ToolRegistry {
    tools: BTreeMap<String, Arc<dyn Tool>>,
}

impl ToolRegistry {
    /// An empty registry (the model gets no tools).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a tool under its spec's name.
    pub fn register(&mut self, tool: Arc<dyn Tool>) -> &mut Self {
        self.tools.insert(tool.spec().name, tool);
        self
    }

    /// The tool called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.tools.get(name)
    }

    /// Specs of every tool, sorted by name.
    pub fn specs(&self) -> Vec<ToolSpec> {
        self.tools.values().map(|t| t.spec()).collect()
    }

    /// Whether there are no tools.
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }
}

/// A string argument of a call.
pub(crate) fn str_arg<'a>(args: &'a serde_json::Value, name: &str) -> Result<&'a str, ToolError> {
    args.get(name)
        .and_then(|v| v.as_str())
        .ok_or_else(|| ToolError::InvalidArguments(format!("`{name}` (a string) is required")))
}

/// Cuts `s` to at most `max` bytes at a char boundary, noting the cut.
pub(crate) fn cap_text(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("\n…[truncated]");
    }
    s
}
