//! The ClawHub registry simulator over real HTTP (spec B.9).

use std::io::Read;

use pincer_sim::registry::{fingerprint, RegistrySim, SkillFlags};
use serde_json::Value;

fn files(desc: &str) -> Vec<(String, Vec<u8>)> {
    vec![
        ("SKILL.md".into(), format!("---\nname: s\ndescription: {desc}\n---\nbody\n").into_bytes()),
        ("scripts/a.sh".into(), b"echo a\n".to_vec()),
        ("README.md".into(), b"readme\n".to_vec()),
    ]
}

async fn get(url: String) -> reqwest::Response {
    reqwest::get(url).await.unwrap()
}

#[tokio::test]
async fn endpoints_follow_the_spec() {
    let sim = RegistrySim::start().await.unwrap();
    let base = sim.base_url();
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with('/'));
    for i in 0..5 {
        sim.publish("alice", &format!("skill-{i}"), "1.0.0", files(&format!("Skill number {i}")));
    }
    sim.publish("alice", "weather", "1.0.0", files("Weather"));
    sim.publish("alice", "weather", "1.1.0", files("Weather forecasts"));

    let wk: Value = get(format!("{base}.well-known/clawhub.json")).await.json().await.unwrap();
    assert_eq!(wk["apiBase"], base.trim_end_matches('/'));

    let s: Value =
        get(format!("{base}api/v1/search?q=weather&limit=5")).await.json().await.unwrap();
    assert_eq!(s["results"][0]["slug"], "weather");
    assert_eq!(s["results"][0]["version"], "1.1.0");
    assert_eq!(s["results"][0]["summary"], "Weather forecasts");
    assert_eq!(get(format!("{base}api/v1/search?q=x&limit=abc")).await.status(), 400);

    // Listing pages follow nextCursor until null.
    let mut cursor: Option<String> = None;
    let mut slugs = Vec::new();
    loop {
        let url = match &cursor {
            Some(c) => format!("{base}api/v1/skills?limit=2&cursor={c}"),
            None => format!("{base}api/v1/skills?limit=2"),
        };
        let page: Value = get(url).await.json().await.unwrap();
        slugs.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["slug"].as_str().unwrap().to_string()),
        );
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(slugs.len(), 6);

    let d: Value = get(format!("{base}api/v1/skills/weather")).await.json().await.unwrap();
    assert_eq!(d["latestVersion"]["version"], "1.1.0");
    assert_eq!(d["owner"]["handle"], "alice");
    assert!(d.get("moderation").is_none());

    let vd: Value =
        get(format!("{base}api/v1/skills/weather/versions/1.0.0")).await.json().await.unwrap();
    let listed: Vec<&str> = vd["version"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 3);
    assert_eq!(get(format!("{base}api/v1/skills/weather/versions/9.9.9")).await.status(), 404);

    // Download: deterministic B.6 ZIP with _meta.json, sorted, no directories, 1980 mtimes.
    let r = get(format!("{base}api/v1/download?slug=weather&version=1.0.0")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    assert_eq!(r.headers()["content-disposition"], "attachment; filename=\"weather-1.0.0.zip\"");
    let a = r.bytes().await.unwrap();
    let b = get(format!("{base}api/v1/download?slug=weather&version=1.0.0"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(a, b, "archives are byte-for-byte stable");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(a.to_vec())).unwrap();
    let names: Vec<String> =
        (0..zip.len()).map(|i| zip.by_index(i).unwrap().name().to_string()).collect();
    assert_eq!(names, ["_meta.json", "README.md", "scripts/a.sh", "SKILL.md"]);
    let mut meta = String::new();
    zip.by_name("_meta.json").unwrap().read_to_string(&mut meta).unwrap();
    let meta: Value = serde_json::from_str(&meta).unwrap();
    assert_eq!(meta["slug"], "weather");
    assert_eq!(meta["version"], "1.0.0");
    let f = zip.by_index(1).unwrap();
    assert!(!f.is_dir());
    assert_eq!(f.compression(), zip::CompressionMethod::Deflated);
    assert_eq!(f.last_modified().map(|t| t.year()), Some(1980));
    drop(f);

    // Resolve: the fingerprint of the published files (without _meta.json) → version.
    let v1 = files("Weather");
    let fp = fingerprint(v1.iter().map(|(p, b)| (p.as_str(), b.as_slice())));
    let res: Value =
        get(format!("{base}api/v1/resolve?slug=weather&hash={fp}")).await.json().await.unwrap();
    assert_eq!(res["match"]["version"], "1.0.0");
    assert_eq!(res["latestVersion"]["version"], "1.1.0");
    let zero = "0".repeat(64);
    let res: Value =
        get(format!("{base}api/v1/resolve?slug=weather&hash={zero}")).await.json().await.unwrap();
    assert!(res["match"].is_null());
    assert_eq!(get(format!("{base}api/v1/resolve?slug=weather&hash=xyz")).await.status(), 400);

    let file = get(format!("{base}api/v1/skills/weather/file?path=scripts/a.sh")).await;
    assert_eq!(file.bytes().await.unwrap().as_ref(), b"echo a\n");
    let inst: Value =
        get(format!("{base}api/v1/skills/weather/install")).await.json().await.unwrap();
    assert_eq!(inst["ok"], true);
    assert_eq!(inst["archive"]["version"], "1.1.0");

    assert_eq!(get(format!("{base}api/v1/whoami")).await.status(), 401);
    let who = reqwest::Client::new()
        .get(format!("{base}api/v1/whoami"))
        .header("Authorization", "Bearer clh_test")
        .send()
        .await
        .unwrap();
    assert_eq!(who.status(), 200);
    assert_eq!(get(format!("{base}api/v1/download")).await.text().await.unwrap(), "Missing slug");
    sim.shutdown();
}

#[tokio::test]
async fn moderation_and_faults() {
    let sim = RegistrySim::start().await.unwrap();
    let base = sim.base_url();
    sim.publish("m", "bad", "1.0.0", files("Bad"));
    sim.set_flags("bad", SkillFlags { malware_blocked: true, ..Default::default() });
    let d: Value = get(format!("{base}api/v1/skills/bad")).await.json().await.unwrap();
    assert_eq!(d["moderation"]["isMalwareBlocked"], true);
    let r = get(format!("{base}api/v1/download?slug=bad")).await;
    assert_eq!(r.status(), 403);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));

    sim.publish("s", "sus", "1.0.0", files("Sus"));
    sim.set_flags("sus", SkillFlags { suspicious: true, ..Default::default() });
    let d: Value = get(format!("{base}api/v1/skills/sus")).await.json().await.unwrap();
    assert_eq!(d["moderation"]["isSuspicious"], true);
    assert_eq!(get(format!("{base}api/v1/download?slug=sus")).await.status(), 200);

    sim.publish("p", "pending", "1.0.0", files("Pending"));
    sim.set_flags("pending", SkillFlags { pending_scan: true, ..Default::default() });
    assert_eq!(get(format!("{base}api/v1/download?slug=pending")).await.status(), 423);
    let inst = get(format!("{base}api/v1/skills/pending/install")).await;
    assert_eq!(inst.status(), 423);
    let body: Value = inst.json().await.unwrap();
    assert_eq!(body["ok"], false);

    sim.publish("a", "dup", "1.0.0", files("A"));
    sim.publish("b", "dup", "1.0.0", files("B"));
    let r = get(format!("{base}api/v1/skills/dup")).await;
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "AMBIGUOUS_SKILL_SLUG");
    assert_eq!(body["matches"].as_array().unwrap().len(), 2);
    assert_eq!(get(format!("{base}api/v1/skills/dup?ownerHandle=b")).await.status(), 200);

    sim.publish("a", "old", "1.0.0", files("Old"));
    sim.publish("a", "old", "2.0.0", files("Old 2"));
    sim.remove_version("old", "1.0.0");
    assert_eq!(get(format!("{base}api/v1/download?slug=old&version=1.0.0")).await.status(), 410);
    assert_eq!(get(format!("{base}api/v1/download?slug=old&version=3.0.0")).await.status(), 404);
    assert_eq!(get(format!("{base}api/v1/skills/missing")).await.status(), 404);

    sim.rate_limit_next(1);
    let r = get(format!("{base}api/v1/search?q=old")).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(get(format!("{base}api/v1/search?q=old")).await.status(), 200);
    assert_eq!(sim.downloads("sus"), 1);
}

