use std::path::PathBuf;

/// Why a bundle could not be loaded. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The directory holds no `swagger.*` or `openapi.*` file.
    #[error("{dir}: no swagger.yaml|yml|json or openapi.yaml|yml|json")]
    NoSpec {
        /// The bundle directory.
        dir: PathBuf,
    },
    /// The API description or manifest is not valid YAML/JSON/TOML.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What the parser said, with the line and column.
        message: String,
    },
    /// The API description or manifest is well-formed but wrong.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the operation or field.
        message: String,
    },
    /// The code does not provide what the API description names.
    #[error("{path}: {message}")]
    Code {
        /// The code file (or bundle directory when there is none).
        path: PathBuf,
        /// What is missing or broken.
        message: String,
    },
    /// A Rust func crate failed to build.
    #[error("{dir}: cargo build failed: {message}")]
    Build {
        /// The crate directory.
        dir: PathBuf,
        /// The summary; cargo's own diagnostics went to the log.
        message: String,
    },
    /// A bundle's bytes are not the version asked for.
    #[error("bundle hash mismatch: expected {expected}, got {actual}")]
    HashMismatch {
        /// The hash asked for.
        expected: String,
        /// The hash of what was received or found.
        actual: String,
    },
    /// A string given as a bundle hash is not one.
    #[error("`{hash}` is not a bundle hash (64 lowercase hex digits)")]
    BadHash {
        /// The string.
        hash: String,
    },
    /// A pack is truncated or garbled, or names a path outside its bundle.
    #[error("pack, at byte {offset}: {message}")]
    Pack {
        /// Where in the pack the problem is.
        offset: usize,
        /// What is wrong.
        message: String,
    },
}

/// `Result` with [`BundleError`] as the default error.
pub type Result<T, E = BundleError> = std::result::Result<T, E>;
