//! `pincer skills …`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use pincer_skills::safety;

use crate::lang::{chinese, pick};

/// `pincer skills` subcommands.
#[derive(Debug, Subcommand)]
pub enum SkillsCommand {
    /// Check one skill folder before enabling it: prints `ok`, `warn` or
    /// `block` with the findings; exits 0 (ok), 1 (warn), 2 (block) or
    /// 3 (the skill cannot be read).
    Check {
        /// The skill folder (holding SKILL.md).
        path: PathBuf,
        /// Machine-readable output: `{"verdict": ..., "findings": [...]}`.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: SkillsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SkillsCommand::Check { path, json } => {
            let result = safety::check_skill(&path);
            let code = safety::exit_code(&result);
            match &result {
                Ok(report) if json => println!("{}", serde_json::to_string(report)?),
                Ok(report) => {
                    let verdict = serde_json::to_value(report.verdict)?;
                    println!("{}", verdict.as_str().unwrap_or("?"));
                    for f in &report.findings {
                        let why = if chinese() { &f.explain_zh } else { &f.explain_en };
                        println!("  {}:{} [{}] {why}", f.file, f.line, f.rule);
                    }
                }
                Err(e) if json => {
                    println!(
                        "{}",
                        serde_json::json!({ "verdict": "unreadable", "error": e.to_string() })
                    )
                }
                Err(e) => eprintln!(
                    "pincer: {}",
                    pick(
                        format!("无法读取技能 {}：{e}", path.display()),
                        format!("cannot read the skill {}: {e}", path.display())
                    )
                ),
            }
            Ok(ExitCode::from(code as u8))
        }
    }
}
