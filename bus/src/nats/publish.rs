//! Publishing, each kind confirmed so that the caller learns the outcome.
//!
//! - To a work queue: a JetStream publish, answered by the server's
//!   acknowledgement once the stream stored the message. The stream refusing
//!   it for its length limit is [`Error::QueueFull`]; no stream for the
//!   subject ("no responders") means the queue is not a work queue.
//! - To a reply queue: a core NATS publish to its subject, confirmed by the
//!   consumer as soon as the message reached it, batched with the others
//!   of the same read (see `confirm`). No consumer ("no responders"), or
//!   one that refuses the message because it is going away, means no such
//!   reply queue.
//!
//! A message larger than the server's `max_payload` is [`Error::Refused`].
//! A queue that is neither is [`Error::UnknownQueue`]. Which kind a queue is
//! needs no naming rule: a queue declared here says it itself, and the kind
//! another process's queue turned out to be is remembered, so that a reply
//! usually takes one round trip and a work message always does.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self as js, ErrorCode};
use bytes::Bytes;

use super::confirm::{self, Answer};
use super::connection::Link;
use super::declare;
use crate::{Error, Message, Result};

/// The header that carries a message's absolute expiry (ms since the epoch):
/// nats-server 2.9 has no per-message time to live.
pub(crate) const EXPIRES_AT: &str = "x-funcmesh-expires-at";

/// The longest a publish waits for its confirmation before answering
/// `Unavailable`. Publishing while disconnected fails before this, at once;
/// this bounds a publish caught by a connection that dies on the way.
pub(crate) const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether a queue took the message, or is not of the kind tried.
enum Sent {
    Yes,
    NoSuchQueue,
}

/// Puts `message` on `queue`.
pub(crate) async fn to_queue(link: &Link, queue: &str, message: Message) -> Result<()> {
    let headers = message.expires_at_ms.map(|at| {
        let mut headers = HeaderMap::new();
        headers.insert(EXPIRES_AT, at.to_string());
        headers
    });
    send(link, queue, message.bytes(), headers).await
}

/// Puts `body` with `headers` on `queue`, whichever kind it is.
pub(crate) async fn send(
    link: &Link,
    queue: &str,
    body: Bytes,
    headers: Option<HeaderMap>,
) -> Result<()> {
    link.ensure_connected()?;
    let reply_first = link.is_local_reply(queue) || link.is_reply_route(queue);
    if reply_first {
        match to_reply(link, queue, body.clone(), headers.clone()).await? {
            Sent::Yes => return Ok(()),
            // Its consumer is gone, or it was never a reply queue.
            Sent::NoSuchQueue => link.set_reply_route(queue, false),
        }
    }
    if let Sent::Yes = to_stream(link, queue, body.clone(), headers.clone()).await? {
        return Ok(());
    }
    if !reply_first && let Sent::Yes = to_reply(link, queue, body, headers).await? {
        link.set_reply_route(queue, true);
        return Ok(());
    }
    Err(Error::UnknownQueue(queue.to_owned()))
}

/// Publishes to a work queue's stream and waits for the server's
/// acknowledgement.
async fn to_stream(
    link: &Link,
    queue: &str,
    body: Bytes,
    headers: Option<HeaderMap>,
) -> Result<Sent> {
    let mut message = PublishMessage::build().payload(body);
    if let Some(headers) = headers {
        message = message.headers(headers);
    }
    let subject = link.config.work_subject(queue);
    let stored = tokio::time::timeout(PUBLISH_TIMEOUT, async {
        link.js.send_publish(subject, message).await?.await
    })
    .await;
    let error = match stored {
        Ok(Ok(_ack)) => return Ok(Sent::Yes),
        Ok(Err(error)) => error,
        Err(_) => {
            return Err(link.unavailable(format_args!(
                "no acknowledgement for a message to {queue} within {PUBLISH_TIMEOUT:?}"
            )));
        }
    };
    match error.kind() {
        PublishErrorKind::StreamNotFound => Ok(Sent::NoSuchQueue),
        PublishErrorKind::MaxPayloadExceeded => {
            Err(Error::Refused(format!("publishing to {queue}: {error}")))
        }
        _ if is_full(&error) => Err(Error::QueueFull {
            queue: queue.to_owned(),
            limit: limit(link, queue).await,
        }),
        _ => Err(link.unavailable(format_args!("publishing to {queue}: {error}"))),
    }
}

