//! The release pipeline (`.github/workflows/release.yml`) and the bundle and
//! updater settings in `src-tauri/tauri.conf.json` cannot run here: there is
//! no GitHub, no Windows and no Mac. A mistake in them would surface only on
//! a tag push, or later on users' machines, so these tests pin down what the
//! pipeline and the updater rely on.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value as Json;
use serde_norway::Value as Yaml;

/// The secrets the release needs; each must be used by the workflow and
/// documented for maintainers.
const RELEASE_SECRETS: &[&str] = &[
    "TAURI_SIGNING_PRIVATE_KEY",
    "TAURI_SIGNING_PRIVATE_KEY_PASSWORD",
    "WINDOWS_CERTIFICATE",
    "WINDOWS_CERTIFICATE_PASSWORD",
    "APPLE_CERTIFICATE",
    "APPLE_CERTIFICATE_PASSWORD",
    "APPLE_SIGNING_IDENTITY",
    "APPLE_ID",
    "APPLE_PASSWORD",
    "APPLE_TEAM_ID",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn conf() -> Json {
    serde_json::from_str(&read("src-tauri/tauri.conf.json")).unwrap()
}

fn workflow_text() -> String {
    read(".github/workflows/release.yml")
}

fn workflow() -> Yaml {
    serde_norway::from_str(&workflow_text()).expect("release.yml is valid YAML")
}

fn strs(v: &Json) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// `y["a"]["b"]` for YAML, with a readable failure.
fn at<'a>(y: &'a Yaml, path: &[&str]) -> &'a Yaml {
    path.iter().fold(y, |y, k| y.get(*k).unwrap_or_else(|| panic!("missing {k} in {path:?}")))
}

fn ystr(y: &Yaml) -> &str {
    y.as_str().unwrap_or_else(|| panic!("not a string: {y:?}"))
}

/// The build job's steps, in order.
fn build_steps(wf: &Yaml) -> &Vec<Yaml> {
    at(wf, &["jobs", "build", "steps"]).as_sequence().unwrap()
}

fn step_index(steps: &[Yaml], pred: impl Fn(&Yaml) -> bool, what: &str) -> usize {
    steps.iter().position(pred).unwrap_or_else(|| panic!("no step that {what}"))
}

fn runs(step: &Yaml, needle: &str) -> bool {
    step.get("run").and_then(Yaml::as_str).is_some_and(|r| r.contains(needle))
}

#[test]
fn the_app_identity_and_linux_packages_are_kept() {
    let c = conf();
    assert_eq!(c["identifier"], "app.pincer.desktop");
    assert_eq!(c["productName"], "Pincer");
    assert_eq!(c["mainBinaryName"], "pincer-desktop");
    // Local and CI Linux builds (scripts/package.sh) rely on the default
    // targets; the release workflow picks its bundles per OS instead.
    assert_eq!(strs(&c["bundle"]["targets"]), ["deb", "rpm"]);
    for pkg in ["deb", "rpm"] {
        let files = &c["bundle"]["linux"][pkg]["files"];
        assert_eq!(files["/usr/bin/pincer"], "../target/release/pincer", "{pkg}");
        assert_eq!(
            files["/usr/lib/systemd/user/pincer.service"], "../installers/pincer.service",
            "{pkg}"
        );
    }
}

#[test]
fn windows_installers_bootstrap_webview2_and_speak_chinese_and_english() {
    let w = &conf()["bundle"]["windows"];
    assert_eq!(w["webviewInstallMode"]["type"], "downloadBootstrapper");
    let langs = strs(&w["nsis"]["languages"]);
    assert!(langs.contains(&"SimpChinese") && langs.contains(&"English"), "{langs:?}");
    assert_eq!(strs(&w["wix"]["language"]), ["zh-CN", "en-US"]);
    // The workflow signs with a certificate it imports at build time and
    // passes by thumbprint; a thumbprint in the committed config would make
    // every local Windows build try to sign with a certificate it lacks.
    assert!(w.get("certificateThumbprint").is_none());
    assert_eq!(w["digestAlgorithm"], "sha256");
    assert!(w["timestampUrl"].as_str().is_some_and(|u| u.starts_with("http")));
}

