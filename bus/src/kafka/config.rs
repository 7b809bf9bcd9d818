//! Reading a `kafka://` bus URL, naming things on the broker, and the
//! client settings that every producer and consumer shares.
//!
//! `kafka://host[:port][,host2[:port]...][?namespace=NAME&partitions=N&replication=R]`:
//! the bootstrap brokers of one cluster (the port defaults to 9092), funcmesh's
//! own `namespace`, the partitions of each work queue's topic (16 by default:
//! the most runners that can share one queue) and the replication factor of
//! new topics (1 by default).
//!
//! Names on the broker:
//!
//! | what | topic | consumer group |
//! |---|---|---|
//! | queue `Q` | `<ns>.q.<Q>` | the topic's name (offsets only) |
//! | consumers of queue `Q` | `<ns>.m.<Q>` | none (see `members`) |
//! | topic `T` | `<ns>.t.<T>` | none (each listener reads from the end) |
//! | queue limits | `<ns>.funcmesh-queues` | none |
//!
//! Topic names may hold only `[A-Za-z0-9._-]`: every other byte of a queue or
//! topic name, and `_` itself, is written `_XX` (hex), so that every name gets
//! a topic of its own. A name longer than Kafka's 249 characters keeps its
//! start and a hash of the whole.

use std::hash::{Hash, Hasher};

use rdkafka::ClientConfig;

use crate::{Error, Result};

/// The longest namespace accepted, as for the other backends.
const MAX_NAMESPACE_LEN: usize = 64;

/// The longest topic name Kafka accepts.
const MAX_TOPIC_LEN: usize = 249;

/// Partitions of a work queue's topic unless the URL says otherwise.
const DEFAULT_PARTITIONS: i32 = 16;

/// Where the bus connects and how it names things on the broker.
#[derive(Debug, Clone)]
pub(crate) struct KafkaConfig {
    /// `host:port[,host:port...]`, librdkafka's `bootstrap.servers`.
    pub(crate) endpoint: String,
    /// Put before every topic: `NAME.` or nothing.
    prefix: String,
    /// Partitions of a work queue's topic.
    pub(crate) partitions: i32,
    /// Replicas of every topic created.
    pub(crate) replication: i32,
    /// Shown in the broker's logs as the client id.
    client_id: String,
}

impl KafkaConfig {
    /// Parses a bus URL.
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("kafka://")
            .ok_or_else(|| invalid(url, &"the URL must start with kafka://"))?;
        let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut namespace = None;
        let mut partitions = DEFAULT_PARTITIONS;
        let mut replication = 1;
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            match pair.split_once('=') {
                Some(("namespace", value)) => namespace = Some(decode_namespace(url, value)?),
                Some(("partitions", value)) => partitions = positive(url, "partitions", value)?,
                Some(("replication", value)) => replication = positive(url, "replication", value)?,
                _ => {
                    return Err(invalid(
                        url,
                        &format_args!(
                            "unknown parameter {pair:?} (known: namespace, partitions, replication)"
                        ),
                    ));
                }
            }
        }
        let mut brokers = Vec::new();
        for broker in base.trim_end_matches('/').split(',') {
            let broker = broker.trim().trim_start_matches("kafka://");
            if broker.contains('@') {
                return Err(invalid(
                    url,
                    &"credentials are not supported (SASL is not compiled in)",
                ));
            }
            let (host, port) = match broker.rsplit_once(':') {
                Some((host, port)) if !host.ends_with(']') || broker.starts_with('[') => {
                    let port: u16 = port
                        .parse()
                        .map_err(|_| invalid(url, &format_args!("bad port {port:?}")))?;
                    (host, port)
                }
                _ => (broker, 9092),
            };
            if host.is_empty() {
                return Err(invalid(url, &"a broker has no host"));
            }
            brokers.push(format!("{host}:{port}"));
        }
        let pid = std::process::id();
        let (prefix, client_id) = match &namespace {
            Some(ns) => (format!("{ns}."), format!("funcmesh-{ns}-{pid}")),
            None => (String::new(), format!("funcmesh-{pid}")),
        };
        Ok(Self {
            endpoint: brokers.join(","),
            prefix,
            partitions,
            replication,
            client_id,
        })
    }

    /// The topic of a queue.
    pub(crate) fn queue_topic(&self, queue: &str) -> String {
        self.topic_name("q.", queue)
    }

    /// The topic of a broadcast topic.
    pub(crate) fn broadcast_topic(&self, topic: &str) -> String {
        self.topic_name("t.", topic)
    }

    /// The topic where the consumers of a work queue say what they read.
    pub(crate) fn members_topic(&self, queue: &str) -> String {
        self.topic_name("m.", queue)
    }

    /// The topic that holds every declared queue's limits.
    pub(crate) fn registry_topic(&self) -> String {
        format!("{}funcmesh-queues", self.prefix)
    }

    fn topic_name(&self, kind: &str, name: &str) -> String {
        let full = format!("{}{kind}{}", self.prefix, encode(name));
        if full.len() <= MAX_TOPIC_LEN {
            return full;
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        full.hash(&mut hasher);
        let hash = format!(".{:016x}", hasher.finish());
        let mut keep = MAX_TOPIC_LEN - hash.len();
        while !full.is_char_boundary(keep) {
            keep -= 1;
        }
        format!("{}{hash}", &full[..keep])
    }

    /// Settings every client of this bus starts from.
    pub(crate) fn client(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.endpoint)
            .set("client.id", &self.client_id)
            // Reconnect quickly: 100 ms doubling to 1 s between attempts.
            .set("reconnect.backoff.ms", "100")
            .set("reconnect.backoff.max.ms", "1000")
            // Notice new and re-created topics within a second.
            .set("topic.metadata.refresh.interval.ms", "1000")
            .set("socket.keepalive.enable", "true");
        if let Ok(contexts) = std::env::var("FUNCMESH_KAFKA_DEBUG") {
            // librdkafka's debug contexts, such as `broker,metadata,fetch`.
            config
                .set("debug", contexts)
                .set_log_level(rdkafka::config::RDKafkaLogLevel::Debug);
        }
        config
    }

    /// Settings of the producer: every message is sent at once (no batching
    /// delay), to a random partition, and confirmed by every replica.
    pub(crate) fn producer(&self) -> ClientConfig {
        let mut config = self.client();
        config
            .set("linger.ms", "0")
            .set("sticky.partitioning.linger.ms", "0")
            .set("acks", "all")
            .set("enable.idempotence", "false")
            .set("message.timeout.ms", "10000");
        config
    }

    /// Settings of a consumer of a work queue's `topic`. It reads the
    /// partitions it is given (see `members`) and commits its offsets under
    /// the queue's group id, without joining the group.
    pub(crate) fn queue_consumer(&self, topic: &str) -> ClientConfig {
        let mut config = self.client();
        config
            .set("group.id", topic)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("allow.auto.create.topics", "false")
            // Answer a fetch as soon as anything arrives, and poll often.
            .set("fetch.wait.max.ms", "10")
            .set("fetch.min.bytes", "1");
        config
    }

    /// Settings of a consumer outside any group (listeners, readers of the
    /// registry, depth probes): it commits nothing.
    pub(crate) fn standalone_consumer(&self, group: &str) -> ClientConfig {
        let mut config = self.client();
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("allow.auto.create.topics", "false")
            .set("fetch.wait.max.ms", "10");
        config
    }

    /// A group id no other consumer uses.
    pub(crate) fn private_group(&self, purpose: &str) -> String {
        format!(
            "{}funcmesh-{purpose}-{:016x}",
            self.prefix,
            rand::random::<u64>()
        )
    }
}

