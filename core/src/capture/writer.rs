//! The capture writer: a thread of its own, a bounded hand-over, files
//! rotated by size.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;

use aho_corasick::AhoCorasick;
use serde_json::value::RawValue;

use super::record::{CaptureTimings, RECORD_VERSION};
use super::redact::Redaction;
use crate::envelope::{Body, RequestEnvelope, ResponseEnvelope};

/// A [`CaptureRecord`](super::CaptureRecord) as the writer serializes it: the request may stay the
/// JSON it was published as.
#[derive(Serialize)]
struct RecordOut<'a> {
    version: &'static str,
    captured_at_ms: u64,
    route: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    bundle: Option<&'a str>,
    source: &'a str,
    request: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<&'a ResponseEnvelope>,
    timings: CaptureTimings,
}

/// How often buffered lines reach the files while traffic flows.
const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// How long the writer rests between batches while traffic flows; at
/// 100,000 exchanges a second that is 500 waiting, well within the queue.
const BATCH_PAUSE: Duration = Duration::from_millis(5);

/// Where and how a writer writes.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// The directory of capture files; one file per Func, `NAME.jsonl`.
    pub dir: PathBuf,
    /// A file is rotated (`NAME.jsonl` → `NAME.1.jsonl` …) before it
    /// grows past this many bytes.
    pub max_file_bytes: u64,
    /// Files kept per Func, the one being written included; the oldest
    /// goes first.
    pub max_files: usize,
    /// Exchanges that may wait for the writer; beyond that they are dropped
    /// and counted, never waited for.
    pub queue: usize,
    /// The headers masked in requests and answers.
    pub redaction: Redaction,
}

impl WriterConfig {
    /// Defaults (64 MiB files, 10 kept, 16,384 waiting) for `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            max_file_bytes: 64 * 1024 * 1024,
            max_files: 10,
            queue: 16_384,
            redaction: Redaction::default(),
        }
    }
}

/// The request of an exchange: as the gateway published it (decoded off the
/// request path, by the writer) or already decoded.
#[derive(Debug, Clone)]
pub enum ExchangeRequest {
    /// The encoded envelope, as published.
    Encoded(Bytes),
    /// The envelope.
    Envelope(Box<RequestEnvelope>),
}

/// One exchange handed to the writer.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The Func's name; it names the file.
    pub route: String,
    /// The bundle hash that answered.
    pub bundle: Option<String>,
    /// `gateway` or `queue`.
    pub source: &'static str,
    /// The request.
    pub request: ExchangeRequest,
    /// The answer the client got, if any. A [`Body::Binary`] body is
    /// re-encoded by the writer from its `content-type` (JSON or text when
    /// it says so), so that the request path hands over bytes as they are.
    pub response: Option<ResponseEnvelope>,
    /// Timings.
    pub timings: CaptureTimings,
    /// When the exchange ended, in milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// A writer's counters since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CaptureStats {
    /// Records written.
    pub written: u64,
    /// Exchanges dropped because the writer was behind.
    pub dropped: u64,
    /// Exchanges lost to an error (a file that cannot be written, a request
    /// that cannot be decoded).
    pub failed: u64,
    /// Files rotated.
    pub rotations: u64,
}

#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    rotations: AtomicU64,
}

enum Command {
    Write(Box<Exchange>),
    Flush(SyncSender<()>),
}

/// Writes exchanges as JSON lines on a thread of its own. Dropping it writes
/// out what was handed over and waits for the thread.
#[derive(Debug)]
pub struct CaptureWriter {
    tx: Option<SyncSender<Command>>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
    dir: PathBuf,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Write(_) => "Write",
            Command::Flush(_) => "Flush",
        })
    }
}

