//! `pincer-sim load`: drives the real `pincer run` daemon with the QQ and
//! model-provider simulators and measures it from the outside.
//!
//! One run:
//!
//! 1. starts a [`QqSim`] (logs off, send rate limit out of the way) and a
//!    [`ProviderSim`] whose model answers after a fixed latency;
//! 2. writes a config for `bots` bots into a temporary `PINCER_HOME` (secrets
//!    through `PINCER_SECRET_*`, so no keyring is needed) and spawns `pincer run`;
//! 3. waits until every bot has a READY session, lets the daemon idle for
//!    `idle_secs` and samples its RSS;
//! 4. injects `GROUP_AT_MESSAGE_CREATE` events round-robin over
//!    `bots × groups` groups at `rate` per second for `duration` seconds,
//!    sampling RSS every 50 ms;
//! 5. waits for the replies (at most `drain_secs`), and reports lost and
//!    doubled answers, the runtime overhead per message, RSS and CPU time.
//!
//! **Runtime overhead** of a message = (when its reply reached the QQ
//! simulator − when it was injected) − the model time the provider simulator
//! *measured* for that message's call(s). The measured time, not the
//! configured latency, is subtracted because tokio's timer rounds sleeps up to
//! the next millisecond. What remains is everything else: the simulator
//! writing the event to the socket, the daemon reading and decoding it,
//! recording it, the history, the HTTP round trip to the model, the outbox
//! commit, the REST send — and any time the message waited in a queue.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::provider::ProviderSim;
use crate::qq::{QqSim, QqSimConfig, SimApp};

/// What to run. The defaults are those of the `pincer-sim load` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadConfig {
    /// The `pincer` binary [default: `pincer` next to this executable].
    #[arg(long = "pincer", value_name = "PATH")]
    pub pincer: Option<PathBuf>,
    /// Bots (QQ apps), each with its own gateway connection.
    #[arg(long, default_value_t = 1)]
    pub bots: usize,
    /// Groups per bot; every group is one conversation.
    #[arg(long, default_value_t = 10)]
    pub groups: usize,
    /// Messages injected per second over all bots and groups (0: none, for
    /// measuring the idle daemon).
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Seconds of injection (with `--rate 0`: seconds of idling measured).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// The simulated model's fixed thinking time per call, in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub model_latency_ms: u64,
    /// Seconds the daemon idles after every bot is connected, before the
    /// idle RSS sample.
    #[arg(long, default_value_t = 3.0)]
    pub idle_secs: f64,
    /// Seconds to wait for outstanding replies after the last injection.
    #[arg(long, default_value_t = 30.0)]
    pub drain_secs: f64,
    /// Keep the temporary PINCER_HOME (its path is in the report) for inspection.
    #[arg(long)]
    pub keep_home: bool,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            pincer: None,
            bots: 1,
            groups: 10,
            rate: 100.0,
            duration: 10.0,
            model_latency_ms: 50,
            idle_secs: 3.0,
            drain_secs: 30.0,
            keep_home: false,
        }
    }
}

/// Why a load run could not be carried out (a run that finds lost or doubled
/// answers is not an error: the report says so).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A setting is out of range.
    #[error("invalid settings: {0}")]
    Settings(String),
    /// A simulator could not listen.
    #[error("cannot start a simulator: {0}")]
    Simulator(#[source] std::io::Error),
    /// The temporary PINCER_HOME could not be prepared.
    #[error("cannot prepare the temporary PINCER_HOME: {0}")]
    Home(#[source] std::io::Error),
    /// The daemon could not be started.
    #[error("cannot start {}: {source}", path.display())]
    Spawn {
        /// The binary.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The daemon stopped on its own.
    #[error("pincer run exited early ({status}); the end of its output:\n{output}")]
    Exited {
        /// Its exit status.
        status: String,
        /// The end of its stdout and stderr.
        output: String,
    },
    /// Not every bot reached READY in time.
    #[error("only {connected} of {bots} bots connected within {secs} s; the end of pincer's output:\n{output}")]
    NotConnected {
        /// Bots with a READY session.
        connected: usize,
        /// Bots configured.
        bots: usize,
        /// How long it waited.
        secs: u64,
        /// The end of its stdout and stderr.
        output: String,
    },
}

/// p50 / p99 / max (and mean) of a set of durations, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Percentiles {
    /// `None` for an empty set.
    pub fn of(values: &mut [f64]) -> Option<Percentiles> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let rank = (q * values.len() as f64).ceil() as usize;
            values[rank.clamp(1, values.len()) - 1]
        };
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        Some(Percentiles { p50: at(0.50), p99: at(0.99), max: at(1.0), mean })
    }
}

