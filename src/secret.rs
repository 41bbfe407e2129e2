//! Secret material that must never reach a log line.
//!
//! Everything read from `env:`, `file:` or a literal in the configuration is
//! held in a [`Secret`], whose `Debug` prints a fixed placeholder. Nothing in
//! hookguard formats a secret's bytes; the only way out is [`Secret::expose`].

use std::fmt;

/// Secret bytes with a redacting `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

// === impl Secret ===

impl Secret {
    /// Wraps raw secret bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The secret's bytes, for building keys. Callers must not log them.
    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }

    /// True when the secret has no bytes (always a configuration error).
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert!(!format!("{s:#?}").contains("hunter2"));
    }
}
