//! `pincer init`, scripted (no terminal), against the QQ and provider
//! simulators with a real keyring.

mod common;

use common::{grep_tree, Env};

const APP: &str = "4400001";
const SECRET: &str = "qq-secret-init-P0o9I8u7";
const KEY: &str = "sk-sim-init-L1k2J3h4";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_init_saves_a_working_bot_and_provider() {
    let env = Env::start().await;
    env.qq.add_app(common::app(APP, SECRET));
    env.model.set_api_key(Some(KEY));
    let api = env.qq.api_base();
    let token = env.qq.token_url();
    let base = env.model_base();
    let args = |name: &'static str| {
        vec![
            "init",
            "--app-id",
            APP,
            "--api-base",
            &api,
            "--token-url",
            &token,
            "--name",
            name,
            "--persona-template",
            "translator",
            "--base-url",
            &base,
            "--model",
            "sim-model",
        ]
    };

    // A wrong API key: the test completion fails and nothing is saved.
    let (ok, out, err) = env.run(&args("xiaoqian"), &format!("{SECRET}\nsk-wrong\n")).await;
    assert!(!ok && err.contains("Nothing was saved") && err.lines().count() == 1, "{out}{err}");
    assert!(!env.home.path().join("config.toml").exists());

    // A missing flag without a terminal: says which.
    let (ok, _, err) = env
        .run(
            &["init", "--app-id", APP, "--api-base", &api, "--token-url", &token],
            &format!("{SECRET}\n"),
        )
        .await;
    assert!(!ok && err.contains("give --name"), "{err}");

    let (ok, out, err) = env.run(&args("xiaoqian"), &format!("{SECRET}\n{KEY}\n")).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("[4/4]") && out.contains("Done: bot xiaoqian"), "{out}");
    assert!(out.contains("bundled skills on: ") && out.contains("translate"), "{out}");

    let (_, out, _) = env.run(&["bot", "list", "--json"], "").await;
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let bot = &list["bots"][0];
    assert_eq!((bot["name"].as_str(), bot["app_id"].as_str()), (Some("xiaoqian"), Some(APP)));
    assert_eq!(bot["provider"], "custom");
    assert_eq!(bot["skills"], serde_json::json!([]), "empty = the bundled defaults");
    let config = std::fs::read_to_string(env.home.path().join("config.toml")).unwrap();
    assert!(config.contains("[[provider]]") && config.contains(&base), "{config}");
    assert!(config.contains("翻译") || config.to_lowercase().contains("translat"), "{config}");

    // The secrets are in the keyring (doctor reads them), never in PINCER_HOME.
    let (ok, out, err) = env.run(&["doctor", "--json"], "").await;
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let status = |name: &str| {
        report["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()["status"]
            .clone()
    };
    assert_eq!(status("bot:xiaoqian"), "ok", "{report}{err}");
    assert_eq!(status("provider:custom"), "ok", "{report}");
    assert!(ok, "{report}");
    assert!(grep_tree(env.home.path(), &[SECRET, KEY]).is_empty());

    // The same name again is refused.
    let (ok, _, err) = env.run(&args("xiaoqian"), &format!("{SECRET}\n{KEY}\n")).await;
    assert!(!ok && err.contains("taken"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_init_by_qr_code() {
    let env = Env::start().await;
    env.model.set_api_key(Some(KEY));
    let (api, token, bind, base) =
        (env.qq.api_base(), env.qq.token_url(), env.qq.bind_base(), env.model_base());
    let mut child = env
        .cmd(&[
            "init",
            "--qr",
            "--bind-base",
            &bind,
            "--api-base",
            &api,
            "--token-url",
            &token,
            "--name",
            "scanned",
            "--base-url",
            &base,
            "--model",
            "sim-model",
        ])
        .spawn()
        .unwrap();
    // With --qr the API key is the only line on stdin.
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{KEY}\n").as_bytes()).await.unwrap();
    drop(stdin);
    let task = loop {
        if let Some(t) = env.qq.bind_tasks().first().cloned() {
            break t;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(env.qq.bind_scan(&task));
    assert!(env.qq.bind_confirm(&task, common::app("4400002", "qq-secret-init-qr-9"), "OWNER_QR"));
    let out = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let (_, list, _) = env.run(&["bot", "list", "--json"], "").await;
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["bots"][0]["owner"], "OWNER_QR");
    assert_eq!(list["bots"][0]["app_id"], "4400002");
    assert!(grep_tree(env.home.path(), &["qq-secret-init-qr-9", KEY]).is_empty());
}