/// The daemon's resident memory, in KiB (`VmRSS` of `/proc/PID/status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct RssKib {
    /// After every bot connected and `idle_secs` of idling.
    pub idle: u64,
    /// Largest sample (every 50 ms) from the first injection to the last reply.
    pub peak: u64,
    /// Two seconds after the last reply (or the end of the wait).
    pub after: u64,
}

/// CPU time the daemon used (`utime + stime` of `/proc/PID/stat`), in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct CpuSecs {
    /// From the start of the process until the bots were connected.
    pub startup: f64,
    /// During the idle period.
    pub idle: f64,
    /// From the first injection to the last reply (or the end of the wait).
    pub load: f64,
    /// `load` divided by its wall time: 1.0 is one core fully busy.
    pub load_cores: f64,
}

/// How late a thread of the load tool woke from 10 ms sleeps while messages
/// were injected and answered: the machine's own scheduling delays (other
/// processes, the hypervisor, and the daemon and both simulators sharing the
/// cores). A message in flight during such a stall has it added to its
/// overhead, so these say how much of the overhead's tail is the machine.
/// (Sleeps of 10 ms, not 1: a thousand wake-ups a second would compete for
/// the cores with what is measured.)
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Stalls {
    /// Sleeps measured.
    pub probes: u64,
    /// Sleeps that woke more than 1 ms late.
    pub over_1ms: u64,
    /// Sleeps that woke more than 5 ms late.
    pub over_5ms: u64,
    /// The latest wake-up, in ms past the 10 ms asked for.
    pub worst_ms: f64,
}

/// A thread that measures [`Stalls`] until [`finish`](Self::finish).
struct StallProbe {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Stalls>>,
}

impl StallProbe {
    fn start() -> StallProbe {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("load-stall-probe".into())
            .spawn(move || {
                let mut stalls = Stalls::default();
                let asked = std::time::Duration::from_millis(10);
                while !stopped.load(Ordering::Relaxed) {
                    let before = std::time::Instant::now();
                    std::thread::sleep(asked);
                    let late = before.elapsed().saturating_sub(asked).as_secs_f64() * 1000.0;
                    stalls.probes += 1;
                    stalls.over_1ms += u64::from(late > 1.0);
                    stalls.over_5ms += u64::from(late > 5.0);
                    stalls.worst_ms = stalls.worst_ms.max(late);
                }
                stalls
            })
            .ok();
        StallProbe { stop, thread }
    }

    fn finish(mut self) -> Stalls {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or_default()
    }
}

