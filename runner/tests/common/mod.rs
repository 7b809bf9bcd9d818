//! Helpers for the runner's integration tests: the `faults` fixture bundle,
//! built once per test binary, and one executor that has it installed.
#![allow(dead_code)]
#![allow(
    clippy::expect_used,
    reason = "test helpers: a failure here is a failed test"
)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use funcmesh_core::bundle::{Bundle, BundleError, load_any};
use funcmesh_runner::{Executor, ExecutorConfig};

/// The repository's `tests/fixtures/faults` bundle directory.
pub fn faults_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/faults")
}

/// The runtime every test of the binary shares, with the executor on it.
pub fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// Runs a test body on the shared runtime.
pub fn block_on<F: Future>(f: F) -> F::Output {
    rt().block_on(f)
}

/// The `faults` bundle, built for wasm32-wasip1 and loaded; `None` (after
/// saying why) only when the wasm target cannot be installed.
pub fn faults() -> Option<Arc<Bundle>> {
    static BUNDLE: OnceLock<Option<Arc<Bundle>>> = OnceLock::new();
    BUNDLE
        .get_or_init(|| match load_any(&faults_dir()) {
            Ok(bundle) => Some(Arc::new(bundle)),
            Err(BundleError::Build { message, .. }) if message.contains("rustup") => {
                eprintln!("SKIPPED: the wasm32-wasip1 target cannot be installed: {message}");
                None
            }
            Err(error) => panic!("loading the faults fixture: {error}"),
        })
        .clone()
}

/// One executor with `faults` installed, shared by the tests of a binary.
pub fn executor() -> Option<(&'static Arc<Executor>, Arc<Bundle>)> {
    static EXECUTOR: OnceLock<Arc<Executor>> = OnceLock::new();
    let bundle = faults()?;
    let executor = EXECUTOR.get_or_init(|| {
        let config = ExecutorConfig {
            concurrency: 4,
            max_memory_mb: 128,
            epoch_tick_ms: 5,
            ..ExecutorConfig::default()
        };
        let executor = Arc::new(Executor::new(config).expect("executor"));
        block_on(executor.install(Arc::clone(&bundle))).expect("installing faults");
        executor
    });
    Some((executor, bundle))
}
