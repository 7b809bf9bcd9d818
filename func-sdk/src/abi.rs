//! The guest ABI, version 1: the byte layout both the host runner and the
//! guest glue use, so that the two sides share one implementation.
//!
//! A Func module is a `wasm32-wasip1` reactor that exports [`MEMORY_EXPORT`],
//! [`ALLOC_EXPORT`], [`VERSION_EXPORT`] and one `(ptr: i32, len: i32) -> i64`
//! function per operation, named by its `operationId`. For each request the
//! host instantiates the module, calls [`INITIALIZE_EXPORT`] if present,
//! asks `funcmesh_alloc(len)` for an input buffer, writes the bytes made by
//! [`encode_input`] there and calls the operation, which answers
//! [`pack_ptr_len`]`(out_ptr, out_len)` of a buffer made by
//! [`encode_output`]. Nothing is freed: the instance is dropped afterwards.
//!
//! Both buffers are a `u32` little-endian meta length, that many bytes of
//! JSON meta, then the raw body (the rest of the buffer).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod error;
#[cfg(test)]
mod tests;

pub use error::AbiError;

/// The value `funcmesh_abi_version` returns for this layout.
pub const ABI_VERSION: i32 = 1;
/// The exported linear memory.
pub const MEMORY_EXPORT: &str = "memory";
/// `funcmesh_alloc(len: i32) -> i32`: a pointer to `len` writable bytes.
pub const ALLOC_EXPORT: &str = "funcmesh_alloc";
/// `funcmesh_abi_version() -> i32`: returns [`ABI_VERSION`].
pub const VERSION_EXPORT: &str = "funcmesh_abi_version";
/// The WASI reactor initializer, called first when the module exports it.
pub const INITIALIZE_EXPORT: &str = "_initialize";

/// What the guest learns about a request besides its body.
///
/// Unknown fields are ignored when decoding so that a newer host can add
/// fields without breaking older guests; that is why this wire type does not
/// deny unknown fields as configuration types do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestMeta {
    /// The request id that every log line about this request carries.
    pub request_id: String,
    /// The `operationId` of the matched operation.
    pub operation_id: String,
    /// The HTTP method, upper case (`GET`).
    pub method: String,
    /// The full request path as the client sent it, basePath included,
    /// without the query string.
    pub path: String,
    /// The bundle's basePath (OpenAPI 3: the `servers[].url` path).
    #[serde(default)]
    pub base_path: String,
    /// Path template parameters, percent-decoded (`petId` → `7`).
    #[serde(default)]
    pub path_params: BTreeMap<String, String>,
    /// Query pairs in order, percent-decoded, repeats kept.
    #[serde(default)]
    pub query: Vec<(String, String)>,
    /// Header pairs in order, names lower case, repeats kept.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

/// What the guest answers besides the response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseMeta {
    /// The HTTP status; [`decode_output`] accepts 100..=599 only.
    pub status: u16,
    /// Header pairs in order, repeats kept.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

/// The response meta as it may arrive from an untrusted guest: the status
/// is read wide so that an out-of-range value gets its own error.
#[derive(Deserialize)]
struct WireResponseMeta {
    status: i64,
    #[serde(default)]
    headers: Vec<(String, String)>,
}

/// Encodes a request for the guest into a new buffer.
pub fn encode_input(meta: &RequestMeta, body: &[u8]) -> Result<Vec<u8>, AbiError> {
    let mut out = Vec::new();
    write_input(meta, body, &mut out)?;
    Ok(out)
}

/// Appends an encoded request to `out`, so that a host can reuse one buffer.
/// On error `out` is left as it was.
pub fn write_input(meta: &RequestMeta, body: &[u8], out: &mut Vec<u8>) -> Result<(), AbiError> {
    // One reservation for the usual case: the meta is mostly its strings.
    let strings: usize = meta
        .headers
        .iter()
        .chain(&meta.query)
        .map(|(k, v)| k.len() + v.len() + 6)
        .sum();
    out.reserve(4 + 128 + strings + meta.path.len() * 2 + body.len());
    write_framed(meta, body, out)
}

/// Decodes a request buffer (the guest side), borrowing the body.
pub fn decode_input(buf: &[u8]) -> Result<(RequestMeta, &[u8]), AbiError> {
    let (meta, body) = split_frame(buf)?;
    Ok((serde_json::from_slice(meta).map_err(AbiError::Json)?, body))
}

/// Encodes a response for the host into a new buffer (the guest side).
pub fn encode_output(meta: &ResponseMeta, body: &[u8]) -> Result<Vec<u8>, AbiError> {
    let mut out = Vec::with_capacity(4 + 32 + meta.headers.len() * 48 + body.len());
    write_framed(meta, body, &mut out)?;
    Ok(out)
}

/// Decodes a response buffer read from guest memory, borrowing the body.
/// The guest is untrusted: every length is checked and the status must be
/// in 100..=599.
pub fn decode_output(buf: &[u8]) -> Result<(ResponseMeta, &[u8]), AbiError> {
    let (meta, body) = split_frame(buf)?;
    let wire: WireResponseMeta = serde_json::from_slice(meta).map_err(AbiError::Json)?;
    let status = u16::try_from(wire.status)
        .ok()
        .filter(|s| (100..=599).contains(s))
        .ok_or(AbiError::StatusOutOfRange(wire.status))?;
    Ok((
        ResponseMeta {
            status,
            headers: wire.headers,
        },
        body,
    ))
}

/// The first value of header `name` in a meta's header list, the name
/// compared case-insensitively. Both sides of the ABI look headers up this way.
pub fn first_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Packs an output buffer address the way operations return it:
/// `(ptr << 32) | len`.
pub const fn pack_ptr_len(ptr: u32, len: u32) -> i64 {
    (((ptr as u64) << 32) | len as u64) as i64
}

/// Splits an operation's return value into `(ptr, len)`.
pub const fn unpack_ptr_len(packed: i64) -> (u32, u32) {
    let bits = packed as u64;
    ((bits >> 32) as u32, bits as u32)
}

/// Writes `len | json(meta) | body`, patching the length in afterwards so
/// the meta is serialized straight into `out`.
fn write_framed<M: Serialize>(meta: &M, body: &[u8], out: &mut Vec<u8>) -> Result<(), AbiError> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    let meta_len = match serde_json::to_writer(&mut *out, meta) {
        Ok(()) => out.len() - start - 4,
        Err(error) => {
            out.truncate(start);
            return Err(AbiError::Json(error));
        }
    };
    let Ok(prefix) = u32::try_from(meta_len) else {
        out.truncate(start);
        return Err(AbiError::MetaTooLarge(meta_len));
    };
    out[start..start + 4].copy_from_slice(&prefix.to_le_bytes());
    out.extend_from_slice(body);
    Ok(())
}

/// Splits a framed buffer into its meta JSON and its body.
fn split_frame(buf: &[u8]) -> Result<(&[u8], &[u8]), AbiError> {
    let truncated = |needed| AbiError::Truncated {
        needed,
        len: buf.len(),
    };
    let (prefix, rest) = buf.split_first_chunk::<4>().ok_or(truncated(4))?;
    let meta_len = u32::from_le_bytes(*prefix) as usize;
    if rest.len() < meta_len {
        return Err(truncated(meta_len.saturating_add(4)));
    }
    Ok(rest.split_at(meta_len))
}
