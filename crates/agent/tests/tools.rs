//! The built-in tools: `exec` guards and audit, `read` path confinement,
//! `web_fetch` address checks.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pincer_agent::store::Store;
use pincer_agent::tools::exec::{ExecApproval, ExecConfig, ExecRequest, ExecTool};
use pincer_agent::tools::read::ReadTool;
use pincer_agent::tools::web_fetch::{WebFetchConfig, WebFetchTool};
use pincer_agent::tools::{Tool, ToolContext, ToolError};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn ctx(dir: &Path, is_owner: bool) -> ToolContext {
    let ws = dir.join("workspace");
    std::fs::create_dir_all(&ws).unwrap();
    ToolContext {
        bot: "b1".into(),
        conversation: "c2c:u1".into(),
        sender: if is_owner { "owner".into() } else { "stranger".into() },
        is_owner,
        workspace: ws,
        skill_dirs: Vec::new(),
        declared_binaries: vec!["echo".into()],
        store: Store::open(dir.join("t.db")).await.unwrap(),
    }
}

fn exec_on() -> ExecTool {
    ExecTool { config: ExecConfig { enabled: true, ..ExecConfig::default() } }
}

#[tokio::test]
async fn exec_is_off_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let c = ctx(dir.path(), true).await;
    let r = ExecTool::default().call(&c, json!({"program": "echo", "args": ["hi"]})).await;
    assert!(matches!(r, Err(ToolError::Refused(_))));
    let audit = c.store.exec_audit("b1").await.unwrap();
    assert_eq!(audit.len(), 1);
    assert!(audit[0].decision.starts_with("refused"));
}

#[tokio::test]
async fn exec_refuses_non_owners_and_undeclared_binaries_and_runs_declared_ones() {
    let dir = tempfile::tempdir().unwrap();
    let stranger = ctx(dir.path(), false).await;
    let r = exec_on().call(&stranger, json!({"program": "echo", "args": ["hi"]})).await;
    assert!(matches!(r, Err(ToolError::Refused(ref m)) if m.contains("owner")), "{r:?}");

    let owner = ctx(dir.path(), true).await;
    for program in ["ls", "/bin/echo", "../echo"] {
        let r = exec_on().call(&owner, json!({"program": program})).await;
        assert!(matches!(r, Err(ToolError::Refused(_))), "{program}: {r:?}");
    }

    let out = exec_on()
        .call(&owner, json!({"program": "echo", "args": ["你好", "pincer"]}))
        .await
        .unwrap();
    assert!(out.contains("exit code: 0"), "{out}");
    assert!(out.contains("你好 pincer"), "{out}");

    let audit = owner.store.exec_audit("b1").await.unwrap();
    assert_eq!(audit.len(), 5);
    assert_eq!(audit[0].user, "stranger");
    assert!(audit[..4].iter().all(|a| a.decision.starts_with("refused")));
    assert_eq!(audit[4].decision, "ran");
    assert_eq!(audit[4].exit_code, Some(0));
    assert_eq!(audit[4].program, "echo");
    assert_eq!(audit[4].cwd, owner.workspace.display().to_string());
}

#[derive(Debug)]
struct Deny;

#[async_trait::async_trait]
impl ExecApproval for Deny {
    async fn approve(&self, request: &ExecRequest) -> bool {
        request.program != "echo"
    }
}

#[tokio::test]
async fn exec_asks_the_approval_hook() {
    let dir = tempfile::tempdir().unwrap();
    let owner = ctx(dir.path(), true).await;
    let tool = ExecTool {
        config: ExecConfig {
            enabled: true,
            approval: Some(Arc::new(Deny)),
            ..ExecConfig::default()
        },
    };
    let r = tool.call(&owner, json!({"program": "echo", "args": ["x"]})).await;
    assert!(matches!(r, Err(ToolError::Refused(ref m)) if m.contains("approve")), "{r:?}");
    assert_eq!(owner.store.exec_audit("b1").await.unwrap().len(), 1);
}

