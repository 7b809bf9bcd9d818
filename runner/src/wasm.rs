//! The executor: runs the operations of installed bundles. A WebAssembly
//! call runs on a fresh instance of a pre-compiled, pre-linked module; a
//! Python bundle is handed to [`crate::python`].
//!
//! - `engine`: the process's one engine (Cranelift, epoch interruption,
//!   pooling allocator), its WASI linker, and the epoch ticker thread.
//! - `install`: compile once per module, check the ABI, pre-link.
//! - `instance`: one call, from a fresh store to the decoded response,
//!   with guest failures classified.
//! - `output`: the bounded capture of a call's stdout and stderr.
//! - `shares`: the admission ledger: the runner's slots, with a floor for
//!   every bundle and the rest lent to whichever needs it.

mod config;
mod engine;
mod error;
mod install;
mod instance;
mod output;
mod shares;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use func_sdk::abi::{self, RequestMeta};
use funcmesh_core::bundle::Bundle;
use parking_lot::RwLock;
use wasmtime::{Engine, Linker};

pub use config::{ExecutorConfig, default_concurrency};
pub use engine::MAX_MEMORY_MB;
pub use error::{CallError, InstallError, SetupError};

use engine::EpochTicker;
use install::Installed;
use instance::Host;
use shares::{Gone, Shares, Slot};

/// What a function answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestResponse {
    /// The HTTP status, 100..=599.
    pub status: u16,
    /// Header pairs, repeats kept.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

/// Runs the functions of installed bundles. One per runner process; share
/// it behind an `Arc`.
pub struct Executor {
    python: crate::python::Python,
    engine: Engine,
    linker: Linker<Host>,
    config: ExecutorConfig,
    installed: RwLock<HashMap<String, Arc<Installed>>>,
    /// The slots of the calls running in this executor, shared fairly
    /// between its bundles.
    shares: Shares,
    tick: Duration,
    _ticker: EpochTicker,
}

impl Executor {
    /// Builds the engine and starts the epoch ticker.
    pub fn new(config: ExecutorConfig) -> Result<Executor, SetupError> {
        let engine = engine::build(&config).map_err(|e| SetupError::Engine(format!("{e:#}")))?;
        let linker = engine::linker(&engine)
            .map_err(|e| SetupError::Engine(format!("linking WASI: {e:#}")))?;
        let tick = Duration::from_millis(config.epoch_tick_ms.max(1));
        let ticker = EpochTicker::start(engine.clone(), tick)?;
        let shares = Shares::new(config.concurrency);
        Ok(Executor {
            python: crate::python::Python::new(config.python.clone()),
            engine,
            linker,
            config,
            installed: RwLock::default(),
            shares,
            tick,
            _ticker: ticker,
        })
    }

    /// The settings it was built with.
    pub fn config(&self) -> &ExecutorConfig {
        &self.config
    }

    /// Compiles and checks a bundle so its operations can be called.
    /// Installing a hash again does nothing; a module already compiled for
    /// another version with the same bytes is reused.
    pub async fn install(&self, bundle: Arc<Bundle>) -> Result<(), InstallError> {
        if self.is_installed(&bundle.hash) {
            return Ok(());
        }
        if let funcmesh_core::bundle::Code::Python { .. } = bundle.code {
            return self.python.install(bundle).await;
        }
        let module = match self.cached_module(&bundle) {
            Some(module) => module,
            None => install::compile(&self.engine, &bundle).await?,
        };
        let share = self.shares.new_id();
        let installed = Arc::new(install::prepare(
            &self.linker,
            &bundle,
            module,
            self.max_memory_mb(),
            share,
        )?);
        let store = install::probe_store(&self.engine, &installed, self.tick);
        let probe = Arc::clone(&installed);
        let checked = install::check_version(&probe, store).await;
        checked.map_err(|message| InstallError::Abi {
            hash: bundle.hash.clone(),
            path: bundle_code_path(&bundle),
            message,
        })?;
        if let Entry::Vacant(entry) = self.installed.write().entry(bundle.hash.clone()) {
            let cap = bundle.manifest.max_concurrency.max(1) as usize;
            self.shares.open(share, cap);
            entry.insert(installed);
        }
        tracing::info!(bundle = %bundle.short_hash(), name = %bundle.name, operations = bundle.operations.len(), "bundle installed");
        Ok(())
    }

