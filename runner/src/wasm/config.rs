//! How the executor is sized.

use serde::{Deserialize, Serialize};

/// The executor's settings. What one bundle may use is in its manifest;
/// these bound every bundle on this runner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutorConfig {
    /// How many calls run at once, over all bundles. Sizes the blocking pool
    /// share and the instance pool (twice this many slots).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// The largest `memory_limit_mb` a bundle may ask for; every pool slot
    /// reserves this much address space. At most 4096.
    #[serde(default = "default_max_memory_mb")]
    pub max_memory_mb: u32,
    /// How often the epoch advances, in milliseconds: the precision of
    /// deadlines (a call is stopped at most two ticks late).
    #[serde(default = "default_epoch_tick_ms")]
    pub epoch_tick_ms: u64,
    /// Bytes of each pooled linear memory (and table) kept resident and reset
    /// in place rather than given back with `madvise`: a fresh instance is
    /// then cheaper. On Linux 6.7 and later only the pages a call wrote are
    /// reset (the kernel's `PAGEMAP_SCAN` tells which); elsewhere, all of
    /// them.
    #[serde(default = "default_keep_resident_bytes")]
    pub keep_resident_bytes: usize,
    /// How much of a call's stdout and of its stderr is kept (and logged);
    /// the rest is dropped.
    #[serde(default = "default_output_capture_bytes")]
    pub output_capture_bytes: usize,
    /// How Python bundles run.
    #[serde(default)]
    pub python: crate::python::PythonConfig,
}

/// Twice the machine's cores.
pub fn default_concurrency() -> usize {
    2 * std::thread::available_parallelism().map_or(1, usize::from)
}

const fn default_max_memory_mb() -> u32 {
    1024
}

const fn default_epoch_tick_ms() -> u64 {
    10
}

const fn default_keep_resident_bytes() -> usize {
    2 << 20
}

const fn default_output_capture_bytes() -> usize {
    64 << 10
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            concurrency: default_concurrency(),
            max_memory_mb: default_max_memory_mb(),
            epoch_tick_ms: default_epoch_tick_ms(),
            keep_resident_bytes: default_keep_resident_bytes(),
            output_capture_bytes: default_output_capture_bytes(),
            python: crate::python::PythonConfig::default(),
        }
    }
}
