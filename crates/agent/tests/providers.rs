//! End-to-end tests of the model providers over loopback HTTP against
//! `pincer_sim::provider::ProviderSim`. Real time, small delays.

use std::sync::Arc;
use std::time::Duration;

use pincer_agent::provider::anthropic::AnthropicProvider;
use pincer_agent::provider::check::{list_models, test_config, test_connection, CHECK_MAX_TOKENS};
use pincer_agent::provider::detect::{
    detect_lm_studio, detect_local, detect_ollama, DetectTargets, LocalKind,
};
use pincer_agent::provider::openai::OpenAiProvider;
use pincer_agent::provider::presets::{ProviderConfig, ProviderKind};
use pincer_agent::provider::resilient::{Resilient, RetryPolicy};
use pincer_agent::provider::{
    ApiKey, ChatMessage, ChatProvider, ChatRequest, ChatResponse, FinishReason, ProviderError,
    ToolSpec, Usage,
};
use pincer_sim::provider::{Fault, ProviderSim, ScriptedReply};
use serde_json::{json, Value};

const KEY: &str = "sk-test-abcdef0123456789";

async fn sim() -> ProviderSim {
    ProviderSim::start().await.expect("provider simulator starts")
}

fn openai(sim: &ProviderSim) -> OpenAiProvider {
    OpenAiProvider::new(format!("{}/v1", sim.base_url()), Some(ApiKey::new(KEY)))
}

fn anthropic(sim: &ProviderSim) -> AnthropicProvider {
    AnthropicProvider::new(sim.base_url(), Some(ApiKey::new(KEY)))
}

fn request(text: &str) -> ChatRequest {
    ChatRequest {
        model: "sim-chat".into(),
        system: Some("你是钳子".into()),
        messages: vec![ChatMessage::user(text)],
        ..Default::default()
    }
}

/// Runs one turn, collecting the deltas.
async fn chat(
    p: &dyn ChatProvider,
    req: &ChatRequest,
) -> (Result<ChatResponse, ProviderError>, Vec<String>) {
    let mut deltas = Vec::new();
    let r = p.chat(req, &mut |t: &str| deltas.push(t.to_owned())).await;
    (r, deltas)
}

fn chat_requests(sim: &ProviderSim, path: &str) -> Vec<pincer_sim::provider::RecordedRequest> {
    sim.requests().into_iter().filter(|r| r.path == path).collect()
}

fn fast_policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        timeout: Duration::from_secs(5),
        max_retry_after: Duration::from_secs(5),
    }
}

fn weather_tool() -> ToolSpec {
    ToolSpec {
        name: "get_weather".into(),
        description: "天气".into(),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
    }
}

#[tokio::test]
async fn openai_streams_text_in_deltas_with_usage() {
    let sim = sim().await;
    sim.set_api_key(Some(KEY));
    let (r, deltas) = chat(&openai(&sim), &request("今天天气怎么样？")).await;
    let r = r.unwrap();
    assert_eq!(r.content, "echo: 今天天气怎么样？");
    assert!(deltas.len() >= 3, "several deltas, got {deltas:?}");
    assert_eq!(deltas.concat(), r.content);
    // input = ceil((4 system + 8 user chars) / 2), output = ceil(14 / 2)
    assert_eq!(r.usage, Usage { input_tokens: 6, output_tokens: 7 });
    assert_eq!(r.finish_reason, FinishReason::Stop);
    let reqs = chat_requests(&sim, "/v1/chat/completions");
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].streamed);
    assert_eq!(reqs[0].body["stream_options"]["include_usage"], true);
    assert_eq!(reqs[0].body["messages"][0], json!({"role": "system", "content": "你是钳子"}));
}

