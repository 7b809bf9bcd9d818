//! Broadcasts: core NATS publish and subscribe on `<ns>.funcmesh.control.<topic>`.
//!
//! Nothing is kept for listeners that are not there, as on the in-process
//! bus, and async-nats subscribes every listener again after a reconnect.
//! A listened topic's tokens `*` and `>` act as NATS wildcards (one token,
//! the rest); a broadcast topic never holds one (see `config`).

use bytes::Bytes;

use super::connection::Link;
use super::consume;
use super::delivery::TopicStream;
use super::publish::PUBLISH_TIMEOUT;
use crate::{Consumer, Result};

/// Fans `body` out to the listeners of `topic`. Nobody listening is fine.
/// It returns once the client has written the message to the server, as
/// the other buses return once their broker has it: a process that
/// broadcasts and then exits (a runner's last heartbeat) would otherwise
/// leave it in the client's buffer.
pub(crate) async fn broadcast(link: &Link, topic: &str, body: Bytes) -> Result<()> {
    link.ensure_connected()?;
    let subject = link.config.topic_subject(topic, false);
    let sent = async {
        link.client
            .publish(subject, body)
            .await
            .map_err(|e| e.to_string())?;
        link.client.flush().await.map_err(|e| e.to_string())
    };
    match tokio::time::timeout(PUBLISH_TIMEOUT, sent).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(link.unavailable(format_args!("broadcasting on {topic}: {error}"))),
        Err(_) => Err(link.unavailable(format_args!(
            "the client sent no broadcast within {PUBLISH_TIMEOUT:?}"
        ))),
    }
}

/// Starts listening to `topic`; works before the connection is up too.
/// When connected, it returns once the server knows the listener.
pub(crate) async fn listen(link: &Link, topic: &str) -> Result<Consumer> {
    let subject = link.config.topic_subject(topic, true);
    let subscriber = link
        .client
        .subscribe(subject)
        .await
        .map_err(|error| link.unavailable(format_args!("listening to {topic}: {error}")))?;
    consume::flush(link).await;
    Ok(Consumer::new(TopicStream { subscriber }))
}
