//! `funcmesh capture`: traffic captured for replay.
//!
//! - `control`: switching capture on and off on a cluster's gateways, through
//!   the tron, with a control message.
//! - [`queue`]: copying the requests that flow through a Func's queue on a
//!   broker into a capture file, without taking them from the runners.

pub mod control;
pub mod queue;

use anyhow::Context as _;
use funcmesh_core::capture::{Capture, CaptureWriter, WriterConfig};

/// A gateway's capture: writing to `config`'s directory, or never (`None`).
pub(crate) fn open(config: Option<WriterConfig>) -> anyhow::Result<Capture> {
    let Some(config) = config else {
        return Ok(Capture::off());
    };
    let dir = config.dir.display().to_string();
    let writer = CaptureWriter::start(config)
        .with_context(|| format!("opening the capture directory {dir}"))?;
    Ok(Capture::new(writer))
}

/// Writes out what was captured and says how much, when anything could be.
pub(crate) fn log_stats(capture: &Capture) {
    if !capture.can_capture() {
        return;
    }
    capture.flush();
    let stats = capture.stats();
    tracing::info!(
        written = stats.written,
        dropped = stats.dropped,
        failed = stats.failed,
        rotations = stats.rotations,
        "capture stats"
    );
}