#[test]
fn macos_sets_a_minimum_version_and_a_dmg_layout_inside_its_window() {
    let m = &conf()["bundle"]["macOS"];
    let min = m["minimumSystemVersion"].as_str().expect("minimumSystemVersion");
    let parts: Vec<u32> = min.split('.').map(|p| p.parse().unwrap()).collect();
    // Tauri 2's WKWebView features need 10.15 or later.
    assert!(parts.as_slice() >= [10, 15].as_slice(), "{min}");
    let dmg = &m["dmg"];
    let (w, h) = (dmg["windowSize"]["width"].as_u64(), dmg["windowSize"]["height"].as_u64());
    let (w, h) = (w.expect("dmg width"), h.expect("dmg height"));
    for icon in ["appPosition", "applicationFolderPosition"] {
        let (x, y) = (dmg[icon]["x"].as_u64().unwrap(), dmg[icon]["y"].as_u64().unwrap());
        assert!(x < w && y < h, "{icon} ({x},{y}) outside the {w}×{h} window");
    }
    assert_ne!(dmg["appPosition"], dmg["applicationFolderPosition"]);
}

#[test]
fn the_updater_is_signed_pinned_and_fetched_over_https() {
    let c = conf();
    // `true` (not "v1Compatible"): the v2 plugin's format, with `.sig` files.
    assert_eq!(c["bundle"]["createUpdaterArtifacts"], true);
    let u = &c["plugins"]["updater"];

    let pubkey = u["pubkey"].as_str().expect("pubkey");
    let text = base64::engine::general_purpose::STANDARD.decode(pubkey).expect("base64 pubkey");
    let text = String::from_utf8(text).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let key_id = lines[0].strip_prefix("untrusted comment: minisign public key: ").expect(&text);
    assert!(key_id.len() == 16 && key_id.chars().all(|c| c.is_ascii_hexdigit()), "{key_id}");
    // Ed25519 ("Ed") + 8-byte key ID + 32-byte key.
    let raw = base64::engine::general_purpose::STANDARD.decode(lines[1]).unwrap();
    assert_eq!(raw.len(), 42);
    assert_eq!(&raw[..2], b"Ed");
    let id_from_key: String = raw[2..10].iter().rev().map(|b| format!("{b:02X}")).collect();
    assert_eq!(id_from_key, key_id, "the comment names the key it sits on");

    let endpoints = strs(&u["endpoints"]);
    assert!(!endpoints.is_empty());
    for e in &endpoints {
        assert!(e.starts_with("https://github.com/pincer-app/pincer/"), "{e}");
        assert!(e.ends_with("/latest.json"), "{e}");
    }
    assert!(c["bundle"]["homepage"].as_str().is_some_and(|h| endpoints[0].starts_with(h)));
    // A signature must name the version latest.json announces, so an old
    // (validly signed) release cannot be relabelled as new.
    assert_eq!(u["requireSignedVersion"], true);
    for flag in [
        "dangerousInsecureTransportProtocol",
        "dangerousAcceptInvalidCerts",
        "dangerousAcceptInvalidHostnames",
        "allowDowngrades",
    ] {
        assert!(u.get(flag).is_none_or(|v| v == false), "{flag}");
    }
}

/// Walks every file of the tree that could be committed.
fn tree_files(dir: &Path, out: &mut Vec<PathBuf>) {
    const SKIP: &[&str] = &["target", "node_modules", ".git", ".tools", "corpus", "artifacts"];
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let ty = entry.file_type().unwrap();
        if ty.is_dir() && !SKIP.contains(&name.to_str().unwrap_or("")) {
            tree_files(&path, out);
        } else if ty.is_file() && entry.metadata().is_ok_and(|m| m.len() < 4 << 20) {
            out.push(path);
        }
    }
}

