//! Capture: each exchange a Func served, written as one JSON line, so that
//! real traffic can be replayed against another version of the Func.
//!
//! - [`record`]: the line format, [`CaptureRecord`]: the request envelope,
//!   the answer the client got, the bundle hash that answered, the timings;
//!   and [`read_records`] to read capture files back.
//! - [`redact`]: the headers masked before anything is written.
//! - [`rules`]: which Funcs are captured and at what sample rate
//!   ([`CaptureRules`]), switched at run time through a [`Capture`].
//! - `writer`: the [`CaptureWriter`], a thread of its own that writes and
//!   rotates the files, so that the request path only hands an exchange
//!   over (or counts it as dropped when the writer falls behind).

pub mod record;
pub mod redact;
pub mod rules;
mod writer;

pub use record::{CaptureRecord, CaptureTimings, RecordError, read_records};
pub use redact::Redaction;
pub use rules::{Capture, CaptureRules, RouteRule};
pub use writer::{CaptureStats, CaptureWriter, Exchange, ExchangeRequest, WriterConfig};

#[cfg(test)]
mod tests;
