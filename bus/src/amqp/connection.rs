//! The one connection to the broker, and keeping it up.
//!
//! A [`Link`] owns the connection. Its supervisor task connects, declares the
//! remembered topology (the control and work exchanges and every declared
//! queue, bound to the work exchange),
//! publishes the live [`Session`] on a watch channel, waits for the
//! connection to die, and starts over with exponential backoff and full
//! jitter. Everything else borrows the current session, answers
//! [`Error::Unavailable`] when there is none, and watches for the next one.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::backoff::Backoff;
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::{Channel, Connection, ConnectionProperties};
use parking_lot::Mutex;
use tokio::sync::{Notify, watch};

use super::config::AmqpConfig;
use super::publish::Publishers;
use super::{declare, topics};
use crate::{Error, QueueSpec, Result};

/// How long one connection attempt may take, handshake and topology included.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the supervisor looks at a quiet connection's status. Anyone who
/// sees an error wakes it sooner.
const LIVENESS_CHECK: Duration = Duration::from_millis(250);
/// How often a re-declared exclusive queue is retried while the broker still
/// holds the previous connection's copy of it.
const LOCKED_RETRIES: u32 = 20;

/// One live connection and the channels that belong to it.
pub(crate) struct Session {
    pub(crate) connection: Connection,
    pub(crate) publishers: Publishers,
}

impl Session {
    pub(crate) fn is_alive(&self) -> bool {
        self.connection.status().connected()
    }
}

/// The connection as the rest of the backend sees it.
pub(crate) struct Link {
    pub(crate) config: AmqpConfig,
    session: watch::Sender<Option<Arc<Session>>>,
    /// Declared specs, and a count of changes to them.
    queues: Mutex<(u64, BTreeMap<String, QueueSpec>)>,
    lost: Arc<Notify>,
    /// How many dropped consumers are still to retire, and their channels
    /// to close (see [`SettleChannel`](super::delivery::SettleChannel)).
    lingering: Arc<watch::Sender<usize>>,
}

/// Counts one dropped consumer, or its channel, until dropped.
pub(crate) struct Lingering(Arc<watch::Sender<usize>>);

impl Drop for Lingering {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

impl Link {
    /// Starts the supervisor; the first connection attempt runs in the background.
    pub(crate) fn start(config: AmqpConfig) -> Arc<Self> {
        let lost = Arc::new(Notify::new());
        let link = Arc::new(Self {
            config,
            session: watch::Sender::new(None),
            queues: Mutex::default(),
            lost: Arc::clone(&lost),
            lingering: Arc::new(watch::Sender::new(0)),
        });
        tokio::spawn(supervise(Arc::downgrade(&link), lost));
        link
    }

    /// The live session, or `Unavailable` at once.
    pub(crate) fn session(&self) -> Result<Arc<Session>> {
        match self.session.borrow().clone() {
            Some(session) if session.is_alive() => Ok(session),
            Some(_) => {
                self.lost.notify_one();
                Err(self.unavailable("connection lost"))
            }
            None => Err(self.unavailable("not connected")),
        }
    }

    /// Counts a dropped consumer, or its channel, until the count is
    /// dropped.
    pub(crate) fn lingering(&self) -> Lingering {
        self.lingering.send_modify(|n| *n += 1);
        Lingering(Arc::clone(&self.lingering))
    }

    /// Returns once the channels of the consumers dropped so far are
    /// closed, with what was settled on them applied.
    pub(crate) async fn settled(&self) {
        let _ = self.lingering.subscribe().wait_for(|n| *n == 0).await;
    }

    /// Sessions as they come and go, for consumers that outlive connections.
    pub(crate) fn sessions(&self) -> watch::Receiver<Option<Arc<Session>>> {
        self.session.subscribe()
    }

    /// A fresh channel on the live connection.
    pub(crate) async fn channel(&self) -> Result<Channel> {
        let session = self.session()?;
        session
            .connection
            .create_channel()
            .await
            .map_err(|error| self.fail("opening a channel", &error))
    }

    /// Maps a lapin error to `Unavailable`, waking the supervisor in case the
    /// connection is what failed.
    pub(crate) fn fail(&self, doing: &str, error: &lapin::Error) -> Error {
        self.lost.notify_one();
        self.unavailable(format_args!("{doing}: {error}"))
    }

    pub(crate) fn unavailable(&self, why: impl std::fmt::Display) -> Error {
        Error::Unavailable(format!("{} (amqp://{})", why, self.config.endpoint))
    }

    /// Keeps `spec` to declare again on every new connection.
    pub(crate) fn remember(&self, spec: &QueueSpec) {
        let mut queues = self.queues.lock();
        queues.0 += 1;
        queues.1.insert(spec.name.clone(), spec.clone());
    }

    /// The spec this process declared for `queue`, if any.
    pub(crate) fn spec(&self, queue: &str) -> Option<QueueSpec> {
        let queues = self.queues.lock();
        queues.1.get(queue).cloned()
    }

