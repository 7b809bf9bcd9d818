//! The funcmesh HTTP gateway: HTTP requests in, envelopes onto the bus,
//! replies back out to the waiting clients.
//!
//! A tour of the modules, in the order a request meets them:
//!
//! - [`serve`]: the hyper server (HTTP/1.1 keep-alive and h2c on one port)
//!   that takes a bound listener and a shutdown future, and drains in-flight
//!   requests before it returns.
//! - `request`: one request's path: admission (`max_in_flight`), the body
//!   limit, routing (straight to a Func queue when the pushed [`RouteTable`]
//!   knows the route, the firehose otherwise), publishing, and waiting for the
//!   reply until the deadline.
//! - `reserved`: the gateway's own endpoints on every host, `GET /__health`
//!   and `GET /__routes`.
//! - `inbound`: reading an HTTP request into a [`RequestEnvelope`]: request
//!   id, host, headers, deadline, trace context.
//! - `pending`: the sharded map from request id to the waiting client that the
//!   reply consumers complete.
//! - `outbound`: turning a [`ResponseEnvelope`] into the HTTP answer.
//! - `capture`: whether a request is captured, and the finished exchange
//!   handed to the capture writer off the request path.
//! - [`rescue`]: the one place where every gateway error becomes a status and
//!   a JSON error body.
//! - [`Gateway`] (`gateway`): the shared state, its reply queue and the tasks
//!   that consume it; [`GatewayConfig`] (`config`) and [`GatewayStats`]
//!   (`stats`) beside it.
//! - [`node`]: [`GatewayNode`], the gateway as a node of the mesh, following
//!   the trons' routing tables and capture rules from the control topics.
//!
//! [`RouteTable`]: funcmesh_core::routing::RouteTable
//! [`RequestEnvelope`]: funcmesh_core::RequestEnvelope
//! [`ResponseEnvelope`]: funcmesh_core::ResponseEnvelope
#![deny(missing_docs)]

mod capture;
mod config;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod gateway;
mod inbound;
pub mod node;
mod outbound;
mod pending;
mod request;
mod rescue;
mod reserved;
mod serve;
mod stats;

pub use config::GatewayConfig;
pub use error::{Error, Result};
pub use gateway::Gateway;
pub use node::{GatewayNode, GatewayOptions};
pub use rescue::rescue;
pub use serve::serve;
pub use stats::{GatewayStats, StatsSnapshot};

/// The response body type the gateway answers with.
pub type ResponseBody = http_body_util::Full<bytes::Bytes>;
