//! QR binding (spec §12): the user scans a QR code with mobile QQ, confirms,
//! and Pincer receives the AppID and AppSecret of a bot bound to that user.
//!
//! The client key, the encrypted secret and the secret itself never appear in
//! logs, errors or `Debug` output.

use std::fmt;
use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::model::string_or_number;
use crate::token::Secret;

/// The production bind API host.
pub const DEFAULT_BIND_BASE: &str = "https://q.qq.com";
/// The page the QR code points to. It is always on `q.qq.com`, whatever host
/// the API calls go to.
pub const QR_PAGE_URL: &str = "https://q.qq.com/qqbot/openclaw/connect.html";
/// The caller name the scan page shows by default.
pub const DEFAULT_SOURCE: &str = "Pincer";
/// Poll interval (spec §12 step 4).
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// A bind task: show [`qr_url`](Self::qr_url) as a QR code and poll it.
/// Holds the client key in memory only; `Debug` does not print it.
#[derive(Clone)]
pub struct BindTask {
    /// The platform's task id.
    pub task_id: String,
    /// The URL to render as a QR code.
    pub qr_url: String,
    key: [u8; 32],
}

impl fmt::Debug for BindTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BindTask")
            .field("task_id", &self.task_id)
            .field("qr_url", &self.qr_url)
            .field("key", &"***")
            .finish()
    }
}

/// The bot a completed binding yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundBot {
    /// AppID.
    pub app_id: String,
    /// AppSecret; store it in the keyring.
    pub app_secret: Secret,
    /// The openid of the person who scanned: the bot's owner.
    pub owner_openid: Option<String>,
}

/// State of a bind task (`data.status` of a poll).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindStatus {
    /// 0: nobody has scanned yet.
    Waiting,
    /// 1: scanned, not confirmed yet.
    Scanned,
    /// 2: done.
    Completed(BoundBot),
    /// 3: the task expired; start a new one.
    Expired,
}

/// Progress of [`BindClient::bind`], for the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BindProgress {
    /// Show this QR code.
    QrReady {
        /// Task id.
        task_id: String,
        /// URL to render as a QR code.
        qr_url: String,
    },
    /// The user scanned the code and has to confirm on the phone.
    Scanned,
    /// The code expired and was replaced: show the new one, and say so.
    Refreshed {
        /// New task id.
        task_id: String,
        /// New URL to render.
        qr_url: String,
    },
    /// A poll failed (network, HTTP status); polling goes on.
    PollFailed {
        /// What went wrong.
        reason: String,
    },
}

