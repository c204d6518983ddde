use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use url::Url;

use super::archive::{self, fingerprint, read_zip, sha256_hex, write_files};
use super::lock::{lock_key, LockEntry, Lockfile, Origin};
use super::types::*;
use super::RegistryError;
use crate::safety::{check_files, SafetyReport, Verdict};

/// The public ClawHub registry.
pub const DEFAULT_REGISTRY: &str = "https://clawhub.ai";
const TIMEOUT: Duration = Duration::from_secs(15);
const RETRIES: u32 = 2;

/// A parsed `[@owner/]slug` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillRef {
    /// Publisher (lower-cased, no `@`).
    pub owner: Option<String>,
    /// Slug.
    pub slug: String,
}

impl SkillRef {
    /// The lockfile key.
    pub fn key(&self) -> String {
        lock_key(&self.slug, self.owner.as_deref())
    }

    /// Install folder relative to the skills dir: `slug` or `@owner/slug`.
    pub fn rel_dir(&self) -> PathBuf {
        match &self.owner {
            Some(o) => PathBuf::from(format!("@{o}")).join(&self.slug),
            None => PathBuf::from(&self.slug),
        }
    }
}

/// Parses `[@owner/]slug` (spec B.5 step 1).
pub fn parse_ref(s: &str) -> Result<SkillRef, RegistryError> {
    let bad = || RegistryError::BadRef(s.to_string());
    let s = s.trim();
    let (owner, slug) = match s.strip_prefix('@').unwrap_or(s).split_once('/') {
        Some((o, sl)) => (Some(o.to_ascii_lowercase()), sl.to_string()),
        None if s.starts_with('@') => return Err(bad()),
        None => (None, s.to_string()),
    };
    let ok = |p: &str| !p.is_empty() && !p.contains(['/', '\\']) && !p.contains("..") && p != ".";
    if !ok(&slug) || owner.as_deref().is_some_and(|o| !ok(o)) {
        return Err(bad());
    }
    Ok(SkillRef { owner, slug })
}

/// Download progress: bytes received so far and the total when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes received.
    pub received: u64,
    /// `Content-Length`, if sent.
    pub total: Option<u64>,
}

/// Install choices.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// A specific version (default: latest).
    pub version: Option<String>,
    /// Replace an existing folder / ignore local edits on update.
    pub force: bool,
    /// The user confirmed installing a registry-flagged suspicious skill.
    pub accept_suspicious: bool,
    /// The user (an expert) overrides a `Block` safety verdict.
    pub accept_unsafe: bool,
    /// Folder under the workdir (default `skills`).
    pub dir: String,
}

impl Default for InstallOptions {
    fn default() -> Self {
        InstallOptions {
            version: None,
            force: false,
            accept_suspicious: false,
            accept_unsafe: false,
            dir: "skills".into(),
        }
    }
}

/// A finished install.
#[derive(Debug, Clone)]
pub struct Installed {
    /// Lockfile key.
    pub key: String,
    /// Installed version.
    pub version: String,
    /// The skill folder.
    pub dir: PathBuf,
    /// Post-install fingerprint (stored in `origin.json`).
    pub fingerprint: String,
    /// Our safety check (its verdict is stored in the lockfile).
    pub safety: SafetyReport,
    /// The registry flagged the skill as suspicious (and the user accepted).
    pub suspicious: bool,
}

/// Result of [`RegistryClient::update`].
#[derive(Debug, Clone)]
pub enum UpdateOutcome {
    /// Already at the latest version.
    UpToDate(String),
    /// Replaced with a newer version.
    Updated {
        /// Previous version.
        from: String,
        /// The new install.
        installed: Box<Installed>,
    },
}

