//! What the CLI tests share: the simulators, a PINCER_HOME, and running the
//! real `pincer` binary.

#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

use pincer_qq::model::Intents;
use pincer_sim::provider::ProviderSim;
use pincer_sim::qq::{QqSim, QqSimConfig, SimApp};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_pincer");

pub struct Env {
    pub home: tempfile::TempDir,
    pub qq: QqSim,
    pub model: ProviderSim,
    pub envs: Vec<(String, String)>,
}

pub fn app(app_id: &str, secret: &str) -> SimApp {
    SimApp {
        app_id: app_id.into(),
        secret: secret.into(),
        granted_intents: Intents::GROUP_AND_C2C_EVENT,
        markdown: false,
    }
}

impl Env {
    pub async fn start() -> Env {
        let qq = QqSim::start(QqSimConfig {
            heartbeat_interval: Duration::from_millis(1000),
            ..QqSimConfig::default()
        })
        .await
        .unwrap();
        let model = ProviderSim::start().await.unwrap();
        Env { home: tempfile::tempdir().unwrap(), qq, model, envs: Vec::new() }
    }

    pub fn model_base(&self) -> String {
        format!("{}/v1", self.model.base_url())
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("PINCER_HOME", self.home.path())
            .env("LANG", "en_US.UTF-8")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in &self.envs {
            c.env(k, v);
        }
        c
    }

    /// Runs a command to completion with `stdin`; returns (success, stdout, stderr).
    pub async fn run(&self, args: &[&str], stdin: &str) -> (bool, String, String) {
        let mut child = self.cmd(args).spawn().unwrap();
        feed_stdin(&mut child, stdin).await;
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("the command finishes")
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Adds provider `sim` (the provider simulator, key `key`).
    pub async fn add_provider(&self, key: &str) {
        let base = self.model_base();
        let (ok, out, err) = self
            .run(
                &[
                    "provider",
                    "add",
                    "sim",
                    "--kind",
                    "openai",
                    "--base-url",
                    &base,
                    "--model",
                    "sim-model",
                ],
                key,
            )
            .await;
        assert!(ok, "{out}{err}");
    }

    /// Adds bot `name` on the QQ simulator with provider `sim`.
    pub async fn add_bot(&self, name: &str, app_id: &str, secret: &str) -> (bool, String, String) {
        let api = self.qq.api_base();
        let token = self.qq.token_url();
        self.run(
            &[
                "bot",
                "add",
                name,
                "--app-id",
                app_id,
                "--api-base",
                &api,
                "--token-url",
                &token,
                "--provider",
                "sim",
            ],
            secret,
        )
        .await
    }

    pub async fn wait_status(
        &self,
        what: &str,
        f: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let mut last = String::new();
        for _ in 0..150 {
            let (ok, out, err) = self.run(&["status", "--json"], "").await;
            if let Some(v) =
                ok.then(|| serde_json::from_str::<serde_json::Value>(&out).ok()).flatten()
            {
                if f(&v) {
                    return v;
                }
            }
            last = out + &err;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("timed out waiting for {what}; last status: {last}");
    }

    /// Starts `pincer events` and waits until it is subscribed.
    pub async fn events(&self) -> (Child, Lines<BufReader<ChildStdout>>) {
        let mut child = self.cmd(&["events"]).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("subscribed in time")
            .unwrap()
            .unwrap();
        assert_eq!(first, r#"{"event":"subscribed"}"#);
        (child, lines)
    }
}

pub fn bot<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["bots"].as_array().unwrap().iter().find(|b| b["name"] == name).unwrap()
}

/// Reads events until one matches `f`.
pub async fn next_event(
    lines: &mut Lines<BufReader<ChildStdout>>,
    what: &str,
    f: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            if f(&v) {
                return v;
            }
        }
        panic!("the event stream ended before {what}");
    })
    .await;
    found.unwrap_or_else(|_| panic!("timed out waiting for the event {what}"))
}

pub async fn stop(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().unwrap();
    std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("pincer run stops within 5 s of SIGTERM")
        .unwrap()
}

/// Files under `dir` holding any of `needles`.
pub fn grep_tree(dir: &std::path::Path, needles: &[&str]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                let text = String::from_utf8_lossy(&bytes);
                for n in needles {
                    if text.contains(n) {
                        hits.push(format!("{} contains {n}", p.display()));
                    }
                }
            }
        }
    }
    hits
}

/// SIGKILL, as a crash would.
pub fn kill9(child: &Child) {
    let pid = child.id().expect("running");
    std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
}

/// Accepted sends per replied-to `msg_id`, from the QQ simulator's record.
pub fn answer_counts(qq: &QqSim) -> std::collections::HashMap<String, usize> {
    let mut answers = std::collections::HashMap::new();
    for send in qq.sends() {
        if let Some(id) = send.msg_id {
            *answers.entry(id).or_default() += 1;
        }
    }
    answers
}

/// Writes `input` to the child's stdin and closes it. A command that fails on
/// its arguments exits before reading stdin; the input it never read is then a
/// broken pipe, which the test's assertions on the exit judge, not this write.
pub async fn feed_stdin(child: &mut tokio::process::Child, input: &str) {
    let mut stdin = child.stdin.take().expect("stdin is piped");
    if let Err(e) = stdin.write_all(input.as_bytes()).await {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "writing stdin: {e}");
    }
}
