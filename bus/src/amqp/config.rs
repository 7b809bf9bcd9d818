//! Reading an `amqp://` bus URL.
//!
//! `amqp://user:pass@host:5672/vhost?namespace=NAME&heartbeat=10`: the
//! `namespace` parameter is funcmesh's own and is taken out; everything else
//! is the broker's and goes to lapin.
//!
//! `amqps://user:pass@host:5671/vhost?cacertfile=ca.pem` is the same over
//! TLS (rustls), the broker's certificate checked against the system's
//! certificates and those of `cacertfile`, and its name against the URL's
//! host; `certfile` and `keyfile` present a client certificate
//! ([`TlsFiles`]).

use lapin::uri::AMQPUri;
use percent_encoding::utf8_percent_encode;
use url::{Host, Url};

use crate::bus_url::{self, COMPONENT, MAX_NAMESPACE_LEN, TlsFiles, redact};
use crate::{Error, Result};

/// The name of the work exchange after the namespace's prefix: every
/// namespace has one, which is how a namespace nested in another is seen.
pub(crate) const WORK_EXCHANGE: &str = "funcmesh.work";

/// Where the bus connects and how it names things on the broker.
#[derive(Debug, Clone)]
pub(crate) struct AmqpConfig {
    /// The broker address as lapin takes it.
    pub(crate) uri: AMQPUri,
    /// `host:port/vhost`, for logs and errors (never the password).
    pub(crate) endpoint: String,
    /// Put before every queue and exchange name: `NAME.` or nothing.
    prefix: String,
    /// The broker's host as a URL writes it (`[::1]` with brackets).
    pub(crate) host: String,
    /// Shown by `rabbitmqctl list_connections name`.
    pub(crate) connection_name: String,
    /// `Some` for `amqps://`: the TLS files its parameters name.
    pub(crate) tls: Option<TlsFiles>,
}

impl AmqpConfig {
    /// Parses a bus URL. The scheme must be `amqp` or `amqps`.
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let mut parsed = Url::parse(url).map_err(|error| invalid(url, &error))?;
        let secure = match parsed.scheme() {
            "amqp" => false,
            "amqps" => true,
            _ => return Err(invalid(url, &"the scheme must be amqp:// or amqps://")),
        };
        let mut namespace = None;
        let mut tls = TlsFiles::default();
        let mut kept = Vec::new();
        for (key, value) in parsed.query_pairs() {
            match &*key {
                "namespace" => namespace = Some(check_namespace(value.into_owned())?),
                _ if tls.take(&key, &value) => {}
                _ => kept.push((key.into_owned(), value.into_owned())),
            }
        }
        if !secure && !tls.is_empty() {
            return Err(invalid(
                url,
                &format_args!("{} need amqps://", TlsFiles::PARAMETERS),
            ));
        }
        if secure {
            tls.read().map_err(|why| invalid(url, &why))?;
        }
        match kept.is_empty() {
            true => parsed.set_query(None),
            false => {
                parsed.query_pairs_mut().clear().extend_pairs(&kept);
            }
        }
        let mut uri: AMQPUri = parsed
            .as_str()
            .parse()
            .map_err(|error| invalid(url, &error))?;
        // lapin takes the host from `Url::domain`, which an IP literal has
        // none of: it would connect to `localhost` instead of `[fd00::1]`.
        if let Some(Host::Ipv6(ip)) = parsed.host() {
            uri.authority.host = ip.to_string();
        }
        // `amqp://host/` names the empty vhost by the letter of the URI spec,
        // which no one means: both spellings mean the default vhost here.
        if uri.vhost.is_empty() {
            uri.vhost = "/".to_owned();
        }
        let endpoint = format!(
            "{}:{}/{}",
            bus_url::host(&parsed).unwrap_or(&uri.authority.host),
            uri.authority.port,
            utf8_percent_encode(&uri.vhost, COMPONENT)
        );
        let pid = std::process::id();
        let (prefix, connection_name) = match &namespace {
            Some(ns) => (format!("{ns}."), format!("funcmesh {ns} {pid}")),
            None => (String::new(), format!("funcmesh {pid}")),
        };
        let host = bus_url::host(&parsed)
            .unwrap_or(&uri.authority.host)
            .to_owned();
        Ok(Self {
            uri,
            endpoint,
            prefix,
            host,
            connection_name,
            tls: secure.then_some(tls),
        })
    }

    /// What every name of the namespace starts with (`NAME.`); `None`
    /// without a namespace.
    pub(crate) fn namespace_prefix(&self) -> Option<&str> {
        Some(self.prefix.as_str()).filter(|prefix| !prefix.is_empty())
    }

    /// The broker's name for the logical queue `name`.
    pub(crate) fn queue(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The topic exchange that carries broadcasts.
    pub(crate) fn control_exchange(&self) -> String {
        format!("{}funcmesh.control", self.prefix)
    }

    /// The direct exchange that every queue is published through, bound to
    /// each queue under the queue's own name, so that taps can bind too.
    pub(crate) fn work_exchange(&self) -> String {
        format!("{}{WORK_EXCHANGE}", self.prefix)
    }
}

