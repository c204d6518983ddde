//! An update is installed only if its signature verifies against the public
//! key built into the app. These tests sign with the real Tauri CLI (what the
//! release workflow runs) and verify the way tauri-plugin-updater 2.14 does
//! (`verify_signature` in its `updater.rs`): base64-decode the configured
//! pubkey and the `.sig`, `PublicKey::decode`, `Signature::decode`,
//! `verify(data, sig, allow_legacy = true)`, then, because the app sets
//! `requireSignedVersion`, compare the version in the signed trusted comment
//! with the one `latest.json` announces.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine as _;
use minisign_verify::{PublicKey, Signature};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn b64_text(s: &str) -> Result<String, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| format!("base64: {e}"))?;
    String::from_utf8(bytes).map_err(|e| format!("utf-8: {e}"))
}

/// What the updater does with a downloaded artifact, its `.sig` (as in
/// latest.json: base64 of the minisign signature file) and the configured
/// pubkey, for an update announced as `announced`.
fn updater_accepts(data: &[u8], sig: &str, pubkey: &str, announced: &str) -> Result<(), String> {
    let key = PublicKey::decode(&b64_text(pubkey)?).map_err(|e| format!("pubkey: {e}"))?;
    let sig = Signature::decode(&b64_text(sig)?).map_err(|e| format!("signature: {e}"))?;
    key.verify(data, &sig, true).map_err(|e| format!("verify: {e}"))?;
    // Only now is the trusted comment authentic: the global signature covers it.
    let signed = sig
        .trusted_comment()
        .split('\t')
        .find_map(|f| f.strip_prefix("version:"))
        .ok_or("no signed version (requireSignedVersion)")?;
    if signed.trim_start_matches('v') != announced.trim_start_matches('v') {
        return Err(format!("signed for {signed}, announced as {announced}"));
    }
    Ok(())
}

fn configured_pubkey() -> String {
    let conf = std::fs::read_to_string(root().join("src-tauri/tauri.conf.json")).unwrap();
    let conf: serde_json::Value = serde_json::from_str(&conf).unwrap();
    conf["plugins"]["updater"]["pubkey"].as_str().expect("plugins.updater.pubkey").to_owned()
}

#[test]
fn the_configured_pubkey_is_a_minisign_public_key() {
    let pubkey = configured_pubkey();
    let text = b64_text(&pubkey).expect("the pubkey is base64 of a minisign .pub file");
    assert!(text.starts_with("untrusted comment: minisign public key"), "{text}");
    PublicKey::decode(&text).expect("minisign-verify accepts it");
}

/// Keys and a signed artifact, made once with the Tauri CLI.
struct Fixture {
    dir: tempfile::TempDir,
    artifact: Vec<u8>,
    /// Base64 .sig contents, bound to version 0.1.0, from key A.
    sig: String,
    /// The same artifact signed without `--app-version`, key A.
    sig_unversioned: String,
    /// The same artifact signed by key B.
    sig_other_key: String,
    pubkey: String,
}

fn tauri_cli() -> Option<PathBuf> {
    let cli = root().join("ui/node_modules/.bin/tauri");
    if cli.exists() {
        Some(cli)
    } else {
        println!("skipping: {} is missing (run `npm ci --prefix ui`)", cli.display());
        None
    }
}

fn cli(tauri: &Path) -> Command {
    let mut c = Command::new(tauri);
    // The key comes from the arguments, never from the caller's environment
    // (a maintainer running the tests may have the real one exported).
    c.env_remove("TAURI_SIGNING_PRIVATE_KEY")
        .env_remove("TAURI_SIGNING_PRIVATE_KEY_PATH")
        .env("TAURI_SIGNING_PRIVATE_KEY_PASSWORD", "")
        .env("CI", "true");
    c
}

