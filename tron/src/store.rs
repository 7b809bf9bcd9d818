//! The packs of the bundles this tron serves, by hash: what runners fetch
//! from `GET /bundles/{sha256}` on the admin listener.
//!
//! A bundle is its module plus its spec, a few MiB at most, so packs are
//! kept in memory. The process decides how long an old version stays
//! fetchable after it is replaced (runners may still be finishing requests
//! stamped with it).

use std::collections::BTreeMap;

use bytes::Bytes;
use funcmesh_core::bundle::{Bundle, Packed};
use parking_lot::RwLock;
use serde::Serialize;

/// What `GET /bundles` lists of one stored bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleInfo {
    /// The bundle's name (its directory's).
    pub name: String,
    /// Its hash, the SHA-256 of its pack.
    pub hash: String,
    /// The host it serves, `None` for any.
    pub host: Option<String>,
    /// The path prefix it serves.
    #[serde(rename = "basePath")]
    pub base_path: String,
    /// The size of its pack in bytes.
    pub size: usize,
}

struct Entry {
    info: BundleInfo,
    bytes: Bytes,
}

/// Packs by hash. Share it behind an `Arc`.
#[derive(Default)]
pub struct BundleStore {
    packs: RwLock<BTreeMap<String, Entry>>,
}

impl std::fmt::Debug for BundleStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let packs = self.packs.read();
        f.debug_struct("BundleStore")
            .field("packs", &packs.len())
            .finish()
    }
}

impl BundleStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `packed` under its bundle's hash. Returns whether it is new.
    pub fn insert(&self, packed: &Packed) -> bool {
        self.insert_bytes(&packed.bundle, packed.bytes.clone())
    }

    /// Stores `bytes`, the pack of `bundle`, under `bundle.hash`; the caller
    /// vouches that they match (runners check again). Returns whether it
    /// is new.
    pub fn insert_bytes(&self, bundle: &Bundle, bytes: Bytes) -> bool {
        let info = BundleInfo {
            name: bundle.name.clone(),
            hash: bundle.hash.clone(),
            host: bundle.host.clone(),
            base_path: bundle.base_path.clone(),
            size: bytes.len(),
        };
        let mut packs = self.packs.write();
        packs
            .insert(bundle.hash.clone(), Entry { info, bytes })
            .is_none()
    }

    /// Forgets the pack of `hash`. Returns what was listed for it.
    pub fn remove(&self, hash: &str) -> Option<BundleInfo> {
        let mut packs = self.packs.write();
        packs.remove(hash).map(|entry| entry.info)
    }

    /// The pack of `hash`.
    pub fn get(&self, hash: &str) -> Option<Bytes> {
        let packs = self.packs.read();
        packs.get(hash).map(|entry| entry.bytes.clone())
    }

    /// Every stored bundle, by hash.
    pub fn list(&self) -> Vec<BundleInfo> {
        let packs = self.packs.read();
        packs.values().map(|entry| entry.info.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::bundle;

    #[test]
    fn packs_are_kept_by_hash() {
        let store = BundleStore::new();
        let pets = bundle("pets", Some("api.example.com"), "/v1", "h1");
        assert!(store.insert_bytes(&pets, Bytes::from_static(b"pack")));
        assert!(!store.insert_bytes(&pets, Bytes::from_static(b"pack")));
        store.insert_bytes(&bundle("a", None, "", "h0"), Bytes::from_static(b"xy"));
        assert_eq!(store.get("h1").as_deref(), Some(&b"pack"[..]));
        let listed: Vec<(String, usize)> = store
            .list()
            .into_iter()
            .map(|info| (info.name, info.size))
            .collect();
        assert_eq!(listed, [("a".to_owned(), 2), ("pets".to_owned(), 4)]);
        let removed = store.remove("h1").unwrap();
        assert_eq!(
            (removed.host.as_deref(), removed.base_path.as_str()),
            (Some("api.example.com"), "/v1")
        );
        assert!(store.get("h1").is_none());
        assert!(store.remove("h1").is_none());
    }
}
