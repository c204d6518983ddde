//! The whole `pincer` command line against the QQ and model-provider
//! simulators, with a real OS keyring (the D-Bus session and gnome-keyring
//! that `scripts/test.sh` starts): add a provider, add bots by AppID and by
//! QR code, run, get an answer in QQ, read the status, stop, resume, and
//! never leak a secret.

use std::process::Stdio;
use std::time::Duration;

use pincer_qq::model::Intents;
use pincer_sim::provider::ProviderSim;
use pincer_sim::qq::{QqSim, QqSimConfig, SimApp};
use tokio::process::Command;

mod common;

use common::{bot, feed_stdin, grep_tree, stop};

const BIN: &str = env!("CARGO_BIN_EXE_pincer");
const APP: &str = "4100001";
const APP_SECRET: &str = "qq-secret-Z8v1kq0Pp3WcXy7e";
const QR_APP: &str = "4100002";
const QR_SECRET: &str = "qq-secret-bound-Hn2mR5tL9sD4";
const API_KEY: &str = "sk-sim-7QfTgY2uI9oPaS3dF6hJ";

struct Env {
    home: tempfile::TempDir,
    qq: QqSim,
    model: ProviderSim,
    captured: Vec<u8>,
}

impl Env {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("PINCER_HOME", self.home.path())
            .env("LANG", "en_US.UTF-8")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    }

    /// Runs a command to completion with `stdin`; returns (success, stdout, stderr).
    async fn run(&mut self, args: &[&str], stdin: &str) -> (bool, String, String) {
        let mut child = self.cmd(args).spawn().unwrap();
        feed_stdin(&mut child, stdin).await;
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("the command finishes")
            .unwrap();
        self.captured.extend_from_slice(&out.stdout);
        self.captured.extend_from_slice(&out.stderr);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn wait_status(
        &mut self,
        what: &str,
        f: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let mut last = String::new();
        for _ in 0..100 {
            if let Ok(v) = tokio::time::timeout(Duration::from_secs(5), async {
                let (ok, out, err) = self.run(&["status", "--json"], "").await;
                (
                    ok.then(|| serde_json::from_str::<serde_json::Value>(&out).ok()).flatten(),
                    out + &err,
                )
            })
            .await
            {
                let (v, text) = v;
                last = text;
                if let Some(v) = v {
                    if f(&v) {
                        return v;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("timed out waiting for {what}; last status: {last}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_cli_flow_against_the_simulators() {
    let qq = QqSim::start(QqSimConfig {
        heartbeat_interval: Duration::from_millis(1000),
        ..QqSimConfig::default()
    })
    .await
    .unwrap();
    qq.add_app(SimApp {
        app_id: APP.into(),
        secret: APP_SECRET.into(),
        granted_intents: Intents::GROUP_AND_C2C_EVENT,
        markdown: false,
    });
    let model = ProviderSim::start().await.unwrap();
    model.set_api_key(Some(API_KEY));
    let mut env = Env { home: tempfile::tempdir().unwrap(), qq, model, captured: Vec::new() };
    let qq_base = env.qq.api_base();
    let token_url = env.qq.token_url();
    let model_base = format!("{}/v1", env.model.base_url());

    // Nothing runs yet.
    let (ok, _, err) = env.run(&["status", "--json"], "").await;
    assert!(!ok && err.contains("not running") && err.lines().count() == 1, "{err}");

    // A provider, with its key from stdin.
    let (ok, out, err) = env
        .run(
            &[
                "provider",
                "add",
                "sim",
                "--kind",
                "openai",
                "--base-url",
                &model_base,
                "--model",
                "sim-model",
            ],
            API_KEY,
        )
        .await;
    assert!(ok, "{out}{err}");

    // An unknown provider and a wrong AppSecret: one clear line each, nothing saved.
    let args = [
        "bot",
        "add",
        "xiaoqian",
        "--app-id",
        APP,
        "--api-base",
        &qq_base,
        "--token-url",
        &token_url,
    ];
    let (ok, _, err) = env.run(&[&args[..], &["--provider", "nope"]].concat(), APP_SECRET).await;
    assert!(!ok && err.contains("unknown provider nope") && err.lines().count() == 1, "{err}");
    let (ok, _, err) =
        env.run(&[&args[..], &["--provider", "sim"]].concat(), "not-the-secret").await;
    assert!(!ok && err.contains("AppSecret") && err.lines().count() == 1, "{err}");
    let (_, out, _) = env.run(&["bot", "list", "--json"], "").await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["bots"],
        serde_json::json!([])
    );

    // By AppID + AppSecret.
    let (ok, out, err) = env.run(&[&args[..], &["--provider", "sim"]].concat(), APP_SECRET).await;
    assert!(ok && out.contains("added bot xiaoqian"), "{out}{err}");

    // By QR code: the simulator scans and confirms.
    let bind_base = env.qq.bind_base();
    let mut qr = env
        .cmd(&[
            "bot",
            "add",
            "scanned",
            "--qr",
            "--bind-base",
            &bind_base,
            "--api-base",
            &qq_base,
            "--token-url",
            &token_url,
            "--provider",
            "sim",
        ])
        .spawn()
        .unwrap();
    drop(qr.stdin.take());
    let task = loop {
        if let Some(t) = env.qq.bind_tasks().first().cloned() {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(env.qq.bind_scan(&task));
    let bound = SimApp {
        app_id: QR_APP.into(),
        secret: QR_SECRET.into(),
        granted_intents: Intents::GROUP_AND_C2C_EVENT,
        markdown: false,
    };
    assert!(env.qq.bind_confirm(&task, bound, "OWNER_OPENID"));
    let out = tokio::time::timeout(Duration::from_secs(30), qr.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    env.captured.extend_from_slice(&out.stdout);
    env.captured.extend_from_slice(&out.stderr);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (_, out, _) = env.run(&["bot", "list", "--json"], "").await;
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let scanned = list["bots"].as_array().unwrap().iter().find(|b| b["name"] == "scanned").unwrap();
    assert_eq!(
        (scanned["app_id"].as_str(), scanned["owner"].as_str()),
        (Some(QR_APP), Some("OWNER_OPENID"))
    );

    // A workspace skill of the bot's own, enabled next to a bundled one.
    let hello = env.home.path().join("data/bots/xiaoqian/workspace/skills/hello");
    std::fs::create_dir_all(&hello).unwrap();
    let hello_md = |marker: &str| {
        format!(
            "---\nname: hello\ndescription: Greets people warmly ({marker}).\n---\nSay hello.\n"
        )
    };
    std::fs::write(hello.join("SKILL.md"), hello_md("first version")).unwrap();
    for skill in ["translate", "hello"] {
        let (ok, out, err) = env.run(&["skills", "enable", skill, "--bot", "xiaoqian"], "").await;
        assert!(ok, "{out}{err}");
    }

    // Run, and a QQ user gets an answer from the model.
    let mut daemon = env.cmd(&["run", "--log-format", "json"]).spawn().unwrap();
    let ready = env
        .wait_status("both bots ready", |s| {
            s["bots"]
                .as_array()
                .is_some_and(|b| b.len() == 2 && b.iter().all(|b| b["state"] == "ready"))
        })
        .await;
    assert!(bot(&ready, "xiaoqian")["pairing_code"].as_str().is_some_and(|c| c.len() == 6));
    assert!(bot(&ready, "scanned")["pairing_code"].is_null(), "a scanned bot has its owner");
    let asked = env.qq.inject_c2c_message(APP, "USER_1", "你好，钳子");
    let sends = env.qq.wait_for_sends(1, Duration::from_secs(20)).await;
    assert_eq!(sends.len(), 1, "one reply");
    assert_eq!(sends[0].msg_id, asked.msg_id);
    assert_eq!(sends[0].body["content"], "echo: 你好，钳子");
    let first = env.wait_status("heartbeats", |s| bot(s, "xiaoqian")["last_ack_at"].is_u64()).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let later =
        env.wait_status("the answer counted", |s| bot(s, "xiaoqian")["replies_out"] == 1).await;
    let b = bot(&later, "xiaoqian");
    assert!(
        b["heartbeat_rtt_ms"].is_number()
            && b["events_in"] == 1
            && b["tokens_today"].as_u64() > Some(0),
        "{b}"
    );
    assert!(
        b["last_ack_at"].as_u64() >= bot(&first, "xiaoqian")["last_ack_at"].as_u64(),
        "heartbeats advance"
    );
    for key in [
        "name",
        "app_id",
        "state",
        "since",
        "last_close_code",
        "explanation",
        "heartbeat_rtt_ms",
        "last_ack_at",
        "resumes",
        "identifies",
        "events_in",
        "replies_out",
        "tokens_today",
        "cost_today",
    ] {
        assert!(b.get(key).is_some(), "status has {key}");
    }

    // A user-invocable skill as a QQ command: the model is told to follow it.
    env.qq.inject_c2c_message(APP, "USER_1", "/translate good morning");
    let sends = env.qq.wait_for_sends(2, Duration::from_secs(20)).await;
    assert_eq!(sends.len(), 2);
    let asked = env.model.requests().last().unwrap().body.to_string();
    assert!(
        asked.contains("invoked the skill `translate`") && asked.contains("good morning"),
        "{asked}"
    );
    assert!(asked.contains("translate/SKILL.md"), "{asked}");

    // Editing a skill applies while running, without reconnecting.
    let identifies = env.qq.identifies(APP);
    assert!(env.model.requests().last().unwrap().body.to_string().contains("first version"));
    std::fs::write(hello.join("SKILL.md"), hello_md("second version")).unwrap();
    let mut seen = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let before = env.model.requests().len();
        env.qq.inject_c2c_message(APP, "USER_1", "hi again");
        for _ in 0..40 {
            if env.model.requests().len() > before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if env.model.requests().last().unwrap().body.to_string().contains("second version") {
            seen = true;
            break;
        }
    }
    assert!(seen, "the edited skill reached the model's prompt");
    assert_eq!(env.qq.identifies(APP), identifies, "no reconnect");

    // Pairing: the first user who sends the code in a private chat owns the bot.
    let code = bot(&ready, "xiaoqian")["pairing_code"].as_str().unwrap().to_owned();
    env.qq.inject_c2c_message(APP, "USER_1", "123456x"); // not the code: goes to the model
    env.qq.inject_c2c_message(APP, "OWNER_2", &code);
    let paired_reply = async {
        loop {
            let sends = env.qq.sends();
            if sends
                .iter()
                .any(|s| s.body["content"].as_str().is_some_and(|c| c.contains("Paired")))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), paired_reply).await.expect("pairing confirmed");
    let paired = env.wait_status("paired", |s| bot(s, "xiaoqian")["pairing_code"].is_null()).await;
    assert!(bot(&paired, "xiaoqian")["pairing_code"].is_null());
    let (_, out, _) = env.run(&["bot", "list", "--json"], "").await;
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let xq = list["bots"].as_array().unwrap().iter().find(|b| b["name"] == "xiaoqian").unwrap();
    assert_eq!(xq["owner"], "OWNER_2");

    // SIGTERM: drains, saves the sessions, exits 0.
    let status = stop(&mut daemon).await;
    assert!(status.success(), "{status:?}");
    let out = daemon.wait_with_output().await.unwrap();
    env.captured.extend_from_slice(&out.stdout);
    env.captured.extend_from_slice(&out.stderr);

    // The next start resumes the gateway session.
    let resumes_before = env.qq.resumes(APP);
    let mut daemon = env.cmd(&["run"]).spawn().unwrap();
    env.wait_status("ready again", |s| {
        s["bots"].as_array().is_some_and(|b| b.iter().all(|b| b["state"] == "ready"))
    })
    .await;
    assert!(env.qq.resumes(APP) > resumes_before, "resumed, not re-identified");
    assert!(stop(&mut daemon).await.success());
    let out = daemon.wait_with_output().await.unwrap();
    env.captured.extend_from_slice(&out.stdout);
    env.captured.extend_from_slice(&out.stderr);

    // No secret anywhere: config, data, logs, and everything printed.
    let secrets = [APP_SECRET, QR_SECRET, API_KEY];
    let hits = grep_tree(env.home.path(), &secrets);
    assert!(hits.is_empty(), "{hits:?}");
    let captured = String::from_utf8_lossy(&env.captured);
    for s in secrets {
        assert!(!captured.contains(s), "{s} was printed");
    }
    assert!(std::fs::read_to_string(env.home.path().join("logs/pincer.log"))
        .unwrap()
        .contains("running"));
}

#[tokio::test]
async fn without_a_keyring_or_a_writable_home_the_error_says_what_to_do() {
    let qq = QqSim::start(QqSimConfig::default()).await.unwrap();
    qq.add_app(SimApp {
        app_id: "9".into(),
        secret: "nine-secret".into(),
        granted_intents: Intents::GROUP_AND_C2C_EVENT,
        markdown: false,
    });
    let home = tempfile::tempdir().unwrap();
    let api = qq.api_base();
    let token = qq.token_url();
    let out = Command::new(BIN)
        .args([
            "bot",
            "add",
            "nokeyring",
            "--app-id",
            "9",
            "--api-base",
            &api,
            "--token-url",
            &token,
        ])
        .env("PINCER_HOME", home.path())
        .env("LANG", "C")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = out;
    feed_stdin(&mut out, "nine-secret").await;
    let out = out.wait_with_output().await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("keyring") && err.contains("PINCER_SECRET_BOT_NOKEYRING_APP_SECRET"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!std::fs::read_to_string(home.path().join("config.toml"))
        .unwrap_or_default()
        .contains("nokeyring"));

    // PINCER_HOME under a regular file: not creatable, even for root.
    let blocker = home.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let out = Command::new(BIN)
        .args(["bot", "list"])
        .env("PINCER_HOME", blocker.join("home"))
        .env("LANG", "C")
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("PINCER_HOME") && err.lines().count() == 1,
        "{err}"
    );
}
