//! The tron's metrics: routes, dispatch, dead letters, queue depths, the
//! runners heard from and, while it scales, each pool's replicas and the
//! decisions made. All are read at scrape time; queue depths are sampled
//! every [`DEPTH_EVERY`] while metrics are served (and every tick by the
//! scaler).

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use funcmesh_core::metrics::{self, DescriptorEncoder, Registry};

use super::TronNode;

/// How often queue depths are sampled for the metrics.
pub(super) const DEPTH_EVERY: Duration = Duration::from_secs(2);

impl TronNode {
    /// Registers this tron's metrics (`funcmesh_tron_*`) in `registry`, and
    /// starts sampling queue depths for them.
    pub fn register_metrics(self: &Arc<Self>, registry: &mut Registry) {
        let node = Arc::downgrade(self);
        registry.register_collector(Box::new(metrics::CollectWith(
            move |e: &mut DescriptorEncoder| match node.upgrade() {
                Some(node) => node.encode_metrics(e),
                None => Ok(()),
            },
        )));
        let node = Arc::downgrade(self);
        let stop = self.shutdown.wait();
        self.spawn(async move {
            tokio::select! {
                () = stop => {}
                () = sample_depths(node) => {}
            }
        });
    }

    /// Remembers `queue`'s depth for the metrics.
    pub(super) fn sampled(&self, queue: &str, depth: u64) {
        let mut depths = self.depths.lock();
        match depths.get_mut(queue) {
            Some(known) => *known = depth,
            None => {
                depths.insert(queue.to_owned(), depth);
            }
        }
    }

    fn encode_metrics(&self, e: &mut DescriptorEncoder) -> std::fmt::Result {
        let table = self.registry.table();
        metrics::gauge(
            e,
            "funcmesh_tron_routes",
            "Routes announced.",
            table.routes.len() as i64,
        )?;
        let d = self.dispatch.snapshot();
        metrics::counter_family(
            e,
            "funcmesh_tron_dispatched",
            "Firehose requests by result: forwarded to a Func queue, no route (404), rejected by a full queue (503), expired.",
            [
                (vec![("result", "forwarded")], d.forwarded),
                (vec![("result", "no_route")], d.no_route),
                (vec![("result", "rejected")], d.rejected),
                (vec![("result", "expired")], d.expired),
            ],
        )?;
        let dl = self.dead_letters.snapshot();
        metrics::counter_family(
            e,
            "funcmesh_tron_dead_letters",
            "Dead letters by result: answered with a 502, expired, parked.",
            [
                (vec![("result", "answered")], dl.answered),
                (vec![("result", "expired")], dl.expired),
                (vec![("result", "parked")], dl.parked),
            ],
        )?;
        // Only the queues still in use: a retired Func's queue leaves the
        // metrics with its route.
        let live: std::collections::HashSet<&str> = table
            .routes
            .iter()
            .map(|r| r.queue.as_str())
            .chain([
                self.options.firehose.as_str(),
                funcmesh_core::queues::DEAD_LETTER,
            ])
            .collect();
        let depths = self.depths.lock().clone();
        metrics::gauge_family(
            e,
            "funcmesh_tron_queue_depth",
            "Messages waiting on a queue, when last sampled.",
            depths
                .iter()
                .filter(|(q, _)| live.contains(q.as_str()))
                .map(|(q, n)| (vec![("queue", q.as_str())], *n as i64)),
        )?;
        let mut runners: BTreeMap<String, i64> = BTreeMap::new();
        for beat in self.runners() {
            let pool = beat
                .pool
                .unwrap_or_else(|| funcmesh_core::bundle::DEFAULT_POOL.to_owned());
            *runners.entry(pool).or_default() += 1;
        }
        metrics::gauge_family(
            e,
            "funcmesh_tron_runners_heard",
            "Runners whose heartbeat is fresh, by pool.",
            runners
                .iter()
                .map(|(p, n)| (vec![("pool", p.as_str())], *n)),
        )?;
        let Some(scaling) = self.scaler.lock().as_ref().map(|s| s.status()) else {
            return Ok(());
        };
        let pools = &scaling.pools;
        metrics::gauge_family(
            e,
            "funcmesh_tron_pool_runners",
            "A pool's runners: desired by the rule, current (asked of the orchestrator), ready.",
            pools.iter().flat_map(|(p, s)| {
                [
                    (
                        vec![("pool", p.as_str()), ("state", "desired")],
                        i64::from(s.desired),
                    ),
                    (
                        vec![("pool", p.as_str()), ("state", "current")],
                        i64::from(s.current),
                    ),
                    (
                        vec![("pool", p.as_str()), ("state", "ready")],
                        i64::from(s.ready),
                    ),
                ]
            }),
        )?;
        metrics::counter_family(
            e,
            "funcmesh_tron_scale_decisions",
            "Changes of a pool's runners the scaler made.",
            pools
                .iter()
                .map(|(p, s)| (vec![("pool", p.as_str())], s.decisions)),
        )?;
        metrics::gauge(
            e,
            "funcmesh_tron_scaler_lease_held",
            "1 while this tron holds the scaler's lease.",
            i64::from(scaling.holds_lease),
        )
    }
}

/// Samples the depth of every route's queue, the firehose and the dead
/// letters, until the node is gone.
async fn sample_depths(node: Weak<TronNode>) {
    let mut every = tokio::time::interval(DEPTH_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(node) = node.upgrade() else { return };
        let mut queues: Vec<String> = node
            .registry
            .table()
            .routes
            .iter()
            .map(|r| r.queue.clone())
            .collect();
        queues.push(node.options.firehose.clone());
        queues.push(funcmesh_core::queues::DEAD_LETTER.to_owned());
        queues.sort();
        queues.dedup();
        for queue in queues {
            match node.bus.depth(&queue).await {
                Ok(depth) => node.sampled(&queue, depth.ready),
                Err(error) => tracing::debug!(%queue, %error, "queue depth unknown"),
            }
        }
    }
}
