//! The Python executor: runs the operations of Python bundles in worker
//! processes that each embed CPython (through pyo3, in the `funcmesh`
//! binary built with the `python` feature).
//!
//! - `pool`: the workers of one bundle version, started when it is
//!   installed (imports are paid once, there), one call at a time each,
//!   killed and replaced when a call will not stop at its deadline.
//! - `protocol`: the frames between the runner and a worker.
//! - `confine`: the user, limits and death signal a worker starts with.
//! - `cgroup`: the cgroup of each worker's own, where the host allows.
//!
//! The interpreter's lock allows one Python call at a time per process, so
//! a version runs on several worker processes (`workers`, at most the
//! manifest's `max_concurrency`); more throughput comes from more workers
//! per runner and more runners. Every version has its own workers and its
//! own copy of the bundle: a reload starts fresh interpreters, so nothing of
//! the old modules survives, and the old version drains on its own workers.

mod cgroup;
mod confine;
mod pool;
pub mod protocol;
mod seccomp;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use func_sdk::abi::RequestMeta;
use funcmesh_core::bundle::{Bundle, Code};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use tracing::Instrument as _;

use crate::wasm::{CallError, GuestResponse, InstallError};
use pool::Pool;

pub use cgroup::CgroupMode;

/// The command line that starts a worker process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerCommand {
    /// The program, normally the `funcmesh` binary itself.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
}

/// The argument that makes the `funcmesh` binary a Python worker.
pub const WORKER_ARG: &str = "__python-worker";

impl WorkerCommand {
    /// `program __python-worker`.
    pub fn funcmesh(program: impl Into<PathBuf>) -> WorkerCommand {
        WorkerCommand {
            program: program.into(),
            args: vec![WORKER_ARG.to_owned()],
        }
    }
}

/// How Python bundles are run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PythonConfig {
    /// How workers are started; `None` refuses Python bundles (a runner
    /// built without Python support).
    #[serde(default)]
    pub worker: Option<WorkerCommand>,
    /// Worker processes per bundle version (at most its `max_concurrency`).
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// How long past its deadline a call may take to stop on its own before
    /// its worker is killed and replaced.
    #[serde(default = "default_kill_grace_ms")]
    pub kill_grace_ms: u64,
    /// How long a worker may take to import a bundle.
    #[serde(default = "default_import_timeout_ms")]
    pub import_timeout_ms: u64,
    /// Where each version's copy is made; `funcmesh-python-PID` in the
    /// system's temporary directory when not given (those of processes that
    /// are gone are removed then).
    #[serde(default)]
    pub copies_dir: Option<PathBuf>,
    /// The user workers run as when the runner is root: a name, `UID` or
    /// `UID:GID`; a user with uid 0 (`root`) keeps them root. A runner that
    /// is not root runs them as itself.
    #[serde(default = "default_user")]
    pub user: String,
    /// The hard limit on the files one worker holds open (`RLIMIT_NOFILE`).
    #[serde(default = "default_max_open_files")]
    pub max_open_files: u64,
    /// The hard limit on processes (`RLIMIT_NPROC`): a worker cannot fork
    /// once the user it runs as has this many processes and threads, all
    /// workers of that user counted together.
    #[serde(default = "default_max_processes")]
    pub max_processes: u64,
    /// Whether each worker gets a network namespace of its own, with no
    /// interface but a loopback that is down: a Func then reaches nothing
    /// over the network, not even this host. Needs a runner that is root.
    #[serde(default)]
    pub isolate_network: bool,
    /// Whether each worker runs under the seccomp filter of `seccomp`
    /// (system calls for namespaces, tracing, the kernel's keyrings, BPF,
    /// modules and the like fail with `EPERM`).
    #[serde(default = "default_seccomp")]
    pub seccomp: bool,
    /// Whether each worker runs in a cgroup of its own (memory, processes,
    /// CPU; see `cgroup`).
    #[serde(default)]
    pub cgroups: CgroupMode,
    /// The CPU one worker may use, in thousandths of a core, where it has a
    /// cgroup (default 1,000: one core; a worker runs one call at a time).
    #[serde(default = "default_cpu_millis")]
    pub cpu_millis: u32,
}

/// One per core.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

const fn default_kill_grace_ms() -> u64 {
    1_000
}

const fn default_import_timeout_ms() -> u64 {
    60_000
}

/// The user that owns nothing.
pub fn default_user() -> String {
    "nobody".to_owned()
}

const fn default_max_open_files() -> u64 {
    1_024
}

const fn default_max_processes() -> u64 {
    512
}

const fn default_seccomp() -> bool {
    true
}

/// One core.
pub const fn default_cpu_millis() -> u32 {
    1_000
}