/// A decoded namespace, if it is one.
fn check_namespace(ns: String) -> Result<String> {
    if !bus_url::namespace_ok(&ns, &['-', '_', '.']) {
        return Err(Error::InvalidUrl(format!(
            "invalid namespace {ns:?} in the bus URL: use 1 to {MAX_NAMESPACE_LEN} letters, digits, '-', '_' or '.'"
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
    fn namespace_is_taken_out_and_prefixes_names() {
        let c = AmqpConfig::parse("amqp://u:p@h:5673/v?namespace=t-1&heartbeat=7").unwrap();
        assert_eq!(c.queue("rpc.x"), "t-1.rpc.x");
        assert_eq!(c.control_exchange(), "t-1.funcmesh.control");
        assert_eq!(c.work_exchange(), "t-1.funcmesh.work");
        assert_eq!(c.uri.query.heartbeat, Some(7));
        assert_eq!(c.uri.authority.port, 5673);
        assert_eq!(c.uri.vhost, "v");
        assert_eq!(c.endpoint, "h:5673/v");
        assert!(c.connection_name.starts_with("funcmesh t-1 "));
    }

    #[test]
    fn no_namespace_means_bare_names_and_default_vhost() {
        let c = AmqpConfig::parse("amqp://guest:guest@127.0.0.1:5672/").unwrap();
        assert_eq!(c.queue("q"), "q");
        assert_eq!(c.control_exchange(), "funcmesh.control");
        assert_eq!(c.work_exchange(), "funcmesh.work");
        assert_eq!(c.uri.vhost, "/");
        let c = AmqpConfig::parse("amqp://127.0.0.1/%2f").unwrap();
        assert_eq!(c.uri.vhost, "/");
        assert_eq!(c.endpoint, "127.0.0.1:5672/%2F");
    }

    #[test]
    fn bad_namespaces_and_schemes_are_refused() {
        for url in [
            "amqp://h/?namespace=",
            "amqp://h/?namespace=a%20b",
            "amqp://h/?namespace=a*",
            "amqp://h/?namespace=a+b",
            "amqp://h/?namespace=%FF",
            "amqp://h/?cacertfile=/etc/ssl/certs/ca-certificates.crt",
            "amqps://h/?cacertfile=/nonexistent/ca.pem",
            "amqps://h/?certfile=/etc/ssl/certs/ca-certificates.crt",
            "nats://h/",
            "h:5672",
        ] {
            assert!(AmqpConfig::parse(url).is_err(), "{url}");
        }
    }

    #[test]
    fn amqps_takes_its_tls_files_out_and_defaults_to_port_5671() {
        let c = AmqpConfig::parse(
            "amqps://u:p@h/v?cacertfile=%2Ftmp%2Fca.pem&heartbeat=2&certfile=c&keyfile=k",
        )
        .map(|c| c.tls);
        // Files that do not exist are refused when the URL is read.
        assert!(c.is_err());
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let url = format!("amqps://u:p@h/v?cacertfile={}&heartbeat=2", ca.display());
        let c = AmqpConfig::parse(&url).unwrap();
        assert_eq!(c.tls.as_ref().and_then(|t| t.ca.clone()), Some(ca));
        assert_eq!(c.uri.authority.port, 5671);
        assert_eq!(c.uri.query.heartbeat, Some(2));
        assert_eq!(c.uri.scheme, lapin::uri::AMQPScheme::AMQPS);
        assert!(AmqpConfig::parse("amqps://h/").unwrap().tls.is_some());
        let text = dir.path().join("not.pem");
        std::fs::write(&text, "hello").unwrap();
        let url = format!("amqps://h/?cacertfile={}", text.display());
        let err = AmqpConfig::parse(&url).unwrap_err().to_string();
        assert!(err.contains("holds no PEM block"), "{err}");
        assert!(AmqpConfig::parse("amqp://h/").unwrap().tls.is_none());
    }

    #[test]
    fn ipv6_hosts_and_encoded_credentials_reach_lapin() {
        let c = AmqpConfig::parse("amqp://u%3Ax:p%40ss%2Fw@[::1]:5673/%2f?heartbeat=3").unwrap();
        assert_eq!(c.uri.authority.host, "::1");
        assert_eq!(c.uri.authority.port, 5673);
        assert_eq!(c.uri.authority.userinfo.username, "u:x");
        assert_eq!(c.uri.authority.userinfo.password, "p@ss/w");
        assert_eq!(c.uri.query.heartbeat, Some(3));
        assert_eq!(c.endpoint, "[::1]:5673/%2F");
        let c = AmqpConfig::parse("amqp://rabbit.local").unwrap();
        assert_eq!(c.uri.authority.host, "rabbit.local");
        assert_eq!(c.uri.authority.port, 5672);
        assert_eq!(c.uri.vhost, "/");
        assert_eq!(c.endpoint, "rabbit.local:5672/%2F");
    }

    #[test]
    fn broker_parameters_stay_and_the_namespace_is_decoded() {
        let c = AmqpConfig::parse(
            "amqp://h/v?channel_max=9&namespace=a%2Eb&heartbeat=4&auth_mechanism=amqplain",
        )
        .unwrap();
        assert_eq!(c.queue("q"), "a.b.q");
        assert_eq!(c.uri.query.channel_max, Some(9));
        assert_eq!(c.uri.query.heartbeat, Some(4));
        assert_eq!(
            c.uri.query.auth_mechanism,
            Some(lapin::uri::SASLMechanism::AMQPlain)
        );
        assert_eq!(c.uri.vhost, "v");
        let err = AmqpConfig::parse("amqp://h/?heartbeat=soon").unwrap_err();
        assert!(
            err.to_string().contains("invalid bus URL amqp://h/"),
            "{err}"
        );
    }

    #[test]
    fn errors_never_show_the_password() {
        let err = AmqpConfig::parse("amqp://user:secret@h:notaport/").unwrap_err();
        assert!(matches!(err, Error::InvalidUrl(_)), "{err:?}");
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(err.to_string().contains("***@h:notaport"), "{err}");
        let err = AmqpConfig::parse("amqp://user:secret@h/?namespace=a*").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        let err = AmqpConfig::parse("amqp://user:secret@h/?heartbeat=x").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(err.to_string().contains("amqp://***@h/"), "{err}");
    }
}
