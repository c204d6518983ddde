//! The systemd unit in `installers/` is well-formed and runs `pincer run`.

use std::collections::HashMap;

/// Section → key → values, from systemd's INI dialect.
fn parse(text: &str) -> HashMap<String, HashMap<String, Vec<String>>> {
    let mut out: HashMap<String, HashMap<String, Vec<String>>> = HashMap::new();
    let mut section = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.to_owned());
            out.entry(name.to_owned()).or_default();
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("line {}: {line}", n + 1));
        let section =
            section.clone().unwrap_or_else(|| panic!("line {}: key outside a section", n + 1));
        out.entry(section)
            .or_default()
            .entry(key.trim().into())
            .or_default()
            .push(value.trim().into());
    }
    out
}

#[test]
fn the_systemd_unit_runs_pincer_run_and_restarts_on_failure() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../installers/pincer.service");
    let unit = parse(&std::fs::read_to_string(path).unwrap());
    let get = |s: &str, k: &str| -> Vec<String> {
        unit.get(s).and_then(|s| s.get(k)).cloned().unwrap_or_default()
    };
    for s in ["Unit", "Service", "Install"] {
        assert!(unit.contains_key(s), "[{s}] section");
    }
    let exec = get("Service", "ExecStart");
    assert_eq!(exec.len(), 1);
    let argv: Vec<&str> = exec[0].split_whitespace().collect();
    assert!(argv[0] == "%h/.cargo/bin/pincer" || argv[0] == "/usr/bin/pincer", "{}", exec[0]);
    assert_eq!(argv[1], "run");
    assert_eq!(get("Service", "Restart"), ["on-failure"]);
    assert!(get("Service", "Environment").iter().any(|e| e.starts_with("PINCER_HOME=")));
    let env_file = get("Service", "EnvironmentFile");
    assert!(env_file.len() == 1 && env_file[0].starts_with('-'), "optional EnvironmentFile");
    assert_eq!(get("Install", "WantedBy"), ["default.target"]);
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.contains("loginctl enable-linger")
            && (text.contains("0600") || text.contains("-m 600"))
    );
    let readme = concat!(env!("CARGO_MANIFEST_DIR"), "/../../installers/README.md");
    let readme = std::fs::read_to_string(readme).unwrap();
    assert!(readme.contains("PINCER_SECRET_") && readme.contains("enable-linger"));
}
