//! What a mesh leaves on its broker under a namespace, found and removed
//! (`funcmesh clean`).
//!
//! A mesh's queues outlive its processes by design: messages wait on a
//! durable queue while its runners restart. Once a mesh is gone for good,
//! [`open`] finds what its namespace holds and removes it, item by item:
//!
//! | bus | what a namespace `NAME` holds | how it is found |
//! |---|---|---|
//! | RabbitMQ | queues `NAME.*`, exchanges `NAME.funcmesh.*` | the management API (AMQP cannot list) |
//! | NATS | streams of subjects `NAME.funcmesh.q.*` | JetStream's stream list |
//! | Kafka | topics `NAME.*`, consumer groups `NAME.*` | the cluster's metadata and group list |
//!
//! The in-process bus holds nothing once its process ends. A URL without a
//! namespace is refused: funcmesh's names would not be told apart from the
//! broker's others.

use crate::{Error, Result};

/// One thing a namespace holds on its broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// What it is.
    pub kind: HeldKind,
    /// Its name on the broker.
    pub name: String,
    /// The messages it holds, when the broker tells.
    pub messages: Option<u64>,
    /// Who reads it now, when the broker tells: a RabbitMQ queue's
    /// consumers (at least 1 for an exclusive queue, which lives only as
    /// long as its connection); the pull requests waiting on a NATS
    /// stream's consumer. More than 0 means a process of the mesh is still
    /// running.
    pub readers: Option<u64>,
}

/// The kinds of [`Held`] things.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HeldKind {
    /// A RabbitMQ queue.
    Queue,
    /// A RabbitMQ exchange.
    Exchange,
    /// A NATS JetStream stream.
    Stream,
    /// A Kafka topic.
    Topic,
    /// A Kafka consumer group (its committed offsets).
    Group,
}

impl std::fmt::Display for HeldKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Queue => "queue",
            Self::Exchange => "exchange",
            Self::Stream => "stream",
            Self::Topic => "topic",
            Self::Group => "consumer group",
        })
    }
}

/// A namespace on its broker.
#[async_trait::async_trait]
pub trait Namespace: Send + Sync {
    /// The broker and the namespace, for people: `rabbitmq
    /// 127.0.0.1:5672/%2f, namespace shop`.
    fn describe(&self) -> String;

    /// Everything the namespace holds, sorted by kind and name.
    async fn held(&self) -> Result<Vec<Held>>;

    /// Removes one thing [`held`](Self::held) found. One that is gone
    /// already is fine.
    async fn remove(&self, held: &Held) -> Result<()>;
}

/// How [`open`] reaches what the bus URL alone does not say.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// RabbitMQ's management API (`http://host:15672`). By default the bus
    /// URL's host on port 15672 (`amqp://`) or 15671 over https
    /// (`amqps://`, trusting the URL's `cacertfile` too), with the URL's
    /// user and password.
    pub management: Option<String>,
}

/// The namespace that `url` names, on its broker.
pub async fn open(url: &str, options: &Options) -> Result<Box<dyn Namespace>> {
    let scheme = url.split_once("://").map_or(url, |(scheme, _)| scheme);
    #[cfg(not(feature = "amqp"))]
    let _ = options;
    match scheme {
        "inproc" | "mem" => Err(Error::InvalidUrl(
            "the in-process bus keeps nothing once its process ends: there is nothing to clean"
                .to_owned(),
        )),
        #[cfg(feature = "amqp")]
        "amqp" | "amqps" => Ok(Box::new(crate::amqp::namespace::Rabbit::open(
            url, options,
        )?)),
        #[cfg(feature = "nats")]
        "nats" | "tls" => Ok(Box::new(crate::nats::namespace::Streams::open(url).await?)),
        #[cfg(feature = "kafka")]
        "kafka" => Ok(Box::new(crate::kafka::namespace::Topics::open(url).await?)),
        other => Err(Error::UnsupportedScheme(other.to_owned())),
    }
}

/// The error for a bus URL without a namespace.
#[cfg_attr(
    not(any(feature = "amqp", feature = "nats", feature = "kafka")),
    expect(dead_code)
)]
pub(crate) fn namespace_needed() -> Error {
    Error::InvalidUrl(
        "the bus URL names no namespace (`?namespace=NAME`): without one, the mesh's queues \
         cannot be told apart from the broker's others, so nothing is removed"
            .to_owned(),
    )
}

/// `system endpoint, namespace NAME`, as [`Namespace::describe`] says it;
/// `prefix` is the namespace's `NAME.`.
#[cfg_attr(
    not(any(feature = "amqp", feature = "nats", feature = "kafka")),
    expect(dead_code)
)]
pub(crate) fn described(system: &str, endpoint: &str, prefix: &str) -> String {
    format!(
        "{system} {endpoint}, namespace {}",
        prefix.trim_end_matches('.')
    )
}

/// Refuses to remove what is not under `prefix` (`NAME.`): only what the
/// namespace holds is ever removed.
#[cfg_attr(not(any(feature = "amqp", feature = "kafka")), expect(dead_code))]
pub(crate) fn check_in(held: &Held, prefix: &str) -> Result<()> {
    match held.name.starts_with(prefix) {
        true => Ok(()),
        false => Err(Error::InvalidUrl(format!(
            "{} is not in namespace {}",
            held.name,
            prefix.trim_end_matches('.')
        ))),
    }
}

/// Sorts `held` as [`Namespace::held`] promises.
#[cfg_attr(
    not(any(feature = "amqp", feature = "nats", feature = "kafka")),
    expect(dead_code)
)]
pub(crate) fn sorted(mut held: Vec<Held>) -> Vec<Held> {
    held.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    held
}

/// `held` without what belongs to another namespace nested in this one
/// (RabbitMQ's namespaces may hold `.`; NATS's subjects tell them apart and
/// Kafka's may not):
/// `shop.eu.orders` is not namespace `shop`'s when a namespace `shop.eu`
/// exists, as a name of its own that every namespace has shows
/// (`markers`: the names of those, `NAME.` followed by `suffix`).
#[cfg_attr(not(feature = "amqp"), expect(dead_code))]
pub(crate) fn outside_nested<'a>(
    held: Vec<Held>,
    prefix: &str,
    markers: impl Iterator<Item = &'a str>,
    suffix: &str,
) -> Vec<Held> {
    let nested: Vec<&str> = markers
        .filter_map(|name| name.strip_suffix(suffix))
        .filter(|other| other.len() > prefix.len() && other.starts_with(prefix))
        .collect();
    held.into_iter()
        .filter(|item| !nested.iter().any(|other| item.name.starts_with(other)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(name: &str) -> Held {
        Held {
            kind: HeldKind::Queue,
            name: name.to_owned(),
            messages: None,
            readers: None,
        }
    }

    #[test]
    fn a_nested_namespace_keeps_its_names() {
        let held = vec![
            queue("shop.orders"),
            queue("shop.eu.orders"),
            queue("shop.euro"),
            queue("shop.funcmesh.work"),
            queue("shop.eu.funcmesh.work"),
        ];
        let markers = [
            "shop.funcmesh.work",
            "shop.eu.funcmesh.work",
            "other.funcmesh.work",
        ];
        let kept = outside_nested(held, "shop.", markers.into_iter(), "funcmesh.work");
        let names: Vec<_> = kept.iter().map(|held| held.name.as_str()).collect();
        assert_eq!(names, ["shop.orders", "shop.euro", "shop.funcmesh.work"]);
    }
}
