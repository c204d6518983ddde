//! `read`: reads a text file from the bot's workspace or an enabled skill's
//! folder. Paths with `..` are refused; the path is canonicalised (resolving
//! symlinks) and must stay under one of the canonicalised roots, so a
//! symlink pointing outside is refused too.

use std::path::{Component, Path, PathBuf};

use serde_json::json;

use super::{cap_text, str_arg, Tool, ToolContext, ToolError};
use crate::provider::ToolSpec;

/// The `read` tool.
#[derive(Debug, Clone)]
pub struct ReadTool {
    /// Bytes returned at most (the rest is cut off).
    pub max_bytes: usize,
}

impl Default for ReadTool {
    fn default() -> Self {
        ReadTool { max_bytes: 256 * 1024 }
    }
}

/// Resolves `requested` (relative to `workspace`, or absolute) to a
/// canonical path under `workspace` or one of `skill_dirs`. Blocking.
pub fn resolve_path(
    workspace: &Path,
    skill_dirs: &[PathBuf],
    requested: &str,
) -> Result<PathBuf, ToolError> {
    let req = Path::new(requested);
    if req.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(ToolError::Refused("`..` is not allowed in paths".into()));
    }
    let joined = if req.is_absolute() { req.to_owned() } else { workspace.join(req) };
    let canonical = joined
        .canonicalize()
        .map_err(|e| ToolError::Failed(format!("cannot open {requested}: {e}")))?;
    let inside = std::iter::once(workspace)
        .chain(skill_dirs.iter().map(PathBuf::as_path))
        .filter_map(|root| root.canonicalize().ok())
        .any(|root| canonical.starts_with(&root));
    if !inside {
        return Err(ToolError::Refused(format!(
            "{requested} is outside the bot's workspace and skill folders"
        )));
    }
    Ok(canonical)
}

#[async_trait::async_trait]
impl Tool for ReadTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "read".into(),
            description: "Read a text file from the bot's workspace (relative path) or an enabled skill's folder.".into(),
            parameters: json!({
                "type": "object",
                "properties": {"path": {"type": "string", "description": "File path, relative to the workspace"}},
                "required": ["path"]
            }),
        }
    }

    async fn call(&self, ctx: &ToolContext, args: serde_json::Value) -> Result<String, ToolError> {
        let requested = str_arg(&args, "path")?.to_owned();
        let workspace = ctx.workspace.clone();
        let skills = ctx.skill_dirs.clone();
        let max = self.max_bytes;
        tokio::task::spawn_blocking(move || {
            let path = resolve_path(&workspace, &skills, &requested)?;
            if !path.is_file() {
                return Err(ToolError::Failed(format!("{requested} is not a file")));
            }
            use std::io::Read;
            let file = std::fs::File::open(&path)
                .map_err(|e| ToolError::Failed(format!("cannot open {requested}: {e}")))?;
            let mut buf = Vec::new();
            file.take(max as u64 + 1)
                .read_to_end(&mut buf)
                .map_err(|e| ToolError::Failed(format!("cannot read {requested}: {e}")))?;
            Ok(cap_text(String::from_utf8_lossy(&buf).into_owned(), max))
        })
        .await
        .map_err(|e| ToolError::Failed(e.to_string()))?
    }
}
