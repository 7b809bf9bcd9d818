//! Reading a `nats://` bus URL, and naming things on the server.
//!
//! `nats://[user:pass@]host[:port][,nats://host2[:port]...][?namespace=NAME]`:
//! one or more servers of one cluster, and funcmesh's own `namespace`
//! parameter. A server written `tls://` must speak TLS (rustls), its
//! certificate checked against the system's certificates and those of the
//! `cacertfile` parameter; `certfile` and `keyfile` present a client
//! certificate ([`TlsFiles`]). A `nats://` server that requires TLS gets it
//! too, under the same files. The port defaults to 4222. `nats://TOKEN@host` authenticates
//! with a token. Credentials are percent-decoded and handed to the client
//! apart from the addresses, which async-nats reads none from.
//!
//! Names on the server:
//!
//! | what | subject or name |
//! |---|---|
//! | work queue `Q` | subject `<ns>.funcmesh.q.<Q>`, stream [`stream_name`](NatsConfig::stream_name) |
//! | reply queue `Q` | subject `<ns>.funcmesh.r.<Q>` (core NATS, no stream) |
//! | topic `T` | subject `<ns>.funcmesh.control.<T>` |
//!
//! Queue names and topics are dot-separated like subjects, and each of their
//! tokens is carried over as it is when it consists of printable ASCII other
//! than `*`, `>` and `%`. Any other byte is written `%XX` and an empty token
//! is written `%`, so every name gets a subject of its own and none becomes a
//! wildcard by accident.

use async_nats::ServerAddr;
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use url::Url;

use crate::bus_url::{self, MAX_NAMESPACE_LEN, TlsFiles, redact};
use crate::{Error, Result};

/// How much of a queue's name is kept, readable, in its stream's name.
const STREAM_NAME_READABLE_LEN: usize = 64;

/// The port of a server whose URL names none.
const DEFAULT_PORT: u16 = 4222;

/// What a subject token may not hold as it is (see the module docs); bytes
/// outside ASCII are always encoded.
const SUBJECT_TOKEN: &AsciiSet = &CONTROLS.add(b' ').add(b'*').add(b'>').add(b'%');

/// Where the bus connects and how it names things on the server.
#[derive(Debug, Clone)]
pub(crate) struct NatsConfig {
    /// The servers to connect to, without credentials.
    pub(crate) servers: Vec<ServerAddr>,
    /// The credentials in the URL. async-nats ignores those in a server's
    /// address: they are handed to it apart.
    pub(crate) credentials: Option<Credentials>,
    /// `host:port[,host:port...]`, for logs and errors (never a password).
    pub(crate) endpoint: String,
    /// Put before every subject: `NAME.` or nothing.
    prefix: String,
    /// Shown in the server's connection list (`/connz`).
    pub(crate) connection_name: String,
    /// The TLS files the parameters name.
    pub(crate) tls: TlsFiles,
    /// Whether a server was written `tls://`: then every connection is TLS.
    pub(crate) require_tls: bool,
}

/// How the client authenticates, from a server's user info, decoded.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Credentials {
    /// `nats://user:password@host`.
    User {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// `nats://token@host`.
    Token(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::User { user, .. } => write!(f, "User({user:?}, ***)"),
            Self::Token(_) => f.write_str("Token(***)"),
        }
    }
}

