//! `exec`: runs a program for the bot's owner. Off by default. When on, a
//! call must come from the owner, name a bare binary that an enabled skill
//! declares, and pass the approval hook; it runs in the bot's workspace with
//! a time cap and an output cap. Every call — refused or run — is appended
//! to the store's append-only `exec_audit` table.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncReadExt;

use super::{cap_text, str_arg, Tool, ToolContext, ToolError};
use crate::provider::ToolSpec;
use crate::store::{now_secs, ExecAuditEntry};

/// A request put to the approval hook.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecRequest {
    /// Bot.
    pub bot: String,
    /// Who asked.
    pub user: String,
    /// Program (bare name).
    pub program: String,
    /// Arguments.
    pub args: Vec<String>,
}

/// Decides whether an `exec` call may run (the desktop app asks the owner).
#[async_trait::async_trait]
pub trait ExecApproval: Send + Sync + std::fmt::Debug {
    /// `true` to run it.
    async fn approve(&self, request: &ExecRequest) -> bool;
}

/// Settings of [`ExecTool`].
#[derive(Debug, Clone)]
pub struct ExecConfig {
    /// Master switch; off by default.
    pub enabled: bool,
    /// Time allowed per run.
    pub timeout: Duration,
    /// Bytes of stdout+stderr kept.
    pub max_output: usize,
    /// The approval hook; `None` approves every call that passes the other
    /// checks.
    pub approval: Option<Arc<dyn ExecApproval>>,
}

impl Default for ExecConfig {
    fn default() -> Self {
        ExecConfig {
            enabled: false,
            timeout: Duration::from_secs(30),
            max_output: 64 * 1024,
            approval: None,
        }
    }
}

/// The `exec` tool.
#[derive(Debug, Clone, Default)]
pub struct ExecTool {
    /// Settings.
    pub config: ExecConfig,
}

impl ExecTool {
    async fn audit(
        &self,
        ctx: &ToolContext,
        program: &str,
        args: &[String],
        decision: &str,
        exit_code: Option<i32>,
        output: Option<String>,
    ) {
        let entry = ExecAuditEntry {
            bot: ctx.bot.clone(),
            user: ctx.sender.clone(),
            program: program.to_owned(),
            args: serde_json::to_string(args).unwrap_or_default(),
            cwd: ctx.workspace.display().to_string(),
            decision: decision.to_owned(),
            exit_code,
            output,
            created_at: now_secs(),
        };
        if let Err(e) = ctx.store.append_exec_audit(entry).await {
            tracing::error!(error = %e, "cannot write the exec audit log");
        }
    }

    async fn refuse(
        &self,
        ctx: &ToolContext,
        program: &str,
        args: &[String],
        why: &str,
    ) -> ToolError {
        self.audit(ctx, program, args, &format!("refused: {why}"), None, None).await;
        ToolError::Refused(why.to_owned())
    }
}

#[async_trait::async_trait]
impl Tool for ExecTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "exec".into(),
            description:
                "Run a program that an enabled skill declares, in the bot's workspace (owner only)."
                    .into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "program": {"type": "string", "description": "Binary name, e.g. `git`"},
                    "args": {"type": "array", "items": {"type": "string"}}
                },
                "required": ["program"]
            }),
        }
    }

    async fn call(&self, ctx: &ToolContext, args: serde_json::Value) -> Result<String, ToolError> {
        let program = str_arg(&args, "program")?.to_owned();
        let argv: Vec<String> = match args.get("args") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| ToolError::InvalidArguments("`args` must be strings".into()))?,
            Some(_) => return Err(ToolError::InvalidArguments("`args` must be an array".into())),
        };
        if !self.config.enabled {
            return Err(self.refuse(ctx, &program, &argv, "exec is turned off for this bot").await);
        }
        if !ctx.is_owner {
            return Err(self
                .refuse(ctx, &program, &argv, "only the bot's owner may run programs")
                .await);
        }
        let bare = !program.is_empty()
            && !program.contains(['/', '\\'])
            && program != "."
            && program != "..";
        if !bare || !ctx.declared_binaries.iter().any(|b| b == &program) {
            let why = format!("`{program}` is not declared by any enabled skill");
            return Err(self.refuse(ctx, &program, &argv, &why).await);
        }
        if let Some(hook) = &self.config.approval {
            let req = ExecRequest {
                bot: ctx.bot.clone(),
                user: ctx.sender.clone(),
                program: program.clone(),
                args: argv.clone(),
            };
            if !hook.approve(&req).await {
                return Err(self.refuse(ctx, &program, &argv, "the owner did not approve").await);
            }
        }
        let spawned = tokio::process::Command::new(&program)
            .args(&argv)
            .current_dir(&ctx.workspace)
            // No inherited secrets: only what programs need to run.
            .env_clear()
            .envs(
                ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "SYSTEMROOT", "TEMP", "TMP"]
                    .iter()
                    .filter_map(|k| std::env::var_os(k).map(|v| (*k, v))),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                let msg = format!("cannot start {program}: {e}");
                self.audit(ctx, &program, &argv, &format!("failed: {msg}"), None, None).await;
                return Err(ToolError::Failed(msg));
            }
        };
        let cap = self.config.max_output as u64 + 1;
        let mut stdout = child.stdout.take().map(|s| s.take(cap));
        let mut stderr = child.stderr.take().map(|s| s.take(cap));
        let run = async {
            let mut out = Vec::new();
            let mut err = Vec::new();
            let read_out = async {
                if let Some(s) = stdout.as_mut() {
                    let _ = s.read_to_end(&mut out).await;
                }
            };
            let read_err = async {
                if let Some(s) = stderr.as_mut() {
                    let _ = s.read_to_end(&mut err).await;
                }
            };
            tokio::join!(read_out, read_err);
            let status = child.wait().await;
            (out, err, status)
        };
        let Ok((out, err, status)) = tokio::time::timeout(self.config.timeout, run).await else {
            let secs = self.config.timeout.as_secs();
            self.audit(ctx, &program, &argv, "ran: timed out", None, None).await;
            return Err(ToolError::Timeout(secs));
        };
        let code = status.ok().and_then(|s| s.code());
        let mut text = String::from_utf8_lossy(&out).into_owned();
        if !err.is_empty() {
            text.push_str("\n[stderr]\n");
            text.push_str(&String::from_utf8_lossy(&err));
        }
        let text = cap_text(text, self.config.max_output);
        self.audit(ctx, &program, &argv, "ran", code, Some(text.clone())).await;
        Ok(format!("exit code: {}\n{text}", code.map_or("none".into(), |c| c.to_string())))
    }
}
