//! Parsing one `SKILL.md` (spec A.2–A.4). Every failure is a typed [`Rejection`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::i18n::Lang;
use crate::skill::{
    is_portable_name, InstallKind, InstallSpec, Lint, OpenClawMeta, Os, Requires, Skill,
    SkillSource,
};

/// Largest `SKILL.md` we read: 1 MiB. Real skills are a few KB; the registry's raw-file
/// limit is 10 MB, but a prompt-loaded instruction file beyond 1 MiB is not a skill.
pub const MAX_SKILL_FILE_BYTES: u64 = 1024 * 1024;

/// Why a `SKILL.md` was not loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "kebab-case", tag = "reason", content = "detail")]
#[non_exhaustive]
pub enum RejectReason {
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Io(String),
    /// Larger than [`MAX_SKILL_FILE_BYTES`].
    #[error("file is too large ({0} bytes, limit {MAX_SKILL_FILE_BYTES})")]
    TooLarge(u64),
    /// Not valid UTF-8.
    #[error("file is not valid UTF-8 (byte offset {0})")]
    NotUtf8(usize),
    /// The file does not start with a `---` frontmatter block.
    #[error("no YAML frontmatter (the file must start with `---`)")]
    NoFrontmatter,
    /// The opening `---` has no closing `---`.
    #[error("frontmatter is not closed by a `---` line")]
    UnclosedFrontmatter,
    /// Neither YAML nor the line fallback produced a key/value map.
    #[error("frontmatter is not valid YAML: {0}")]
    BadYaml(String),
    /// `name` is present but empty or not a string, or no usable name exists.
    #[error("missing or empty `name`")]
    MissingName,
    /// `description` is absent or empty.
    #[error("missing or empty `description`")]
    MissingDescription,
    /// The skill folder resolves outside its root (symlink escape).
    #[error("skill folder resolves outside its root")]
    OutsideRoot,
}

impl RejectReason {
    /// A short stable label for statistics (`bad-yaml`, `missing-name`, …).
    pub fn label(&self) -> &'static str {
        match self {
            RejectReason::Io(_) => "io",
            RejectReason::TooLarge(_) => "too-large",
            RejectReason::NotUtf8(_) => "not-utf8",
            RejectReason::NoFrontmatter => "no-frontmatter",
            RejectReason::UnclosedFrontmatter => "unclosed-frontmatter",
            RejectReason::BadYaml(_) => "bad-yaml",
            RejectReason::MissingName => "missing-name",
            RejectReason::MissingDescription => "missing-description",
            RejectReason::OutsideRoot => "outside-root",
        }
    }

    /// The reason in the user's language.
    pub fn explain(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.to_string(),
            Lang::ZhCn => match self {
                RejectReason::Io(e) => format!("无法读取文件：{e}"),
                RejectReason::TooLarge(n) => {
                    format!("文件太大（{n} 字节，上限 {MAX_SKILL_FILE_BYTES} 字节）")
                }
                RejectReason::NotUtf8(at) => format!("文件不是有效的 UTF-8 文本（第 {at} 字节）"),
                RejectReason::NoFrontmatter => "缺少 YAML 头部（文件必须以 `---` 开头）".into(),
                RejectReason::UnclosedFrontmatter => "YAML 头部缺少结尾的 `---` 行".into(),
                RejectReason::BadYaml(e) => format!("YAML 头部格式错误：{e}"),
                RejectReason::MissingName => "缺少 `name`（技能名称）或名称为空".into(),
                RejectReason::MissingDescription => {
                    "缺少 `description`（技能说明）或说明为空".into()
                }
                RejectReason::OutsideRoot => "技能文件夹指向了技能目录之外的位置".into(),
            },
        }
    }
}

/// A `SKILL.md` that was not loaded, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct Rejection {
    /// The `SKILL.md` (or folder) that was rejected.
    pub path: PathBuf,
    /// Why.
    pub reason: RejectReason,
}

/// Reads and parses `<dir>/SKILL.md`-style `file` belonging to skill folder `dir`.
pub fn parse_skill_file(file: &Path, dir: &Path, source: SkillSource) -> Result<Skill, Rejection> {
    let reject = |reason| Rejection { path: file.to_path_buf(), reason };
    let meta = std::fs::metadata(file).map_err(|e| reject(RejectReason::Io(e.to_string())))?;
    if meta.len() > MAX_SKILL_FILE_BYTES {
        return Err(reject(RejectReason::TooLarge(meta.len())));
    }
    let bytes = std::fs::read(file).map_err(|e| reject(RejectReason::Io(e.to_string())))?;
    if bytes.len() as u64 > MAX_SKILL_FILE_BYTES {
        return Err(reject(RejectReason::TooLarge(bytes.len() as u64)));
    }
    let text = String::from_utf8(bytes)
        .map_err(|e| reject(RejectReason::NotUtf8(e.utf8_error().valid_up_to())))?;
    parse_skill_str(&text, file, dir, source)
}