impl NatsConfig {
    /// Parses a bus URL. Every server's scheme must be `nats` or `tls`.
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let mut namespace = None;
        let mut tls = TlsFiles::default();
        let mut require_tls = false;
        let mut credentials = None;
        let mut servers = Vec::new();
        let mut endpoints = Vec::new();
        // One URL per server: the `url` crate would read `a:1,nats://b` as
        // one host and port.
        let count = url.split(',').count();
        for (index, text) in url.split(',').enumerate() {
            let mut server = match Url::parse(text.trim()) {
                Ok(server) if server.scheme() == "nats" => server,
                Ok(server) if server.scheme() == "tls" => {
                    require_tls = true;
                    server
                }
                Ok(_) | Err(url::ParseError::RelativeUrlWithoutBase) => {
                    return Err(invalid(
                        url,
                        &"every server must be a nats:// or tls:// URL",
                    ));
                }
                Err(error) => return Err(invalid(url, &error)),
            };
            if server.query().is_some() && index + 1 < count {
                return Err(invalid(url, &"parameters go after the last server"));
            }
            for (key, value) in server.query_pairs() {
                match &*key {
                    "namespace" => namespace = Some(check_namespace(value.into_owned())?),
                    _ if tls.take(&key, &value) => {}
                    _ => {
                        return Err(invalid(
                            url,
                            &format_args!(
                                "unknown parameter {key:?} (known: namespace, {})",
                                TlsFiles::PARAMETERS
                            ),
                        ));
                    }
                }
            }
            server.set_query(None);
            let Some(host) = bus_url::host(&server) else {
                return Err(invalid(url, &"a server has no host"));
            };
            endpoints.push(format!("{host}:{}", server.port().unwrap_or(DEFAULT_PORT)));
            if let Some(found) = take_credentials(url, &mut server)? {
                match &credentials {
                    Some(known) if *known != found => {
                        return Err(invalid(url, &"the servers name different credentials"));
                    }
                    _ => credentials = Some(found),
                }
            }
            servers.push(ServerAddr::from_url(server).map_err(|error| invalid(url, &error))?);
        }
        tls.read().map_err(|why| invalid(url, &why))?;
        let pid = std::process::id();
        let (prefix, connection_name) = match &namespace {
            Some(ns) => (format!("{ns}."), format!("funcmesh {ns} {pid}")),
            None => (String::new(), format!("funcmesh {pid}")),
        };
        Ok(Self {
            servers,
            credentials,
            endpoint: endpoints.join(","),
            prefix,
            connection_name,
            tls,
            require_tls,
        })
    }

    /// What every name of the namespace starts with (`NAME.`); `None`
    /// without a namespace.
    pub(crate) fn namespace_prefix(&self) -> Option<&str> {
        Some(self.prefix.as_str()).filter(|prefix| !prefix.is_empty())
    }

    /// What the subject of every work queue's stream starts with.
    pub(crate) fn work_subjects(&self) -> String {
        format!("{}funcmesh.q.", self.prefix)
    }

    /// The subject that a work queue's stream captures.
    pub(crate) fn work_subject(&self, queue: &str) -> String {
        format!("{}funcmesh.q.{}", self.prefix, encode(queue, false))
    }

    /// The core NATS subject of a reply queue.
    pub(crate) fn reply_subject(&self, queue: &str) -> String {
        format!("{}funcmesh.r.{}", self.prefix, encode(queue, false))
    }

    /// The subject of a topic. When `listening`, a token that is exactly `*`
    /// or `>` stays a wildcard.
    pub(crate) fn topic_subject(&self, topic: &str, listening: bool) -> String {
        format!(
            "{}funcmesh.control.{}",
            self.prefix,
            encode(topic, listening)
        )
    }

    /// The JetStream stream of a work queue. Stream names may hold neither
    /// `.`, `*`, `>` nor white space: every character outside `[A-Za-z0-9_-]`
    /// becomes `_`, and a hash of the full name follows, so that two queues
    /// never share a stream (`a.b` and `a_b` both read `a_b`).
    pub(crate) fn stream_name(&self, queue: &str) -> String {
        let full = format!("{}{queue}", self.prefix);
        let readable: String = full
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(STREAM_NAME_READABLE_LEN)
            .collect();
        format!("{readable}-{:016x}", fnv1a(full.as_bytes()))
    }
}

/// Writes a dot-separated name as subject tokens (see the module docs).
fn encode(name: &str, wildcards: bool) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, token) in name.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        match token {
            "" => out.push('%'),
            "*" | ">" if wildcards => out.push_str(token),
            _ => out.extend(utf8_percent_encode(token, SUBJECT_TOKEN)),
        }
    }
    out
}

