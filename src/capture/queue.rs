//! Requests copied from a Func's queue on a broker into a capture file.
//!
//! `funcmesh capture --from-queue FUNC` finds FUNC's queue in the routing
//! table the trons announce (or takes a queue name, `funcmesh.func.…`, as it
//! is), starts a [`Bus::tap`] on it, and writes each request envelope that
//! flows through as one [`CaptureRecord`] line (`source: "queue"`, no
//! response). A tap takes nothing from the runners: they answer every
//! request as before. Headers on the redaction list are masked before
//! anything is written; a message that is not a request envelope is
//! counted and skipped.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use funcmesh_bus::{Bus, Consumer, now_ms};
use funcmesh_core::capture::record::RECORD_VERSION;
use funcmesh_core::capture::{CaptureRecord, CaptureTimings, Redaction};
use funcmesh_core::envelope::RequestEnvelope;
use funcmesh_core::queues::FUNC_QUEUE_PREFIX;
use funcmesh_core::routing::Route;
use tokio::io::AsyncWriteExt as _;

use funcmesh_core::control;

/// How long a queue name waits for a table that names its Func: not long,
/// as the copies start only after it.
const NAME_WAIT: Duration = Duration::from_secs(2);

/// The Func and queue a capture reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The Func's name, written as each record's `route`.
    pub route: String,
    /// Its queue on the broker.
    pub queue: String,
}

/// Finds `func` in the routing table the trons announce, waiting up to
/// `wait` for one. A queue name (`funcmesh.func.…`) is taken as it is; its
/// Func's name comes from the table when one is announced within 2 s, and
/// is the queue's name otherwise.
pub async fn resolve(bus: Arc<dyn Bus>, func: &str, wait: Duration) -> anyhow::Result<Target> {
    let raw_queue = func.starts_with(FUNC_QUEUE_PREFIX);
    let wait = if raw_queue { wait.min(NAME_WAIT) } else { wait };
    let mut routes = control::follow::follow(bus, "capture", &control::new_id()).await?;
    let announced = tokio::time::timeout(wait, routes.wait_for(Option::is_some)).await;
    let table = match announced {
        Ok(Ok(table)) => table.clone(),
        _ if raw_queue => None,
        _ => anyhow::bail!(
            "no tron announced its routes within {} s, so Func {func} cannot be found \
             (is a tron running on this bus and namespace? a queue name, {FUNC_QUEUE_PREFIX}…, needs no tron)",
            wait.as_secs()
        ),
    };
    let routes: &[Route] = table.as_ref().map_or(&[], |t| &t.table.routes);
    find(routes, func).with_context(|| {
        let mut names: Vec<&str> = routes.iter().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        format!(
            "no Func named {func} in the announced routes (known: {})",
            names.join(", ")
        )
    })
}

/// `func` among `routes`: by name, or by queue for a queue name.
fn find(routes: &[Route], func: &str) -> Option<Target> {
    let target = |route: &Route| Target {
        route: route.name.clone(),
        queue: route.queue.clone(),
    };
    if func.starts_with(FUNC_QUEUE_PREFIX) {
        let found = routes.iter().find(|r| r.queue == func).map(target);
        return Some(found.unwrap_or_else(|| Target {
            route: func.to_owned(),
            queue: func.to_owned(),
        }));
    }
    routes.iter().find(|r| r.name == func).map(target)
}

/// When a capture stops, besides a signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// After this many records.
    pub count: Option<u64>,
    /// After this long.
    pub duration: Option<Duration>,
}

/// What a capture did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Captured {
    /// Records written.
    pub records: u64,
    /// Messages skipped because they are not request envelopes.
    pub skipped: u64,
}

/// A tap on a Func's queue, writing to a capture file.
#[derive(Debug)]
pub struct QueueCapture {
    target: Target,
    tap: Consumer,
    out: PathBuf,
    redaction: Redaction,
}

impl QueueCapture {
    /// Starts the tap on `target`'s queue: every request published from now
    /// on is copied. Nothing is written until [`run`](Self::run).
    pub async fn start(
        bus: &dyn Bus,
        target: Target,
        out: &Path,
        redaction: Redaction,
    ) -> anyhow::Result<Self> {
        let tap = bus
            .tap(&target.queue)
            .await
            .with_context(|| format!("tapping queue {} of Func {}", target.queue, target.route))?;
        Ok(Self {
            target,
            tap,
            out: out.to_owned(),
            redaction,
        })
    }

    /// The Func and queue tapped.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Writes the copies to the file (created, or emptied) until `limits`
    /// are reached, `stop` resolves or the bus closes. Every record is
    /// flushed as it is written.
    pub async fn run(
        mut self,
        limits: Limits,
        stop: impl Future<Output = ()>,
    ) -> anyhow::Result<Captured> {
        let mut file = tokio::fs::File::create(&self.out)
            .await
            .with_context(|| format!("creating {}", self.out.display()))?;
        let mut captured = Captured::default();
        let deadline = limits.duration.map(|d| tokio::time::Instant::now() + d);
        let past_deadline = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(stop, past_deadline);
        while limits.count.is_none_or(|n| captured.records < n) {
            let delivery = tokio::select! {
                () = &mut stop => break,
                () = &mut past_deadline => break,
                next = self.tap.next() => match next {
                    Some(Ok(delivery)) => delivery,
                    Some(Err(error)) => {
                        tracing::warn!(queue = %self.target.queue, %error, "tap failed; going on");
                        continue;
                    }
                    None => {
                        tracing::warn!(queue = %self.target.queue, "the bus closed; capture ends");
                        break;
                    }
                },
            };
            let Some(record) = self.record(&delivery.bytes()) else {
                captured.skipped += 1;
                continue;
            };
            let mut line = record.encode();
            line.push(b'\n');
            file.write_all(&line)
                .await
                .with_context(|| format!("writing {}", self.out.display()))?;
            file.flush()
                .await
                .with_context(|| format!("writing {}", self.out.display()))?;
            captured.records += 1;
        }
        file.sync_data()
            .await
            .with_context(|| format!("writing {}", self.out.display()))?;
        Ok(captured)
    }

    /// The record of one copied message; `None` (and a warning) for a
    /// message that is not a request envelope.
    fn record(&self, body: &[u8]) -> Option<CaptureRecord> {
        let mut request = match RequestEnvelope::decode(body) {
            Ok(request) => request,
            Err(error) => {
                tracing::warn!(queue = %self.target.queue, %error, "not a request envelope; skipped");
                return None;
            }
        };
        self.redaction.apply(&mut request.headers);
        Some(CaptureRecord {
            version: RECORD_VERSION.to_owned(),
            captured_at_ms: now_ms(),
            route: self.target.route.clone(),
            bundle: request.bundle.clone(),
            source: "queue".to_owned(),
            request,
            response: None,
            timings: CaptureTimings::default(),
        })
    }
}

#[cfg(test)]
mod tests;