impl Drop for StallProbe {
    /// A run that ends early (an error) stops its probe too.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What a load run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Bots.
    pub bots: usize,
    /// Groups per bot.
    pub groups: usize,
    /// Requested messages per second.
    pub rate: f64,
    /// Requested seconds of injection.
    pub duration_secs: f64,
    /// The simulated model's configured latency.
    pub model_latency_ms: u64,
    /// How the overhead was computed.
    pub overhead_basis: String,
    /// Seconds from spawning `pincer run` until every bot had a READY session.
    pub connect_secs: f64,
    /// Messages injected.
    pub injected: u64,
    /// Injected messages per second actually achieved by the generator.
    pub injected_per_sec: f64,
    /// Seconds from the first injection until the daemon had taken every
    /// message (each stored in its database, the point from which it is
    /// answered even after a crash); `None` if it had not by the end.
    pub taken_secs: Option<f64>,
    /// Messages answered (at least once).
    pub answered: u64,
    /// Answered messages per second, from the first injection to the last reply.
    pub answered_per_sec: f64,
    /// Replies received in total (a doubled answer counts twice).
    pub replies: u64,
    /// Messages never answered within the wait.
    pub lost: u64,
    /// Messages answered more than once.
    pub duplicated: u64,
    /// Milliseconds from the last injection to the last reply: a daemon that
    /// keeps up answers its last message about one model latency later.
    pub tail_ms: f64,
    /// Runtime overhead per answered message (see the module docs).
    pub overhead_ms: Option<Percentiles>,
    /// The overhead's first leg: injection until the simulated model started
    /// on the message (the daemon reading, storing and queueing it, loading
    /// the history and sending the model request).
    pub to_model_ms: Option<Percentiles>,
    /// The overhead's second leg: the model's last byte until the reply
    /// reached the QQ simulator (reading the answer, committing it with its
    /// outbox entry, the reply ledger, the REST send).
    pub from_model_ms: Option<Percentiles>,
    /// Injection to reply, model time included.
    pub end_to_end_ms: Option<Percentiles>,
    /// Model time measured by the provider simulator per message.
    pub model_ms: Option<Percentiles>,
    /// Resident memory of the daemon.
    pub rss_kib: RssKib,
    /// OS threads of the daemon: idle and largest sample during the load.
    pub threads_idle: u64,
    /// Largest thread count sampled during the load.
    pub threads_peak: u64,
    /// CPU time of the daemon.
    pub cpu_secs: CpuSecs,
    /// The machine's own scheduling delays during the load.
    pub stalls: Stalls,
    /// The temporary PINCER_HOME when it was kept.
    pub home: Option<PathBuf>,
    /// Every message's own times, in injection order (left out of the JSON
    /// report; [`Report::messages_csv`] writes them out).
    #[serde(skip)]
    pub messages: Vec<MessageTiming>,
}

/// One injected message's times, for finding out which messages make the
/// tail and whether the same ones do run after run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MessageTiming {
    /// Its number: the `k` of the `load-k` marker it carries, in injection order.
    pub index: usize,
    /// The bot it was sent to.
    pub bot: usize,
    /// The group (of that bot) it was sent in.
    pub group: usize,
    /// Milliseconds from the first injection to its own.
    pub injected_ms: f64,
    /// The overhead's first leg (see [`Report::to_model_ms`]); `None` when
    /// the model never saw it.
    pub to_model_ms: Option<f64>,
    /// Model time measured by the provider simulator.
    pub model_ms: f64,
    /// The overhead's second leg (see [`Report::from_model_ms`]).
    pub from_model_ms: Option<f64>,
    /// Its runtime overhead; `None` when it was not answered.
    pub overhead_ms: Option<f64>,
    /// Replies it got (1 when all is well).
    pub replies: usize,
}

