//! Helpers for the tests against a real nats-server (with JetStream) on
//! 127.0.0.1:4222. The server is shared: nothing here stops or restarts it.
//! Connection losses are made by a proxy between the bus and the server.

#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is a failed test

#[path = "deliveries.rs"]
mod deliveries;
#[path = "taps.rs"]
mod taps;

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use funcmesh_bus::{Bus, Consumer, Delivery};
use futures::StreamExt;
use tokio::task::AbortHandle;

pub use deliveries::*;
pub use taps::*;

pub const SERVER: &str = "127.0.0.1:4222";

/// Whether a server answers; prints why the test is skipped when not.
pub fn server_up() -> bool {
    let addr: SocketAddr = SERVER.parse().unwrap();
    let up = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok();
    if !up {
        eprintln!(
            "SKIPPED: no nats-server answers on {SERVER} (start one with JetStream: nats-server -a 127.0.0.1 -p 4222 -js)"
        );
    }
    up
}

pub fn url(ns: &str) -> String {
    format!("nats://{SERVER}?namespace={ns}")
}

/// A connected bus in a namespace of its own, or `None` (and a message)
/// when no server answers.
pub async fn setup() -> Option<(String, Arc<dyn Bus>)> {
    if !server_up() {
        return None;
    }
    let ns = namespace();
    let bus = bus(&ns).await;
    Some((ns, bus))
}

/// A connected bus in namespace `ns`.
pub async fn bus(ns: &str) -> Arc<dyn Bus> {
    connected(&url(ns)).await
}

/// The next delivery, failing the test after 5 s.
pub async fn next(consumer: &mut Consumer) -> Delivery {
    next_within(consumer, Duration::from_secs(5)).await
}

/// Deletes the streams of namespace `ns` from the shared server, and those
/// of earlier test runs whose process is gone (a test that failed before
/// its cleanup).
pub async fn cleanup(ns: &str) {
    let client = async_nats::connect(SERVER).await.unwrap();
    let js = jetstream::new(client.clone());
    let mut streams = js.streams();
    let mut doomed = Vec::new();
    while let Some(info) = streams.next().await {
        let info = info.unwrap();
        let Some(subject) = info.config.subjects.first() else {
            continue;
        };
        let Some((owner, _)) = subject.split_once(".funcmesh.") else {
            continue;
        };
        if owner == ns || stale_test_namespace(owner) {
            doomed.push(info.config.name.clone());
        }
    }
    for name in doomed {
        // Another run may be deleting the same stale stream.
        let _ = js.delete_stream(&name).await;
    }
    client.flush().await.unwrap();
}

/// Whether `ns` is a namespace of this helper (`t<pid>-<8 hex>`) whose
/// process no longer runs.
fn stale_test_namespace(ns: &str) -> bool {
    let Some((pid, suffix)) = ns.strip_prefix('t').and_then(|rest| rest.split_once('-')) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    suffix.len() == 8
        && suffix.chars().all(|c| c.is_ascii_hexdigit())
        && pid != std::process::id()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// How many streams namespace `ns` has on the server.
pub async fn streams_of(ns: &str) -> usize {
    let client = async_nats::connect(SERVER).await.unwrap();
    let js = jetstream::new(client);
    let mut streams = js.streams();
    let mut count = 0;
    while let Some(info) = streams.next().await {
        let info = info.unwrap();
        if info
            .config
            .subjects
            .iter()
            .any(|s| s.starts_with(&format!("{ns}.funcmesh.")))
        {
            count += 1;
        }
    }
    count
}

/// A TCP proxy in front of the shared server, to lose connections without
/// touching the server.
pub struct Proxy {
    addr: SocketAddr,
    pipes: Arc<Mutex<Vec<AbortHandle>>>,
    refusing: Arc<AtomicBool>,
    accept: AbortHandle,
}

impl Proxy {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let pipes: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let refusing = Arc::new(AtomicBool::new(false));
        let accept = tokio::spawn({
            let pipes = Arc::clone(&pipes);
            let refusing = Arc::clone(&refusing);
            async move {
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        return;
                    };
                    if refusing.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let pipe = tokio::spawn(async move {
                        let Ok(mut outbound) = tokio::net::TcpStream::connect(SERVER).await else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    });
                    let mut pipes = pipes.lock().unwrap();
                    pipes.retain(|pipe| !pipe.is_finished());
                    pipes.push(pipe.abort_handle());
                }
            }
        })
        .abort_handle();
        Self {
            addr,
            pipes,
            refusing,
            accept,
        }
    }

    pub fn url(&self, ns: &str) -> String {
        format!("nats://{}?namespace={ns}", self.addr)
    }

    /// Closes every connection through the proxy; returns how many.
    pub fn cut(&self) -> usize {
        let mut pipes = self.pipes.lock().unwrap();
        let live = pipes.iter().filter(|pipe| !pipe.is_finished()).count();
        for pipe in pipes.drain(..) {
            pipe.abort();
        }
        live
    }

    /// While set, new connections are closed at once: the server looks down.
    pub fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// Records the level and message of every event from funcmesh_bus.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<(tracing::Level, String)>>>);

impl LogCapture {
    /// The messages logged at `level` so far.
    pub fn at(&self, level: tracing::Level) -> Vec<String> {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, m)| m.clone())
            .collect()
    }
}

impl tracing::Subscriber for LogCapture {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target().starts_with("funcmesh_bus")
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let level = *event.metadata().level();
        self.0.lock().unwrap().push((level, message.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
