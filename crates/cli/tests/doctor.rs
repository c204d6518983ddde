//! `pincer doctor` against the QQ and provider simulators with a real
//! keyring: a good bot, a bot whose AppSecret is wrong, a good provider and
//! one with a bad key.

mod common;

use common::Env;

const GOOD: &str = "4300001";
const GOOD_SECRET: &str = "qq-secret-doctor-good-1";
const BAD: &str = "4300002";
const BAD_SECRET: &str = "qq-secret-doctor-bad-2";
const KEY: &str = "sk-sim-doctor-Z9x8C7v6";

fn find<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_finds_the_wrong_secret_and_the_bad_key() {
    let mut env = Env::start().await;
    env.qq.add_app(common::app(GOOD, GOOD_SECRET));
    env.qq.add_app(common::app(BAD, BAD_SECRET));
    env.model.set_api_key(Some(KEY));

    // Nothing configured: the keyring and the disk are fine, no bot warns.
    let (ok, out, err) = env.run(&["doctor", "--json"], "").await;
    assert!(ok, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(find(&report, "keyring")["status"], "ok");
    assert_eq!(find(&report, "bots")["status"], "warn");
    assert_eq!(find(&report, "daemon")["status"], "warn");
    assert!(find(&report, "disk")["detail"].as_str().unwrap().contains("MB free"));

    env.add_provider(KEY).await;
    let base = env.model_base();
    let (ok, _, err) = env
        .run(
            &["provider", "add", "badkey", "--kind", "openai", "--base-url", &base, "--model", "m"],
            "sk-not-the-key",
        )
        .await;
    assert!(ok, "{err}");
    let (ok, _, err) = env.add_bot("good", GOOD, GOOD_SECRET).await;
    assert!(ok, "{err}");
    let (ok, _, err) = env.add_bot("bad", BAD, BAD_SECRET).await;
    assert!(ok, "{err}");

    // The secret changed since (here: overridden from the environment).
    env.envs = vec![("PINCER_SECRET_BOT_BAD_APP_SECRET".into(), "wrong-secret".into())];
    let (ok, out, err) = env.run(&["doctor", "--json"], "").await;
    assert!(!ok, "a failed check fails the command: {out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    for (name, status) in [
        ("keyring", "ok"),
        ("config", "ok"),
        ("bot:good", "ok"),
        ("intents:good", "ok"),
        ("bot:bad", "fail"),
        ("provider:sim", "ok"),
        ("provider:badkey", "fail"),
    ] {
        assert_eq!(find(&report, name)["status"], status, "{name}: {report}");
    }
    let bad = find(&report, "bot:bad");
    assert!(bad["detail"].as_str().unwrap().contains("AppSecret"), "{bad}");
    assert!(bad["hint"].as_str().unwrap().contains("pincer bot add bad"), "{bad}");
    let key = find(&report, "provider:badkey");
    assert!(key["hint"].as_str().unwrap().contains("API key"), "{key}");
    for c in report["checks"].as_array().unwrap() {
        for k in ["name", "status", "detail", "hint"] {
            assert!(c.get(k).is_some(), "{c} has {k}");
        }
    }

    // Text, in Chinese.
    env.envs.push(("LANG".into(), "zh_CN.UTF-8".into()));
    let (ok, out, _) = env.run(&["doctor"], "").await;
    assert!(!ok);
    assert!(out.contains("FAIL  bot:bad") && out.contains("重新 `pincer bot add bad`"), "{out}");
    assert!(out.contains("ok    provider:sim"), "{out}");
    for s in [GOOD_SECRET, BAD_SECRET, KEY] {
        assert!(!out.contains(s));
    }
}
