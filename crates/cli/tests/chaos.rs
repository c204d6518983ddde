//! Chaos, short form (runs in CI): the real `pincer run` against the
//! simulators while the QQ connection is rotated (op 7 + 4009) and dropped,
//! and the daemon itself is killed with SIGKILL and restarted, twice, in the
//! middle of conversations. Afterwards every inbound message has exactly one
//! answer in the simulator's record: nothing lost, nothing doubled.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{answer_counts, app, kill9, Env};

const APP: &str = "5200001";
const SECRET: &str = "chaos-secret-K3v8Qw1mZ0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_is_answered_exactly_once_through_rotations_drops_and_kill_9() {
    let env = Env::start().await;
    env.qq.add_app(app(APP, SECRET));
    env.add_provider("chaos-key").await;
    let (ok, out, err) = env.add_bot("chaosbot", APP, SECRET).await;
    assert!(ok, "{out}{err}");

    let mut expected: Vec<String> = Vec::new();
    let mut texts: HashMap<String, String> = HashMap::new();
    let mut daemon = env.cmd(&["run"]).spawn().unwrap();
    for round in 0..3 {
        env.wait_status("ready", |s| s["bots"][0]["state"] == "ready").await;
        for i in 0..12 {
            // A user per message: the per-user rate limit stays out of the way.
            let user = format!("USER_{round}_{i}");
            let injected = env.qq.inject_c2c_message(APP, &user, &format!("m{round}-{i}"));
            texts.insert(
                injected.msg_id.clone().unwrap(),
                format!("m{round}-{i} s={}", injected.seq),
            );
            expected.push(injected.msg_id.unwrap());
            match i {
                3 => env.qq.send_reconnect(APP),
                7 => env.qq.drop_sockets(APP),
                _ => {}
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        if round < 2 {
            // Killed mid-conversation: some answers are pending, some events unseen.
            kill9(&daemon);
            let _ = daemon.wait().await;
            // Messages that arrive while Pincer is down.
            for i in 0..3 {
                let user = format!("USER_down_{round}_{i}");
                let injected = env.qq.inject_c2c_message(APP, &user, &format!("down{round}-{i}"));
                texts.insert(
                    injected.msg_id.clone().unwrap(),
                    format!("down{round}-{i} s={}", injected.seq),
                );
                expected.push(injected.msg_id.unwrap());
            }
            daemon = env.cmd(&["run"]).spawn().unwrap();
        }
    }

    // Wait until every message has an answer (or time runs out).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let answers = loop {
        let answers = answer_counts(&env.qq);
        if expected.iter().all(|id| answers.contains_key(id))
            || tokio::time::Instant::now() > deadline
        {
            break answers;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Give a doubled send time to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let answers_now = answer_counts(&env.qq);
    let lost: Vec<&String> =
        expected.iter().filter(|id| !answers.contains_key(*id)).map(|id| &texts[id]).collect();
    let doubled: Vec<(&String, &usize)> = answers_now.iter().filter(|(_, n)| **n > 1).collect();
    if !lost.is_empty() {
        for f in env.qq.gateway_log() {
            let op = &f.frame["op"];
            if *op != 0 && *op != 1 && *op != 11 {
                eprintln!(
                    "conn={} {:?} {} close={:?}",
                    f.connection, f.direction, f.frame, f.close_code
                );
            }
        }
        eprintln!("identifies={} resumes={}", env.qq.identifies(APP), env.qq.resumes(APP));
        let dir = env.home.path().join("data/bots/chaosbot");
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            eprintln!("{}", e.path().display());
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} messages never answered: {lost:?}",
        lost.len(),
        expected.len()
    );
    assert!(doubled.is_empty(), "answered more than once: {doubled:?}");
    assert_eq!(answers_now.len(), expected.len());
    assert!(env.qq.resumes(APP) >= 2, "sessions were resumed across the kills");

    kill9(&daemon);
    let _ = daemon.wait().await;
}
