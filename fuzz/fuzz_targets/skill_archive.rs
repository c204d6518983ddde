//! Skill archive unpacking: any bytes either unpack to safe relative paths or
//! are refused, never a panic and never a path that leaves the skill folder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pincer_skills::registry::archive;

fuzz_target!(|data: &[u8]| {
    if let Ok(files) = archive::read_zip(data) {
        for (name, _) in &files {
            assert!(archive::validate_entry_path(name).is_ok(), "unsafe path accepted: {name}");
            assert!(!name.starts_with('/') && !name.split('/').any(|p| p == ".."), "{name}");
        }
    }
});
