//! Loading and unloading bundles: the tron as the watcher's target.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use funcmesh_core::bundle::{self, Bundle};
use funcmesh_core::routing::Route;

use super::TronNode;
use crate::watch::{LoadOutcome, Target};

impl TronNode {
    /// Loads (or reloads) the bundle in `dir`: packs it into the store,
    /// declares its Func queue, and makes it live. On error the version
    /// already live, if any, keeps serving.
    pub async fn load(&self, dir: &Path) -> anyhow::Result<LoadOutcome> {
        let owned = dir.to_path_buf();
        let packed = tokio::task::spawn_blocking(move || bundle::pack_any(&owned))
            .await
            .context("the bundle loader panicked")??;
        let current = self.registry.get(&packed.bundle.dir);
        if current
            .as_ref()
            .is_some_and(|c| c.hash == packed.bundle.hash)
        {
            return Ok(LoadOutcome::Unchanged);
        }
        let bundle = Arc::new(packed.bundle);
        if let Some(prepare) = &self.options.prepare {
            prepare
                .prepare(Arc::clone(&bundle))
                .await
                .with_context(|| format!("preparing {}", bundle.name))?;
        }
        self.store.insert_bytes(&bundle, packed.bytes);
        let route = Route::for_bundle(&bundle);
        self.declare_func_queue(&route.queue).await?;
        let previous = match self.registry.install(Arc::clone(&bundle)) {
            Ok(previous) => previous,
            Err(conflict) => {
                if !self.is_live(&bundle.hash) {
                    self.store.remove(&bundle.hash);
                    if let Some(prepare) = &self.options.prepare {
                        prepare.discard(&bundle.hash);
                    }
                }
                let spec = bundle.spec_file.display().to_string();
                return Err(anyhow::Error::new(conflict).context(spec));
            }
        };
        if let Some(old) = &previous {
            self.retire_later(old);
        }
        tracing::debug!(bundle = %bundle.name, hash = bundle.short_hash(), queue = %route.queue, "bundle live");
        Ok(LoadOutcome::live(&bundle, previous.as_deref()))
    }

    /// Takes the bundle from `dir` out of service: its routes answer 404.
    pub fn unload(&self, dir: &Path) -> Option<Arc<Bundle>> {
        let removed = self.registry.remove(dir)?;
        self.retire_later(&removed);
        Some(removed)
    }

    async fn declare_func_queue(&self, queue: &str) -> anyhow::Result<()> {
        if self.declared.lock().contains(queue) {
            return Ok(());
        }
        self.bus
            .declare(&self.options.policy.work(queue))
            .await
            .with_context(|| format!("declaring the Func queue {queue}"))?;
        self.declared.lock().insert(queue.to_owned());
        Ok(())
    }

    fn is_live(&self, hash: &str) -> bool {
        self.registry.bundles().iter().any(|b| b.hash == hash)
    }

    /// Keeps a replaced version in the store until every request routed to
    /// it has had its deadline, so runners can still fetch it.
    fn retire_later(&self, old: &Arc<Bundle>) {
        let store = Arc::clone(&self.store);
        let registry = Arc::clone(&self.registry);
        let hash = old.hash.clone();
        let grace = self.options.grace;
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            if !registry.bundles().iter().any(|b| b.hash == hash) {
                store.remove(&hash);
            }
        });
    }
}

impl Target for TronNode {
    fn load(&self, dir: &Path) -> impl Future<Output = anyhow::Result<LoadOutcome>> + Send {
        TronNode::load(self, dir)
    }

    async fn unload(&self, dir: &Path) -> Option<String> {
        TronNode::unload(self, dir).map(|removed| removed.hash.clone())
    }

    fn live(&self, dir: &Path) -> Option<String> {
        self.registry.get(dir).map(|bundle| bundle.hash.clone())
    }

    fn served(&self) -> Vec<PathBuf> {
        self.registry
            .bundles()
            .iter()
            .map(|bundle| bundle.dir.clone())
            .collect()
    }
}
