//! `funcmesh dev` as a reload target: the watcher loads into, and removes
//! from, the mesh's own registry and runner.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::DevMesh;
use crate::watch::{self, LoadOutcome, Target, WatchHandle, WatchOptions};

impl Target for DevMesh {
    fn load(&self, dir: &Path) -> impl Future<Output = anyhow::Result<LoadOutcome>> + Send {
        DevMesh::load(self, dir)
    }

    fn unload(&self, dir: &Path) -> Option<String> {
        DevMesh::unload(self, dir).map(|removed| removed.hash.clone())
    }

    fn live(&self, dir: &Path) -> Option<String> {
        self.registry().get(dir).map(|bundle| bundle.hash.clone())
    }

    fn served(&self) -> Vec<PathBuf> {
        self.registry()
            .bundles()
            .iter()
            .map(|bundle| bundle.dir.clone())
            .collect()
    }
}

impl DevMesh {
    /// Watches the bundle directory: a saved change reloads its bundle, a
    /// new bundle directory goes live, a removed one stops routing. Keep
    /// the handle; dropping it stops the watching. Its
    /// [`WatchHandle::subscribe`] tells each reload's result.
    pub fn watch(self: &Arc<Self>) -> anyhow::Result<WatchHandle> {
        let options = WatchOptions {
            debounce: self.options().debounce,
        };
        watch::watch(&self.options().dir, Arc::clone(self), options)
    }
}