impl Report {
    /// True when every message was answered exactly once.
    pub fn clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.answered == self.injected
    }

    /// [`Report::messages`] as CSV, one line per message under a header;
    /// empty cells where a time is missing.
    pub fn messages_csv(&self) -> String {
        let cell = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_default();
        let mut csv = String::from(
            "index,bot,group,injected_ms,to_model_ms,model_ms,from_model_ms,overhead_ms,replies\n",
        );
        for m in &self.messages {
            csv += &format!(
                "{},{},{},{:.3},{},{:.3},{},{},{}\n",
                m.index,
                m.bot,
                m.group,
                m.injected_ms,
                cell(m.to_model_ms),
                m.model_ms,
                cell(m.from_model_ms),
                cell(m.overhead_ms),
                m.replies
            );
        }
        csv
    }

    /// A human-readable table.
    pub fn table(&self) -> String {
        let ms = |p: &Option<Percentiles>| match p {
            Some(p) => {
                format!("{:>9.3} {:>9.3} {:>9.3} {:>9.3}", p.p50, p.p99, p.max, p.mean)
            }
            None => format!("{:>9} {:>9} {:>9} {:>9}", "-", "-", "-", "-"),
        };
        let mib = |k: u64| k as f64 / 1024.0;
        let mut t = String::new();
        t += &format!(
            "pincer load: {} bots × {} groups, {} msg/s for {} s, model latency {} ms\n",
            self.bots, self.groups, self.rate, self.duration_secs, self.model_latency_ms
        );
        t += &format!("  connected in        {:.2} s\n", self.connect_secs);
        t += &format!(
            "  injected            {} ({:.1}/s achieved)\n",
            self.injected, self.injected_per_sec
        );
        match self.taken_secs {
            Some(secs) if secs > 0.0 => {
                t += &format!(
                    "  taken (stored)      {} in {:.2} s ({:.1}/s)\n",
                    self.injected,
                    secs,
                    self.injected as f64 / secs
                )
            }
            _ => t += "  taken (stored)      not all by the end\n",
        }
        t += &format!(
            "  answered            {} ({:.1}/s), replies {}, tail {:.1} ms\n",
            self.answered, self.answered_per_sec, self.replies, self.tail_ms
        );
        t += &format!("  lost                {}\n", self.lost);
        t += &format!("  duplicated          {}\n", self.duplicated);
        t += &format!("  {:<20}{:>9} {:>9} {:>9} {:>9}\n", "ms", "p50", "p99", "max", "mean");
        t += &format!("  {:<20}{}\n", "runtime overhead", ms(&self.overhead_ms));
        t += &format!("  {:<20}{}\n", "  to the model", ms(&self.to_model_ms));
        t += &format!("  {:<20}{}\n", "  model to reply", ms(&self.from_model_ms));
        t += &format!("  {:<20}{}\n", "end to end", ms(&self.end_to_end_ms));
        t += &format!("  {:<20}{}\n", "model (measured)", ms(&self.model_ms));
        t += &format!(
            "  RSS                 idle {:.1} MiB, peak {:.1} MiB, after {:.1} MiB\n",
            mib(self.rss_kib.idle),
            mib(self.rss_kib.peak),
            mib(self.rss_kib.after)
        );
        t += &format!(
            "  threads             idle {}, peak {}\n",
            self.threads_idle, self.threads_peak
        );
        t += &format!(
            "  CPU                 startup {:.2} s, idle {:.2} s, load {:.2} s ({:.2} cores)\n",
            self.cpu_secs.startup, self.cpu_secs.idle, self.cpu_secs.load, self.cpu_secs.load_cores
        );
        t += &format!(
            "  machine stalls      10 ms sleeps woke > 1 ms late {}×, > 5 ms late {}×, worst {:.1} ms (of {})\n",
            self.stalls.over_1ms, self.stalls.over_5ms, self.stalls.worst_ms, self.stalls.probes
        );
        t += &format!("  overhead basis      {}\n", self.overhead_basis);
        if let Some(home) = &self.home {
            t += &format!("  PINCER_HOME kept    {}\n", home.display());
        }
        t
    }
}

/// AppID of bot `i`.
fn app_id(i: usize) -> String {
    format!("{}", 7_100_000 + i)
}

fn bot_name(i: usize) -> String {
    format!("load{i}")
}

fn group_id(bot: usize, group: usize) -> String {
    format!("LOADGROUP_{bot}_{group}")
}

/// The bot and group message `k` goes to: round-robin over every group of
/// every bot, so consecutive messages go to different bots.
fn placement(k: usize, cfg: &LoadConfig) -> (usize, usize) {
    let pair = k % (cfg.bots * cfg.groups);
    (pair % cfg.bots, pair / cfg.bots)
}

/// The marker a message carries, so the provider's timing can be matched to it.
fn marker(k: usize) -> String {
    format!("load-{k}")
}

