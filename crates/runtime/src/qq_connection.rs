//! One QQ bot's connection as the runtime runs it: credentials checked up
//! front, shards planned from `/gateway/bot`, gateway sessions saved so the
//! next start resumes, the reply ledger on disk, and every shard's dispatches
//! merged into one stream.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pincer_qq::gateway::{plan_shards, Session, Shard, ShardHandle, ShardHealth};
use pincer_qq::http::{ApiError, RestClient, PRODUCTION_API_BASE, SANDBOX_API_BASE};
use pincer_qq::model::{BotUser, Dispatch};
use pincer_qq::outbound::Replier;
use pincer_qq::reply::{ReplyLedger, ReplyPolicy};
use pincer_qq::token::{Credentials, Secret, TokenManager, DEFAULT_TOKEN_URL};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::{BotConfig, QqEnvironment};

/// A saved gateway session older than this is not resumed: the platform's
/// resume window is "shortly after the disconnect" (OpenClaw uses 5 min).
pub const SESSION_MAX_AGE: Duration = Duration::from_secs(5 * 60);

/// How often a running connection saves a changed sequence number (at most).
/// A new session id is saved at once: until it is on disk, a killed process
/// could only identify again, and the events QQ buffered for the session
/// while it was down would be lost.
const SESSION_SAVE_EVERY: Duration = Duration::from_secs(1);

/// How often the saver looks for changes (in memory; cheap).
const SESSION_CHECK_EVERY: Duration = Duration::from_millis(50);

/// Bytes a saved session is padded to, so that the next save can overwrite
/// the file in place when the disk is full (see [`save_session`]).
const SESSION_FILE_LEN: usize = 512;

/// Why a bot could not connect. Each says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// QQ refused the credentials or the bot, or could not be reached.
    #[error("bot {bot}: {source}")]
    Qq {
        /// Bot name.
        bot: String,
        /// What QQ said.
        #[source]
        source: ApiError,
    },
    /// The session-start quota is used up.
    #[error("bot {bot}: {detail}")]
    Quota {
        /// Bot name.
        bot: String,
        /// What to do.
        detail: String,
        /// The same in Chinese.
        detail_zh: String,
    },
    /// The bot's data folder could not be used.
    #[error("bot {bot}: cannot use {path}: {source}")]
    Storage {
        /// Bot name.
        bot: String,
        /// The folder or file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl ConnectError {
    /// The same in Chinese.
    pub fn explain_zh(&self) -> String {
        match self {
            Self::Qq { bot, source } => format!("机器人 {bot}：{}", source.explain_zh()),
            Self::Quota { bot, detail_zh, .. } => format!("机器人 {bot}：{detail_zh}"),
            Self::Storage { bot, path, source } => {
                format!("机器人 {bot}：无法使用 {}：{source}", path.display())
            }
        }
    }
}

/// The QQ REST base and token URL of a bot: its overrides, else the
/// defaults of its environment.
pub fn endpoints(
    environment: QqEnvironment,
    api_base: Option<&str>,
    token_url: Option<&str>,
) -> (String, String) {
    let api_base = api_base.map(str::to_owned).unwrap_or_else(|| {
        match environment {
            QqEnvironment::Production => PRODUCTION_API_BASE,
            QqEnvironment::Sandbox => SANDBOX_API_BASE,
        }
        .to_owned()
    });
    (api_base, token_url.unwrap_or(DEFAULT_TOKEN_URL).to_owned())
}

/// A REST client for the bot `app_id` at the given endpoints.
pub fn rest_client(
    http: reqwest::Client,
    (api_base, token_url): (String, String),
    app_id: &str,
    secret: Secret,
) -> RestClient {
    let tokens = Arc::new(TokenManager::new(
        http.clone(),
        token_url,
        Credentials { app_id: app_id.to_owned(), secret },
    ));
    RestClient::new(http, api_base, tokens)
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedSession {
    session: Session,
    saved_at_unix: u64,
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn session_path(dir: &Path, shard: u32) -> PathBuf {
    dir.join(format!("gateway-session-{shard}.json"))
}

/// The saved session of `shard`, unless missing, unreadable or stale.
fn load_session(dir: &Path, shard: u32) -> Option<Session> {
    let text = std::fs::read_to_string(session_path(dir, shard)).ok()?;
    let saved: SavedSession = serde_json::from_str(&text).ok()?;
    let age = unix_now().saturating_sub(saved.saved_at_unix);
    (age <= SESSION_MAX_AGE.as_secs()).then_some(saved.session)
}

/// Saves `session` for the next start. Normally a new file renamed over the
/// old one (whole even across a power cut). On a full disk, where a new file
/// cannot be written, the old file is overwritten in place, which needs no
/// new space: a session that is not saved is worse than one that a power
/// cut might tear, because on a full disk the runtime stops taking events
/// and QQ buffers them for this very session; a restart that resumed an
/// older one would never see them. (A torn file does not parse: the next
/// start identifies afresh, as with no file.)
fn save_session(dir: &Path, shard: u32, session: &Session) -> std::io::Result<()> {
    let saved = SavedSession { session: session.clone(), saved_at_unix: unix_now() };
    let mut bytes = serde_json::to_vec(&saved).expect("serialises");
    if bytes.len() < SESSION_FILE_LEN {
        bytes.resize(SESSION_FILE_LEN, b' ');
    }
    let path = session_path(dir, shard);
    let tmp = path.with_extension("json.tmp");
    let replaced = std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, &path));
    match replaced {
        Err(e) if e.kind() == std::io::ErrorKind::StorageFull => {
            let _ = std::fs::remove_file(&tmp);
            overwrite_in_place(&path, &bytes).map_err(|_| e)
        }
        other => other,
    }
}