#[tokio::test]
async fn exec_has_a_time_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut owner = ctx(dir.path(), true).await;
    owner.declared_binaries.push("sleep".into());
    let tool = ExecTool {
        config: ExecConfig {
            enabled: true,
            timeout: Duration::from_millis(300),
            ..ExecConfig::default()
        },
    };
    let start = std::time::Instant::now();
    let r = tool.call(&owner, json!({"program": "sleep", "args": ["5"]})).await;
    assert!(matches!(r, Err(ToolError::Timeout(_))), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn read_stays_inside_the_workspace_and_skill_folders() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = ctx(dir.path(), false).await;
    std::fs::write(c.workspace.join("notes.txt"), "工作区笔记").unwrap();
    std::fs::create_dir_all(c.workspace.join("sub")).unwrap();
    std::fs::write(c.workspace.join("sub/a.txt"), "子目录").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "秘密").unwrap();
    let skill = dir.path().join("skills/weather");
    std::fs::create_dir_all(&skill).unwrap();
    std::fs::write(skill.join("SKILL.md"), "天气技能").unwrap();
    c.skill_dirs.push(skill.clone());
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), c.workspace.join("link.txt"))
        .unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path(), c.workspace.join("up")).unwrap();

    let read = ReadTool::default();
    assert_eq!(read.call(&c, json!({"path": "notes.txt"})).await.unwrap(), "工作区笔记");
    assert_eq!(read.call(&c, json!({"path": "sub/a.txt"})).await.unwrap(), "子目录");
    let skill_file = skill.join("SKILL.md").display().to_string();
    assert_eq!(read.call(&c, json!({"path": skill_file})).await.unwrap(), "天气技能");

    for bad in ["../secret.txt", "sub/../../secret.txt", "link.txt", "up/secret.txt"] {
        let r = read.call(&c, json!({"path": bad})).await;
        assert!(matches!(r, Err(ToolError::Refused(_))), "{bad}: {r:?}");
    }
    let abs = dir.path().join("secret.txt").display().to_string();
    assert!(matches!(read.call(&c, json!({"path": abs})).await, Err(ToolError::Refused(_))));
    assert!(matches!(
        read.call(&c, json!({"path": "/etc/passwd"})).await,
        Err(ToolError::Refused(_))
    ));
    assert!(matches!(read.call(&c, json!({})).await, Err(ToolError::InvalidArguments(_))));
}

/// A one-shot HTTP server on loopback that answers `body` to every request.
async fn serve(body: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/page")
}

#[tokio::test]
async fn web_fetch_refuses_private_and_loopback_addresses_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let c = ctx(dir.path(), false).await;
    let url = serve("内网内容").await;
    let tool = WebFetchTool::default();
    for u in [
        url.as_str(),
        "http://localhost:9/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://192.168.1.1/",
    ] {
        let r = tool.call(&c, json!({"url": u})).await;
        assert!(matches!(r, Err(ToolError::Refused(_))), "{u}: {r:?}");
    }
    for u in ["file:///etc/passwd", "ftp://example.com/"] {
        let r = tool.call(&c, json!({"url": u})).await;
        assert!(matches!(r, Err(ToolError::Refused(_))), "{u}: {r:?}");
    }
}

#[tokio::test]
async fn web_fetch_fetches_loopback_when_allowed_and_caps_the_size() {
    let dir = tempfile::tempdir().unwrap();
    let c = ctx(dir.path(), false).await;
    let url = serve("你好，网页").await;
    let tool = WebFetchTool {
        config: WebFetchConfig { allow_loopback: true, ..WebFetchConfig::default() },
    };
    assert_eq!(tool.call(&c, json!({"url": url})).await.unwrap(), "你好，网页");
    let small = WebFetchTool {
        config: WebFetchConfig { allow_loopback: true, max_bytes: 6, ..WebFetchConfig::default() },
    };
    let out = small.call(&c, json!({"url": url})).await.unwrap();
    assert!(out.starts_with("你好") && out.contains("truncated"), "{out}");
    // Loopback allowed does not open private ranges.
    let r = tool.call(&c, json!({"url": "http://10.1.1.1/"})).await;
    assert!(matches!(r, Err(ToolError::Refused(_))));
}
