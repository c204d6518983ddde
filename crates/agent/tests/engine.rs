//! The engine end to end over a real SQLite file, with an in-process model
//! double (engine logic) — see `sim_e2e.rs` for the provider simulator.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{c2c, group, wait_until, MockModel, RecordingSink, Step};
use pincer_agent::provider::{ProviderError, Role};
use pincer_agent::store::ReplyState;
use pincer_agent::tools::read::ReadTool;
use pincer_agent::tools::ToolRegistry;
use pincer_agent::{
    BotConfig, Engine, EngineConfig, ModelConfig, RateLimit, Store, Submitted, UserTexts,
};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

fn config() -> EngineConfig {
    EngineConfig {
        retry_base_delay: Duration::from_millis(5),
        provider_retries: 1,
        ..EngineConfig::default()
    }
}

fn bot(id: &str, model: &Arc<MockModel>) -> BotConfig {
    BotConfig::new(id, model.clone(), ModelConfig::new("mock", "mock-1"))
}

async fn engine(
    dir: &tempfile::TempDir,
    sink: &Arc<RecordingSink>,
    bots: Vec<BotConfig>,
) -> Engine {
    let store = Store::open(dir.path().join("agent.db")).await.unwrap();
    let engine = Engine::new(store, sink.clone(), config());
    for b in bots {
        engine.add_bot(b);
    }
    engine.start().await.unwrap();
    engine
}

/// Submits m1 ("慢问题" from u1 to bot b1) and stops the engine at once
/// while the model is still thinking: accepted, never answered. Returns that
/// engine's model and sink.
async fn crash_while_answering(dir: &tempfile::TempDir) -> (Arc<MockModel>, Arc<RecordingSink>) {
    let model = MockModel::new();
    *model.delay.lock().unwrap() = Some(Duration::from_secs(30));
    let sink = RecordingSink::new();
    let e = engine(dir, &sink, vec![bot("b1", &model)]).await;
    e.submit(c2c("b1", "m1", "u1", "慢问题")).await.unwrap();
    assert!(wait_until(WAIT, || model.calls() == 1).await);
    e.cancel().await;
    (model, sink)
}

#[tokio::test]
async fn the_same_event_twice_is_answered_once() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    let sink = RecordingSink::new();
    let e = engine(&dir, &sink, vec![bot("b1", &model)]).await;
    let msg = c2c("b1", "m1", "u1", "你好");
    assert_eq!(e.submit(msg.clone()).await.unwrap(), Submitted::Queued);
    assert_eq!(e.submit(msg.clone()).await.unwrap(), Submitted::Duplicate);
    e.shutdown().await;
    assert_eq!(model.calls(), 1);
    assert_eq!(sink.texts(), vec!["echo: 你好".to_string()]);
    let recs = e.store().replies_to("b1", "m1").await.unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].state, ReplyState::Sent);
    assert_eq!(recs[0].response_id.as_deref(), Some("resp-1"));

    // After a restart the replayed event is still a duplicate.
    let sink2 = RecordingSink::new();
    let e2 = engine(&dir, &sink2, vec![bot("b1", &model)]).await;
    assert_eq!(e2.submit(msg).await.unwrap(), Submitted::Duplicate);
    e2.shutdown().await;
    assert_eq!(model.calls(), 1);
    assert_eq!(sink2.count(), 0);
}

#[tokio::test]
async fn a_crash_between_answer_and_send_delivers_exactly_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    model.push(Step::Text("答案在这里".into()));
    let stuck = RecordingSink::hanging();
    let e = engine(&dir, &stuck, vec![bot("b1", &model)]).await;
    let msg = c2c("b1", "m1", "u1", "问题");
    e.submit(msg.clone()).await.unwrap();
    // Wait until the answer is committed as pending (the send hangs).
    let store = e.store().clone();
    let mut pending = Vec::new();
    for _ in 0..500 {
        pending = store.pending_replies(Some("b1")).await.unwrap();
        if !pending.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(pending.len(), 1, "the answer is stored before sending");
    // "Crash": abandon everything in flight and drop the engine and store.
    e.cancel().await;
    drop(e);
    drop(store);

    let sink = RecordingSink::new();
    let e2 = engine(&dir, &sink, vec![bot("b1", &model)]).await;
    // QQ replays the event after the reconnect: still processed once.
    assert_eq!(e2.submit(msg).await.unwrap(), Submitted::Duplicate);
    e2.shutdown().await;
    assert_eq!(sink.texts(), vec!["答案在这里".to_string()]);
    assert_eq!(sink.replies()[0].attempts, 1, "the connector learns it may have been sent");
    assert_eq!(model.calls(), 1, "the model is not asked again");
    assert_eq!(stuck.count(), 0);
    let recs = e2.store().replies_to("b1", "m1").await.unwrap();
    assert_eq!(recs[0].state, ReplyState::Sent);

    // A third start has nothing left to send.
    let sink3 = RecordingSink::new();
    let e3 = engine(&dir, &sink3, vec![bot("b1", &model)]).await;
    e3.shutdown().await;
    assert_eq!(sink3.count(), 0);
}

#[tokio::test]
async fn a_message_accepted_but_never_answered_is_answered_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (_, sink) = crash_while_answering(&dir).await;

    let model2 = MockModel::new();
    let sink2 = RecordingSink::new();
    let e2 = engine(&dir, &sink2, vec![bot("b1", &model2)]).await;
    e2.shutdown().await;
    assert_eq!(sink2.texts(), vec!["echo: 慢问题".to_string()]);
    assert_eq!(sink.count(), 0);
}

