//! The tron: the dispatcher in the middle of the mesh.
//!
//! - [`registry`]: the bundles that are live, one per route, and the routing
//!   table built from them, published to every subscriber (dispatchers and
//!   gateways) on each change.
//! - [`dispatch`]: the firehose consumer that forwards each request envelope
//!   to its Func queue, or answers 404 when no route serves it.

pub mod dispatch;
pub mod registry;

#[cfg(test)]
mod test_support;

pub use dispatch::{DispatchStats, Dispatcher};
pub use registry::{Registry, RegistryError};
