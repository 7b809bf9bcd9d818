//! The capture file format: JSON lines, one [`CaptureRecord`] each.

use std::io::BufRead;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::envelope::{RequestEnvelope, ResponseEnvelope};

/// The record format this build writes; readers accept any `1.x`.
pub const RECORD_VERSION: &str = "1.0";

/// Where the time went for one exchange, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureTimings {
    /// From the gateway reading the request to its answer being ready.
    #[serde(default)]
    pub total_us: u64,
    /// From publishing to a runner picking the request up.
    #[serde(default)]
    pub queued_us: u64,
    /// Running the function, instantiation included.
    #[serde(default)]
    pub run_us: u64,
}

/// One captured exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptureRecord {
    /// `MAJOR.MINOR` of the record format.
    pub version: String,
    /// When the exchange ended, in milliseconds since the Unix epoch.
    pub captured_at_ms: u64,
    /// The name of the Func (bundle) whose route served the request.
    pub route: String,
    /// The content hash of the bundle version that answered, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// `gateway` (an exchange seen by a gateway) or `queue` (a request
    /// copied from a Func queue, with no answer).
    pub source: String,
    /// The request as published, with redacted headers masked.
    pub request: RequestEnvelope,
    /// The answer the client got (status, headers, body), with redacted
    /// headers masked: for a fire-and-forget request, its 202. `None` for a
    /// request copied from a queue, which no client was answered for yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseEnvelope>,
    /// Timings.
    #[serde(default)]
    pub timings: CaptureTimings,
}

/// Why a capture file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file could not be opened or read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A line is not a capture record.
    #[error("{path}:{line}: not a capture record: {message}")]
    Malformed {
        /// The file.
        path: String,
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
}

impl CaptureRecord {
    /// Reads one line, checking the format's major version.
    pub fn decode(line: &str) -> Result<Self, String> {
        let record: CaptureRecord = serde_json::from_str(line).map_err(|e| e.to_string())?;
        match record.version.split('.').next() {
            Some("1") => Ok(record),
            _ => Err(format!(
                "unsupported record version {:?} (this build reads 1.x)",
                record.version
            )),
        }
    }

    /// The record as one line of JSON, without the newline.
    pub fn encode(&self) -> Vec<u8> {
        // Records hold strings, numbers and validated raw JSON only.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Every record of a capture file, in order; blank lines are skipped. A
/// malformed line is an error naming the file and the line, and reading
/// goes on past it. A last line without its newline that does not parse is
/// a record still being written (a gateway appends while this reads) and
/// is left out; one that parses is a record.
pub fn read_records(
    path: &Path,
) -> Result<impl Iterator<Item = Result<CaptureRecord, RecordError>>, RecordError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| RecordError::Io {
        path: name.clone(),
        source,
    })?;
    let mut reader = std::io::BufReader::new(file);
    let mut index = 0;
    Ok(std::iter::from_fn(move || {
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(source) => {
                    return Some(Err(RecordError::Io {
                        path: name.clone(),
                        source,
                    }));
                }
            }
            index += 1;
            let complete = line.last() == Some(&b'\n');
            let text = String::from_utf8_lossy(&line);
            if text.trim().is_empty() {
                continue;
            }
            let decoded = CaptureRecord::decode(text.trim_end_matches(['\n', '\r']));
            return match decoded {
                Ok(record) => Some(Ok(record)),
                Err(_) if !complete => None,
                Err(message) => Some(Err(RecordError::Malformed {
                    path: name.clone(),
                    line: index,
                    message,
                })),
            };
        }
    }))
}
