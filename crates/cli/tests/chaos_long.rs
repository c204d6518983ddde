//! Chaos, long form (by hand, not in CI): `PINCER_CHAOS_LONG=1`, for
//! `PINCER_CHAOS_MINUTES` minutes (default 5). The real `pincer run` against
//! the simulators while, over and over: op 7 + 4009 rotations, 4009 closes,
//! socket drops, lost heartbeat ACKs (a zombie connection), token expiry,
//! model-provider 429 and 500 storms, and kill -9 + restart of the daemon
//! mid-conversation. Once, half-way, the data folder's disk (a 32 MB tmpfs,
//! when mounting is permitted) fills up: Pincer must say so (log, status,
//! events; English and Chinese) and hold on to what it took, and once space
//! is freed answer everything. At the end every inbound message has exactly
//! one answer in the QQ simulator's record.
//!
//! ```sh
//! PINCER_CHAOS_LONG=1 PINCER_CHAOS_MINUTES=5 cargo test --release -p pincer-cli \
//!   --test chaos_long -- --nocapture
//! ```

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{answer_counts, app, kill9, Env};
use pincer_sim::provider::Fault;
use tokio::process::Child;
use tokio::time::Instant;

const APP: &str = "5200077";
const SECRET: &str = "chaos-long-secret-9Zq4Lm2x";
/// Users (and groups) messages rotate over: each stays far below the
/// per-user rate limit (20 a minute).
const USERS: usize = 40;

