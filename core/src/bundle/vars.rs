//! Per-environment values: `${VAR}` and `${VAR:-default}` in the fields of a
//! bundle that differ between dev, staging and production (the API
//! description's `host`, `basePath` and `servers[].url`, the manifest's
//! `[env]` values), filled in at load.
//!
//! - `${VAR}`: the variable's value; an unset variable is an error.
//! - `${VAR:-default}`: the value, or `default` when it is unset or empty.
//! - `$$`: a literal `$`. A `$` before anything else is kept as it is.
//!
//! Every variable read is remembered with the value used, so that the bundle
//! hash can cover them: the same files in another environment are another
//! version.

use std::collections::BTreeMap;
use std::fmt;

/// Reads a variable's value; `None` when it is unset.
type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Where variables are read from, and what was read.
pub struct Vars {
    lookup: Lookup,
    used: BTreeMap<String, String>,
}

impl fmt::Debug for Vars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vars").field("used", &self.used).finish()
    }
}

impl Vars {
    /// Variables from the process environment (read, never changed).
    pub fn from_env() -> Self {
        Self::with_lookup(|name| std::env::var(name).ok())
    }

    /// Variables from `lookup`, for tests and embedders.
    pub fn with_lookup(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self {
            lookup: Box::new(lookup),
            used: BTreeMap::new(),
        }
    }

    /// `text` with every `${VAR}` / `${VAR:-default}` replaced and `$$`
    /// unescaped. The error says which variable and why.
    pub fn expand(&mut self, text: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(dollar) = rest.find('$') {
            out.push_str(&rest[..dollar]);
            let after = &rest[dollar + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
            } else if let Some(tail) = after.strip_prefix('{') {
                let close = tail
                    .find('}')
                    .ok_or_else(|| format!("`{text}`: `${{` is not closed by `}}`"))?;
                out.push_str(&self.value(&tail[..close])?);
                rest = &tail[close + 1..];
            } else {
                out.push('$');
                rest = after;
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The variables read so far and the value each one took, sorted.
    pub fn used(&self) -> &BTreeMap<String, String> {
        &self.used
    }

    /// `NAME=value\n` per variable read, or `None` when none was.
    pub(super) fn fingerprint(&self) -> Option<String> {
        (!self.used.is_empty()).then(|| {
            self.used
                .iter()
                .map(|(name, value)| format!("{name}={value}\n"))
                .collect()
        })
    }

    /// The value of `inner`, the text between `${` and `}`.
    fn value(&mut self, inner: &str) -> Result<String, String> {
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        if !is_name(name) {
            return Err(format!(
                "`${{{inner}}}`: `{name}` is not a variable name (letters, digits and `_`, not starting with a digit)"
            ));
        }
        let value = match ((self.lookup)(name), default) {
            (Some(value), Some(default)) if value.is_empty() => default.to_owned(),
            (Some(value), _) => value,
            (None, Some(default)) => default.to_owned(),
            (None, None) => {
                return Err(format!(
                    "environment variable `{name}` is not set and `${{{name}}}` has no default \
                     (set it, or write `${{{name}:-value}}`)"
                ));
            }
        };
        self.used.insert(name.to_owned(), value.clone());
        Ok(value)
    }
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars::with_lookup(|name| match name {
            "STAGE" => Some("staging".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        })
    }

    fn expand(text: &str) -> Result<String, String> {
        vars().expand(text)
    }

    #[test]
    fn set_variables_are_filled_in() {
        assert_eq!(
            expand("api.${STAGE}.example.com").unwrap(),
            "api.staging.example.com"
        );
        assert_eq!(expand("${STAGE}${STAGE}").unwrap(), "stagingstaging");
    }

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        assert_eq!(expand("${NOPE:-/v1}").unwrap(), "/v1");
        assert_eq!(expand("${EMPTY:-x}").unwrap(), "x");
        assert_eq!(expand("${STAGE:-x}").unwrap(), "staging");
        assert_eq!(expand("${NOPE:-}").unwrap(), "");
        assert_eq!(expand("a${EMPTY}b").unwrap(), "ab", "empty counts as set");
    }

    #[test]
    fn unset_without_default_names_the_variable() {
        let error = expand("/${API_BASE}").unwrap_err();
        assert!(error.contains("`API_BASE` is not set"), "{error}");
        assert!(error.contains("${API_BASE:-value}"), "{error}");
    }

    #[test]
    fn dollars_escape_and_lone_dollars_stay() {
        assert_eq!(expand("$${STAGE}").unwrap(), "${STAGE}");
        assert_eq!(expand("price$5 $").unwrap(), "price$5 $");
        assert_eq!(expand("$$$$").unwrap(), "$$");
        assert_eq!(expand("$$${STAGE}").unwrap(), "$staging");
    }

    #[test]
    fn malformed_references_are_errors() {
        assert!(expand("${STAGE").unwrap_err().contains("not closed"));
        assert!(expand("${}").unwrap_err().contains("not a variable name"));
        assert!(expand("${1X}").unwrap_err().contains("`1X`"));
        assert!(expand("${A-B}").unwrap_err().contains("`A-B`"));
    }

    #[test]
    fn text_without_references_is_unchanged_and_reads_nothing() {
        let mut vars = vars();
        assert_eq!(vars.expand("/plain/path").unwrap(), "/plain/path");
        assert!(vars.fingerprint().is_none());
    }

    #[test]
    fn the_values_used_are_remembered_sorted() {
        let mut vars = vars();
        vars.expand("${STAGE}/${NOPE:-d}").unwrap();
        assert_eq!(vars.fingerprint().unwrap(), "NOPE=d\nSTAGE=staging\n");
    }

    #[test]
    fn the_process_environment_is_read() {
        // PATH is set wherever tests run; nothing here changes the environment.
        let path = std::env::var("PATH").unwrap();
        assert_eq!(Vars::from_env().expand("${PATH}").unwrap(), path);
    }
}