fn run(mut c: Command) {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A password-less keypair: (private key string, base64 pubkey).
fn generate(tauri: &Path, path: &Path) -> (String, String) {
    let mut c = cli(tauri);
    c.args(["signer", "generate", "--ci", "-w"]).arg(path);
    run(c);
    let key = std::fs::read_to_string(path).unwrap().trim().to_owned();
    let pubkey = std::fs::read_to_string(path.with_extension("key.pub")).unwrap();
    (key, pubkey.trim().to_owned())
}

fn sign(tauri: &Path, key: &str, file: &Path, version: Option<&str>) -> String {
    let mut c = cli(tauri);
    c.args(["signer", "sign", "-k", key]);
    if let Some(v) = version {
        c.args(["--app-version", v]);
    }
    c.arg(file);
    run(c);
    let sig_path = PathBuf::from(format!("{}.sig", file.display()));
    let sig = std::fs::read_to_string(&sig_path).unwrap();
    std::fs::remove_file(sig_path).unwrap();
    sig.trim().to_owned()
}

fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            let tauri = tauri_cli()?;
            let dir = tempfile::tempdir().unwrap();
            let (key_a, pubkey) = generate(&tauri, &dir.path().join("a.key"));
            let (key_b, _) = generate(&tauri, &dir.path().join("b.key"));
            let artifact = b"Pincer_0.1.0_amd64.AppImage: not really, but signed like one".to_vec();
            let file = dir.path().join("Pincer_0.1.0_amd64.AppImage");
            std::fs::write(&file, &artifact).unwrap();
            Some(Fixture {
                sig: sign(&tauri, &key_a, &file, Some("0.1.0")),
                sig_unversioned: sign(&tauri, &key_a, &file, None),
                sig_other_key: sign(&tauri, &key_b, &file, Some("0.1.0")),
                artifact,
                pubkey,
                dir,
            })
        })
        .as_ref()
}

#[test]
fn a_genuine_update_is_accepted() {
    let Some(f) = fixture() else { return };
    assert!(f.dir.path().exists());
    updater_accepts(&f.artifact, &f.sig, &f.pubkey, "0.1.0").unwrap();
    updater_accepts(&f.artifact, &f.sig, &f.pubkey, "v0.1.0").unwrap();
}

#[test]
fn a_tampered_update_is_rejected() {
    let Some(f) = fixture() else { return };
    for i in [0, f.artifact.len() / 2, f.artifact.len() - 1] {
        let mut tampered = f.artifact.clone();
        tampered[i] ^= 0x01;
        let err = updater_accepts(&tampered, &f.sig, &f.pubkey, "0.1.0").unwrap_err();
        assert!(err.starts_with("verify:"), "byte {i}: {err}");
    }
    let mut longer = f.artifact.clone();
    longer.push(b'\n');
    assert!(updater_accepts(&longer, &f.sig, &f.pubkey, "0.1.0").is_err());
}

#[test]
fn an_update_signed_by_another_key_is_rejected() {
    let Some(f) = fixture() else { return };
    let err = updater_accepts(&f.artifact, &f.sig_other_key, &f.pubkey, "0.1.0").unwrap_err();
    assert!(err.starts_with("verify:"), "{err}");
    // Nor does anything we sign here pass for a Pincer release: the app's own
    // key is a different one.
    let err = updater_accepts(&f.artifact, &f.sig, &configured_pubkey(), "0.1.0").unwrap_err();
    assert!(err.starts_with("verify:"), "{err}");
}

#[test]
fn an_old_release_relabelled_as_new_is_rejected() {
    let Some(f) = fixture() else { return };
    let err = updater_accepts(&f.artifact, &f.sig, &f.pubkey, "0.2.0").unwrap_err();
    assert!(err.contains("signed for 0.1.0"), "{err}");
    // A signature that names no version cannot be vouched for either.
    updater_accepts(&f.artifact, &f.sig_unversioned, &f.pubkey, "0.1.0").unwrap_err();
}

#[test]
fn a_tampered_signature_is_rejected() {
    let Some(f) = fixture() else { return };
    // The trusted comment is covered by the global signature: editing the
    // version in it (to relabel a release) breaks verification.
    let text = b64_text(&f.sig).unwrap();
    assert!(text.contains("\tversion:0.1.0"), "{text}");
    let edited = text.replace("version:0.1.0", "version:0.2.0");
    let edited = base64::engine::general_purpose::STANDARD.encode(edited);
    let err = updater_accepts(&f.artifact, &edited, &f.pubkey, "0.2.0").unwrap_err();
    assert!(err.starts_with("verify:"), "{err}");
}
