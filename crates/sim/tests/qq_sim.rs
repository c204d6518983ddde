//! Behaviour tests of the QQ simulator, driven by a raw WebSocket client and
//! plain HTTP, as a real connector would talk to the platform.

use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use pincer_qq::model::{Event, Intents};
use pincer_sim::qq::{ProactivePolicy, QqSim, QqSimConfig, SimApp};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const APP: &str = "102000001";
const SECRET: &str = "s3cret-app-secret";

async fn sim_with(config: QqSimConfig) -> QqSim {
    let sim = QqSim::start(config).await.expect("simulator starts");
    sim.add_app(SimApp::new(APP, SECRET));
    sim
}

async fn sim() -> QqSim {
    sim_with(QqSimConfig::default()).await
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn fetch_token(sim: &QqSim, app: &str, secret: &str) -> Value {
    let resp = http()
        .post(sim.token_url())
        .json(&json!({"appId": app, "clientSecret": secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the token endpoint always answers HTTP 200");
    resp.json().await.unwrap()
}

async fn token(sim: &QqSim) -> String {
    fetch_token(sim, APP, SECRET).await["access_token"].as_str().unwrap().to_owned()
}

/// POST a send; returns (status, body).
async fn post(sim: &QqSim, tok: &str, path: &str, body: Value) -> (u16, Value) {
    let resp = http()
        .post(format!("{}{path}", sim.api_base()))
        .header("Authorization", format!("QQBot {tok}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

struct Ws(WebSocketStream<MaybeTlsStream<TcpStream>>);

enum Got {
    Frame(Value),
    Closed(Option<u16>),
}

impl Ws {
    async fn connect(sim: &QqSim) -> Ws {
        let (ws, _) = tokio_tungstenite::connect_async(sim.gateway_url()).await.unwrap();
        Ws(ws)
    }

    /// Connects and consumes op 10.
    async fn open(sim: &QqSim) -> Ws {
        let mut ws = Ws::connect(sim).await;
        assert_eq!(ws.frame().await["op"], 10);
        ws
    }

    async fn send(&mut self, v: Value) {
        self.0.send(Message::text(v.to_string())).await.unwrap();
    }

    async fn next(&mut self) -> Got {
        loop {
            // Long enough for paused-clock tests that wait for server timers.
            match tokio::time::timeout(Duration::from_secs(4 * 3600), self.0.next()).await {
                Err(_) => panic!("no frame within 4 h"),
                Ok(None) | Ok(Some(Err(_))) => return Got::Closed(None),
                Ok(Some(Ok(Message::Text(t)))) => {
                    return Got::Frame(serde_json::from_str(&t).unwrap())
                }
                Ok(Some(Ok(Message::Close(f)))) => {
                    return Got::Closed(f.map(|f| u16::from(f.code)));
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    async fn frame(&mut self) -> Value {
        match self.next().await {
            Got::Frame(v) => v,
            Got::Closed(code) => panic!("expected a frame, socket closed with {code:?}"),
        }
    }

    async fn close_code(&mut self) -> u16 {
        loop {
            match self.next().await {
                Got::Frame(_) => continue,
                Got::Closed(code) => return code.expect("a close frame with a code"),
            }
        }
    }

    async fn identify(&mut self, tok: &str, intents: u32, shard: [u32; 2]) {
        self.send(json!({"op": 2, "d": {"token": format!("QQBot {tok}"), "intents": intents, "shard": shard}}))
            .await;
    }

    /// Identifies with GROUP_AND_C2C_EVENT and returns READY.
    async fn ready(sim: &QqSim, tok: &str) -> (Ws, Value) {
        let mut ws = Ws::open(sim).await;
        ws.identify(tok, Intents::GROUP_AND_C2C_EVENT.bits(), [0, 1]).await;
        let ready = ws.frame().await;
        assert_eq!(ready["t"], "READY");
        (ws, ready)
    }

    async fn resume(&mut self, tok: &str, session_id: &str, seq: u64) {
        self.send(json!({"op": 6, "d": {"token": format!("QQBot {tok}"), "session_id": session_id, "seq": seq}}))
            .await;
    }

    async fn close(mut self) {
        let _ = self
            .0
            .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: CloseCode::Away,
                reason: "bye".into(),
            }))
            .await;
        while let Some(Ok(_)) = self.0.next().await {}
    }
}

// ---------------------------------------------------------------- token

#[tokio::test(start_paused = true)]
async fn token_is_a_string_reused_until_its_last_minute_then_rotated_with_overlap() {
    let sim = sim().await;
    let first = fetch_token(&sim, APP, SECRET).await;
    assert_eq!(first["expires_in"], json!("7200"), "expires_in is a string: {first}");
    let t1 = first["access_token"].as_str().unwrap().to_owned();

    tokio::time::advance(Duration::from_secs(100)).await;
    let again = fetch_token(&sim, APP, SECRET).await;
    assert_eq!(again["access_token"], json!(t1));
    assert_eq!(again["expires_in"], json!("7100"));

    // Inside the last 60 s: a new token; the old one keeps working until its end.
    tokio::time::advance(Duration::from_secs(7100 - 30)).await;
    let rotated = fetch_token(&sim, APP, SECRET).await;
    let t2 = rotated["access_token"].as_str().unwrap().to_owned();
    assert_ne!(t2, t1);
    assert_eq!(rotated["expires_in"], json!("7200"));
    let get = |tok: String| {
        let sim = sim.clone();
        async move {
            http()
                .get(format!("{}/gateway", sim.api_base()))
                .header("Authorization", format!("QQBot {tok}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(get(t1.clone()).await, 200, "old token still valid in its last seconds");
    assert_eq!(get(t2.clone()).await, 200);
    tokio::time::advance(Duration::from_secs(31)).await;
    assert_eq!(get(t1).await, 401, "old token expired");
    assert_eq!(get(t2).await, 200);
}

#[tokio::test]
async fn wrong_secret_and_unknown_app_answer_http_200_with_code_100016() {
    let sim = sim().await;
    let wrong = fetch_token(&sim, APP, "nope").await;
    assert_eq!(wrong["code"], 100016, "{wrong}");
    assert!(wrong.get("access_token").is_none());
    let unknown = fetch_token(&sim, "999", SECRET).await;
    assert_eq!(unknown["code"], 100016, "{unknown}");
}

#[tokio::test]
async fn rest_with_a_bad_or_expired_token_is_401_11244_with_trace_id() {
    let sim = sim().await;
    let resp = http()
        .get(format!("{}/gateway", sim.api_base()))
        .header("Authorization", "QQBot not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let trace =
        resp.headers().get("X-Tps-trace-ID").expect("trace header").to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    assert_eq!((body["code"].as_u64(), body["err_code"].as_u64()), (Some(11244), Some(11244)));
    assert_eq!(body["trace_id"], json!(trace));

    let tok = token(&sim).await;
    let ok = http()
        .get(format!("{}/gateway/bot", sim.api_base()))
        .header("Authorization", format!("QQBot {tok}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let bot: Value = ok.json().await.unwrap();
    assert_eq!(bot["url"], json!(sim.gateway_url()));
    assert_eq!(bot["session_start_limit"]["remaining"], 1000);

    sim.expire_token(APP);
    let (status, body) =
        post(&sim, &tok, "/v2/users/U1/messages", json!({"content": "x", "msg_type": 0})).await;
    assert_eq!((status, body["code"].as_u64()), (401, Some(11244)));
    assert!(sim.sends().is_empty());
    assert_ne!(token(&sim).await, tok, "a fetch after expiry issues a new token");
}

// ---------------------------------------------------------------- gateway handshake

#[tokio::test]
async fn hello_comes_first_then_identify_gives_ready_with_s_1_and_heartbeats_get_bare_acks() {
    let sim = sim().await;
    let tok = token(&sim).await;
    let mut ws = Ws::connect(&sim).await;
    let hello = ws.frame().await;
    assert_eq!(hello, json!({"op": 10, "d": {"heartbeat_interval": 45000}}));

    ws.send(json!({"op": 1, "d": null})).await;
    assert_eq!(ws.frame().await, json!({"op": 11}), "heartbeat before Identify is fine");

    ws.identify(&tok, Intents::GROUP_AND_C2C_EVENT.bits(), [0, 1]).await;
    let ready = ws.frame().await;
    assert_eq!((ready["op"].as_u64(), ready["s"].as_u64()), (Some(0), Some(1)));
    assert_eq!(ready["t"], "READY");
    assert!(ready["id"].as_str().unwrap().starts_with("READY:"));
    assert_eq!(ready["d"]["version"], 1);
    assert_eq!(ready["d"]["user"]["bot"], true);
    assert_eq!(ready["d"]["shard"], json!([0, 1]));
    let sid = ready["d"]["session_id"].as_str().unwrap();
    assert_eq!(sim.session_id(APP).as_deref(), Some(sid));

    for d in [json!(0), json!(1), json!(null)] {
        ws.send(json!({"op": 1, "d": d})).await;
        assert_eq!(ws.frame().await, json!({"op": 11}));
    }
    ws.send(
        json!({"op": 2, "d": {"token": format!("QQBot {tok}"), "intents": 0, "shard": [0, 1]}}),
    )
    .await;
    assert_eq!(ws.close_code().await, 4005, "second Identify");
    assert_eq!(sim.identifies(APP), 2);

    let bot: Value = http()
        .get(format!("{}/gateway/bot", sim.api_base()))
        .header("Authorization", format!("QQBot {tok}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bot["session_start_limit"]["remaining"], 999, "one session start used");
}

#[tokio::test]
async fn protocol_errors_close_with_their_codes() {
    let sim = sim().await;
    let tok = token(&sim).await;

    let mut ws = Ws::open(&sim).await;
    ws.send(json!({"op": 11})).await;
    assert_eq!(ws.close_code().await, 4003, "op other than identify/resume/heartbeat first");

    let mut ws = Ws::open(&sim).await;
    ws.send(json!({"op": 3, "d": {}})).await;
    assert_eq!(ws.close_code().await, 4001, "unknown op");

    let mut ws = Ws::open(&sim).await;
    ws.0.send(Message::text("{not json")).await.unwrap();
    assert_eq!(ws.close_code().await, 4002, "bad JSON");

    let mut ws = Ws::open(&sim).await;
    ws.identify("wrong", Intents::GROUP_AND_C2C_EVENT.bits(), [0, 1]).await;
    assert_eq!(ws.close_code().await, 4004, "bad token");

    let mut ws = Ws::open(&sim).await;
    ws.identify(&tok, Intents::GROUP_AND_C2C_EVENT.bits(), [1, 1]).await;
    assert_eq!(ws.close_code().await, 4010, "shard id >= count");

    let mut ws = Ws::open(&sim).await;
    ws.identify(&tok, 1 << 5, [0, 1]).await;
    assert_eq!(ws.close_code().await, 4013, "undefined intent bit");
}

#[tokio::test]
async fn intents_beyond_the_grant_close_4014_and_revoked_intents_stop_events() {
    let sim = sim().await;
    sim.add_app(SimApp {
        app_id: "200".into(),
        secret: "x".into(),
        granted_intents: Intents::GROUP_AND_C2C_EVENT,
        markdown: false,
    });
    let tok = fetch_token(&sim, "200", "x").await["access_token"].as_str().unwrap().to_owned();
    let mut ws = Ws::open(&sim).await;
    ws.identify(&tok, (Intents::GROUP_AND_C2C_EVENT | Intents::INTERACTION).bits(), [0, 1]).await;
    assert_eq!(ws.close_code().await, 4014);

    let (mut ws, _) = Ws::ready(&sim, &tok).await;
    sim.revoke_intents("200", Intents::GROUP_AND_C2C_EVENT);
    let silent = sim.inject_c2c_message("200", "U1", "hi");
    assert_eq!(silent.seq, 0, "revoked events are not dispatched");
    ws.send(json!({"op": 1, "d": 1})).await;
    assert_eq!(ws.frame().await, json!({"op": 11}), "nothing but the ack arrives");
    let mut again = Ws::open(&sim).await;
    again.identify(&tok, Intents::GROUP_AND_C2C_EVENT.bits(), [0, 1]).await;
    assert_eq!(again.close_code().await, 4014, "next Identify with the revoked intent");
}

#[tokio::test(start_paused = true)]
async fn missing_heartbeats_close_4009_after_interval_times_factor_and_the_session_resumes() {
    let sim =
        sim_with(QqSimConfig { heartbeat_interval: Duration::from_secs(10), ..Default::default() })
            .await;
    let tok = sim.issue_token(APP).unwrap();
    let (mut ws, ready) = Ws::ready(&sim, &tok).await;
    let sid = ready["d"]["session_id"].as_str().unwrap().to_owned();
    let start = tokio::time::Instant::now();
    ws.send(json!({"op": 1, "d": 1})).await;
    assert_eq!(ws.frame().await, json!({"op": 11}));
    let code = ws.close_code().await;
    let waited = start.elapsed();
    assert_eq!(code, 4009);
    assert!(
        waited >= Duration::from_secs(15) && waited < Duration::from_secs(16),
        "closed after {waited:?}, expected 15 s (10 s × 1.5 after the last heartbeat)"
    );
    let mut ws = Ws::open(&sim).await;
    ws.resume(&tok, &sid, 1).await;
    let resumed = ws.frame().await;
    assert_eq!((resumed["t"].as_str(), resumed["s"].as_u64()), (Some("RESUMED"), Some(2)));
    assert_eq!(resumed["d"], json!(""));
}

#[tokio::test]
async fn resume_replays_missed_dispatches_with_original_s_and_id_then_resumed() {
    let sim = sim().await;
    let tok = token(&sim).await;
    let (mut ws, ready) = Ws::ready(&sim, &tok).await;
    let sid = ready["d"]["session_id"].as_str().unwrap().to_owned();
    let seen = sim.inject_c2c_message(APP, "U1", "one");
    let f = ws.frame().await;
    assert_eq!((f["s"].as_u64(), f["t"].as_str()), (Some(2), Some("C2C_MESSAGE_CREATE")));
    assert_eq!(f["id"], json!(seen.event_id));
    assert_eq!(f["d"]["id"], json!(seen.msg_id.clone().unwrap()));
    assert!(f["d"]["id"].as_str().unwrap().starts_with("ROBOT1.0_"));
    assert_eq!(f["d"]["author"]["user_openid"], "U1");
    ws.close().await;

    let missed_a = sim.inject_c2c_message(APP, "U1", "two");
    let missed_b = sim.inject_group_at_message(APP, "G1", "M1", "three");
    assert_eq!((missed_a.seq, missed_b.seq), (3, 4), "buffered in the session while offline");

    let mut ws = Ws::open(&sim).await;
    ws.resume(&tok, &sid, 2).await;
    let a = ws.frame().await;
    let b = ws.frame().await;
    let resumed = ws.frame().await;
    assert_eq!((a["s"].as_u64(), a["id"].as_str()), (Some(3), Some(missed_a.event_id.as_str())));
    assert_eq!(a["d"]["content"], "two");
    assert_eq!((b["s"].as_u64(), b["id"].as_str()), (Some(4), Some(missed_b.event_id.as_str())));
    assert_eq!(b["t"], "GROUP_AT_MESSAGE_CREATE");
    assert_eq!((resumed["t"].as_str(), resumed["s"].as_u64()), (Some("RESUMED"), Some(5)));
    assert_eq!(sim.resumes(APP), 1);
    assert_eq!(sim.identifies(APP), 1);

    // The group payload matches the platform's shape and decodes with the shared model.
    let decoded = Event::decode("GROUP_AT_MESSAGE_CREATE", &b["d"].to_string());
    match decoded {
        Event::GroupAtMessageCreate(m) => {
            assert_eq!((m.group_openid.as_str(), m.author.member_openid.as_str()), ("G1", "M1"));
            assert_eq!(m.content, " three", "leading space where @bot was stripped");
            assert!(m.timestamp.unwrap().ends_with("+08:00"));
        }
        other => panic!("did not decode: {other:?}"),
    }

    // Live events continue after the replay with the next s.
    let live = sim.inject_c2c_message(APP, "U2", "four");
    let f = ws.frame().await;
    assert_eq!((f["s"].as_u64(), live.seq), (Some(6), 6));
}

#[tokio::test]
async fn resume_of_an_unknown_session_closes_4006_and_a_future_seq_closes_4007() {
    let sim = sim().await;
    let tok = token(&sim).await;
    let mut ws = Ws::open(&sim).await;
    ws.resume(&tok, "no-such-session", 1).await;
    assert_eq!(ws.close_code().await, 4006);

    let (ws, ready) = Ws::ready(&sim, &tok).await;
    let sid = ready["d"]["session_id"].as_str().unwrap().to_owned();
    ws.close().await;
    let mut ws = Ws::open(&sim).await;
    ws.resume(&tok, &sid, 5).await;
    assert_eq!(ws.close_code().await, 4007, "seq 5 > last s 1");
    let mut ws = Ws::open(&sim).await;
    ws.resume(&tok, &sid, 1).await;
    assert_eq!(ws.close_code().await, 4006, "4007 dropped the session");

    let mut ws = Ws::open(&sim).await;
    ws.resume("bad-token", &sid, 1).await;
    assert_eq!(ws.close_code().await, 4004);
}

#[tokio::test(start_paused = true)]
async fn a_session_past_the_resume_window_is_gone() {
    let sim = sim().await;
    let tok = sim.issue_token(APP).unwrap();
    let (ws, ready) = Ws::ready(&sim, &tok).await;
    let sid = ready["d"]["session_id"].as_str().unwrap().to_owned();
    sim.drop_sockets(APP);
    let mut ws = ws;
    assert!(matches!(ws.next().await, Got::Closed(None)), "dropped without close frame");
    tokio::time::advance(Duration::from_secs(5 * 60 + 1)).await;
    let mut ws = Ws::open(&sim).await;
    ws.resume(&tok, &sid, 1).await;
    assert_eq!(ws.close_code().await, 4006);
}

#[tokio::test]
async fn reconnect_fault_sends_op7_then_closes_4009_and_keeps_the_session() {
    let sim = sim_with(QqSimConfig {
        reconnect_close_delay: Duration::from_millis(50),
        ..Default::default()
    })
    .await;
    let tok = token(&sim).await;
    let (mut ws, ready) = Ws::ready(&sim, &tok).await;
    let sid = ready["d"]["session_id"].as_str().unwrap().to_owned();
    sim.send_reconnect(APP);
    assert_eq!(ws.frame().await, json!({"op": 7}));
    assert_eq!(ws.close_code().await, 4009);
    let mut ws = Ws::open(&sim).await;
    ws.resume(&tok, &sid, 1).await;
    assert_eq!(ws.frame().await["t"], "RESUMED");

    sim.close_sockets(APP, 4900);
    assert_eq!(ws.close_code().await, 4900);
    let mut ws = Ws::open(&sim).await;
    ws.resume(&tok, &sid, 2).await;
    assert_eq!(ws.close_code().await, 4902, "stale resume after a 49xx");
    let log = sim.gateway_log();
    assert!(log.iter().any(|f| f.close_code == Some(4900) && f.app_id == APP));
}

// ---------------------------------------------------------------- sends

#[tokio::test]
async fn repeated_msg_seq_is_deduplicated_with_40054005() {
    let sim = sim().await;
    let tok = token(&sim).await;
    let msg = sim.inject_c2c_message(APP, "U1", "hello");
    let mid = msg.msg_id.unwrap();
    let path = "/v2/users/U1/messages";
    let (status, body) =
        post(&sim, &tok, path, json!({"content": "a", "msg_type": 0, "msg_id": mid, "msg_seq": 1}))
            .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["id"].is_string());
    assert!(body["timestamp"].as_str().unwrap().ends_with("+08:00"));
    assert!(body["ext_info"]["ref_idx"].as_str().unwrap().starts_with("REFIDX_"));

    let (status, body) =
        post(&sim, &tok, path, json!({"content": "b", "msg_type": 0, "msg_id": mid})).await;
    assert_eq!(status, 400, "missing msg_seq means 1");
    assert_eq!(body["code"], 40054005);
    assert_eq!(body["err_code"], 40054005);
    assert_eq!(body["message"], "消息被去重，请检查请求msgseq");
    assert!(body["trace_id"].is_string());

    let (status, _) =
        post(&sim, &tok, path, json!({"content": "c", "msg_type": 0, "msg_id": mid, "msg_seq": 2}))
            .await;
    assert_eq!(status, 200);
    let sends = sim.sends();
    assert_eq!(sends.len(), 2, "the rejected duplicate is not recorded");
    assert_eq!((sends[0].msg_seq, sends[1].msg_seq), (1, 2));
    assert_eq!(sends[1].body["content"], "c");

    let (status, body) = post(
        &sim,
        &tok,
        "/v2/users/OTHER/messages",
        json!({"content": "x", "msg_type": 0, "msg_id": mid, "msg_seq": 9}),
    )
    .await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(40034024)), "msg_id of another user");
}

#[tokio::test]
async fn passive_reply_budgets_give_40034128() {
    let sim = sim().await;
    let tok = token(&sim).await;
    let c2c = sim.inject_c2c_message(APP, "U1", "hi").msg_id.unwrap();
    for seq in 1..=4 {
        let (s, b) = post(
            &sim,
            &tok,
            "/v2/users/U1/messages",
            json!({"content": "r", "msg_type": 0, "msg_id": c2c, "msg_seq": seq}),
        )
        .await;
        assert_eq!(s, 200, "reply {seq}: {b}");
    }
    let (s, b) = post(
        &sim,
        &tok,
        "/v2/users/U1/messages",
        json!({"content": "r", "msg_type": 0, "msg_id": c2c, "msg_seq": 5}),
    )
    .await;
    assert_eq!((s, b["code"].as_u64()), (400, Some(40034128)));

    let group = sim.inject_group_at_message(APP, "G1", "M1", "hi").msg_id.unwrap();
    for seq in 1..=5 {
        let (s, _) = post(
            &sim,
            &tok,
            "/v2/groups/G1/messages",
            json!({"content": "r", "msg_type": 0, "msg_id": group, "msg_seq": seq}),
        )
        .await;
        assert_eq!(s, 200);
    }
    let (s, b) = post(
        &sim,
        &tok,
        "/v2/groups/G1/messages",
        json!({"content": "r", "msg_type": 0, "msg_id": group, "msg_seq": 6}),
    )
    .await;
    assert_eq!((s, b["code"].as_u64()), (400, Some(40034128)));
    assert_eq!(sim.sends().len(), 9);
}

#[tokio::test(start_paused = true)]
async fn group_msg_id_expires_after_five_minutes() {
    let sim = sim().await;
    let tok = sim.issue_token(APP).unwrap();
    let group = sim.inject_group_at_message(APP, "G1", "M1", "hi").msg_id.unwrap();
    tokio::time::advance(Duration::from_secs(5 * 60 + 1)).await;
    let (s, b) = post(
        &sim,
        &tok,
        "/v2/groups/G1/messages",
        json!({"content": "late", "msg_type": 0, "msg_id": group}),
    )
    .await;
    assert_eq!((s, b["code"].as_u64()), (400, Some(40034005)));
}

#[tokio::test]
async fn proactive_typing_markdown_length_and_group_removal_rules() {
    let sim = sim().await;
    sim.add_app(SimApp {
        app_id: "300".into(),
        secret: "y".into(),
        granted_intents: Intents::all(),
        markdown: false,
    });
    let tok = token(&sim).await;
    let (s, b) =
        post(&sim, &tok, "/v2/users/U1/messages", json!({"content": "hey", "msg_type": 0})).await;
    assert_eq!((s, b["code"].as_u64()), (400, Some(40034102)), "proactive disabled by default");

    let mid = sim.inject_c2c_message(APP, "U1", "hi").msg_id.unwrap();
    let (s, b) = post(&sim, &tok, "/v2/users/U1/messages", json!({"msg_type": 6, "input_notify": {"input_type": 1, "input_second": 60}, "msg_id": mid, "msg_seq": 1})).await;
    assert_eq!(s, 200, "{b}");
    assert!(b["ext_info"]["ref_idx"].is_string());
    let (s, b) = post(
        &sim,
        &tok,
        "/v2/users/U1/messages",
        json!({"content": "x".repeat(4001), "msg_type": 0, "msg_id": mid, "msg_seq": 2}),
    )
    .await;
    assert_eq!((s, b["code"].as_u64()), (400, Some(40054007)));
    let (s, b) = post(
        &sim,
        &tok,
        "/v2/users/U1/messages",
        json!({"content": "", "msg_type": 0, "msg_id": mid, "msg_seq": 3}),
    )
    .await;
    assert_eq!((s, b["code"].as_u64()), (400, Some(50006)));

    let gmid = sim.inject_group_at_message(APP, "G1", "M1", "hi").msg_id.unwrap();
    let (s, b) = post(&sim, &tok, "/v2/groups/G1/messages", json!({"msg_type": 6, "input_notify": {"input_type": 1, "input_second": 5}, "msg_id": gmid})).await;
    assert_eq!((s, b["code"].as_u64()), (400, Some(40034106)));
    sim.inject_event(
        APP,
        "GROUP_DEL_ROBOT",
        json!({"group_openid": "G1", "op_member_openid": "M1", "timestamp": 1}),
    );
    let (s, b) = post(
        &sim,
        &tok,
        "/v2/groups/G1/messages",
        json!({"content": "x", "msg_type": 0, "msg_id": gmid}),
    )
    .await;
    assert_eq!((s, b["code"].as_u64()), (400, Some(40034101)));

    let tok300 = fetch_token(&sim, "300", "y").await["access_token"].as_str().unwrap().to_owned();
    let mid300 = sim.inject_c2c_message("300", "U9", "hi").msg_id.unwrap();
    let (s, b) = post(
        &sim,
        &tok300,
        "/v2/users/U9/messages",
        json!({"msg_type": 2, "markdown": {"content": "**x**"}, "msg_id": mid300}),
    )
    .await;
    assert_eq!((s, b["code"].as_u64()), (400, Some(40034011)));

    sim.set_proactive(ProactivePolicy::Allowed);
    sim.inject_event(APP, "C2C_MSG_REJECT", json!({"openid": "U5", "timestamp": 1}));
    let (s, b) =
        post(&sim, &tok, "/v2/users/U5/messages", json!({"content": "hey", "msg_type": 0})).await;
    assert_eq!((s, b["code"].as_u64()), (400, Some(40054013)));
    let (s, _) =
        post(&sim, &tok, "/v2/users/U6/messages", json!({"content": "hey", "msg_type": 0})).await;
    assert_eq!(s, 200);
    let sends = sim.sends();
    assert_eq!(sends.len(), 2, "only the typing notice and the allowed proactive send");
}

#[tokio::test]
async fn event_id_replies_uploads_and_interactions() {
    let sim = sim().await;
    let tok = token(&sim).await;
    let friend = sim.inject_event(APP, "FRIEND_ADD", json!({"openid": "U1", "timestamp": 1}));
    let (s, b) = post(
        &sim,
        &tok,
        "/v2/users/U1/messages",
        json!({"content": "welcome", "msg_type": 0, "event_id": friend.event_id}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let msg = sim.inject_c2c_message(APP, "U1", "hi");
    let (s, b) = post(
        &sim,
        &tok,
        "/v2/users/U1/messages",
        json!({"content": "x", "msg_type": 0, "event_id": msg.event_id}),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_u64()),
        (400, Some(40034027)),
        "a message event is not replyable by event_id"
    );

    let (s, up) = post(
        &sim,
        &tok,
        "/v2/groups/G1/files",
        json!({"file_type": 1, "url": "https://example.com/a.png", "srv_send_msg": false}),
    )
    .await;
    assert_eq!(s, 200, "{up}");
    let info = up["file_info"].as_str().unwrap();
    let mid = msg.msg_id.unwrap();
    let (s, b) = post(&sim, &tok, "/v2/users/U1/messages", json!({"content": " ", "msg_type": 7, "media": {"file_info": info}, "msg_id": mid, "msg_seq": 1})).await;
    assert_eq!((s, b["code"].as_u64()), (400, Some(304080)), "group file_info in a C2C send");
    let big = B64.encode(vec![0u8; 10 * 1024 * 1024 + 1]);
    let (s, b) = post(
        &sim,
        &tok,
        "/v2/users/U1/files",
        json!({"file_type": 1, "file_data": big, "srv_send_msg": false}),
    )
    .await;
    assert_eq!((s, b["code"].as_u64()), (400, Some(850031)));

    let inter = sim.inject_event(APP, "INTERACTION_CREATE", json!({"id": "I-1", "type": 11, "scene": "c2c", "chat_type": 2, "user_openid": "U1", "data": {"type": 11, "resolved": {"button_id": "b"}}}));
    assert!(!inter.event_id.is_empty());
    let put = |id: &'static str| {
        let (sim, tok) = (sim.clone(), tok.clone());
        async move {
            http()
                .put(format!("{}/interactions/{id}", sim.api_base()))
                .header("Authorization", format!("QQBot {tok}"))
                .json(&json!({"code": 0}))
                .send()
                .await
                .unwrap()
        }
    };
    let ok = put("I-1").await;
    assert_eq!(ok.status(), 200);
    assert!(ok.bytes().await.unwrap().is_empty(), "empty body");
    let unknown: Value = put("I-2").await.json().await.unwrap();
    assert_eq!(unknown["code"], 630001);
}

#[tokio::test]
async fn injected_failures_rate_limit_and_duplicates() {
    let sim = sim().await;
    let tok = token(&sim).await;
    let mid = sim.inject_c2c_message(APP, "U1", "hi").msg_id.unwrap();
    sim.fail_next_sends(1, 429, Some(3));
    let resp = http()
        .post(format!("{}/v2/users/U1/messages", sim.api_base()))
        .header("Authorization", format!("QQBot {tok}"))
        .json(&json!({"content": "a", "msg_type": 0, "msg_id": mid, "msg_seq": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers().get("retry-after").unwrap(), "3");
    let body: Value = resp.json().await.unwrap();
    assert!(body["code"].is_u64() && body["trace_id"].is_string());
    let (s, _) = post(
        &sim,
        &tok,
        "/v2/users/U1/messages",
        json!({"content": "a", "msg_type": 0, "msg_id": mid, "msg_seq": 1}),
    )
    .await;
    assert_eq!(s, 200, "the failed attempt did not consume msg_seq 1");
    assert_eq!(sim.sends().len(), 1);
    assert_eq!(sim.rest_log().iter().filter(|r| r.path == "/v2/users/U1/messages").count(), 2);

    // "hi" was injected before any session existed: it is queued for the next READY.
    let (mut ws, _) = Ws::ready(&sim, &tok).await;
    let queued = ws.frame().await;
    assert_eq!((queued["s"].as_u64(), queued["d"]["id"].as_str()), (Some(2), Some(mid.as_str())));
    sim.set_duplicate_deliveries(true);
    let inj = sim.inject_c2c_message(APP, "U1", "twice");
    let a = ws.frame().await;
    let b = ws.frame().await;
    assert_eq!(a["d"]["id"], b["d"]["id"]);
    assert_ne!(a["id"], b["id"]);
    assert_eq!((a["s"].as_u64(), b["s"].as_u64(), inj.seq), (Some(3), Some(4), 3));
    assert_eq!(a["d"]["id"], json!(inj.msg_id.unwrap()));
}

#[tokio::test(start_paused = true)]
async fn the_message_bucket_allows_100_per_second() {
    let sim = sim().await;
    sim.set_proactive(ProactivePolicy::Allowed);
    let tok = sim.issue_token(APP).unwrap();
    let mut statuses = Vec::new();
    for _ in 0..101 {
        statuses.push(
            post(&sim, &tok, "/v2/users/U1/messages", json!({"content": "a", "msg_type": 0}))
                .await
                .0,
        );
    }
    assert!(statuses[..100].iter().all(|s| *s == 200));
    assert_eq!(statuses[100], 429);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(
        post(&sim, &tok, "/v2/users/U1/messages", json!({"content": "a", "msg_type": 0})).await.0,
        200
    );
}

// ---------------------------------------------------------------- QR binding

#[tokio::test]
async fn bind_flow_encrypts_the_secret_with_the_client_key() {
    let sim = sim().await;
    let key: [u8; 32] = rand::random();
    let call = |path: &'static str, body: Value| {
        let sim = sim.clone();
        async move {
            let resp =
                http().post(format!("{}{path}", sim.bind_base())).json(&body).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            resp.json::<Value>().await.unwrap()
        }
    };
    let bad = call("/lite/create_bind_task", json!({"key": "short"})).await;
    assert_ne!(bad["retcode"], 0);
    assert!(bad["msg"].is_string());

    let created = call("/lite/create_bind_task", json!({"key": B64.encode(key)})).await;
    assert_eq!(created["retcode"], 0);
    let task = created["data"]["task_id"].as_str().unwrap().to_owned();
    assert_eq!(sim.bind_tasks(), vec![task.clone()]);
    let poll = || call("/lite/poll_bind_result", json!({"task_id": task}));
    assert_eq!(poll().await["data"]["status"], 0);
    assert!(sim.bind_scan(&task));
    assert_eq!(poll().await["data"]["status"], 1);
    assert!(sim.bind_confirm(&task, SimApp::new("777000111", "bound-secret-Δ"), "OWNER_OPENID"));
    let done = poll().await;
    let data = &done["data"];
    assert_eq!(data["status"], 2);
    assert_eq!(data["bot_appid"], json!(777000111u64), "digits are sent as a JSON number");
    assert_eq!(data["user_openid"], "OWNER_OPENID");
    let blob = B64.decode(data["bot_encrypt_secret"].as_str().unwrap()).unwrap();
    let (iv, ct) = blob.split_at(12);
    let plain = Aes256Gcm::new_from_slice(&key)
        .unwrap()
        .decrypt(Nonce::from_slice(iv), ct)
        .expect("tag verifies");
    assert_eq!(String::from_utf8(plain).unwrap(), "bound-secret-Δ");
    let mut wrong = key;
    wrong[0] ^= 1;
    assert!(Aes256Gcm::new_from_slice(&wrong).unwrap().decrypt(Nonce::from_slice(iv), ct).is_err());

    let tok = fetch_token(&sim, "777000111", "bound-secret-Δ").await;
    assert!(tok["access_token"].is_string(), "bound credentials work: {tok}");

    let unknown = call("/lite/poll_bind_result", json!({"task_id": "nope"})).await;
    assert_eq!(unknown["retcode"], 1001);
    let second = call("/lite/create_bind_task", json!({"key": B64.encode(key)})).await;
    let t2 = second["data"]["task_id"].as_str().unwrap().to_owned();
    assert!(sim.bind_expire(&t2));
    assert!(!sim.bind_scan(&t2), "an expired task cannot be scanned");
    assert_eq!(call("/lite/poll_bind_result", json!({"task_id": t2})).await["data"]["status"], 3);
}

// ---------------------------------------------------------------- control API

#[tokio::test]
async fn control_api_injects_and_reports() {
    let sim = QqSim::start(QqSimConfig::default()).await.unwrap();
    let base = sim.api_base();
    let r = http()
        .post(format!("{base}/_sim/apps"))
        .json(&json!({"app_id": "55", "secret": "z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let tok = fetch_token(&sim, "55", "z").await["access_token"].as_str().unwrap().to_owned();
    let (mut ws, _) = Ws::ready(&sim, &tok).await;
    let inj: Value = http()
        .post(format!("{base}/_sim/inject/c2c"))
        .json(&json!({"app_id": "55", "user_openid": "U1", "content": "via control"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let f = ws.frame().await;
    assert_eq!(f["id"], inj["event_id"]);
    assert_eq!(f["d"]["content"], "via control");
    let stats: Value = http()
        .get(format!("{base}/_sim/stats?app_id=55"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (stats["identifies"].as_u64(), stats["open_connections"].as_u64()),
        (Some(1), Some(1))
    );
    http()
        .post(format!("{base}/_sim/fault/close"))
        .json(&json!({"app_id": "55", "code": 4009}))
        .send()
        .await
        .unwrap();
    assert_eq!(ws.close_code().await, 4009);
}

#[tokio::test(start_paused = true)]
async fn rotation_sends_op7_every_period_then_closes_4009() {
    let sim = sim_with(QqSimConfig {
        rotation_every: Some(Duration::from_secs(30 * 60)),
        heartbeat_interval: Duration::from_secs(3600),
        ..Default::default()
    })
    .await;
    let tok = sim.issue_token(APP).unwrap();
    let (mut ws, _) = Ws::ready(&sim, &tok).await;
    assert_eq!(ws.frame().await, json!({"op": 7}));
    assert_eq!(ws.close_code().await, 4009);
    // Judge by the server's own send times (the client may observe op 7 late
    // under a paused clock).
    let log = sim.gateway_log();
    let at = |pred: &dyn Fn(&pincer_sim::qq::RecordedFrame) -> bool| {
        log.iter()
            .find(|f| f.direction == pincer_sim::qq::Direction::ToClient && pred(f))
            .unwrap()
            .at
    };
    let ready = at(&|f| f.frame["t"] == "READY");
    let op7 = at(&|f| f.frame == json!({"op": 7}));
    let close = at(&|f| f.close_code == Some(4009));
    assert_eq!(op7 - ready, Duration::from_secs(1800));
    assert_eq!(close - op7, Duration::from_secs(1));
}

#[tokio::test]
async fn fatal_flags_close_4914_4915_and_banned_rest_gets_11265() {
    let sim = sim().await;
    let tok = token(&sim).await;
    let (mut ws, _) = Ws::ready(&sim, &tok).await;
    sim.set_fatal(APP, Some(pincer_sim::qq::FatalFlag::Delisted));
    assert_eq!(ws.close_code().await, 4914, "open sockets are closed at once");
    let mut ws = Ws::open(&sim).await;
    ws.identify(&tok, Intents::GROUP_AND_C2C_EVENT.bits(), [0, 1]).await;
    assert_eq!(ws.close_code().await, 4914);
    sim.set_fatal(APP, Some(pincer_sim::qq::FatalFlag::Banned));
    let mut ws = Ws::open(&sim).await;
    ws.identify(&tok, Intents::GROUP_AND_C2C_EVENT.bits(), [0, 1]).await;
    assert_eq!(ws.close_code().await, 4915);
    let (_, body) =
        post(&sim, &tok, "/v2/users/U1/messages", json!({"content": "x", "msg_type": 0})).await;
    assert_eq!(body["code"], 11265);
    sim.set_fatal(APP, None);
    let (_, ready) = Ws::ready(&sim, &tok).await;
    assert_eq!(ready["s"], 1);
}

#[tokio::test]
async fn op9_mode_answers_an_unknown_resume_with_invalid_session_false_then_closes() {
    let sim = sim_with(QqSimConfig {
        invalid_resume: pincer_sim::qq::InvalidResumeMode::OpInvalidSession,
        op9_close_delay: Duration::from_millis(20),
        ..Default::default()
    })
    .await;
    let tok = token(&sim).await;
    let mut ws = Ws::open(&sim).await;
    ws.resume(&tok, "gone", 3).await;
    assert_eq!(ws.frame().await, json!({"op": 9, "d": false}));
    assert!(matches!(ws.next().await, Got::Closed(Some(_))), "closed after the delay");

    let (mut ws, _) = Ws::ready(&sim, &tok).await;
    sim.invalid_session(APP, false);
    assert_eq!(ws.frame().await, json!({"op": 9, "d": false}));
    assert_eq!(ws.close_code().await, 4006);
    assert!(sim.session_seq(&sim.session_id(APP).unwrap()).is_none(), "session dropped");
}

#[tokio::test]
async fn server_heartbeat_and_zombie_mode() {
    let sim = sim().await;
    let tok = token(&sim).await;
    let (mut ws, _) = Ws::ready(&sim, &tok).await;
    sim.send_server_heartbeat(APP);
    assert_eq!(ws.frame().await, json!({"op": 1, "d": 1}));
    sim.set_ack_heartbeats(APP, false);
    ws.send(json!({"op": 1, "d": 1})).await;
    // Let the server read the heartbeat before the marker is dispatched.
    for _ in 0..50 {
        let logged = sim.gateway_log().iter().any(|f| {
            f.direction == pincer_sim::qq::Direction::ToServer
                && f.frame == json!({"op": 1, "d": 1})
                && f.app_id == APP
        });
        if logged {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sim.inject_c2c_message(APP, "U1", "marker");
    let next = ws.frame().await;
    assert_eq!(next["t"], "C2C_MESSAGE_CREATE", "no op 11 before the marker: {next}");
    let log = sim.gateway_log();
    assert!(log.iter().any(|f| f.direction == pincer_sim::qq::Direction::ToServer
        && f.frame == json!({"op": 1, "d": 1})
        && f.app_id == APP));
}
