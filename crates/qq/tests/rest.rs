//! The REST client, the token manager and the Replier against the QQ
//! simulator over loopback HTTP.

use std::sync::Arc;
use std::time::Duration;

use pincer_qq::http::{ApiError, RestClient, RetryPolicy};
use pincer_qq::model::{FileType, Intents, MediaUpload, MessageBody, MsgType};
use pincer_qq::outbound::{Replier, ReplyError, ReplyTarget};
use pincer_qq::reply::{ReplyLedger, ReplyPolicy, ReplyRefused, Scene};
use pincer_qq::token::{Credentials, Secret, TokenError, TokenManager};
use pincer_sim::qq::{ProactivePolicy, QqSim, QqSimConfig, RecordedRest, SimApp};
use serde_json::json;

const APP: &str = "1024";
const SECRET: &str = "s3cr3t";
const USER: &str = "USER_OPENID";

fn sim_app(markdown: bool) -> SimApp {
    SimApp {
        app_id: APP.into(),
        secret: SECRET.into(),
        granted_intents: Intents::GROUP_AND_C2C_EVENT,
        markdown,
    }
}

async fn start(markdown: bool) -> (QqSim, RestClient) {
    start_with(QqSimConfig::default(), markdown).await
}

async fn start_with(config: QqSimConfig, markdown: bool) -> (QqSim, RestClient) {
    let sim = QqSim::start(config).await.expect("sim starts");
    sim.add_app(sim_app(markdown));
    let http = reqwest::Client::new();
    let tokens = Arc::new(TokenManager::new(
        http.clone(),
        sim.token_url(),
        Credentials { app_id: APP.into(), secret: Secret::new(SECRET) },
    ));
    let rest = RestClient::new(http, sim.api_base(), tokens);
    (sim, rest)
}

fn replier(rest: &RestClient) -> Replier {
    Replier::new(rest.clone(), Arc::new(ReplyLedger::in_memory(ReplyPolicy::default())))
}

fn token_fetches(sim: &QqSim) -> usize {
    sim.rest_log().iter().filter(|r| r.path == "/app/getAppAccessToken").count()
}

fn message_posts(sim: &QqSim) -> Vec<RecordedRest> {
    sim.rest_log()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/messages"))
        .collect()
}

