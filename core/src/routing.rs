//! The routing table: which Func queue serves a request's host and path.
//!
//! A route has a host (exact, `*.example.com`, or any) and a base path. A
//! request matches the route with the most specific host whose base path is a
//! prefix of the request path *at a segment boundary* (`/api` serves `/api`
//! and `/api/x`, never `/apiary`); among those, the longest base path wins.
//! Exact hosts beat wildcards, and wildcards beat any-host.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::bundle::Bundle;
use crate::queues;

/// One entry of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Exact host, `*.suffix` wildcard, or `None` for any host.
    pub host: Option<String>,
    /// The base path: `""` or `/seg/...`.
    pub base_path: String,
    /// The Func queue the route publishes to.
    pub queue: String,
    /// The content hash of the bundle version serving it now.
    pub bundle: String,
    /// The bundle's name.
    pub name: String,
    /// The runner pool that serves it (tables from older trons name none:
    /// the default pool).
    #[serde(default = "default_pool")]
    pub pool: String,
}

fn default_pool() -> String {
    crate::bundle::DEFAULT_POOL.to_owned()
}

impl Route {
    /// The route that serves `bundle`.
    pub fn for_bundle(bundle: &Bundle) -> Self {
        Self {
            host: bundle.host.clone(),
            base_path: bundle.base_path.clone(),
            queue: queues::func_queue(bundle.host.as_deref(), &bundle.base_path),
            bundle: bundle.hash.clone(),
            name: bundle.name.clone(),
            pool: bundle.manifest.scale.pool.clone(),
        }
    }

    /// Whether two routes claim the same requests.
    pub fn same_place(&self, other: &Route) -> bool {
        self.host.as_deref().map(str::to_ascii_lowercase)
            == other.host.as_deref().map(str::to_ascii_lowercase)
            && self.base_path == other.base_path
    }

    fn host_rank(&self, host: &str) -> Option<u8> {
        match self.host.as_deref() {
            None => Some(0),
            Some(pattern) => match pattern.strip_prefix("*.") {
                Some(suffix) => {
                    let suffix_len = suffix.len();
                    let matches = host.len() > suffix_len + 1
                        && host[host.len() - suffix_len..].eq_ignore_ascii_case(suffix)
                        && host.as_bytes()[host.len() - suffix_len - 1] == b'.';
                    matches.then_some(1)
                }
                None => pattern.eq_ignore_ascii_case(host).then_some(2),
            },
        }
    }
}

/// Whether `base` is a prefix of `path` at a segment boundary.
pub fn base_path_matches(base: &str, path: &str) -> bool {
    match path.strip_prefix(base) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || base.is_empty(),
        None => false,
    }
}

/// An immutable table; a change builds a new one and swaps the `Arc`.
///
/// Build one with [`new`](Self::new) (or deserialize one): beyond a few
/// routes a lookup goes through an index made there, so that it costs the
/// same with a hundred routes or ten thousand.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(from = "TableWire")]
pub struct RouteTable {
    /// Bumped on every change, so that a pushed table never replaces a newer one.
    pub generation: u64,
    /// Routes, most specific first.
    pub routes: Vec<Route>,
    #[serde(skip)]
    index: Index,
}

/// A table as it travels: the index is made again where it is read.
#[derive(Deserialize)]
struct TableWire {
    generation: u64,
    routes: Vec<Route>,
}

impl From<TableWire> for RouteTable {
    fn from(wire: TableWire) -> Self {
        RouteTable::new(wire.generation, wire.routes)
    }
}

impl PartialEq for RouteTable {
    fn eq(&self, other: &Self) -> bool {
        self.generation == other.generation && self.routes == other.routes
    }
}

impl std::fmt::Debug for RouteTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteTable")
            .field("generation", &self.generation)
            .field("routes", &self.routes)
            .finish()
    }
}

/// Base path → the positions (in the sorted table) of the routes there.
type ByBase = HashMap<String, Vec<usize>>;

