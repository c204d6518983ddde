//! The gateway shard against the QQ simulator over real loopback WebSocket
//! and HTTP.
//!
//! These run on the real clock with short intervals (a 300 ms heartbeat, 10 ms
//! backoffs). tokio's paused clock cannot be used here: in a current-thread
//! runtime, socket readiness found while the runtime parks does not stop the
//! clock from auto-advancing to the next timer, so a heartbeat ACK already on
//! the wire arrives "after" the next beat is due. Time assertions are lower
//! bounds (a wait happened) with generous upper bounds.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use pincer_qq::gateway::{IdentifyQueue, Session, Shard, ShardConfig, ShardHealth, ShardState};
use pincer_qq::model::{CloseCode, Dispatch, Event, Intents};
use pincer_qq::token::{Credentials, Secret, TokenManager};
use pincer_sim::qq::{Direction, QqSim, QqSimConfig, SimApp};
use tokio::time::{sleep, timeout, Instant};

const APP: &str = "102030";
const SECRET: &str = "sim-secret-abcdef";

fn app() -> SimApp {
    SimApp {
        app_id: APP.into(),
        secret: SECRET.into(),
        granted_intents: Intents::GROUP_AND_C2C_EVENT | Intents::PUBLIC_GUILD_MESSAGES,
        markdown: false,
    }
}

async fn sim_with(config: QqSimConfig) -> QqSim {
    let sim = QqSim::start(config).await.expect("simulator starts");
    sim.add_app(app());
    sim
}

const BEAT: Duration = Duration::from_millis(300);

fn sim_config() -> QqSimConfig {
    QqSimConfig {
        heartbeat_interval: BEAT,
        reconnect_close_delay: Duration::from_millis(50),
        op9_close_delay: Duration::from_millis(50),
        ..QqSimConfig::default()
    }
}

async fn sim() -> QqSim {
    sim_with(sim_config()).await
}

fn tokens(sim: &QqSim) -> Arc<TokenManager> {
    Arc::new(TokenManager::new(
        reqwest::Client::new(),
        sim.token_url(),
        Credentials { app_id: APP.into(), secret: Secret::new(SECRET) },
    ))
}

fn config(sim: &QqSim) -> ShardConfig {
    let mut config = ShardConfig::new(sim.gateway_url(), Intents::GROUP_AND_C2C_EVENT);
    config.backoff.steps = [10, 20, 50, 100].into_iter().map(Duration::from_millis).collect();
    config.rate_limited_wait = Duration::from_millis(400);
    config.invalid_session_wait = (Duration::from_millis(100), Duration::from_millis(300));
    config.quick_disconnect = Duration::from_millis(100);
    config.quick_disconnect_pause = Duration::from_millis(500);
    config.handshake_timeout = Duration::from_secs(5);
    config.min_heartbeat_interval = Duration::from_millis(50);
    config.identify_queue = IdentifyQueue::with_period(1, Duration::from_millis(100));
    config
}

fn spawn(sim: &QqSim) -> Shard {
    Shard::spawn(config(sim), tokens(sim))
}

async fn wait_health(shard: &Shard, what: &str, f: impl Fn(&ShardHealth) -> bool) -> ShardHealth {
    let mut rx = shard.health();
    let waited =
        timeout(Duration::from_secs(20), rx.wait_for(|h| f(h))).await.map(|r| r.map(|h| h.clone()));
    match waited {
        Ok(Ok(h)) => h,
        _ => panic!("timed out waiting for: {what}; health: {:#?}", *shard.health().borrow()),
    }
}

async fn next(shard: &mut Shard) -> Dispatch {
    timeout(Duration::from_secs(20), shard.next_event())
        .await
        .expect("an event within 20 s")
        .expect("the shard is running")
}

/// Takes events for `span` of (virtual) time.
async fn collect_for(shard: &mut Shard, span: Duration) -> Vec<Dispatch> {
    let deadline = Instant::now() + span;
    let mut out = Vec::new();
    loop {
        tokio::select! {
            ev = shard.next_event() => match ev {
                Some(ev) => out.push(ev),
                None => return out,
            },
            _ = tokio::time::sleep_until(deadline) => return out,
        }
    }
}

fn message_ids(events: &[Dispatch]) -> Vec<String> {
    events.iter().filter_map(|d| d.event.message_id().map(str::to_owned)).collect()
}

