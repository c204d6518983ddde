//! The daemon watches itself: resident memory, CPU use, the log file's
//! size and the free space on the disk holding its data, once a minute by
//! default. The figures go into the status
//! (`"process"`); leaving a bound logs a warning and sends a
//! [`RuntimeEvent::Warning`] (once per excursion, not every tick).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::events::{EventBus, RuntimeEvent};

/// What the watchdog checks, and how often.
#[derive(Debug, Clone)]
pub struct WatchdogConfig {
    /// Time between measurements.
    pub interval: Duration,
    /// The log file to measure.
    pub log_file: Option<PathBuf>,
    /// Warn above this resident memory.
    pub max_rss_bytes: u64,
    /// Warn above this log size.
    pub max_log_bytes: u64,
    /// Warn above this CPU use (percent of one core, averaged over the interval).
    pub max_cpu_percent: f64,
    /// The data folder (the database) whose disk is measured.
    pub data_dir: Option<PathBuf>,
    /// Warn below this much free space on the data folder's disk.
    pub min_free_bytes: u64,
}

impl Default for WatchdogConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
            log_file: None,
            max_rss_bytes: 200 * 1024 * 1024,
            max_log_bytes: 100 * 1024 * 1024,
            max_cpu_percent: 90.0,
            data_dir: None,
            min_free_bytes: 50 * 1024 * 1024,
        }
    }
}

/// The process's figures, as the status reports them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProcessStats {
    /// Resident memory (Linux only).
    pub rss_bytes: Option<u64>,
    /// CPU use over the last interval, percent of one core (Linux only).
    pub cpu_percent: Option<f64>,
    /// Size of the log file.
    pub log_bytes: Option<u64>,
    /// Free space on the data folder's disk (Unix only).
    pub disk_free_bytes: Option<u64>,
}

/// Free space for unprivileged writes on the disk holding `dir` (Unix only).
pub fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    #[cfg(unix)]
    {
        let out = std::process::Command::new("df").arg("-Pk").arg(dir).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let kib: u64 = text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()?;
        Some(kib * 1024)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

/// Resident set size from `/proc/self/statm`.
pub fn rss_bytes() -> Option<u64> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// CPU time used so far (user + system), from `/proc/self/stat`.
pub fn cpu_time() -> Option<Duration> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the `(comm)`, which may hold spaces: utime is field 14,
    // stime field 15 (1-based), i.e. 12th and 13th after the `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // USER_HZ is 100 on every Linux Pincer runs on.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Measures every `config.interval` until `cancel`; the first figures are
/// there at once.
pub fn spawn(
    config: WatchdogConfig,
    events: EventBus,
    cancel: CancellationToken,
) -> watch::Receiver<ProcessStats> {
    let (tx, rx) = watch::channel(ProcessStats {
        rss_bytes: rss_bytes(),
        cpu_percent: None,
        log_bytes: log_size(&config),
        disk_free_bytes: config.data_dir.as_deref().and_then(free_bytes),
    });
    tokio::spawn(async move {
        let mut last_cpu = cpu_time().map(|c| (c, Instant::now()));
        let mut over = [false; 4];
        let mut tick = tokio::time::interval(config.interval);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            let now_cpu = cpu_time().map(|c| (c, Instant::now()));
            let cpu_percent = match (last_cpu, now_cpu) {
                (Some((c0, t0)), Some((c1, t1))) => {
                    let wall = t1.duration_since(t0).as_secs_f64();
                    (wall > 0.0).then(|| c1.saturating_sub(c0).as_secs_f64() / wall * 100.0)
                }
                _ => None,
            };
            last_cpu = now_cpu;
            let stats = ProcessStats {
                rss_bytes: rss_bytes(),
                cpu_percent,
                log_bytes: log_size(&config),
                disk_free_bytes: config.data_dir.as_deref().and_then(free_bytes),
            };
            check(&config, &stats, &events, &mut over);
            tx.send_replace(stats);
        }
    });
    rx
}

fn log_size(config: &WatchdogConfig) -> Option<u64> {
    config.log_file.as_ref().and_then(|p| std::fs::metadata(p).ok()).map(|m| m.len())
}

const MB: f64 = 1024.0 * 1024.0;