/// Parses `SKILL.md` text. `file` and `dir` are recorded in the result (and `dir`'s last
/// component is the fallback name).
pub fn parse_skill_str(
    text: &str,
    file: &Path,
    dir: &Path,
    source: SkillSource,
) -> Result<Skill, Rejection> {
    let reject = |reason| Rejection { path: file.to_path_buf(), reason };
    if text.len() as u64 > MAX_SKILL_FILE_BYTES {
        return Err(reject(RejectReason::TooLarge(text.len() as u64)));
    }
    let (front, body) = split_frontmatter(text).map_err(reject)?;
    let mut lints = Vec::new();
    let map = match parse_yaml_map(front) {
        Ok(m) => m,
        Err(yaml_err) => {
            let m = parse_lines(front);
            if m.is_empty() {
                return Err(reject(RejectReason::BadYaml(yaml_err)));
            }
            lints.push(Lint::LineFallback);
            m
        }
    };

    let name = match map.get("name") {
        None | Some(Value::Null) => {
            let fallback = dir.file_name().map(|n| n.to_string_lossy().into_owned());
            match fallback {
                Some(n) if !n.trim().is_empty() => {
                    lints.push(Lint::NameFromDirectory);
                    n
                }
                _ => return Err(reject(RejectReason::MissingName)),
            }
        }
        Some(v) => match scalar_string(v) {
            Some(s) if !s.trim().is_empty() => s.trim().to_string(),
            _ => return Err(reject(RejectReason::MissingName)),
        },
    };
    if !is_portable_name(&name) {
        lints.push(Lint::NonPortableName);
    }
    let description = map
        .get("description")
        .and_then(scalar_string)
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| reject(RejectReason::MissingDescription))?;

    let openclaw = match map.get("metadata") {
        None | Some(Value::Null) => None,
        Some(v) => match metadata_value(v) {
            Ok(meta) => parse_openclaw(&meta, &mut lints),
            Err(e) => {
                lints.push(Lint::BadMetadata(e));
                None
            }
        },
    };
    let homepage = map
        .get("homepage")
        .and_then(scalar_string)
        .or_else(|| openclaw.as_ref().and_then(|m| m.homepage.clone()));

    Ok(Skill {
        name,
        description,
        version: map.get("version").and_then(scalar_string),
        homepage,
        user_invocable: map.get("user-invocable").and_then(as_bool).unwrap_or(true),
        disable_model_invocation: map
            .get("disable-model-invocation")
            .and_then(as_bool)
            .unwrap_or(false),
        command_dispatch: map.get("command-dispatch").and_then(scalar_string),
        command_tool: map.get("command-tool").and_then(scalar_string),
        openclaw,
        body: body.to_string(),
        dir: dir.to_path_buf(),
        file: file.to_path_buf(),
        source,
        lints,
    })
}

/// Splits `---\n<yaml>\n---\n<body>`. Tolerates a BOM, CRLF and leading blank lines.
fn split_frontmatter(text: &str) -> Result<(&str, &str), RejectReason> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let trimmed = text.trim_start_matches(['\n', '\r', ' ', '\t']);
    let mut lines = trimmed.split_inclusive('\n');
    let first = lines.next().ok_or(RejectReason::NoFrontmatter)?;
    if first.trim_end() != "---" {
        return Err(RejectReason::NoFrontmatter);
    }
    let start = first.len();
    let mut pos = start;
    for line in lines {
        let t = line.trim_end();
        if t == "---" || t == "..." {
            let front = &trimmed[start..pos];
            let body = &trimmed[pos + line.len()..];
            return Ok((front, body));
        }
        pos += line.len();
    }
    Err(RejectReason::UnclosedFrontmatter)
}