#[tokio::test]
async fn publish_dir_skips_hidden_files() {
    let tmp = std::env::temp_dir().join(format!("pincer-sim-reg-{}", std::process::id()));
    std::fs::create_dir_all(tmp.join(".git")).unwrap();
    std::fs::create_dir_all(tmp.join("scripts")).unwrap();
    std::fs::write(tmp.join("SKILL.md"), "---\nname: d\ndescription: From a folder\n---\n")
        .unwrap();
    std::fs::write(tmp.join("scripts/x.py"), "print(1)\n").unwrap();
    std::fs::write(tmp.join(".git/config"), "secret").unwrap();
    let sim = RegistrySim::start().await.unwrap();
    sim.publish_dir("o", "d", "1.0.0", &tmp).unwrap();
    std::fs::remove_dir_all(&tmp).unwrap();
    let vd: Value = get(format!("{}api/v1/skills/d/versions/1.0.0", sim.base_url()))
        .await
        .json()
        .await
        .unwrap();
    let mut listed: Vec<&str> = vd["version"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    listed.sort();
    assert_eq!(listed, ["SKILL.md", "scripts/x.py"]);
    let s: Value =
        get(format!("{}api/v1/search?q=folder", sim.base_url())).await.json().await.unwrap();
    assert_eq!(s["results"][0]["summary"], "From a folder");
}
