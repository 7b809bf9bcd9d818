//! Reading a `kafka://` bus URL, naming things on the broker, and the
//! client settings that every producer and consumer shares.
//!
//! `kafka://[user:password@]host[:port][,host2[:port]...][?namespace=NAME&partitions=N&replication=R]`:
//! the bootstrap brokers of one cluster (the port defaults to 9092), funcmesh's
//! own `namespace`, the partitions of each work queue's topic (16 by default:
//! the most runners that can share one queue) and the replication factor of
//! new topics (1 by default).
//!
//! TLS: `tls=true`, or any of `cacertfile`, `certfile` and `keyfile` (the
//! names of RabbitMQ's URI spec, as on the other buses). With `cacertfile`
//! the brokers' certificates must chain to it (librdkafka trusts that CA
//! alone); without it, to the system's. The broker's name is checked
//! against its certificate. The files are read when the bus opens (a
//! missing or unreadable one is an error then) and again for every client
//! the bus makes, falling back to what was read at open.
//!
//! SASL: a user and password in the first broker's address, with
//! `sasl_mechanism` `SCRAM-SHA-512` (the default), `SCRAM-SHA-256` or
//! `PLAIN`. Without TLS the password would cross the network as the
//! mechanism sends it, so credentials need TLS unless the URL says
//! `tls=false` in so many words.
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

use crate::bus_url::{self, MAX_NAMESPACE_LEN, TlsFiles, TlsPem, redact};
use crate::{Error, Result};

/// The most messages a producer puts in one record batch. A consumer that
/// takes a partition on from a committed position reads from this many
/// messages before it, so that it is given the batch that holds the
/// position even by a broker that answers a fetch with whole batches
/// starting at or after the offset asked (tansu 0.6 does; Kafka gives the
/// batch that holds it), and drops what comes before the position.
pub(crate) const MAX_BATCH: i64 = 64;

/// The longest topic name Kafka accepts.
const MAX_TOPIC_LEN: usize = 249;

/// The port of a broker whose address names none.
const DEFAULT_PORT: u16 = 9092;

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
    /// TLS to the brokers: the files, and what they held when the bus
    /// opened.
    tls: Option<(TlsFiles, TlsPem)>,
    /// SASL: the mechanism, user and password.
    sasl: Option<Sasl>,
}

/// SASL credentials.
#[derive(Clone)]
struct Sasl {
    mechanism: &'static str,
    user: String,
    password: String,
}

impl std::fmt::Debug for Sasl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sasl({}, {}, ***)", self.mechanism, self.user)
    }
}

