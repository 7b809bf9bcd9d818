//! The bus consumer: one [`Runner`] per process serves one or more Func
//! queues.
//!
//! Each delivery is decoded, checked for expiry, answered (see `handle`)
//! and the answer published to `reply_to` (tried again until the request's
//! deadline while its gateway cannot take it); only then is the delivery
//! acknowledged, so a runner that dies mid-request leaves it to be
//! delivered again. A delivery that is not an envelope is dead-lettered.

mod api;
mod handle;
mod stats;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use funcmesh_bus::{Backoff, Bus, ConsumeOptions, Delivery, Message, now_ms};
use funcmesh_core::RequestEnvelope;
use funcmesh_core::bundle::Bundle;
use funcmesh_core::trace;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::wasm::{Executor, InstallError};

pub use api::Api;
pub use stats::{Failure, RunnerStats, StatsSnapshot};

/// How a runner works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerConfig {
    /// How many requests are worked on at once (also the prefetch).
    #[serde(default = "crate::wasm::default_concurrency")]
    pub concurrency: usize,
    /// Development mode: 502 answers carry the guest's panic message and
    /// other details that production keeps in the log.
    #[serde(default)]
    pub dev_mode: bool,
    /// The largest answer sent back, in bytes, its envelope included
    /// (default 6 MiB, the gateway's default request limit); a bigger one
    /// is answered 502 instead. The bus's own message limit, when it has
    /// one it can tell (NATS's `max_payload`, Kafka's), lowers it.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
}

const fn default_max_response_bytes() -> usize {
    6 << 20
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            concurrency: crate::wasm::default_concurrency(),
            dev_mode: false,
            max_response_bytes: default_max_response_bytes(),
        }
    }
}

/// Where a runner gets a bundle version it has not installed when a request
/// for it arrives: a runner in a cluster fetches it from the tron by hash.
pub trait BundleSource: Send + Sync + 'static {
    /// The bundle whose content hash is `hash`, verified.
    fn bundle(
        &self,
        hash: &str,
    ) -> Pin<Box<dyn Future<Output = Result<Arc<Bundle>, SourceError>> + Send + '_>>;
}

/// Why a [`BundleSource`] could not give a bundle.
pub type SourceError = Box<dyn std::error::Error + Send + Sync>;

/// Consumes Func queues and runs the requests on them. Cheap to clone.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

struct Inner {
    bus: Arc<dyn Bus>,
    executor: Arc<Executor>,
    config: RunnerConfig,
    stats: Arc<RunnerStats>,
    apis: RwLock<HashMap<String, Arc<Api>>>,
    source: OnceLock<Arc<dyn BundleSource>>,
    /// Held while a missing bundle is fetched and installed, so that the
    /// requests that find it missing together install it once.
    installing: tokio::sync::Mutex<()>,
}

impl Runner {
    /// A runner that takes requests from `bus` and runs them on `executor`.
    pub fn new(bus: Arc<dyn Bus>, executor: Arc<Executor>, config: RunnerConfig) -> Runner {
        let inner = Inner {
            bus,
            executor,
            config,
            stats: Arc::default(),
            apis: RwLock::default(),
            source: OnceLock::new(),
            installing: tokio::sync::Mutex::new(()),
        };
        Runner {
            inner: Arc::new(inner),
        }
    }

    /// Installs a bundle in the executor and compiles its routes.
    pub async fn install(&self, bundle: Arc<Bundle>) -> Result<(), InstallError> {
        self.inner.executor.install(Arc::clone(&bundle)).await?;
        self.inner.api(&bundle.hash);
        Ok(())
    }

    /// Fetches bundle versions that requests name and this runner lacks from
    /// `source` (once; later calls are ignored). Without a source such
    /// requests get 503.
    pub fn set_source(&self, source: Arc<dyn BundleSource>) {
        let _ = self.inner.source.set(source);
    }

    /// Installs bundle `hash` from the source unless it is installed
    /// already; whether it is installed now.
    pub async fn ensure(&self, hash: &str) -> bool {
        self.inner.api(hash).is_some() || self.inner.install_missing(hash).await.is_some()
    }

    /// Whether bundle `hash` is installed.
    pub fn has(&self, hash: &str) -> bool {
        self.inner.executor.bundle(hash).is_some()
    }

    /// Stops serving a bundle; requests for it get 503.
    pub fn retire(&self, hash: &str) {
        self.inner.apis.write().remove(hash);
        self.inner.executor.retire(hash);
    }

    /// The counters, read now.
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// The live counters, for a reporter that outlives this handle.
    pub fn stats_handle(&self) -> Arc<RunnerStats> {
        Arc::clone(&self.inner.stats)
    }

