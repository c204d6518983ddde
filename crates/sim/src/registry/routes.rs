//! HTTP routes of the registry simulator.

// Handlers return `Response` as their error type on purpose (axum style).
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::archive::{build_zip, fingerprint, sha256_hex};
use super::{Inner, SimSkill, SimVersion};

type Q = Query<HashMap<String, String>>;
type St = State<Arc<Inner>>;

pub(super) fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route("/.well-known/clawhub.json", get(well_known))
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/search", get(search))
        .route("/api/v1/skills", get(list))
        .route("/api/v1/skills/{slug}", get(detail))
        .route("/api/v1/skills/{slug}/versions", get(versions))
        .route("/api/v1/skills/{slug}/versions/{version}", get(version_detail))
        .route("/api/v1/skills/{slug}/install", get(install))
        .route("/api/v1/skills/{slug}/file", get(file))
        .route("/api/v1/download", get(download))
        .route("/api/v1/resolve", get(resolve))
        .layer(middleware::from_fn_with_state(inner.clone(), rate_limit))
        .with_state(inner)
}

fn text(status: StatusCode, msg: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], msg.to_string()).into_response()
}

async fn rate_limit(State(inner): St, req: Request, next: Next) -> Response {
    let limited = {
        let mut st = inner.lock();
        if st.rate_limit_next > 0 {
            st.rate_limit_next -= 1;
            true
        } else {
            false
        }
    };
    if limited {
        let mut r = text(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded");
        r.headers_mut().insert("retry-after", "1".parse().expect("valid header"));
        return r;
    }
    next.run(req).await
}

async fn well_known(State(inner): St) -> Json<Value> {
    Json(json!({"apiBase": format!("http://{}", inner.addr), "minCliVersion": "0.1.0"}))
}

async fn whoami(headers: HeaderMap) -> Response {
    match headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(a) if a.starts_with("Bearer clh_") => Json(json!({"user": {"handle": "sim", "displayName": "Simulator", "image": null, "role": "user"}})).into_response(),
        _ => text(StatusCode::UNAUTHORIZED, "Unauthorized"),
    }
}

/// Finds the one skill for `slug` (+ optional owner); 404 / 409 otherwise.
fn find(skills: &[SimSkill], slug: &str, owner: Option<&String>) -> Result<SimSkill, Response> {
    let owner = owner.map(|o| o.trim_start_matches('@').to_ascii_lowercase());
    let matches: Vec<&SimSkill> = skills
        .iter()
        .filter(|s| {
            s.slug == slug && owner.as_ref().is_none_or(|o| &s.owner.to_ascii_lowercase() == o)
        })
        .collect();
    match matches.as_slice() {
        [] => Err(text(StatusCode::NOT_FOUND, "Skill not found")),
        [one] => Ok((*one).clone()),
        many => Err((
            StatusCode::CONFLICT,
            Json(json!({
                "code": "AMBIGUOUS_SKILL_SLUG",
                "message": format!("Several publishers have a skill called {slug}; pass ownerHandle"),
                "slug": slug,
                "matches": many.iter().map(|s| json!({"ownerHandle": s.owner, "slug": s.slug})).collect::<Vec<_>>(),
            })),
        )
            .into_response()),
    }
}

fn version_json(v: &SimVersion) -> Value {
    json!({"version": v.version, "createdAt": v.created_at, "changelog": format!("Release {}", v.version), "changelogSource": "user", "license": "MIT-0"})
}

fn moderation(s: &SimSkill) -> Option<Value> {
    (s.flags.suspicious || s.flags.malware_blocked).then(|| {
        json!({
            "isSuspicious": s.flags.suspicious,
            "isMalwareBlocked": s.flags.malware_blocked,
            "verdict": if s.flags.malware_blocked { "malicious" } else { "suspicious" },
            "reasonCodes": if s.flags.malware_blocked { vec!["malware.dropper"] } else { vec!["suspicious.exec"] },
            "summary": if s.flags.malware_blocked { "Downloads and runs a remote binary" } else { "Runs shell commands from the internet" },
            "engineVersion": "sim", "updatedAt": 0,
        })
    })
}

