//! Prints the non-ok safety findings of every skill folder under a directory.
//!
//! `cargo run -p pincer-skills --example check_corpus -- DIR`

fn main() {
    let dir = std::env::args().nth(1).expect("usage: check_corpus DIR");
    let mut entries: Vec<_> =
        std::fs::read_dir(dir).expect("readable").flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let Ok(r) = pincer_skills::check_skill(&p) else { continue };
        if r.verdict == pincer_skills::Verdict::Ok {
            continue;
        }
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        for f in r.findings.iter().filter(|f| f.severity >= pincer_skills::Severity::Warn).take(2) {
            println!("{:?} {name} {} {}:{} {}", r.verdict, f.rule, f.file, f.line, f.excerpt);
        }
    }
}
