//! The live bundles and the routing table built from them.
//!
//! Bundles are keyed by where they come from (their directory), so that a
//! changed bundle replaces its previous version while a different bundle
//! claiming the same host and base path is refused.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use funcmesh_core::bundle::Bundle;
use funcmesh_core::routing::{Route, RouteTable};
use parking_lot::Mutex;
use tokio::sync::watch;

/// Why a bundle could not go live.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Another bundle already serves the same host and base path.
    #[error("{new} claims host {host} and basePath {base:?}, already served by {existing}", host = .host.as_deref().unwrap_or("(any)"))]
    Conflict {
        /// The refused bundle's directory.
        new: String,
        /// The bundle that keeps the route.
        existing: String,
        /// The contested host.
        host: Option<String>,
        /// The contested base path.
        base: String,
    },
}

#[derive(Default)]
struct State {
    bundles: BTreeMap<PathBuf, Arc<Bundle>>,
    generation: u64,
}

/// The registry. Share it behind an `Arc`.
pub struct Registry {
    state: Mutex<State>,
    table: watch::Sender<Arc<RouteTable>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("routes", &self.table.borrow().routes.len())
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self {
            state: Mutex::default(),
            table: watch::Sender::new(RouteTable::empty()),
        }
    }

    /// Follows the routing table: the current one, then every change.
    pub fn subscribe(&self) -> watch::Receiver<Arc<RouteTable>> {
        self.table.subscribe()
    }

    /// The current routing table.
    pub fn table(&self) -> Arc<RouteTable> {
        Arc::clone(&self.table.borrow())
    }

    /// Makes `bundle` live, replacing the previous version from the same
    /// directory. Returns that previous version.
    pub fn install(&self, bundle: Arc<Bundle>) -> Result<Option<Arc<Bundle>>, RegistryError> {
        let mut state = self.state.lock();
        let route = Route::for_bundle(&bundle);
        let clash = state.bundles.iter().find(|(dir, other)| {
            **dir != bundle.dir && Route::for_bundle(other).same_place(&route)
        });
        if let Some((dir, _)) = clash {
            return Err(RegistryError::Conflict {
                new: bundle.dir.display().to_string(),
                existing: dir.display().to_string(),
                host: bundle.host.clone(),
                base: bundle.base_path.clone(),
            });
        }
        let previous = state.bundles.insert(bundle.dir.clone(), bundle);
        self.publish(&mut state);
        Ok(previous)
    }

    /// Takes the bundle from `dir` out of service. Returns it.
    pub fn remove(&self, dir: &std::path::Path) -> Option<Arc<Bundle>> {
        let mut state = self.state.lock();
        let removed = state.bundles.remove(dir);
        if removed.is_some() {
            self.publish(&mut state);
        }
        removed
    }

    /// The live bundles.
    pub fn bundles(&self) -> Vec<Arc<Bundle>> {
        let state = self.state.lock();
        state.bundles.values().cloned().collect()
    }

    /// The live bundle from `dir`.
    pub fn get(&self, dir: &std::path::Path) -> Option<Arc<Bundle>> {
        let state = self.state.lock();
        state.bundles.get(dir).cloned()
    }

    fn publish(&self, state: &mut State) {
        state.generation += 1;
        let routes = state
            .bundles
            .values()
            .map(|b| Route::for_bundle(b))
            .collect();
        self.table
            .send_replace(Arc::new(RouteTable::new(state.generation, routes)));
    }
}

#[cfg(test)]
mod tests;
