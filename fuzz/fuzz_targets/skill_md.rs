//! SKILL.md parsing: any text parses to a skill or a rejection with a reason,
//! never a panic; the safety check runs on whatever parsed.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pincer_skills::skill::SkillSource;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let dir = Path::new("/skills/fuzz");
    let parsed =
        pincer_skills::parse_skill_str(text, &dir.join("SKILL.md"), dir, SkillSource::Managed);
    if let Err(rejection) = parsed {
        // Every rejection can be explained to a person.
        let _ = rejection.to_string();
    }
    let _ = pincer_skills::safety::check_files(&[("SKILL.md".into(), data.to_vec())]);
});
