//! QR binding (spec §12): `POST /lite/create_bind_task`, `POST /lite/poll_bind_result`.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rand::RngCore;
use serde_json::{json, Value};

use super::config::SimApp;
use super::state::Inner;
use super::util;

/// Status of a bind task as `poll_bind_result` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BindStatus {
    /// 0: not scanned yet.
    Waiting = 0,
    /// 1: scanned, not confirmed.
    Scanned = 1,
    /// 2: confirmed; credentials available.
    Done = 2,
    /// 3: expired.
    Expired = 3,
}

/// One bind task.
#[derive(Debug, Clone)]
pub(crate) struct BindTask {
    pub id: String,
    pub key: [u8; 32],
    pub status: BindStatus,
    /// `(app_id, encrypted secret, user_openid)` once confirmed.
    pub result: Option<(String, String, String)>,
}

/// Encrypts `plaintext` as `base64(IV(12) || ciphertext || tag(16))` with AES-256-GCM.
pub(crate) fn encrypt_secret(key: &[u8; 32], plaintext: &str) -> String {
    let cipher = Aes256Gcm::new_from_slice(key).expect("32-byte key");
    let mut iv = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut iv);
    let ct = cipher
        .encrypt(Nonce::from_slice(&iv), plaintext.as_bytes())
        .expect("AES-GCM encryption does not fail");
    let mut out = iv.to_vec();
    out.extend_from_slice(&ct);
    B64.encode(out)
}

/// `POST /lite/create_bind_task {"key"}`.
pub(crate) fn create_task(inner: &Inner, body: &Value) -> Value {
    let key = body
        .get("key")
        .and_then(Value::as_str)
        .and_then(|k| B64.decode(k).ok())
        .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok());
    let Some(key) = key else {
        return json!({"retcode": 1002, "msg": "invalid key: expected base64 of 32 bytes"});
    };
    let id = util::uuid();
    inner.lock().bind_tasks.push(BindTask {
        id: id.clone(),
        key,
        status: BindStatus::Waiting,
        result: None,
    });
    json!({"retcode": 0, "msg": "ok", "data": {"task_id": id}})
}

/// `POST /lite/poll_bind_result {"task_id"}`.
pub(crate) fn poll(inner: &Inner, body: &Value) -> Value {
    let id = body.get("task_id").and_then(Value::as_str).unwrap_or_default();
    let st = inner.lock();
    let Some(task) = st.bind_tasks.iter().find(|t| t.id == id) else {
        return json!({"retcode": 1001, "msg": "task not found"});
    };
    let mut data = json!({"status": task.status as u8});
    if let (BindStatus::Done, Some((app_id, secret, openid))) = (task.status, &task.result) {
        let appid = match app_id.parse::<u64>() {
            Ok(n) if !app_id.starts_with('0') || app_id == "0" => json!(n),
            _ => json!(app_id),
        };
        data["bot_appid"] = appid;
        data["bot_encrypt_secret"] = json!(secret);
        data["user_openid"] = json!(openid);
    }
    json!({"retcode": 0, "msg": "ok", "data": data})
}

/// Moves a task from one of `from` to `to`; false for unknown tasks or
/// tasks in another state.
pub(crate) fn transition(
    inner: &Inner,
    id: &str,
    from: &[BindStatus],
    to: BindStatus,
    confirm: Option<(&SimApp, &str)>,
) -> bool {
    let mut st = inner.lock();
    let Some(task) = st.bind_tasks.iter_mut().find(|t| t.id == id) else { return false };
    if !from.contains(&task.status) {
        return false;
    }
    task.status = to;
    if let Some((app, openid)) = confirm {
        let secret = encrypt_secret(&task.key, &app.secret);
        task.result = Some((app.app_id.clone(), secret, openid.to_owned()));
    }
    true
}
