//! `funcmesh capture`: traffic captured for replay.
//!
//! - `control`: switching capture on and off on a cluster's gateways, through
//!   the tron, with a control message.
//! - [`queue`]: copying the requests that flow through a Func's queue on a
//!   broker into a capture file, without taking them from the runners.

pub mod control;
pub mod queue;
