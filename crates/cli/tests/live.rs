//! A running `pincer run` changed from outside: the event stream, live
//! config reload without dropping the QQ connection, bots added and removed
//! while running, pause and resume, and the watchdog's figures and warnings.

mod common;

use std::time::Duration;

use common::{bot, next_event, stop, Env};

const APP: &str = "4200001";
const SECRET: &str = "qq-secret-live-Q2w3E4r5";
const APP2: &str = "4200002";
const SECRET2: &str = "qq-secret-live-T6y7U8i9";
const KEY: &str = "sk-sim-live-A1s2D3f4";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reload_pause_and_watchdog_on_a_running_daemon() {
    let mut env = Env::start().await;
    env.qq.add_app(common::app(APP, SECRET));
    env.qq.add_app(common::app(APP2, SECRET2));
    env.model.set_api_key(Some(KEY));
    env.add_provider(KEY).await;
    let (ok, out, err) = env.add_bot("xiaoqian", APP, SECRET).await;
    assert!(ok, "{out}{err}");
    assert!(!out.contains("running Pincer"), "no daemon to tell yet: {out}");

    env.envs = vec![
        ("PINCER_WATCHDOG_INTERVAL_MS".into(), "200".into()),
        // Any log is over 0 MB: the watchdog warns once.
        ("PINCER_WATCHDOG_MAX_LOG_MB".into(), "0".into()),
    ];
    let mut daemon = env.cmd(&["run"]).spawn().unwrap();
    env.wait_status("ready", |s| bot(s, "xiaoqian")["state"] == "ready").await;
    let (mut events, mut lines) = env.events().await;

    // The process figures are in the status, and the log bound warned.
    let s = env.wait_status("process figures", |s| s["process"]["cpu_percent"].is_number()).await;
    assert!(s["process"]["rss_bytes"].as_u64() > Some(1024 * 1024), "{s}");
    assert!(s["process"]["log_bytes"].as_u64() > Some(0), "{s}");
    let (_, text, _) = env.run(&["status"], "").await;
    assert!(text.contains("process: memory"), "{text}");

    // A message in and the reply out, on the event stream.
    env.qq.inject_c2c_message(APP, "USER_1", "第一条");
    let e = next_event(&mut lines, "message_in", |e| e["event"] == "message_in").await;
    assert_eq!(
        (&e["bot"], &e["scene"], &e["sender"], &e["text"]),
        (&"xiaoqian".into(), &"c2c".into(), &"USER_1".into(), &"第一条".into())
    );
    let e = next_event(&mut lines, "reply_out", |e| e["event"] == "reply_out").await;
    assert_eq!(e["text"], "echo: 第一条");

    // A new model and persona: applied live, the QQ connection untouched.
    let counters =
        |env: &Env| (env.qq.identifies(APP), env.qq.resumes(APP), env.qq.connections(APP));
    let before = counters(&env);
    let path = env.home.path().join("config.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text =
        text.replace("provider = \"sim\"\n", "provider = \"sim\"\nmodel = \"sim-reasoner\"\n");
    let text = text.replace("persona = \"\"", "persona = \"你是小钳。\"");
    std::fs::write(&path, text).unwrap();
    let (ok, out, err) = env.run(&["reload"], "").await;
    assert!(ok, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["updated"], serde_json::json!(["xiaoqian"]), "{report}");
    assert_eq!(report["restarted"], serde_json::json!([]), "{report}");
    next_event(&mut lines, "reloaded", |e| e["event"] == "reloaded").await;
    env.qq.inject_c2c_message(APP, "USER_1", "第二条");
    env.qq.wait_for_sends(2, Duration::from_secs(20)).await;
    let last = env.model.requests().into_iter().last().unwrap();
    assert_eq!(last.body["model"], "sim-reasoner");
    assert!(last.body.to_string().contains("你是小钳。"), "{}", last.body);
    assert_eq!(counters(&env), before, "identifies/resumes/connections unchanged");
    let s = env.wait_status("still ready", |s| bot(s, "xiaoqian")["state"] == "ready").await;
    assert_eq!(bot(&s, "xiaoqian")["events_in"], 2);

    // A daily token cap in the file, applied live: two answers today used
    // more than 1 token, so the next message gets the cap's notice, once,
    // and the model is not asked.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("[[bot]]\n", "[[bot]]\ndaily_token_cap = 1\n")).unwrap();
    let (ok, out, err) = env.run(&["reload"], "").await;
    assert!(ok, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["updated"], serde_json::json!(["xiaoqian"]), "{report}");
    next_event(&mut lines, "reloaded", |e| e["event"] == "reloaded").await;
    let asked = env.model.requests().len();
    env.qq.inject_c2c_message(APP, "USER_1", "第三条");
    env.qq.inject_c2c_message(APP, "USER_1", "第四条");
    let sends = env.qq.wait_for_sends(3, Duration::from_secs(20)).await;
    let notice = sends[2].body["content"].as_str().unwrap_or_default();
    assert!(notice.contains("使用额度已经用完"), "{}", sends[2].body);
    env.wait_status("both taken", |s| bot(s, "xiaoqian")["events_in"] == 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.qq.send_count(), 3, "one notice a day per user");
    assert_eq!(env.model.requests().len(), asked, "the model was not asked");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("daily_token_cap = 1\n", "")).unwrap();
    let (ok, out, err) = env.run(&["reload"], "").await;
    assert!(ok, "{out}{err}");

    // A bot added while running starts; `bot add` tells the daemon.
    let (ok, out, err) = env.add_bot("second", APP2, SECRET2).await;
    assert!(ok && out.contains("The running Pincer applied the change"), "{out}{err}");
    env.wait_status("second ready", |s| {
        s["bots"].as_array().unwrap().len() == 2 && bot(s, "second")["state"] == "ready"
    })
    .await;
    next_event(&mut lines, "second ready", |e| {
        e["event"] == "bot_status" && e["bot"] == "second" && e["state"] == "ready"
    })
    .await;

    // Pause and resume.
    let (ok, out, err) = env.run(&["bot", "pause", "xiaoqian"], "").await;
    assert!(ok && out.contains("paused"), "{out}{err}");
    next_event(&mut lines, "paused", |e| e["bot"] == "xiaoqian" && e["state"] == "paused").await;
    env.wait_status("paused", |s| bot(s, "xiaoqian")["state"] == "paused").await;
    closed(&env, APP).await;
    let (ok, _, err) = env.run(&["bot", "resume", "xiaoqian"], "").await;
    assert!(ok, "{err}");
    env.wait_status("resumed", |s| bot(s, "xiaoqian")["state"] == "ready").await;
    let (ok, _, err) = env.run(&["bot", "pause", "nobody"], "").await;
    assert!(!ok && err.contains("no bot nobody"), "{err}");

    // A removed bot stops.
    let (ok, out, err) = env.run(&["bot", "remove", "second"], "").await;
    assert!(ok && out.contains("running Pincer"), "{out}{err}");
    env.wait_status("second gone", |s| s["bots"].as_array().unwrap().len() == 1).await;
    closed(&env, APP2).await;

    // A broken file is refused with the reason; the bots keep running.
    std::fs::write(&path, "version = [").unwrap();
    let (ok, _, err) = env.run(&["reload"], "").await;
    assert!(!ok && err.contains("not valid TOML") && err.lines().count() == 1, "{err}");
    env.wait_status("still running", |s| bot(s, "xiaoqian")["state"] == "ready").await;

    assert!(stop(&mut daemon).await.success());
    let _ = events.kill().await;
    let log = std::fs::read_to_string(env.home.path().join("logs/pincer.log")).unwrap();
    assert!(log.contains("the log file is"), "the watchdog warned in the log");
}

/// Waits until the simulator has no open connection of `app`.
async fn closed(env: &Env, app: &str) {
    for _ in 0..100 {
        if env.qq.open_connections(app) == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{app} still has an open connection");
}
