//! Skill archives (spec B.6), safe unpacking and fingerprints (B.7).

use std::cmp::Ordering;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Largest total uncompressed size of a skill archive (spec A.1: bundle ≤ 50 MB).
pub const MAX_TOTAL_BYTES: u64 = 50 * 1024 * 1024;
/// Largest single file (spec A.1: raw file ≤ 10 MB).
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// Most files in one skill archive.
pub const MAX_FILES: usize = 1000;

/// Why an archive was refused. Nothing is written when any entry is bad.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// Not a readable ZIP.
    #[error("not a valid ZIP archive: {0}")]
    Corrupt(String),
    /// An entry path is absolute, has `..`, empty segments, backslashes or a drive letter.
    #[error("unsafe path in archive: {0:?}")]
    UnsafePath(String),
    /// A symbolic link entry.
    #[error("archive contains a symbolic link: {0:?}")]
    Symlink(String),
    /// A directory entry (registry archives have none).
    #[error("archive contains a directory entry: {0:?}")]
    DirectoryEntry(String),
    /// The same path twice.
    #[error("archive contains {0:?} twice")]
    Duplicate(String),
    /// Too many files.
    #[error("archive has more than {MAX_FILES} files")]
    TooManyFiles,
    /// A file or the whole archive is too large.
    #[error("archive is too large ({0})")]
    TooLarge(String),
}

impl ArchiveError {
    /// The reason in Simplified Chinese.
    pub fn explain_zh(&self) -> String {
        match self {
            ArchiveError::Corrupt(e) => format!("压缩包已损坏：{e}"),
            ArchiveError::UnsafePath(p) => format!("压缩包中有不安全的路径：{p:?}"),
            ArchiveError::Symlink(p) => format!("压缩包中有符号链接：{p:?}"),
            ArchiveError::DirectoryEntry(p) => format!("压缩包中有目录条目：{p:?}"),
            ArchiveError::Duplicate(p) => format!("压缩包中 {p:?} 出现了两次"),
            ArchiveError::TooManyFiles => format!("压缩包中的文件超过 {MAX_FILES} 个"),
            ArchiveError::TooLarge(w) => format!("压缩包太大（{w}）"),
        }
    }
}

/// Checks one archive path per spec B.5: relative, `/`-separated, no empty, `.` or `..`
/// segments, no backslashes, no drive letters or NUL.
pub fn validate_entry_path(name: &str) -> Result<(), ArchiveError> {
    let bad = || ArchiveError::UnsafePath(name.to_string());
    if name.is_empty() || name.starts_with('/') || name.contains(['\\', '\0', ':']) {
        return Err(bad());
    }
    for seg in name.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(bad());
        }
    }
    Ok(())
}

/// Reads a ZIP fully into memory, refusing anything unsafe. Returns `(path, bytes)` pairs
/// sorted like the registry sorts them. Blocking (CPU): use `spawn_blocking`.
pub fn read_zip(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, ArchiveError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
    if zip.len() > MAX_FILES {
        return Err(ArchiveError::TooManyFiles);
    }
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
        let name = String::from_utf8_lossy(f.name_raw()).into_owned();
        if f.is_symlink() || f.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000) {
            return Err(ArchiveError::Symlink(name));
        }
        if f.is_dir() || name.ends_with('/') {
            return Err(ArchiveError::DirectoryEntry(name));
        }
        validate_entry_path(&name)?;
        if out.iter().any(|(p, _)| p == &name) {
            return Err(ArchiveError::Duplicate(name));
        }
        if f.size() > MAX_FILE_BYTES {
            return Err(ArchiveError::TooLarge(format!("{name}: {} bytes", f.size())));
        }
        let mut data = Vec::new();
        (&mut f)
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut data)
            .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
        if data.len() as u64 > MAX_FILE_BYTES {
            return Err(ArchiveError::TooLarge(format!(
                "{name}: more than {MAX_FILE_BYTES} bytes"
            )));
        }
        total += data.len() as u64;
        if total > MAX_TOTAL_BYTES {
            return Err(ArchiveError::TooLarge(format!(
                "more than {MAX_TOTAL_BYTES} bytes in total"
            )));
        }
        out.push((name, data));
    }
    out.sort_by(|a, b| locale_compare(&a.0, &b.0));
    Ok(out)
}