async fn search(State(inner): St, Query(q): Q) -> Response {
    let query = q.get("q").map(|s| s.to_lowercase()).unwrap_or_default();
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 25,
        Some(Ok(n)) if (1..=200).contains(&n) => n,
        Some(_) => return text(StatusCode::BAD_REQUEST, "Invalid limit"),
    };
    let st = inner.lock();
    let mut hits: Vec<(f64, &SimSkill)> = st
        .skills
        .iter()
        .filter_map(|s| {
            let score = if s.slug == query {
                1.0
            } else if s.slug.contains(&query) {
                0.8
            } else if s.summary.to_lowercase().contains(&query) {
                0.5
            } else {
                return None;
            };
            Some((score, s))
        })
        .collect();
    hits.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.slug.cmp(&b.1.slug)));
    let results: Vec<Value> = hits
        .into_iter()
        .take(limit)
        .map(|(score, s)| {
            json!({"score": score, "slug": s.slug, "displayName": s.display_name, "summary": s.summary,
                "version": s.latest().map(|v| v.version.clone()), "updatedAt": s.latest().map(|v| v.created_at),
                "ownerHandle": s.owner, "owner": {"handle": s.owner, "displayName": s.owner, "image": null},
                "downloads": s.downloads})
        })
        .collect();
    Json(json!({ "results": results })).into_response()
}

async fn list(State(inner): St, Query(q): Q) -> Response {
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 25,
        Some(Ok(n)) if (1..=200).contains(&n) => n,
        Some(_) => return text(StatusCode::BAD_REQUEST, "Invalid limit"),
    };
    let start: usize = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let st = inner.lock();
    let mut all: Vec<&SimSkill> = st
        .skills
        .iter()
        .filter(|s| q.get("prefix").is_none_or(|p| s.slug.starts_with(p.as_str())))
        .collect();
    all.sort_by(|a, b| a.slug.cmp(&b.slug).then(a.owner.cmp(&b.owner)));
    let items: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|s| {
            json!({"slug": s.slug, "displayName": s.display_name, "summary": s.summary, "topics": [],
                "tags": {"latest": s.latest().map(|v| v.version.clone())}, "stats": {}, "createdAt": 0,
                "updatedAt": s.latest().map(|v| v.created_at), "latestVersion": s.latest().map(version_json),
                "metadata": null})
        })
        .collect();
    let next = (start + limit < all.len()).then(|| (start + limit).to_string());
    Json(json!({"items": items, "nextCursor": next})).into_response()
}

async fn detail(State(inner): St, Path(slug): Path<String>, Query(q): Q) -> Response {
    let s = match find(&inner.lock().skills, &slug, q.get("ownerHandle")) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut body = json!({
        "skill": {"slug": s.slug, "displayName": s.display_name, "summary": s.summary, "topics": [],
                  "tags": {"latest": s.latest().map(|v| v.version.clone())}, "stats": {}, "createdAt": 0, "updatedAt": 0},
        "latestVersion": s.latest().map(version_json),
        "metadata": null,
        "owner": {"handle": s.owner, "displayName": s.owner, "image": null},
    });
    if let Some(m) = moderation(&s) {
        body["moderation"] = m;
    }
    Json(body).into_response()
}

async fn versions(State(inner): St, Path(slug): Path<String>, Query(q): Q) -> Response {
    let s = match find(&inner.lock().skills, &slug, q.get("ownerHandle")) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(2).clamp(1, 200);
    let start: usize = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let all: Vec<&SimVersion> = s.versions.iter().rev().filter(|v| !v.removed).collect();
    let items: Vec<Value> = all.iter().skip(start).take(limit).map(|v| version_json(v)).collect();
    let next = (start + limit < all.len()).then(|| (start + limit).to_string());
    Json(json!({"items": items, "nextCursor": next})).into_response()
}

async fn version_detail(
    State(inner): St,
    Path((slug, version)): Path<(String, String)>,
    Query(q): Q,
) -> Response {
    let s = match find(&inner.lock().skills, &slug, q.get("ownerHandle")) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(v) = s.versions.iter().find(|v| v.version == version) else {
        return text(StatusCode::NOT_FOUND, "Version not found");
    };
    let files: Vec<Value> = v
        .files
        .iter()
        .map(|(p, b)| json!({"path": p, "size": b.len(), "sha256": sha256_hex(b), "contentType": if p.ends_with(".md") { "text/markdown" } else { "application/octet-stream" }}))
        .collect();
    let mut vj = version_json(v);
    vj["files"] = Value::Array(files);
    Json(json!({"version": vj, "skill": {"slug": s.slug, "displayName": s.display_name}}))
        .into_response()
}

