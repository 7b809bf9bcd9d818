//! The control protocol: what the mesh's processes tell each other on the
//! bus's fan-out topics, as versioned JSON.
//!
//! - A tron announces its routing table ([`RoutesAnnouncement`]) on
//!   [`ROUTES_TOPIC`] whenever it changes, every [`ANNOUNCE_EVERY`], and at
//!   once when a gateway or runner says [`Hello`] on [`HELLO_TOPIC`]. The
//!   table names each route's Func queue and bundle hash: gateways route by
//!   it, runners serve it. It also carries the capture rules the gateways
//!   apply.
//! - Runners send a [`RunnerHeartbeat`] on [`RUNNER_STATS_TOPIC`] every
//!   [`HEARTBEAT_EVERY`]; a tron forgets a runner not heard from for
//!   [`RUNNER_EXPIRY`].
//! - `funcmesh capture on|off` sends a [`CaptureChange`] on
//!   [`CAPTURE_TOPIC`]; the trons apply it and announce the new rules.
//! - `funcmesh log-level FUNC=LEVEL` sends a [`LogLevelChange`] on
//!   [`LOG_LEVEL_TOPIC`]; the trons apply it and announce the per-Func
//!   levels with the routes, and every process applies them
//!   ([`log_level`]).
//! - Trons that can scale send a [`ScalerClaim`] on [`SCALER_TOPIC`] every
//!   [`CLAIM_EVERY`]; the oldest live claim holds the scaler's lease.
//! - [`follow`]: how gateways and runners keep the latest table.
//! - [`signed`]: every broadcast carries a MAC under the mesh token, and
//!   listeners drop what does not verify.
//!
//! ## Versions
//! Every message is a JSON object with a version field `v` beside its own
//! fields (see [`encode`]). Within one version, fields are only ever added,
//! each with a default, so an older reader ignores what it does not know
//! and a newer reader fills in what an older writer left out. A change that
//! removes a field or changes its meaning raises [`VERSION`]; a reader
//! ignores (and logs) a message of a version above its own, so a mesh can be
//! upgraded one process at a time. A message without `v` was written before
//! versions were stamped, and reads as version 1.

mod capture_change;
pub mod follow;
pub mod log_level;
mod messages;
pub mod signed;
#[cfg(test)]
mod tests;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::queues::{
    CAPTURE_TOPIC, HELLO_TOPIC, LOG_LEVEL_TOPIC, ROUTES_TOPIC, RUNNER_STATS_TOPIC, SCALER_TOPIC,
};
pub use capture_change::CaptureChange;
pub use log_level::{LogLevelChange, LogLevels};
pub use messages::{Hello, RoutesAnnouncement, RunnerHeartbeat, ScalerClaim, StatsSnapshot};

/// The version of the control messages this build writes, and the highest
/// it reads.
pub const VERSION: u32 = 1;

/// How often a tron repeats its routing table unasked.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(2);
/// How often a runner reports.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// How long a runner's last heartbeat counts.
pub const RUNNER_EXPIRY: Duration = Duration::from_secs(5);
/// How often a tron that can scale repeats its claim to the lease.
pub const CLAIM_EVERY: Duration = Duration::from_millis(500);
/// How long a claim counts after it was heard.
pub const CLAIM_EXPIRY: Duration = Duration::from_secs(2);

/// A message with its version stamped beside its own fields.
#[derive(Serialize)]
struct Stamped<'a, T> {
    v: u32,
    #[serde(flatten)]
    message: &'a T,
}

/// Only the version of a message, read before the rest.
#[derive(Deserialize)]
struct VersionOnly {
    #[serde(default = "first_version")]
    v: u32,
}

const fn first_version() -> u32 {
    1
}

/// Why a control message was not taken.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not a message of the expected kind.
    #[error("malformed control message: {0}")]
    Malformed(#[from] serde_json::Error),
    /// A newer build wrote it, in a version this one cannot read.
    #[error("control message of version {found}, newer than this build's {VERSION}")]
    Newer {
        /// The version the message carries.
        found: u32,
    },
}

/// Encodes a control message, stamped with [`VERSION`].
pub fn encode<T: Serialize>(message: &T) -> bytes::Bytes {
    let stamped = Stamped {
        v: VERSION,
        message,
    };
    // These types serialize infallibly (no maps with non-string keys).
    serde_json::to_vec(&stamped).map_or_else(|_| bytes::Bytes::new(), bytes::Bytes::from)
}

/// Decodes a control message of a version this build reads.
pub fn try_decode<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, DecodeError> {
    let version: VersionOnly = serde_json::from_slice(body)?;
    if version.v > VERSION {
        return Err(DecodeError::Newer { found: version.v });
    }
    Ok(serde_json::from_slice(body)?)
}

/// Decodes a control message received on `topic`, logging (not failing on)
/// garbage and messages from newer builds.
pub fn decode<T: for<'de> Deserialize<'de>>(topic: &str, body: &[u8]) -> Option<T> {
    match try_decode(body) {
        Ok(message) => Some(message),
        Err(error) => {
            tracing::warn!(topic, %error, "control message ignored");
            None
        }
    }
}

/// A short random id for a process.
pub fn new_id() -> String {
    let uuid = uuid::Uuid::now_v7().simple().to_string();
    uuid[uuid.len() - 12..].to_owned()
}
