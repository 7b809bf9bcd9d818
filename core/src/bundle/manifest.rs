use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `funcmesh.toml`: what a bundle may use. Every field is optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// How long one call may run, in milliseconds, before it is stopped (504).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The most linear memory one instance may grow to, in MiB.
    #[serde(default = "default_memory_limit_mb")]
    pub memory_limit_mb: u32,
    /// The most calls of this bundle that one runner runs at once.
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: u32,
    /// Environment variables the function sees.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// What the sandbox grants beyond pure computation.
    #[serde(default)]
    pub wasi: WasiGrants,
    /// Which `.wasm` file to run when the bundle holds more than one.
    #[serde(default)]
    pub module: Option<String>,
    /// What runs the operations. Found from the files when not given: a
    /// `.wasm` module (or `module`) means WebAssembly, else Python sources.
    #[serde(default)]
    pub runtime: Option<Runtime>,
    /// How the bundle is scaled.
    #[serde(default)]
    pub scale: Scale,
}

/// `[scale]`: which runner pool serves the bundle. The pool's size limits
/// are the tron's to set (its `--pool` flags or pools file), so that every
/// bundle of a pool is scaled by the same rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    /// The runner pool: runners started with `--pool NAME` serve it.
    #[serde(default = "default_pool")]
    pub pool: String,
}

impl Default for Scale {
    fn default() -> Self {
        Self {
            pool: default_pool(),
        }
    }
}

/// The pool of a bundle that names none, and of a runner without `--pool`.
pub const DEFAULT_POOL: &str = "default";

fn default_pool() -> String {
    DEFAULT_POOL.to_owned()
}

/// Whether `name` can name a pool: letters, digits, `-` and `_`, 1 to 63
/// characters, as an orchestrator's object names allow.
pub fn valid_pool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What runs a bundle's operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// A wasm32-wasip1 module.
    Wasm,
    /// Python functions, `operationId` = `module.function`.
    Python,
}

/// WASI capabilities granted to the function. None by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WasiGrants {
    /// Directories of the bundle made visible to the function.
    #[serde(default)]
    pub dirs: Vec<DirGrant>,
    /// Whether the function's stdout/stderr reach the runner's log.
    #[serde(default = "default_true")]
    pub log_output: bool,
}

/// One directory granted to the function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirGrant {
    /// The directory, relative to the bundle.
    pub host: String,
    /// Where the function sees it, e.g. `/data`.
    pub guest: String,
    /// Whether the function may write to it.
    #[serde(default)]
    pub writable: bool,
}

const fn default_timeout_ms() -> u64 {
    30_000
}

const fn default_memory_limit_mb() -> u32 {
    64
}

const fn default_max_concurrency() -> u32 {
    64
}

const fn default_true() -> bool {
    true
}

impl Default for Manifest {
    fn default() -> Self {
        Self {
            timeout_ms: default_timeout_ms(),
            memory_limit_mb: default_memory_limit_mb(),
            max_concurrency: default_max_concurrency(),
            env: BTreeMap::new(),
            wasi: WasiGrants {
                dirs: Vec::new(),
                log_output: true,
            },
            module: None,
            runtime: None,
            scale: Scale::default(),
        }
    }
}