/// A ClawHub registry client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    http: reqwest::Client,
    base: Url,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl RegistryClient {
    /// A client for `base` (e.g. `https://clawhub.ai` or `http://127.0.0.1:PORT/`).
    pub fn new(base: &str) -> Result<Self, RegistryError> {
        let mut s = base.trim().to_string();
        if !s.ends_with('/') {
            s.push('/');
        }
        let base = Url::parse(&s).map_err(|e| RegistryError::BadRef(format!("{base}: {e}")))?;
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("pincer-skills/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RegistryError::Network(e.to_string()))?;
        Ok(RegistryClient { http, base })
    }

    /// Discovers the registry of a site (spec B.1): `GET <site>/.well-known/clawhub.json`
    /// (fallback `clawdhub.json`) → `apiBase` (or the older `registry`).
    pub async fn discover(site: &str) -> Result<Self, RegistryError> {
        let probe = Self::new(site)?;
        let mut last = RegistryError::NotFound(format!("{site}/.well-known/clawhub.json"));
        for path in [".well-known/clawhub.json", ".well-known/clawdhub.json"] {
            match probe.get_json::<serde_json::Value>(probe.url(path, &[])?).await {
                Ok(v) => {
                    let base = v
                        .get("apiBase")
                        .or_else(|| v.get("registry"))
                        .and_then(|b| b.as_str())
                        .ok_or_else(|| RegistryError::Decode("discovery without apiBase".into()))?;
                    return Self::new(base);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    fn url(&self, rel: &str, query: &[(&str, &str)]) -> Result<Url, RegistryError> {
        let mut u = self.base.join(rel).map_err(|e| RegistryError::BadRef(e.to_string()))?;
        if !query.is_empty() {
            u.query_pairs_mut().extend_pairs(query);
        }
        Ok(u)
    }

    /// Sends a GET with retries on network errors, 408, 429 and 5xx (spec B.3).
    async fn get(&self, url: Url) -> Result<reqwest::Response, RegistryError> {
        let mut attempt = 0;
        loop {
            let res = self.http.get(url.clone()).header("Accept", "application/json").send().await;
            let retry_after = match &res {
                Ok(r) if r.status().is_success() => return Ok(res.expect("checked")),
                Ok(r)
                    if r.status() == StatusCode::REQUEST_TIMEOUT
                        || r.status() == StatusCode::TOO_MANY_REQUESTS
                        || r.status().is_server_error() =>
                {
                    r.headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                }
                Ok(_) => return Err(error_from(res.expect("checked")).await),
                Err(_) => None,
            };
            if attempt >= RETRIES {
                return match res {
                    Ok(r) => Err(error_from(r).await),
                    Err(e) => Err(RegistryError::Network(e.to_string())),
                };
            }
            let backoff =
                Duration::from_millis(300 * 2u64.pow(attempt)).min(Duration::from_secs(5));
            let wait = retry_after.map(|s| Duration::from_secs(s.min(30))).unwrap_or(backoff);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T, RegistryError> {
        let r = self.get(url).await?;
        r.json::<T>().await.map_err(|e| RegistryError::Decode(e.to_string()))
    }

    /// `GET /api/v1/search`.
    pub async fn search(&self, q: &str, limit: u32) -> Result<Vec<SearchResult>, RegistryError> {
        let limit = limit.to_string();
        let url = self.url("api/v1/search", &[("q", q), ("limit", &limit)])?;
        Ok(self.get_json::<SearchResponse>(url).await?.results)
    }

    /// `GET /api/v1/skills/{slug}`.
    pub async fn detail(&self, r: &SkillRef) -> Result<SkillDetail, RegistryError> {
        let q = owner_query(r);
        let url = self.url(&format!("api/v1/skills/{}", enc(&r.slug)), &q)?;
        self.get_json(url).await
    }

    /// Every version, following `nextCursor`.
    pub async fn versions(&self, r: &SkillRef) -> Result<Vec<VersionInfo>, RegistryError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut q = owner_query(r);
            if let Some(c) = &cursor {
                q.push(("cursor", c));
            }
            let url = self.url(&format!("api/v1/skills/{}/versions", enc(&r.slug)), &q)?;
            let page: VersionsPage = self.get_json(url).await?;
            out.extend(page.items);
            match page.next_cursor {
                Some(c) if !c.is_empty() && out.len() < 10_000 => cursor = Some(c),
                _ => return Ok(out),
            }
        }
    }

    /// `GET /api/v1/skills/{slug}/versions/{version}`.
    pub async fn version(
        &self,
        r: &SkillRef,
        version: &str,
    ) -> Result<VersionDetail, RegistryError> {
        let q = owner_query(r);
        let url =
            self.url(&format!("api/v1/skills/{}/versions/{}", enc(&r.slug), enc(version)), &q)?;
        self.get_json(url).await
    }

    /// `GET /api/v1/resolve` (fingerprint → version).
    pub async fn resolve(
        &self,
        r: &SkillRef,
        hash: &str,
    ) -> Result<ResolveResponse, RegistryError> {
        let mut q = owner_query(r);
        q.push(("slug", &r.slug));
        q.push(("hash", hash));
        self.get_json(self.url("api/v1/resolve", &q)?).await
    }

    /// `GET /api/v1/skills/{slug}/install`.
    pub async fn install_resolution(
        &self,
        r: &SkillRef,
    ) -> Result<InstallResolution, RegistryError> {
        let q = owner_query(r);
        self.get_json(self.url(&format!("api/v1/skills/{}/install", enc(&r.slug)), &q)?).await
    }

    /// `GET /api/v1/download`, streaming with progress reports.
    pub async fn download(
        &self,
        r: &SkillRef,
        version: &str,
        progress: Option<&(dyn Fn(Progress) + Send + Sync)>,
    ) -> Result<Vec<u8>, RegistryError> {
        let mut q = owner_query(r);
        q.push(("slug", &r.slug));
        q.push(("version", version));
        let resp = self.get(self.url("api/v1/download", &q)?).await?;
        let total = resp.content_length();
        if total.is_some_and(|t| t > archive::MAX_TOTAL_BYTES) {
            return Err(
                archive::ArchiveError::TooLarge(format!("{} bytes", total.unwrap_or(0))).into()
            );
        }
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| RegistryError::Network(e.to_string()))?;
            body.extend_from_slice(&chunk);
            if body.len() as u64 > archive::MAX_TOTAL_BYTES {
                return Err(archive::ArchiveError::TooLarge("download exceeds 50 MB".into()).into());
            }
            if let Some(p) = progress {
                p(Progress { received: body.len() as u64, total });
            }
        }
        Ok(body)
    }

    /// Installs `reference` (`[@owner/]slug`) into `<workdir>/<opts.dir>/` (spec B.5):
    /// moderation gate → download → safe unpack in memory → SHA-256 and fingerprint
    /// checks → safety check → staged write → `origin.json` and lockfile (with the safety
    /// verdict). Nothing is written when any step fails.
    pub async fn install(
        &self,
        workdir: &Path,
        reference: &str,
        opts: &InstallOptions,
        progress: Option<&(dyn Fn(Progress) + Send + Sync)>,
    ) -> Result<Installed, RegistryError> {
        let r = parse_ref(reference)?;
        let key = r.key();
        check_dir(&opts.dir)?;
        let target = workdir.join(&opts.dir).join(r.rel_dir());
        let wd = workdir.to_path_buf();
        let lock = blocking(move || Lockfile::read(&wd)).await??;
        if let Some((_, e)) = lock.find(&r.slug, r.owner.as_deref()) {
            if e.pinned {
                return Err(RegistryError::Pinned(key));
            }
        }
        if target.exists() && !opts.force {
            return Err(RegistryError::AlreadyInstalled(key));
        }

        let detail = self.detail(&r).await?;
        let mut suspicious = false;
        if let Some(m) = &detail.moderation {
            if m.is_malware_blocked {
                return Err(RegistryError::MalwareBlocked { slug: r.slug.clone() });
            }
            if m.is_suspicious {
                if !opts.accept_suspicious {
                    return Err(RegistryError::NeedsConfirmation {
                        slug: r.slug.clone(),
                        summary: m.summary.clone(),
                    });
                }
                suspicious = true;
            }
        }
        let version = match (&opts.version, &detail.latest_version) {
            (Some(v), _) => v.clone(),
            (None, Some(l)) => l.version.clone(),
            (None, None) => {
                let res = self.install_resolution(&r).await?;
                match res.archive {
                    Some(a) if res.ok => a.version,
                    _ => {
                        return Err(RegistryError::Conflict(
                            res.message
                                .or(res.reason)
                                .unwrap_or_else(|| "no installable version".into()),
                        ))
                    }
                }
            }
        };
        let published = self.version(&r, &version).await?;
        let bytes = self.download(&r, &version, progress).await?;
        let files = blocking(move || read_zip(&bytes)).await??;

        // Integrity: every published file present with the published SHA-256, nothing extra.
        let content: Vec<&(String, Vec<u8>)> =
            files.iter().filter(|(p, _)| p != "_meta.json").collect();
        if !published.version.files.is_empty() {
            for f in &published.version.files {
                let Some((_, data)) = content.iter().find(|(p, _)| *p == f.path) else {
                    return Err(RegistryError::IntegrityMismatch(format!("{} is missing", f.path)));
                };
                if !f.sha256.eq_ignore_ascii_case(&sha256_hex(data)) {
                    return Err(RegistryError::IntegrityMismatch(format!(
                        "{} has a different SHA-256",
                        f.path
                    )));
                }
            }
            if let Some((p, _)) =
                content.iter().find(|(p, _)| !published.version.files.iter().any(|f| &f.path == p))
            {
                return Err(RegistryError::IntegrityMismatch(format!("{p} was not published")));
            }
        }
        let server_fp = fingerprint(content.iter().map(|(p, b)| (p.as_str(), b.as_slice())));
        let resolved = self.resolve(&r, &server_fp).await?;
        if resolved.matched.as_ref().map(|m| m.version.as_str()) != Some(version.as_str()) {
            return Err(RegistryError::IntegrityMismatch(format!(
                "fingerprint {server_fp} does not match version {version}"
            )));
        }

        let safety = check_files(&files);
        if safety.verdict == Verdict::Block && !opts.accept_unsafe {
            return Err(RegistryError::Unsafe { report: Box::new(safety) });
        }

        let registry = self.base.as_str().trim_end_matches('/').to_string();
        let wd = workdir.to_path_buf();
        let owner = r.owner.clone().or_else(|| detail.owner.as_ref().map(|o| o.handle.clone()));
        let (ver, verdict, key2, tgt) =
            (version.clone(), safety.verdict, key.clone(), target.clone());
        let slug = r.slug.clone();
        let lock_owner = r.owner.clone();
        let fp = blocking(move || -> Result<String, RegistryError> {
            let parent = tgt.parent().ok_or_else(|| RegistryError::Io("bad target".into()))?;
            std::fs::create_dir_all(parent)?;
            let stamp = now_ms();
            let staging = parent.join(format!(".{slug}.staging-{stamp}"));
            if let Err(e) = write_files(&staging, &files) {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e.into());
            }
            let fp = archive::fingerprint_dir(&staging)?;
            Origin {
                version: 1,
                registry,
                slug: slug.clone(),
                owner_handle: owner,
                installed_version: ver.clone(),
                installed_at: stamp,
                fingerprint: Some(fp.clone()),
            }
            .write(&staging)?;
            let old = parent.join(format!(".{slug}.old-{stamp}"));
            if tgt.exists() {
                std::fs::rename(&tgt, &old)?;
            }
            if let Err(e) = std::fs::rename(&staging, &tgt) {
                if old.exists() {
                    let _ = std::fs::rename(&old, &tgt);
                }
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e.into());
            }
            if old.exists() {
                std::fs::remove_dir_all(&old)?;
            }
            let mut lock = Lockfile::read(&wd)?;
            let prev = lock.skills.remove(&key2).unwrap_or_default();
            lock.skills.insert(
                key2,
                LockEntry {
                    version: Some(ver),
                    installed_at: stamp,
                    owner_handle: lock_owner,
                    pincer_safety: Some(verdict),
                    ..prev
                },
            );
            lock.write(&wd)?;
            Ok(fp)
        })
        .await??;
        Ok(Installed { key, version, dir: target, fingerprint: fp, safety, suspicious })
    }

    /// Updates an installed skill to the latest version (spec B.5 "Update"): refuses pinned
    /// skills and local edits (unless `opts.force`).
    pub async fn update(
        &self,
        workdir: &Path,
        reference: &str,
        opts: &InstallOptions,
        progress: Option<&(dyn Fn(Progress) + Send + Sync)>,
    ) -> Result<UpdateOutcome, RegistryError> {
        let r = parse_ref(reference)?;
        let key = r.key();
        check_dir(&opts.dir)?;
        let dir = workdir.join(&opts.dir).join(r.rel_dir());
        let wd = workdir.to_path_buf();
        let lock = blocking(move || Lockfile::read(&wd)).await??;
        let entry = lock.find(&r.slug, r.owner.as_deref()).map(|(_, e)| e.clone());
        let Some(entry) = entry else { return Err(RegistryError::NotInstalled(key)) };
        if entry.pinned {
            return Err(RegistryError::Pinned(key));
        }
        let d = dir.clone();
        let (local_fp, origin) =
            blocking(move || (archive::fingerprint_dir(&d), Origin::read(&d).ok())).await?;
        let local_fp = local_fp?;
        let resolved = self.resolve(&r, &local_fp).await?;
        let untouched = resolved.matched.is_some()
            || origin.as_ref().and_then(|o| o.fingerprint.as_deref()) == Some(local_fp.as_str());
        if !untouched && !opts.force {
            return Err(RegistryError::LocalEdits(key));
        }
        let current = entry.version.clone().unwrap_or_default();
        let latest = match resolved.latest_version {
            Some(v) => v.version,
            None => return Ok(UpdateOutcome::UpToDate(current)),
        };
        if latest == current && untouched {
            return Ok(UpdateOutcome::UpToDate(current));
        }
        let opts = InstallOptions { version: Some(latest), force: true, ..opts.clone() };
        let installed = self.install(workdir, reference, &opts, progress).await?;
        Ok(UpdateOutcome::Updated { from: current, installed: Box::new(installed) })
    }

    /// Removes an installed skill folder and its lockfile entry.
    pub async fn uninstall(
        &self,
        workdir: &Path,
        reference: &str,
        dir: &str,
    ) -> Result<(), RegistryError> {
        let r = parse_ref(reference)?;
        check_dir(dir)?;
        let target = workdir.join(dir).join(r.rel_dir());
        let wd = workdir.to_path_buf();
        blocking(move || -> Result<(), RegistryError> {
            let mut lock = Lockfile::read(&wd)?;
            let key = lock.find(&r.slug, r.owner.as_deref()).map(|(k, _)| k.clone());
            if key.is_none() && !target.exists() {
                return Err(RegistryError::NotInstalled(r.key()));
            }
            if target.exists() {
                std::fs::remove_dir_all(&target)?;
            }
            if let Some(k) = key {
                lock.skills.remove(&k);
                lock.write(&wd)?;
            }
            Ok(())
        })
        .await?
    }
}

/// The install folder must be a plain relative path inside the workdir.
fn check_dir(dir: &str) -> Result<(), RegistryError> {
    archive::validate_entry_path(dir)
        .map_err(|_| RegistryError::BadRef(format!("install folder {dir:?}")))
}

fn owner_query(r: &SkillRef) -> Vec<(&'static str, &str)> {
    r.owner.as_deref().map(|o| vec![("ownerHandle", o)]).unwrap_or_default()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, RegistryError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| RegistryError::Io(e.to_string()))
}

