//! The one connection to the server, and keeping an eye on it.
//!
//! async-nats keeps the connection up by itself: it connects in the
//! background, reconnects after every loss (with the backoff below, for
//! ever) and subscribes again. A [`Link`] wraps that client with what the
//! bus adds: the queue specs declared in this process, declared again on
//! every connection (a memory stream does not survive a server restart); a
//! count of connections that consumers watch (a request in flight when the
//! connection dropped gets no answer); the logs of an outage (one WARN when
//! it starts, one INFO when it ends); and closing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::backoff::Backoff;
use async_nats::connection::State;
use async_nats::jetstream;
use async_nats::{Client, ConnectOptions, Event};
use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::sync::{OnceCell, mpsc, watch};

use super::config::{Credentials, NatsConfig};
use super::confirm::Confirmations;
use super::declare::{self, Limits};
use crate::{Error, QueueSpec, Result};

/// How long a JetStream API request (declare, depth, consumer set-up) may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the client pings the server; with three pings unanswered the
/// connection counts as lost, so a silently dead one is noticed within
/// about this long times three.
const PING_INTERVAL: Duration = Duration::from_secs(10);
/// How long the client sleeps between connection attempts once the bus is
/// closed: its reconnect loop cannot be stopped, only made idle.
const CLOSED_RECONNECT_DELAY: Duration = Duration::from_secs(3600);

/// The connection as the rest of the backend sees it.
pub(crate) struct Link {
    pub(crate) config: NatsConfig,
    pub(crate) client: Client,
    pub(crate) js: jetstream::Context,
    /// Declared specs, and a count of changes to them.
    specs: Mutex<(u64, BTreeMap<String, QueueSpec>)>,
    /// How many connections have been made; consumers watch it.
    connections: watch::Sender<u64>,
    closed: watch::Sender<bool>,
    /// Read by the client's reconnect delay, which cannot reach the link.
    closed_flag: Arc<AtomicBool>,
    /// Queues that answered as another process's reply queue.
    reply_routes: Mutex<HashSet<String>>,
    /// Limits of queues declared elsewhere, as read from their streams.
    limits: Mutex<HashMap<String, Limits>>,
    /// Streams found with other limits than declared, warned about once.
    kept: Mutex<HashSet<String>>,
    /// The confirmations of sends to reply queues, from the first such send.
    confirmations: OnceCell<Arc<Confirmations>>,
    runtime: Handle,
}

impl Link {
    /// Starts the client; it connects in the background. Must be called on a
    /// Tokio runtime.
    pub(crate) async fn open(config: NatsConfig) -> Result<Arc<Self>> {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let closed_flag = Arc::new(AtomicBool::new(false));
        let closed_for_delay = Arc::clone(&closed_flag);
        let options = ConnectOptions::new()
            .name(&config.connection_name)
            .retry_on_initial_connect()
            .max_reconnects(None)
            .ping_interval(PING_INTERVAL)
            .request_timeout(Some(REQUEST_TIMEOUT))
            .reconnect_delay_callback(move |attempts| {
                if closed_for_delay.load(Ordering::Relaxed) {
                    CLOSED_RECONNECT_DELAY
                } else {
                    reconnect_delay(attempts)
                }
            })
            .event_callback(move |event| {
                let events = events_tx.clone();
                async move {
                    // The receiver is gone only once the link is.
                    let _ = events.send(event);
                }
            });
        let options = options.require_tls(config.require_tls);
        let options = match &config.tls.ca {
            Some(ca) => options.add_root_certificates(ca.clone()),
            None => options,
        };
        let options = match (&config.tls.cert, &config.tls.key) {
            (Some(cert), Some(key)) => options.add_client_certificate(cert.clone(), key.clone()),
            _ => options,
        };
        let options = match config.credentials.clone() {
            Some(Credentials::User { user, password }) => options.user_and_password(user, password),
            Some(Credentials::Token(token)) => options.token(token),
            None => options,
        };
        let client = options
            .connect(config.servers.clone())
            .await
            .map_err(|error| Error::InvalidUrl(format!("cannot use the NATS URL: {error}")))?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(REQUEST_TIMEOUT);
        let link = Arc::new(Self {
            config,
            client,
            js,
            specs: Mutex::default(),
            connections: watch::Sender::new(0),
            closed: watch::Sender::new(false),
            closed_flag,
            reply_routes: Mutex::default(),
            limits: Mutex::default(),
            kept: Mutex::default(),
            confirmations: OnceCell::new(),
            runtime: Handle::current(),
        });
        tokio::spawn(watch_events(Arc::downgrade(&link), events_rx));
        Ok(link)
    }