    /// Forgets a bundle. Calls in flight finish; new calls get
    /// [`CallError::UnknownBundle`].
    pub fn retire(&self, hash: &str) {
        let wasm = self.installed.write().remove(hash);
        if let Some(installed) = &wasm {
            self.shares.retire(installed.share);
        }
        if wasm.is_some() || self.python.retire(hash) {
            tracing::info!(bundle = %short(hash), "bundle retired");
        }
    }

    /// Whether a bundle with this hash is installed.
    pub fn is_installed(&self, hash: &str) -> bool {
        self.installed.read().contains_key(hash) || self.python.bundle(hash).is_some()
    }

    /// The installed bundle with this hash.
    pub fn bundle(&self, hash: &str) -> Option<Arc<Bundle>> {
        let wasm = self
            .installed
            .read()
            .get(hash)
            .map(|i| Arc::clone(&i.bundle));
        wasm.or_else(|| self.python.bundle(hash))
    }

    /// Every installed bundle.
    pub fn bundles(&self) -> Vec<Arc<Bundle>> {
        let mut bundles: Vec<Arc<Bundle>> = self
            .installed
            .read()
            .values()
            .map(|i| Arc::clone(&i.bundle))
            .collect();
        bundles.extend(self.python.bundles());
        bundles
    }

    /// Calls operation `op_id` of bundle `hash` with a request, on a fresh
    /// instance, once the bundle's share of the slots lets it run; stops it
    /// at `deadline` or the manifest's timeout, whichever comes first. The
    /// timeout counts from when the call has its slot; the deadline bounds
    /// the wait too.
    pub async fn call(
        &self,
        hash: &str,
        op_id: &str,
        meta: &RequestMeta,
        body: &[u8],
        deadline: Instant,
    ) -> Result<GuestResponse, CallError> {
        let Some(installed) = self.installed.read().get(hash).cloned() else {
            let python = self.python.call(hash, op_id, meta, body, deadline).await;
            return python.unwrap_or_else(|| Err(CallError::UnknownBundle(hash.to_owned())));
        };
        let operation = *installed
            .exports
            .operations
            .get(op_id)
            .ok_or_else(|| CallError::UnknownOperation(op_id.to_owned()))?;
        if deadline <= Instant::now() {
            return Err(CallError::Timeout { budget_ms: 0 });
        }
        let slot = self.slot(&installed, deadline).await?;
        let started = Instant::now();
        let deadline = started
            .checked_add(installed.timeout)
            .map_or(deadline, |t| deadline.min(t));
        let budget_ms = deadline.saturating_duration_since(started).as_millis() as u64;
        let input = abi::encode_input(meta, body)
            .map_err(|e| CallError::Internal(format!("encoding the request: {e}")))?;
        if deadline <= Instant::now() {
            return Err(CallError::Timeout { budget_ms });
        }
        let call = instance::Call {
            installed,
            operation,
            input,
            deadline,
            budget_ms,
            capture_bytes: self.config.output_capture_bytes,
        };
        let outcome = instance::run(&self.engine, &call).await;
        drop(slot);
        output::log_guest_output(&call.installed.bundle, &meta.request_id, &outcome);
        outcome.result
    }

    /// A slot for a call of `installed`, waited for until `deadline`.
    async fn slot(&self, installed: &Installed, deadline: Instant) -> Result<Slot<'_>, CallError> {
        let queued = Instant::now();
        let acquire = self.shares.acquire(installed.share);
        match tokio::time::timeout_at(deadline.into(), acquire).await {
            Ok(Ok(slot)) => Ok(slot),
            Ok(Err(Gone)) => Err(CallError::UnknownBundle(installed.bundle.hash.clone())),
            Err(_elapsed) => Err(CallError::NoSlot {
                waited_ms: queued.elapsed().as_millis() as u64,
            }),
        }
    }

    fn cached_module(&self, bundle: &Bundle) -> Option<wasmtime::Module> {
        let funcmesh_core::bundle::Code::Wasm { bytes, .. } = &bundle.code else {
            return None;
        };
        self.installed
            .read()
            .values()
            .find_map(|i| match &i.bundle.code {
                funcmesh_core::bundle::Code::Wasm { bytes: other, .. } if other == bytes => {
                    Some(i.module.clone())
                }
                _ => None,
            })
    }

    fn max_memory_mb(&self) -> u32 {
        self.config.max_memory_mb.clamp(1, MAX_MEMORY_MB)
    }
}

fn bundle_code_path(bundle: &Bundle) -> String {
    match &bundle.code {
        funcmesh_core::bundle::Code::Wasm { path, .. } => path.display().to_string(),
        funcmesh_core::bundle::Code::Python { .. } => bundle.dir.display().to_string(),
    }
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

#[cfg(test)]
mod tests;