/// Sends to a reply queue's consumer and waits for it to confirm (see
/// `confirm`).
async fn to_reply(
    link: &Link,
    queue: &str,
    body: Bytes,
    headers: Option<HeaderMap>,
) -> Result<Sent> {
    let confirmations = link.confirmations().await?;
    let (reply, mut pending) = confirmations.expect();
    let subject = link.config.reply_subject(queue);
    link.client
        .publish_with_reply_and_headers(subject, reply, confirm::ask_batched(headers), body)
        .await
        .map_err(|error| match error.kind() {
            async_nats::client::PublishErrorKind::MaxPayloadExceeded => {
                Error::Refused(format!("sending to reply queue {queue}: {error}"))
            }
            _ => link.unavailable(format_args!("sending to reply queue {queue}: {error}")),
        })?;
    match tokio::time::timeout(PUBLISH_TIMEOUT, pending.answer()).await {
        Ok(Some(Answer::Taken)) => Ok(Sent::Yes),
        Ok(Some(Answer::NoSuchQueue)) => Ok(Sent::NoSuchQueue),
        Ok(None) => Err(link.unavailable(format_args!(
            "sending to reply queue {queue}: the connection closed"
        ))),
        Err(_) => Err(link.unavailable(format_args!(
            "no confirmation from reply queue {queue} within {PUBLISH_TIMEOUT:?}"
        ))),
    }
}

/// The expiry a message's headers carry, if any.
pub(crate) fn expires_at_ms(headers: Option<&HeaderMap>) -> Option<u64> {
    headers?.get(EXPIRES_AT)?.as_str().parse().ok()
}

/// `headers` without the expiry: a dead letter does not expire.
pub(crate) fn without_expiry(headers: Option<&HeaderMap>) -> Option<HeaderMap> {
    let headers = headers?;
    let mut kept = HeaderMap::new();
    for (name, values) in headers.iter() {
        let name: &str = name.as_ref();
        if name == EXPIRES_AT {
            continue;
        }
        for value in values {
            kept.append(name, value.clone());
        }
    }
    (!kept.is_empty()).then_some(kept)
}

/// The stream refused the message for its length limit (messages, or bytes
/// for a queue of length 0).
fn is_full(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(error) = source {
        if let Some(js) = error.downcast_ref::<js::Error>() {
            let text = js.to_string();
            return js.error_code() == ErrorCode::STREAM_STORE_FAILED
                && (text.contains("maximum messages") || text.contains("maximum bytes"));
        }
        source = error.source();
    }
    false
}

/// The length limit of `queue`, for `QueueFull`: known here, or read once
/// from its stream; 0 when unknown.
async fn limit(link: &Link, queue: &str) -> usize {
    if let Some(limits) = link.known_limits(queue) {
        return limits.max_len.unwrap_or(0);
    }
    match declare::find(link, queue).await {
        Ok(Some((_, limits))) => limits.max_len.unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_travels_in_a_header_that_dead_letters_lose() {
        let mut headers = HeaderMap::new();
        headers.insert(EXPIRES_AT, "1700000000000");
        headers.insert("x-trace", "abc");
        assert_eq!(expires_at_ms(Some(&headers)), Some(1_700_000_000_000));
        assert_eq!(expires_at_ms(None), None);
        let kept = without_expiry(Some(&headers)).unwrap();
        assert_eq!(expires_at_ms(Some(&kept)), None);
        assert_eq!(kept.get("x-trace").map(|v| v.as_str()), Some("abc"));
        let mut only_expiry = HeaderMap::new();
        only_expiry.insert(EXPIRES_AT, "1");
        assert!(without_expiry(Some(&only_expiry)).is_none());
        let mut garbage = HeaderMap::new();
        garbage.insert(EXPIRES_AT, "soon");
        assert_eq!(expires_at_ms(Some(&garbage)), None);
    }
}
