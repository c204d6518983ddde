//! [`ApiKey`]: a provider key that never prints.

use std::fmt;

/// A model provider's API key. `Debug` and `Display` show `***`; the key
/// leaves this type only through [`ApiKey::expose`], in the one place that
/// puts it in a request header.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key (surrounding whitespace, common when pasting, is trimmed).
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into().trim().to_owned())
    }

    /// The key itself, for the request header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the key in `text` with `***` (providers
    /// sometimes echo the key they rejected).
    pub fn redact(&self, text: &str) -> String {
        if self.0.len() < 4 {
            return text.to_owned();
        }
        text.replace(&self.0, "***")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints() {
        let k = ApiKey::new(" sk-very-secret-123 ");
        assert_eq!(k.expose(), "sk-very-secret-123");
        assert!(!format!("{k:?} {k} {:#?}", Some(&k)).contains("secret"));
        assert_eq!(k.redact("bad key sk-very-secret-123!"), "bad key ***!");
    }
}
