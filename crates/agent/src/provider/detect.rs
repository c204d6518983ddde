//! Finds model servers running on this computer: Ollama (`GET /api/tags`)
//! and LM Studio (`GET /v1/models`), with short timeouts so the settings
//! page never waits on them.

use std::time::Duration;

use serde_json::Value;

use super::http;

/// Which local server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocalKind {
    /// Ollama.
    Ollama,
    /// LM Studio.
    LmStudio,
}

impl LocalKind {
    /// The matching [`Preset::id`](super::presets::Preset::id).
    pub fn preset_id(self) -> &'static str {
        match self {
            LocalKind::Ollama => "ollama",
            LocalKind::LmStudio => "lmstudio",
        }
    }
}

/// A local server that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalServer {
    /// Which one.
    pub kind: LocalKind,
    /// Its OpenAI-compatible base URL (`…/v1`).
    pub base_url: String,
    /// Models it has (may be empty: installed, but no model pulled/loaded yet).
    pub models: Vec<String>,
}

/// Where to look. The defaults are the servers' standard ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectTargets {
    /// Ollama's root, e.g. `http://127.0.0.1:11434`.
    pub ollama: String,
    /// LM Studio's root, e.g. `http://127.0.0.1:1234`.
    pub lm_studio: String,
    /// Limit of each probe.
    pub timeout: Duration,
}

impl Default for DetectTargets {
    fn default() -> Self {
        Self {
            ollama: "http://127.0.0.1:11434".into(),
            lm_studio: "http://127.0.0.1:1234".into(),
            timeout: Duration::from_millis(800),
        }
    }
}

fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .no_proxy()
        .build()
        .unwrap_or_default()
}

async fn get_json(client: &reqwest::Client, url: &str, timeout: Duration) -> Option<Value> {
    let fut = async {
        let resp = client.get(url).send().await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        resp.json::<Value>().await.ok()
    };
    tokio::time::timeout(timeout, fut).await.ok().flatten()
}

/// Probes Ollama at `root` (`GET {root}/api/tags`).
pub async fn detect_ollama(root: &str, timeout: Duration) -> Option<LocalServer> {
    let v = get_json(&client(timeout), &http::join(root, "api/tags"), timeout).await?;
    let models = v.get("models")?.as_array()?;
    Some(LocalServer {
        kind: LocalKind::Ollama,
        base_url: http::join(root, "v1"),
        models: models
            .iter()
            .filter_map(|m| {
                m.get("name").or_else(|| m.get("model")).and_then(Value::as_str).map(str::to_owned)
            })
            .collect(),
    })
}

/// Probes LM Studio at `root` (`GET {root}/v1/models`).
pub async fn detect_lm_studio(root: &str, timeout: Duration) -> Option<LocalServer> {
    let base = http::join(root, "v1");
    let v = get_json(&client(timeout), &http::join(&base, "models"), timeout).await?;
    let data = v.get("data")?.as_array()?;
    Some(LocalServer {
        kind: LocalKind::LmStudio,
        base_url: base,
        models: data
            .iter()
            .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_owned))
            .collect(),
    })
}

/// Probes both at once; returns those that answered (Ollama first).
pub async fn detect_local(targets: &DetectTargets) -> Vec<LocalServer> {
    let (o, l) = tokio::join!(
        detect_ollama(&targets.ollama, targets.timeout),
        detect_lm_studio(&targets.lm_studio, targets.timeout)
    );
    o.into_iter().chain(l).collect()
}