#[tokio::test]
async fn two_bots_never_see_each_others_history() {
    let dir = tempfile::tempdir().unwrap();
    let m1 = MockModel::new();
    let m2 = MockModel::new();
    let sink = RecordingSink::new();
    let mut b2 = bot("b2", &m2);
    b2.persona = pincer_agent::context::Persona::custom("你是翻译机器人");
    let e = engine(&dir, &sink, vec![bot("b1", &m1), b2]).await;
    // The same user talks to both bots.
    e.submit(c2c("b1", "x1", "u1", "机器人一的秘密")).await.unwrap();
    e.submit(c2c("b2", "y1", "u1", "机器人二的秘密")).await.unwrap();
    assert!(wait_until(WAIT, || sink.count() == 2).await);
    e.submit(c2c("b1", "x2", "u1", "第二句一")).await.unwrap();
    e.submit(c2c("b2", "y2", "u1", "第二句二")).await.unwrap();
    e.shutdown().await;

    let all = |m: &MockModel| -> String {
        m.requests()
            .iter()
            .flat_map(|r| r.messages.iter().map(|m| m.content.clone()).chain(r.system.clone()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let s1 = all(&m1);
    let s2 = all(&m2);
    assert!(s1.contains("机器人一的秘密") && s1.contains("第二句一"));
    assert!(!s1.contains("机器人二") && !s1.contains("第二句二") && !s1.contains("翻译机器人"));
    assert!(s2.contains("机器人二的秘密") && s2.contains("翻译机器人"));
    assert!(!s2.contains("机器人一") && !s2.contains("第二句一"));
    // The second request of each bot carries its own first exchange.
    let second = &m1.requests()[1];
    assert_eq!(second.messages.len(), 3);
    assert_eq!(second.messages[1].role, Role::Assistant);
    assert_eq!(second.messages[1].content, "echo: 机器人一的秘密");
}

#[tokio::test]
async fn the_daily_cap_stops_spending_and_tells_the_user_once() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    let sink = RecordingSink::new();
    let mut b = bot("b1", &model);
    b.daily_token_cap = Some(200); // each call reports 120 tokens
    let e = engine(&dir, &sink, vec![b]).await;
    for i in 0..5 {
        e.submit(c2c("b1", &format!("m{i}"), "u1", &format!("问题{i}"))).await.unwrap();
    }
    assert!(wait_until(WAIT, || e.status("b1").unwrap().capped == 3).await);
    e.submit(c2c("b1", "other", "u2", "我是另一个用户")).await.unwrap();
    e.shutdown().await;
    assert_eq!(model.calls(), 2, "120 + 120 >= 200: no call after the cap");
    let cap = UserTexts::zh_cn().daily_cap;
    let texts = sink.texts();
    assert_eq!(texts[..2], ["echo: 问题0".to_string(), "echo: 问题1".to_string()]);
    assert_eq!(texts.iter().filter(|t| **t == cap).count(), 2, "once per user: {texts:?}");
    assert_eq!(texts.len(), 4);
    let status = e.status("b1").unwrap();
    assert!(status.cap_reached);
    assert_eq!(status.capped, 4);
    let usage = e.store().usage(Some("b1"), "0000-00-00", "9999-99-99").await.unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!((usage[0].input_tokens, usage[0].output_tokens, usage[0].calls), (200, 40, 2));
}

#[tokio::test]
async fn the_cost_cap_uses_the_price_table() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    *model.usage.lock().unwrap() = (1_000_000, 0);
    let sink = RecordingSink::new();
    let mut b = bot("b1", &model);
    b.daily_cost_cap = Some(3.0);
    let e = engine(&dir, &sink, vec![b]).await;
    let price = pincer_agent::Price {
        input_per_million: 2.0,
        output_per_million: 8.0,
        currency: "CNY".into(),
    };
    e.store().set_price("mock", "mock-1", price).await.unwrap();
    for i in 0..4 {
        e.submit(c2c("b1", &format!("m{i}"), "u1", "hi")).await.unwrap();
    }
    e.shutdown().await;
    assert_eq!(model.calls(), 2, "2 CNY, 4 CNY ≥ 3: stop");
    let usage = e.store().usage(Some("b1"), "0000", "9999").await.unwrap();
    assert_eq!(usage[0].cost, Some(4.0));
    assert_eq!(usage[0].currency.as_deref(), Some("CNY"));
}

#[tokio::test]
async fn spam_gets_one_polite_refusal_and_costs_no_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    let sink = RecordingSink::new();
    let mut b = bot("b1", &model);
    b.rate_limit = Some(RateLimit { max_messages: 3, per: Duration::from_secs(60) });
    let e = engine(&dir, &sink, vec![b]).await;
    let mut verdicts = Vec::new();
    for i in 0..8 {
        verdicts.push(e.submit(c2c("b1", &format!("m{i}"), "spammer", "刷屏")).await.unwrap());
    }
    // Another user is not affected.
    assert_eq!(e.submit(c2c("b1", "ok", "calm", "你好")).await.unwrap(), Submitted::Queued);
    e.shutdown().await;
    assert_eq!(verdicts[..3], [Submitted::Queued; 3]);
    assert_eq!(verdicts[3], Submitted::RateLimitedRefusal);
    assert!(verdicts[4..].iter().all(|v| *v == Submitted::RateLimitedSilently));
    assert_eq!(model.calls(), 4);
    let refusal = UserTexts::zh_cn().rate_limited;
    assert_eq!(sink.texts().iter().filter(|t| **t == refusal).count(), 1);
    assert_eq!(sink.count(), 5);
    assert_eq!(e.status("b1").unwrap().rate_limited, 5);
}

