//! Errors as one line for logs and answers.

/// `error` and its sources, `: `-separated (a connection error's reason is
/// often two or three sources down).
pub use funcmesh_bus::error_chain as chain;