async fn install(State(inner): St, Path(slug): Path<String>, Query(q): Q) -> Response {
    let s = match find(&inner.lock().skills, &slug, q.get("ownerHandle")) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let fail = |status: StatusCode, reason: &str, message: &str| {
        (status, Json(json!({"ok": false, "slug": s.slug, "reason": reason, "message": message, "status": status.as_u16()}))).into_response()
    };
    if s.flags.malware_blocked {
        return fail(StatusCode::FORBIDDEN, "malware_blocked", "Blocked as malware");
    }
    if s.flags.pending_scan {
        return fail(StatusCode::LOCKED, "scan_pending", "Security scan pending");
    }
    match s.latest() {
        Some(v) => Json(json!({"ok": true, "slug": s.slug, "installKind": "archive", "archive": {"version": v.version,
            "downloadUrl": format!("http://{}/api/v1/download?slug={}&version={}", inner.addr, s.slug, v.version)}})).into_response(),
        None => fail(StatusCode::CONFLICT, "archive_version_missing", "No hosted version"),
    }
}

fn pick_version<'a>(
    s: &'a SimSkill,
    q: &HashMap<String, String>,
) -> Result<&'a SimVersion, Response> {
    match q.get("version").or_else(|| q.get("tag").filter(|t| t.as_str() != "latest")) {
        Some(want) => {
            let v = s
                .versions
                .iter()
                .find(|v| &v.version == want)
                .ok_or_else(|| text(StatusCode::NOT_FOUND, "Version not found"))?;
            if v.removed {
                return Err(text(StatusCode::GONE, "Version removed"));
            }
            Ok(v)
        }
        None => s.latest().ok_or_else(|| text(StatusCode::GONE, "Skill removed")),
    }
}

async fn file(State(inner): St, Path(slug): Path<String>, Query(q): Q) -> Response {
    let s = match find(&inner.lock().skills, &slug, q.get("ownerHandle")) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let v = match pick_version(&s, &q) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(path) = q.get("path") else { return text(StatusCode::BAD_REQUEST, "Missing path") };
    let Some(bytes) = v.files.get(path) else {
        return text(StatusCode::NOT_FOUND, "File not found");
    };
    if q.contains_key("preview") {
        return match std::str::from_utf8(bytes) {
            Ok(t) => text(StatusCode::OK, &t.chars().take(200_000).collect::<String>()),
            Err(_) => text(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Not UTF-8"),
        };
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/octet-stream")], bytes.clone())
        .into_response()
}

async fn download(State(inner): St, Query(q): Q) -> Response {
    let Some(slug) = q.get("slug") else { return text(StatusCode::BAD_REQUEST, "Missing slug") };
    let s = match find(&inner.lock().skills, slug, q.get("ownerHandle")) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if s.flags.malware_blocked {
        return text(StatusCode::FORBIDDEN, "Blocked: this skill was flagged as malware");
    }
    if s.flags.pending_scan {
        return text(StatusCode::LOCKED, "Security scan pending; try again later");
    }
    let v = match pick_version(&s, &q) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let bytes = match &v.archive_override {
        Some(b) => b.clone(),
        None => {
            let meta = serde_json::to_string_pretty(
                &json!({"ownerId": format!("users:{}", s.owner), "slug": s.slug,
                "version": v.version, "publishedAt": v.created_at}),
            )
            .unwrap_or_default();
            let mut files: Vec<(String, Vec<u8>)> =
                v.files.iter().map(|(p, b)| (p.clone(), b.clone())).collect();
            files.push(("_meta.json".into(), meta.into_bytes()));
            build_zip(&files)
        }
    };
    {
        let mut st = inner.lock();
        if let Some(sk) = st.skills.iter_mut().find(|x| x.slug == s.slug && x.owner == s.owner) {
            sk.downloads += 1;
        }
    }
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/zip")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}-{}.zip\"", s.slug, v.version),
        )
        .header(header::CONTENT_LENGTH, bytes.len())
        .body(Body::from(bytes))
        .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "response error"))
}

async fn resolve(State(inner): St, Query(q): Q) -> Response {
    let Some(slug) = q.get("slug") else { return text(StatusCode::BAD_REQUEST, "Missing slug") };
    let Some(hash) =
        q.get("hash").filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    else {
        return text(StatusCode::BAD_REQUEST, "Invalid hash");
    };
    let s = match find(&inner.lock().skills, slug, q.get("ownerHandle")) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let matched = s.versions.iter().filter(|v| !v.removed).find(|v| {
        fingerprint(v.files.iter().map(|(p, b)| (p.as_str(), b.as_slice())))
            .eq_ignore_ascii_case(hash)
    });
    Json(json!({"slug": s.slug, "match": matched.map(|v| json!({"version": v.version})),
        "latestVersion": s.latest().map(|v| json!({"version": v.version}))}))
    .into_response()
}
