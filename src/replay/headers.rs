//! Response headers compared as a case-insensitive multimap, leaving out
//! those that change on every answer (dates, ids, connection management).

use std::collections::BTreeMap;

use funcmesh_core::capture::redact::MASK;
use serde::Serialize;

/// The headers never compared: they differ between any two answers, or
/// belong to the connection rather than to the answer.
pub const DEFAULT_IGNORED: [&str; 10] = [
    "date",
    "x-request-id",
    "x-funcmesh-bundle",
    "content-length",
    "server",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "traceparent",
    "tracestate",
];

/// The header names left out of the comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredHeaders {
    names: Vec<String>,
}

impl Default for IgnoredHeaders {
    fn default() -> Self {
        Self::with(std::iter::empty::<&str>())
    }
}

impl IgnoredHeaders {
    /// The default list plus `extra` (any case).
    pub fn with(extra: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        let mut names: Vec<String> = DEFAULT_IGNORED.iter().map(|&n| n.to_owned()).collect();
        names.extend(
            extra
                .into_iter()
                .map(|n| n.as_ref().trim().to_ascii_lowercase()),
        );
        names.sort();
        names.dedup();
        Self { names }
    }

    fn covers(&self, name: &str) -> bool {
        self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }
}

/// One header whose values differ: those only the captured answer had,
/// and those only the replayed one has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderChange {
    /// The name, lower case.
    pub name: String,
    /// Values only in the captured answer.
    pub captured: Vec<String>,
    /// Values only in the replayed answer.
    pub replayed: Vec<String>,
}

/// The headers that differ, by name. A header whose captured value was
/// masked at capture (`[redacted]`) is not compared.
pub fn diff(
    captured: &[(String, String)],
    replayed: &[(String, String)],
    ignored: &IgnoredHeaders,
) -> Vec<HeaderChange> {
    let masked: Vec<&str> = captured
        .iter()
        .filter(|(_, value)| value == MASK)
        .map(|(name, _)| name.as_str())
        .collect();
    let skip =
        |name: &str| ignored.covers(name) || masked.iter().any(|m| m.eq_ignore_ascii_case(name));
    let old = multimap(captured, &skip);
    let mut new = multimap(replayed, &skip);
    let mut changes = Vec::new();
    for (name, old_values) in old {
        let new_values = new.remove(&name).unwrap_or_default();
        push_change(&mut changes, name, old_values, new_values);
    }
    for (name, new_values) in new {
        push_change(&mut changes, name, Vec::new(), new_values);
    }
    changes.sort_by(|a, b| a.name.cmp(&b.name));
    changes
}

fn multimap(
    headers: &[(String, String)],
    skip: &impl Fn(&str) -> bool,
) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers.iter().filter(|(name, _)| !skip(name)) {
        map.entry(name.to_ascii_lowercase())
            .or_default()
            .push(value.trim().to_owned());
    }
    map
}

/// Values are matched one for one, so a header sent twice where it was
/// sent once is a change.
fn push_change(
    changes: &mut Vec<HeaderChange>,
    name: String,
    old: Vec<String>,
    mut new: Vec<String>,
) {
    let mut only_old = Vec::new();
    for value in old {
        match new.iter().position(|v| *v == value) {
            Some(at) => {
                new.remove(at);
            }
            None => only_old.push(value),
        }
    }
    if !only_old.is_empty() || !new.is_empty() {
        changes.push(HeaderChange {
            name,
            captured: only_old,
            replayed: new,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_ignore_list_and_masked_values_leave_only_headers_that_matter() {
        let captured = pairs(&[
            ("content-type", "application/json"),
            ("date", "Mon, 01 Jan 2024 00:00:00 GMT"),
            ("x-request-id", "a"),
            ("x-funcmesh-bundle", "0123456789ab"),
            ("set-cookie", MASK),
            ("x-trace", "1"),
        ]);
        let replayed = pairs(&[
            ("Content-Type", "application/json"),
            ("date", "Tue, 02 Jan 2024 00:00:00 GMT"),
            ("x-request-id", "b"),
            ("x-funcmesh-bundle", "ba9876543210"),
            ("set-cookie", "session=real"),
            ("x-trace", "2"),
        ]);
        let changes = diff(&captured, &replayed, &IgnoredHeaders::default());
        assert_eq!(
            changes,
            vec![HeaderChange {
                name: "x-trace".into(),
                captured: vec!["1".into()],
                replayed: vec!["2".into()],
            }]
        );
        assert_eq!(
            diff(&captured, &replayed, &IgnoredHeaders::with(["X-Trace"])),
            vec![]
        );
    }

    #[test]
    fn repeated_headers_compare_as_a_multiset_in_any_order() {
        let captured = pairs(&[("vary", "a"), ("vary", "b"), ("cache-control", "no-store")]);
        let same = pairs(&[("cache-control", "no-store"), ("VARY", "b"), ("vary", "a")]);
        assert_eq!(diff(&captured, &same, &IgnoredHeaders::default()), vec![]);

        let fewer = pairs(&[("vary", "a"), ("x-new", "1")]);
        let changes = diff(&captured, &fewer, &IgnoredHeaders::default());
        assert_eq!(
            changes,
            vec![
                HeaderChange {
                    name: "cache-control".into(),
                    captured: vec!["no-store".into()],
                    replayed: vec![],
                },
                HeaderChange {
                    name: "vary".into(),
                    captured: vec!["b".into()],
                    replayed: vec![],
                },
                HeaderChange {
                    name: "x-new".into(),
                    captured: vec![],
                    replayed: vec!["1".into()],
                },
            ]
        );
    }
}