/// Writes `name` with only the characters a topic name may hold.
fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'-' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("_{byte:02X}"));
        }
    }
    out
}

fn decode_namespace(url: &str, value: &str) -> Result<String> {
    let ns = urlencoding::decode(value)
        .map_err(|_| invalid(url, &"the namespace is not UTF-8"))?
        .into_owned();
    if ns.is_empty() || ns.len() > MAX_NAMESPACE_LEN {
        return Err(invalid(
            url,
            &format_args!("the namespace must be 1 to {MAX_NAMESPACE_LEN} characters"),
        ));
    }
    if !ns
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(invalid(
            url,
            &"the namespace may hold only letters, digits, '-' and '_'",
        ));
    }
    Ok(ns)
}

fn positive(url: &str, name: &str, value: &str) -> Result<i32> {
    match value.parse::<i32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(invalid(
            url,
            &format_args!("{name} must be a positive number, not {value:?}"),
        )),
    }
}

fn invalid(url: &str, why: &dyn std::fmt::Display) -> Error {
    Error::InvalidUrl(format!("bad kafka bus URL {url:?}: {why}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn parses_brokers_and_parameters() {
        let config =
            KafkaConfig::parse("kafka://a:9093,b?namespace=t1&partitions=4&replication=3").unwrap();
        assert_eq!(config.endpoint, "a:9093,b:9092");
        assert_eq!(config.partitions, 4);
        assert_eq!(config.replication, 3);
        assert_eq!(
            config.queue_topic("funcmesh.firehose"),
            "t1.q.funcmesh.firehose"
        );
        let plain = KafkaConfig::parse("kafka://127.0.0.1:9092").unwrap();
        assert_eq!(plain.partitions, DEFAULT_PARTITIONS);
        assert_eq!(plain.broadcast_topic("routes"), "t.routes");
        assert_eq!(plain.registry_topic(), "funcmesh-queues");
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        for url in [
            "kafka://u:p@a:9092",
            "kafka://a:port",
            "kafka://a?namespace=a.b",
            "kafka://a?partitions=0",
            "kafka://a?acks=1",
            "kafka://",
        ] {
            let error = KafkaConfig::parse(url).unwrap_err();
            assert!(matches!(error, Error::InvalidUrl(_)), "{url}: {error}");
        }
    }

    #[test]
    fn every_name_gets_a_topic_of_its_own() {
        let config = KafkaConfig::parse("kafka://a").unwrap();
        let func = config.queue_topic("funcmesh.func.api.example.com/v1");
        assert_eq!(func, "q.funcmesh.func.api.example.com_2Fv1");
        assert_ne!(config.queue_topic("a_b"), config.queue_topic("a/b"));
        assert_ne!(config.queue_topic("a_2Fb"), config.queue_topic("a/b"));
        let long = config.queue_topic(&"x".repeat(400));
        assert_eq!(long.len(), MAX_TOPIC_LEN);
        assert_ne!(long, config.queue_topic(&"x".repeat(401)));
    }
}
