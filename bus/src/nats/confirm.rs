//! Confirmed sends to reply queues, with the confirmations batched.
//!
//! A message to a reply queue goes out as a core publish whose reply subject
//! is `PREFIX.TOKEN`: one wildcard subscription per connection (`PREFIX.*`)
//! takes every answer, and a table settles the send waiting on the token.
//! The message carries [`BATCH_HEADER`], which tells the reply queue's
//! consumer that this sender takes its confirmations batched: one message
//! to `PREFIX.b` whose body lists the tokens of everything that one read of
//! the consumer's subscription took from this sender (see [`Owed`]). What
//! cannot be batched stays an answer to `PREFIX.TOKEN` of its own: a
//! refusal (the consumer is going away), and the server's "no responders"
//! status when nobody consumes the queue. A consumer that does not know the
//! header answers each message on its own, which settles it just the same.
//!
//! So a reply costs the server one message in and one out, plus a share of
//! one confirmation per read, instead of a request and an answer each.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_nats::{HeaderMap, StatusCode, Subject};
use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use parking_lot::Mutex;
use tokio::sync::oneshot;

/// The header on a message whose sender takes batched confirmations.
pub(crate) const BATCH_HEADER: &str = "x-funcmesh-confirm";
/// Its value.
const BATCH: &str = "batch";
/// The header of a reply queue's answer when it did not take the message
/// (its consumer is going away).
const REFUSED: &str = "x-funcmesh-refused";
/// The last token of a batch's subject; sends' tokens are numbers.
const BATCH_TOKEN: &str = "b";

/// What the reply queue's consumer said about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// It took the message.
    Taken,
    /// Nobody consumes the queue, or its consumer is going away.
    NoSuchQueue,
}

/// The sends waiting for their confirmation, and the subscription that
/// brings them.
pub(crate) struct Confirmations {
    prefix: String,
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<Answer>>>,
}

/// One send waiting for its confirmation; dropping it forgets the token.
pub(crate) struct Pending {
    confirmations: Arc<Confirmations>,
    token: u64,
    answer: oneshot::Receiver<Answer>,
}

impl Confirmations {
    /// Subscribes to `prefix.*` on `client` and settles sends from it until
    /// the client closes.
    pub(crate) async fn start(
        client: &async_nats::Client,
        prefix: String,
    ) -> Result<Arc<Self>, async_nats::SubscribeError> {
        let mut answers = client.subscribe(format!("{prefix}.*")).await?;
        let confirmations = Self::new(prefix);
        let weak = Arc::downgrade(&confirmations);
        tokio::spawn(async move {
            while let Some(message) = answers.next().await {
                let Some(confirmations) = weak.upgrade() else {
                    return;
                };
                confirmations.settle(&message);
            }
            // The client closed: no answer comes any more.
            if let Some(confirmations) = weak.upgrade() {
                confirmations.abandon();
            }
        });
        Ok(confirmations)
    }

    /// Nothing waiting yet, for answers to `prefix.*`.
    fn new(prefix: String) -> Arc<Self> {
        Arc::new(Self {
            prefix,
            next: AtomicU64::new(0),
            waiting: Mutex::default(),
        })
    }

    /// A token for one send: the reply subject to publish with, and what
    /// waits for its answer.
    pub(crate) fn expect(self: &Arc<Self>) -> (Subject, Pending) {
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, answer) = oneshot::channel();
        self.waiting.lock().insert(token, tx);
        let subject = Subject::from(format!("{}.{token}", self.prefix));
        let pending = Pending {
            confirmations: Arc::clone(self),
            token,
            answer,
        };
        (subject, pending)
    }

    /// Settles the sends that `message` answers.
    fn settle(&self, message: &async_nats::Message) {
        let Some(last) = message.subject.rsplit('.').next() else {
            return;
        };
        if last == BATCH_TOKEN {
            let Ok(tokens) = std::str::from_utf8(&message.payload) else {
                return;
            };
            let mut waiting = self.waiting.lock();
            for token in tokens.split_ascii_whitespace() {
                if let Some(tx) = token.parse().ok().and_then(|t| waiting.remove(&t)) {
                    let _ = tx.send(Answer::Taken);
                }
            }
            return;
        }
        let Ok(token) = last.parse::<u64>() else {
            return;
        };
        let answer = if message.status == Some(StatusCode::NO_RESPONDERS) || refused(message) {
            Answer::NoSuchQueue
        } else {
            Answer::Taken
        };
        if let Some(tx) = self.waiting.lock().remove(&token) {
            let _ = tx.send(answer);
        }
    }

    /// Ends every send waiting: each answers `None`.
    fn abandon(&self) {
        self.waiting.lock().clear();
    }
}

impl Pending {
    /// The answer; `None` if the subscription ended first.
    pub(crate) async fn answer(&mut self) -> Option<Answer> {
        (&mut self.answer).await.ok()
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.confirmations.waiting.lock().remove(&self.token);
    }
}

/// The headers of a reply queue's answer when it did not take the message
/// (its answer is empty when it did).
pub(crate) fn refusal() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(REFUSED, "gone");
    headers
}

fn refused(message: &async_nats::Message) -> bool {
    message
        .headers
        .as_ref()
        .is_some_and(|headers| headers.get(REFUSED).is_some())
}

/// The headers that ask for batched confirmation, added to `headers`.
pub(crate) fn ask_batched(headers: Option<HeaderMap>) -> HeaderMap {
    let mut headers = headers.unwrap_or_default();
    headers.insert(BATCH_HEADER, BATCH);
    headers
}