#[tokio::test]
async fn anthropic_streams_text_in_deltas_with_usage() {
    let sim = sim().await;
    sim.set_api_key(Some(KEY));
    sim.push_reply(ScriptedReply::Usage {
        text: "你好，我是钳子，很高兴认识你".into(),
        input_tokens: 123,
        output_tokens: 45,
    });
    let (r, deltas) = chat(&anthropic(&sim), &request("你好")).await;
    let r = r.unwrap();
    assert_eq!(r.content, "你好，我是钳子，很高兴认识你");
    assert!(deltas.len() >= 3, "several deltas, got {deltas:?}");
    assert_eq!(deltas.concat(), r.content);
    assert_eq!(r.usage, Usage { input_tokens: 123, output_tokens: 45 });
    assert_eq!(r.finish_reason, FinishReason::Stop);
    let reqs = chat_requests(&sim, "/v1/messages");
    assert_eq!(reqs[0].body["system"], "你是钳子");
    assert_eq!(reqs[0].body["messages"][0]["content"][0], json!({"type": "text", "text": "你好"}));
    // Default usage on the second turn: ceil((4 + 2) / 2) in, ceil(8 / 2) out for "echo: 你好".
    let (r, _) = chat(&anthropic(&sim), &request("你好")).await;
    assert_eq!(r.unwrap().usage, Usage { input_tokens: 3, output_tokens: 4 });
}

/// Tool calls in, tool results out, final answer: OpenAI shape.
#[tokio::test]
async fn openai_tool_calls_assemble_and_round_trip() {
    let sim = sim().await;
    let args = json!({"city": "北京", "days": 3, "units": "metric"});
    sim.push_reply(ScriptedReply::ToolCalls(vec![
        ("get_weather".into(), args.clone()),
        ("get_time".into(), json!({})),
    ]));
    sim.push_reply(ScriptedReply::Text("北京晴，25 度。".into()));
    let p = openai(&sim);
    let mut req = request("北京天气？");
    req.tools = vec![weather_tool()];
    let (r, deltas) = chat(&p, &req).await;
    let r = r.unwrap();
    assert!(deltas.is_empty());
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(r.tool_calls.len(), 2);
    assert_eq!(r.tool_calls[0].name, "get_weather");
    assert_eq!(
        r.tool_calls[0].arguments, args,
        "arguments split across deltas are concatenated then parsed"
    );
    assert_eq!(r.tool_calls[1].arguments, json!({}));
    assert_ne!(r.tool_calls[0].id, r.tool_calls[1].id);
    assert!(r.usage.output_tokens > 0);

    let mut assistant = ChatMessage::assistant("");
    assistant.tool_calls = r.tool_calls.clone();
    req.messages.push(assistant);
    req.messages.push(ChatMessage::tool_result(&r.tool_calls[0].id, "晴 25°C"));
    req.messages.push(ChatMessage::tool_result(&r.tool_calls[1].id, "12:00"));
    let (r2, _) = chat(&p, &req).await;
    assert_eq!(r2.unwrap().content, "北京晴，25 度。");
    let sent = &chat_requests(&sim, "/v1/chat/completions")[1].body;
    let msgs = sent["messages"].as_array().unwrap();
    assert_eq!(msgs[2]["tool_calls"][0]["id"], r.tool_calls[0].id.as_str());
    let echoed: Value =
        serde_json::from_str(msgs[2]["tool_calls"][0]["function"]["arguments"].as_str().unwrap())
            .unwrap();
    assert_eq!(echoed, args);
    assert_eq!(
        msgs[3],
        json!({"role": "tool", "tool_call_id": r.tool_calls[0].id, "content": "晴 25°C"})
    );
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
}