/// Where each route is, by its host (lower case) and base path.
#[derive(Clone, Default)]
struct Index {
    exact: HashMap<String, ByBase>,
    /// By the suffix after `*.`.
    wildcard: HashMap<String, ByBase>,
    any: ByBase,
}

impl Index {
    fn new(routes: &[Route]) -> Self {
        let mut index = Index::default();
        for (position, route) in routes.iter().enumerate() {
            let by_base = match route.host.as_deref() {
                None => &mut index.any,
                Some(host) => match host.strip_prefix("*.") {
                    Some(suffix) => index
                        .wildcard
                        .entry(suffix.to_ascii_lowercase())
                        .or_default(),
                    None => index.exact.entry(host.to_ascii_lowercase()).or_default(),
                },
            };
            by_base
                .entry(route.base_path.clone())
                .or_default()
                .push(position);
        }
        index
    }

    /// The position of the most specific route for `host` and `path`: the
    /// first, in the table's order, of those whose host matches and whose
    /// base path is `path` cut at a segment boundary.
    fn lookup(&self, host: &str, path: &str) -> Option<usize> {
        let lower = match host.bytes().any(|b| b.is_ascii_uppercase()) {
            true => Cow::Owned(host.to_ascii_lowercase()),
            false => Cow::Borrowed(host),
        };
        let exact = self.exact.get(lower.as_ref());
        // `*.suffix` matches a host with at least one label before `.suffix`.
        let wildcards = || {
            lower
                .match_indices('.')
                .filter(|(at, _)| *at > 0)
                .filter_map(|(at, _)| self.wildcard.get(&lower[at + 1..]))
        };
        base_paths(path)
            .flat_map(|base| {
                exact
                    .into_iter()
                    .chain(wildcards())
                    .chain(std::iter::once(&self.any))
                    .filter_map(move |by_base| by_base.get(base)?.first().copied())
            })
            .min()
    }
}

/// Every base path that serves `path` (see [`base_path_matches`]): `""`,
/// `path` cut before each `/`, and `path` itself.
fn base_paths(path: &str) -> impl Iterator<Item = &str> {
    std::iter::once("")
        .chain(
            path.match_indices('/')
                .map(|(at, _)| &path[..at])
                .filter(|base| !base.is_empty()),
        )
        .chain((!path.is_empty()).then_some(path))
}

/// Up to this many routes, a lookup scans the table: faster than the
/// index's hashing for the few routes of one team's mesh.
const SCAN_UP_TO: usize = 16;

impl RouteTable {
    /// A table from routes (any order).
    pub fn new(generation: u64, mut routes: Vec<Route>) -> Self {
        routes.sort_by(|a, b| {
            let rank = |r: &Route| match r.host.as_deref() {
                None => 0,
                Some(h) if h.starts_with("*.") => 1,
                Some(_) => 2,
            };
            rank(b)
                .cmp(&rank(a))
                .then(b.base_path.len().cmp(&a.base_path.len()))
                .then(a.base_path.cmp(&b.base_path))
        });
        let index = match routes.len() > SCAN_UP_TO {
            true => Index::new(&routes),
            false => Index::default(),
        };
        Self {
            generation,
            routes,
            index,
        }
    }

    /// An empty table, shared.
    pub fn empty() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The route of the bundle named `name`, if it is in the table.
    pub fn named(&self, name: &str) -> Option<&Route> {
        self.routes.iter().find(|route| route.name == name)
    }

    /// The route for a request to `host` (no port) and `path`: the first
    /// in the table's order (the most specific host, then the longest base
    /// path) that serves them.
    pub fn lookup(&self, host: &str, path: &str) -> Option<&Route> {
        if self.routes.len() <= SCAN_UP_TO {
            return self.scan(host, path);
        }
        self.routes.get(self.index.lookup(host, path)?)
    }

    /// [`lookup`](Self::lookup) by reading the routes in order: the first
    /// whose host and base path serve the request.
    fn scan(&self, host: &str, path: &str) -> Option<&Route> {
        self.routes
            .iter()
            .find(|r| r.host_rank(host).is_some() && base_path_matches(&r.base_path, path))
    }
}

#[cfg(test)]
mod tests;
