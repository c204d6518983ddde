//! The SQLite store: migrations, retention, usage and prices, audits.

use pincer_agent::provider::Usage;
use pincer_agent::store::{now_secs, schema_version, ExecAuditEntry, Price, TurnRole, MIGRATIONS};
use pincer_agent::{Inbound, Scene, Store};

#[tokio::test]
async fn upgrades_a_version_1_database_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO inbound (bot, message_id, conversation, sender, text, received_at)
             VALUES ('b1', 'old-msg', 'c2c:u1', 'u1', '旧消息', 1)",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO turns (bot, conversation, role, sender, content, created_at)
             VALUES ('b1', 'c2c:u1', 'user', 'u1', '旧的历史', ?1)",
            [now_secs()],
        )
        .unwrap();
    }
    let store = Store::open(&path).await.unwrap();
    assert_eq!(store.version().await.unwrap(), schema_version());
    assert!(schema_version() >= 2);
    let history = store.history("b1", "c2c:u1", 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].content, "旧的历史");
    // The old message is still de-duplicated and is not treated as unanswered.
    let old = Inbound {
        bot: "b1".into(),
        message_id: "old-msg".into(),
        scene: Scene::C2c { user: "u1".into() },
        text: "旧消息".into(),
    };
    assert!(!store.record_inbound(&old, "new").await.unwrap());
    assert!(store.unanswered("b1").await.unwrap().is_empty());
    // New tables work.
    store
        .add_usage("b1", "2026-01-01", "p", "m", Usage { input_tokens: 1, output_tokens: 2 })
        .await
        .unwrap();
    assert_eq!(store.usage(None, "2026-01-01", "2026-01-01").await.unwrap().len(), 1);
    drop(store);
    // Reopening is a no-op.
    let store = Store::open(&path).await.unwrap();
    assert_eq!(store.version().await.unwrap(), schema_version());
}

#[tokio::test]
async fn refuses_a_database_from_a_newer_pincer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
    }
    let err = Store::open(&path).await.unwrap_err();
    assert!(err.to_string().contains("999"), "{err}");
}

#[tokio::test]
async fn uses_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    let _store = Store::open(&path).await.unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn retention_deletes_old_history_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("r.db")).await.unwrap();
    let now = now_secs();
    let day = 86_400;
    store.append_turn_at("b1", "c2c:u1", TurnRole::User, "40 天前", now - 40 * day).await.unwrap();
    store
        .append_turn_at("b1", "c2c:u1", TurnRole::Assistant, "31 天前", now - 31 * day)
        .await
        .unwrap();
    store.append_turn_at("b1", "c2c:u1", TurnRole::User, "29 天前", now - 29 * day).await.unwrap();
    store.append_turn_at("b2", "c2c:u9", TurnRole::User, "今天", now).await.unwrap();
    store
        .add_usage("b1", "2000-01-01", "p", "m", Usage { input_tokens: 5, output_tokens: 5 })
        .await
        .unwrap();
    store
        .append_exec_audit(ExecAuditEntry {
            bot: "b1".into(),
            user: "u1".into(),
            program: "echo".into(),
            args: "[]".into(),
            cwd: "/".into(),
            decision: "ran".into(),
            exit_code: Some(0),
            output: None,
            created_at: now - 400 * day,
        })
        .await
        .unwrap();
    let deleted = store.apply_retention(30, now).await.unwrap();
    assert_eq!(deleted, 2);
    let h = store.history("b1", "c2c:u1", 10).await.unwrap();
    assert_eq!(h.iter().map(|t| t.content.as_str()).collect::<Vec<_>>(), ["29 天前"]);
    assert_eq!(store.history("b2", "c2c:u9", 10).await.unwrap().len(), 1);
    // Usage totals and the exec audit log are kept.
    assert_eq!(store.usage(Some("b1"), "2000-01-01", "2000-01-01").await.unwrap().len(), 1);
    assert_eq!(store.exec_audit("b1").await.unwrap().len(), 1);
}