    /// Whether the client is connected and the bus open.
    /// The largest payload the server takes (0 before the first connect).
    pub(crate) fn max_payload(&self) -> usize {
        self.client.server_info().max_payload
    }

    pub(crate) fn is_connected(&self) -> bool {
        !self.is_closed() && self.client.connection_state() == State::Connected
    }

    pub(crate) fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// `Ok` when connected; else `Closed` or `Unavailable`, at once.
    pub(crate) fn ensure_connected(&self) -> Result<()> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        match self.client.connection_state() {
            State::Connected => Ok(()),
            State::Pending => Err(self.unavailable("not connected yet")),
            State::Disconnected => Err(self.unavailable("connection lost; reconnecting")),
        }
    }

    /// Waits until connected; `false` once the bus is closed.
    pub(crate) async fn wait_connected(&self) -> bool {
        let mut connections = self.connections.subscribe();
        let mut closed = self.closed.subscribe();
        loop {
            if self.is_closed() {
                return false;
            }
            if self.is_connected() {
                return true;
            }
            // The connection count moves a moment before the client's state
            // does: look again shortly after, whatever wakes us.
            tokio::select! {
                _ = connections.changed() => {}
                _ = closed.changed() => {}
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }

    /// Connections as they are made, for consumers that pull again on each.
    pub(crate) fn connections(&self) -> watch::Receiver<u64> {
        self.connections.subscribe()
    }

    /// Resolves once the bus is closed.
    pub(crate) async fn closed(&self) {
        let mut closed = self.closed.subscribe();
        // The sender lives as long as `self`.
        let _ = closed.wait_for(|closed| *closed).await;
    }

    /// Closes the bus: consumers end, settling fails, and the connection is
    /// drained and closed.
    pub(crate) fn close(&self) {
        if self.closed.send_replace(true) {
            return;
        }
        self.closed_flag.store(true, Ordering::Relaxed);
        let client = self.client.clone();
        let runtime = Handle::try_current().unwrap_or_else(|_| self.runtime.clone());
        runtime.spawn(async move {
            // Fails only when the connection is already gone.
            let _ = client.drain().await;
        });
    }

    pub(crate) fn unavailable(&self, why: impl std::fmt::Display) -> Error {
        Error::Unavailable(format!("{why} (nats://{})", self.config.endpoint))
    }

    /// Keeps `spec` to declare again on every new connection.
    pub(crate) fn remember(&self, spec: &QueueSpec) {
        let mut specs = self.specs.lock();
        specs.0 += 1;
        specs.1.insert(spec.name.clone(), spec.clone());
    }

    /// The spec this process declared for `queue`, if any.
    pub(crate) fn spec(&self, queue: &str) -> Option<QueueSpec> {
        self.specs.lock().1.get(queue).cloned()
    }

    /// Whether this process declared `queue` as a reply queue.
    pub(crate) fn is_local_reply(&self, queue: &str) -> bool {
        self.spec(queue).is_some_and(|spec| spec.exclusive)
    }

    fn specs(&self) -> (u64, Vec<QueueSpec>) {
        let specs = self.specs.lock();
        (specs.0, specs.1.values().cloned().collect())
    }

    /// Whether `queue` last answered as another process's reply queue.
    pub(crate) fn is_reply_route(&self, queue: &str) -> bool {
        self.reply_routes.lock().contains(queue)
    }

    /// Remembers (or forgets) that `queue` is another process's reply queue.
    pub(crate) fn set_reply_route(&self, queue: &str, known: bool) {
        /// Gateways come and go: the list is dropped when it grows this big.
        const MAX_ROUTES: usize = 4096;
        let mut routes = self.reply_routes.lock();
        if known {
            if routes.len() >= MAX_ROUTES {
                routes.clear();
            }
            routes.insert(queue.to_owned());
        } else {
            routes.remove(queue);
        }
    }

    /// The limits of `queue` as known in this process: declared here, or read
    /// from its stream before.
    pub(crate) fn known_limits(&self, queue: &str) -> Option<Limits> {
        if let Some(spec) = self.spec(queue) {
            return Some(Limits::of(&spec));
        }
        self.limits.lock().get(queue).cloned()
    }

    /// Keeps the limits read from `queue`'s stream.
    pub(crate) fn learn_limits(&self, queue: &str, limits: &Limits) {
        self.limits.lock().insert(queue.to_owned(), limits.clone());
    }

    /// The confirmations of sends to reply queues: subscribed on first use.
    pub(crate) async fn confirmations(&self) -> Result<&Arc<Confirmations>> {
        self.confirmations
            .get_or_try_init(|| async {
                Confirmations::start(&self.client, self.client.new_inbox())
                    .await
                    .map_err(|error| {
                        self.unavailable(format_args!("subscribing to confirmations: {error}"))
                    })
            })
            .await
    }

    /// Whether a stream kept with other limits was already warned about
    /// (and now is).
    pub(crate) fn warned_kept(&self, stream: &str) -> bool {
        !self.kept.lock().insert(stream.to_owned())
    }
}

/// Logs the connection's events and declares the remembered queues on every
/// connection.
async fn watch_events(link: Weak<Link>, mut events: mpsc::UnboundedReceiver<Event>) {
    // Set while the server is out of reach: since when, and how many
    // connection attempts failed.
    let mut outage: Option<(Instant, u32)> = None;
    while let Some(event) = events.recv().await {
        let Some(strong) = link.upgrade() else { return };
        let endpoint = strong.config.endpoint.clone();
        match event {
            Event::Connected => {
                match outage.take() {
                    Some((since, failures)) => tracing::info!(
                        %endpoint, failures, down_ms = since.elapsed().as_millis() as u64,
                        "NATS server connection recovered"
                    ),
                    None => tracing::info!(%endpoint, "connected to the NATS server"),
                }
                strong.connections.send_modify(|count| *count += 1);
                let connection = *strong.connections.borrow();
                tokio::spawn(restore(Arc::clone(&strong), connection));
            }
            Event::Disconnected => {
                if !strong.is_closed() {
                    tracing::warn!(%endpoint, "NATS server connection lost; reconnecting");
                    crate::stats::reconnecting("nats");
                    outage = Some((Instant::now(), 0));
                }
            }
            // A failed connection attempt. One WARN per outage; the retries
            // that follow are quiet.
            Event::ClientError(error) => match &mut outage {
                Some((_, failures)) => {
                    *failures += 1;
                    tracing::debug!(%endpoint, %error, failures = *failures, "NATS server still out of reach");
                }
                None => {
                    tracing::warn!(%endpoint, %error, "cannot reach the NATS server; retrying in the background");
                    outage = Some((Instant::now(), 1));
                }
            },
            Event::ServerError(error) => {
                tracing::warn!(%endpoint, %error, "the NATS server reported an error");
            }
            Event::SlowConsumer(sid) => {
                tracing::warn!(%endpoint, sid, "a subscription fell behind; the client dropped messages for it");
            }
            Event::LameDuckMode => {
                tracing::info!(%endpoint, "the NATS server is shutting down; the client moves on soon");
            }
            Event::Draining | Event::Closed => {
                tracing::debug!(%endpoint, %event, "NATS connection closing");
            }
        }
    }
}

/// Declares the remembered queues again on connection number `connection`,
/// until it is no longer the current one. A queue the server refuses is
/// logged and skipped.
async fn restore(link: Arc<Link>, connection: u64) {
    let current = || *link.connections.borrow() == connection && !link.is_closed();
    loop {
        let (version, specs) = link.specs();
        for spec in specs.iter().filter(|spec| !spec.exclusive) {
            if !current() {
                return;
            }
            if let Err(error) = declare::queue(&link, spec).await
                && current()
            {
                tracing::warn!(queue = %spec.name, %error, "queue not declared again after connecting");
            }
        }
        // A queue declared meanwhile, while the client was not yet seen as
        // connected, is declared on the next round.
        if link.specs().0 == version {
            return;
        }
    }
}

/// The client's delay before connection attempt number `attempts` (counted
/// from 1 since the last success): none for the first, then the bus's
/// backoff (100 ms doubling to 5 s, with full jitter).
fn reconnect_delay(attempts: usize) -> Duration {
    match attempts.checked_sub(2) {
        None => Duration::ZERO,
        Some(retries) => Backoff::nth_delay(retries),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnecting_starts_at_once_then_backs_off_to_five_seconds() {
        assert_eq!(reconnect_delay(0), Duration::ZERO);
        assert_eq!(reconnect_delay(1), Duration::ZERO);
        for attempts in 2..100 {
            assert!(reconnect_delay(attempts) <= Backoff::MAX);
        }
        assert!(reconnect_delay(2) <= Backoff::FIRST);
        assert!(reconnect_delay(usize::MAX) <= Backoff::MAX);
        let delays: HashSet<Duration> = (0..20).map(|_| reconnect_delay(10)).collect();
        assert!(delays.len() > 1, "full jitter gives different delays");
    }
}