#[tokio::test]
async fn provider_failure_sends_a_short_apology_and_sets_the_status() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    model.push(Step::Fail(ProviderError::Server { status: 502 }));
    model.push(Step::Fail(ProviderError::Server { status: 503 }));
    model.push(Step::Fail(ProviderError::BadKey { detail: "bad".into() }));
    let sink = RecordingSink::new();
    let e = engine(&dir, &sink, vec![bot("b1", &model)]).await;
    e.submit(c2c("b1", "m1", "u1", "在吗")).await.unwrap(); // 502, retry, 503: give up
    e.submit(c2c("b1", "m2", "u1", "在吗")).await.unwrap(); // bad key: not retried
    e.submit(c2c("b1", "m3", "u1", "好了吗")).await.unwrap(); // works
    e.shutdown().await;
    assert_eq!(model.calls(), 4);
    let apology = UserTexts::zh_cn().apology;
    assert_eq!(sink.texts(), vec![apology.clone(), apology, "echo: 好了吗".to_string()]);
    let st = e.status("b1").unwrap();
    assert_eq!(st.failed, 2);
    assert_eq!(
        st.last_error_zh.as_deref(),
        Some(ProviderError::BadKey { detail: String::new() }.explain_zh().as_str())
    );
    // Failed exchanges do not pollute the history.
    let third = &model.requests()[3];
    assert_eq!(third.messages.len(), 1);
}

#[tokio::test]
async fn messages_in_one_conversation_stay_in_order_while_conversations_run_in_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    *model.delay.lock().unwrap() = Some(Duration::from_millis(15));
    let sink = RecordingSink::new();
    let mut b = bot("b1", &model);
    b.rate_limit = None;
    let e = engine(&dir, &sink, vec![b]).await;
    let mut handles = Vec::new();
    for conv in 0..4 {
        let e = e.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..8 {
                let m =
                    c2c("b1", &format!("c{conv}-{i}"), &format!("u{conv}"), &format!("{conv}:{i}"));
                e.submit(m).await.unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    e.shutdown().await;
    let replies = sink.replies();
    assert_eq!(replies.len(), 32);
    for conv in 0..4 {
        let got: Vec<String> = replies
            .iter()
            .filter(|r| r.scene.conversation_id() == format!("c2c:u{conv}"))
            .map(|r| r.text.clone())
            .collect();
        let want: Vec<String> = (0..8).map(|i| format!("echo: {conv}:{i}")).collect();
        assert_eq!(got, want);
    }
    assert!(model.max_in_flight.load(std::sync::atomic::Ordering::SeqCst) >= 2, "parallel");
    // Each request carried the whole preceding conversation, in order.
    let last =
        model.requests().into_iter().find(|r| r.messages.last().unwrap().content == "0:7").unwrap();
    let users: Vec<String> =
        last.messages.iter().filter(|m| m.role == Role::User).map(|m| m.content.clone()).collect();
    assert_eq!(users, (0..8).map(|i| format!("0:{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_tool_loop_runs_tools_and_only_the_final_answer_reaches_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("notes.txt"), "明天下午三点开会").unwrap();
    let model = MockModel::new();
    model.push(Step::Tools(vec![("read".into(), json!({"path": "notes.txt"}))]));
    model.push(Step::Text("**明天下午三点**开会。".into()));
    let sink = RecordingSink::new();
    let mut b = bot("b1", &model);
    let mut tools = ToolRegistry::new();
    tools.register(Arc::new(ReadTool::default()));
    b.tools = tools;
    b.workspace = ws;
    let e = engine(&dir, &sink, vec![b]).await;
    e.submit(c2c("b1", "m1", "u1", "我明天有什么安排？")).await.unwrap();
    e.shutdown().await;
    assert_eq!(sink.texts(), vec!["明天下午三点开会。".to_string()], "plain text, no chatter");
    let reqs = model.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].tools.len(), 1);
    let tool_msg = reqs[1].messages.last().unwrap();
    assert_eq!(tool_msg.role, Role::Tool);
    assert_eq!(tool_msg.content, "明天下午三点开会");
    assert_eq!(tool_msg.tool_call_id.as_deref(), Some("call_0"));
    let audit = e.store().tool_calls("b1").await.unwrap();
    assert_eq!(audit.len(), 1);
    assert!(audit[0].ok);
    assert_eq!(audit[0].tool, "read");
}

#[tokio::test]
async fn tool_rounds_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    for _ in 0..10 {
        model.push(Step::Tools(vec![("read".into(), json!({"path": "nope.txt"}))]));
    }
    let sink = RecordingSink::new();
    let mut b = bot("b1", &model);
    b.max_tool_rounds = 2;
    let mut tools = ToolRegistry::new();
    tools.register(Arc::new(ReadTool::default()));
    b.tools = tools;
    b.workspace = dir.path().to_owned();
    let e = engine(&dir, &sink, vec![b]).await;
    e.submit(c2c("b1", "m1", "u1", "loop")).await.unwrap();
    e.shutdown().await;
    let reqs = model.requests();
    assert_eq!(reqs.len(), 3, "2 tool rounds, then a final call without tools");
    assert!(reqs[2].tools.is_empty());
    // The last reply asked for tools again: its chatter is not sent.
    assert_eq!(sink.texts(), vec![UserTexts::zh_cn().empty_answer]);
}

#[tokio::test]
async fn long_answers_are_split_and_group_turns_are_attributed() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    let long = "这是一段很长的回答。".repeat(30); // 300 chars
    model.push(Step::Text(long.clone()));
    let sink = RecordingSink::new();
    let mut b = bot("b1", &model);
    b.max_chars = 100;
    let e = engine(&dir, &sink, vec![b]).await;
    e.submit(group("b1", "g-m1", "g1", "alice", "讲个长故事")).await.unwrap();
    e.submit(group("b1", "g-m2", "g1", "bob", "我也要听")).await.unwrap();
    e.shutdown().await;
    let replies = sink.replies();
    let first: Vec<_> = replies.iter().filter(|r| r.reply_to_message_id == "g-m1").collect();
    assert_eq!(first.len(), 3);
    assert!(first.iter().all(|r| r.text.chars().count() <= 100 && r.parts == 3));
    assert_eq!(first.iter().map(|r| r.text.as_str()).collect::<String>(), long);
    let second = &model.requests()[1];
    assert_eq!(second.messages[0].content, "[alice] 讲个长故事");
    assert_eq!(second.messages[2].content, "[bob] 我也要听");
}

