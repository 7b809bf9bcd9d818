//! Where a call's stdout and stderr go: a bounded buffer per stream, read
//! after the call for the log and for the panic message of a trap.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use funcmesh_core::bundle::Bundle;
use parking_lot::Mutex;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use super::instance::Outcome;

/// A capture buffer that keeps the first `capacity` bytes and drops the rest
/// without failing the guest's write (a chatty function must not trap).
#[derive(Clone)]
pub struct Capture {
    capacity: usize,
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl Capture {
    /// An empty capture of at most `capacity` bytes.
    pub fn new(capacity: usize) -> Capture {
        Capture {
            capacity,
            buffer: Arc::default(),
        }
    }

    fn append(&self, bytes: &[u8]) {
        let mut buffer = self.buffer.lock();
        let room = self.capacity.saturating_sub(buffer.len());
        buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// What was written, as text.
    pub fn text(&self) -> String {
        let buffer = self.buffer.lock();
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl OutputStream for Capture {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 << 10)
    }
}

impl AsyncWrite for Capture {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Logs what the guest printed, line by line, with the request id and the
/// bundle hash: stdout at INFO, stderr at WARN.
pub fn log_guest_output(bundle: &Bundle, request_id: &str, outcome: &Outcome) {
    if !bundle.manifest.wasi.log_output {
        return;
    }
    if let Some(stdout) = &outcome.stdout {
        for line in stdout.text().lines() {
            tracing::info!(request_id, bundle = %bundle.short_hash(), stream = "stdout", "{line}");
        }
    }
    for line in outcome.stderr.text().lines() {
        tracing::warn!(request_id, bundle = %bundle.short_hash(), stream = "stderr", "{line}");
    }
}

/// The message of a Rust panic in captured stderr: the lines after
/// `panicked at ...:` up to the `note:` line. Failing that, the last
/// non-empty line (e.g. `memory allocation of N bytes failed`).
pub fn panic_message(stderr: &str) -> Option<String> {
    const MAX: usize = 512;
    let message = match stderr.find("panicked at ") {
        Some(at) => {
            let after = &stderr[at..];
            let body = after.split_once('\n').map_or("", |(_, rest)| rest);
            body.lines()
                .take_while(|l| !l.starts_with("note:"))
                .collect::<Vec<_>>()
                .join("\n")
        }
        None => stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_owned(),
    };
    let message = message.trim();
    if message.is_empty() {
        return None;
    }
    let mut end = message.len().min(MAX);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    Some(message[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_the_first_bytes() {
        let capture = Capture::new(5);
        capture.append(b"hello, ");
        capture.append(b"world");
        assert_eq!(capture.text(), "hello");
    }

    #[test]
    fn panic_messages() {
        let rust = "\nthread '<unnamed>' panicked at src/lib.rs:12:5:\nboom: 42\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(panic_message(rust).as_deref(), Some("boom: 42"));
        let multi = "thread 'main' panicked at src/x.rs:1:1:\nline one\nline two\n";
        assert_eq!(panic_message(multi).as_deref(), Some("line one\nline two"));
        assert_eq!(
            panic_message("memory allocation of 64 bytes failed\n\n").as_deref(),
            Some("memory allocation of 64 bytes failed")
        );
        assert_eq!(panic_message(""), None);
        assert_eq!(
            panic_message(&"é".repeat(600)).map(|m| m.chars().count()),
            Some(256)
        );
    }
}