/// Why binding failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BindError {
    /// The platform refused (`retcode != 0`).
    #[error("QQ refused the binding request (retcode {retcode}: {msg}); try again")]
    Platform {
        /// `retcode`.
        retcode: i64,
        /// `msg`.
        msg: String,
    },
    /// The answer lacked a field or was not the documented shape.
    #[error("unexpected answer from QQ's binding service: {0}")]
    Decode(String),
    /// A non-200 HTTP status.
    #[error("QQ's binding service answered HTTP {status}; try again later")]
    Http {
        /// HTTP status.
        status: u16,
    },
    /// The encrypted AppSecret could not be decrypted.
    #[error("the AppSecret QQ sent could not be decrypted ({0}); start the binding again")]
    Decrypt(&'static str),
    /// The service could not be reached.
    #[error("cannot reach QQ's binding service ({0}); check the network")]
    Network(#[source] reqwest::Error),
    /// [`BindClient::bind`] was cancelled.
    #[error("binding cancelled")]
    Cancelled,
}

impl BindError {
    /// The same in Chinese, for the user.
    pub fn explain_zh(&self) -> String {
        match self {
            Self::Platform { retcode, msg } => {
                format!("QQ 拒绝了绑定请求（{retcode}：{msg}），请重试。")
            }
            Self::Decode(_) => "QQ 绑定服务返回了无法识别的内容，请重试。".into(),
            Self::Http { status } => format!("QQ 绑定服务返回 HTTP {status}，请稍后重试。"),
            Self::Decrypt(_) => "无法解密 QQ 返回的 AppSecret，请重新扫码绑定。".into(),
            Self::Network(_) => "无法连接 QQ 绑定服务：请检查网络。".into(),
            Self::Cancelled => "已取消扫码绑定。".into(),
        }
    }

    /// Whether polling again may succeed (network or HTTP failures).
    fn is_transient(&self) -> bool {
        matches!(self, Self::Network(_) | Self::Http { .. })
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    retcode: Option<i64>,
    #[serde(default)]
    msg: Option<String>,
    #[serde(default)]
    data: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct CreateData {
    #[serde(default)]
    task_id: Option<String>,
}

#[derive(Deserialize)]
struct PollData {
    #[serde(default)]
    status: Option<i64>,
    #[serde(default, with = "string_or_number::option")]
    bot_appid: Option<String>,
    #[serde(default)]
    bot_encrypt_secret: Option<String>,
    #[serde(default)]
    user_openid: Option<String>,
}

/// Client of the QR binding service.
#[derive(Debug, Clone)]
pub struct BindClient {
    http: reqwest::Client,
    base: String,
    source: String,
    poll_interval: Duration,
}

impl BindClient {
    /// A client for `bind_base` ([`DEFAULT_BIND_BASE`] in production).
    pub fn new(http: reqwest::Client, bind_base: impl Into<String>) -> Self {
        Self {
            http,
            base: bind_base.into().trim_end_matches('/').to_owned(),
            source: DEFAULT_SOURCE.to_owned(),
            poll_interval: POLL_INTERVAL,
        }
    }

    /// Sets the caller name shown on the scan page (default "Pincer").
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// Sets the poll interval (default 2 s).
    pub fn with_poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }

    /// Creates a bind task with a fresh random key.
    pub async fn start(&self) -> Result<BindTask, BindError> {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let data =
            self.post("/lite/create_bind_task", json!({ "key": BASE64.encode(key) })).await?;
        let data: CreateData = serde_json::from_value(data)
            .map_err(|e| BindError::Decode(format!("create_bind_task: {e}")))?;
        let task_id = data
            .task_id
            .filter(|t| !t.is_empty())
            .ok_or_else(|| BindError::Decode("create_bind_task: no task_id".into()))?;
        let qr_url = qr_url(&task_id, &self.source);
        tracing::info!(%task_id, "QQ bind task created");
        Ok(BindTask { task_id, qr_url, key })
    }

    /// Asks once how `task` is doing.
    pub async fn poll(&self, task: &BindTask) -> Result<BindStatus, BindError> {
        let data = self.post("/lite/poll_bind_result", json!({ "task_id": task.task_id })).await?;
        let data: PollData = serde_json::from_value(data)
            .map_err(|e| BindError::Decode(format!("poll_bind_result: {e}")))?;
        match data.status {
            Some(0) => Ok(BindStatus::Waiting),
            Some(1) => Ok(BindStatus::Scanned),
            Some(3) => Ok(BindStatus::Expired),
            Some(2) => {
                let app_id = data
                    .bot_appid
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| BindError::Decode("completed without bot_appid".into()))?;
                let encrypted = data.bot_encrypt_secret.ok_or_else(|| {
                    BindError::Decode("completed without bot_encrypt_secret".into())
                })?;
                let app_secret = decrypt_secret(&task.key, &encrypted)?;
                tracing::info!(task_id = %task.task_id, %app_id, "QQ bot bound");
                Ok(BindStatus::Completed(BoundBot {
                    app_id,
                    app_secret,
                    owner_openid: data.user_openid.filter(|o| !o.is_empty()),
                }))
            }
            other => Err(BindError::Decode(format!("unknown status {other:?}"))),
        }
    }

    /// The whole flow: creates a task, reports its QR code, polls every 2 s
    /// until the user confirms, replaces expired tasks (reporting
    /// [`BindProgress::Refreshed`]), and retries failed polls. Ends with the
    /// bound bot, a fatal error, or [`BindError::Cancelled`] once `cancel`
    /// fires.
    pub async fn bind(
        &self,
        mut on_update: impl FnMut(BindProgress),
        cancel: CancellationToken,
    ) -> Result<BoundBot, BindError> {
        let mut task = tokio::select! {
            _ = cancel.cancelled() => return Err(BindError::Cancelled),
            task = self.start() => task?,
        };
        on_update(BindProgress::QrReady {
            task_id: task.task_id.clone(),
            qr_url: task.qr_url.clone(),
        });
        let mut scanned = false;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Err(BindError::Cancelled),
                _ = tokio::time::sleep(self.poll_interval) => {}
            }
            let status = tokio::select! {
                _ = cancel.cancelled() => return Err(BindError::Cancelled),
                status = self.poll(&task) => status,
            };
            match status {
                Ok(BindStatus::Waiting) => {}
                Ok(BindStatus::Scanned) => {
                    if !scanned {
                        scanned = true;
                        on_update(BindProgress::Scanned);
                    }
                }
                Ok(BindStatus::Completed(bot)) => return Ok(bot),
                Ok(BindStatus::Expired) => {
                    let fresh = tokio::select! {
                        _ = cancel.cancelled() => return Err(BindError::Cancelled),
                        fresh = self.start() => fresh,
                    };
                    match fresh {
                        Ok(fresh) => {
                            task = fresh;
                            scanned = false;
                            on_update(BindProgress::Refreshed {
                                task_id: task.task_id.clone(),
                                qr_url: task.qr_url.clone(),
                            });
                        }
                        // Polling the expired task again reports Expired
                        // again, which retries the creation.
                        Err(e) if e.is_transient() => {
                            on_update(BindProgress::PollFailed { reason: e.to_string() });
                        }
                        Err(e) => return Err(e),
                    }
                }
                Err(e) if e.is_transient() => {
                    tracing::debug!(error = %e, "QQ bind poll failed, retrying");
                    on_update(BindProgress::PollFailed { reason: e.to_string() });
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// POSTs `body` and returns `data` of a `retcode == 0` answer.
    async fn post(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, BindError> {
        let response = self
            .http
            .post(format!("{}{}", self.base, path))
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| BindError::Network(e.without_url()))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(BindError::Http { status });
        }
        let envelope: Envelope =
            response.json().await.map_err(|e| BindError::Decode(e.without_url().to_string()))?;
        match envelope.retcode {
            Some(0) => Ok(envelope.data.unwrap_or(serde_json::Value::Null)),
            Some(retcode) => {
                Err(BindError::Platform { retcode, msg: envelope.msg.unwrap_or_default() })
            }
            None => Err(BindError::Decode("no retcode".into())),
        }
    }
}

/// The QR code URL of a task (spec §12 step 3); both values are encoded like
/// JavaScript's `encodeURIComponent`, as the connector SDK does.
pub fn qr_url(task_id: &str, source: &str) -> String {
    format!(
        "{QR_PAGE_URL}?task_id={}&source={}&_wv=2",
        uri_component(task_id),
        uri_component(source)
    )
}

fn uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decrypts `bot_encrypt_secret`: base64 of `IV (12) || ciphertext || tag
/// (16)`, AES-256-GCM under the client key, no associated data.
fn decrypt_secret(key: &[u8; 32], encrypted_b64: &str) -> Result<Secret, BindError> {
    let blob = BASE64.decode(encrypted_b64.trim()).map_err(|_| BindError::Decrypt("not base64"))?;
    if blob.len() < 12 + 16 {
        return Err(BindError::Decrypt("too short"));
    }
    let (iv, sealed) = blob.split_at(12);
    let cipher =
        Aes256Gcm::new_from_slice(key).map_err(|_| BindError::Decrypt("bad key length"))?;
    let plain = cipher
        .decrypt(Nonce::from_slice(iv), sealed)
        .map_err(|_| BindError::Decrypt("authentication tag mismatch"))?;
    let secret = String::from_utf8(plain).map_err(|_| BindError::Decrypt("not UTF-8"))?;
    Ok(Secret::new(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encrypt(key: &[u8; 32], iv: [u8; 12], plain: &str) -> String {
        let cipher = Aes256Gcm::new_from_slice(key).unwrap();
        let sealed = cipher.encrypt(Nonce::from_slice(&iv), plain.as_bytes()).unwrap();
        let mut blob = iv.to_vec();
        blob.extend(sealed);
        BASE64.encode(blob)
    }

    #[test]
    fn aes_gcm_round_trip_and_tamper_detection() {
        let key = [7u8; 32];
        let enc = encrypt(&key, [1; 12], "AppSecret-秘密");
        assert_eq!(decrypt_secret(&key, &enc).unwrap().expose(), "AppSecret-秘密");

        let mut blob = BASE64.decode(&enc).unwrap();
        let last = blob.len() - 1;
        blob[last] ^= 1;
        let err = decrypt_secret(&key, &BASE64.encode(&blob)).unwrap_err();
        assert!(matches!(err, BindError::Decrypt("authentication tag mismatch")));
        assert!(matches!(decrypt_secret(&[8u8; 32], &enc), Err(BindError::Decrypt(_))));
        assert!(matches!(decrypt_secret(&key, "!!"), Err(BindError::Decrypt("not base64"))));
        assert!(matches!(
            decrypt_secret(&key, &BASE64.encode([0u8; 20])),
            Err(BindError::Decrypt("too short"))
        ));
    }

    #[test]
    fn known_vector_matches_the_sdk_layout() {
        // IV || ciphertext || tag, as the connector SDK produces it: an empty
        // plaintext seals to IV || tag only.
        let key = [0u8; 32];
        let enc = encrypt(&key, [0; 12], "");
        assert_eq!(BASE64.decode(&enc).unwrap().len(), 28);
        assert_eq!(decrypt_secret(&key, &enc).unwrap().expose(), "");
    }

    #[test]
    fn qr_url_is_always_on_q_qq_com_and_encoded() {
        assert_eq!(
            qr_url("a b&c=d", "Pincer"),
            "https://q.qq.com/qqbot/openclaw/connect.html?task_id=a%20b%26c%3Dd&source=Pincer&_wv=2"
        );
        assert_eq!(
            qr_url("T1", "龙虾"),
            "https://q.qq.com/qqbot/openclaw/connect.html?task_id=T1&source=%E9%BE%99%E8%99%BE&_wv=2"
        );
    }

    #[test]
    fn nothing_secret_in_debug() {
        let task = BindTask { task_id: "t".into(), qr_url: "u".into(), key: [42u8; 32] };
        let debug = format!("{task:?}");
        assert!(!debug.contains("42") && debug.contains("***"), "{debug}");
        let bot =
            BoundBot { app_id: "1".into(), app_secret: Secret::new("hunter2"), owner_openid: None };
        assert!(!format!("{bot:?}").contains("hunter2"));
    }

    #[test]
    fn poll_data_accepts_numeric_and_string_appid() {
        let a: PollData =
            serde_json::from_str(r#"{"status":2,"bot_appid":102003,"bot_encrypt_secret":"x"}"#)
                .unwrap();
        let b: PollData = serde_json::from_str(r#"{"status":2,"bot_appid":"102003"}"#).unwrap();
        assert_eq!(a.bot_appid.as_deref(), Some("102003"));
        assert_eq!(b.bot_appid, a.bot_appid);
    }

    #[test]
    fn errors_explain_themselves() {
        let e = BindError::Platform { retcode: 1001, msg: "task not found".into() };
        assert!(e.to_string().contains("retcode 1001: task not found"));
        assert!(e.explain_zh().contains("1001"));
        assert_eq!(BindError::Cancelled.explain_zh(), "已取消扫码绑定。");
        assert!(BindError::Http { status: 502 }.is_transient());
        assert!(!BindError::Cancelled.is_transient());
    }
}
