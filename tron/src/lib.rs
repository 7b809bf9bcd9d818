//! The tron: the dispatcher in the middle of the mesh.
//!
//! - [`registry`]: the bundles that are live, one per route, and the routing
//!   table built from them, published to every subscriber (dispatchers and
//!   gateways) on each change.
//! - [`dispatch`]: the firehose consumer that forwards each request envelope
//!   to its Func queue, or answers 404 when no route serves it.
//! - [`store`]: the packs of the bundles served, by hash, for runners to
//!   fetch.
//! - [`admin`]: the admin listener: `GET /bundles/{sha256}` serves a pack
//!   from the store, `PUT /bundles/{name}` unpacks an uploaded one into the
//!   bundles directory, plus `/bundles`, `/status` and `/health`.
//! - [`dead_letter`]: answers 502 for each request whose deliveries all
//!   failed, then parks it for inspection.
//! - [`policy`]: the queues the mesh declares and their limits.
//! - [`watch`]: reload on save: a bundle directory watched, each change
//!   made live or refused with a clear reason.
//! - [`node`]: [`TronNode`], all of the above composed into the tron of a
//!   mesh: it announces the routes on the bus, hears the runners, and is
//!   the target the watcher and the admin uploads load into.

pub mod admin;
mod consume;
pub mod dead_letter;
pub mod dispatch;
pub mod node;
pub mod policy;
pub mod registry;
pub mod scale;
pub mod store;
pub mod watch;

#[cfg(test)]
mod test_support;

pub use admin::{AdminState, UploadHook};
pub use dead_letter::{DeadLetterSnapshot, DeadLetterStats, DeadLetters};
pub use dispatch::{DispatchStats, Dispatcher};
pub use node::{Prepare, Scaling, TronNode, TronOptions};
pub use policy::QueuePolicy;
pub use registry::{Registry, RegistryError};
pub use store::{BundleInfo, BundleStore};
pub use watch::{LoadOutcome, ReloadEvent, WatchHandle};