fn parse_yaml_map(front: &str) -> Result<Map<String, Value>, String> {
    if front.trim().is_empty() {
        return Ok(Map::new());
    }
    let v: serde_norway::Value = serde_norway::from_str(front).map_err(|e| e.to_string())?;
    match yaml_to_json(v) {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        other => Err(format!("frontmatter is a {} rather than a mapping", kind_of(&other))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

fn yaml_to_json(v: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(n.to_string()))
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(seq) => Value::Array(seq.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match yaml_to_json(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => yaml_to_json(t.value),
    }
}

/// The OpenClaw fallback: top-level `key: value` lines, single-line values only.
fn parse_lines(front: &str) -> Map<String, Value> {
    let mut map = Map::new();
    for line in front.lines() {
        if line.starts_with([' ', '\t', '#', '-']) {
            continue;
        }
        let Some((k, v)) = line.split_once(':') else { continue };
        let k = k.trim();
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            continue;
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
            .unwrap_or(v);
        map.insert(k.to_string(), Value::String(v.to_string()));
    }
    map
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A mapping is used as is (equivalent to serialising to JSON and re-parsing as JSON5);
/// a string is parsed as JSON5.
fn metadata_value(v: &Value) -> Result<Value, String> {
    match v {
        Value::Object(_) => Ok(v.clone()),
        Value::String(s) => json5::from_str::<Value>(s).map_err(|e| e.to_string()),
        other => Err(format!("metadata is a {}", kind_of(other))),
    }
}

fn str_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => {
            s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
        }
        Some(Value::Array(a)) => a.iter().filter_map(scalar_string).collect(),
        _ => Vec::new(),
    }
}

fn opt_str(m: &Map<String, Value>, key: &str) -> Option<String> {
    m.get(key).and_then(scalar_string).filter(|s| !s.is_empty())
}

fn parse_openclaw(meta: &Value, lints: &mut Vec<Lint>) -> Option<OpenClawMeta> {
    let ns = ["openclaw", "clawdbot", "clawdis"]
        .iter()
        .find_map(|k| meta.get(*k).and_then(Value::as_object))?;
    let req = ns.get("requires").and_then(Value::as_object);
    let requires = Requires {
        bins: str_list(req.and_then(|r| r.get("bins"))),
        any_bins: str_list(req.and_then(|r| r.get("anyBins"))),
        env: str_list(req.and_then(|r| r.get("env"))),
        config: str_list(req.and_then(|r| r.get("config"))),
    };
    let env_vars = match ns.get("envVars") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|e| match e {
                Value::String(s) => Some((s.clone(), true)),
                Value::Object(o) => {
                    Some((opt_str(o, "name")?, o.get("required").and_then(as_bool).unwrap_or(true)))
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut install = Vec::new();
    if let Some(Value::Array(specs)) = ns.get("install") {
        for spec in specs {
            match parse_install(spec) {
                Ok(s) => install.push(s),
                Err(e) => lints.push(Lint::DroppedInstallSpec(e)),
            }
        }
    }
    Some(OpenClawMeta {
        emoji: opt_str(ns, "emoji"),
        homepage: opt_str(ns, "homepage"),
        always: ns.get("always").and_then(as_bool).unwrap_or(false),
        os: str_list(ns.get("os")).iter().map(|s| Os::parse(s)).collect(),
        requires,
        primary_env: opt_str(ns, "primaryEnv"),
        skill_key: opt_str(ns, "skillKey"),
        env_vars,
        install,
    })
}

fn parse_install(v: &Value) -> Result<InstallSpec, String> {
    let o = v.as_object().ok_or("install spec is not an object")?;
    let kind = match opt_str(o, "kind").as_deref() {
        Some("brew") => InstallKind::Brew,
        Some("node") => InstallKind::Node,
        Some("go") => InstallKind::Go,
        Some("uv") => InstallKind::Uv,
        Some("download") => InstallKind::Download,
        other => return Err(format!("unknown install kind {other:?}")),
    };
    let formula = opt_str(o, "formula").or_else(|| opt_str(o, "cask"));
    let spec = InstallSpec {
        id: opt_str(o, "id"),
        kind,
        label: opt_str(o, "label"),
        bins: str_list(o.get("bins")),
        os: str_list(o.get("os")).iter().map(|s| Os::parse(s)).collect(),
        formula,
        package: opt_str(o, "package"),
        module: opt_str(o, "module"),
        url: opt_str(o, "url"),
        archive: opt_str(o, "archive"),
    };
    match kind {
        InstallKind::Brew => {
            let f = spec.formula.as_deref().ok_or("brew spec without formula")?;
            let ok = f.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && f.bytes().all(|b| b.is_ascii_alphanumeric() || b"@+._/-".contains(&b))
                && !f.contains("..");
            if !ok {
                return Err(format!("invalid brew formula {f:?}"));
            }
        }
        InstallKind::Node | InstallKind::Uv => {
            let p = spec.package.as_deref().ok_or("spec without package")?;
            if p.starts_with('-') || p.chars().any(char::is_whitespace) {
                return Err(format!("invalid package {p:?}"));
            }
        }
        InstallKind::Go => {
            let m = spec.module.as_deref().ok_or("go spec without module")?;
            if m.starts_with('-') || m.chars().any(char::is_whitespace) {
                return Err(format!("invalid go module {m:?}"));
            }
        }
        InstallKind::Download => {
            let u = spec.url.as_deref().ok_or("download spec without url")?;
            if !(u.starts_with("https://") || u.starts_with("http://")) {
                return Err(format!("download url is not http(s): {u:?}"));
            }
        }
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Skill, RejectReason> {
        parse_skill_str(text, Path::new("/s/x/SKILL.md"), Path::new("/s/x"), SkillSource::Workspace)
            .map_err(|r| r.reason)
    }

    #[test]
    fn inline_json5_and_block_metadata_agree() {
        let a = parse("---\nname: a\ndescription: d\nmetadata: {openclaw: {emoji: '📰', requires: {bins: ['jq'],},},}\n---\nbody").unwrap();
        let b = parse("---\nname: a\ndescription: d\nmetadata:\n  openclaw:\n    emoji: \"📰\"\n    requires:\n      bins: [jq]\n---\nbody").unwrap();
        assert_eq!(a.openclaw, b.openclaw);
        assert_eq!(a.openclaw.unwrap().requires.bins, vec!["jq"]);
        assert_eq!(b.body, "body");
    }

    #[test]
    fn booleans_accept_strings() {
        let s = parse("---\nname: a\ndescription: d\nuser-invocable: \"false\"\ndisable-model-invocation: true\n---\n").unwrap();
        assert!(!s.user_invocable);
        assert!(s.disable_model_invocation);
    }

    #[test]
    fn bad_yaml_falls_back_to_lines() {
        let s = parse("---\nname: a\ndescription: uses: colons: everywhere\n  - [broken\n---\n")
            .unwrap();
        assert_eq!(s.description, "uses: colons: everywhere");
        assert!(s.lints.contains(&Lint::LineFallback));
    }

    #[test]
    fn missing_name_uses_folder_and_empty_name_is_rejected() {
        let s = parse("---\ndescription: d\n---\n").unwrap();
        assert_eq!(s.name, "x");
        assert_eq!(parse("---\nname: \"\"\ndescription: d\n---\n"), Err(RejectReason::MissingName));
        assert_eq!(parse("---\nname: a\n---\n"), Err(RejectReason::MissingDescription));
        assert_eq!(parse("# hi\n"), Err(RejectReason::NoFrontmatter));
        assert_eq!(parse("---\nname: a\n"), Err(RejectReason::UnclosedFrontmatter));
    }

    #[test]
    fn invalid_install_specs_are_dropped() {
        let s = parse("---\nname: a\ndescription: d\nmetadata: {\"openclaw\":{\"install\":[{\"kind\":\"brew\",\"formula\":\"-x\"},{\"kind\":\"brew\",\"formula\":\"jq\"},{\"kind\":\"download\",\"url\":\"file:///etc\"}]}}\n---\n").unwrap();
        let m = s.openclaw.unwrap();
        assert_eq!(m.install.len(), 1);
        assert_eq!(m.install[0].formula.as_deref(), Some("jq"));
        assert_eq!(s.lints.iter().filter(|l| matches!(l, Lint::DroppedInstallSpec(_))).count(), 2);
    }
}

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn every_reason_has_distinct_text_in_both_languages() {
        let all = [
            RejectReason::Io("denied".into()),
            RejectReason::TooLarge(2_000_000),
            RejectReason::NotUtf8(7),
            RejectReason::NoFrontmatter,
            RejectReason::UnclosedFrontmatter,
            RejectReason::BadYaml("x".into()),
            RejectReason::MissingName,
            RejectReason::MissingDescription,
            RejectReason::OutsideRoot,
        ];
        let mut seen = std::collections::HashSet::new();
        for r in &all {
            let en = r.explain(Lang::En);
            let zh = r.explain(Lang::ZhCn);
            assert_ne!(en, zh);
            assert!(zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{zh}");
            assert!(seen.insert(r.label()));
        }
        assert_eq!(
            RejectReason::TooLarge(5).to_string(),
            "file is too large (5 bytes, limit 1048576)"
        );
        assert_eq!(
            RejectReason::NotUtf8(7).explain(Lang::ZhCn),
            "文件不是有效的 UTF-8 文本（第 7 字节）"
        );
    }
}
