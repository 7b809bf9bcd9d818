//! The `funcmesh` binary's library: how the components are composed.
//!
//! - [`capture`]: `funcmesh capture`, switching capture on a cluster and
//!   copying a Func queue's requests to a file.
//! - [`replay`]: `funcmesh replay`, captured traffic sent again and the
//!   answers compared.
//! - [`cluster`]: opening the bus, and `funcmesh push`'s upload.
//! - [`compose`]: what joins two components' nodes, the same for `funcmesh
//!   dev` and the cluster commands.
//! - [`dev`]: `funcmesh dev DIR`, the mesh's own nodes in one process on
//!   the in-process bus.
//! - [`invoke`]: `funcmesh invoke`, one request and its answer.
//! - [`logging`]: `--log`, `--log-format` and the per-Func log levels.
//! - [`metrics`]: `--metrics ADDR`, the Prometheus endpoint of every
//!   command that serves.
//! - [`new`]: `funcmesh new`, a complete bundle to start from.
//! - [`sdk`]: the Rust and Python SDKs the binary carries, for bundles
//!   written outside this repository.
//! - [`traces`]: OpenTelemetry traces, exported over OTLP when the
//!   standard variables ask for it.
//! - [`vendor`]: `funcmesh bundle build`, a Python bundle's requirements
//!   installed into its `lib/`.

pub mod capture;
pub mod cluster;
pub mod compose;
pub mod dev;
pub mod invoke;
pub mod logging;
pub mod metrics;
pub mod new;
pub mod replay;
pub mod sdk;
pub mod traces;
pub mod vendor;
