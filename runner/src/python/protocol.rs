//! The frames between a runner and its Python worker processes, over the
//! worker's stdin and stdout: a 4-byte big-endian length and a JSON header,
//! then a 4-byte length and the raw body (empty for frames without one).
//! Bodies travel as bytes, never inside JSON.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest header accepted: headers carry request metadata and
/// tracebacks, never bodies.
const MAX_HEADER: usize = 16 << 20;
/// The largest body accepted either way.
const MAX_BODY: usize = 1 << 30;

/// What the runner sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    /// First frame: where the bundle is and what to import.
    Init {
        /// The bundle's short hash and name, for messages.
        bundle: String,
        /// The directory the bundle runs from (its own copy).
        dir: String,
        /// The `operationId`s (`module.function`) to resolve.
        operations: Vec<String>,
        /// The manifest's `[env]`, values filled in: set in `os.environ`
        /// before the bundle is imported, never in the process's own
        /// starting environment.
        #[serde(default)]
        env: BTreeMap<String, String>,
    },
    /// Calls an operation; the body follows.
    Call {
        /// The `operationId`.
        operation: String,
        /// The request metadata as JSON (`func_sdk::abi::RequestMeta`).
        meta: String,
        /// How long the call may run, in milliseconds.
        budget_ms: u64,
    },
}

/// What a worker answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    /// Every module imported and every function found.
    Ready {
        /// `sys.version` of the interpreter.
        python: String,
        /// How long the imports took.
        import_ms: u64,
    },
    /// The bundle cannot be served: an import failed or a function is
    /// missing. The worker exits after sending it.
    InitFailed {
        /// What went wrong, tracebacks included.
        message: String,
    },
    /// The function's response; the body follows.
    Response {
        /// The HTTP status.
        status: u16,
        /// Header pairs.
        headers: Vec<(String, String)>,
    },
    /// The function raised.
    Exception {
        /// The exception's type, e.g. `ValueError`.
        kind: String,
        /// `str()` of the exception.
        message: String,
        /// The formatted traceback.
        traceback: String,
    },
    /// The function was interrupted at its deadline.
    Timeout {
        /// Where it was stopped.
        traceback: String,
    },
}

fn too_large(what: &str, len: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{what} of {len} bytes is over the frame limit"),
    )
}

fn encode_header<T: Serialize>(header: &T) -> io::Result<Vec<u8>> {
    serde_json::to_vec(header).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn decode_header<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> io::Result<T> {
    serde_json::from_slice(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn length(len: usize, max: usize, what: &str) -> io::Result<[u8; 4]> {
    match u32::try_from(len) {
        Ok(n) if len <= max => Ok(n.to_be_bytes()),
        _ => Err(too_large(what, len)),
    }
}

/// One frame as bytes, ready to write in one call.
fn frame<T: Serialize>(header: &T, body: &[u8]) -> io::Result<Vec<u8>> {
    let header = encode_header(header)?;
    let mut out = Vec::with_capacity(8 + header.len() + body.len());
    out.extend_from_slice(&length(header.len(), MAX_HEADER, "header")?);
    out.extend_from_slice(&header);
    out.extend_from_slice(&length(body.len(), MAX_BODY, "body")?);
    out.extend_from_slice(body);
    Ok(out)
}

/// Writes a frame (blocking side: the worker).
pub fn write<T: Serialize>(out: &mut impl Write, header: &T, body: &[u8]) -> io::Result<()> {
    out.write_all(&frame(header, body)?)?;
    out.flush()
}

/// Reads a frame (blocking side); `None` at a clean end of input.
pub fn read<T: for<'de> Deserialize<'de>>(
    input: &mut impl Read,
) -> io::Result<Option<(T, Vec<u8>)>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let header = read_block(input, len, MAX_HEADER, "header")?;
    input.read_exact(&mut len)?;
    let body = read_block(input, len, MAX_BODY, "body")?;
    Ok(Some((decode_header(&header)?, body)))
}

fn read_block(input: &mut impl Read, len: [u8; 4], max: usize, what: &str) -> io::Result<Vec<u8>> {
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(too_large(what, len));
    }
    let mut block = vec![0; len];
    input.read_exact(&mut block)?;
    Ok(block)
}

/// Writes a frame (async side: the runner).
pub async fn write_async<T: Serialize>(
    out: &mut (impl AsyncWrite + Unpin),
    header: &T,
    body: &[u8],
) -> io::Result<()> {
    out.write_all(&frame(header, body)?).await?;
    out.flush().await
}

/// Reads a frame (async side); an end of input is an error here: the
/// runner always expects an answer.
pub async fn read_async<T: for<'de> Deserialize<'de>>(
    input: &mut (impl AsyncRead + Unpin),
) -> io::Result<(T, Vec<u8>)> {
    let header = read_block_async(input, MAX_HEADER, "header").await?;
    let body = read_block_async(input, MAX_BODY, "body").await?;
    Ok((decode_header(&header)?, body))
}

async fn read_block_async(
    input: &mut (impl AsyncRead + Unpin),
    max: usize,
    what: &str,
) -> io::Result<Vec<u8>> {
    let len = input.read_u32().await? as usize;
    if len > max {
        return Err(too_large(what, len));
    }
    let mut block = vec![0; len];
    input.read_exact(&mut block).await?;
    Ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_cross_between_the_blocking_and_async_sides() {
        let call = ToWorker::Call {
            operation: "pets.api.get".into(),
            meta: "{}".into(),
            budget_ms: 250,
        };
        let bytes = frame(&call, b"\x00body\xff").unwrap_or_default();
        let (back, body): (ToWorker, Vec<u8>) = read_async(&mut &bytes[..])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((back, body), (call, b"\x00body\xff".to_vec()));

        let mut out = Vec::new();
        let answer = FromWorker::Response {
            status: 201,
            headers: vec![("x-a".into(), "1".into())],
        };
        write(&mut out, &answer, b"").unwrap_or_else(|e| panic!("{e}"));
        let mut input = &out[..];
        let read_back = read::<FromWorker>(&mut input).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_back, Some((answer, Vec::new())));
        assert!(matches!(read::<FromWorker>(&mut input), Ok(None)));
    }

    #[tokio::test]
    async fn an_oversized_length_is_refused_before_allocating() {
        let bytes = u32::MAX.to_be_bytes();
        let error = read_async::<FromWorker>(&mut &bytes[..]).await.err();
        assert!(error.is_some_and(|e| e.to_string().contains("over the frame limit")));
    }
}
