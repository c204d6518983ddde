//! Deterministic skill ZIPs (spec B.6) and fingerprints (B.7), as the registry builds them.

use std::cmp::Ordering;
use std::io::Write;

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

/// Hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Approximates JavaScript `localeCompare` for paths (same rule as `pincer-skills`).
pub fn locale_compare(a: &str, b: &str) -> Ordering {
    const PUNCT: &str = "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$";
    fn key(c: char) -> (u8, u32) {
        if let Some(i) = PUNCT.find(c) {
            (0, i as u32)
        } else if c.is_ascii_digit() {
            (1, c as u32)
        } else if c.is_alphabetic() {
            (2, c.to_lowercase().next().unwrap_or(c) as u32)
        } else {
            (0, 100 + c as u32)
        }
    }
    a.chars().map(key).cmp(b.chars().map(key)).then_with(|| {
        a.chars().map(|c| (c.is_uppercase(), c)).cmp(b.chars().map(|c| (c.is_uppercase(), c)))
    })
}

/// Fingerprint of files: SHA-256 of sorted `path:sha256` lines joined by `\n`.
pub fn fingerprint<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut lines: Vec<(String, String)> =
        files.into_iter().map(|(p, b)| (p.to_string(), sha256_hex(b))).collect();
    lines.sort_by(|a, b| locale_compare(&a.0, &b.0));
    let joined = lines.iter().map(|(p, h)| format!("{p}:{h}")).collect::<Vec<_>>().join("\n");
    sha256_hex(joined.as_bytes())
}

/// A B.6 archive: entries sorted by path, deflate level 6, mtimes 1980-01-01, no
/// directory entries, no top-level folder.
pub fn build_zip(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut sorted: Vec<&(String, Vec<u8>)> = files.iter().collect();
    sorted.sort_by(|a, b| locale_compare(&a.0, &b.0));
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(6))
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    for (path, data) in sorted {
        // Writing to memory cannot fail.
        let _ = w.start_file(path.as_str(), opts);
        let _ = w.write_all(data);
    }
    w.finish().map(|c| c.into_inner()).unwrap_or_default()
}
