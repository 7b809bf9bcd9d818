//! Bundles by hash from the tron: fetched, checked, cached on disk.
//!
//! A runner asked for a bundle version it lacks looks in its cache
//! directory first (`<cache>/<hash>/`, reloaded and re-hashed on every use),
//! then downloads the pack from `GET {tron}/bundles/{hash}`, trying the
//! trons in turn with backoff when one cannot be reached or fails, and
//! unpacks it into the cache through [`funcmesh_core::bundle::unpack`],
//! which refuses bytes that do not hash to what was asked for. Requests
//! for the same hash at the same time share one download.

mod download;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use funcmesh_core::bundle::{
    Bundle, BundleError, is_bundle_hash, load_cached, remove_cached, unpack,
};
use parking_lot::Mutex;
use tokio::sync::OnceCell;

use self::download::Downloader;

/// How downloads are made.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// How long one download may take, body included.
    pub timeout: Duration,
    /// How many downloads are tried, across the trons, before giving up.
    pub attempts: u32,
    /// The longest wait after the first failed attempt; it doubles after
    /// each, up to [`Backoff::MAX`](funcmesh_bus::Backoff::MAX), and each
    /// wait is drawn at random below it (the bus's jittered backoff).
    pub backoff: Duration,
    /// The largest pack accepted, in bytes.
    pub max_bytes: usize,
    /// The mesh token, sent as a bearer token with every download.
    pub token: Option<funcmesh_core::auth::MeshToken>,
    /// How trons are reached: `https://` ones trusted as the connector's
    /// [`AdminTrust`](funcmesh_core::tls::AdminTrust) says.
    pub connector: funcmesh_core::tls::AdminConnector,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            attempts: 5,
            backoff: Duration::from_millis(200),
            max_bytes: 256 << 20,
            token: None,
            connector: funcmesh_core::tls::system_connector(),
        }
    }
}

/// Why a bundle could not be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// The string asked for is not a bundle hash.
    #[error("`{0}` is not a bundle hash (64 lowercase hex digits)")]
    BadHash(String),
    /// The tron does not have it.
    #[error("bundle {hash}: not found on {url}")]
    NotFound {
        /// The bundle.
        hash: String,
        /// The URL that answered 404.
        url: String,
    },
    /// No tron gave it: unreachable, failing, or refusing.
    #[error("bundle {hash}: no tron served it after {attempts} attempt(s); last: {last}")]
    Unavailable {
        /// The bundle.
        hash: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// What was received is not that bundle, or could not be cached.
    #[error("bundle {hash}: {source}")]
    Bundle {
        /// The bundle.
        hash: String,
        /// Why: a hash mismatch, a garbled pack, a cache I/O error.
        source: Arc<BundleError>,
    },
}

/// One download or cache read in progress; its waiters share the outcome.
type Flight = Arc<OnceCell<Result<Arc<Bundle>, FetchError>>>;

/// Fetches bundles by hash from the trons into a disk cache.
pub struct BundleFetcher {
    downloader: Downloader,
    cache_dir: PathBuf,
    flights: Mutex<HashMap<String, Flight>>,
}

impl std::fmt::Debug for BundleFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleFetcher")
            .field("trons", &self.downloader.trons())
            .field("cache_dir", &self.cache_dir)
            .finish_non_exhaustive()
    }
}

impl BundleFetcher {
    /// Fetches from `tron_urls` (each the base of a tron's admin listener,
    /// e.g. `http://tron:7070`) into `cache_dir`.
    pub fn new(tron_urls: Vec<String>, cache_dir: PathBuf) -> Self {
        Self {
            downloader: Downloader::new(tron_urls, FetchConfig::default()),
            cache_dir,
            flights: Mutex::default(),
        }
    }

    /// The same, downloading as `config` says.
    pub fn with_config(mut self, config: FetchConfig) -> Self {
        self.downloader = Downloader::new(self.downloader.trons().to_vec(), config);
        self
    }

    /// The bundle `hash`, from the cache or a tron, verified.
    pub async fn fetch(&self, hash: &str) -> Result<Arc<Bundle>, FetchError> {
        if !is_bundle_hash(hash) {
            return Err(FetchError::BadHash(hash.to_owned()));
        }
        let flight = {
            let mut flights = self.flights.lock();
            Arc::clone(flights.entry(hash.to_owned()).or_default())
        };
        let result = flight.get_or_init(|| self.fetch_once(hash)).await.clone();
        let mut flights = self.flights.lock();
        if flights.get(hash).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
            flights.remove(hash);
        }
        result
    }

    async fn fetch_once(&self, hash: &str) -> Result<Arc<Bundle>, FetchError> {
        let (cache, owned) = (self.cache_dir.clone(), hash.to_owned());
        let cached = blocking(hash, move || match load_cached(&cache, &owned) {
            Ok(bundle) => Ok(bundle),
            Err(error) => {
                tracing::warn!(bundle.hash = %owned, %error, "cached bundle does not check out; fetching it again");
                remove_cached(&cache, &owned);
                Ok(None)
            }
        })
        .await?;
        if let Some(bundle) = cached {
            return Ok(Arc::new(bundle));
        }
        let bytes = self.downloader.download(hash).await?;
        let (cache, owned) = (self.cache_dir.clone(), hash.to_owned());
        let bundle = blocking(hash, move || unpack(&bytes, &owned, &cache)).await?;
        tracing::info!(bundle.hash = hash, "bundle fetched");
        Ok(Arc::new(bundle))
    }
}

/// Runs disk work off the async threads.
async fn blocking<T: Send + 'static>(
    hash: &str,
    work: impl FnOnce() -> Result<T, BundleError> + Send + 'static,
) -> Result<T, FetchError> {
    let failed = |source| FetchError::Bundle {
        hash: hash.to_owned(),
        source: Arc::new(source),
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(failed),
        Err(error) => Err(failed(BundleError::Io {
            path: PathBuf::new(),
            source: std::io::Error::other(error),
        })),
    }
}

#[cfg(test)]
mod tests;
