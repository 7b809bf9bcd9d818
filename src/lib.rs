//! The `funcmesh` binary's library: how the components are composed.
//!
//! - [`capture`]: `funcmesh capture`, switching capture on a cluster and
//!   copying a Func queue's requests to a file.
//! - [`replay`]: `funcmesh replay`, captured traffic sent again and the
//!   answers compared.
//! - [`dev`]: `funcmesh dev DIR`, the whole mesh in one process on the
//!   in-process bus.
//! - [`vendor`]: `funcmesh bundle build`, a Python bundle's requirements
//!   installed into its `lib/`.
//! - [`shutdown`]: one signal that every task of a process listens to.
//! - [`watch`]: reload on save, for any [`watch::Target`] that can load and
//!   remove bundles.

pub mod capture;
pub mod cluster;
pub mod dev;
pub mod replay;
pub mod shutdown;
pub mod vendor;
pub mod watch;