#[tokio::test]
async fn transient_delivery_errors_are_retried() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    let sink = RecordingSink::new();
    sink.fail_transient.store(2, std::sync::atomic::Ordering::SeqCst);
    let e = engine(&dir, &sink, vec![bot("b1", &model)]).await;
    e.submit(c2c("b1", "m1", "u1", "hi")).await.unwrap();
    e.shutdown().await;
    assert_eq!(sink.texts(), vec!["echo: hi".to_string()]);
    let recs = e.store().replies_to("b1", "m1").await.unwrap();
    assert_eq!(recs[0].state, ReplyState::Sent);
}

#[tokio::test]
async fn a_reply_the_connector_cannot_record_waits_beyond_the_retry_limit() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    let sink = RecordingSink::new();
    // More storage failures than delivery retries: a transient error this
    // often would mark the entry failed, a full disk must not.
    let failures = config().delivery_retries as usize + 1;
    sink.fail_storage.store(failures, std::sync::atomic::Ordering::SeqCst);
    let e = engine(&dir, &sink, vec![bot("b1", &model)]).await;
    e.submit(c2c("b1", "m1", "u1", "hi")).await.unwrap();
    assert!(
        wait_until(WAIT, || e.status("b1").unwrap().last_error_zh.is_some()).await,
        "the bot's status says why the reply waits"
    );
    assert_eq!(
        e.status("b1").unwrap().last_error_zh.as_deref(),
        Some("无法记录回复（模拟磁盘已满）")
    );
    assert!(
        wait_until(Duration::from_secs(30), || sink.count() == 1).await,
        "delivered once the disk has room"
    );
    let recs = e.store().replies_to("b1", "m1").await.unwrap();
    assert_eq!(recs[0].state, ReplyState::Sent);
    assert_eq!(e.status("b1").unwrap().last_error_zh, None, "the trouble is cleared");
    e.shutdown().await;
    assert_eq!(sink.texts(), vec!["echo: hi".to_string()]);
}

#[tokio::test]
async fn unknown_bots_and_submissions_after_shutdown_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    let sink = RecordingSink::new();
    let e = engine(&dir, &sink, vec![bot("b1", &model)]).await;
    assert!(matches!(
        e.submit(c2c("nobody", "m1", "u1", "hi")).await,
        Err(pincer_agent::EngineError::UnknownBot(_))
    ));
    e.shutdown().await;
    assert!(matches!(
        e.submit(c2c("b1", "m2", "u1", "hi")).await,
        Err(pincer_agent::EngineError::ShuttingDown)
    ));
}

#[derive(Debug, Default)]
struct RecordingSummarizer {
    seen: std::sync::Mutex<Vec<usize>>,
}

#[async_trait::async_trait]
impl pincer_agent::context::Summarizer for RecordingSummarizer {
    async fn summarize(
        &self,
        _bot: &str,
        _conversation: &str,
        dropped: &[pincer_agent::provider::ChatMessage],
    ) -> Option<String> {
        self.seen.lock().unwrap().push(dropped.len());
        Some(format!("用户之前问过 {} 条消息", dropped.len()))
    }
}

