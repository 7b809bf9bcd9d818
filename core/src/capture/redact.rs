//! Headers that never reach a capture file.

use aho_corasick::AhoCorasick;
use serde::{Deserialize, Serialize};

/// What a redacted header's value becomes.
pub const MASK: &str = "[redacted]";

/// The headers masked by default.
pub const DEFAULT_REDACTED: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// The names (case-insensitive) of the headers to mask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redaction {
    names: Vec<String>,
}

impl Default for Redaction {
    fn default() -> Self {
        Self {
            names: DEFAULT_REDACTED.iter().map(|&n| n.to_owned()).collect(),
        }
    }
}

impl Redaction {
    /// The default list plus `extra`.
    pub fn with(extra: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        let mut redaction = Self::default();
        for name in extra {
            redaction.add(name.as_ref());
        }
        redaction
    }

    /// Masks `name` too.
    pub fn add(&mut self, name: &str) {
        let name = name.trim().to_ascii_lowercase();
        if !name.is_empty() && !self.names.contains(&name) {
            self.names.push(name);
        }
    }

    /// Whether `name` is masked.
    pub fn covers(&self, name: &str) -> bool {
        self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// The masked names, lower case.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// A matcher of the masked names, quoted, in any case: where it finds
    /// none in an encoded envelope, the envelope can be written as it is.
    pub fn matcher(&self) -> Option<AhoCorasick> {
        let quoted = self.names.iter().map(|name| format!("\"{name}\""));
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(quoted)
            .ok()
    }

    /// Replaces the value of every masked header with [`MASK`].
    pub fn apply(&self, headers: &mut [(String, String)]) {
        for (name, value) in headers {
            if self.covers(name) {
                MASK.clone_into(value);
            }
        }
    }
}