/// 64-bit FNV-1a: stable across builds and platforms, which stream names
/// need (the standard library's hashers promise neither).
fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// The user info of `server`, decoded, taken out of it.
fn take_credentials(url: &str, server: &mut Url) -> Result<Option<Credentials>> {
    let decode = |text: &str| {
        percent_decode_str(text)
            .decode_utf8()
            .map(|text| text.into_owned())
            .map_err(|_| invalid(url, &"the credentials are not UTF-8"))
    };
    let user = decode(server.username())?;
    let found = match server.password() {
        Some(password) => Some(Credentials::User {
            user,
            password: decode(password)?,
        }),
        None if user.is_empty() => None,
        None => Some(Credentials::Token(user)),
    };
    // Neither fails on a URL with a host.
    let _ = server.set_password(None);
    let _ = server.set_username("");
    Ok(found)
}

/// A decoded namespace, if it is one: one or more subject tokens.
fn check_namespace(ns: String) -> Result<String> {
    let tokens_ok = ns.split('.').all(|token| !token.is_empty());
    if !bus_url::namespace_ok(&ns, &['-', '_', '.']) || !tokens_ok {
        return Err(Error::InvalidUrl(format!(
            "invalid namespace {ns:?} in the bus URL: use 1 to {MAX_NAMESPACE_LEN} letters, digits, '-', '_' or '.' (not at either end, not twice in a row)"
        )));
    }
    Ok(ns)
}