/// Whether a message's sender takes batched confirmations.
pub(crate) fn wants_batch(headers: Option<&HeaderMap>) -> bool {
    headers
        .and_then(|headers| headers.get(BATCH_HEADER))
        .is_some_and(|value| value.as_str() == BATCH)
}

/// The confirmations a reply queue's consumer owes for one read of its
/// subscription: each batching sender's tokens, in arrival order.
#[derive(Default)]
pub(crate) struct Owed {
    /// Sender prefix → the tokens, space-separated.
    batches: Vec<(String, BytesMut)>,
}

impl Owed {
    /// Owes a batched confirmation for a message whose reply subject is
    /// `reply`; `false` if the subject is not `PREFIX.TOKEN`.
    pub(crate) fn add(&mut self, reply: &str) -> bool {
        let Some((prefix, token)) = reply.rsplit_once('.') else {
            return false;
        };
        if prefix.is_empty() || token.is_empty() || token == BATCH_TOKEN {
            return false;
        }
        match self.batches.iter_mut().find(|(p, _)| p == prefix) {
            Some((_, tokens)) => {
                tokens.put_u8(b' ');
                tokens.put_slice(token.as_bytes());
            }
            None => self
                .batches
                .push((prefix.to_owned(), BytesMut::from(token.as_bytes()))),
        }
        true
    }

    /// The confirmations to publish: subject and body, one per sender.
    pub(crate) fn take(&mut self) -> impl Iterator<Item = (Subject, Bytes)> + '_ {
        self.batches.drain(..).map(|(prefix, tokens)| {
            (
                Subject::from(format!("{prefix}.{BATCH_TOKEN}")),
                tokens.freeze(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_owes_one_confirmation_per_sender() {
        let mut owed = Owed::default();
        assert!(owed.add("_INBOX.a.1"));
        assert!(owed.add("_INBOX.b.7"));
        assert!(owed.add("_INBOX.a.2"));
        assert!(!owed.add("no-token"));
        assert!(!owed.add("_INBOX.a.b"));
        assert!(!owed.add(".5"));
        let batches: Vec<(String, Bytes)> = owed
            .take()
            .map(|(subject, body)| (subject.to_string(), body))
            .collect();
        assert_eq!(
            batches,
            vec![
                ("_INBOX.a.b".to_owned(), Bytes::from_static(b"1 2")),
                ("_INBOX.b.b".to_owned(), Bytes::from_static(b"7")),
            ]
        );
        assert_eq!(owed.take().count(), 0, "taken once");
    }

    #[test]
    fn only_the_batch_header_asks_for_batches() {
        let asked = ask_batched(None);
        assert!(wants_batch(Some(&asked)));
        assert!(!wants_batch(None));
        let mut other = HeaderMap::new();
        other.insert(BATCH_HEADER, "no");
        assert!(!wants_batch(Some(&other)));
        let mut kept = HeaderMap::new();
        kept.insert("x-trace", "1");
        let kept = ask_batched(Some(kept));
        assert_eq!(kept.get("x-trace").map(|v| v.as_str()), Some("1"));
        assert!(wants_batch(Some(&kept)));
    }

    fn message(
        subject: &str,
        payload: &'static [u8],
        status: Option<StatusCode>,
    ) -> async_nats::Message {
        async_nats::Message {
            subject: Subject::from(subject),
            reply: None,
            payload: Bytes::from_static(payload),
            headers: None,
            status,
            description: None,
            length: payload.len(),
        }
    }

    #[tokio::test]
    async fn batches_and_single_answers_settle_their_sends() {
        let confirmations = Confirmations::new("_INBOX.x".to_owned());
        let (s0, mut p0) = confirmations.expect();
        let (s1, mut p1) = confirmations.expect();
        let (_, mut p2) = confirmations.expect();
        let (s3, mut p3) = confirmations.expect();
        assert_eq!(s0.as_str(), "_INBOX.x.0");
        assert_eq!(s3.as_str(), "_INBOX.x.3");
        confirmations.settle(&message("_INBOX.x.b", b"0 2 99 junk", None));
        assert_eq!(p0.answer().await, Some(Answer::Taken));
        assert_eq!(p2.answer().await, Some(Answer::Taken));
        confirmations.settle(&message(s1.as_str(), b"", Some(StatusCode::NO_RESPONDERS)));
        assert_eq!(p1.answer().await, Some(Answer::NoSuchQueue));
        let mut refusal = message(s3.as_str(), b"", None);
        refusal.headers = Some(super::refusal());
        confirmations.settle(&refusal);
        assert_eq!(p3.answer().await, Some(Answer::NoSuchQueue));
        let (s4, mut p4) = confirmations.expect();
        confirmations.settle(&message(s4.as_str(), b"", None));
        assert_eq!(
            p4.answer().await,
            Some(Answer::Taken),
            "a plain answer confirms"
        );
        drop((p0, p1, p2, p3, p4));
        let (_, p5) = confirmations.expect();
        assert_eq!(confirmations.waiting.lock().len(), 1);
        drop(p5);
        assert!(
            confirmations.waiting.lock().is_empty(),
            "dropped sends are forgotten"
        );
        let (_, mut p6) = confirmations.expect();
        confirmations.abandon();
        assert_eq!(p6.answer().await, None, "no answer once the client closed");
    }
}
