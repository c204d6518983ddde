//! The engine end to end with the real OpenAI-compatible provider talking to
//! the provider simulator over loopback HTTP, and a real SQLite file.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{c2c, RecordingSink};
use pincer_agent::provider::openai::OpenAiProvider;
use pincer_agent::store::ReplyState;
use pincer_agent::tools::read::ReadTool;
use pincer_agent::tools::ToolRegistry;
use pincer_agent::{
    BotConfig, Engine, EngineConfig, ModelConfig, RateLimit, Store, Submitted, UserTexts,
};
use pincer_sim::provider::{Fault, ProviderSim, ScriptedReply};
use serde_json::{json, Value};

fn provider(sim: &ProviderSim) -> Arc<OpenAiProvider> {
    Arc::new(OpenAiProvider::new(format!("{}/v1", sim.base_url()), None))
}

fn bot(id: &str, sim: &ProviderSim) -> BotConfig {
    BotConfig::new(id, provider(sim), ModelConfig::new("sim", "sim-chat"))
}

async fn engine(
    dir: &tempfile::TempDir,
    sink: &Arc<RecordingSink>,
    bots: Vec<BotConfig>,
) -> Engine {
    let store = Store::open(dir.path().join("agent.db")).await.unwrap();
    let config = EngineConfig {
        retry_base_delay: Duration::from_millis(5),
        provider_retries: 0,
        ..EngineConfig::default()
    };
    let engine = Engine::new(store, sink.clone(), config);
    for b in bots {
        engine.add_bot(b);
    }
    engine.start().await.unwrap();
    engine
}

/// Chat-completion request bodies the simulator received.
fn chat_bodies(sim: &ProviderSim) -> Vec<Value> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .map(|r| r.body)
        .collect()
}

#[tokio::test]
async fn a_duplicated_event_costs_one_model_call_and_gets_one_reply() {
    let sim = ProviderSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let e = engine(&dir, &sink, vec![bot("b1", &sim)]).await;
    let msg = c2c("b1", "m1", "u1", "今天天气怎么样");
    assert_eq!(e.submit(msg.clone()).await.unwrap(), Submitted::Queued);
    assert_eq!(e.submit(msg).await.unwrap(), Submitted::Duplicate);
    e.shutdown().await;
    assert_eq!(chat_bodies(&sim).len(), 1);
    assert_eq!(sink.texts(), vec!["echo: 今天天气怎么样".to_string()]);
    let usage = e.store().usage(Some("b1"), "0000", "9999").await.unwrap();
    assert_eq!(usage[0].calls, 1);
    assert!(usage[0].input_tokens > 0 && usage[0].output_tokens > 0, "{usage:?}");
}