    /// Answers one request without the bus: match, validate, run.
    pub async fn handle(&self, envelope: &RequestEnvelope) -> funcmesh_core::ResponseEnvelope {
        self.inner.handle(envelope, now_ms()).await
    }

    /// Consumes `queue` until `shutdown` resolves or the bus closes, working
    /// on up to `concurrency` deliveries at once. On shutdown it stops taking
    /// deliveries and returns once those in flight are settled.
    pub async fn serve(
        &self,
        queue: &str,
        shutdown: impl Future<Output = ()>,
    ) -> funcmesh_bus::Result<()> {
        let concurrency = self.inner.config.concurrency.max(1);
        let prefetch = u16::try_from(concurrency).unwrap_or(u16::MAX);
        let mut consumer = self
            .inner
            .bus
            .consume(queue, ConsumeOptions { prefetch })
            .await?;
        tracing::info!(queue, concurrency, "runner serving");
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => report_panic(joined),
                next = consumer.next(), if tasks.len() < concurrency => match next {
                    Some(Ok(delivery)) => {
                        let inner = Arc::clone(&self.inner);
                        tasks.spawn(async move { inner.process(delivery).await });
                    }
                    Some(Err(error)) => {
                        tracing::warn!(queue, %error, "consuming failed; retrying");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    None => break,
                },
            }
        }
        drop(consumer);
        tracing::info!(queue, in_flight = tasks.len(), "runner draining");
        while let Some(joined) = tasks.join_next().await {
            report_panic(joined);
        }
        Ok(())
    }
}

fn report_panic(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined {
        // A bug: the delivery was dropped unsettled and will come again.
        tracing::error!(%error, "request task failed");
    }
}

impl Inner {
    /// The routes of bundle `hash`, compiled on first use.
    fn api(&self, hash: &str) -> Option<Arc<Api>> {
        if let Some(api) = self.apis.read().get(hash) {
            return Some(Arc::clone(api));
        }
        let api = Arc::new(Api::new(self.executor.bundle(hash)?, &self.stats));
        let mut apis = self.apis.write();
        Some(Arc::clone(apis.entry(hash.to_owned()).or_insert(api)))
    }

    /// Installs bundle `hash` from the source, if there is one and the
    /// bundle is not installed yet.
    async fn install_missing(&self, hash: &str) -> Option<Arc<Api>> {
        let source = self.source.get()?;
        let _one_at_a_time = self.installing.lock().await;
        if let Some(api) = self.api(hash) {
            return Some(api);
        }
        let bundle = match source.bundle(hash).await {
            Ok(bundle) => bundle,
            Err(error) => {
                tracing::warn!(bundle = %hash, %error, "bundle could not be fetched");
                return None;
            }
        };
        if let Err(error) = self.executor.install(bundle).await {
            tracing::warn!(bundle = %hash, %error, "bundle could not be installed");
            return None;
        }
        tracing::info!(bundle = %hash, "bundle fetched and installed on demand");
        self.api(hash)
    }

    async fn process(&self, delivery: Delivery) {
        let picked_up_ms = now_ms();
        let envelope = match RequestEnvelope::from_payload(delivery.payload().clone(), picked_up_ms)
        {
            Ok(envelope) => envelope,
            Err(error) => {
                tracing::warn!(%error, attempt = delivery.attempt, bytes = delivery.bytes().len(), "malformed envelope; dead-lettering");
                self.stats.malformed_envelope();
                return settle(delivery.nack(false).await);
            }
        };
        let bundle = envelope
            .bundle
            .as_deref()
            .map_or("", funcmesh_core::bundle::short_hash);
        let span = tracing::info_span!(
            "runner.delivery",
            request_id = %envelope.id,
            bundle,
            messaging.system = self.bus.system(),
            attempt = delivery.attempt,
        );
        trace::continue_after_queue(&span, trace::FUNC_QUEUE_WAIT, envelope.trace.as_ref());
        self.deliver(delivery, &envelope, picked_up_ms)
            .instrument(span)
            .await;
    }