    /// The declared specs, and which change of them this is.
    fn specs(&self) -> (u64, Vec<QueueSpec>) {
        let queues = self.queues.lock();
        (queues.0, queues.1.values().cloned().collect())
    }
}

/// The live session: the current one if it is alive, else the next one.
/// `None` once the bus is gone.
pub(crate) async fn next_session(
    sessions: &mut watch::Receiver<Option<Arc<Session>>>,
) -> Option<Arc<Session>> {
    loop {
        if let Some(session) = sessions.borrow_and_update().clone()
            && session.is_alive()
        {
            return Some(session);
        }
        sessions.changed().await.ok()?;
    }
}

async fn supervise(link: Weak<Link>, lost: Arc<Notify>) {
    let mut backoff = Backoff::default();
    // Set while the broker is out of reach: since when, and how many
    // connection attempts failed.
    let mut outage: Option<(Instant, u32)> = None;
    loop {
        let Some(strong) = link.upgrade() else { return };
        let endpoint = strong.config.endpoint.clone();
        let opened = tokio::time::timeout(CONNECT_TIMEOUT, open(&strong))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {CONNECT_TIMEOUT:?}")));
        match opened {
            Ok((session, version)) => {
                match outage.take() {
                    Some((since, failures)) => tracing::info!(
                        %endpoint, failures, down_ms = since.elapsed().as_millis() as u64,
                        "broker connection recovered"
                    ),
                    None => tracing::info!(%endpoint, "connected to the broker"),
                }
                backoff.reset();
                strong.session.send_replace(Some(Arc::clone(&session)));
                // A queue declared while connecting, after the topology was
                // read and before the session was out, is declared here.
                let (latest, specs) = strong.specs();
                if latest != version {
                    let _ = restore(&strong, &session.connection, &specs).await;
                }
                drop(strong);
                if !wait_for_loss(&link, &lost, &session).await {
                    // Nothing uses the bus any more.
                    let _ = session.connection.close(200, "bus dropped".into()).await;
                    return;
                }
                if let Some(strong) = link.upgrade() {
                    strong.session.send_replace(None);
                }
                tracing::warn!(%endpoint, "broker connection lost; reconnecting");
                crate::stats::reconnecting("rabbitmq");
                outage = Some((Instant::now(), 0));
            }
            Err(error) => match &mut outage {
                // One WARN per outage; the retries that follow are quiet.
                Some((_, failures)) => {
                    *failures += 1;
                    tracing::debug!(%endpoint, %error, failures = *failures, "broker still out of reach");
                }
                None => {
                    tracing::warn!(%endpoint, %error, "cannot reach the broker; retrying in the background");
                    outage = Some((Instant::now(), 1));
                }
            },
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

/// Returns `true` when the connection died, `false` when the bus was dropped.
async fn wait_for_loss(link: &Weak<Link>, lost: &Notify, session: &Session) -> bool {
    loop {
        tokio::select! {
            () = lost.notified() => {}
            () = tokio::time::sleep(LIVENESS_CHECK) => {}
        }
        if link.strong_count() == 0 {
            return false;
        }
        if !session.is_alive() {
            return true;
        }
    }
}

/// Connects and declares the topology, so that a session is usable as soon
/// as anyone sees it. Also returns which change of the specs it declared.
async fn open(link: &Link) -> Result<(Arc<Session>, u64), String> {
    let properties = ConnectionProperties::default()
        .with_connection_name(link.config.connection_name.clone().into());
    let connection = match &link.config.tls {
        None => Connection::connect_uri(link.config.uri.clone(), properties).await,
        Some(files) => {
            let pem = files.read()?;
            let tls = OwnedTLSConfig {
                identity: pem
                    .identity
                    .map(|(pem, key)| OwnedIdentity::PKCS8 { pem, key }),
                cert_chain: pem.ca,
            };
            let runtime = lapin::runtime::default_runtime().map_err(|e| e.to_string())?;
            Connection::connect_uri_with_config(link.config.uri.clone(), properties, tls, runtime)
                .await
        }
    }
    .map_err(|error| error.to_string())?;
    let channel = connection
        .create_channel()
        .await
        .map_err(|e| e.to_string())?;
    topics::declare_exchange(&channel, &link.config)
        .await
        .map_err(|error| format!("declaring the control exchange: {error}"))?;
    declare::work_exchange(&channel, &link.config)
        .await
        .map_err(|error| format!("declaring the work exchange: {error}"))?;
    let (version, specs) = link.specs();
    restore(link, &connection, &specs).await?;
    let session = Session {
        connection,
        publishers: Publishers::default(),
    };
    Ok((Arc::new(session), version))
}

/// Declares `specs` again. A queue the broker refuses is logged and skipped;
/// the session stays usable for the others.
async fn restore(link: &Link, connection: &Connection, specs: &[QueueSpec]) -> Result<(), String> {
    let new_channel = || async { connection.create_channel().await.map_err(|e| e.to_string()) };
    let mut channel = new_channel().await?;
    for spec in specs {
        let mut tries = 0;
        while let Err(error) = declare::queue(&channel, &link.config, spec).await {
            // A refused declare closes its channel.
            channel = new_channel().await?;
            tries += 1;
            // The previous connection's exclusive queue may not be gone yet.
            if declare::is_locked(&error) && tries < LOCKED_RETRIES {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            tracing::warn!(queue = %spec.name, %error, "queue not declared again after reconnecting");
            break;
        }
    }
    Ok(())
}
