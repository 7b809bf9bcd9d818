//! What can go wrong installing a bundle or calling a function.

/// Why a bundle was refused. The bundle is not served; others are unaffected.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The bundle's code is not something this executor runs.
    #[error("bundle {hash}: {message}")]
    Unsupported {
        /// The bundle's hash.
        hash: String,
        /// What it holds instead.
        message: String,
    },
    /// The module is not valid WebAssembly, or does not compile.
    #[error("bundle {hash}: {path}: the module does not compile: {message}")]
    Compile {
        /// The bundle's hash.
        hash: String,
        /// The module file.
        path: String,
        /// The compiler's error.
        message: String,
    },
    /// The Python modules do not import, or lack a function an
    /// `operationId` names.
    #[error("bundle {hash}: {path}: the Python code does not load: {message}")]
    Import {
        /// The bundle's hash.
        hash: String,
        /// The bundle directory.
        path: String,
        /// The import errors, with their tracebacks.
        message: String,
    },
    /// The module does not provide what the funcmesh ABI or the API
    /// description requires, or imports what the runner does not provide.
    #[error("bundle {hash}: {path}: {message}")]
    Abi {
        /// The bundle's hash.
        hash: String,
        /// The module file.
        path: String,
        /// What is missing or wrong.
        message: String,
    },
    /// The manifest asks for more than this runner allows.
    #[error("bundle {hash}: {message}")]
    Limits {
        /// The bundle's hash.
        hash: String,
        /// Which limit, and the runner's maximum.
        message: String,
    },
    /// A host-side failure (a compile task died).
    #[error("bundle {hash}: internal error: {message}")]
    Internal {
        /// The bundle's hash.
        hash: String,
        /// What happened.
        message: String,
    },
}

/// Why a call did not produce the function's response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No bundle with this hash is installed: 503.
    #[error("bundle {0} not available on this runner")]
    UnknownBundle(String),
    /// The bundle has no such operation: 500 (the matcher never asks for one).
    #[error("operation {0} is not exported by the bundle")]
    UnknownOperation(String),
    /// The deadline passed, while waiting for a slot or running: 504.
    #[error("function exceeded its {budget_ms} ms deadline")]
    Timeout {
        /// The time the call was given.
        budget_ms: u64,
    },
    /// The request's deadline passed while the call waited for a slot (its
    /// bundle's share was in use): 504, and the function never ran.
    #[error(
        "no slot was free for the function before the request's deadline ({waited_ms} ms waited)"
    )]
    NoSlot {
        /// How long the call waited.
        waited_ms: u64,
    },
    /// The function tried to grow its memory past the manifest's limit: 502.
    #[error("function exceeded its memory limit of {limit_mb} MiB")]
    MemoryLimit {
        /// The manifest's limit.
        limit_mb: u32,
    },
    /// The function trapped (a panic, an unreachable, a stack overflow): 502.
    #[error("function trapped: {trap}")]
    Trap {
        /// The trap, e.g. `wasm trap: wasm 'unreachable' instruction executed`.
        trap: String,
        /// The panic message the guest wrote to stderr, if any.
        panic: Option<String>,
    },
    /// The function called `proc_exit`: 502.
    #[error("function exited with status {0}")]
    Exit(i32),
    /// The function's output does not follow the ABI: 502.
    #[error("function returned a malformed response: {0}")]
    Malformed(String),
    /// A Python function raised: 502.
    #[error("function raised {kind}: {message}")]
    Exception {
        /// The exception's type, e.g. `KeyError`.
        kind: String,
        /// `str()` of the exception.
        message: String,
        /// The formatted traceback (logged; in the body only in dev mode).
        traceback: String,
    },
    /// No instance slot could be had: 503.
    #[error("runner overloaded: {0}")]
    Overloaded(String),
    /// A host-side failure: 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CallError {
    /// The HTTP status the client gets.
    pub fn status(&self) -> u16 {
        match self {
            CallError::UnknownBundle(_) | CallError::Overloaded(_) => 503,
            CallError::Timeout { .. } | CallError::NoSlot { .. } => 504,
            CallError::MemoryLimit { .. }
            | CallError::Trap { .. }
            | CallError::Exit(_)
            | CallError::Exception { .. }
            | CallError::Malformed(_) => 502,
            CallError::UnknownOperation(_) | CallError::Internal(_) => 500,
        }
    }

    /// The message the client gets. Guest details (panic messages,
    /// tracebacks, the ABI problem) only in dev mode: they may leak the function's internals.
    pub fn client_message(&self, dev_mode: bool) -> String {
        match self {
            CallError::Trap {
                trap,
                panic: Some(panic),
            } if dev_mode => format!("function trapped: {trap} ({panic})"),
            CallError::Exception {
                kind,
                message,
                traceback,
            } if dev_mode => format!("function raised {kind}: {message}\n{traceback}"),
            CallError::Exception { .. } => {
                "function raised an exception (the runner's log has the traceback)".to_owned()
            }
            CallError::Malformed(_) if !dev_mode => {
                "function returned a malformed response".to_owned()
            }
            CallError::Internal(_) if !dev_mode => "internal error".to_owned(),
            other => other.to_string(),
        }
    }

    /// A short label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::UnknownBundle(_) => "unknown_bundle",
            CallError::UnknownOperation(_) => "unknown_operation",
            CallError::Timeout { .. } => "timeout",
            CallError::NoSlot { .. } => "no_slot",
            CallError::MemoryLimit { .. } => "memory_limit",
            CallError::Trap { .. } => "trap",
            CallError::Exit(_) => "exit",
            CallError::Exception { .. } => "exception",
            CallError::Malformed(_) => "malformed_output",
            CallError::Overloaded(_) => "overloaded",
            CallError::Internal(_) => "internal",
        }
    }
}

/// Why the executor could not start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// wasmtime rejected the engine configuration or the WASI linker.
    #[error("configuring wasmtime: {0}")]
    Engine(String),
    /// The epoch ticker thread could not be started.
    #[error("starting the epoch ticker: {0}")]
    Ticker(#[from] std::io::Error),
}