/// The message number in text holding a [`marker`] (the last one).
fn parse_marker(text: &str) -> Option<usize> {
    let at = text.rfind("load-")?;
    let digits: String = text[at + 5..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The `pincer` binary next to the running executable.
fn default_pincer() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.with_file_name(format!("pincer{}", std::env::consts::EXE_SUFFIX))
}

fn write_config(
    home: &Path,
    cfg: &LoadConfig,
    qq: &QqSim,
    model: &ProviderSim,
) -> std::io::Result<()> {
    let mut text = format!(
        "version = 1\n\n[settings]\nlanguage = \"en\"\n\n[[provider]]\nid = \"sim\"\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"sim-model\"\n",
        model.base_url()
    );
    for i in 0..cfg.bots {
        // An owner is set so no pairing code is issued; `!none` keeps the
        // bundled skills out, so the prompt and tools are the runtime's own.
        text += &format!(
            "\n[[bot]]\nname = \"{}\"\napp_id = \"{}\"\napi_base = \"{}\"\ntoken_url = \"{}\"\nprovider = \"sim\"\nowner = \"LOAD_OWNER\"\nskills = [\"!none\"]\n",
            bot_name(i),
            app_id(i),
            qq.api_base(),
            qq.token_url()
        );
    }
    std::fs::create_dir_all(home)?;
    std::fs::write(home.join("config.toml"), text)
}

/// `VmRSS` and `Threads` of `/proc/PID/status`.
fn proc_status(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("Threads:")?))
}

/// `utime + stime` of `/proc/PID/stat`, in clock ticks.
fn proc_cpu_ticks(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after its ')' are fixed.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux we know).
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

fn tail_of(path: &Path, bytes: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let from = text.len().saturating_sub(bytes);
    String::from_utf8_lossy(&text[from..]).into_owned()
}

/// The daemon and where its output goes.
struct Daemon {
    child: Child,
    pid: u32,
    output: PathBuf,
}

impl Daemon {
    fn output_tail(&self) -> String {
        tail_of(&self.output, 4000)
    }

    fn check_running(&mut self) -> Result<(), LoadError> {
        match self.child.try_wait() {
            Ok(Some(status)) => {
                Err(LoadError::Exited { status: status.to_string(), output: self.output_tail() })
            }
            _ => Ok(()),
        }
    }

    /// SIGTERM, then SIGKILL when it has not stopped within 10 s.
    async fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .stderr(Stdio::null())
            .status();
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.is_err() {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
    }
}

/// RSS / thread samples taken in the background.
#[derive(Default)]
struct Peaks {
    rss: std::sync::atomic::AtomicU64,
    threads: std::sync::atomic::AtomicU64,
}

/// Runs one load and reports what it measured.
pub async fn run(cfg: &LoadConfig) -> Result<Report, LoadError> {
    if cfg.bots == 0 || cfg.groups == 0 {
        return Err(LoadError::Settings("--bots and --groups must be at least 1".into()));
    }
    let valid = |v: f64| v.is_finite() && v >= 0.0;
    if !valid(cfg.rate) || !valid(cfg.duration) {
        return Err(LoadError::Settings("--rate and --duration must be ≥ 0".into()));
    }
    let qq = QqSim::start(QqSimConfig {
        // Pincer sends one reply per message; the platform's 100/s send
        // limit per app would be the bottleneck, not the daemon.
        message_qps: u32::MAX,
        keep_logs: false,
        ..QqSimConfig::default()
    })
    .await
    .map_err(LoadError::Simulator)?;
    let model = ProviderSim::start().await.map_err(LoadError::Simulator)?;
    model.set_latency(Duration::from_millis(cfg.model_latency_ms));
    model.set_record_requests(false);
    // A zero-latency model answers at once; its streaming time would count
    // as model time anyway (see `CallTiming::model_time`).
    model.set_stream_pause(Duration::ZERO);
    let api_key = "load-sim-key";
    model.set_api_key(Some(api_key));

    let home_dir =
        tempfile::Builder::new().prefix("pincer-load-").tempdir().map_err(LoadError::Home)?;
    let home = home_dir.path().to_path_buf();
    write_config(&home, cfg, &qq, &model).map_err(LoadError::Home)?;
    let mut command = Command::new(cfg.pincer.clone().unwrap_or_else(default_pincer));
    command
        .arg("run")
        .env("PINCER_HOME", &home)
        .env("LANG", "en_US.UTF-8")
        .env("PINCER_SECRET_PROVIDER_SIM_API_KEY", api_key)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for i in 0..cfg.bots {
        let secret = format!("load-secret-{i}");
        qq.add_app(SimApp::new(app_id(i), secret.clone()));
        command.env(format!("PINCER_SECRET_BOT_LOAD{i}_APP_SECRET"), secret);
    }
    let output = home.join("pincer-run.out");
    let out_file = std::fs::File::create(&output).map_err(LoadError::Home)?;
    let err_file = out_file.try_clone().map_err(LoadError::Home)?;
    command.stdout(out_file).stderr(err_file);
    let spawned = Instant::now();
    let path = cfg.pincer.clone().unwrap_or_else(default_pincer);
    let child = command.spawn().map_err(|source| LoadError::Spawn { path, source })?;
    let pid = child.id().unwrap_or_default();
    let mut daemon = Daemon { child, pid, output };

    let store = home.join("data").join("pincer.sqlite3");
    let result = measure(cfg, &qq, &model, &mut daemon, spawned, store).await;
    daemon.stop().await;
    qq.shutdown();
    model.shutdown();
    let mut report = result?;
    if cfg.keep_home {
        report.home = Some(home_dir.keep());
    }
    Ok(report)
}