fn non_ws(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[tokio::test]
async fn token_is_fetched_once_reused_and_wrong_secrets_are_typed() {
    let (sim, rest) = start(false).await;
    let a = rest.tokens().token().await.unwrap();
    let b = rest.tokens().token().await.unwrap();
    assert_eq!(a.expose(), b.expose());
    rest.gateway().await.unwrap();
    rest.me().await.unwrap();
    assert_eq!(token_fetches(&sim), 1, "the token is cached across calls");
    assert_eq!(sim.current_token(APP).as_deref(), Some(a.expose()));

    let wrong = TokenManager::new(
        reqwest::Client::new(),
        sim.token_url(),
        Credentials { app_id: APP.into(), secret: Secret::new("wrong") },
    );
    match wrong.token().await {
        Err(TokenError::InvalidCredentials { code, .. }) => assert_eq!(code, 100016),
        other => panic!("expected InvalidCredentials, got {other:?}"),
    }
    // Through the REST client the same failure is an auth error, not retried.
    let rest_wrong = RestClient::new(reqwest::Client::new(), sim.api_base(), Arc::new(wrong));
    let err = rest_wrong.gateway().await.unwrap_err();
    assert!(matches!(err, ApiError::Token(TokenError::InvalidCredentials { .. })), "{err:?}");
    assert!(err.is_auth() && !err.is_retryable());
    assert!(!err.to_string().contains("wrong"), "the secret must not leak: {err}");
}

#[tokio::test]
async fn gateway_discovery_and_bot_user() {
    let (sim, rest) = start(false).await;
    assert_eq!(rest.gateway().await.unwrap().url, sim.gateway_url());
    let bot = rest.gateway_bot().await.unwrap();
    assert_eq!(bot.url, sim.gateway_url());
    assert_eq!(bot.shards, 1);
    assert_eq!(bot.session_start_limit.total, 1000);
    assert_eq!(bot.session_start_limit.remaining, 1000);
    let me = rest.me().await.unwrap();
    assert!(!me.id.is_empty());
    assert!(me.username.contains(APP), "{me:?}");
}

#[tokio::test]
async fn passive_replies_are_delivered_to_c2c_and_group() {
    let (sim, rest) = start(false).await;
    let inj = sim.inject_c2c_message(APP, USER, "hello");
    let msg_id = inj.msg_id.unwrap();
    let sent =
        rest.send_c2c(USER, &MessageBody::text("hi there").reply_to(&msg_id, 1)).await.unwrap();
    let group = sim.inject_group_at_message(APP, "GROUP", "MEMBER", "hi");
    let group_msg = group.msg_id.unwrap();
    let sent_group = rest
        .send_group("GROUP", &MessageBody::text("hello group").reply_to(&group_msg, 1))
        .await
        .unwrap();

    let sends = sim.sends();
    assert_eq!(sends.len(), 2);
    assert_eq!(
        (sends[0].target.as_str(), sends[0].msg_id.as_deref(), sends[0].msg_seq),
        (USER, Some(msg_id.as_str()), 1)
    );
    assert_eq!(sends[0].body["content"], "hi there");
    assert_eq!(sent.id.as_deref(), Some(sends[0].response_id.as_str()));
    assert!(sent.ext_info.and_then(|e| e.ref_idx).is_some_and(|r| r.starts_with("REFIDX_")));
    assert_eq!(
        (sends[1].target.as_str(), sends[1].msg_id.as_deref()),
        ("GROUP", Some(group_msg.as_str()))
    );
    assert_eq!(sent_group.id.as_deref(), Some(sends[1].response_id.as_str()));
    assert!(matches!(sends[1].scene, pincer_sim::qq::Scene::Group { .. }));

    // Without an anchor the send is proactive, which the platform refuses.
    sim.set_proactive(ProactivePolicy::Disabled);
    let err = rest.send_c2c(USER, &MessageBody::text("unsolicited")).await.unwrap_err();
    assert!(err.is_proactive_forbidden(), "{err}");
    assert_eq!(err.code(), Some(40034102));
    assert!(matches!(err, ApiError::Api { status: 400, trace_id: Some(_), .. }), "{err:?}");
    // An unknown msg_id is typed too.
    let err =
        rest.send_group("GROUP", &MessageBody::text("x").reply_to(&msg_id, 9)).await.unwrap_err();
    assert!(err.is_anchor_invalid(), "{err}");
    assert_eq!(sim.sends().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn rate_limit_is_retried_after_retry_after_with_the_same_seq() {
    let (sim, rest) = start(false).await;
    let msg_id = sim.inject_c2c_message(APP, USER, "hello").msg_id.unwrap();
    sim.fail_next_sends(2, 429, Some(1));
    let started = tokio::time::Instant::now();
    rest.send_c2c(USER, &MessageBody::text("after the storm").reply_to(&msg_id, 7)).await.unwrap();
    let elapsed = started.elapsed();

    let posts = message_posts(&sim);
    assert_eq!(posts.iter().map(|p| p.status).collect::<Vec<_>>(), vec![429, 429, 200]);
    assert!(posts.iter().all(|p| p.body["msg_seq"] == 7), "every attempt carries the same msg_seq");
    assert_eq!(sim.sends().len(), 1, "exactly one delivered send");
    assert_eq!(sim.sends()[0].msg_seq, 7);
    // Two waits of Retry-After = 1 s (not the 0.5 s base backoff).
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn server_errors_beyond_max_attempts_fail() {
    let (sim, rest) = start(false).await;
    let rest = rest.with_retry_policy(RetryPolicy { max_attempts: 3, ..RetryPolicy::default() });
    let msg_id = sim.inject_c2c_message(APP, USER, "hello").msg_id.unwrap();
    sim.fail_next_sends(10, 500, None);
    let err = rest.send_c2c(USER, &MessageBody::text("x").reply_to(&msg_id, 1)).await.unwrap_err();
    assert!(matches!(err, ApiError::Api { status: 500, code: Some(2000004), .. }), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(message_posts(&sim).len(), 3, "max_attempts tries in all");
    assert!(sim.sends().is_empty());
    // A 4xx is not retried at all.
    sim.fail_next_sends(0, 500, None);
    let before = message_posts(&sim).len();
    let err = rest.send_c2c(USER, &MessageBody::text("").reply_to(&msg_id, 2)).await.unwrap_err();
    assert_eq!(err.code(), Some(50006));
    assert_eq!(message_posts(&sim).len(), before + 1);
}

#[tokio::test(start_paused = true)]
async fn a_send_that_arrived_despite_a_server_error_is_not_duplicated() {
    let (sim, rest) = start(false).await;
    let msg_id = sim.inject_c2c_message(APP, USER, "hello").msg_id.unwrap();
    // Model "the platform stored it, then answered 500": the seq is already
    // used when the retry comes.
    rest.send_c2c(USER, &MessageBody::text("stored").reply_to(&msg_id, 1)).await.unwrap();
    sim.fail_next_sends(1, 500, None);
    let sent =
        rest.send_c2c(USER, &MessageBody::text("stored").reply_to(&msg_id, 1)).await.unwrap();
    assert_eq!(sent.id, None, "delivered earlier, id unknown");
    let statuses: Vec<u16> = message_posts(&sim).iter().map(|p| p.status).collect();
    assert_eq!(statuses, vec![200, 500, 400]);
    assert_eq!(sim.sends().len(), 1);
    // Without a server error first, a duplicate stays an error.
    let err =
        rest.send_c2c(USER, &MessageBody::text("again").reply_to(&msg_id, 1)).await.unwrap_err();
    assert!(err.is_duplicate_seq());
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_call_succeeds() {
    let (sim, rest) = start(false).await;
    rest.gateway().await.unwrap();
    let old = sim.current_token(APP).unwrap();
    assert_eq!(token_fetches(&sim), 1);
    sim.expire_token(APP);
    let msg_id = sim.inject_c2c_message(APP, USER, "hello").msg_id.unwrap();
    rest.send_c2c(USER, &MessageBody::text("still here").reply_to(&msg_id, 1)).await.unwrap();
    assert_eq!(token_fetches(&sim), 2, "exactly one refresh");
    assert_ne!(sim.current_token(APP).unwrap(), old);
    let statuses: Vec<u16> = message_posts(&sim).iter().map(|p| p.status).collect();
    assert_eq!(statuses, vec![401, 200]);
    assert_eq!(sim.sends().len(), 1);
}

#[tokio::test]
async fn replier_refuses_the_fifth_c2c_reply_before_sending() {
    let (sim, rest) = start(false).await;
    let replier = replier(&rest);
    let msg_id = sim.inject_c2c_message(APP, USER, "hello").msg_id.unwrap();
    let target = ReplyTarget::c2c(USER, &msg_id);
    for i in 0..4u32 {
        let remaining = replier.ledger().remaining(Scene::C2c, &target.anchor).unwrap();
        assert_eq!(remaining, Some(4 - i), "callers can see the last reply coming");
        let sent = replier.reply(&target, &format!("answer {i}"), false).await.unwrap();
        assert_eq!(sent.len(), 1);
    }
    let err = replier.reply(&target, "one too many", false).await.unwrap_err();
    assert!(
        matches!(
            err,
            ReplyError::Refused { reason: ReplyRefused::BudgetExhausted { budget: 4, .. }, .. }
        ),
        "{err:?}"
    );
    assert!(err.explain_zh().contains("用完"));
    assert_eq!(sim.sends().len(), 4);
    assert_eq!(message_posts(&sim).len(), 4, "the fifth reply never reached the platform");
    assert_eq!(sim.sends().iter().map(|s| s.msg_seq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);

    // An answer needing more messages than replies are left sends nothing.
    let msg2 = sim.inject_c2c_message(APP, USER, "again").msg_id.unwrap();
    let target2 = ReplyTarget::c2c(USER, &msg2);
    for _ in 0..3 {
        replier.reply(&target2, "short", false).await.unwrap();
    }
    let long = "word ".repeat(1000); // 5000 chars → 3 chunks
    let err = replier.reply(&target2, &long, false).await.unwrap_err();
    assert!(matches!(err, ReplyError::NotEnoughReplies { needed: 3, remaining: 1 }), "{err:?}");
    assert_eq!(sim.sends().len(), 7);
}

#[tokio::test]
async fn duplicate_seq_is_resent_with_a_new_seq() {
    let (sim, rest) = start(false).await;
    let msg_id = sim.inject_c2c_message(APP, USER, "hello").msg_id.unwrap();
    // Someone (an earlier process without a ledger) already used seq 1.
    rest.send_c2c(USER, &MessageBody::text("from before").reply_to(&msg_id, 1)).await.unwrap();
    let replier = replier(&rest);
    let sent =
        replier.reply(&ReplyTarget::c2c(USER, &msg_id), "fresh answer", false).await.unwrap();
    assert_eq!(sent.len(), 1);
    let posts = message_posts(&sim);
    assert_eq!(posts.len(), 3);
    assert_eq!(posts[1].status, 400);
    assert_eq!(posts[1].response["code"], 40054005);
    let sends = sim.sends();
    assert_eq!(sends.iter().map(|s| s.msg_seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(sends[1].body["content"], "fresh answer");
}

#[tokio::test]
async fn a_restarted_replier_continues_the_seqs_from_its_file() {
    let (sim, rest) = start(false).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replies.json");
    let msg_id = sim.inject_c2c_message(APP, USER, "hello").msg_id.unwrap();
    let target = ReplyTarget::c2c(USER, &msg_id);
    {
        let ledger = Arc::new(ReplyLedger::open(&path, ReplyPolicy::default()).await.unwrap());
        Replier::new(rest.clone(), ledger).reply(&target, "before restart", false).await.unwrap();
    }
    let ledger = Arc::new(ReplyLedger::open(&path, ReplyPolicy::default()).await.unwrap());
    let replier = Replier::new(rest.clone(), ledger);
    replier.reply(&target, "after restart", false).await.unwrap();
    assert!(
        message_posts(&sim).iter().all(|p| p.status == 200),
        "no duplicate seq after the restart"
    );
    assert_eq!(sim.sends().iter().map(|s| s.msg_seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(replier.ledger().remaining(Scene::C2c, &target.anchor), Ok(Some(2)));
}

#[tokio::test]
async fn long_text_is_split_into_sends_within_the_limit() {
    let (sim, rest) = start(false).await;
    let msg_id =
        sim.inject_group_at_message(APP, "GROUP", "MEMBER", "tell me a story").msg_id.unwrap();
    let paragraph = "这是一个很长的故事。".repeat(60); // 600 chars
    let text = vec![paragraph; 8].join("\n\n"); // ~4800 chars
    let sent =
        replier(&rest).reply(&ReplyTarget::group("GROUP", &msg_id), &text, false).await.unwrap();
    let sends = sim.sends();
    assert_eq!(sent.len(), sends.len());
    assert_eq!(sends.len(), 3);
    let contents: Vec<String> =
        sends.iter().map(|s| s.body["content"].as_str().unwrap().to_owned()).collect();
    assert!(contents.iter().all(|c| c.chars().count() <= 2000));
    assert!(contents.iter().all(|c| c.ends_with('。')), "cut at paragraph ends");
    assert_eq!(non_ws(&contents.concat()), non_ws(&text));
    assert_eq!(sends.iter().map(|s| s.msg_seq).collect::<Vec<_>>(), vec![1, 2, 3]);
}

#[tokio::test]
async fn too_long_for_the_platform_is_split_smaller() {
    let (sim, rest) = start(false).await;
    let msg_id = sim.inject_c2c_message(APP, USER, "hello").msg_id.unwrap();
    let replier = replier(&rest).with_max_chars(10_000);
    let text = "lorem ipsum ".repeat(500); // 6000 chars; the sim allows 4000
    let sent = replier.reply(&ReplyTarget::c2c(USER, &msg_id), &text, false).await.unwrap();
    let posts = message_posts(&sim);
    assert_eq!(posts[0].status, 400);
    assert_eq!(posts[0].response["code"], 40054007);
    let sends = sim.sends();
    assert_eq!(sent.len(), sends.len());
    assert!((2..=3).contains(&sends.len()), "{}", sends.len());
    assert_eq!(replier.max_chars(), 3000, "later replies use the halved size");
    let contents: Vec<&str> = sends.iter().map(|s| s.body["content"].as_str().unwrap()).collect();
    assert!(contents.iter().all(|c| c.chars().count() <= 3000));
    assert_eq!(non_ws(&contents.concat()), non_ws(&text));
    // The rejected attempt was refunded: only the delivered sends count.
    let left =
        replier.ledger().remaining(Scene::C2c, &ReplyTarget::c2c(USER, &msg_id).anchor).unwrap();
    assert_eq!(left, Some(4 - sends.len() as u32));
}

#[tokio::test]
async fn markdown_falls_back_to_plain_text_without_rights() {
    let (sim, rest) = start(false).await;
    let replier = replier(&rest);
    let msg_id = sim.inject_c2c_message(APP, USER, "hello").msg_id.unwrap();
    let target = ReplyTarget::c2c(USER, &msg_id);
    replier.reply(&target, "**Bold** and [docs](https://x.y/d)", true).await.unwrap();
    let posts = message_posts(&sim);
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].body["msg_type"], 2);
    assert_eq!(posts[0].response["code"], 40034011);
    let sends = sim.sends();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].body["msg_type"], 0);
    assert_eq!(sends[0].body["content"], "Bold and docs (https://x.y/d)");
    assert!(!replier.markdown_allowed(), "remembered for the bot");
    // The refused markdown attempt did not cost a reply.
    assert_eq!(replier.ledger().remaining(Scene::C2c, &target.anchor), Ok(Some(3)));

    // The next markdown answer goes straight out as text.
    replier.reply(&target, "# Title", true).await.unwrap();
    let posts = message_posts(&sim);
    assert_eq!(posts.len(), 3);
    assert_eq!(
        posts[2].body,
        json!({"content": "Title", "msg_type": 0, "msg_id": msg_id, "msg_seq": 3})
    );
}

#[tokio::test]
async fn markdown_is_sent_when_permitted() {
    let (sim, rest) = start(true).await;
    let msg_id = sim.inject_c2c_message(APP, USER, "hello").msg_id.unwrap();
    replier(&rest).reply(&ReplyTarget::c2c(USER, &msg_id), "**Bold**", true).await.unwrap();
    let sends = sim.sends();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].body["msg_type"], u8::from(MsgType::Markdown));
    assert_eq!(sends[0].body["markdown"]["content"], "**Bold**");
}

#[tokio::test]
async fn event_replies_media_typing_and_interaction_acks() {
    let (sim, rest) = start(false).await;
    // A passive reply to FRIEND_ADD by event_id.
    let friend = sim.inject_event(APP, "FRIEND_ADD", json!({"openid": USER, "timestamp": 1}));
    let replier = replier(&rest);
    replier
        .reply(&ReplyTarget::event(Scene::C2c, USER, &friend.event_id), "welcome!", false)
        .await
        .unwrap();
    assert_eq!(sim.sends()[0].event_id.as_deref(), Some(friend.event_id.as_str()));

    // Upload media, then send it as a passive reply.
    let msg_id = sim.inject_c2c_message(APP, USER, "send a picture").msg_id.unwrap();
    let upload = MediaUpload {
        file_type: FileType::Image,
        url: Some("https://example.com/cat.png".into()),
        file_data: None,
        file_name: None,
        srv_send_msg: false,
    };
    let uploaded = rest.upload_c2c_media(USER, &upload).await.unwrap();
    assert!(!uploaded.file_info.is_empty());
    rest.send_c2c(USER, &MessageBody::media(&uploaded.file_info).reply_to(&msg_id, 100))
        .await
        .unwrap();
    // A file_info from the C2C scene is refused in a group (304080).
    let g = sim.inject_group_at_message(APP, "GROUP", "MEMBER", "pic?").msg_id.unwrap();
    let err = rest
        .send_group("GROUP", &MessageBody::media(&uploaded.file_info).reply_to(&g, 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(304080));
    let group_upload = rest.upload_group_media("GROUP", &upload).await.unwrap();
    rest.send_group("GROUP", &MessageBody::media(&group_upload.file_info).reply_to(&g, 1))
        .await
        .unwrap();

    // Typing takes a ledger slot like any passive reply.
    let typing = replier.typing(&ReplyTarget::c2c(USER, &msg_id), 30).await;
    assert!(typing.is_ok(), "{typing:?}");
    let last = sim.sends().last().unwrap().clone();
    assert_eq!(last.body["msg_type"], 6);
    assert_eq!(last.body["input_notify"]["input_second"], 30);
    assert_eq!(last.msg_seq, 1);
    assert_eq!(
        replier.ledger().remaining(Scene::C2c, &ReplyTarget::c2c(USER, &msg_id).anchor),
        Ok(Some(3))
    );
    assert!(replier.typing(&ReplyTarget::group("GROUP", &g), 30).await.unwrap().is_none());

    sim.inject_event(
        APP,
        "INTERACTION_CREATE",
        json!({"id": "INTERACTION_1", "type": 11, "scene": "c2c", "chat_type": 2, "user_openid": USER,
               "data": {"type": 11, "resolved": {"button_id": "b"}}}),
    );
    rest.ack_interaction("INTERACTION_1", 0).await.unwrap();
    let ack = sim.rest_log().into_iter().find(|r| r.method == "PUT").unwrap();
    assert_eq!(
        (ack.path.as_str(), ack.status, ack.body.clone()),
        ("/interactions/INTERACTION_1", 200, json!({"code": 0}))
    );
    let err = rest.ack_interaction("no-such-interaction", 0).await.unwrap_err();
    assert_eq!(err.code(), Some(630001));
}

#[tokio::test]
async fn a_send_repeated_after_a_crash_is_delivered_exactly_once() {
    let (sim, rest) = start(false).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replies.json");
    let msg_id = sim.inject_c2c_message(APP, USER, "hello").msg_id.unwrap();
    let target = ReplyTarget::c2c(USER, &msg_id);

    // Outbox entry 1: sent, but the process died before it recorded that.
    {
        let ledger = Arc::new(ReplyLedger::open(&path, ReplyPolicy::default()).await.unwrap());
        let sent = Replier::new(rest.clone(), ledger)
            .reply_once(&target, "first", false, "outbox-1")
            .await;
        assert_eq!(sent.unwrap().len(), 1);
    }
    // Outbox entry 2: its seq was reserved, then the process died before the send.
    {
        let ledger = ReplyLedger::open(&path, ReplyPolicy::default()).await.unwrap();
        let (slot, reused) =
            ledger.keyed_slot(Scene::C2c, &target.anchor, "outbox-2/0").await.unwrap();
        assert_eq!((slot.msg_seq, reused), (2, false));
    }
    // The restarted process sends both entries again.
    let ledger = Arc::new(ReplyLedger::open(&path, ReplyPolicy::default()).await.unwrap());
    let replier = Replier::new(rest.clone(), ledger);
    let again = replier.reply_once(&target, "first", false, "outbox-1").await.unwrap();
    assert_eq!(again.len(), 1, "counted as delivered");
    assert_eq!(again[0].id, None, "not sent a second time");
    replier.reply_once(&target, "second", false, "outbox-2").await.unwrap();

    let sends = sim.sends();
    let texts: Vec<&str> = sends.iter().map(|s| s.body["content"].as_str().unwrap()).collect();
    assert_eq!(texts, vec!["first", "second"], "each once, in order");
    assert_eq!(sends.iter().map(|s| s.msg_seq).collect::<Vec<_>>(), vec![1, 2]);
    // The repeated first send reached QQ and was refused as a duplicate.
    assert_eq!(message_posts(&sim).iter().filter(|p| p.status == 400).count(), 1);
}

#[tokio::test]
async fn a_reply_whose_seq_cannot_be_recorded_is_not_sent_until_it_can() {
    let (sim, rest) = start(false).await;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("bot");
    std::fs::create_dir(&folder).unwrap();
    let path = folder.join("replies.json");
    let msg_id = sim.inject_c2c_message(APP, USER, "hello").msg_id.unwrap();
    let target = ReplyTarget::c2c(USER, &msg_id);
    let ledger = Arc::new(ReplyLedger::open(&path, ReplyPolicy::default()).await.unwrap());
    let replier = Replier::new(rest.clone(), ledger.clone());

    // The ledger's folder cannot be written (as a full disk would; a file in
    // its place fails even for root).
    std::fs::remove_dir(&folder).unwrap();
    std::fs::write(&folder, b"").unwrap();
    let err = replier.reply_once(&target, "answer", false, "outbox-1").await.unwrap_err();
    assert!(matches!(err, ReplyError::NotRecorded { ref sent, .. } if sent.is_empty()), "{err:?}");
    assert!(err.to_string().contains("free some space"), "{err}");
    assert!(err.explain_zh().contains("磁盘"), "{}", err.explain_zh());
    assert!(sim.sends().is_empty(), "nothing goes out under a key a restart would not know");
    assert_eq!(
        ledger.remaining(Scene::C2c, &target.anchor),
        Ok(Some(4)),
        "the refused slot was given back"
    );

    // Room again: the retry goes out, once.
    std::fs::remove_file(&folder).unwrap();
    std::fs::create_dir(&folder).unwrap();
    let sent = replier.reply_once(&target, "answer", false, "outbox-1").await.unwrap();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].id.is_some());

    // The process dies before it records the delivery; the restarted one
    // repeats the send under the same key: QQ sees the seq again, nothing new.
    drop(replier);
    let ledger = Arc::new(ReplyLedger::open(&path, ReplyPolicy::default()).await.unwrap());
    let again = Replier::new(rest.clone(), ledger)
        .reply_once(&target, "answer", false, "outbox-1")
        .await
        .unwrap();
    assert_eq!(again[0].id, None, "recognised as already delivered");
    let sends = sim.sends();
    assert_eq!(sends.len(), 1, "answered exactly once: {sends:?}");
    assert_eq!(sends[0].body["content"], "answer");
}