    /// Answers a decoded delivery, publishes the answer, then settles.
    async fn deliver(&self, delivery: Delivery, envelope: &RequestEnvelope, picked_up_ms: u64) {
        if envelope.is_expired(picked_up_ms) {
            tracing::debug!("deadline passed before pick-up; skipped");
            self.stats.expired();
            return settle(delivery.ack().await);
        }
        let _in_flight = self.stats.started();
        let response = self.handle(envelope, picked_up_ms).await;
        let Some(reply_to) = &envelope.reply_to else {
            tracing::debug!(status = response.status, "fire-and-forget; result dropped");
            return settle(delivery.ack().await);
        };
        let message = self
            .within_limit(envelope, response)
            .expires_at_ms(envelope.deadline_ms);
        match self.reply(reply_to, message, envelope.deadline_ms).await {
            Ok(()) => settle(delivery.ack().await),
            Err(error @ funcmesh_bus::Error::Closed) => {
                tracing::warn!(reply_to = %reply_to, %error, "reply not published; request requeued");
                self.stats.publish_failed();
                settle(delivery.nack(true).await);
            }
            Err(error @ funcmesh_bus::Error::Refused(_)) => {
                // Refused for what it is: its client hears so now, not at
                // its deadline, and the slot is free at once.
                tracing::warn!(reply_to = %reply_to, %error, "the broker refused the answer; answering 502");
                self.stats.publish_failed();
                let refused = funcmesh_core::ResponseEnvelope::error(
                    &envelope.id,
                    502,
                    format!("the answer could not be sent back: {error}"),
                );
                let message = Message::new(refused.encode()).expires_at_ms(envelope.deadline_ms);
                if let Err(error) = self.bus.publish(reply_to, message).await {
                    tracing::warn!(reply_to = %reply_to, %error, "the 502 in its place was not taken either; dropped");
                }
                settle(delivery.ack().await);
            }
            Err(error) => {
                // Its gateway stopped waiting at the deadline (and answered
                // 504): running the request again would answer nobody.
                tracing::warn!(reply_to = %reply_to, %error, "reply not taken by the request's deadline; dropped");
                self.stats.publish_failed();
                settle(delivery.ack().await);
            }
        }
    }

    /// `response` as the message that carries it back, or a 502 in its
    /// place when it is larger than what may be sent back (the broker would
    /// refuse it, and the client would wait for nothing until its
    /// deadline). An answer that surely fits travels as itself, encoded
    /// only by a broker's bus; one that may not is encoded here to measure.
    fn within_limit(
        &self,
        envelope: &RequestEnvelope,
        response: funcmesh_core::ResponseEnvelope,
    ) -> Message {
        let limit = self.response_limit();
        if response.encoded_len_bound() <= limit {
            return Message::local(Arc::new(response));
        }
        let encoded = response.encode();
        if encoded.len() <= limit {
            return Message::new(encoded);
        }
        tracing::warn!(
            bytes = encoded.len(),
            limit,
            "answer too large to send back; answering 502"
        );
        // Counted beside the run's own outcome, already recorded.
        self.stats.failed(None, stats::Failure::ResponseTooLarge, 0);
        let mut refused = funcmesh_core::ResponseEnvelope::error(
            &envelope.id,
            502,
            format!(
                "the function's answer is {} bytes, more than the {limit} this mesh sends back",
                encoded.len()
            ),
        );
        refused.bundle = response.bundle;
        Message::new(refused.encode())
    }

    /// The largest answer sent back: the configured limit, lowered to the
    /// bus's message limit (less room for the envelope's fields).
    fn response_limit(&self) -> usize {
        let configured = self.config.max_response_bytes;
        match self.bus.max_message_bytes() {
            Some(bus) => configured.min(bus.saturating_sub(ENVELOPE_ROOM)),
            None => configured,
        }
    }

    /// Publishes the answer to `reply_to`, trying again while it cannot be
    /// taken (the gateway's queue missing, as while a gateway declares it
    /// again after a broker restart; full; or the broker unreachable)
    /// until the request's deadline, when its gateway stops waiting. The
    /// request is not run again for that: its answer is already here. An
    /// answer the broker refuses for what it is is not tried again.
    async fn reply(
        &self,
        reply_to: &str,
        message: Message,
        deadline_ms: u64,
    ) -> funcmesh_bus::Result<()> {
        let mut backoff = Backoff::up_to(REPLY_RETRY_MAX);
        loop {
            let error = match self.bus.publish(reply_to, message.clone()).await {
                Ok(()) => return Ok(()),
                Err(error @ (funcmesh_bus::Error::Closed | funcmesh_bus::Error::Refused(_))) => {
                    return Err(error);
                }
                Err(error) => error,
            };
            let left = deadline_ms.saturating_sub(now_ms());
            if left == 0 {
                return Err(error);
            }
            let delay = backoff.next_delay().min(Duration::from_millis(left));
            tracing::debug!(reply_to, %error, ?delay, "reply not taken; trying again");
            tokio::time::sleep(delay).await;
        }
    }
}

/// What a broker's message limit leaves for an answer's fields beside its
/// body (headers, id, timings), when the body is measured against it.
const ENVELOPE_ROOM: usize = 1024;

/// The longest wait between two tries of a reply.
const REPLY_RETRY_MAX: Duration = Duration::from_secs(1);

fn settle(result: funcmesh_bus::Result<()>) {
    if let Err(error) = result {
        tracing::warn!(%error, "settling the delivery failed");
    }
}

#[cfg(test)]
mod tests;
