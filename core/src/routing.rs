//! The routing table: which Func queue serves a request's host and path.
//!
//! A route has a host (exact, `*.example.com`, or any) and a base path. A
//! request matches the route with the most specific host whose base path is a
//! prefix of the request path *at a segment boundary* (`/api` serves `/api`
//! and `/api/x`, never `/apiary`); among those, the longest base path wins.
//! Exact hosts beat wildcards, and wildcards beat any-host.

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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteTable {
    /// Bumped on every change, so that a pushed table never replaces a newer one.
    pub generation: u64,
    /// Routes, most specific first.
    pub routes: Vec<Route>,
}

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
        Self { generation, routes }
    }

    /// An empty table, shared.
    pub fn empty() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The route for a request to `host` (no port) and `path`.
    pub fn lookup(&self, host: &str, path: &str) -> Option<&Route> {
        // Routes are sorted by host rank, then by base path length: the first
        // match is the most specific one.
        self.routes
            .iter()
            .find(|r| r.host_rank(host).is_some() && base_path_matches(&r.base_path, path))
    }
}

#[cfg(test)]
mod tests;