#[test]
fn no_updater_private_key_is_in_the_tree() {
    // Built here rather than written out, so that this file does not match.
    let marker = ["rsign", "encrypted", "secret", "key"].join(" ");
    let comment = format!("untrusted comment: {marker}");
    // A Tauri key file is the base64 of that comment and the key.
    let encoded = base64::engine::general_purpose::STANDARD.encode(&comment);
    let encoded = &encoded[..encoded.len() - 4];
    let mut files = Vec::new();
    tree_files(&root(), &mut files);
    assert!(files.len() > 50, "walked the tree");
    for f in files {
        let Ok(text) = std::fs::read(&f) else { continue };
        let text = String::from_utf8_lossy(&text);
        assert!(
            !text.contains(&marker) && !text.contains(encoded),
            "{} holds an updater private key",
            f.display()
        );
    }
}

#[test]
fn the_release_workflow_builds_the_three_systems_on_tags_into_a_draft() {
    let wf = workflow();
    let on = wf.get("on").expect("`on` read as a string key, not YAML 1.1's `true`");
    let tags: Vec<&str> =
        at(on, &["push", "tags"]).as_sequence().unwrap().iter().map(ystr).collect();
    assert!(tags.iter().any(|t| t.starts_with('v')), "{tags:?}");
    assert!(on.get("workflow_dispatch").is_some());
    assert_eq!(ystr(at(&wf, &["permissions", "contents"])), "write");

    let include = at(&wf, &["jobs", "build", "strategy", "matrix", "include"]);
    let mut oses = BTreeSet::new();
    for entry in include.as_sequence().unwrap() {
        let os = ystr(at(entry, &["os"]));
        let bundles: BTreeSet<&str> = ystr(at(entry, &["bundles"])).split(',').collect();
        let args = ystr(at(entry, &["tauri-args"]));
        let want: &[&str] = match os {
            "ubuntu-22.04" => &["deb", "rpm", "appimage"],
            "windows-latest" => &["nsis", "msi"],
            "macos-latest" => {
                assert!(args.contains("universal-apple-darwin"), "{args}");
                &["app", "dmg"]
            }
            other => panic!("unexpected runner {other}"),
        };
        assert_eq!(bundles, want.iter().copied().collect(), "{os}");
        assert!(oses.insert(os), "{os} twice");
    }
    assert_eq!(oses.len(), 3);
    assert_eq!(ystr(at(&wf, &["jobs", "build", "runs-on"])), "${{ matrix.os }}");

    // The draft is created once, before the parallel builds.
    assert_eq!(ystr(at(&wf, &["jobs", "build", "needs"])), "create-release");
    let create = at(&wf, &["jobs", "create-release", "steps"]).as_sequence().unwrap();
    assert!(create
        .iter()
        .any(|s| runs(s, "gh release create") && runs(s, "--draft") && runs(s, "--verify-tag")));
    assert!(
        create.iter().any(|s| runs(s, "tauri.conf.json")),
        "checks the tag against the version"
    );

    let steps = build_steps(&wf);
    let deps = step_index(steps, |s| runs(s, "bash scripts/deps.sh"), "runs scripts/deps.sh");
    assert!(steps[deps].get("if").map(ystr).is_some_and(|c| c.contains("Linux")));
    let node = step_index(
        steps,
        |s| s.get("uses").map(ystr).is_some_and(|u| u.starts_with("actions/setup-node@")),
        "sets up Node",
    );
    assert_eq!(at(&steps[node], &["with", "node-version"]).as_u64(), Some(20));
    let ui = step_index(steps, |s| runs(s, "npm ci --prefix ui"), "installs the UI");
    assert!(
        runs(&steps[ui], "npm run --prefix ui build"),
        "tauri.conf.json has no beforeBuildCommand"
    );
    let cli = step_index(
        steps,
        |s| runs(s, "cargo build --release --locked -p pincer-cli"),
        "builds the CLI",
    );
    let tauri = step_index(
        steps,
        |s| s.get("uses").map(ystr) == Some("tauri-apps/tauri-action@v0"),
        "uses tauri-action",
    );
    assert!(node < ui && deps < tauri && ui < tauri, "set up before building");
    assert!(cli < tauri, "the .deb/.rpm carry target/release/pincer");

    let with = at(&steps[tauri], &["with"]);
    assert!(ystr(at(with, &["args"])).contains("--bundles ${{ matrix.bundles }}"));
    assert!(ystr(at(with, &["releaseId"])).contains("needs.create-release.outputs.release-id"));
    assert_eq!(at(with, &["includeUpdaterJson"]).as_bool(), Some(true));
    let env = at(&steps[tauri], &["env"]);
    for s in RELEASE_SECRETS.iter().filter(|s| !s.starts_with("WINDOWS_")) {
        assert!(env.get(*s).is_some(), "tauri-action gets {s}");
    }

    let tarball = step_index(steps, |s| runs(s, "gh release upload"), "uploads the CLI");
    assert!(tarball > cli && runs(&steps[tarball], "tar -C dist -czf"));
    assert!(runs(&steps[tarball], "pincer-cli-$TAG-"));
}

