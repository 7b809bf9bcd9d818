//! The JSONPath subset of `--ignore-path`: `$`, `.key`, `['key']`, `[N]`,
//! `[*]`, `.*`, and the recursive `..key` / `..*` / `..[N]`.
//!
//! A path is matched against the concrete place of a value in a body (a
//! list of [`Step`]s), so ignoring `$.items` also ignores all that is
//! under it.

use std::fmt;

/// One step from a JSON value to one of its children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An object member.
    Key(String),
    /// An array element.
    Index(usize),
}

/// A parsed `--ignore-path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    /// `..`: the selector may match at any depth below.
    recursive: bool,
    selector: Selector,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Selector {
    Key(String),
    Index(usize),
    Any,
}

/// Why a path could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("JSON path {path:?}: {reason}")]
pub struct PathError {
    path: String,
    reason: &'static str,
}

impl JsonPath {
    /// Parses `text`; the leading `$` may be left out (`.timestamp`).
    pub fn parse(text: &str) -> Result<Self, PathError> {
        let fail = |reason| PathError {
            path: text.to_owned(),
            reason,
        };
        let mut rest = text.trim();
        rest = rest.strip_prefix('$').unwrap_or(rest);
        let mut segments = Vec::new();
        while !rest.is_empty() {
            let recursive = rest.starts_with("..");
            if recursive {
                rest = &rest[2..];
            } else if let Some(after) = rest.strip_prefix('.') {
                rest = after;
            } else if !rest.starts_with('[') {
                return Err(fail("expected `.`, `..` or `[` between steps"));
            }
            let (selector, after) = match rest.strip_prefix('[') {
                Some(inner) => {
                    bracket(inner).ok_or_else(|| fail("unclosed or unreadable `[...]`"))?
                }
                None => {
                    let end = rest.find(['.', '[']).unwrap_or(rest.len());
                    let name = &rest[..end];
                    let selector = match name {
                        "" => return Err(fail("a `.` must be followed by a name or `*`")),
                        "*" => Selector::Any,
                        name if name.contains([']', '\'', '"', ' ']) => {
                            return Err(fail(
                                "a name after `.` holds no `]`, quote or space: use ['...']",
                            ));
                        }
                        name => Selector::Key(name.to_owned()),
                    };
                    (selector, &rest[end..])
                }
            };
            segments.push(Segment {
                recursive,
                selector,
            });
            rest = after;
        }
        Ok(Self {
            text: text.trim().to_owned(),
            segments,
        })
    }

    /// Whether the value at `steps` is what this path names.
    pub fn matches(&self, steps: &[Step]) -> bool {
        matches(&self.segments, steps)
    }

    /// Whether this is `$`, the whole body.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for JsonPath {
    type Err = PathError;

    fn from_str(text: &str) -> Result<Self, PathError> {
        Self::parse(text)
    }
}

/// `N]`, `*]`, `'key']` or `"key"]` (after the `[`): the selector and what follows.
fn bracket(inner: &str) -> Option<(Selector, &str)> {
    if let Some(quote) = inner.chars().next().filter(|c| *c == '\'' || *c == '"') {
        let mut key = String::new();
        let mut chars = inner[1..].char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '\\' => key.push(chars.next()?.1),
                c if c == quote => {
                    let after = inner[1 + at + 1..].strip_prefix(']')?;
                    return Some((Selector::Key(key), after));
                }
                c => key.push(c),
            }
        }
        return None;
    }
    let end = inner.find(']')?;
    let selector = match inner[..end].trim() {
        "*" => Selector::Any,
        number => Selector::Index(number.parse().ok()?),
    };
    Some((selector, &inner[end + 1..]))
}

fn matches(segments: &[Segment], steps: &[Step]) -> bool {
    let Some((segment, segments)) = segments.split_first() else {
        return steps.is_empty();
    };
    let selects = |step: &Step| match (&segment.selector, step) {
        (Selector::Any, _) => true,
        (Selector::Key(key), Step::Key(name)) => key == name,
        (Selector::Index(index), Step::Index(at)) => index == at,
        _ => false,
    };
    match segment.recursive {
        false => steps
            .split_first()
            .is_some_and(|(step, steps)| selects(step) && matches(segments, steps)),
        true => (0..steps.len())
            .any(|skip| selects(&steps[skip]) && matches(segments, &steps[skip + 1..])),
    }
}

/// `$.items[2]['odd key']`: a concrete place, as the diffs name it.
pub fn display(steps: &[Step]) -> String {
    let mut out = String::from("$");
    for step in steps {
        match step {
            Step::Index(index) => out.push_str(&format!("[{index}]")),
            Step::Key(key) if is_plain(key) => {
                out.push('.');
                out.push_str(key);
            }
            Step::Key(key) => {
                let escaped = key.replace('\\', "\\\\").replace('\'', "\\'");
                out.push_str(&format!("['{escaped}']"));
            }
        }
    }
    out
}

fn is_plain(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests;