fn overwrite_in_place(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.write_all(bytes)?;
    // Cuts an older, longer content's tail (shrinking never needs space).
    file.set_len(bytes.len() as u64)
}

/// One dispatch for the runtime to handle. The shard it came from fetches
/// its next dispatch only after this one is [`done`](Self::done) (or
/// dropped), so the session saved on disk never moves past a dispatch that
/// was not handled: a killed process gets it again on resume.
#[derive(Debug)]
pub struct Delivery {
    /// The dispatch.
    pub dispatch: Dispatch,
    done: oneshot::Sender<()>,
}

impl Delivery {
    /// Marks the dispatch as handled (stored durably by the consumer).
    pub fn done(self) {
        let _ = self.done.send(());
    }
}

/// A connected QQ bot.
#[derive(Debug)]
pub struct QqConnection {
    name: String,
    user: BotUser,
    replier: Arc<Replier>,
    shards: Vec<ShardHandle>,
    health: Vec<watch::Receiver<ShardHealth>>,
    pumps: Vec<JoinHandle<Option<Session>>>,
    saver: JoinHandle<()>,
    dir: PathBuf,
}

impl QqConnection {
    /// Checks the credentials (a token and `/users/@me`), plans the shards,
    /// and starts them — resuming sessions saved in `data_dir` by an earlier
    /// run. Dispatches of all shards arrive on the returned receiver; mark
    /// each [`Delivery::done`] once it is handled.
    pub async fn connect(
        bot: &BotConfig,
        secret: Secret,
        data_dir: &Path,
        http: reqwest::Client,
    ) -> Result<(QqConnection, mpsc::Receiver<Delivery>), ConnectError> {
        let dir = data_dir.join("bots").join(&bot.name);
        let storage = |source, path: &Path| ConnectError::Storage {
            bot: bot.name.clone(),
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(|e| storage(e, &dir))?;

        let endpoints =
            endpoints(bot.environment, bot.api_base.as_deref(), bot.token_url.as_deref());
        let rest = rest_client(http, endpoints, &bot.app_id, secret);
        let tokens = rest.tokens().clone();
        let qq = |source| ConnectError::Qq { bot: bot.name.clone(), source };
        // Fail fast with QQ's own words on a wrong secret or a banned bot.
        let user = rest.me().await.map_err(qq)?;
        let gateway = rest.gateway_bot().await.map_err(qq)?;
        let plan = plan_shards(&gateway, None).map_err(|e| ConnectError::Quota {
            bot: bot.name.clone(),
            detail: e.to_string(),
            detail_zh: e.explain_zh(),
        })?;

        let ledger_path = dir.join("reply-ledger.json");
        let ledger = ReplyLedger::open(&ledger_path, ReplyPolicy::default())
            .await
            .map_err(|e| storage(e, &ledger_path))?;
        let replier = Arc::new(Replier::new(rest, Arc::new(ledger)));

        let (tx, rx) = mpsc::channel(1024);
        let mut shards = Vec::new();
        let mut health = Vec::new();
        let mut pumps = Vec::new();
        for id in 0..plan.shard_count {
            let mut config = plan.shard_config(id, bot.intents);
            config.session = load_session(&dir, id);
            let mut shard = Shard::spawn(config, tokens.clone());
            shards.push(shard.handle());
            health.push(shard.health());
            let tx = tx.clone();
            pumps.push(tokio::spawn(async move {
                while let Some(dispatch) = shard.next_event().await {
                    let (done, handled) = oneshot::channel();
                    if tx.send(Delivery { dispatch, done }).await.is_err() {
                        break;
                    }
                    // Dropped without `done` counts as handled too.
                    let _ = handled.await;
                }
                shard.shutdown().await
            }));
        }
        let saver = tokio::spawn(save_sessions(dir.clone(), shards.clone()));
        tracing::info!(bot = %bot.name, shards = plan.shard_count, "QQ bot connecting");
        Ok((
            QqConnection {
                name: bot.name.clone(),
                user,
                replier,
                shards,
                health,
                pumps,
                saver,
                dir,
            },
            rx,
        ))
    }

    /// The bot's name in Pincer.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bot user QQ reported.
    pub fn user(&self) -> &BotUser {
        &self.user
    }

    /// Sends replies (passive-reply rules, splitting, markdown fallback).
    pub fn replier(&self) -> Arc<Replier> {
        self.replier.clone()
    }

    /// Health of each shard.
    pub fn health(&self) -> &[watch::Receiver<ShardHealth>] {
        &self.health
    }

    /// Stops every shard and saves their sessions, so that the next
    /// [`connect`](Self::connect) resumes where this one stopped.
    pub async fn shutdown(self) {
        self.saver.abort();
        for handle in &self.shards {
            handle.shutdown();
        }
        for (id, pump) in self.pumps.into_iter().enumerate() {
            if let Ok(Some(session)) = pump.await {
                if let Err(e) = save_session(&self.dir, id as u32, &session) {
                    tracing::warn!(bot = %self.name, error = %e, "cannot save the gateway session");
                }
            }
        }
    }
}

/// Saves each shard's session at most once a second while it changes, so
/// that even a killed process resumes.
async fn save_sessions(dir: PathBuf, shards: Vec<ShardHandle>) {
    let mut last: Vec<Option<Session>> = vec![None; shards.len()];
    let mut saved_at: Vec<Option<tokio::time::Instant>> = vec![None; shards.len()];
    // Since when saving fails: retried once a second, reported once.
    let mut failing: Vec<bool> = vec![false; shards.len()];
    let mut tick = tokio::time::interval(SESSION_CHECK_EVERY);
    loop {
        tick.tick().await;
        for (id, handle) in shards.iter().enumerate() {
            let Some(current) = handle.session() else { continue };
            if last[id].as_ref() == Some(&current) {
                continue;
            }
            let new_session = last[id].as_ref().map(|l| &l.id) != Some(&current.id);
            let due = saved_at[id].is_none_or(|t| t.elapsed() >= SESSION_SAVE_EVERY);
            if !due && (failing[id] || !new_session) {
                continue;
            }
            let (dir, session) = (dir.clone(), current.clone());
            let saved =
                tokio::task::spawn_blocking(move || save_session(&dir, id as u32, &session))
                    .await
                    .map_err(std::io::Error::other)
                    .and_then(|r| r);
            saved_at[id] = Some(tokio::time::Instant::now());
            match saved {
                Err(e) => {
                    if !failing[id] {
                        tracing::warn!(error = %e, "cannot save the gateway session; retrying");
                    }
                    failing[id] = true;
                }
                Ok(()) => {
                    if failing[id] {
                        tracing::info!("the gateway session is saved again");
                    }
                    failing[id] = false;
                    last[id] = Some(current);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unmounts on drop.
    struct Mounted(PathBuf);

    impl Drop for Mounted {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }

    /// Fills the disk holding `path` to the last byte.
    fn fill(path: &Path) {
        use std::io::Write;
        let mut f = std::fs::File::create(path).unwrap();
        while f.write_all(&[0u8; 64 * 1024]).is_ok() {}
        while f.write_all(&[0u8; 512]).is_ok() {}
    }

    #[test]
    fn a_new_session_is_saved_on_a_full_disk() {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(dir.path())
            .output();
        if !mounted.as_ref().is_ok_and(|o| o.status.success()) {
            println!("skipped: cannot mount a tmpfs here (needs root): {mounted:?}");
            return;
        }
        let _mounted = Mounted(dir.path().to_owned());
        let old = Session { id: "session-before".into(), sequence: 7 };
        save_session(dir.path(), 0, &old).unwrap();
        fill(&dir.path().join("filler"));
        assert!(std::fs::write(dir.path().join("probe"), b"x").is_err(), "the disk is not full");

        // A new session (identified after the disk filled up) replaces it.
        let new = Session { id: "a-new-session-identified-on-the-full-disk".into(), sequence: 1 };
        save_session(dir.path(), 0, &new).unwrap();
        assert_eq!(load_session(dir.path(), 0), Some(new.clone()));
        assert!(!session_path(dir.path(), 0).with_extension("json.tmp").exists());
        // And a shorter one after it leaves nothing of the longer one.
        let short = Session { id: "s".into(), sequence: 123_456_789 };
        save_session(dir.path(), 0, &short).unwrap();
        assert_eq!(load_session(dir.path(), 0), Some(short));
    }
}