#[tokio::test]
async fn history_is_trimmed_to_the_token_budget_with_a_summary_of_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    let sink = RecordingSink::new();
    let summarizer = Arc::new(RecordingSummarizer::default());
    let mut b = bot("b1", &model);
    b.persona = pincer_agent::context::Persona::custom("短");
    // Budget = 200 - 100 - 1 (system) = 99 tokens; each turn here is
    // 4 + 20 (CJK) tokens, echo answers 4 + 2 + 20.
    b.model.context_tokens = 200;
    b.model.max_output_tokens = 100;
    b.summarizer = Some(summarizer.clone());
    let e = engine(&dir, &sink, vec![b]).await;
    for i in 0..6 {
        let text = format!("{i}{}", "字".repeat(19));
        e.submit(c2c("b1", &format!("m{i}"), "u1", &text)).await.unwrap();
    }
    e.shutdown().await;
    let reqs = model.requests();
    let last = reqs.last().unwrap();
    let tokens: usize =
        last.messages.iter().map(pincer_agent::context::estimate_message_tokens).sum();
    assert!(tokens <= 99, "{tokens}");
    assert_eq!(last.messages.first().unwrap().role, Role::User);
    assert!(last.messages.last().unwrap().content.starts_with('5'));
    assert_eq!(last.messages.len(), 3, "2 older turns + the current message fit");
    assert!(last.system.as_deref().unwrap().contains("用户之前问过 8 条消息"));
    assert_eq!(summarizer.seen.lock().unwrap().last(), Some(&8));
    // The first two requests fit whole: no summary was asked for.
    assert!(!reqs[0].system.as_deref().unwrap().contains("摘要"));
}

#[tokio::test]
async fn idle_workers_exit_and_come_back_without_losing_order_or_history() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    let sink = RecordingSink::new();
    let store = Store::open(dir.path().join("agent.db")).await.unwrap();
    let cfg = EngineConfig { idle_worker_timeout: Duration::from_millis(20), ..config() };
    let e = Engine::new(store, sink.clone(), cfg);
    e.add_bot(bot("b1", &model));
    e.start().await.unwrap();
    for i in 0..3 {
        e.submit(c2c("b1", &format!("m{i}"), "u1", &format!("第{i}条"))).await.unwrap();
        tokio::time::sleep(Duration::from_millis(80)).await;
    }
    e.shutdown().await;
    assert_eq!(sink.texts(), ["echo: 第0条", "echo: 第1条", "echo: 第2条"]);
    assert_eq!(model.requests()[2].messages.len(), 5);
}

/// An engine that keeps one message per conversation in memory (the rest
/// of a burst waits in the store), for bot b1 without a rate limit.
async fn one_in_memory(
    dir: &tempfile::TempDir,
    sink: &Arc<RecordingSink>,
    model: &Arc<MockModel>,
) -> Engine {
    let store = Store::open(dir.path().join("agent.db")).await.unwrap();
    let e = Engine::new(store, sink.clone(), EngineConfig { queue_capacity: 1, ..config() });
    let mut b = bot("b1", model);
    b.rate_limit = None;
    e.add_bot(b);
    e.start().await.unwrap();
    e
}

#[tokio::test]
async fn a_busy_conversation_takes_messages_at_once_and_answers_them_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    *model.delay.lock().unwrap() = Some(Duration::from_millis(200));
    let sink = RecordingSink::new();
    let e = one_in_memory(&dir, &sink, &model).await;
    for i in 0..12 {
        let submitted = tokio::time::timeout(
            Duration::from_secs(1),
            e.submit(c2c("b1", &format!("m{i}"), "u1", &format!("第{i}条"))),
        )
        .await
        .expect("submit does not wait for a busy conversation");
        assert_eq!(submitted.unwrap(), Submitted::Queued);
    }
    // Taken while the first was still with the model (a waiting submit
    // would have needed ten answers first).
    assert!(model.calls() <= 2, "{} model calls", model.calls());
    // Another conversation is not held up.
    e.submit(c2c("b1", "x", "u2", "x")).await.unwrap();
    assert!(wait_until(WAIT, || sink.texts().contains(&"echo: x".to_string())).await);
    // A repeat of a message waiting in the store is still recognised.
    assert_eq!(e.submit(c2c("b1", "m11", "u1", "第11条")).await.unwrap(), Submitted::Duplicate);
    // Shutdown answers everything taken, the waiting ones included.
    e.shutdown().await;
    let u1: Vec<String> = sink
        .replies()
        .iter()
        .filter(|r| r.reply_to_message_id.starts_with('m'))
        .map(|r| r.text.clone())
        .collect();
    let expected: Vec<String> = (0..12).map(|i| format!("echo: 第{i}条")).collect();
    assert_eq!(u1, expected, "each once, in order");
    assert_eq!(model.calls(), 13, "no message was answered twice");
    // Each answer saw the ones before it.
    assert_eq!(model.requests().last().unwrap().messages.len(), 23);
    assert!(e.store().unanswered("b1").await.unwrap().is_empty());
}

#[tokio::test]
async fn messages_waiting_in_the_store_survive_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    *model.delay.lock().unwrap() = Some(Duration::from_secs(30));
    let sink = RecordingSink::new();
    let e = one_in_memory(&dir, &sink, &model).await;
    for i in 0..6 {
        e.submit(c2c("b1", &format!("m{i}"), "u1", &format!("第{i}条"))).await.unwrap();
    }
    assert!(wait_until(WAIT, || model.calls() == 1).await);
    // "Crash" with one message at the model, one queued, four in the store.
    e.cancel().await;
    drop(e);

    let model2 = MockModel::new();
    let sink2 = RecordingSink::new();
    let mut b = bot("b1", &model2);
    b.rate_limit = None;
    let e2 = engine(&dir, &sink2, vec![b]).await;
    e2.shutdown().await;
    let expected: Vec<String> = (0..6).map(|i| format!("echo: 第{i}条")).collect();
    assert_eq!(sink2.texts(), expected, "each once, in order, after the restart");
    assert_eq!(sink.count(), 0);
    assert_eq!(model2.calls(), 6);
}

