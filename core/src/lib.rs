//! What every funcmesh component shares.
//!
//! - [`auth`]: the mesh token: the admin API's bearer token and the key
//!   control messages are signed with.
//! - [`envelope`]: the versioned JSON request and response envelopes that
//!   travel on the bus.
//! - [`bundle`]: a Func bundle: its API description (Swagger 2.0 or OpenAPI
//!   3.x), its code, its manifest of limits, and its content hash.
//! - [`routing`]: the table that maps a request's host and path to a Func
//!   queue, used by the tron and, pushed to them, by the gateways.
//! - [`queues`]: the names of the well-known queues.
//! - [`capture`]: exchanges written as JSON lines for replay, with the
//!   rules that switch capture on per Func at run time.
//! - [`control`]: the versioned control protocol the processes speak on the
//!   bus: routing-table announcements, hellos, runner heartbeats, capture
//!   changes; and the follower that keeps a process's table current.
//! - [`metrics`]: the Prometheus metrics every component registers.
//! - [`shutdown`]: the signal every task of a process listens to, and the
//!   consumer loop that keeps serving until it.
#![deny(missing_docs)]

pub mod auth;
pub mod bundle;
pub mod capture;
pub mod control;
pub mod envelope;
pub mod errors;
pub mod metrics;
pub mod queues;
pub mod routing;
pub mod shutdown;
#[cfg(feature = "tls")]
pub mod tls;
pub mod trace;

pub use envelope::{Body, RequestEnvelope, ResponseEnvelope};
