//! Which language to speak: Chinese when the locale says so, else English.

/// True when `LC_ALL`, `LC_MESSAGES` or `LANG` starts with `zh`.
pub fn chinese() -> bool {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .is_some_and(|l| l.starts_with("zh"))
}

/// Picks the text for the user's language.
pub fn pick(zh: impl Into<String>, en: impl Into<String>) -> String {
    if chinese() {
        zh.into()
    } else {
        en.into()
    }
}
