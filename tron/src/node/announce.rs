//! The tron's control traffic: announcing the routes, hearing runners.

use std::sync::{Arc, Weak};

use funcmesh_bus::{Consumer, now_ms};

use funcmesh_core::control::{
    self, ANNOUNCE_EVERY, CAPTURE_TOPIC, CaptureChange, HELLO_TOPIC, Hello, LOG_LEVEL_TOPIC,
    LogLevelChange, ROUTES_TOPIC, RUNNER_EXPIRY, RUNNER_STATS_TOPIC, RoutesAnnouncement,
    RunnerHeartbeat, log_level,
};

use super::TronNode;

/// Starts the announcer: on every change of the routes, every
/// [`ANNOUNCE_EVERY`], and whenever a gateway or runner says hello.
pub(super) fn spawn(node: &Arc<TronNode>) {
    let weak = Arc::downgrade(node);
    let stop = node.shutdown.wait();
    node.spawn(async move {
        tokio::select! {
            () = stop => {}
            () = run(weak) => {}
        }
    });
}

async fn run(node: Weak<TronNode>) {
    let Some((mut routes, bus)) = node
        .upgrade()
        .map(|n| (n.registry.subscribe(), Arc::clone(&n.bus)))
    else {
        return;
    };
    let mut hello = listen(&*bus, HELLO_TOPIC).await;
    let mut stats = listen(&*bus, RUNNER_STATS_TOPIC).await;
    let mut capture = listen(&*bus, CAPTURE_TOPIC).await;
    let mut log_levels = listen(&*bus, LOG_LEVEL_TOPIC).await;
    let mut tick = tokio::time::interval(ANNOUNCE_EVERY);
    loop {
        tokio::select! {
            changed = routes.changed() => if changed.is_err() { return },
            _ = tick.tick() => {}
            Some(Ok(delivery)) = next(&mut hello) => {
                if let Some(hello) = control::decode::<Hello>(HELLO_TOPIC, &delivery.bytes()) {
                    tracing::debug!(component = %hello.component, id = %hello.id, "hello; announcing the routes");
                }
            }
            Some(Ok(delivery)) = next(&mut capture) => {
                let change = control::decode::<CaptureChange>(CAPTURE_TOPIC, &delivery.bytes());
                if let (Some(change), Some(node)) = (change, node.upgrade()) {
                    node.change_capture(&change);
                }
            }
            Some(Ok(delivery)) = next(&mut log_levels) => {
                let change = control::decode::<LogLevelChange>(LOG_LEVEL_TOPIC, &delivery.bytes());
                if let (Some(change), Some(node)) = (change, node.upgrade()) {
                    node.change_log_level(&change);
                }
            }
            Some(Ok(delivery)) = next(&mut stats) => {
                if let (Some(beat), Some(node)) = (control::decode::<RunnerHeartbeat>(RUNNER_STATS_TOPIC, &delivery.bytes()), node.upgrade()) {
                    node.heard(beat);
                }
                continue;
            }
        }
        let Some(node) = node.upgrade() else { return };
        node.announce().await;
    }
}

async fn listen(bus: &dyn funcmesh_bus::Bus, topic: &str) -> Option<Consumer> {
    match bus.listen(topic).await {
        Ok(consumer) => Some(consumer),
        Err(error) => {
            tracing::error!(%error, topic, "cannot listen to a control topic");
            None
        }
    }
}

async fn next(
    consumer: &mut Option<Consumer>,
) -> Option<funcmesh_bus::Result<funcmesh_bus::Delivery>> {
    match consumer {
        Some(consumer) => consumer.next().await,
        None => std::future::pending().await,
    }
}

impl TronNode {
    /// Broadcasts the routing table now.
    pub(super) async fn announce(&self) {
        let announcement = self.announcement();
        // This process follows the levels it announces, as the others do.
        log_level::apply(&announcement.log_levels);
        if let Err(error) = self
            .bus
            .broadcast(ROUTES_TOPIC, control::encode(&announcement))
            .await
        {
            tracing::debug!(%error, "routes not announced; retrying on the next tick");
        }
    }

    /// What this tron announces now: its routing table, its store and the
    /// capture rules.
    pub fn announcement(&self) -> RoutesAnnouncement {
        RoutesAnnouncement {
            tron: self.id.clone(),
            store: self.store_url.clone(),
            table: (*self.registry.table()).clone(),
            capture: self.capture.lock().clone(),
            log_levels: self.log_levels.lock().live(now_ms()),
        }
    }

    /// Applies a `funcmesh log-level`; the announcement that follows carries
    /// the new levels to every process.
    fn change_log_level(&self, change: &LogLevelChange) {
        let now = now_ms();
        if let Err(error) = change.check(now) {
            tracing::warn!(%error, "log level change refused");
            return;
        }
        let mut levels = self.log_levels.lock();
        let changed = levels.apply(change, now);
        if *levels != changed {
            tracing::info!(levels = ?changed.0, "log levels changed");
        }
        *levels = changed;
    }

    /// Applies a `funcmesh capture on|off`; the announcement that follows
    /// carries the new rules to the gateways.
    fn change_capture(&self, change: &CaptureChange) {
        let mut rules = self.capture.lock();
        let changed = change.apply(rules.clone());
        if let Err(error) = changed.validate() {
            tracing::warn!(%error, "capture change refused");
            return;
        }
        if *rules != changed {
            tracing::info!(rules = ?changed.routes, "capture rules changed");
        }
        *rules = changed;
    }

    /// Records a runner's heartbeat and forgets runners gone quiet.
    fn heard(&self, beat: RunnerHeartbeat) {
        let now = now_ms();
        let expiry = RUNNER_EXPIRY.as_millis() as u64;
        let mut runners = self.runners.lock();
        if !runners.contains_key(&beat.runner) {
            tracing::info!(runner = %beat.runner, host = %beat.host, pid = beat.pid, "runner joined");
        }
        runners.insert(beat.runner.clone(), beat);
        runners.retain(|id, beat| {
            let alive = now.saturating_sub(beat.at_ms) < expiry;
            if !alive {
                tracing::info!(runner = %id, "runner gone quiet; forgotten");
            }
            alive
        });
    }
}