fn assert_each_once(received: &[String], expected: &[String]) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in received {
        *counts.entry(id).or_default() += 1;
    }
    for id in expected {
        assert_eq!(counts.get(id.as_str()).copied(), Some(1), "{id} must arrive exactly once");
    }
    assert_eq!(received.len(), expected.len(), "no extra events: {received:?}");
}

async fn ready(shard: &mut Shard) {
    let first = next(shard).await;
    assert!(matches!(first.event, Event::Ready(_)), "first dispatch is READY: {first:?}");
    assert_eq!(first.seq, 1);
}

fn client_heartbeats(sim: &QqSim) -> Vec<(Instant, serde_json::Value)> {
    sim.gateway_log()
        .into_iter()
        .filter(|f| f.app_id == APP && f.direction == Direction::ToServer && f.frame["op"] == 1)
        .map(|f| (f.at, f.frame["d"].clone()))
        .collect()
}

#[tokio::test]
async fn identifies_receives_and_heartbeats_at_the_servers_interval() {
    let sim = sim().await;
    let mut shard = spawn(&sim);
    ready(&mut shard).await;
    let injected = sim.inject_c2c_message(APP, "USER_A", "你好");
    let got = next(&mut shard).await;
    assert_eq!(got.seq, 2);
    assert_eq!(got.event_id.as_deref(), Some(injected.event_id.as_str()));
    let Event::C2cMessageCreate(m) = &got.event else { panic!("{got:?}") };
    assert_eq!((m.content.as_str(), m.author.user_openid.as_str()), ("你好", "USER_A"));
    assert_eq!(Some(m.id.clone()), injected.msg_id);

    sleep(BEAT * 8).await;
    let beats = client_heartbeats(&sim);
    assert!(beats.len() >= 6, "{} heartbeats in 8 intervals", beats.len());
    let mut gaps: Vec<Duration> = beats.windows(2).map(|p| p[1].0 - p[0].0).collect();
    gaps.sort();
    // Beats are scheduled on a fixed grid, so even a busy machine keeps the median.
    let median = gaps[gaps.len() / 2];
    assert!(median.abs_diff(BEAT) < Duration::from_millis(60), "median gap {median:?}: {gaps:?}");
    assert!(gaps[0] > BEAT / 2, "no beat came early: {gaps:?}");
    assert_eq!(beats.last().unwrap().1, 2, "heartbeat carries the last seq");
    let health = shard.health().borrow().clone();
    assert_eq!(health.state, ShardState::Ready);
    assert_eq!(health.heartbeat_interval, Some(BEAT));
    assert!(health.heartbeat_rtts.len() >= 5);
    assert!(health.last_heartbeat_ack.is_some());
    assert_eq!((health.identifies, health.resumes), (1, 0));
    assert_eq!(sim.identifies(APP), 1);
}

#[tokio::test]
async fn a_heartbeat_without_ack_is_a_zombie_and_the_session_resumes() {
    let sim = sim().await;
    let mut shard = spawn(&sim);
    ready(&mut shard).await;
    sim.set_ack_heartbeats(APP, false);
    let before = sim.inject_c2c_message(APP, "U", "before");
    assert_eq!(message_ids(&[next(&mut shard).await]), vec![before.msg_id.clone().unwrap()]);
    wait_health(&shard, "zombie detected", |h| h.zombies == 1).await;
    sim.set_ack_heartbeats(APP, true);
    let during = sim.inject_c2c_message(APP, "U", "during");
    let h =
        wait_health(&shard, "resumed", |h| h.resumes == 1 && h.state == ShardState::Ready).await;
    assert_eq!(h.identifies, 1);
    let events = collect_for(&mut shard, BEAT * 2).await;
    assert_each_once(&message_ids(&events), &[during.msg_id.unwrap()]);
    assert_eq!((sim.identifies(APP), sim.resumes(APP)), (1, 1));
}

#[tokio::test]
async fn op7_reconnect_resumes_and_replays_missed_events_exactly_once() {
    let sim = sim().await;
    let mut shard = spawn(&sim);
    ready(&mut shard).await;
    let mut expected = Vec::new();
    for round in 0..5 {
        expected.push(sim.inject_c2c_message(APP, "U", &format!("a{round}")).msg_id.unwrap());
        sim.send_reconnect(APP);
        expected
            .push(sim.inject_group_at_message(APP, "G", "M", &format!("b{round}")).msg_id.unwrap());
        sleep(Duration::from_millis(30)).await;
        expected.push(sim.inject_c2c_message(APP, "U", &format!("c{round}")).msg_id.unwrap());
        wait_health(&shard, "resumed", |h| h.resumes == round + 1 && h.state == ShardState::Ready)
            .await;
    }
    let events = collect_for(&mut shard, BEAT * 2).await;
    assert_each_once(&message_ids(&events), &expected);
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in sequence order: {seqs:?}");
    assert_eq!((sim.identifies(APP), sim.resumes(APP)), (1, 5));
}

