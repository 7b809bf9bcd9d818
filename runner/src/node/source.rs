//! Bundles for the runner, fetched from a tron's store by hash.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use funcmesh_core::bundle::Bundle;
use parking_lot::Mutex;

use crate::fetch::{BundleFetcher, FetchConfig};
use crate::{BundleSource, SourceError};

/// The fetcher of the configured trons, or of the store a tron announced.
pub(super) struct FetchSource {
    cache_dir: PathBuf,
    config: FetchConfig,
    fixed: bool,
    fetcher: Mutex<Option<(String, Arc<BundleFetcher>)>>,
    /// The names the routes give each hash: a pack carries no name, and
    /// logs read better with one.
    names: Mutex<HashMap<String, String>>,
}

impl FetchSource {
    /// Fetches from `trons`; with none, from the store announced later.
    pub(super) fn new(trons: &[String], cache_dir: &Path, config: FetchConfig) -> Self {
        let fetcher = (!trons.is_empty()).then(|| {
            let fetcher = BundleFetcher::new(trons.to_vec(), cache_dir.to_path_buf())
                .with_config(config.clone());
            (trons.join(","), Arc::new(fetcher))
        });
        Self {
            cache_dir: cache_dir.to_path_buf(),
            config,
            fixed: !trons.is_empty(),
            fetcher: Mutex::new(fetcher),
            names: Mutex::default(),
        }
    }

    /// Remembers the name the routes give bundle `hash`.
    pub(super) fn name(&self, hash: &str, name: &str) {
        let mut names = self.names.lock();
        names.insert(hash.to_owned(), name.to_owned());
    }

    /// Fetches from `store` from now on, unless trons were configured.
    pub(super) fn use_store(&self, store: &str) {
        if self.fixed {
            return;
        }
        let mut fetcher = self.fetcher.lock();
        if fetcher.as_ref().is_some_and(|(url, _)| url == store) {
            return;
        }
        tracing::info!(store, "fetching bundles from the announced store");
        let fresh = BundleFetcher::new(vec![store.to_owned()], self.cache_dir.clone())
            .with_config(self.config.clone());
        *fetcher = Some((store.to_owned(), Arc::new(fresh)));
    }

    fn current(&self) -> Option<Arc<BundleFetcher>> {
        let fetcher = self.fetcher.lock();
        fetcher.as_ref().map(|(_, f)| Arc::clone(f))
    }
}

impl BundleSource for FetchSource {
    fn bundle(
        &self,
        hash: &str,
    ) -> Pin<Box<dyn Future<Output = Result<Arc<Bundle>, SourceError>> + Send + '_>> {
        let hash = hash.to_owned();
        Box::pin(async move {
            let fetcher = self
                .current()
                .ok_or("no tron has announced a bundle store yet")?;
            let bundle = fetcher.fetch(&hash).await?;
            let name = self.names.lock().get(&hash).cloned();
            Ok(match name {
                Some(name) if name != bundle.name => Arc::new(Bundle {
                    name,
                    ..(*bundle).clone()
                }),
                _ => bundle,
            })
        })
    }
}