/// The `${{ … }}` expressions of a workflow, and the text outside them.
fn expressions(text: &str) -> (Vec<&str>, String) {
    let (mut exprs, mut outside, mut rest) = (Vec::new(), String::new(), text);
    while let Some(start) = rest.find("${{") {
        outside.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("unclosed ${{") + start;
        exprs.push(rest[start + 3..end].trim());
        rest = &rest[end + 2..];
    }
    outside.push_str(rest);
    (exprs, outside)
}

/// Every `env:` mapping in the workflow, wherever it sits.
fn env_maps<'a>(y: &'a Yaml, out: &mut Vec<&'a serde_norway::Mapping>) {
    match y {
        Yaml::Mapping(m) => {
            for (k, v) in m {
                if k.as_str() == Some("env") {
                    out.push(v.as_mapping().expect("env is a mapping"));
                }
                env_maps(v, out);
            }
        }
        Yaml::Sequence(s) => s.iter().for_each(|v| env_maps(v, out)),
        _ => {}
    }
}

/// The secret names in the "Releasing" section's table of installers/README.md.
fn documented_secrets() -> BTreeSet<String> {
    let readme = read("installers/README.md");
    let section = readme.split("\n## Releasing").nth(1).expect("a Releasing section");
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `")?.split_once("` |").map(|(n, _)| n.to_owned()))
        .filter(|n| n.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .collect()
}

#[test]
fn the_workflow_uses_secrets_only_by_reference_and_documents_each() {
    let text = workflow_text();
    let (exprs, outside) = expressions(&text);
    assert!(!outside.contains("secrets."), "a secret referenced outside ${{{{ }}}}");

    let mut used = BTreeSet::new();
    for e in &exprs {
        for (i, _) in e.match_indices("secrets.") {
            let name: String =
                e[i + 8..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            assert!(!name.is_empty(), "{e}");
            used.insert(name);
        }
    }
    for s in RELEASE_SECRETS {
        assert!(used.contains(*s), "the workflow does not use {s}");
    }
    let documented = documented_secrets();
    assert_eq!(
        used, documented,
        "secrets used by release.yml vs documented in installers/README.md"
    );

    // A secret-named variable always gets the secret itself, never a value.
    let wf = workflow();
    let mut envs = Vec::new();
    env_maps(&wf, &mut envs);
    let mut checked = 0;
    for env in envs {
        for (k, v) in env {
            let k = ystr(k);
            if documented.contains(k) || k == "GH_TOKEN" {
                let want = if k == "GH_TOKEN" { "GITHUB_TOKEN" } else { k };
                assert_eq!(ystr(v), format!("${{{{ secrets.{want} }}}}"), "env {k}");
                checked += 1;
            }
        }
    }
    assert!(checked >= RELEASE_SECRETS.len(), "{checked} env entries checked");

    // No key material pasted in: PEM blocks or long base64 runs.
    assert!(!text.contains("-----BEGIN"));
    let longest_b64 = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '='))
        .map(str::len)
        .max()
        .unwrap_or(0);
    assert!(longest_b64 < 40, "a {longest_b64}-character base64-like run in release.yml");

    let readme = read("installers/README.md");
    assert!(readme.contains("rotate") && readme.contains("plugins.updater.pubkey"));
}
