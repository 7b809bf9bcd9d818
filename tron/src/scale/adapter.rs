//! The one trait every orchestrator implements: read a pool's replicas,
//! set how many it should have. Nothing else of an orchestrator reaches
//! the scaler.

use std::pin::Pin;

use serde::Serialize;

/// A boxed future, as the adapters return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A pool's replicas as its orchestrator reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Replicas {
    /// How many the orchestrator has been asked for.
    pub desired: u32,
    /// How many run and can take work.
    pub ready: u32,
}

/// Why an orchestrator did not answer or obey.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    /// The orchestrator cannot be reached now (its API is down, its socket
    /// is missing); the pool keeps the replicas it has.
    #[error("the orchestrator is unreachable: {0}")]
    Unreachable(String),
    /// The orchestrator has nothing for this pool (no Deployment, service
    /// or app of that name).
    #[error("no runner group for pool {pool}: {detail}")]
    NotFound {
        /// The pool.
        pool: String,
        /// What the orchestrator said.
        detail: String,
    },
    /// The orchestrator refused the call (missing permission).
    #[error("the orchestrator refused: {0}")]
    Forbidden(String),
    /// Someone else changed the group at the same time; trying again
    /// with a fresh read is expected to work.
    #[error("conflicting change: {0}")]
    Conflict(String),
    /// Anything else the orchestrator answered.
    #[error("{0}")]
    Other(String),
}

/// An orchestrator that runs each pool's runners.
pub trait Orchestrator: Send + Sync + 'static {
    /// Its name as `--scaler` takes it: `local`, `kubernetes`, ...
    fn name(&self) -> &'static str;

    /// The pool's desired and ready replicas.
    fn replicas<'a>(&'a self, pool: &'a str) -> BoxFuture<'a, Result<Replicas, ScaleError>>;

    /// Asks for `desired` replicas of the pool. Runners removed are told
    /// to stop, and drain: they answer what they hold before they exit.
    fn scale<'a>(&'a self, pool: &'a str, desired: u32) -> BoxFuture<'a, Result<(), ScaleError>>;

    /// The tron is stopping: runners the adapter started itself stop with
    /// it (an orchestrator's own runners keep running).
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}