#[tokio::test]
async fn close_4009_and_dropped_sockets_resume_without_loss() {
    let sim = sim().await;
    let mut shard = spawn(&sim);
    ready(&mut shard).await;
    let mut expected = Vec::new();
    sim.close_sockets(APP, 4009);
    expected.push(sim.inject_c2c_message(APP, "U", "x").msg_id.unwrap());
    wait_health(&shard, "resume after 4009", |h| h.resumes == 1 && h.state == ShardState::Ready)
        .await;
    sim.drop_sockets(APP);
    expected.push(sim.inject_c2c_message(APP, "U", "y").msg_id.unwrap());
    let h = wait_health(&shard, "resume after drop", |h| {
        h.resumes == 2 && h.state == ShardState::Ready
    })
    .await;
    assert_eq!(h.last_close.as_ref().and_then(|c| c.code), None, "a drop has no close code");
    let events = collect_for(&mut shard, BEAT * 2).await;
    assert_each_once(&message_ids(&events), &expected);
    assert_eq!(sim.identifies(APP), 1);
}

#[tokio::test]
async fn close_4008_waits_the_rate_limit_backoff_then_resumes() {
    let sim = sim().await;
    let mut shard = spawn(&sim);
    ready(&mut shard).await;
    let closed_at = Instant::now();
    sim.close_sockets(APP, 4008);
    wait_health(&shard, "resumed", |h| h.resumes == 1 && h.state == ShardState::Ready).await;
    let waited = closed_at.elapsed();
    assert!(waited >= Duration::from_millis(400), "resumed after only {waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    let h = shard.health().borrow().clone();
    assert_eq!(h.last_close.unwrap().code, Some(CloseCode::RateLimited));
}

#[tokio::test]
async fn session_invalidating_closes_identify_again() {
    for code in [4006u16, 4007, 4900, 4902, 4913, 4001, 4002] {
        let sim = sim().await;
        let mut shard = spawn(&sim);
        ready(&mut shard).await;
        let first_session = sim.session_id(APP).unwrap();
        sim.close_sockets(APP, code);
        let h = wait_health(&shard, "identified again", |h| {
            h.identifies == 2 && h.state == ShardState::Ready
        })
        .await;
        assert_eq!(h.resumes, 0, "close {code} must not resume");
        assert_eq!(h.last_close.unwrap().code.map(CloseCode::as_u16), Some(code));
        assert_ne!(sim.session_id(APP).unwrap(), first_session);
        assert_eq!((sim.identifies(APP), sim.resumes(APP)), (2, 0), "close {code}");
        let ready2 = next(&mut shard).await;
        assert!(matches!(ready2.event, Event::Ready(_)));
        shard.shutdown().await;
    }
}

#[tokio::test]
async fn close_4004_refreshes_the_token_then_identifies() {
    let sim = sim().await;
    let mut shard = spawn(&sim);
    ready(&mut shard).await;
    let token_fetches =
        || sim.rest_log().iter().filter(|r| r.path.ends_with("getAppAccessToken")).count();
    assert_eq!(token_fetches(), 1);
    sim.expire_token(APP);
    sim.send_reconnect(APP);
    let h = wait_health(&shard, "identified with a new token", |h| {
        h.identifies == 2 && h.state == ShardState::Ready
    })
    .await;
    assert_eq!(h.last_close.unwrap().code, Some(CloseCode::AuthenticationFailed));
    assert_eq!(token_fetches(), 2, "exactly one refresh");
}

#[tokio::test]
async fn fatal_closes_stop_the_shard_and_explain_what_to_do() {
    for code in [4010u16, 4011, 4012, 4013, 4014, 4914, 4915] {
        let sim = sim().await;
        let mut shard = spawn(&sim);
        ready(&mut shard).await;
        sim.close_sockets(APP, code);
        let h = wait_health(&shard, "fatal", |h| h.state == ShardState::Fatal).await;
        let fatal = h.fatal.expect("a fatal reason");
        assert_eq!(fatal.close_code.map(CloseCode::as_u16), Some(code));
        assert!(!fatal.zh.is_empty() && !fatal.en.is_empty());
        assert_eq!(timeout(Duration::from_secs(5), shard.next_event()).await.unwrap(), None);
        sleep(BEAT * 3).await;
        assert_eq!(sim.connections(APP), 1, "close {code}: no reconnect loop");
    }
}

#[tokio::test]
async fn a_banned_or_delisted_bot_is_fatal_on_connect() {
    // Banned: the token endpoint already refuses (100007), before any Identify.
    let sim = sim().await;
    sim.set_fatal(APP, Some(pincer_sim::qq::FatalFlag::Banned));
    let mut shard = spawn(&sim);
    let h = wait_health(&shard, "fatal", |h| h.state == ShardState::Fatal).await;
    let fatal = h.fatal.unwrap();
    assert_eq!(fatal.close_code, None);
    assert!(fatal.zh.contains("封禁") && fatal.en.contains("banned"), "{fatal:?}");
    assert!(shard.next_event().await.is_none());
    assert_eq!(sim.identifies(APP), 0);

    // Delisted: a token is issued, the gateway closes 4914.
    let sim = sim_with(sim_config()).await;
    sim.set_fatal(APP, Some(pincer_sim::qq::FatalFlag::Delisted));
    let mut shard = spawn(&sim);
    let h = wait_health(&shard, "fatal", |h| h.state == ShardState::Fatal).await;
    let fatal = h.fatal.unwrap();
    assert_eq!(fatal.close_code, Some(CloseCode::BotDelisted));
    assert!(fatal.en.contains("sandbox"));
    assert!(shard.next_event().await.is_none());
    sleep(BEAT * 3).await;
    assert_eq!(sim.identifies(APP), 1, "no reconnect loop");
}

#[tokio::test]
async fn invalid_session_false_identifies_after_a_pause_true_resumes() {
    let sim = sim().await;
    let mut shard = spawn(&sim);
    ready(&mut shard).await;
    let at = Instant::now();
    sim.invalid_session(APP, false);
    wait_health(&shard, "identified", |h| h.identifies == 2 && h.state == ShardState::Ready).await;
    let waited = at.elapsed();
    assert!(waited >= Duration::from_millis(100) && waited <= Duration::from_secs(5), "{waited:?}");
    assert_eq!(sim.resumes(APP), 0);

    sim.invalid_session(APP, true);
    wait_health(&shard, "resumed", |h| h.resumes == 1 && h.state == ShardState::Ready).await;
    assert_eq!(sim.identifies(APP), 2);
}

#[tokio::test]
async fn a_restarted_process_resumes_the_saved_session() {
    let sim = sim().await;
    let mut shard = spawn(&sim);
    ready(&mut shard).await;
    let first = sim.inject_c2c_message(APP, "U", "one").msg_id.unwrap();
    assert_eq!(message_ids(&[next(&mut shard).await]), vec![first]);
    let saved: Session = shard.shutdown().await.expect("a session to save");
    assert_eq!(saved.sequence, 2, "shutdown after handling: the last dispatch counts as handled");
    // The session survives a trip through JSON (what the runtime writes to disk).
    let saved: Session = serde_json::from_str(&serde_json::to_string(&saved).unwrap()).unwrap();

    let missed: Vec<String> = (0..3)
        .map(|i| sim.inject_c2c_message(APP, "U", &format!("while down {i}")).msg_id.unwrap())
        .collect();
    sleep(BEAT).await;

    let mut config = config(&sim);
    config.session = Some(saved);
    let mut shard = Shard::spawn(config, tokens(&sim));
    let h =
        wait_health(&shard, "resumed", |h| h.resumes == 1 && h.state == ShardState::Ready).await;
    assert_eq!(h.identifies, 0);
    let events = collect_for(&mut shard, BEAT * 2).await;
    assert_each_once(&message_ids(&events), &missed);
    assert!(matches!(events.last().unwrap().event, Event::Resumed));
    assert_eq!((sim.identifies(APP), sim.resumes(APP)), (1, 1));
}

#[tokio::test]
async fn answers_a_server_heartbeat_at_once() {
    let sim = sim().await;
    let mut shard = spawn(&sim);
    ready(&mut shard).await;
    // Ask right after one of the client's own beats, so that the next one is
    // a whole interval away.
    let acks = shard.health().borrow().heartbeat_rtts.len();
    wait_health(&shard, "a beat", |h| h.heartbeat_rtts.len() > acks).await;
    let before = client_heartbeats(&sim).len();
    let asked = Instant::now();
    sim.send_server_heartbeat(APP);
    sleep(BEAT / 3).await;
    let beats = client_heartbeats(&sim);
    assert_eq!(beats.len(), before + 1, "one answer, no regular beat yet");
    assert!(beats.last().unwrap().0 - asked < BEAT / 3);
    assert_eq!(beats.last().unwrap().1, 1, "d = last seq (READY)");
}

#[tokio::test]
async fn redelivered_messages_are_handed_out_once() {
    let sim = sim().await;
    sim.set_duplicate_deliveries(true);
    let mut shard = spawn(&sim);
    ready(&mut shard).await;
    let ids: Vec<String> =
        (0..4).map(|i| sim.inject_c2c_message(APP, "U", &i.to_string()).msg_id.unwrap()).collect();
    let events = collect_for(&mut shard, BEAT * 2).await;
    assert_each_once(&message_ids(&events), &ids);
    assert_eq!(shard.health().borrow().duplicates_dropped, 4);
}

#[tokio::test]
async fn repeated_quick_disconnects_pause_the_reconnects() {
    let sim = sim().await;
    let mut config = config(&sim);
    config.quick_disconnect = Duration::from_secs(2);
    config.quick_disconnect_pause = Duration::from_millis(1500);
    let shard = Shard::spawn(config, tokens(&sim));
    let mut last_close = Instant::now();
    for round in 1..=3u64 {
        wait_health(&shard, "ready", |h| {
            h.state == ShardState::Ready && h.disconnects == round - 1
        })
        .await;
        last_close = Instant::now();
        sim.close_sockets(APP, 4000);
    }
    wait_health(&shard, "ready after the pause", |h| {
        h.state == ShardState::Ready && h.disconnects == 3
    })
    .await;
    let paused = last_close.elapsed();
    assert!(paused >= Duration::from_millis(1500), "paused only {paused:?}");
}

#[tokio::test]
async fn reconnects_the_server_asks_for_never_pause() {
    // The routine rotation (op 7, then 4009) and plain 4009 closes, in quick
    // succession: the server's instruction, not a flapping connection.
    let sim = sim().await;
    let mut config = config(&sim);
    config.quick_disconnect = Duration::from_secs(10);
    config.quick_disconnect_pause = Duration::from_secs(60);
    let shard = Shard::spawn(config, tokens(&sim));
    wait_health(&shard, "ready", |h| h.state == ShardState::Ready).await;
    let started = Instant::now();
    for round in 1..=6u64 {
        if round % 2 == 1 {
            sim.send_reconnect(APP);
        } else {
            sim.close_sockets(APP, 4009);
        }
        // wait_health gives up long before the 60 s pause would end.
        wait_health(&shard, "resumed", |h| h.state == ShardState::Ready && h.resumes == round)
            .await;
    }
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!((sim.identifies(APP), sim.resumes(APP)), (1, 6));
}

#[tokio::test]
async fn quick_drops_still_pause_when_routine_reconnects_come_between() {
    #[derive(Debug, Clone, Copy)]
    enum Fault {
        Drop,
        Op7,
        Close4009,
        /// op 7, then the Resume is refused (4004) for the expired token.
        ExpiredToken,
    }
    let sim = sim().await;
    let mut config = config(&sim);
    config.quick_disconnect = Duration::from_secs(10);
    config.quick_disconnect_pause = Duration::from_millis(2500);
    let shard = Shard::spawn(config, tokens(&sim));
    wait_health(&shard, "ready", |h| h.state == ShardState::Ready).await;
    let faults =
        [Fault::Drop, Fault::Op7, Fault::ExpiredToken, Fault::Drop, Fault::Close4009, Fault::Drop];
    let mut disconnects = 0;
    let mut took = Vec::new();
    for fault in faults {
        let at = Instant::now();
        match fault {
            Fault::Drop => sim.drop_sockets(APP),
            Fault::Op7 => sim.send_reconnect(APP),
            Fault::Close4009 => sim.close_sockets(APP, 4009),
            Fault::ExpiredToken => {
                sim.expire_token(APP);
                sim.send_reconnect(APP);
                disconnects += 1;
            }
        }
        disconnects += 1;
        wait_health(&shard, "ready again", |h| {
            h.state == ShardState::Ready && h.disconnects == disconnects
        })
        .await;
        took.push((fault, at.elapsed()));
    }
    let h = shard.health().borrow().clone();
    // The expired token's 4004 identifies with the new one (spec §3.4).
    assert_eq!((h.identifies, h.resumes), (2, 5), "{h:#?}");
    // The third quick drop pauses; nothing before it does.
    let (last, paused) = took.pop().unwrap();
    assert!(paused >= Duration::from_millis(2500), "{last:?} reconnected after only {paused:?}");
    assert!(took.iter().all(|(_, t)| *t < Duration::from_millis(2000)), "{took:?}");
}

#[tokio::test]
async fn an_expired_token_after_a_drop_is_refreshed_without_backing_off() {
    let sim = sim().await;
    let mut config = config(&sim);
    // A long first step would show: the drop is the first failure (no wait),
    // a 4004 counted as the second would wait 3.5–5 s.
    config.backoff.steps = vec![Duration::from_secs(5)];
    let mut shard = Shard::spawn(config, tokens(&sim));
    ready(&mut shard).await;
    sim.expire_token(APP);
    let dropped = Instant::now();
    sim.drop_sockets(APP);
    let h = wait_health(&shard, "identified with a new token", |h| {
        h.identifies == 2 && h.state == ShardState::Ready
    })
    .await;
    assert_eq!(h.last_close.unwrap().code, Some(CloseCode::AuthenticationFailed));
    assert!(dropped.elapsed() < Duration::from_secs(2), "took {:?}", dropped.elapsed());
}

#[tokio::test]
async fn a_new_token_refused_too_backs_off_and_pauses() {
    // Tokens from another server: every Identify closes with 4004, however
    // often the token is fetched again.
    let (sim, elsewhere) = (sim().await, sim().await);
    let mut config = config(&sim);
    config.backoff.steps = vec![Duration::from_millis(200)];
    config.backoff.jitter = 0.0;
    config.quick_disconnect_pause = Duration::from_secs(60);
    let shard = Shard::spawn(config, tokens(&elsewhere));
    sleep(Duration::from_millis(2500)).await;
    let h = shard.health().borrow().clone();
    assert_eq!(h.last_close.as_ref().unwrap().code, Some(CloseCode::AuthenticationFailed));
    // The first 4004 is routine (a fresh token is fetched, no wait); then the
    // refusals count: at once (the first failure), 200 ms, 200 ms, and the
    // pause after three quick disconnects. No tight loop.
    assert_eq!(h.disconnects, 4, "{h:#?}");
    assert_eq!(h.state, ShardState::Reconnecting);
}

#[tokio::test]
async fn a_slow_consumer_never_stops_the_heartbeat() {
    let sim = sim().await;
    let mut config = config(&sim);
    config.event_buffer = 4;
    let mut shard = Shard::spawn(config, tokens(&sim));
    ready(&mut shard).await;
    let ids: Vec<String> =
        (0..40).map(|i| sim.inject_c2c_message(APP, "U", &i.to_string()).msg_id.unwrap()).collect();
    // Nobody reads for ten heartbeat intervals.
    sleep(BEAT * 10).await;
    let h = shard.health().borrow().clone();
    assert_eq!((h.zombies, h.disconnects), (0, 0), "still connected");
    assert!(h.heartbeat_rtts.len() >= 8, "{h:#?}");
    let events = collect_for(&mut shard, BEAT * 2).await;
    assert_each_once(&message_ids(&events), &ids);
}

#[tokio::test]
async fn a_dispatch_in_hand_when_the_process_dies_comes_again_on_resume() {
    let sim = sim().await;
    let mut shard = spawn(&sim);
    ready(&mut shard).await;
    let first = sim.inject_c2c_message(APP, "U", "handled").msg_id.unwrap();
    let second = sim.inject_c2c_message(APP, "U", "in hand").msg_id.unwrap();
    assert_eq!(message_ids(&[next(&mut shard).await]), vec![first]);
    assert_eq!(message_ids(&[next(&mut shard).await]), vec![second.clone()]);
    // What a runtime saving once a second would have on disk when killed now:
    // the first message is handled, the second is not.
    let saved = shard.handle().session().unwrap();
    assert_eq!(saved.sequence, 2, "READY=1, first=2; the second (3) is in hand");
    drop(shard); // killed: no shutdown

    let mut config = config(&sim);
    config.session = Some(saved);
    let mut shard = Shard::spawn(config, tokens(&sim));
    let events = collect_for(&mut shard, BEAT * 2).await;
    assert_each_once(&message_ids(&events), &[second]);
}
