//! A static safety check for third-party skills (spec A.11, the ClawHavoc patterns), run
//! before a skill is enabled. It reads files only; nothing in the skill is executed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::parse::parse_skill_str;
use crate::skill::SkillSource;

/// Files larger than this are not scanned (reported as a warning instead).
pub const MAX_SCAN_FILE_BYTES: u64 = 2 * 1024 * 1024;
/// At most this many files are scanned.
pub const MAX_SCAN_FILES: usize = 2000;
const MAX_FINDINGS: usize = 200;

/// How serious one finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; does not change the verdict.
    Info,
    /// Needs the user's explicit confirmation.
    Warn,
    /// Plainly dangerous: do not enable.
    Block,
}

/// The overall result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing suspicious found.
    Ok,
    /// Suspicious: ask before enabling.
    Warn,
    /// Dangerous: refuse.
    Block,
}

impl Verdict {
    /// Exit code of `pincer skills check`: ok 0, warn 1, block 2 (3 = unreadable, see
    /// [`exit_code`]).
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Ok => 0,
            Verdict::Warn => 1,
            Verdict::Block => 2,
        }
    }
}

/// Exit code for a check result: the verdict's code, or 3 when the skill was unreadable.
pub fn exit_code(result: &Result<SafetyReport, SafetyError>) -> i32 {
    match result {
        Ok(r) => r.verdict.exit_code(),
        Err(_) => 3,
    }
}

/// The skill could not be checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SafetyError {
    /// The folder (or its `SKILL.md`) cannot be read.
    #[error("cannot read skill folder {path}: {source}")]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One thing the check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id (`pipe-to-shell`, `prompt-injection`, …).
    pub rule: String,
    /// Severity.
    pub severity: Severity,
    /// File relative to the skill folder, `/`-separated.
    pub file: String,
    /// 1-based line (0 for whole-file findings).
    pub line: usize,
    /// A short excerpt with long tokens redacted.
    pub excerpt: String,
    /// Explanation in English.
    pub explain_en: String,
    /// Explanation in Simplified Chinese.
    pub explain_zh: String,
}

/// What the skill says it needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredNeeds {
    /// Binaries from `requires.bins`/`anyBins`.
    pub bins: Vec<String>,
    /// Env vars from `requires.env`, `envVars` and `primaryEnv`.
    pub env: Vec<String>,
    /// The skill talks to the network (URLs, curl/wget, `web_fetch`, download installers).
    pub network: bool,
    /// The skill runs programs (scripts, shell blocks, required binaries).
    pub exec: bool,
}

/// The result of [`check_skill`]; serialises as `{"verdict": ..., "findings": [...], ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetyReport {
    /// Overall verdict (the highest severity, `Info` counting as ok).
    pub verdict: Verdict,
    /// Everything found.
    pub findings: Vec<Finding>,
    /// What the skill declares or evidently uses.
    pub declared_needs: DeclaredNeeds,
}

struct Rule {
    id: &'static str,
    severity: Severity,
    re: Regex,
    en: &'static str,
    zh: &'static str,
}