fn invalid(url: &str, why: &dyn std::fmt::Display) -> Error {
    Error::InvalidUrl(format!("invalid bus URL {}: {why}", redact(url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_is_taken_out_and_prefixes_every_name() {
        let c = NatsConfig::parse("nats://h:4223?namespace=t-1").unwrap();
        assert_eq!(c.endpoint, "h:4223");
        assert_eq!(c.work_subject("rpc.x"), "t-1.funcmesh.q.rpc.x");
        assert_eq!(c.reply_subject("reply.g1"), "t-1.funcmesh.r.reply.g1");
        assert_eq!(
            c.topic_subject("runner.stats", false),
            "t-1.funcmesh.control.runner.stats"
        );
        assert!(c.stream_name("rpc.x").starts_with("t-1_rpc_x-"));
        assert!(c.connection_name.starts_with("funcmesh t-1 "));
    }

    #[test]
    fn no_namespace_means_bare_names_and_the_default_port() {
        let c = NatsConfig::parse("nats://127.0.0.1").unwrap();
        assert_eq!(c.endpoint, "127.0.0.1:4222");
        assert_eq!(c.work_subject("q"), "funcmesh.q.q");
        assert!(c.connection_name.starts_with("funcmesh "));
    }

    #[test]
    fn tls_servers_require_tls_and_the_files_are_taken_out() {
        let c = NatsConfig::parse("nats://h,tls://g:4443").unwrap();
        assert!(c.require_tls);
        assert_eq!(c.endpoint, "h:4222,g:4443");
        assert!(!NatsConfig::parse("nats://h").unwrap().require_tls);
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let c =
            NatsConfig::parse(&format!("tls://h?namespace=x&cacertfile={}", ca.display())).unwrap();
        assert_eq!(c.tls.ca, Some(ca));
        assert_eq!(c.work_subject("q"), "x.funcmesh.q.q");
    }

    #[test]
    fn several_servers_make_one_cluster() {
        let c = NatsConfig::parse("nats://a:1,nats://u:p@b:2?namespace=x").unwrap();
        assert_eq!(c.servers.len(), 2);
        assert_eq!(c.endpoint, "a:1,b:2");
    }

    #[test]
    fn ipv6_hosts_keep_their_brackets_in_the_endpoint() {
        let c = NatsConfig::parse("nats://[::1]:4223,nats://[fd00::2]").unwrap();
        assert_eq!(c.endpoint, "[::1]:4223,[fd00::2]:4222");
        assert_eq!(c.servers[0].host(), "::1");
        assert_eq!(c.servers[1].port(), 4222);
    }

    #[test]
    fn credentials_are_decoded_and_taken_out_of_the_addresses() {
        let c = NatsConfig::parse("nats://a,nats://u%3Ax:p%40ss%2Cw@b:2?namespace=x").unwrap();
        assert_eq!(
            c.credentials,
            Some(Credentials::User {
                user: "u:x".to_owned(),
                password: "p@ss,w".to_owned()
            })
        );
        assert!(c.servers.iter().all(|s| !s.has_user_pass()), "{c:?}");
        assert!(!format!("{c:?}").contains("p@ss"), "{c:?}");
        let c = NatsConfig::parse("nats://s3cr%2Bt@h").unwrap();
        assert_eq!(c.credentials, Some(Credentials::Token("s3cr+t".to_owned())));
        assert!(!format!("{c:?}").contains("s3cr"), "{c:?}");
        assert_eq!(NatsConfig::parse("nats://h").unwrap().credentials, None);
        let same = NatsConfig::parse("nats://u:p@a,nats://u:p@b").unwrap();
        assert_eq!(same.servers.len(), 2);
    }

    #[test]
    fn bad_urls_are_refused() {
        for url in [
            "nats://h?namespace=",
            "nats://h?namespace=a%20b",
            "nats://h?namespace=a*",
            "nats://h?namespace=.a",
            "nats://h?namespace=a..b",
            "nats://h?heartbeat=3",
            "nats+tls://h",
            "https://h",
            "tls://h?cacertfile=/nonexistent/ca.pem",
            "tls://h?keyfile=/nonexistent/key.pem",
            "nats://h:notaport",
            "nats://",
            "nats://h?namespace",
            "nats://h?namespace=a+b",
            "nats://a?namespace=x,nats://b",
            "nats://u:p@a,nats://u:q@b",
            "nats://u:%FF@a",
            "h:4222",
            "h",
        ] {
            let err = NatsConfig::parse(url).unwrap_err();
            assert!(matches!(err, Error::InvalidUrl(_)), "{url}: {err:?}");
        }
    }

    #[test]
    fn errors_never_show_a_password() {
        let err = NatsConfig::parse("nats://user:secret@h:notaport").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(err.to_string().contains("***@h:notaport"), "{err}");
    }

    #[test]
    fn names_become_subject_tokens_without_wildcards() {
        let c = NatsConfig::parse("nats://h").unwrap();
        assert_eq!(
            c.work_subject("funcmesh.func.ab12"),
            "funcmesh.q.funcmesh.func.ab12"
        );
        assert_eq!(c.work_subject("a b"), "funcmesh.q.a%20b");
        assert_eq!(c.work_subject("a.*.>"), "funcmesh.q.a.%2A.%3E");
        assert_eq!(c.work_subject("100%"), "funcmesh.q.100%25");
        assert_eq!(c.work_subject(".a..b."), "funcmesh.q.%.a.%.b.%");
        assert_eq!(c.work_subject("é"), "funcmesh.q.%C3%A9");
        assert_eq!(c.work_subject("a\tb\u{7f}~"), "funcmesh.q.a%09b%7F~");
        assert_eq!(
            c.topic_subject("routes.*", true),
            "funcmesh.control.routes.*"
        );
        assert_eq!(
            c.topic_subject("routes.*", false),
            "funcmesh.control.routes.%2A"
        );
        assert_eq!(c.topic_subject("a.>", true), "funcmesh.control.a.>");
    }

    #[test]
    fn stream_names_are_valid_and_never_shared() {
        let c = NatsConfig::parse("nats://h?namespace=ns.1").unwrap();
        let names = ["a.b", "a_b", "a b", "a*b", "a>b", &"x".repeat(300)];
        let streams: std::collections::BTreeSet<String> =
            names.iter().map(|n| c.stream_name(n)).collect();
        assert_eq!(streams.len(), names.len());
        for stream in &streams {
            assert!(
                stream
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'),
                "{stream}"
            );
            assert!(stream.len() <= STREAM_NAME_READABLE_LEN + 17, "{stream}");
        }
        // Stable: the same name gives the same stream in every process.
        assert_eq!(
            c.stream_name("a.b"),
            format!("ns_1_a_b-{:016x}", fnv1a(b"ns.1.a.b"))
        );
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