/// Warns once when a figure goes over its bound (again after it came back).
fn check(config: &WatchdogConfig, stats: &ProcessStats, events: &EventBus, over: &mut [bool; 4]) {
    let dir = config.data_dir.as_deref().map(|d| d.display().to_string()).unwrap_or_default();
    let checks: [(Option<bool>, &'static str, String, String); 4] = [
        (
            stats.rss_bytes.map(|r| r > config.max_rss_bytes),
            "rss",
            format!(
                "Pincer uses {:.0} MB of memory (bound {:.0} MB); restart it if this keeps growing",
                stats.rss_bytes.unwrap_or(0) as f64 / MB,
                config.max_rss_bytes as f64 / MB
            ),
            format!(
                "Pincer 占用内存 {:.0} MB（上限 {:.0} MB）；如持续增长请重启。",
                stats.rss_bytes.unwrap_or(0) as f64 / MB,
                config.max_rss_bytes as f64 / MB
            ),
        ),
        (
            stats.log_bytes.map(|l| l > config.max_log_bytes),
            "log_size",
            format!(
                "the log file is {:.0} MB (bound {:.0} MB); delete or rotate it (logrotate with copytruncate)",
                stats.log_bytes.unwrap_or(0) as f64 / MB,
                config.max_log_bytes as f64 / MB
            ),
            format!(
                "日志文件已有 {:.0} MB（上限 {:.0} MB）；请删除或轮转（logrotate 使用 copytruncate）。",
                stats.log_bytes.unwrap_or(0) as f64 / MB,
                config.max_log_bytes as f64 / MB
            ),
        ),
        (
            stats.cpu_percent.map(|c| c > config.max_cpu_percent),
            "cpu",
            format!(
                "Pincer used {:.0}% CPU over the last interval (bound {:.0}%)",
                stats.cpu_percent.unwrap_or(0.0),
                config.max_cpu_percent
            ),
            format!(
                "Pincer 最近 CPU 占用 {:.0}%（上限 {:.0}%）。",
                stats.cpu_percent.unwrap_or(0.0),
                config.max_cpu_percent
            ),
        ),
        (
            stats.disk_free_bytes.map(|f| f < config.min_free_bytes),
            "disk",
            format!(
                "the disk holding {dir} has {:.1} MB free (bound {:.0} MB): free some space, or messages cannot be stored and wait",
                stats.disk_free_bytes.unwrap_or(0) as f64 / MB,
                config.min_free_bytes as f64 / MB
            ),
            format!(
                "{dir} 所在磁盘仅剩 {:.1} MB（下限 {:.0} MB）：请清理空间，否则消息无法保存，只能等待。",
                stats.disk_free_bytes.unwrap_or(0) as f64 / MB,
                config.min_free_bytes as f64 / MB
            ),
        ),
    ];
    for (i, (is_over, kind, detail, detail_zh)) in checks.into_iter().enumerate() {
        let is_over = is_over.unwrap_or(false);
        if is_over && !over[i] {
            tracing::warn!(kind, "{detail}");
            events.send(RuntimeEvent::Warning { kind, detail, detail_zh });
        }
        over[i] = is_over;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn measures_and_warns_once_per_excursion() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("pincer.log");
        std::fs::write(&log, vec![b'x'; 2048]).unwrap();
        let events = EventBus::new();
        let mut rx_events = events.subscribe();
        let cancel = CancellationToken::new();
        let mut stats = spawn(
            WatchdogConfig {
                interval: Duration::from_millis(20),
                log_file: Some(log.clone()),
                max_log_bytes: 1024,
                ..WatchdogConfig::default()
            },
            events,
            cancel.clone(),
        );
        stats.changed().await.unwrap();
        let s = stats.borrow().clone();
        assert_eq!(s.log_bytes, Some(2048));
        if cfg!(target_os = "linux") {
            assert!(s.rss_bytes.unwrap() > 1024 * 1024, "{s:?}");
            assert!(s.cpu_percent.is_some());
        }
        let RuntimeEvent::Warning { kind, detail, .. } = rx_events.recv().await.unwrap() else {
            panic!("a warning")
        };
        assert_eq!(kind, "log_size");
        assert!(detail.contains("rotate"), "{detail}");
        // Still over: no second warning.
        stats.changed().await.unwrap();
        stats.changed().await.unwrap();
        assert!(rx_events.try_recv().is_err());
        cancel.cancel();
    }
}
