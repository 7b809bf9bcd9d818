//! What can be wrong with an ABI buffer.

use std::fmt;

/// Why a buffer could not be encoded or decoded.
///
/// Written by hand rather than with `thiserror` so that func-sdk, which every
/// guest compiles, depends on serde alone.
#[derive(Debug)]
#[non_exhaustive]
pub enum AbiError {
    /// The buffer ends before the 4-byte meta length, or before the end of
    /// the meta that length announces.
    Truncated {
        /// How many bytes the buffer needed at least.
        needed: usize,
        /// How many bytes it had.
        len: usize,
    },
    /// The meta is not valid JSON of the expected shape, or could not be
    /// serialized.
    Json(serde_json::Error),
    /// The response status is outside 100..=599.
    StatusOutOfRange(i64),
    /// The encoded meta is longer than the `u32` length prefix can say.
    MetaTooLarge(usize),
}

impl fmt::Display for AbiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, len } => {
                write!(
                    f,
                    "ABI buffer truncated: {len} bytes, needed at least {needed}"
                )
            }
            Self::Json(error) => write!(f, "ABI meta is not valid JSON: {error}"),
            Self::StatusOutOfRange(status) => {
                write!(f, "response status {status} is outside 100..=599")
            }
            Self::MetaTooLarge(len) => write!(f, "ABI meta of {len} bytes exceeds u32::MAX"),
        }
    }
}

impl std::error::Error for AbiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Json(error) => Some(error),
            _ => None,
        }
    }
}