impl CaptureWriter {
    /// Creates the directory and starts the writer's thread.
    pub fn start(config: WriterConfig) -> io::Result<Self> {
        fs::create_dir_all(&config.dir)?;
        let (tx, rx) = mpsc::sync_channel(config.queue.max(1));
        let counters = Arc::new(Counters::default());
        let dir = config.dir.clone();
        let files = Files {
            matcher: config.redaction.matcher(),
            config,
            open: HashMap::new(),
            counters: Arc::clone(&counters),
        };
        let thread = std::thread::Builder::new()
            .name("capture-writer".into())
            .spawn(move || files.run(rx))?;
        Ok(Self {
            tx: Some(tx),
            counters,
            thread: Some(thread),
            dir,
        })
    }

    /// The directory written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Hands `exchange` over without waiting; counts it as dropped when the
    /// writer is behind.
    pub fn offer(&self, exchange: Exchange) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(Command::Write(Box::new(exchange))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Writes out everything handed over before this call and waits for it.
    pub fn flush(&self) {
        let Some(tx) = &self.tx else { return };
        let (done, wait) = mpsc::sync_channel(1);
        if tx.send(Command::Flush(done)).is_ok() {
            let _ = wait.recv();
        }
    }

    /// The counters now.
    pub fn stats(&self) -> CaptureStats {
        let c = &self.counters;
        CaptureStats {
            written: c.written.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            rotations: c.rotations.load(Ordering::Relaxed),
        }
    }
}

impl Drop for CaptureWriter {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct OpenFile {
    out: BufWriter<File>,
    bytes: u64,
    dirty: bool,
}

struct Files {
    config: WriterConfig,
    /// Finds the masked names in an encoded envelope.
    matcher: Option<AhoCorasick>,
    open: HashMap<String, OpenFile>,
    counters: Arc<Counters>,
}

impl Files {
    fn run(mut self, rx: Receiver<Command>) {
        let mut flushed = Instant::now();
        loop {
            if flushed.elapsed() >= FLUSH_EVERY {
                self.flush_all();
                flushed = Instant::now();
            }
            match rx.recv_timeout(FLUSH_EVERY) {
                Ok(command) => self.handle(command),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            }
            // Traffic: take what waits, then pause. Senders find nobody
            // blocked on the channel, so handing over costs them no wake-up
            // of this thread (a system call and a context switch each).
            loop {
                match rx.try_recv() {
                    Ok(command) => self.handle(command),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.flush_all();
                        return;
                    }
                }
            }
            std::thread::sleep(BATCH_PAUSE);
        }
        self.flush_all();
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Write(exchange) => self.write(*exchange),
            Command::Flush(done) => {
                self.flush_all();
                let _ = done.send(());
            }
        }
    }

    fn write(&mut self, exchange: Exchange) {
        let name = file_stem(&exchange.route);
        let Some(mut line) = self.line(exchange) else {
            self.failed();
            return;
        };
        line.push(b'\n');
        if let Err(error) = self.append(&name, &line) {
            tracing::warn!(%error, dir = %self.config.dir.display(), file = %name, "capture record not written");
            self.open.remove(&name);
            self.failed();
            return;
        }
        self.counters.written.fetch_add(1, Ordering::Relaxed);
    }

