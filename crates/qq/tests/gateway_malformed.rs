//! The shard against a hand-scripted gateway that sends what the simulator
//! never would: garbage frames, a bad Hello, binary frames.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pincer_qq::gateway::{IdentifyQueue, Shard, ShardConfig};
use pincer_qq::model::{Event, Intents};
use pincer_qq::token::{Credentials, Secret, TokenManager};
use pincer_sim::qq::{QqSim, QqSimConfig, SimApp};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn malformed_frames_are_counted_and_skipped_and_a_bad_hello_reconnects() {
    let sim = QqSim::start(QqSimConfig::default()).await.unwrap();
    sim.add_app(SimApp {
        app_id: "7".into(),
        secret: "seven-secret".into(),
        granted_intents: Intents::GROUP_AND_C2C_EVENT,
        markdown: false,
    });
    let tokens = Arc::new(TokenManager::new(
        reqwest::Client::new(),
        sim.token_url(),
        Credentials { app_id: "7".into(), secret: Secret::new("seven-secret") },
    ));

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        // First connection: a Hello with interval 0 must be refused.
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        ws.send(Message::Text(r#"{"op":10,"d":{"heartbeat_interval":0}}"#.into())).await.unwrap();
        let _ = ws.next().await;
        // Second connection: a good session with garbage in between.
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        ws.send(Message::Text(r#"{"op":10,"d":{"heartbeat_interval":45000}}"#.into()))
            .await
            .unwrap();
        let identify = ws.next().await.unwrap().unwrap().into_text().unwrap().to_string();
        let identify: serde_json::Value = serde_json::from_str(&identify).unwrap();
        assert_eq!(identify["op"], 2);
        assert!(identify["d"]["token"].as_str().unwrap().starts_with("QQBot "));
        for junk in [
            Message::Text("not json at all".into()),
            Message::Text(r#"{"op":0,"t":"C2C_MESSAGE_CREATE","d":{}}"#.into()),
            Message::Binary(vec![0xff, 0xfe, 0x00].into()),
        ] {
            ws.send(junk).await.unwrap();
        }
        ws.send(Message::Text(
            r#"{"op":0,"s":1,"t":"READY","id":"READY:1","d":{"version":1,"session_id":"S","user":{"id":"1","username":"bot","bot":true},"shard":[0,1]}}"#.into(),
        ))
        .await
        .unwrap();
        // A binary frame with a valid dispatch is accepted (as botrs does).
        ws.send(Message::Binary(
            br#"{"op":0,"s":2,"t":"C2C_MESSAGE_CREATE","id":"C2C_MESSAGE_CREATE:a","d":{"id":"M1","content":"hi","author":{"user_openid":"U"}}}"#.to_vec().into(),
        ))
        .await
        .unwrap();
        // An unknown event type is handed out raw.
        ws.send(Message::Text(
            r#"{"op":0,"s":3,"t":"SOMETHING_NEW","id":"SOMETHING_NEW:b","d":{"x":[1,2]}}"#.into(),
        ))
        .await
        .unwrap();
        // Keep the socket open until the client goes.
        while let Some(Ok(_)) = ws.next().await {}
    });

    let mut config = ShardConfig::new(url, Intents::GROUP_AND_C2C_EVENT);
    config.backoff.steps = vec![Duration::from_millis(10)];
    // The failed first connection took an identify slot; don't wait 5 s for the next.
    config.identify_queue = IdentifyQueue::with_period(1, Duration::from_millis(50));
    let mut shard = Shard::spawn(config, tokens);
    let wait = Duration::from_secs(10);
    let ready = tokio::time::timeout(wait, shard.next_event()).await.unwrap().unwrap();
    assert!(matches!(ready.event, Event::Ready(_)));
    let msg = tokio::time::timeout(wait, shard.next_event()).await.unwrap().unwrap();
    assert_eq!(msg.event.message_id(), Some("M1"));
    let unknown = tokio::time::timeout(wait, shard.next_event()).await.unwrap().unwrap();
    let Event::Unknown(u) = unknown.event else { panic!("{unknown:?}") };
    assert_eq!((u.kind.as_str(), u.data["x"][1].as_i64()), ("SOMETHING_NEW", Some(2)));

    let health = shard.health().borrow().clone();
    // Bad Hello, non-JSON text, dispatch without `s`, non-UTF-8 binary.
    assert_eq!(health.malformed_frames, 4, "{health:#?}");
    assert_eq!(health.disconnects, 1);
    shard.shutdown().await;
    server.await.unwrap();
}