fn rule(
    id: &'static str,
    severity: Severity,
    re: &str,
    en: &'static str,
    zh: &'static str,
) -> Rule {
    Rule { id, severity, re: Regex::new(re).expect("valid rule regex"), en, zh }
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    use Severity::*;
    vec![
        rule(
            "pipe-to-shell-insecure",
            Block,
            r"(?i)\b(curl|wget)\b[^\n|]*(http://|\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b)[^\n|]*\|\s*(sudo\s+)?(ba|z|da|k)?sh\b",
            "downloads a script over an insecure or raw-IP address and runs it immediately",
            "从不安全的地址（明文 HTTP 或裸 IP）下载脚本并立即执行",
        ),
        rule(
            "pipe-to-shell",
            Warn,
            r"(?i)\b(curl|wget)\b[^\n|]*\|\s*(sudo\s+)?((ba|z|da|k)?sh\b|(python3?|perl|ruby|node)\s*-?\s*($|[;&|)`]))|(?i)\b(ba|z)?sh\s+(-c\s+)?[\x22']?\$\(\s*(curl|wget)|<\(\s*(curl|wget)\b|(?i)\b(iwr|irm|invoke-webrequest|invoke-restmethod)\b[^\n]*\|\s*iex\b",
            "downloads a script from the internet and runs it without showing it to you",
            "从网上下载脚本并直接运行，运行前你看不到脚本内容",
        ),
        rule(
            "decode-exec",
            Block,
            r"(?i)base64\s+(-d|-D|--decode)\b[^\n]*\|\s*(sudo\s+)?((ba|z)?sh|python3?|perl)\b|xxd\s+-r[^\n]*\|\s*(ba|z)?sh\b|\beval\s*\(?\s*(atob|Buffer\.from|base64|bytes\.fromhex|codecs\.decode)|\bexec\s*\(\s*(base64\.b64decode|bytes\.fromhex|codecs\.decode|zlib\.decompress)|FromBase64String[^\n]*(iex|invoke-expression)|(iex|invoke-expression)[^\n]*FromBase64String|\beval\s+\x22?\$\(\s*(echo|printf)[^\n]*(base64|xxd)",
            "decodes hidden (base64/hex) text and runs it as a program",
            "把隐藏的（base64/十六进制编码的）内容解码后当作程序执行",
        ),
        rule(
            "password-archive",
            Block,
            r"(?i)(unzip\s+-P\s|7z\s+x\b[^\n]*\s-p\S|\b(zip|archive|rar|7z)\b[^\n]{0,60}\b(pass(word)?|pwd)\s*[:=]|\b(pass(word)?|密码)\s*[:：=][^\n]{0,60}\b(zip|archive|rar|7z|解压))",
            "asks to unpack a password-protected archive, a trick to hide malware from scanners",
            "要求解压带密码的压缩包，这是躲避杀毒扫描的常见手法",
        ),
        rule(
            "prerequisite-download",
            Warn,
            r"(?i)(prerequisite|pre-requisite|required (component|helper|agent|runtime)|must (first )?(download|install)|(download|install)[^\n]{0,40}\bfirst\b|先(下载|安装)|前置(程序|组件|依赖))[^\n]{0,120}(https?://|\.exe\b|\.dmg\b|\.pkg\b|\.msi\b|\.zip\b|releases/)",
            "asks you to download and install an extra program before the skill works",
            "要求你先下载安装一个额外的程序，技能才能使用",
        ),
        rule(
            "raw-ip-url",
            Warn,
            r"(?i)\bhttps?://(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(:\d+)?",
            "contacts a server by bare IP address instead of a domain name",
            "直接用 IP 地址连接服务器，而不是正常的域名",
        ),
        rule(
            "exfil-endpoint",
            Warn,
            r"(?i)\b(glot\.io|pastebin\.com|paste\.ee|hastebin|webhook\.site|requestbin|pipedream\.net|ngrok(-free)?\.(io|app|dev)|transfer\.sh|interact\.sh|oast\.(fun|me|pro|live)|burpcollaborator|discord(app)?\.com/api/webhooks)",
            "talks to a paste/webhook/tunnel service often used to leak data",
            "连接常被用来外泄数据的粘贴板、Webhook 或内网穿透服务",
        ),
        rule(
            "credential-path",
            Warn,
            r"(?i)(~|\$HOME|%USERPROFILE%|/home/\w+|/Users/\w+)?/?\.ssh/(id_[a-z0-9]+|authorized_keys|config|known_hosts)?|\.aws/credentials|\.config/gcloud|\.kube/config|\.gnupg|\.netrc|\.git-credentials|\.docker/config\.json|Library/Keychains|security\s+find-(generic|internet)-password|login\.keychain|wallet\.dat|\.electrum|\.config/solana/id\.json|Exodus/exodus\.wallet|metamask|nkbihfbeogaeaoehlefnkodbefgpgknn|(?-i:Login Data|Local State|Cookies\.sqlite)|logins\.json|key4\.db|(Chrome|Chromium|BraveSoftware|Microsoft/Edge)/[^\n]*(User Data|Default)|\.mozilla/firefox|openclaw\.json|(cat|less|source|read|open)\s*\(?\s*['\x22]?[~./]*\.env\b",
            "reads a place where passwords, keys, wallets or browser logins are stored",
            "读取存放密码、密钥、钱包或浏览器登录信息的位置",
        ),
        rule(
            "memory-tamper",
            Warn,
            r"(?i)((write|overwrite|append|modify|edit|replace|rewrite|update|inject|insert)\b[^\n]{0,60}\b(SOUL|MEMORY|AGENTS|IDENTITY|USER)\.md\b|(SOUL|MEMORY|AGENTS)\.md\b[^\n]{0,20}(>>?|tee\b)|(修改|写入|覆盖|改写)[^\n]{0,30}(SOUL|MEMORY|AGENTS)\.md)",
            "tries to rewrite the agent's own memory or personality files",
            "试图改写智能体自己的记忆或人格文件",
        ),
        rule(
            "prompt-injection",
            Block,
            r"(?i)\b(ignore|disregard|forget|override)\s+(all\s+|any\s+|the\s+|your\s+)*(previous|prior|above|earlier|system|other)\s+(instructions|prompts?|rules|messages)|\b(do\s+not|don't|never)\s+(tell|inform|alert|notify|mention\s+(this\s+)?to|show)\s+(the\s+)?(user|owner|human)|\bwithout\s+(telling|informing|asking|notifying)\s+(the\s+)?(user|owner|human)|\byou\s+are\s+now\s+(in\s+)?(DAN|developer\s+mode|jailbroken|unrestricted)|(忽略|无视|忘记)(之前|以上|前面|先前|所有|系统)的?(所有)?(指令|指示|提示|规则)|(不要|别|切勿)(告诉|通知|提醒|让)用户(知道)?|瞒着用户",
            "contains instructions that try to override your rules or hide actions from you",
            "包含试图推翻你的规则、或对你隐瞒操作的指令",
        ),
        rule(
            "char-code-obfuscation",
            Warn,
            r"(?i)String\.fromCharCode\s*\(\s*\d+\s*(,\s*\d+\s*){4,}|(chr\(\d+\)\s*\+\s*){4,}|(\\x[0-9a-f]{2}){12,}|(\\u00[0-9a-f]{2}){12,}|\[char\]\s*\d+\s*\+\s*\[char\]",
            "builds text from character codes, a way to hide what the code does",
            "用字符编码拼出文字，用来隐藏代码真正的作用",
        ),
        rule(
            "long-encoded-blob",
            Warn,
            r"[A-Za-z0-9+/]{200,}={0,2}",
            "contains a long encoded blob that cannot be read as text",
            "包含一大段无法直接阅读的编码数据",
        ),
        rule(
            "destructive-command",
            Warn,
            r"(?i)\brm\s+-(rf|fr)\s+(/|~|\$HOME)(\s|$|/\*)|\bchmod\s+(-R\s+)?777\s+/|\bmkfs\.|\bdd\s+if=[^\n]*of=/dev/(sd|nvme|disk)",
            "contains a command that can erase files or disks",
            "包含可能删除文件或清空磁盘的命令",
        ),
    ]
});