    fn failed(&self) {
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// The record for `exchange`, redacted and encoded.
    fn line(&self, exchange: Exchange) -> Option<Vec<u8>> {
        let redaction = &self.config.redaction;
        let request = self.request(&exchange.request, &exchange.route)?;
        let mut response = exchange.response;
        if let Some(response) = &mut response {
            redaction.apply(&mut response.headers);
            if let Body::Binary(bytes) = &response.body {
                let content_type = response
                    .headers
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
                    .map(|(_, value)| value.as_str());
                response.body = Body::from_bytes(bytes.clone(), content_type);
            }
        }
        let record = RecordOut {
            version: RECORD_VERSION,
            captured_at_ms: exchange.at_ms,
            route: &exchange.route,
            bundle: exchange.bundle.as_deref(),
            source: exchange.source,
            request: &request,
            response: response.as_ref(),
            timings: exchange.timings,
        };
        // Strings, numbers and validated raw JSON only: this cannot fail.
        serde_json::to_vec(&record).ok()
    }

    /// The request as JSON with masked headers. The envelope the gateway
    /// published is copied as it is (borrowed, not even re-allocated) when
    /// no masked header can be in it, which is the common case and saves
    /// decoding and encoding it again.
    fn request<'a>(&self, request: &'a ExchangeRequest, route: &str) -> Option<Cow<'a, RawValue>> {
        let redaction = &self.config.redaction;
        let mut envelope = match request {
            ExchangeRequest::Envelope(envelope) => (**envelope).clone(),
            ExchangeRequest::Encoded(bytes) => {
                let masked = self.matcher.as_ref().is_none_or(|m| m.is_match(&bytes[..]));
                if !masked && let Ok(raw) = serde_json::from_slice::<&RawValue>(bytes) {
                    return Some(Cow::Borrowed(raw));
                }
                match RequestEnvelope::decode(bytes) {
                    Ok(envelope) => envelope,
                    Err(error) => {
                        tracing::warn!(%error, route, "captured request not decodable; dropped");
                        return None;
                    }
                }
            }
        };
        redaction.apply(&mut envelope.headers);
        serde_json::value::to_raw_value(&envelope)
            .ok()
            .map(Cow::Owned)
    }

    fn append(&mut self, name: &str, line: &[u8]) -> io::Result<()> {
        let limit = self.config.max_file_bytes;
        let full = self
            .open
            .get(name)
            .is_some_and(|f| f.bytes > 0 && f.bytes + line.len() as u64 > limit);
        if full {
            self.rotate(name)?;
        }
        let file = match self.open.entry(name.to_owned()) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let path = self.config.dir.join(format!("{name}.jsonl"));
                let file = OpenOptions::new().create(true).append(true).open(&path)?;
                let bytes = file.metadata()?.len();
                entry.insert(OpenFile {
                    out: BufWriter::with_capacity(64 * 1024, file),
                    bytes,
                    dirty: false,
                })
            }
        };
        file.out.write_all(line)?;
        file.bytes += line.len() as u64;
        file.dirty = true;
        Ok(())
    }

    /// `NAME.jsonl` becomes `NAME.1.jsonl`, each older file moves up one,
    /// and the oldest beyond `max_files` goes.
    fn rotate(&mut self, name: &str) -> io::Result<()> {
        if let Some(mut file) = self.open.remove(name) {
            file.out.flush()?;
        }
        let dir = &self.config.dir;
        let numbered = |n: usize| dir.join(format!("{name}.{n}.jsonl"));
        let keep = self.config.max_files.max(1);
        let current = dir.join(format!("{name}.jsonl"));
        if keep == 1 {
            remove_if_present(&current)?;
        } else {
            remove_if_present(&numbered(keep - 1))?;
            for n in (1..keep - 1).rev() {
                rename_if_present(&numbered(n), &numbered(n + 1))?;
            }
            rename_if_present(&current, &numbered(1))?;
        }
        self.counters.rotations.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn flush_all(&mut self) {
        let mut broken = Vec::new();
        for (name, file) in &mut self.open {
            if file.dirty {
                match file.out.flush() {
                    Ok(()) => file.dirty = false,
                    Err(error) => {
                        tracing::warn!(%error, file = %name, "capture file not flushed");
                        broken.push(name.clone());
                    }
                }
            }
        }
        for name in broken {
            self.open.remove(&name);
        }
    }
}

/// A Func's name as a file name: letters, digits, `-`, `_` and `.` kept,
/// anything else `_`.
fn file_stem(route: &str) -> String {
    let stem: String = route
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .collect();
    match stem.trim_start_matches('.') {
        "" => "_".to_owned(),
        trimmed => trimmed.to_owned(),
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

fn rename_if_present(from: &Path, to: &Path) -> io::Result<()> {
    match fs::rename(from, to) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

#[cfg(test)]
pub(super) fn stem_for_tests(route: &str) -> String {
    file_stem(route)
}