/// Maps a non-success response to a typed error (spec B.3: plain-text bodies, 409 JSON).
async fn error_from(resp: reqwest::Response) -> RegistryError {
    let status = resp.status();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1);
    let text = resp.text().await.unwrap_or_default();
    let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    let message = json
        .as_ref()
        .and_then(|j| j.get("message").and_then(|m| m.as_str()).map(String::from))
        .unwrap_or_else(|| text.trim().chars().take(300).collect());
    match status.as_u16() {
        404 => RegistryError::NotFound(message),
        410 => RegistryError::Gone(message),
        403 => RegistryError::Forbidden(message),
        423 => RegistryError::PendingScan(message),
        429 => RegistryError::RateLimited { retry_after_secs: retry },
        409 => match &json {
            Some(j) if j.get("code").and_then(|c| c.as_str()) == Some("AMBIGUOUS_SKILL_SLUG") => {
                let slug = j.get("slug").and_then(|s| s.as_str()).unwrap_or_default().to_string();
                let matches = j
                    .get("matches")
                    .and_then(|m| m.as_array())
                    .map(|a| {
                        a.iter()
                            .map(|m| match m {
                                serde_json::Value::String(s) => s.clone(),
                                other => other
                                    .get("ownerHandle")
                                    .and_then(|h| h.as_str())
                                    .map(|h| format!("@{h}/{slug}"))
                                    .unwrap_or_else(|| other.to_string()),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                RegistryError::Ambiguous { slug, matches }
            }
            _ => RegistryError::Conflict(message),
        },
        s => RegistryError::Http { status: s, message },
    }
}
