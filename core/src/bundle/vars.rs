//! Per-environment values: `${VAR}` and `${VAR:-default}` in the fields of a
//! bundle that differ between dev, staging and production (the API
//! description's `host`, `basePath` and `servers[].url`, the manifest's
//! `[env]` values), filled in at load.
//!
//! - `${VAR}`: the variable's value; an unset variable is an error.
//! - `${VAR:-default}`: the value, or `default` when it is unset or empty.
//! - `$$`: a literal `$`. A `$` before anything else is kept as it is.
//!
//! Every variable read in a routing field is remembered with the value
//! used, so that the bundle hash can cover them: the same files served
//! under another host or path are another version, and a pack carries the
//! values (they are public: they are the route).
//!
//! The `[env]` values are the function's configuration, often secrets
//! (`DATABASE_URL`): only the names of the variables they read are
//! remembered. A pack carries those names, never the values, and the
//! process that unpacks it (a runner) reads them from its own environment.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Reads a variable's value; `None` when it is unset.
type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Where variables are read from, and what was read.
pub struct Vars {
    lookup: Lookup,
    used: BTreeMap<String, String>,
    /// Variables read by [`Vars::expand_secret`] only: names, no values.
    secret: BTreeSet<String>,
    /// Whether the expansion under way is a secret one.
    reading_secret: bool,
}

impl fmt::Debug for Vars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vars")
            .field("used", &self.used)
            .field("secret", &self.secret)
            .finish()
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
            secret: BTreeSet::new(),
            reading_secret: false,
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

    /// [`expand`](Self::expand) for a value that may be a secret: the
    /// variables it reads are remembered by name only.
    pub fn expand_secret(&mut self, text: &str) -> Result<String, String> {
        self.reading_secret = true;
        let expanded = self.expand(text);
        self.reading_secret = false;
        expanded
    }

    /// The routing variables read so far and the value each one took,
    /// sorted.
    pub fn used(&self) -> &BTreeMap<String, String> {
        &self.used
    }

    /// The variables read only by [`expand_secret`](Self::expand_secret).
    pub fn secret_names(&self) -> impl Iterator<Item = &str> {
        self.secret
            .iter()
            .filter(|name| !self.used.contains_key(*name))
            .map(String::as_str)
    }

    /// `NAME=value\n` per routing variable read and `NAME\n` per secret
    /// one, sorted by name; `None` when none was read.
    pub(super) fn fingerprint(&self) -> Option<String> {
        let mut lines: BTreeMap<&str, String> = self
            .used
            .iter()
            .map(|(name, value)| (name.as_str(), format!("{name}={value}\n")))
            .collect();
        for name in self.secret_names() {
            lines.insert(name, format!("{name}\n"));
        }
        (!lines.is_empty()).then(|| lines.into_values().collect())
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
        match self.reading_secret {
            true => self.secret.insert(name.to_owned()),
            false => self.used.insert(name.to_owned(), value.clone()).is_none(),
        };
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
    fn secrets_are_remembered_by_name_only() {
        let mut vars = vars();
        assert_eq!(vars.expand_secret("db://${STAGE}").unwrap(), "db://staging");
        vars.expand_secret("${EMPTY}").unwrap();
        assert_eq!(vars.fingerprint().unwrap(), "EMPTY\nSTAGE\n");
        // A variable routing reads too is public: its value is the route.
        vars.expand("${STAGE}").unwrap();
        assert_eq!(vars.fingerprint().unwrap(), "EMPTY\nSTAGE=staging\n");
        assert_eq!(vars.secret_names().collect::<Vec<_>>(), ["EMPTY"]);
    }

    #[test]
    fn the_process_environment_is_read() {
        // PATH is set wherever tests run; nothing here changes the environment.
        let path = std::env::var("PATH").unwrap();
        assert_eq!(Vars::from_env().expand("${PATH}").unwrap(), path);
    }
}