static URL_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)https?://|\b(curl|wget|web_fetch|fetch\(|requests\.(get|post)|axios|urllib)\b")
        .expect("valid regex")
});
static SHELL_BLOCK_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?m)^```\s*(bash|sh|shell|zsh|console|powershell|ps1|python|py|js|javascript|node)\b",
    )
    .expect("valid regex")
});
static ENV_USE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:\$\{?|process\.env\.|os\.environ\[['"]|os\.environ\.get\(['"]|os\.getenv\(['"]|env::var\(")([A-Z][A-Z0-9_]{2,})"#)
        .expect("valid regex")
});
static UPLOAD_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(curl|wget)\b[^\n]*(\s-F\s|--form|--data|--upload-file|\s-T\s|\s-d\s*@|--post-file)|requests\.post|fetch\([^\n]*method:\s*['\x22]POST|\bnc\s+\S+\s+\d+\s*<")
        .expect("valid regex")
});
static TOKEN_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9+/=_\-]{24,}").expect("valid regex"));

const SCRIPT_EXTS: &[&str] =
    &["sh", "bash", "zsh", "py", "js", "mjs", "cjs", "ts", "ps1", "bat", "cmd", "rb", "pl", "php"];

/// A short, secret-free excerpt of `line`.
fn excerpt(line: &str) -> String {
    let redacted = TOKEN_RE.replace_all(line.trim(), |c: &regex::Captures<'_>| {
        let t = &c[0];
        format!("{}…", &t[..6])
    });
    let mut s: String = redacted.chars().take(100).collect();
    if redacted.chars().count() > 100 {
        s.push('…');
    }
    s
}

fn finding(rule: &Rule, file: &str, line: usize, text: &str) -> Finding {
    Finding {
        rule: rule.id.to_string(),
        severity: rule.severity,
        file: file.to_string(),
        line,
        excerpt: excerpt(text),
        explain_en: rule.en.to_string(),
        explain_zh: rule.zh.to_string(),
    }
}

fn plain(
    id: &str,
    severity: Severity,
    file: &str,
    line: usize,
    text: &str,
    en: String,
    zh: String,
) -> Finding {
    Finding {
        rule: id.to_string(),
        severity,
        file: file.to_string(),
        line,
        excerpt: excerpt(text),
        explain_en: en,
        explain_zh: zh,
    }
}

/// Checks the skill folder `dir`. Blocking: use `spawn_blocking` in async code.
pub fn check_skill(dir: &Path) -> Result<SafetyReport, SafetyError> {
    let unreadable = |source| SafetyError::Unreadable { path: dir.to_path_buf(), source };
    let meta = std::fs::metadata(dir).map_err(unreadable)?;
    if !meta.is_dir() {
        return Err(unreadable(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a folder",
        )));
    }
    std::fs::read_dir(dir).map_err(unreadable)?;
    let mut files = Vec::new();
    let mut extra = Vec::new();
    walk(dir, dir, &mut files, &mut extra);
    let mut report = check_files(&files);
    report.findings.extend(extra);
    report.findings.sort_by(|a, b| {
        b.severity.cmp(&a.severity).then(a.file.cmp(&b.file)).then(a.line.cmp(&b.line))
    });
    report.verdict = verdict_of(&report.findings);
    Ok(report)
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, Vec<u8>)>, extra: &mut Vec<Finding>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name == ".git" || name == "node_modules" || name == ".clawhub" {
            continue;
        }
        let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_symlink() {
            let target = std::fs::canonicalize(&path).ok();
            let inside = match (target, root.canonicalize().ok()) {
                (Some(t), Some(r)) => t.starts_with(r),
                _ => false,
            };
            extra.push(plain(
                "symlink",
                if inside { Severity::Warn } else { Severity::Block },
                &rel,
                0,
                "",
                if inside {
                    "contains a link to another file".into()
                } else {
                    "contains a link pointing outside the skill folder".into()
                },
                if inside {
                    "包含指向其他文件的链接".into()
                } else {
                    "包含指向技能文件夹之外的链接".into()
                },
            ));
            continue;
        }
        if ft.is_dir() {
            walk(root, &path, files, extra);
        } else if ft.is_file() {
            if files.len() >= MAX_SCAN_FILES {
                continue;
            }
            let size = e.metadata().map(|m| m.len()).unwrap_or(0);
            if size > MAX_SCAN_FILE_BYTES {
                extra.push(plain(
                    "file-too-large",
                    Severity::Warn,
                    &rel,
                    0,
                    "",
                    format!("file is too large to check ({size} bytes)"),
                    format!("文件太大，无法检查（{size} 字节）"),
                ));
                continue;
            }
            if let Ok(bytes) = std::fs::read(&path) {
                files.push((rel, bytes));
            }
        }
    }
}

/// Whether `line` has an http(s) URL with a public IP address (loopback, private and
/// link-local addresses are local devices such as Home Assistant, not exfiltration).
fn has_public_ip_url(line: &str) -> bool {
    static IP_URL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\bhttps?://(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})").expect("valid regex")
    });
    IP_URL.captures_iter(line).any(|c| match c[1].parse::<std::net::Ipv4Addr>() {
        Ok(ip) => {
            !(ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified())
        }
        Err(_) => false,
    })
}

/// Whether an injection phrase on `line` is quoted or discussed rather than commanded
/// (security skills list such phrases as patterns to detect).
fn is_quoted_mention(line: &str) -> bool {
    static META: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?i)["“”'‘’「」`*]\s*(ignore|disregard|forget|override|do not|don't|never|without|you are|忽略|无视|忘记|不要|别|切勿|瞒着)|\b(detect|detects|detection|pattern|patterns|injection|attack|attacker|example|e\.g\.|such as|malicious|phishing|block|flag)\b|(示例|例如|检测|攻击|注入|识别)"#)
            .expect("valid regex")
    });
    META.is_match(line)
}