#[tokio::test]
async fn a_burst_is_taken_in_one_go_with_a_result_per_message() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    let sink = RecordingSink::new();
    let mut b = bot("b1", &model);
    b.rate_limit = Some(RateLimit { max_messages: 2, per: Duration::from_secs(60) });
    let e = engine(&dir, &sink, vec![b]).await;
    let burst = vec![
        c2c("b1", "m0", "u1", "一"),
        c2c("nobody", "n0", "u1", "?"),
        c2c("b1", "m1", "u1", "二"),
        c2c("b1", "m1", "u1", "二"), // the platform repeated it
        c2c("b1", "m2", "u1", "三"),
        c2c("b1", "m3", "u1", "四"),
        c2c("b1", "v0", "u2", "别人"),
    ];
    let results = e.submit_all(burst).await;
    assert_eq!(results.len(), 7);
    assert_eq!(results[0].as_ref().unwrap(), &Submitted::Queued);
    assert!(matches!(results[1], Err(pincer_agent::EngineError::UnknownBot(_))));
    assert_eq!(results[2].as_ref().unwrap(), &Submitted::Queued);
    assert_eq!(results[3].as_ref().unwrap(), &Submitted::Duplicate);
    assert_eq!(results[4].as_ref().unwrap(), &Submitted::RateLimitedRefusal);
    assert_eq!(results[5].as_ref().unwrap(), &Submitted::RateLimitedSilently);
    assert_eq!(results[6].as_ref().unwrap(), &Submitted::Queued);
    e.shutdown().await;
    let refusal = UserTexts::zh_cn().rate_limited;
    let to_u1: Vec<String> = sink
        .replies()
        .iter()
        .filter(|r| r.scene == pincer_agent::Scene::C2c { user: "u1".into() })
        .map(|r| r.text.clone())
        .collect();
    assert_eq!(to_u1, ["echo: 一".to_string(), "echo: 二".to_string(), refusal]);
    assert_eq!(model.calls(), 3, "m0, m1 and u2's message");
    // Stored in their final states: nothing is answered again after a restart.
    assert!(e.store().unanswered("b1").await.unwrap().is_empty());
}

#[tokio::test]
async fn markdown_bots_get_markdown_and_channel_turns_are_attributed() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    model.push(Step::Text("**粗体**".into()));
    let sink = RecordingSink::new();
    let mut b = bot("b1", &model);
    b.markdown = true;
    let e = engine(&dir, &sink, vec![b]).await;
    let msg = pincer_agent::Inbound {
        bot: "b1".into(),
        message_id: "ch1".into(),
        scene: pincer_agent::Scene::Channel { channel: "c1".into(), user: "carol".into() },
        text: "你好".into(),
    };
    e.submit(msg).await.unwrap();
    e.shutdown().await;
    let r = &sink.replies()[0];
    assert!(r.markdown);
    assert_eq!(r.text, "**粗体**");
    let target = r.qq_target();
    assert_eq!(target.scene, pincer_qq::reply::Scene::Channel);
    assert_eq!(target.target_id, "c1");
    assert_eq!(model.requests()[0].messages[0].content, "[carol] 你好");
}

#[tokio::test]
async fn the_retention_task_deletes_old_history() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    let sink = RecordingSink::new();
    let e = engine(&dir, &sink, vec![bot("b1", &model)]).await;
    let old = pincer_agent::store::now_secs() - 10 * 86_400;
    let store = e.store().clone();
    store
        .append_turn_at("b1", "c2c:u1", pincer_agent::store::TurnRole::User, "旧", old)
        .await
        .unwrap();
    e.spawn_retention(7, Duration::from_secs(3600));
    let mut gone = false;
    for _ in 0..200 {
        if store.history("b1", "c2c:u1", 10).await.unwrap().is_empty() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone);
    // Shutdown ends the periodic task promptly.
    tokio::time::timeout(Duration::from_secs(2), e.shutdown()).await.unwrap();
}

/// The (role, content) pairs of a request's messages.
fn transcript(request: &pincer_agent::provider::ChatRequest) -> Vec<(Role, String)> {
    request.messages.iter().map(|m| (m.role, m.content.clone())).collect()
}

/// What the model must see for a new message after the exchanges `turns`
/// (already attributed user texts and answers, oldest first).
fn expected(turns: &[(&str, &str)], current: &str) -> Vec<(Role, String)> {
    let mut out = Vec::new();
    for (user, answer) in turns {
        out.push((Role::User, user.to_string()));
        out.push((Role::Assistant, answer.to_string()));
    }
    out.push((Role::User, current.to_owned()));
    out
}

/// Submits `msg` and waits until the sink holds `replies` replies in all.
async fn exchange(e: &Engine, sink: &RecordingSink, msg: pincer_agent::Inbound, replies: usize) {
    assert_eq!(e.submit(msg).await.unwrap(), Submitted::Queued);
    assert!(wait_until(WAIT, || sink.count() == replies).await, "no reply #{replies}");
}

