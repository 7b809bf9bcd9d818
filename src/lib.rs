//! The `funcmesh` binary's library: how the components are composed.
//!
//! - [`dev`]: `funcmesh dev DIR`, the whole mesh in one process on the
//!   in-process bus.
//! - [`shutdown`]: one signal that every task of a process listens to.

pub mod dev;
pub mod shutdown;