/// Tool calls in, tool results out, final answer: Anthropic shape.
#[tokio::test]
async fn anthropic_tool_calls_assemble_and_round_trip() {
    let sim = sim().await;
    let args = json!({"city": "上海", "when": ["today", "tomorrow"]});
    sim.push_reply(ScriptedReply::ToolCalls(vec![("get_weather".into(), args.clone())]));
    sim.push_reply(ScriptedReply::Text("上海多云。".into()));
    let p = anthropic(&sim);
    let mut req = request("上海天气？");
    req.tools = vec![weather_tool()];
    let (r, _) = chat(&p, &req).await;
    let r = r.unwrap();
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(r.tool_calls.len(), 1);
    assert_eq!(r.tool_calls[0].name, "get_weather");
    assert_eq!(r.tool_calls[0].arguments, args);
    assert!(r.tool_calls[0].id.starts_with("toolu_"));

    let mut assistant = ChatMessage::assistant("");
    assistant.tool_calls = r.tool_calls.clone();
    req.messages.push(assistant);
    req.messages.push(ChatMessage::tool_result(&r.tool_calls[0].id, "多云 20°C"));
    let (r2, deltas) = chat(&p, &req).await;
    assert_eq!(r2.unwrap().content, "上海多云。");
    assert_eq!(deltas.concat(), "上海多云。");
    let sent = &chat_requests(&sim, "/v1/messages")[1].body;
    let msgs = sent["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3);
    assert_eq!(
        msgs[1]["content"][0],
        json!({"type": "tool_use", "id": r.tool_calls[0].id, "name": "get_weather", "input": args})
    );
    assert_eq!(msgs[2]["role"], "user");
    assert_eq!(
        msgs[2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": r.tool_calls[0].id, "content": "多云 20°C"})
    );
    assert_eq!(sent["tools"][0]["input_schema"]["type"], "object");
}

#[tokio::test]
async fn non_streaming_both_shapes() {
    let sim = sim().await;
    sim.push_reply(ScriptedReply::Text("一次性回答".into()));
    sim.push_reply(ScriptedReply::ToolCalls(vec![("get_weather".into(), json!({"city": "广州"}))]));
    sim.push_reply(ScriptedReply::Usage {
        text: "整段".into(), input_tokens: 9, output_tokens: 2
    });
    let o = openai(&sim).with_streaming(false);
    let (r, deltas) = chat(&o, &request("hi")).await;
    let r = r.unwrap();
    assert_eq!(r.content, "一次性回答");
    assert_eq!(deltas, vec!["一次性回答".to_owned()], "the whole text arrives as one delta");
    let (r, _) = chat(&o, &request("hi")).await;
    let r = r.unwrap();
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(r.tool_calls[0].arguments, json!({"city": "广州"}));
    let a = anthropic(&sim).with_streaming(false);
    let (r, _) = chat(&a, &request("hi")).await;
    let r = r.unwrap();
    assert_eq!(
        (r.content.as_str(), r.usage),
        ("整段", Usage { input_tokens: 9, output_tokens: 2 })
    );
    assert!(sim.requests().iter().all(|r| !r.streamed));
}

#[tokio::test]
async fn bad_key_is_bad_key_and_never_printed() {
    let sim = sim().await;
    sim.set_api_key(Some("sk-the-right-one-999"));
    for p in [
        Arc::new(openai(&sim)) as Arc<dyn ChatProvider>,
        Arc::new(anthropic(&sim)),
        Arc::new(Resilient::new(Arc::new(openai(&sim)), fast_policy(3))),
    ] {
        let err = chat(p.as_ref(), &request("hi")).await.0.unwrap_err();
        assert!(matches!(err, ProviderError::BadKey { .. }), "{err:?}");
        assert!(!err.is_retryable());
        assert!(err.explain_zh().contains("API Key"), "{}", err.explain_zh());
        let shown = format!("{err} | {err:?} | {} | {p:?}", err.explain_zh());
        assert!(!shown.contains(KEY), "the key leaked: {shown}");
        assert!(shown.contains("***") || shown.contains("Incorrect"), "{shown}");
    }
    // The sim echoed the key in its 401 body; the error carries it redacted.
    let err = chat(&openai(&sim), &request("hi")).await.0.unwrap_err();
    assert!(err.to_string().contains("Incorrect API key provided: ***"), "{err}");
    assert_eq!(chat_requests(&sim, "/v1/chat/completions").len(), 3, "BadKey is not retried");
    // The right key works.
    let ok = OpenAiProvider::new(
        format!("{}/v1", sim.base_url()),
        Some(ApiKey::new("sk-the-right-one-999")),
    );
    assert!(chat(&ok, &request("hi")).await.0.is_ok());
}

#[tokio::test]
async fn insufficient_balance_is_no_balance() {
    let sim = sim().await;
    sim.fail_next(2, Fault::InsufficientBalance);
    let e1 = chat(&openai(&sim), &request("hi")).await.0.unwrap_err();
    let e2 = chat(&anthropic(&sim), &request("hi")).await.0.unwrap_err();
    for e in [e1, e2] {
        assert!(matches!(e, ProviderError::NoBalance { .. }), "{e:?}");
        assert!(e.explain_zh().contains("余额不足"));
    }
    // OpenAI's own shape: 429 insufficient_quota.
    sim.fail_next(
        1,
        Fault::Status {
            status: 429,
            retry_after_secs: None,
            body: Some(json!({"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}})),
        },
    );
    let e = chat(&Resilient::new(Arc::new(openai(&sim)), fast_policy(3)), &request("hi"))
        .await
        .0
        .unwrap_err();
    assert!(matches!(e, ProviderError::NoBalance { .. }), "{e:?}");
}

#[tokio::test]
async fn unknown_model_is_unknown_model() {
    let sim = sim().await;
    sim.set_models(vec!["deepseek-chat".into()]);
    let mut req = request("hi");
    req.model = "deepseek-chatt".into();
    for p in [Arc::new(openai(&sim)) as Arc<dyn ChatProvider>, Arc::new(anthropic(&sim))] {
        let e = chat(p.as_ref(), &req).await.0.unwrap_err();
        assert!(
            matches!(&e, ProviderError::UnknownModel { model } if model == "deepseek-chatt"),
            "{e:?}"
        );
        assert!(e.explain_zh().contains("deepseek-chatt"));
    }
    req.model = "deepseek-chat".into();
    assert!(chat(&openai(&sim), &req).await.0.is_ok());
    sim.fail_next(1, Fault::UnknownModel);
    assert!(matches!(chat(&openai(&sim), &req).await.0, Err(ProviderError::UnknownModel { .. })));
}

#[tokio::test]
async fn rate_limit_waits_retry_after_then_succeeds() {
    let sim = sim().await;
    sim.fail_next(1, Fault::Status { status: 429, retry_after_secs: Some(1), body: None });
    let raw = chat(&openai(&sim), &request("hi")).await.0.unwrap_err();
    assert!(
        matches!(raw, ProviderError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(1)),
        "{raw:?}"
    );

    sim.fail_next(1, Fault::Status { status: 429, retry_after_secs: Some(1), body: None });
    let p = Resilient::new(Arc::new(anthropic(&sim)), fast_policy(3));
    let (r, deltas) = chat(&p, &request("重试")).await;
    assert_eq!(r.unwrap().content, "echo: 重试");
    assert_eq!(deltas.concat(), "echo: 重试");
    let reqs = chat_requests(&sim, "/v1/messages");
    assert_eq!(reqs.len(), 2, "one refused, one answered");
    let waited = reqs[1].at - reqs[0].at;
    assert!(waited >= Duration::from_secs(1), "waited only {waited:?}");
    assert!(waited < Duration::from_millis(1500), "waited {waited:?}");
}

#[tokio::test]
async fn server_error_storm_beyond_max_attempts_is_server() {
    let sim = sim().await;
    sim.fail_next(10, Fault::Status { status: 500, retry_after_secs: None, body: None });
    let p = Resilient::new(Arc::new(openai(&sim)), fast_policy(3));
    let e = chat(&p, &request("hi")).await.0.unwrap_err();
    assert!(matches!(e, ProviderError::Server { status: 500 }), "{e:?}");
    assert!(e.explain_zh().contains("HTTP 500"));
    assert_eq!(chat_requests(&sim, "/v1/chat/completions").len(), 3);
}

#[tokio::test]
async fn slow_provider_times_out() {
    let sim = sim().await;
    sim.fail_next(2, Fault::Slow(Duration::from_secs(2)));
    let policy =
        RetryPolicy { max_attempts: 1, timeout: Duration::from_millis(300), ..fast_policy(1) };
    let started = tokio::time::Instant::now();
    let e =
        chat(&Resilient::new(Arc::new(openai(&sim)), policy), &request("hi")).await.0.unwrap_err();
    assert!(matches!(e, ProviderError::Timeout(d) if d == Duration::from_millis(300)), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    // The provider's own idle limit gives the same kind.
    let e = chat(&anthropic(&sim).with_idle_timeout(Duration::from_millis(300)), &request("hi"))
        .await
        .0
        .unwrap_err();
    assert!(matches!(e, ProviderError::Timeout(_)), "{e:?}");
    assert!(e.is_retryable());
}

#[tokio::test]
async fn broken_stream_is_broken_and_retried_when_nothing_streamed() {
    let sim = sim().await;
    sim.fail_next(3, Fault::BrokenStream);
    let e = chat(&openai(&sim), &request("hi")).await.0.unwrap_err();
    assert!(matches!(e, ProviderError::BrokenStream(_)), "{e:?}");
    let e = chat(&anthropic(&sim), &request("hi")).await.0.unwrap_err();
    assert!(matches!(e, ProviderError::BrokenStream(_)), "{e:?}");
    let e = chat(&openai(&sim).with_streaming(false), &request("hi")).await.0.unwrap_err();
    assert!(matches!(e, ProviderError::BrokenStream(_)), "non-streamed too: {e:?}");

    sim.fail_next(1, Fault::BrokenStream);
    let before = chat_requests(&sim, "/v1/chat/completions").len();
    let (r, deltas) =
        chat(&Resilient::new(Arc::new(openai(&sim)), fast_policy(3)), &request("再来")).await;
    assert_eq!(r.unwrap().content, "echo: 再来");
    assert_eq!(deltas.concat(), "echo: 再来", "no text from the broken attempt");
    assert_eq!(chat_requests(&sim, "/v1/chat/completions").len() - before, 2);
}

#[tokio::test]
async fn unreachable_port_is_unreachable_without_key() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let base = format!("http://127.0.0.1:{port}/v1");
    let p = OpenAiProvider::new(&base, Some(ApiKey::new(KEY)));
    let e = chat(&p, &request("hi")).await.0.unwrap_err();
    match &e {
        ProviderError::Unreachable { url, .. } => assert_eq!(url, &base),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(e.is_retryable());
    assert!(e.explain_zh().contains("无法连接"));
    let shown = format!("{e} {e:?} {} {p:?}", e.explain_zh());
    assert!(!shown.contains(KEY), "{shown}");
    // A key smuggled into the URL's query is not shown either.
    let p = AnthropicProvider::new(format!("http://127.0.0.1:{port}?key={KEY}"), None);
    let e = chat(&p, &request("hi")).await.0.unwrap_err();
    assert!(matches!(e, ProviderError::Unreachable { .. }));
    assert!(!format!("{e} {e:?}").contains(KEY));
}

#[tokio::test]
async fn detection_finds_the_sim_and_nothing_elsewhere() {
    let sim = sim().await;
    sim.set_models(vec!["qwen2.5:7b".into(), "llama3.2:3b".into()]);
    let timeout = Duration::from_millis(500);
    let o = detect_ollama(&sim.base_url(), timeout).await.expect("Ollama found");
    assert_eq!(o.kind, LocalKind::Ollama);
    assert_eq!(o.models, vec!["qwen2.5:7b", "llama3.2:3b"]);
    assert_eq!(o.base_url, format!("{}/v1", sim.base_url()));
    let l = detect_lm_studio(&sim.base_url(), timeout).await.expect("LM Studio found");
    assert_eq!(l.kind, LocalKind::LmStudio);
    assert_eq!(l.models, o.models);

    let both =
        detect_local(&DetectTargets { ollama: sim.base_url(), lm_studio: sim.base_url(), timeout })
            .await;
    assert_eq!(
        both.iter().map(|s| s.kind).collect::<Vec<_>>(),
        vec![LocalKind::Ollama, LocalKind::LmStudio]
    );

    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let started = std::time::Instant::now();
    let none = detect_local(&DetectTargets {
        ollama: dead_url.clone(),
        lm_studio: dead_url,
        timeout: Duration::from_millis(300),
    })
    .await;
    assert!(none.is_empty());
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());

    // A port that accepts but never answers: bounded by the timeout.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let started = std::time::Instant::now();
    assert!(detect_ollama(&silent_url, Duration::from_millis(200)).await.is_none());
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn test_connection_ok_and_failure() {
    let sim = sim().await;
    sim.set_api_key(Some(KEY));
    let cfg = ProviderConfig::custom(
        format!("{}/v1", sim.base_url()),
        "sim-chat",
        Some(ApiKey::new(KEY)),
    );
    let ok = test_config(&cfg).await.unwrap();
    assert_eq!(ok.model, "sim-chat");
    assert!(ok.usage.input_tokens > 0 && ok.usage.output_tokens > 0);
    assert!(ok.latency < Duration::from_secs(5));
    assert_eq!(ok.reply, "echo: Hi");
    let sent = &chat_requests(&sim, "/v1/chat/completions")[0].body;
    assert_eq!(sent["max_tokens"], CHECK_MAX_TOKENS);
    assert_eq!(sent["messages"].as_array().unwrap().len(), 1);

    let mut anth = cfg.clone();
    anth.kind = ProviderKind::Anthropic;
    anth.base_url = sim.base_url();
    assert!(test_config(&anth).await.is_ok());

    let bad = ProviderConfig::custom(
        format!("{}/v1", sim.base_url()),
        "sim-chat",
        Some(ApiKey::new("sk-wrong-7777")),
    );
    let failed = test_connection(bad.build().as_ref(), &bad.model).await.unwrap_err();
    assert!(matches!(failed.error, ProviderError::BadKey { .. }));
    assert!(failed.message_zh().contains("API Key"), "{}", failed.message_zh());
    assert!(failed.message_en().contains("API key"), "{}", failed.message_en());
    assert!(!format!("{failed} {failed:?} {}", failed.message_zh()).contains("sk-wrong-7777"));

    sim.fail_next(1, Fault::InsufficientBalance);
    let failed = test_config(&cfg).await.unwrap_err();
    assert!(matches!(failed.error, ProviderError::NoBalance { .. }));
}

#[tokio::test]
async fn list_models_reads_the_model_list() {
    let sim = sim().await;
    sim.set_api_key(Some(KEY));
    sim.set_models(vec!["a-model".into(), "b-model".into()]);
    let cfg =
        ProviderConfig::custom(format!("{}/v1", sim.base_url()), "a-model", Some(ApiKey::new(KEY)));
    assert_eq!(list_models(&cfg).await.unwrap(), vec!["a-model", "b-model"]);
    let mut anth = cfg.clone();
    anth.kind = ProviderKind::Anthropic;
    anth.base_url = sim.base_url();
    assert_eq!(list_models(&anth).await.unwrap(), vec!["a-model", "b-model"]);
    let bad = ProviderConfig::custom(
        format!("{}/v1", sim.base_url()),
        "a-model",
        Some(ApiKey::new("sk-nope-0000")),
    );
    assert!(matches!(list_models(&bad).await, Err(ProviderError::BadKey { .. })));
}

#[tokio::test]
async fn api_key_never_in_debug_of_configs_and_providers() {
    let key = ApiKey::new(KEY);
    let cfg = ProviderConfig::custom("http://127.0.0.1:9/v1", "m", Some(key.clone()));
    let shown = format!(
        "{key} {key:?} {cfg:?} {:?} {:?} {:?}",
        cfg.build(),
        AnthropicProvider::new("http://x", Some(key.clone())),
        Resilient::new(cfg.build(), RetryPolicy::default())
    );
    assert!(!shown.contains(KEY), "{shown}");
    assert!(shown.contains("***"));
}