/// A tmpfs mounted over a folder, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if out.status.success() {
            Ok(Tmpfs(dir.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A small deterministic generator (xorshift), seeded from the clock; the
/// seed is printed so a run can be repeated.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `pincer run` with its output appended to `log` (never a pipe nobody reads).
fn spawn_daemon(env: &Env, log: &Path) -> Child {
    let file = || std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let mut cmd = env.cmd(&["run"]);
    cmd.stdout(Stdio::from(file())).stderr(Stdio::from(file()));
    cmd.spawn().unwrap()
}

/// Copies the daemon's log out of the temporary home, which a failing test
/// deletes, and says where.
fn keep_log(log: &Path) {
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join("chaos-long-failed.log");
    if std::fs::copy(log, &kept).is_ok() {
        eprintln!("the whole log of pincer run: {}", kept.display());
    }
}

async fn status(env: &Env) -> Option<serde_json::Value> {
    let (ok, out, _) = env.run(&["status", "--json"], "").await;
    ok.then(|| serde_json::from_str(&out).ok()).flatten()
}

#[derive(Default, Debug)]
struct Counts {
    injected: usize,
    c2c: usize,
    group: usize,
    while_down: usize,
    while_disk_full: usize,
    rotations: u32,
    closes_4009: u32,
    drops: u32,
    zombies: u32,
    token_expiries: u32,
    storms_429: u32,
    storms_500: u32,
    provider_faults: u32,
    kills: u32,
}

/// Every injected message, by `msg_id`.
#[derive(Default)]
struct Book {
    expected: Vec<String>,
    texts: HashMap<String, String>,
    counts: Counts,
}

impl Book {
    /// Injects one message: mostly private chats, every fifth an @ in a group.
    fn inject(&mut self, env: &Env, label: &str) {
        let n = self.counts.injected;
        self.counts.injected += 1;
        let text = format!("{label}-{n}");
        let injected = if n % 5 == 4 {
            self.counts.group += 1;
            let g = format!("GROUP_{}", (n / 5) % 8);
            env.qq.inject_group_at_message(APP, &g, &format!("MEMBER_{}", n % USERS), &text)
        } else {
            self.counts.c2c += 1;
            env.qq.inject_c2c_message(APP, &format!("USER_{}", n % USERS), &text)
        };
        let id = injected.msg_id.unwrap();
        let short: String = text.chars().take(24).collect();
        self.texts.insert(id.clone(), format!("{short} s={}", injected.seq));
        self.expected.push(id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_chaos_every_message_is_answered_exactly_once() {
    if std::env::var("PINCER_CHAOS_LONG").as_deref() != Ok("1") {
        println!("skipped: the long chaos run needs PINCER_CHAOS_LONG=1 (PINCER_CHAOS_MINUTES, default 5)");
        return;
    }
    let minutes: f64 =
        std::env::var("PINCER_CHAOS_MINUTES").ok().and_then(|m| m.parse().ok()).unwrap_or(5.0);
    let run_for = Duration::from_secs_f64(minutes * 60.0);
    let seed =
        std::env::var("PINCER_CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
                as u64
                | 1
        });
    println!("long chaos: {minutes} min, seed {seed} (PINCER_CHAOS_SEED repeats it)");
    let mut rng = Rng(seed);

    let mut env = Env::start().await;
    // The disk-full check reads the watchdog: measure often, warn below 1 MB.
    env.envs.push(("PINCER_WATCHDOG_INTERVAL_MS".into(), "500".into()));
    env.envs.push(("PINCER_WATCHDOG_MIN_FREE_MB".into(), "1".into()));
    let data_dir = env.home.path().join("data");
    let tmpfs = match Tmpfs::mount(&data_dir, "32m") {
        Ok(m) => Some(m),
        Err(e) => {
            println!("full-disk part skipped: cannot mount a tmpfs on the data folder ({e})");
            None
        }
    };
    env.qq.add_app(app(APP, SECRET));
    env.add_provider("chaos-key").await;
    let (ok, out, err) = env.add_bot("chaoslong", APP, SECRET).await;
    assert!(ok, "{out}{err}");
    let log = env.home.path().join("run.log");

    let mut book = Book::default();

    let mut daemon = spawn_daemon(&env, &log);
    env.wait_status("ready", |s| s["bots"][0]["state"] == "ready").await;
    let start = Instant::now();
    let mut next_fault = start + Duration::from_secs(3);
    let mut next_kill = start + Duration::from_secs(40);
    let mut zombie_until: Option<Instant> = None;
    let mut disk_full_done = tmpfs.is_none();
    let mut fault_kind = 0u64;

    while start.elapsed() < run_for {
        book.inject(&env, "m");
        tokio::time::sleep(Duration::from_millis(150 + rng.below(200))).await;
        let now = Instant::now();

        if zombie_until.is_some_and(|t| now >= t) {
            env.qq.set_ack_heartbeats(APP, true);
            zombie_until = None;
        }
        if now >= next_fault {
            next_fault = now + Duration::from_millis(2000 + rng.below(3000));
            // Every kind in turn, in a shuffled order per cycle of 8.
            fault_kind = (fault_kind + 1 + rng.below(3)) % 8;
            match fault_kind {
                0 => {
                    env.qq.send_reconnect(APP);
                    book.counts.rotations += 1;
                }
                1 => {
                    env.qq.close_sockets(APP, 4009);
                    book.counts.closes_4009 += 1;
                }
                2 | 3 => {
                    env.qq.drop_sockets(APP);
                    book.counts.drops += 1;
                }
                4 if zombie_until.is_none() => {
                    // No op 11 any more: Pincer must notice and reconnect.
                    env.qq.set_ack_heartbeats(APP, false);
                    zombie_until = Some(now + Duration::from_secs(4));
                    book.counts.zombies += 1;
                }
                5 => {
                    env.qq.expire_token(APP);
                    book.counts.token_expiries += 1;
                }
                6 => {
                    let n = 2 + rng.below(6) as u32;
                    env.model.fail_next(
                        n,
                        Fault::Status { status: 429, retry_after_secs: Some(1), body: None },
                    );
                    book.counts.storms_429 += 1;
                    book.counts.provider_faults += n;
                }
                _ => {
                    let n = 2 + rng.below(6) as u32;
                    env.model.fail_next(
                        n,
                        Fault::Status { status: 500, retry_after_secs: None, body: None },
                    );
                    book.counts.storms_500 += 1;
                    book.counts.provider_faults += n;
                }
            }
        }
        if now >= next_kill {
            next_kill = now + Duration::from_secs(30 + rng.below(30));
            // Killed mid-conversation: answers pending, events unseen.
            kill9(&daemon);
            let _ = daemon.wait().await;
            book.counts.kills += 1;
            for _ in 0..(2 + rng.below(4)) {
                book.inject(&env, "down");
                book.counts.while_down += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            daemon = spawn_daemon(&env, &log);
            env.wait_status("ready after restart", |s| s["bots"][0]["state"] == "ready").await;
        }
        if !disk_full_done && start.elapsed() >= run_for / 2 {
            disk_full_done = true;
            // Everything so far must survive the full disk.
            let before = book.expected.len();
            let filler = data_dir.join("filler");
            let events = env.cmd(&["events"]).spawn().unwrap();
            tokio::time::sleep(Duration::from_secs(1)).await;
            fill(&filler);
            println!("disk full at {:?}: {before} messages injected so far", start.elapsed());
            // Long texts (each ~20 KB in the store with its answer) until
            // SQLite must grow its files and hits the full disk (a big WAL
            // takes a while), then a few more.
            let long = "满".repeat(1800);
            let db_error = loop {
                book.inject(&env, &format!("full-{long}"));
                book.counts.while_disk_full += 1;
                tokio::time::sleep(Duration::from_millis(300)).await;
                let logged = std::fs::read_to_string(&log).unwrap();
                let line = logged.lines().find(|l| l.contains("cannot write to the database"));
                if let Some(line) = line {
                    break line.to_owned();
                }
                if book.counts.while_disk_full > 200 {
                    let odd: Vec<&str> = logged
                        .lines()
                        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                        .collect();
                    panic!("the store's failure is not logged; warnings: {odd:#?}");
                }
            };
            for _ in 0..5 {
                book.inject(&env, "full");
                book.counts.while_disk_full += 1;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            println!("log: {db_error}");
            assert!(db_error.contains("is the disk full") && db_error.contains("磁盘已满"));
            // The watchdog warns (events, log); the status shows the free space.
            let s = wait_for(&env, |s| {
                s["process"]["disk_free_bytes"].as_u64().is_some_and(|f| f < 1024 * 1024)
            })
            .await;
            println!("status while full: process = {}", s["process"]);
            tokio::time::sleep(Duration::from_secs(2)).await;
            kill9(&events);
            let out = events.wait_with_output().await.unwrap();
            let events_text = String::from_utf8_lossy(&out.stdout).into_owned();
            let warning = events_text
                .lines()
                .find(|l| l.contains(r#""kind":"disk""#))
                .unwrap_or_else(|| panic!("no disk warning event in: {events_text}"))
                .to_owned();
            println!("event: {warning}");
            assert!(warning.contains("free some space") && warning.contains("请清理空间"));
            // And a kill -9 while the disk is full: nothing taken may be lost.
            kill9(&daemon);
            let _ = daemon.wait().await;
            book.counts.kills += 1;
            daemon = spawn_daemon(&env, &log);
            tokio::time::sleep(Duration::from_secs(3)).await;
            std::fs::remove_file(&filler).unwrap();
            if let Ok(Some(code)) = daemon.try_wait() {
                // Not even the store could open: it says why and exits (a
                // service manager starts it again).
                let logged = std::fs::read_to_string(&log).unwrap_or_default();
                let last = logged.lines().last().unwrap_or_default().to_owned();
                println!("pincer run exited on the full disk ({code}): {last}");
                daemon = spawn_daemon(&env, &log);
            }
            println!("space freed at {:?}", start.elapsed());
            env.wait_status("ready after the full disk", |s| s["bots"][0]["state"] == "ready")
                .await;
            // Everything injected before the disk filled is answered now.
            let deadline = Instant::now() + Duration::from_secs(90);
            loop {
                let answers = answer_counts(&env.qq);
                let missing =
                    book.expected[..before].iter().filter(|id| !answers.contains_key(*id));
                let missing: Vec<&String> = missing.map(|id| &book.texts[id]).collect();
                if missing.is_empty() {
                    break;
                }
                if Instant::now() >= deadline {
                    keep_log(&log);
                    panic!("not answered after the full disk: {missing:?}");
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
    env.qq.set_ack_heartbeats(APP, true);

    // Wait until every message has an answer (or time runs out).
    let deadline = Instant::now() + Duration::from_secs(120);
    let answers = loop {
        let answers = answer_counts(&env.qq);
        if book.expected.iter().all(|id| answers.contains_key(id)) || Instant::now() > deadline {
            break answers;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // Give a doubled send time to show up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let answers_now = answer_counts(&env.qq);
    let lost: Vec<&String> = book
        .expected
        .iter()
        .filter(|id| !answers.contains_key(*id))
        .map(|id| &book.texts[id])
        .collect();
    let doubled: Vec<(&String, &usize)> = answers_now.iter().filter(|(_, n)| **n > 1).collect();
    let apologies = env.qq.sends().iter().filter(|s| s.body.to_string().contains("抱歉")).count();
    let s = status(&env).await.unwrap_or_default();
    println!(
        "ran {:?}: {:?}; answered {} of {} (apologies after provider storms: {apologies}); \
         identifies={} resumes={} connections={}; status: {}",
        start.elapsed(),
        book.counts,
        answers_now.len(),
        book.expected.len(),
        env.qq.identifies(APP),
        env.qq.resumes(APP),
        env.qq.connections(APP),
        s["bots"][0]
    );
    kill9(&daemon);
    let _ = daemon.wait().await;
    if !lost.is_empty() || !doubled.is_empty() {
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = logged.lines().rev().take(80).collect();
        eprintln!("last log lines:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        keep_log(&log);
    }
    assert!(
        lost.is_empty(),
        "{} of {} messages never answered: {lost:?}",
        lost.len(),
        book.expected.len()
    );
    assert!(doubled.is_empty(), "answered more than once: {doubled:?}");
    assert_eq!(answers_now.len(), book.expected.len());
    drop(tmpfs);
}

/// Fills the filesystem holding `path` with one file, up to the last byte.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    while f.write_all(&block).is_ok() {}
    let small = [0u8; 512];
    while f.write_all(&small).is_ok() {}
    let _ = f.sync_all();
}

async fn wait_for(env: &Env, f: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = status(env).await {
            if f(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "timed out; last status: {s}");
        }
        assert!(Instant::now() < deadline, "timed out waiting for the status");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
