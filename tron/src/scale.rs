//! Scaling runner pools from what the bus and the runners report.
//!
//! - [`rule`]: the scaling rule, a pure function of a pool's observations
//!   (queue depth, arrival rate, service time, calls in flight, replicas)
//!   and its recent history: how many runners the pool should have.
//! - [`adapter`]: the [`Orchestrator`] trait every orchestrator implements:
//!   read a pool's replicas, set how many it should have.
//! - [`local`]: runners as child processes of the tron.
//! - [`kubernetes`]: runners as a Deployment per pool, scaled through its
//!   `scale` subresource.
//! - [`marathon`]: runners as a Marathon app per pool (Mesos).
//! - [`swarm`]: runners as a replicated Docker Swarm service per pool.
//! - [`lease`]: one scaler at a time: the lease trons claim on the bus.
//! - [`pools`]: each pool's limits, from the tron's flags or a pools file.
//! - [`observe`]: the pool's counters, summed from its runners' heartbeats.
//! - [`scaler`]: every tick, each pool's observations through the rule and
//!   the orchestrator asked for the rule's answer.

pub mod adapter;
pub mod kubernetes;
pub mod lease;
pub mod local;
pub mod marathon;
pub mod observe;
pub mod pools;
pub mod rule;
pub mod scaler;
pub mod swarm;

pub use adapter::{Orchestrator, Replicas, ScaleError};
pub use kubernetes::{Kubernetes, KubernetesOptions};
pub use lease::Lease;
pub use local::{LocalProcesses, RunnerCommand};
pub use marathon::{Marathon, MarathonOptions};
pub use pools::{PoolSettings, Pools};
pub use swarm::{Swarm, SwarmOptions};