#[tokio::test]
async fn a_crash_before_the_send_is_resumed_exactly_once() {
    let sim = ProviderSim::start().await.unwrap();
    sim.push_reply(ScriptedReply::Text("这是答案".into()));
    let dir = tempfile::tempdir().unwrap();
    let stuck = RecordingSink::hanging();
    let e = engine(&dir, &stuck, vec![bot("b1", &sim)]).await;
    let msg = c2c("b1", "m1", "u1", "问一下");
    e.submit(msg.clone()).await.unwrap();
    let store = e.store().clone();
    let mut stored = false;
    for _ in 0..500 {
        if !store.pending_replies(None).await.unwrap().is_empty() {
            stored = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(stored);
    e.cancel().await;
    drop((e, store));

    let sink = RecordingSink::new();
    let e2 = engine(&dir, &sink, vec![bot("b1", &sim)]).await;
    assert_eq!(e2.submit(msg).await.unwrap(), Submitted::Duplicate);
    e2.shutdown().await;
    assert_eq!(sink.texts(), vec!["这是答案".to_string()]);
    assert_eq!(chat_bodies(&sim).len(), 1);
    assert_eq!(e2.store().replies_to("b1", "m1").await.unwrap()[0].state, ReplyState::Sent);
}

#[tokio::test]
async fn two_bots_on_one_provider_never_see_each_others_history() {
    let sim = ProviderSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let mut b2 = bot("b2", &sim);
    b2.model.model = "sim-reasoner".into();
    let e = engine(&dir, &sink, vec![bot("b1", &sim), b2]).await;
    e.submit(c2c("b1", "a1", "u1", "苹果")).await.unwrap();
    e.submit(c2c("b2", "b1", "u1", "香蕉")).await.unwrap();
    e.submit(c2c("b1", "a2", "u1", "葡萄")).await.unwrap();
    e.submit(c2c("b2", "b2", "u1", "西瓜")).await.unwrap();
    e.shutdown().await;
    let bodies = chat_bodies(&sim);
    assert_eq!(bodies.len(), 4);
    for body in bodies {
        let text = body["messages"].to_string();
        match body["model"].as_str().unwrap() {
            "sim-chat" => assert!(!text.contains("香蕉") && !text.contains("西瓜"), "{text}"),
            "sim-reasoner" => assert!(!text.contains("苹果") && !text.contains("葡萄"), "{text}"),
            other => panic!("unexpected model {other}"),
        }
    }
}

#[tokio::test]
async fn the_daily_cap_stops_calls_to_the_provider() {
    let sim = ProviderSim::start().await.unwrap();
    for _ in 0..3 {
        sim.push_reply(ScriptedReply::Usage {
            text: "好".into(),
            input_tokens: 600,
            output_tokens: 100,
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let mut b = bot("b1", &sim);
    b.daily_token_cap = Some(1000);
    let e = engine(&dir, &sink, vec![b]).await;
    for i in 0..4 {
        e.submit(c2c("b1", &format!("m{i}"), "u1", "再来")).await.unwrap();
    }
    e.shutdown().await;
    assert_eq!(chat_bodies(&sim).len(), 2, "700 < 1000, 1400 ≥ 1000");
    let cap = UserTexts::zh_cn().daily_cap;
    assert_eq!(sink.texts(), vec!["好".to_string(), "好".to_string(), cap]);
    assert!(e.status("b1").unwrap().cap_reached);
}

#[tokio::test]
async fn the_rate_limit_refuses_without_calling_the_provider() {
    let sim = ProviderSim::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let mut b = bot("b1", &sim);
    b.rate_limit = Some(RateLimit { max_messages: 1, per: Duration::from_secs(60) });
    let e = engine(&dir, &sink, vec![b]).await;
    for i in 0..5 {
        e.submit(c2c("b1", &format!("m{i}"), "u1", "快")).await.unwrap();
    }
    e.shutdown().await;
    assert_eq!(chat_bodies(&sim).len(), 1);
    assert_eq!(sink.texts(), vec!["echo: 快".to_string(), UserTexts::zh_cn().rate_limited]);
}

#[tokio::test]
async fn a_provider_error_becomes_an_apology_and_a_status() {
    let sim = ProviderSim::start().await.unwrap();
    sim.fail_next(1, Fault::Status { status: 500, retry_after_secs: None, body: None });
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let e = engine(&dir, &sink, vec![bot("b1", &sim)]).await;
    e.submit(c2c("b1", "m1", "u1", "在吗")).await.unwrap();
    e.submit(c2c("b1", "m2", "u1", "现在呢")).await.unwrap();
    e.shutdown().await;
    assert_eq!(sink.texts(), vec![UserTexts::zh_cn().apology, "echo: 现在呢".to_string()]);
    let status = e.status("b1").unwrap();
    assert!(status.last_error_zh.unwrap().contains("500"));
}

#[tokio::test]
async fn the_tool_loop_reads_a_workspace_file_through_the_real_provider() {
    let sim = ProviderSim::start().await.unwrap();
    sim.push_reply(ScriptedReply::ToolCalls(vec![("read".into(), json!({"path": "notes.txt"}))]));
    sim.push_reply(ScriptedReply::Text("## 安排\n明天**三点**开会".into()));
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("notes.txt"), "周五三点开会").unwrap();
    let sink = RecordingSink::new();
    let mut b = bot("b1", &sim);
    let mut tools = ToolRegistry::new();
    tools.register(Arc::new(ReadTool::default()));
    b.tools = tools;
    b.workspace = ws;
    let e = engine(&dir, &sink, vec![b]).await;
    e.submit(c2c("b1", "m1", "u1", "我有什么安排")).await.unwrap();
    e.shutdown().await;
    assert_eq!(sink.texts(), vec!["安排\n明天三点开会".to_string()]);
    let bodies = chat_bodies(&sim);
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["tools"][0]["function"]["name"], "read");
    let second = bodies[1]["messages"].to_string();
    assert!(second.contains("周五三点开会"), "the tool result went back: {second}");
    let history = e.store().history("b1", "c2c:u1", 10).await.unwrap();
    assert_eq!(history.len(), 2, "only the question and the final answer are history");
}

#[tokio::test]
async fn answers_reach_the_qq_simulator_through_the_replier() {
    use pincer_agent::qq_sink::QqReplySink;
    use pincer_qq::http::RestClient;
    use pincer_qq::model::Intents;
    use pincer_qq::outbound::Replier;
    use pincer_qq::reply::{ReplyLedger, ReplyPolicy};
    use pincer_qq::token::{Credentials, Secret, TokenManager};
    use pincer_sim::qq::{QqSim, QqSimConfig, SimApp};

    let qq = QqSim::start(QqSimConfig::default()).await.unwrap();
    qq.add_app(SimApp {
        app_id: "1001".into(),
        secret: "secret".into(),
        granted_intents: Intents::GROUP_AND_C2C_EVENT,
        markdown: false,
    });
    let http = reqwest::Client::new();
    let tokens = Arc::new(TokenManager::new(
        http.clone(),
        qq.token_url(),
        Credentials { app_id: "1001".into(), secret: Secret::new("secret") },
    ));
    let rest = RestClient::new(http, qq.api_base(), tokens);
    let replier =
        Arc::new(Replier::new(rest, Arc::new(ReplyLedger::in_memory(ReplyPolicy::default()))));
    let sink = Arc::new(QqReplySink::new());
    sink.insert("1001", replier);

    let model = ProviderSim::start().await.unwrap();
    model.push_reply(ScriptedReply::Text("# 你好\n我是**钳子**。".into()));
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("agent.db")).await.unwrap();
    let e = Engine::new(store, sink, EngineConfig::default());
    e.add_bot(bot("1001", &model));
    e.start().await.unwrap();
    let injected = qq.inject_c2c_message("1001", "USER_1", "你是谁");
    let msg_id = injected.msg_id.unwrap();
    e.submit(c2c("1001", &msg_id, "USER_1", "你是谁")).await.unwrap();
    e.shutdown().await;

    let sends = qq.sends();
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!(sends[0].msg_id.as_deref(), Some(msg_id.as_str()));
    assert_eq!(sends[0].target, "USER_1");
    assert_eq!(sends[0].body["content"], "你好\n我是钳子。");
    let recs = e.store().replies_to("1001", &msg_id).await.unwrap();
    assert_eq!(recs[0].state, ReplyState::Sent);
    assert_eq!(recs[0].response_id.as_deref(), Some(sends[0].response_id.as_str()));
}
