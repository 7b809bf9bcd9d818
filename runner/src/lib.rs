//! The funcmesh runner: takes requests off a Func queue, runs the function
//! and publishes its answer.
//!
//! A request travels through the modules in this order:
//!
//! - [`worker`]: the bus consumer. It decodes each delivery's envelope,
//!   finds the bundle by the hash the tron chose, and acknowledges only after
//!   the reply is published. [`Runner`] is its entry point; [`RunnerStats`]
//!   counts what it did.
//! - [`matcher`]: method + path to an operation of the bundle, with the path
//!   parameters (404 / 405 otherwise).
//! - [`validate`]: parameters and body checked against the operation's
//!   schemas (400 / 415 otherwise), so the function only sees valid input.
//! - [`wasm`]: the [`Executor`], which runs the operation on a fresh
//!   wasmtime instance with the bundle's limits, once the bundle's fair
//!   share of the runner's slots lets it, and maps every guest fault to a
//!   [`CallError`] for that request alone.
//! - [`python`]: Python bundles, run in worker processes that embed
//!   CPython; the same [`Executor`] hands them over.
//! - [`fetch`]: [`BundleFetcher`], which gets a bundle version the tron
//!   named by its hash: from the disk cache, else downloaded from a tron,
//!   checked against the hash and cached.
//! - [`http`]: percent-decoding, query strings, cookies, media types.
//! - [`node`]: [`RunnerNode`], the runner as a node of the mesh: it follows
//!   the announced routes, consumes their Func queues and sends heartbeats.

pub mod fetch;
pub mod matcher;
pub mod node;
pub mod python;
pub mod wasm;
pub mod worker;

#[cfg(test)]
mod test_support;

pub use fetch::{BundleFetcher, FetchConfig, FetchError};
pub use funcmesh_validate::{self as validate, http};
pub use node::{RunnerNode, RunnerOptions};
pub use python::{CgroupMode, PythonConfig, WorkerCommand};
pub use wasm::{CallError, Executor, ExecutorConfig, GuestResponse, InstallError, SetupError};
pub use worker::{BundleSource, Runner, RunnerConfig, RunnerStats, SourceError, StatsSnapshot};