#[tokio::test]
async fn usage_is_summed_per_bot_per_day_and_priced() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("u.db")).await.unwrap();
    let u = |i, o| Usage { input_tokens: i, output_tokens: o };
    store.add_usage("b1", "2026-11-25", "deepseek", "deepseek-chat", u(1000, 100)).await.unwrap();
    store.add_usage("b1", "2026-11-26", "deepseek", "deepseek-chat", u(2000, 200)).await.unwrap();
    store.add_usage("b1", "2026-11-26", "deepseek", "deepseek-chat", u(3000, 300)).await.unwrap();
    store.add_usage("b2", "2026-11-26", "qwen", "qwen-max", u(10, 10)).await.unwrap();
    store
        .set_price(
            "deepseek",
            "deepseek-chat",
            Price { input_per_million: 2.0, output_per_million: 8.0, currency: "CNY".into() },
        )
        .await
        .unwrap();
    let rows = store.usage(Some("b1"), "2026-11-26", "2026-11-26").await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].input_tokens, rows[0].output_tokens, rows[0].calls), (5000, 500, 2));
    let cost = rows[0].cost.unwrap();
    assert!((cost - (5000.0 * 2.0 + 500.0 * 8.0) / 1e6).abs() < 1e-12);
    let all = store.usage(None, "2026-11-01", "2026-11-30").await.unwrap();
    assert_eq!(all.len(), 3);
    let b2 = all.iter().find(|r| r.bot == "b2").unwrap();
    assert_eq!(b2.cost, None, "no price set");
    // Editing the price changes the cost.
    store
        .set_price(
            "deepseek",
            "deepseek-chat",
            Price { input_per_million: 1.0, output_per_million: 0.0, currency: "CNY".into() },
        )
        .await
        .unwrap();
    let rows = store.usage(Some("b1"), "2026-11-26", "2026-11-26").await.unwrap();
    assert!((rows[0].cost.unwrap() - 0.005).abs() < 1e-12);
    assert_eq!(store.prices().await.unwrap().len(), 1);
    store.remove_price("deepseek", "deepseek-chat").await.unwrap();
    assert!(store.prices().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_exec_audit_log_is_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let store = Store::open(&path).await.unwrap();
    store
        .append_exec_audit(ExecAuditEntry {
            bot: "b1".into(),
            user: "u1".into(),
            program: "echo".into(),
            args: "[\"hi\"]".into(),
            cwd: "/tmp".into(),
            decision: "ran".into(),
            exit_code: Some(0),
            output: Some("hi".into()),
            created_at: 1,
        })
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert!(conn.execute("DELETE FROM exec_audit", []).is_err());
    assert!(conn.execute("UPDATE exec_audit SET decision = 'x'", []).is_err());
    assert_eq!(store.exec_audit("b1").await.unwrap().len(), 1);
}

#[tokio::test]
async fn conversations_list_the_most_recent_first_with_their_last_turn() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.sqlite3")).await.unwrap();
    store.append_turn_at("b", "c2c:u1", TurnRole::User, "你好", 100).await.unwrap();
    store.append_turn_at("b", "group:g1", TurnRole::User, "hi all", 101).await.unwrap();
    store.append_turn_at("b", "c2c:u1", TurnRole::Assistant, "你好！", 102).await.unwrap();
    store.append_turn_at("other", "c2c:u9", TurnRole::User, "not mine", 103).await.unwrap();
    let list = store.conversations("b", 10).await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].conversation, "c2c:u1");
    assert_eq!(list[0].last_text, "你好！");
    assert_eq!(list[0].last_at, 102);
    assert_eq!(list[0].turns, 2);
    assert_eq!(list[1].conversation, "group:g1");
    assert_eq!(list[1].turns, 1);
    assert_eq!(store.conversations("b", 1).await.unwrap().len(), 1);
    assert!(store.conversations("nobody", 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_answer_commits_with_its_usage_and_counts_as_one_attempt() {
    use pincer_agent::store::Commit;
    use pincer_agent::UsageEntry;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.db")).await.unwrap();
    let inbound = Inbound {
        bot: "b1".into(),
        message_id: "m1".into(),
        scene: Scene::C2c { user: "u1".into() },
        text: "你好".into(),
    };
    assert!(store.record_inbound(&inbound, "new").await.unwrap());
    let commit = || Commit {
        turns: vec![
            (TurnRole::User, None, "你好".into()),
            (TurnRole::Assistant, None, "在".into()),
        ],
        chunks: vec!["在".into()],
        markdown: false,
    };
    let usage =
        UsageEntry::new("2026-11-26", "p", "m", Usage { input_tokens: 10, output_tokens: 3 });
    let replies =
        store.commit_answer_with_usage(&inbound, commit(), Some(usage.clone())).await.unwrap();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].attempts, 0, "the caller's first try");
    // A restart finds it counted as attempted: it may have gone out.
    let pending = store.pending_replies(Some("b1")).await.unwrap();
    assert_eq!(pending[0].attempts, 1);

    // A second answer to the same message adds no reply, but its model call
    // was made and counts.
    let again = store.commit_answer_with_usage(&inbound, commit(), Some(usage)).await.unwrap();
    assert!(again.is_empty());
    let rows = store.usage(Some("b1"), "2026-11-26", "2026-11-26").await.unwrap();
    assert_eq!((rows[0].input_tokens, rows[0].output_tokens, rows[0].calls), (20, 6, 2));
    assert_eq!(store.history("b1", "c2c:u1", 10).await.unwrap().len(), 2, "turns once");
}