impl Default for PythonConfig {
    fn default() -> Self {
        Self {
            worker: None,
            workers: default_workers(),
            kill_grace_ms: default_kill_grace_ms(),
            import_timeout_ms: default_import_timeout_ms(),
            copies_dir: None,
            user: default_user(),
            max_open_files: default_max_open_files(),
            max_processes: default_max_processes(),
            isolate_network: false,
            seccomp: default_seccomp(),
            cgroups: CgroupMode::default(),
            cpu_millis: default_cpu_millis(),
        }
    }
}

/// The installed Python bundles.
pub struct Python {
    config: PythonConfig,
    /// Who the workers run as, or why that user cannot be used.
    identity: Result<Option<confine::Identity>, String>,
    copies: PathBuf,
    pools: RwLock<HashMap<String, Arc<Pool>>>,
    /// Only checks that bundles import ([`check`]).
    checking: bool,
}

impl Python {
    /// No bundles yet.
    pub fn new(config: PythonConfig) -> Python {
        let copies = config.copies_dir.clone().unwrap_or_else(|| {
            let temp = std::env::temp_dir();
            remove_stale_copies(&temp);
            temp.join(format!("{COPIES_PREFIX}{}", std::process::id()))
        });
        let identity = confine::identity(&config);
        if matches!(identity, Ok(None)) && config.worker.is_some() {
            confine::hide_runner();
        }
        Python {
            identity,
            config,
            copies,
            pools: RwLock::default(),
            checking: false,
        }
    }

    /// Copies the bundle, starts its workers and imports it; a bundle whose
    /// import fails (a syntax error, a missing function) is refused.
    pub async fn install(&self, bundle: Arc<Bundle>) -> Result<(), InstallError> {
        if self.pool(&bundle.hash).is_some() {
            return Ok(());
        }
        if !matches!(bundle.code, Code::Python { .. }) {
            return Err(InstallError::Unsupported {
                hash: bundle.hash.clone(),
                message: "not a Python bundle".into(),
            });
        }
        let failed = |message: String| InstallError::Internal {
            hash: bundle.hash.clone(),
            message,
        };
        if self.config.worker.is_none() {
            return Err(InstallError::Unsupported {
                hash: bundle.hash.clone(),
                message: "this runner was built without Python support (the `python` feature)"
                    .into(),
            });
        }
        let identity = self.identity.clone().map_err(failed)?;
        // Made (or found missing, and said so) with the first Python
        // bundle, not by every runner that could run one.
        let cgroups = cgroup::Cgroups::open(self.config.cgroups).map_err(failed)?;
        // Numbered across the process: every `Python` of a process (a
        // tron's import checks make one each) copies into the same
        // directory, and a copy is removed with its pool.
        static COPIED: AtomicU64 = AtomicU64::new(0);
        let n = COPIED.fetch_add(1, Ordering::Relaxed);
        let copy = self
            .copies
            .join(format!("{}-{}-{n}", bundle.name, bundle.short_hash()));
        let (root, from, to) = (self.copies.clone(), bundle.dir.clone(), copy.clone());
        tokio::task::spawn_blocking(move || {
            funcmesh_core::bundle::copy_sources(&from, &to)?;
            match identity {
                Some(identity) => confine::share_copy(&root, &to, identity),
                None => Ok(()),
            }
        })
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| failed(format!("copying the bundle to {}: {e}", copy.display())))?;
        let started = Instant::now();
        let copy_text = copy.display().to_string();
        let pool = Pool::start(
            Arc::clone(&bundle),
            copy,
            self.config.clone(),
            identity,
            cgroups,
        )
        .await
        .map_err(|message| InstallError::Import {
            hash: bundle.hash.clone(),
            path: bundle.dir.display().to_string(),
            // Tracebacks name the files the author edits, not the copy.
            message: message.replace(&copy_text, &bundle.dir.display().to_string()),
        })?;
        self.pools
            .write()
            .entry(bundle.hash.clone())
            .or_insert(pool);
        let import_ms = started.elapsed().as_millis() as u64;
        match self.checking {
            // A tron's check: the tron logs the version going live.
            true => {
                tracing::debug!(bundle = %bundle.short_hash(), name = %bundle.name, import_ms, "Python bundle imports")
            }
            false => tracing::info!(
                bundle = %bundle.short_hash(),
                name = %bundle.name,
                operations = bundle.operations.len(),
                import_ms,
                "Python bundle installed"
            ),
        }
        Ok(())
    }

    /// Forgets a version: calls in flight finish, its workers then exit.
    pub fn retire(&self, hash: &str) -> bool {
        let removed = self.pools.write().remove(hash);
        if let Some(pool) = &removed {
            pool.close();
        }
        removed.is_some()
    }

    /// The installed bundle with this hash.
    pub fn bundle(&self, hash: &str) -> Option<Arc<Bundle>> {
        self.pool(hash).map(|p| Arc::clone(&p.bundle))
    }

    /// Every installed bundle.
    pub fn bundles(&self) -> Vec<Arc<Bundle>> {
        self.pools
            .read()
            .values()
            .map(|p| Arc::clone(&p.bundle))
            .collect()
    }

    /// Calls `op_id` of bundle `hash`, or `None` when no such Python bundle
    /// is installed.
    pub async fn call(
        &self,
        hash: &str,
        op_id: &str,
        meta: &RequestMeta,
        body: &[u8],
        deadline: Instant,
    ) -> Option<Result<GuestResponse, CallError>> {
        let pool = self.pool(hash)?;
        if deadline <= Instant::now() {
            return Some(Err(CallError::Timeout { budget_ms: 0 }));
        }
        let timeout = std::time::Duration::from_millis(pool.bundle.manifest.timeout_ms);
        let encoded = match serde_json::to_string(meta) {
            Ok(encoded) => encoded,
            Err(e) => {
                return Some(Err(CallError::Internal(format!(
                    "encoding the request: {e}"
                ))));
            }
        };
        let result = pool
            .call(op_id, encoded, body, deadline, timeout)
            .instrument(tracing::debug_span!("runner.call"))
            .await;
        if let Err(CallError::Exception {
            kind, traceback, ..
        }) = &result
        {
            tracing::warn!(
                request_id = %meta.request_id,
                bundle = %pool.bundle.short_hash(),
                operation = op_id,
                %kind,
                "Python function raised:\n{traceback}"
            );
        }
        Some(result)
    }

    fn pool(&self, hash: &str) -> Option<Arc<Pool>> {
        self.pools.read().get(hash).cloned()
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        // Each pool removes its copy when dropped; then their directory goes.
        self.pools.write().clear();
        let _ = std::fs::remove_dir(&self.copies);
    }
}