impl KafkaConfig {
    /// Parses a bus URL.
    pub(crate) fn parse(url: &str) -> Result<Self> {
        if !url.starts_with("kafka://") {
            return Err(invalid(url, &"the URL must start with kafka://"));
        }
        let mut namespace = None;
        let mut partitions = DEFAULT_PARTITIONS;
        let mut replication = 1;
        let mut brokers = Vec::new();
        let mut files = TlsFiles::default();
        let mut tls = None;
        let mut mechanism = None;
        let mut credentials = None;
        // One URL per broker: the `url` crate would read `a:9093,b` as one
        // host and port.
        let count = url.split(',').count();
        for (index, text) in url.split(',').enumerate() {
            let broker = match bus_url::server(text, "kafka") {
                Ok(broker) if broker.scheme() == "kafka" => broker,
                Ok(_) => return Err(invalid(url, &"every broker must be a kafka:// address")),
                Err(url::ParseError::InvalidPort) => {
                    return Err(invalid(url, &format_args!("bad port in {:?}", text.trim())));
                }
                Err(error) => return Err(invalid(url, &error)),
            };
            if !broker.username().is_empty() || broker.password().is_some() {
                if index > 0 {
                    return Err(invalid(
                        url,
                        &"credentials go in the first broker's address",
                    ));
                }
                let decode = |text: &str| {
                    percent_encoding::percent_decode_str(text)
                        .decode_utf8()
                        .map(|t| t.into_owned())
                        .map_err(|_| invalid(url, &"the credentials are not UTF-8"))
                };
                credentials = Some((
                    decode(broker.username())?,
                    decode(broker.password().unwrap_or_default())?,
                ));
            }
            if !broker.path().trim_matches('/').is_empty() {
                return Err(invalid(url, &"a broker address has no path"));
            }
            if broker.query().is_some() && index + 1 < count {
                return Err(invalid(url, &"parameters go after the last broker"));
            }
            for (key, value) in broker.query_pairs() {
                match &*key {
                    "namespace" => namespace = Some(check_namespace(url, value.into_owned())?),
                    "partitions" => partitions = positive(url, "partitions", &value)?,
                    "replication" => replication = positive(url, "replication", &value)?,
                    "tls" => {
                        tls = Some(match &*value {
                            "true" => true,
                            "false" => false,
                            _ => return Err(invalid(url, &"tls is true or false")),
                        });
                    }
                    "sasl_mechanism" => {
                        mechanism = Some(match &*value {
                            "SCRAM-SHA-512" => "SCRAM-SHA-512",
                            "SCRAM-SHA-256" => "SCRAM-SHA-256",
                            "PLAIN" => "PLAIN",
                            _ => {
                                return Err(invalid(
                                    url,
                                    &"sasl_mechanism is SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN",
                                ));
                            }
                        });
                    }
                    key if files.take(key, &value) => {}
                    _ => {
                        return Err(invalid(
                            url,
                            &format_args!(
                                "unknown parameter {key:?} (known: namespace, partitions, replication, tls, {}, sasl_mechanism)",
                                TlsFiles::PARAMETERS
                            ),
                        ));
                    }
                }
            }
            let Some(host) = bus_url::host(&broker) else {
                return Err(invalid(url, &"a broker has no host"));
            };
            brokers.push(format!("{host}:{}", broker.port().unwrap_or(DEFAULT_PORT)));
        }
        let asked = tls;
        let tls = match (tls, files.is_empty()) {
            (Some(false), false) => {
                return Err(invalid(url, &"tls=false with TLS files"));
            }
            (Some(on), _) => on,
            (None, empty) => !empty,
        };
        let tls = match tls {
            true => Some({
                let pem = files.read().map_err(|why| invalid(url, &why))?;
                (files, pem)
            }),
            false => None,
        };
        let sasl = match credentials {
            Some((user, password)) => {
                if tls.is_none() && asked != Some(false) {
                    return Err(invalid(
                        url,
                        &"credentials without TLS: add tls=true (or tls=false to send them in the clear)",
                    ));
                }
                Some(Sasl {
                    mechanism: mechanism.unwrap_or("SCRAM-SHA-512"),
                    user,
                    password,
                })
            }
            None if mechanism.is_some() => {
                return Err(invalid(url, &"sasl_mechanism without a user and password"));
            }
            None => None,
        };
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
            tls,
            sasl,
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

    /// What every name of the namespace starts with (`NAME.`); `None`
    /// without a namespace.
    pub(crate) fn namespace_prefix(&self) -> Option<&str> {
        Some(self.prefix.as_str()).filter(|prefix| !prefix.is_empty())
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
        let protocol = match (&self.tls, &self.sasl) {
            (None, None) => "plaintext",
            (Some(_), None) => "ssl",
            (None, Some(_)) => "sasl_plaintext",
            (Some(_), Some(_)) => "sasl_ssl",
        };
        config.set("security.protocol", protocol);
        if let Some((files, opened)) = &self.tls {
            let pem = files.read().unwrap_or_else(|why| {
                tracing::warn!(%why, "kafka TLS files: keeping what was read when the bus opened");
                opened.clone()
            });
            match &pem.ca {
                Some(ca) => config.set("ssl.ca.pem", ca),
                None => config.set("ssl.ca.location", "probe"),
            };
            if let Some((chain, key)) = &pem.identity {
                config
                    .set("ssl.certificate.pem", String::from_utf8_lossy(chain))
                    .set("ssl.key.pem", String::from_utf8_lossy(key));
            }
        }
        if let Some(sasl) = &self.sasl {
            config
                .set("sasl.mechanism", sasl.mechanism)
                .set("sasl.username", &sasl.user)
                .set("sasl.password", &sasl.password);
        }
        if let Ok(contexts) = std::env::var("FUNCMESH_KAFKA_DEBUG") {
            // librdkafka's debug contexts, such as `broker,metadata,fetch`.
            config
                .set("debug", contexts)
                .set_log_level(rdkafka::config::RDKafkaLogLevel::Debug);
        }
        config
    }

    /// Settings of the producer: every message is sent at once (no batching
    /// delay), to a random partition, and confirmed by every replica; what
    /// queued meanwhile goes in batches of at most [`MAX_BATCH`].
    pub(crate) fn producer(&self) -> ClientConfig {
        let mut config = self.client();
        config
            .set("batch.num.messages", MAX_BATCH.to_string())
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

/// A decoded namespace, if it is one.
fn check_namespace(url: &str, ns: String) -> Result<String> {
    if ns.is_empty() || ns.len() > MAX_NAMESPACE_LEN {
        return Err(invalid(
            url,
            &format_args!("the namespace must be 1 to {MAX_NAMESPACE_LEN} characters"),
        ));
    }
    if !bus_url::namespace_ok(&ns, &['-', '_']) {
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
    Error::InvalidUrl(format!("bad kafka bus URL {:?}: {why}", redact(url)))
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
    fn accepts_every_spelling_of_a_broker_list() {
        for (url, endpoint) in [
            ("kafka://a/", "a:9092"),
            ("kafka://a, kafka://b:9094/", "a:9092,b:9094"),
            ("kafka://[::1]", "[::1]:9092"),
            (
                "kafka://[::1]:9093,[fd00::2]:9094",
                "[::1]:9093,[fd00::2]:9094",
            ),
            ("kafka://a?namespace=t%2D1", "a:9092"),
        ] {
            let config = KafkaConfig::parse(url).unwrap();
            assert_eq!(config.endpoint, endpoint, "{url}");
        }
        let config = KafkaConfig::parse("kafka://a?namespace=t%2D1").unwrap();
        assert_eq!(config.registry_topic(), "t-1.funcmesh-queues");
    }

    #[test]
    fn errors_never_show_credentials() {
        let error = KafkaConfig::parse("kafka://user:secret@a:9092").unwrap_err();
        assert!(!error.to_string().contains("secret"), "{error}");
        assert!(error.to_string().contains("without TLS"), "{error}");
        let config = KafkaConfig::parse("kafka://user:secret@a:9092?tls=false").unwrap();
        assert!(!format!("{config:?}").contains("secret"));
        let error = KafkaConfig::parse("kafka://a:port").unwrap_err();
        assert!(error.to_string().contains("bad port"), "{error}");
    }

    #[test]
    fn tls_and_sasl_become_librdkafka_settings() {
        let get = |url: &str, key: &str| {
            let config = KafkaConfig::parse(url).unwrap().client();
            config.get(key).map(str::to_owned)
        };
        let plain = "kafka://a";
        assert_eq!(
            get(plain, "security.protocol").as_deref(),
            Some("plaintext")
        );
        assert_eq!(get(plain, "sasl.mechanism"), None);
        let tls = "kafka://a?tls=true";
        assert_eq!(get(tls, "security.protocol").as_deref(), Some("ssl"));
        assert_eq!(get(tls, "ssl.ca.location").as_deref(), Some("probe"));
        let scram = "kafka://alice:s%40id@a?tls=true";
        assert_eq!(get(scram, "security.protocol").as_deref(), Some("sasl_ssl"));
        assert_eq!(
            get(scram, "sasl.mechanism").as_deref(),
            Some("SCRAM-SHA-512")
        );
        assert_eq!(get(scram, "sasl.username").as_deref(), Some("alice"));
        assert_eq!(get(scram, "sasl.password").as_deref(), Some("s@id"));
        let clear = "kafka://alice:pw@a?tls=false&sasl_mechanism=PLAIN";
        assert_eq!(
            get(clear, "security.protocol").as_deref(),
            Some("sasl_plaintext")
        );
        assert_eq!(get(clear, "sasl.mechanism").as_deref(), Some("PLAIN"));
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        std::fs::write(&ca, pem).unwrap();
        let with_ca = format!("kafka://a?cacertfile={}", ca.display());
        assert_eq!(get(&with_ca, "security.protocol").as_deref(), Some("ssl"));
        assert!(get(&with_ca, "ssl.ca.pem").unwrap().contains("MIIB"));
        assert_eq!(get(&with_ca, "ssl.ca.location"), None);
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        for url in [
            "kafka://u:p@a:9092",
            "kafka://a?tls=maybe",
            "kafka://a?tls=false&cacertfile=/etc/hostname",
            "kafka://a?cacertfile=/nonexistent.pem",
            "kafka://a?certfile=/etc/hostname",
            "kafka://a?sasl_mechanism=PLAIN",
            "kafka://u:p@a?tls=true&sasl_mechanism=GSSAPI",
            "kafka://a,u:p@b?tls=true",
            "kafka://a:port",
            "kafka://a?namespace=a.b",
            "kafka://a?partitions=0",
            "kafka://a?acks=1",
            "kafka://",
            "kafka://a,,b",
            "kafka://a:70000",
            "kafka://a/x",
            "kafka://a?namespace=x,b",
            "kafka://a?namespace=%FF",
            "kafka://a?replication=-1",
            "kafka://a,nats://b",
            "nats://a",
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