#[tokio::test]
async fn each_request_carries_exactly_the_stored_history_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    model.push(Step::Text("答一".into()));
    model.push(Step::Text("**答二**".into())); // stored as answered, sent as plain text
    model.push(Step::Fail(ProviderError::BadKey { detail: "bad".into() })); // apology, no turns
    model.push(Step::Text("答四".into()));
    let sink = RecordingSink::new();
    let e = engine(&dir, &sink, vec![bot("b1", &model)]).await;
    exchange(&e, &sink, group("b1", "g0", "g1", "alice", "第一句"), 1).await;
    exchange(&e, &sink, group("b1", "g1", "g1", "bob", "第二句"), 2).await;
    exchange(&e, &sink, group("b1", "g2", "g1", "alice", "第三句"), 3).await;
    exchange(&e, &sink, group("b1", "g3", "g1", "carol", "第四句"), 4).await;
    // Another conversation of the same bot does not leak in.
    exchange(&e, &sink, c2c("b1", "p0", "alice", "私聊"), 5).await;
    e.shutdown().await;
    assert_eq!(sink.texts()[1], "答二");
    assert_eq!(sink.texts()[2], UserTexts::zh_cn().apology);

    let done =
        [("[alice] 第一句", "答一"), ("[bob] 第二句", "**答二**"), ("[carol] 第四句", "答四")];
    let reqs = model.requests();
    assert_eq!(reqs.len(), 5);
    assert_eq!(transcript(&reqs[0]), expected(&[], "[alice] 第一句"));
    assert_eq!(transcript(&reqs[1]), expected(&done[..1], "[bob] 第二句"));
    assert_eq!(transcript(&reqs[2]), expected(&done[..2], "[alice] 第三句"));
    assert_eq!(transcript(&reqs[3]), expected(&done[..2], "[carol] 第四句"));
    assert_eq!(transcript(&reqs[4]), expected(&[], "私聊"));

    // A fresh engine over the same store (history read from the store) and
    // its next message (history from the worker) see the same thing.
    let model2 = MockModel::new();
    let sink2 = RecordingSink::new();
    let e2 = engine(&dir, &sink2, vec![bot("b1", &model2)]).await;
    exchange(&e2, &sink2, group("b1", "g4", "g1", "bob", "第五句"), 1).await;
    exchange(&e2, &sink2, group("b1", "g5", "g1", "alice", "第六句"), 2).await;
    e2.shutdown().await;
    let reqs2 = model2.requests();
    assert_eq!(transcript(&reqs2[0]), expected(&done, "[bob] 第五句"));
    let mut done2 = done.to_vec();
    done2.push(("[bob] 第五句", "echo: [bob] 第五句"));
    assert_eq!(transcript(&reqs2[1]), expected(&done2, "[alice] 第六句"));
    // …which is what the store holds.
    let stored = e2.store().history("b1", "group:g1", 100).await.unwrap();
    let from_store: Vec<(Role, String)> = stored
        .iter()
        .map(|t| match t.role {
            pincer_agent::store::TurnRole::User => {
                (Role::User, format!("[{}] {}", t.sender.as_deref().unwrap(), t.content))
            }
            pincer_agent::store::TurnRole::Assistant => (Role::Assistant, t.content.clone()),
        })
        .collect();
    assert_eq!(from_store.len(), 10);
    assert_eq!(from_store[..8], transcript(&reqs2[1])[..8]);
}

#[tokio::test]
async fn only_the_newest_history_turns_are_sent_and_a_new_limit_applies_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    let sink = RecordingSink::new();
    let mut b = bot("b1", &model);
    b.history_turns = 4;
    let e = engine(&dir, &sink, vec![b.clone()]).await;
    let texts: Vec<String> = (0..9).map(|i| format!("消息{i}")).collect();
    let answers: Vec<String> = texts.iter().map(|t| format!("echo: {t}")).collect();
    let pairs: Vec<(&str, &str)> =
        texts.iter().zip(&answers).map(|(t, a)| (t.as_str(), a.as_str())).collect();
    for (i, text) in texts[..6].iter().enumerate() {
        exchange(&e, &sink, c2c("b1", &format!("m{i}"), "u1", text), i + 1).await;
    }
    let reqs = model.requests();
    assert_eq!(transcript(&reqs[0]), expected(&[], "消息0"));
    assert_eq!(transcript(&reqs[1]), expected(&pairs[..1], "消息1"));
    assert_eq!(transcript(&reqs[2]), expected(&pairs[..2], "消息2"));
    assert_eq!(transcript(&reqs[3]), expected(&pairs[1..3], "消息3"));
    // After 5 exchanges: only the last 4 turns.
    assert_eq!(transcript(&reqs[5]), expected(&pairs[3..5], "消息5"));

    // A reloaded config with a smaller, then a larger limit.
    b.history_turns = 2;
    e.add_bot(b.clone());
    exchange(&e, &sink, c2c("b1", "m6", "u1", "消息6"), 7).await;
    b.history_turns = 6;
    e.add_bot(b.clone());
    exchange(&e, &sink, c2c("b1", "m7", "u1", "消息7"), 8).await;
    exchange(&e, &sink, c2c("b1", "m8", "u1", "消息8"), 9).await;
    e.shutdown().await;
    let reqs = model.requests();
    assert_eq!(transcript(&reqs[6]), expected(&pairs[5..6], "消息6"));
    assert_eq!(transcript(&reqs[7]), expected(&pairs[4..7], "消息7"));
    assert_eq!(transcript(&reqs[8]), expected(&pairs[5..8], "消息8"));
}