/// Writes validated files under `dir` (created). Every path is re-validated and must stay
/// inside `dir`. Blocking.
pub fn write_files(dir: &Path, files: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, data) in files {
        validate_entry_path(name)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        let path: PathBuf = name.split('/').fold(dir.to_path_buf(), |p, s| p.join(s));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        std::io::Write::write_all(&mut opts.open(&path)?, data)?;
    }
    Ok(())
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// An approximation of JavaScript `localeCompare` (ICU root collation) for file paths:
/// punctuation before digits before letters, letters compared case-insensitively first,
/// lower case before upper case on ties.
pub fn locale_compare(a: &str, b: &str) -> Ordering {
    const PUNCT: &str = "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$";
    fn key(c: char) -> (u8, u32, char) {
        if let Some(i) = PUNCT.find(c) {
            (0, i as u32, c)
        } else if c.is_ascii_digit() {
            (1, c as u32, c)
        } else if c.is_alphabetic() {
            (2, c.to_lowercase().next().unwrap_or(c) as u32, c)
        } else {
            (0, 100 + c as u32, c)
        }
    }
    let primary =
        a.chars().map(|c| (key(c).0, key(c).1)).cmp(b.chars().map(|c| (key(c).0, key(c).1)));
    primary.then_with(|| {
        a.chars().map(|c| (c.is_uppercase(), c)).cmp(b.chars().map(|c| (c.is_uppercase(), c)))
    })
}

/// The fingerprint of files (spec B.7): SHA-256 of the sorted `path:sha256` lines.
pub fn fingerprint<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut lines: Vec<(String, String)> =
        files.into_iter().map(|(p, b)| (p.to_string(), sha256_hex(b))).collect();
    lines.sort_by(|a, b| locale_compare(&a.0, &b.0));
    let joined = lines.iter().map(|(p, h)| format!("{p}:{h}")).collect::<Vec<_>>().join("\n");
    sha256_hex(joined.as_bytes())
}

/// Reads a skill folder for fingerprinting: skips segments starting with `.`, and
/// `node_modules`; never follows symlinks. Blocking.
pub fn read_dir_files(dir: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "node_modules" {
                continue;
            }
            let ft = e.file_type()?;
            let path = e.path();
            if ft.is_dir() {
                walk(root, &path, out)?;
            } else if ft.is_file() {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let rel = rel.iter().map(|s| s.to_string_lossy()).collect::<Vec<_>>().join("/");
                out.push((rel, std::fs::read(&path)?));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort_by(|a, b| locale_compare(&a.0, &b.0));
    Ok(out)
}

/// The local fingerprint of an installed skill folder. Blocking.
pub fn fingerprint_dir(dir: &Path) -> std::io::Result<String> {
    let files = read_dir_files(dir)?;
    Ok(fingerprint(files.iter().map(|(p, b)| (p.as_str(), b.as_slice()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_validated() {
        for bad in ["../evil", "/etc/passwd", "a//b", "a\\b", "C:/x", "a/./b", "a/../../b", ""] {
            assert!(validate_entry_path(bad).is_err(), "{bad}");
        }
        assert!(validate_entry_path("scripts/x.sh").is_ok());
    }

    #[test]
    fn locale_order_is_case_insensitive() {
        let mut v = vec!["SKILL.md", "scripts/x.sh", "_meta.json", "README.md", "a.txt"];
        v.sort_by(|a, b| locale_compare(a, b));
        assert_eq!(v, ["_meta.json", "a.txt", "README.md", "scripts/x.sh", "SKILL.md"]);
    }

    #[test]
    fn fingerprint_is_order_independent_and_content_sensitive() {
        let a = fingerprint([("SKILL.md", &b"x"[..]), ("b.sh", &b"y"[..])]);
        let b = fingerprint([("b.sh", &b"y"[..]), ("SKILL.md", &b"x"[..])]);
        let c = fingerprint([("b.sh", &b"z"[..]), ("SKILL.md", &b"x"[..])]);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 64);
    }
}
