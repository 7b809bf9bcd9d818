//! One test's run: a namespace of its own, a connected bus, and the
//! clean-up of what the namespace left on the broker.

use std::sync::Arc;
use std::time::Duration;

use funcmesh_bus::{Bus, Consumer, Delivery, QueueDepth};

use super::Backend;
use crate::common::brokers;
use crate::common::proxy::Proxy;
use crate::common::{self, next_within};

/// One test's run on a backend: a namespace of its own and a connected bus.
pub struct Run<B: Backend> {
    /// The namespace.
    pub ns: String,
    /// The bus, connected.
    pub bus: Arc<dyn Bus>,
    /// The proxy in front of the broker, when the run asked for one.
    pub proxy: Option<Proxy>,
    finished: bool,
    backend: std::marker::PhantomData<B>,
}

impl<B: Backend> Drop for Run<B> {
    /// A test that failed before [`Run::finish`] still cleans up, on a
    /// thread and runtime of its own (this one may be unwinding).
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let ns = self.ns.clone();
        let cleaning = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(B::cleanup(&ns));
        });
        let _ = cleaning.join();
    }
}

impl<B: Backend> Run<B> {
    /// A run on a fresh namespace, or `None` when the broker is missing
    /// and the test is skipped (see [`brokers::available`]).
    pub async fn start() -> Option<Self> {
        Self::starting(false).await
    }

    /// As [`start`](Self::start), with the bus talking to its broker
    /// through a [`Proxy`] so that it can lose its connection.
    pub async fn through_proxy() -> Option<Self> {
        Self::starting(true).await
    }

    async fn starting(proxied: bool) -> Option<Self> {
        if !Self::available() {
            return None;
        }
        let ns = common::namespace();
        let proxy = match (proxied, B::BROKER) {
            (true, Some(broker)) => Some(Proxy::start(broker.addr).await),
            _ => None,
        };
        let addr = proxy
            .as_ref()
            .map(Proxy::addr)
            .or_else(|| B::BROKER.map(|broker| broker.addr.to_owned()))
            .unwrap_or_default();
        let bus = common::connected(&B::url(&addr, &ns)).await;
        Some(Self {
            ns,
            bus,
            proxy,
            finished: false,
            backend: std::marker::PhantomData,
        })
    }

    /// Whether the backend can run now (see [`brokers::available`]).
    pub fn available() -> bool {
        B::BROKER.is_none_or(|broker| brokers::available(&broker))
    }

    /// The URL of a bus in this run's namespace.
    pub fn url(&self) -> String {
        Self::url_in(&self.ns)
    }

    /// The URL of a bus in namespace `ns`, straight to the broker.
    pub fn url_in(ns: &str) -> String {
        let addr = B::BROKER.map(|broker| broker.addr).unwrap_or_default();
        B::url(addr, ns)
    }

    /// Another connected bus in this namespace, as another process of the
    /// same mesh has.
    pub async fn other(&self) -> Arc<dyn Bus> {
        common::connected(&self.url()).await
    }

    /// The next delivery, failing the test after the backend's wait.
    pub async fn next(&self, consumer: &mut Consumer) -> Delivery {
        next_within(consumer, B::SHAPE.wait).await
    }

    /// Loses the bus's connections; returns how many there were, once the
    /// bus has noticed (it tries to connect again).
    pub async fn cut(&self) -> usize {
        let proxy = self.proxy.as_ref().expect("a run through a proxy");
        let accepted = proxy.accepted();
        let cut = B::cut(&self.ns, proxy);
        funcmesh_testkit::eventually(common::CONNECT, "the bus connects again", || async {
            proxy.accepted() > accepted
        })
        .await;
        cut
    }

    /// Waits until `queue`'s depth is `expected` (Kafka reads it from
    /// commits that land a moment after the acknowledgement).
    pub async fn depth_becomes(&self, queue: &str, expected: QueueDepth) {
        depth_becomes(&*self.bus, queue, expected, B::SHAPE.wait).await;
    }

    /// Deletes what the namespace left on the broker.
    pub async fn finish(mut self) {
        drop(self.proxy.take());
        B::cleanup(&self.ns).await;
        self.finished = true;
    }
}

/// Waits up to `wait` until `queue`'s depth on `bus` is `expected`.
async fn depth_becomes(bus: &dyn Bus, queue: &str, expected: QueueDepth, wait: Duration) {
    let last = std::sync::Mutex::new(None);
    let reached = funcmesh_testkit::try_eventually(wait, || async {
        let depth = bus.depth(queue).await.unwrap();
        *last.lock().unwrap() = Some(depth);
        depth == expected
    })
    .await;
    assert!(
        reached,
        "the depth of {queue} stayed {:?}, not {expected:?}",
        last.lock().unwrap()
    );
}