async fn measure(
    cfg: &LoadConfig,
    qq: &QqSim,
    model: &ProviderSim,
    daemon: &mut Daemon,
    spawned: Instant,
    store: PathBuf,
) -> Result<Report, LoadError> {
    let pid = daemon.pid;
    let apps: Vec<String> = (0..cfg.bots).map(app_id).collect();
    // 1. Every bot connected: a READY session with a socket attached.
    let connect_limit = Duration::from_secs(60);
    loop {
        daemon.check_running()?;
        let connected = apps
            .iter()
            .filter(|a| qq.session_id(a).is_some() && qq.open_connections(a) > 0)
            .count();
        if connected == apps.len() {
            break;
        }
        if spawned.elapsed() > connect_limit {
            return Err(LoadError::NotConnected {
                connected,
                bots: apps.len(),
                secs: connect_limit.as_secs(),
                output: daemon.output_tail(),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect_secs = spawned.elapsed().as_secs_f64();
    let ticks = clock_ticks();
    let cpu = |t: Option<u64>| t.unwrap_or_default() as f64 / ticks;
    let cpu_connected = cpu(proc_cpu_ticks(pid));

    // 2. Idle.
    tokio::time::sleep(Duration::from_secs_f64(cfg.idle_secs)).await;
    daemon.check_running()?;
    let (rss_idle, threads_idle) = proc_status(pid).unwrap_or_default();
    let cpu_idle_end = cpu(proc_cpu_ticks(pid));

    // 3. Load, with a sampler for the peaks.
    let peaks = Arc::new(Peaks::default());
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peaks, sampling) = (peaks.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                if let Some((rss, threads)) = proc_status(pid) {
                    peaks.rss.fetch_max(rss, Ordering::Relaxed);
                    peaks.threads.fetch_max(threads, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let total = (cfg.rate * cfg.duration).round() as usize;
    let intake = watch_intake(store, total as i64, sampling.clone());
    let mut injected_at: Vec<Instant> = Vec::with_capacity(total);
    let mut msg_ids: HashMap<String, usize> = HashMap::with_capacity(total);
    let mut replies = Replies::new(total);
    qq.reserve_messages(total);
    let probe = StallProbe::start();
    let start = Instant::now();
    if total == 0 {
        // Idle measurement: the daemon is just connected for `duration`.
        tokio::time::sleep(Duration::from_secs_f64(cfg.duration)).await;
    }
    while injected_at.len() < total {
        // Everything due by now goes out at once: tokio's timer has 1 ms
        // granularity, far coarser than the gap between messages at high rates.
        let due = ((start.elapsed().as_secs_f64() * cfg.rate).floor() as usize + 1).min(total);
        while injected_at.len() < due {
            let k = injected_at.len();
            let (bot, group) = placement(k, cfg);
            // A member sends at most 20 messages, so Pincer's per-user rate
            // limit (20 a minute by default) never answers with a refusal.
            let member = format!("LOADMEMBER_{}", k / 20);
            let at = Instant::now();
            let injected =
                qq.inject_group_at_message(&apps[bot], &group_id(bot, group), &member, &marker(k));
            injected_at.push(at);
            if let Some(id) = injected.msg_id {
                msg_ids.insert(id, k);
            }
        }
        if injected_at.len() < total {
            // Replies are taken as they come: collecting thousands at the
            // end would hold the simulator's lock while it answers the last
            // messages, and add that to their overhead.
            replies.collect(qq, &msg_ids);
            let next = start + Duration::from_secs_f64(injected_at.len() as f64 / cfg.rate);
            tokio::time::sleep_until(next).await;
        }
    }
    let last_inject = injected_at.last().copied().unwrap_or(start);
    let inject_secs = last_inject.duration_since(start).as_secs_f64();

    // 4. Replies: until every message has one, or `drain_secs` passed.
    let drain_until = Instant::now() + Duration::from_secs_f64(cfg.drain_secs);
    loop {
        replies.collect(qq, &msg_ids);
        if replies.answered == total || Instant::now() > drain_until {
            break;
        }
        daemon.check_running()?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answered = replies.answered;
    let load_end =
        replies.at.iter().filter_map(|r| r.first().copied()).max().unwrap_or(last_inject);
    let load_end = load_end.max(last_inject);
    let cpu_load_end = cpu(proc_cpu_ticks(pid));
    let stalls = probe.finish();
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let all_taken = intake.join().ok().flatten();
    let rss_peak = peaks.rss.load(Ordering::Relaxed).max(rss_idle);
    let threads_peak = peaks.threads.load(Ordering::Relaxed).max(threads_idle);

    // 5. A doubled answer has a moment to show up; then the memory that stays.
    tokio::time::sleep(Duration::from_secs(2)).await;
    replies.collect(qq, &msg_ids);
    let replies = replies.at;
    daemon.check_running()?;
    let (rss_after, _) = proc_status(pid).unwrap_or_default();

    // The model time per message, as the provider simulator measured it.
    // With the first call's start and the last call's end, the overhead
    // splits into the legs before and after the model.
    let mut model_time: Vec<Duration> = vec![Duration::ZERO; total];
    let mut model_span: Vec<Option<(Instant, Instant)>> = vec![None; total];
    for t in model.timings() {
        if let Some(k) = parse_marker(&t.last_user_text).filter(|k| *k < total) {
            model_time[k] += t.model_time;
            let (start, end) = (t.at, t.at + t.model_time);
            model_span[k] = Some(match model_span[k] {
                Some((s, e)) => (s.min(start), e.max(end)),
                None => (start, end),
            });
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut overhead = Vec::with_capacity(total);
    let mut end_to_end = Vec::with_capacity(total);
    let mut model_ms = Vec::with_capacity(total);
    let (mut to_model, mut from_model) = (Vec::new(), Vec::new());
    let mut messages = Vec::with_capacity(total);
    for (k, r) in replies.iter().enumerate() {
        let (bot, group) = placement(k, cfg);
        let mut message = MessageTiming {
            index: k,
            bot,
            group,
            injected_ms: ms(injected_at[k].duration_since(start)),
            to_model_ms: model_span[k]
                .map(|(s, _)| ms(s.saturating_duration_since(injected_at[k]))),
            model_ms: ms(model_time[k]),
            from_model_ms: None,
            overhead_ms: None,
            replies: r.len(),
        };
        if let Some(first) = r.iter().min() {
            let e2e = first.saturating_duration_since(injected_at[k]);
            end_to_end.push(ms(e2e));
            model_ms.push(ms(model_time[k]));
            overhead.push(ms(e2e) - ms(model_time[k]));
            message.overhead_ms = Some(ms(e2e) - ms(model_time[k]));
            if let Some((start, end)) = model_span[k] {
                to_model.push(ms(start.saturating_duration_since(injected_at[k])));
                let after = ms(first.saturating_duration_since(end));
                from_model.push(after);
                message.from_model_ms = Some(after);
            }
        }
        messages.push(message);
    }
    let replies_total: usize = replies.iter().map(Vec::len).sum();
    let duplicated = replies.iter().filter(|r| r.len() > 1).count();
    let load_secs = load_end.duration_since(start).as_secs_f64();
    let cpu_load = cpu_load_end - cpu_idle_end;
    Ok(Report {
        bots: cfg.bots,
        groups: cfg.groups,
        rate: cfg.rate,
        duration_secs: cfg.duration,
        model_latency_ms: cfg.model_latency_ms,
        overhead_basis: "reply at the QQ sim − injection − model time measured by the provider sim for that message".into(),
        connect_secs,
        injected: total as u64,
        injected_per_sec: if inject_secs > 0.0 { total as f64 / inject_secs } else { 0.0 },
        taken_secs: all_taken.map(|t| t.saturating_duration_since(start).as_secs_f64()),
        answered: answered as u64,
        answered_per_sec: if load_secs > 0.0 { answered as f64 / load_secs } else { 0.0 },
        replies: replies_total as u64,
        lost: (total - answered) as u64,
        duplicated: duplicated as u64,
        tail_ms: ms(load_end.saturating_duration_since(last_inject)),
        overhead_ms: Percentiles::of(&mut overhead),
        to_model_ms: Percentiles::of(&mut to_model),
        from_model_ms: Percentiles::of(&mut from_model),
        end_to_end_ms: Percentiles::of(&mut end_to_end),
        model_ms: Percentiles::of(&mut model_ms),
        rss_kib: RssKib { idle: rss_idle, peak: rss_peak, after: rss_after },
        threads_idle,
        threads_peak,
        cpu_secs: CpuSecs {
            startup: cpu_connected,
            idle: cpu_idle_end - cpu_connected,
            load: cpu_load,
            load_cores: if load_secs > 0.0 { cpu_load / load_secs } else { 0.0 },
        },
        stalls,
        home: None,
        messages,
    })
}

/// The replies seen so far, per message, read from the QQ simulator's record
/// of sends with a cursor.
struct Replies {
    /// When each message's replies reached the simulator.
    at: Vec<Vec<Instant>>,
    /// Messages with at least one reply.
    answered: usize,
    /// Sends already read.
    cursor: usize,
}

impl Replies {
    fn new(total: usize) -> Replies {
        Replies { at: vec![Vec::new(); total], answered: 0, cursor: 0 }
    }

    /// Reads the sends recorded since the last call.
    fn collect(&mut self, qq: &QqSim, msg_ids: &HashMap<String, usize>) {
        for send in qq.sends_since(self.cursor) {
            self.cursor += 1;
            let Some(&k) = send.msg_id.as_ref().and_then(|id| msg_ids.get(id)) else { continue };
            if self.at[k].is_empty() {
                self.answered += 1;
            }
            self.at[k].push(send.at);
        }
    }
}

/// Watches the daemon's store, read-only, until it holds `total` inbound
/// messages (the table's largest rowid: the home is fresh and nothing is
/// deleted during a run) or `running` is cleared; returns when that was.
fn watch_intake(
    store: PathBuf,
    total: i64,
    running: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Option<Instant>> {
    std::thread::spawn(move || {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(&store, flags).ok()?;
        let _ = conn.busy_timeout(Duration::from_secs(1));
        while running.load(Ordering::Relaxed) {
            let taken: Option<i64> =
                conn.query_row("SELECT max(rowid) FROM inbound", [], |r| r.get(0)).ok().flatten();
            if total > 0 && taken.unwrap_or(0) >= total {
                return Some(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_inside_other_text() {
        assert_eq!(parse_marker(&marker(4711)), Some(4711));
        assert_eq!(parse_marker(&format!("[LOADMEMBER_3]: {}", marker(12))), Some(12));
        assert_eq!(parse_marker("nothing"), None);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = Percentiles::of(&mut v).unwrap();
        assert_eq!((p.p50, p.p99, p.max), (50.0, 99.0, 100.0));
        assert!(Percentiles::of(&mut []).is_none());
    }

    #[test]
    fn proc_readers_see_this_process() {
        let pid = std::process::id();
        let (rss, threads) = proc_status(pid).unwrap();
        assert!(rss > 0 && threads > 0);
        assert!(proc_cpu_ticks(pid).is_some());
    }
}