fn verdict_of(findings: &[Finding]) -> Verdict {
    match findings.iter().map(|f| f.severity).max() {
        Some(Severity::Block) => Verdict::Block,
        Some(Severity::Warn) => Verdict::Warn,
        _ => Verdict::Ok,
    }
}

fn is_binary_exe(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
        || bytes.starts_with(b"MZ")
        || bytes.starts_with(&[0xcf, 0xfa, 0xed, 0xfe])
        || bytes.starts_with(&[0xca, 0xfe, 0xba, 0xbe])
}

/// Checks in-memory files (`(relative path, bytes)`), e.g. a downloaded archive before it
/// is written to disk.
pub fn check_files(files: &[(String, Vec<u8>)]) -> SafetyReport {
    let mut findings = Vec::new();
    let mut needs = DeclaredNeeds::default();
    let mut used_env: BTreeSet<(String, String, usize)> = BTreeSet::new();
    for (path, bytes) in files {
        let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
        if SCRIPT_EXTS.contains(&ext.as_str()) {
            needs.exec = true;
        }
        if is_binary_exe(bytes) {
            needs.exec = true;
            findings.push(plain(
                "bundled-executable",
                Severity::Warn,
                path,
                0,
                "",
                "ships a compiled program that cannot be reviewed".into(),
                "附带了无法审查的已编译程序".into(),
            ));
            continue;
        }
        let Ok(text) = std::str::from_utf8(bytes) else { continue };
        if path.eq_ignore_ascii_case("SKILL.md") {
            let dir = Path::new("/skill");
            if let Ok(skill) =
                parse_skill_str(text, &dir.join("SKILL.md"), dir, SkillSource::Workspace)
            {
                if let Some(m) = &skill.openclaw {
                    needs.bins.extend(m.requires.bins.iter().cloned());
                    needs.bins.extend(m.requires.any_bins.iter().cloned());
                    needs.env.extend(m.requires.env.iter().cloned());
                    needs.env.extend(m.env_vars.iter().map(|(n, _)| n.clone()));
                    needs.env.extend(m.primary_env.iter().cloned());
                    if m.install.iter().any(|i| i.url.is_some()) {
                        needs.network = true;
                    }
                }
            }
        }
        if SHELL_BLOCK_RE.is_match(text) {
            needs.exec = true;
        }
        if URL_RE.is_match(text) {
            needs.network = true;
        }
        for (i, line) in text.lines().enumerate() {
            for r in RULES.iter() {
                if findings.len() < MAX_FINDINGS && r.re.is_match(line) {
                    // The insecure variant subsumes the generic pipe-to-shell finding.
                    if r.id == "pipe-to-shell"
                        && findings.last().is_some_and(|f: &Finding| {
                            f.rule == "pipe-to-shell-insecure" && f.file == *path && f.line == i + 1
                        })
                    {
                        continue;
                    }
                    if r.id == "raw-ip-url" && !has_public_ip_url(line) {
                        continue;
                    }
                    let mut f = finding(r, path, i + 1, line);
                    if r.id == "prompt-injection" && is_quoted_mention(line) {
                        f.rule = "prompt-injection-quoted".into();
                        f.severity = Severity::Warn;
                        f.explain_en = "quotes a phrase used in prompt-injection attacks (check whether it is only an example)".into();
                        f.explain_zh = "引用了提示词注入攻击常用的话（请确认只是举例）".into();
                    }
                    findings.push(f);
                }
            }
            if SCRIPT_EXTS.contains(&ext.as_str()) {
                for c in ENV_USE_RE.captures_iter(line) {
                    used_env.insert((c[1].to_string(), path.clone(), i + 1));
                }
            }
        }
    }
    // Credential reads plus a way out = exfiltration: anywhere in the same script, or
    // within three lines of each other in Markdown (documents often list both apart).
    let mut escalate = Vec::new();
    for (path, bytes) in files {
        let Ok(text) = std::str::from_utf8(bytes) else { continue };
        let lines: Vec<&str> = text.lines().collect();
        let is_doc = path.to_ascii_lowercase().ends_with(".md");
        let near = |a: usize, b: usize| !is_doc || a.abs_diff(b) <= 3;
        let cred = findings.iter().find(|c| {
            c.file == *path
                && c.rule == "credential-path"
                && (findings.iter().any(|f| {
                    f.file == *path
                        && (f.rule == "exfil-endpoint" || f.rule == "raw-ip-url")
                        && near(f.line, c.line)
                }) || lines
                    .iter()
                    .enumerate()
                    .any(|(i, l)| near(i + 1, c.line) && UPLOAD_RE.is_match(l)))
        });
        if let Some(c) = cred {
            escalate.push(Finding {
                rule: "credential-exfiltration".into(),
                severity: Severity::Block,
                file: path.clone(),
                line: c.line,
                excerpt: c.excerpt.clone(),
                explain_en: "reads secrets and sends data to an outside server".into(),
                explain_zh: "读取机密信息并发送到外部服务器".into(),
            });
        }
    }
    findings.extend(escalate);
    needs.bins.sort();
    needs.bins.dedup();
    needs.env.sort();
    needs.env.dedup();
    if !needs.bins.is_empty() {
        needs.exec = true;
    }
    // Secret-looking env vars used by scripts but never declared (spec A.11).
    let mut reported = BTreeSet::new();
    for (var, file, line) in used_env {
        let secretish = ["KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "PRIVATE", "CREDENTIAL"]
            .iter()
            .any(|s| var.contains(s));
        if secretish && !needs.env.contains(&var) && reported.insert(var.clone()) {
            findings.push(plain(
                "undeclared-secret-env",
                Severity::Info,
                &file,
                line,
                &var,
                format!("a script reads {var}, which the skill does not declare"),
                format!("脚本读取了技能未声明的环境变量 {var}"),
            ));
        }
    }
    let verdict = verdict_of(&findings);
    SafetyReport { verdict, findings, declared_needs: needs }
}