/// Imports a Python bundle in one worker of its own, then stops it: what a
/// tron does before a version goes live, so that a syntax error or a failing
/// import is refused there and the previous version keeps serving.
pub async fn check(bundle: Arc<Bundle>, config: &PythonConfig) -> Result<(), InstallError> {
    let mut python = Python::new(PythonConfig {
        workers: 1,
        ..config.clone()
    });
    python.checking = true;
    python.install(bundle).await
}

/// Removes the copies left by runners that died without cleaning up (a
/// `kill -9`): the directories `funcmesh-python-PID` of processes gone.
fn remove_stale_copies(root: &std::path::Path) {
    for copy in left_by_the_dead(root, COPIES_PREFIX) {
        let _ = std::fs::remove_dir_all(copy);
    }
}

/// The entries of `dir` named `PREFIX` and the id of a process that is gone
/// (never this one): what runners that died left behind.
fn left_by_the_dead(dir: &std::path::Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let dead = |pid: u32| {
        pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            let name = entry.file_name();
            name.to_str()
                .and_then(|n| n.strip_prefix(prefix))
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(dead)
        })
        .map(|entry| entry.path())
        .collect()
}

const COPIES_PREFIX: &str = "funcmesh-python-";

#[cfg(test)]
mod tests {
    use super::*;

    fn python_bundle(dir: &std::path::Path) -> Arc<Bundle> {
        let spec = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\nservers: [{url: /py}]\n\
                    paths:\n  /hi:\n    get:\n      operationId: app.hi\n      responses: {'200': {description: ok}}\n";
        std::fs::write(dir.join("openapi.yaml"), spec).unwrap_or_default();
        std::fs::write(dir.join("app.py"), "def hi(request):\n    return 'hi'\n")
            .unwrap_or_default();
        let bundle = funcmesh_core::bundle::load_dir(dir);
        Arc::new(bundle.unwrap_or_else(|e| panic!("{e}")))
    }

    fn refusal(config: PythonConfig) -> String {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let bundle = python_bundle(tmp.path());
        let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
        let python = Python::new(PythonConfig {
            copies_dir: Some(tmp.path().join("copies")),
            ..config
        });
        match runtime.block_on(python.install(bundle)) {
            Ok(()) => panic!("installed without a working Python"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn a_runner_without_python_support_refuses_python_bundles_clearly() {
        let error = refusal(PythonConfig::default());
        assert!(error.contains("built without Python support"), "{error}");
    }

    #[test]
    fn a_worker_that_cannot_start_is_an_install_error_naming_the_program() {
        let error = refusal(PythonConfig {
            worker: Some(WorkerCommand::funcmesh("/nonexistent/funcmesh")),
            ..PythonConfig::default()
        });
        assert!(error.contains("starting /nonexistent/funcmesh"), "{error}");
    }
}