#[tokio::test]
async fn retention_is_seen_by_the_next_message() {
    let dir = tempfile::tempdir().unwrap();
    let model = MockModel::new();
    let sink = RecordingSink::new();
    let e = engine(&dir, &sink, vec![bot("b1", &model)]).await;
    let store = e.store().clone();
    let old = pincer_agent::store::now_secs() - 10 * 86_400;
    for conv in ["c2c:u1", "c2c:u2"] {
        store
            .append_turn_at("b1", conv, pincer_agent::store::TurnRole::User, "旧问题", old)
            .await
            .unwrap();
        store
            .append_turn_at("b1", conv, pincer_agent::store::TurnRole::Assistant, "旧答案", old)
            .await
            .unwrap();
    }
    let old_pair = [("旧问题", "旧答案")];
    exchange(&e, &sink, c2c("b1", "a0", "u1", "一"), 1).await;
    exchange(&e, &sink, c2c("b1", "b0", "u2", "甲"), 2).await;
    exchange(&e, &sink, c2c("b1", "a1", "u1", "二"), 3).await;
    let reqs = model.requests();
    assert_eq!(transcript(&reqs[0]), expected(&old_pair, "一"));
    assert_eq!(transcript(&reqs[1]), expected(&old_pair, "甲"));
    assert_eq!(transcript(&reqs[2]), expected(&[old_pair[0], ("一", "echo: 一")], "二"));

    // Old turns go: both conversations (both workers are alive) forget them.
    assert_eq!(e.apply_retention(7).await.unwrap(), 4);
    exchange(&e, &sink, c2c("b1", "a2", "u1", "三"), 4).await;
    exchange(&e, &sink, c2c("b1", "b1", "u2", "乙"), 5).await;
    let reqs = model.requests();
    assert_eq!(transcript(&reqs[3]), expected(&[("一", "echo: 一"), ("二", "echo: 二")], "三"));
    assert_eq!(transcript(&reqs[4]), expected(&[("甲", "echo: 甲")], "乙"));

    // Everything goes (retention of 0 days once the clock has moved past
    // the last commit): the next message carries no history at all.
    let last_commit = pincer_agent::store::now_secs();
    assert!(wait_until(WAIT, || pincer_agent::store::now_secs() > last_commit).await);
    assert_eq!(e.apply_retention(0).await.unwrap(), 10);
    exchange(&e, &sink, c2c("b1", "a3", "u1", "四"), 6).await;
    exchange(&e, &sink, c2c("b1", "a4", "u1", "五"), 7).await;
    e.shutdown().await;
    let reqs = model.requests();
    assert_eq!(transcript(&reqs[5]), expected(&[], "四"));
    assert_eq!(transcript(&reqs[6]), expected(&[("四", "echo: 四")], "五"));
}

#[tokio::test]
async fn after_a_restart_a_new_message_is_answered_after_those_left_waiting() {
    let dir = tempfile::tempdir().unwrap();
    {
        // An earlier process took three messages from u1 and answered none.
        let model = MockModel::new();
        *model.delay.lock().unwrap() = Some(Duration::from_secs(30));
        let sink = RecordingSink::new();
        let e = engine(&dir, &sink, vec![bot("b1", &model)]).await;
        for i in 0..3 {
            e.submit(c2c("b1", &format!("old{i}"), "u1", &format!("旧{i}"))).await.unwrap();
        }
        assert!(wait_until(WAIT, || model.calls() == 1).await);
        e.cancel().await;
    }
    let model = MockModel::new();
    *model.delay.lock().unwrap() = Some(Duration::from_millis(100));
    let sink = RecordingSink::new();
    let e = engine(&dir, &sink, vec![bot("b1", &model)]).await;
    assert_eq!(e.submit(c2c("b1", "new", "u1", "新")).await.unwrap(), Submitted::Queued);
    assert!(wait_until(WAIT, || sink.count() == 4).await, "{:?}", sink.texts());
    e.shutdown().await;
    assert_eq!(sink.texts(), ["echo: 旧0", "echo: 旧1", "echo: 旧2", "echo: 新"]);
    assert_eq!(model.calls(), 4);
}

#[tokio::test]
async fn a_message_left_by_a_crash_is_answered_once_however_often_it_is_resumed() {
    let dir = tempfile::tempdir().unwrap();
    crash_while_answering(&dir).await;

    let model2 = MockModel::new();
    *model2.delay.lock().unwrap() = Some(Duration::from_millis(300));
    let sink2 = RecordingSink::new();
    let e2 = engine(&dir, &sink2, vec![bot("b1", &model2)]).await; // reads m1 back
    assert!(wait_until(WAIT, || model2.calls() == 1).await);
    // While m1 is being answered: resumed again, and the platform sends it
    // again (its event replayed), and a new message comes.
    e2.resume_bot("b1").await.unwrap();
    assert_eq!(e2.submit(c2c("b1", "m1", "u1", "慢问题")).await.unwrap(), Submitted::Duplicate);
    *model2.delay.lock().unwrap() = None;
    exchange(&e2, &sink2, c2c("b1", "m2", "u1", "再问"), 2).await;
    e2.shutdown().await;
    assert_eq!(sink2.texts(), ["echo: 慢问题", "echo: 再问"]);
    let reqs = model2.requests();
    assert_eq!(reqs.len(), 2, "the model was asked about m1 again");
    assert_eq!(transcript(&reqs[1]), expected(&[("慢问题", "echo: 慢问题")], "再问"));
}
