//! Reading an `amqp://` bus URL.
//!
//! `amqp://user:pass@host:5672/vhost?namespace=NAME&heartbeat=10`: the
//! `namespace` parameter is funcmesh's own and is taken out; everything else
//! is the broker's and goes to lapin unchanged.

use lapin::uri::{AMQPScheme, AMQPUri};

use crate::{Error, Result};

/// The longest namespace accepted, so that prefixed names stay well under
/// AMQP's 255-byte limit on queue names.
const MAX_NAMESPACE_LEN: usize = 64;

/// Where the bus connects and how it names things on the broker.
#[derive(Debug, Clone)]
pub(crate) struct AmqpConfig {
    /// The broker address as lapin takes it.
    pub(crate) uri: AMQPUri,
    /// `host:port/vhost`, for logs and errors (never the password).
    pub(crate) endpoint: String,
    /// Put before every queue and exchange name: `NAME.` or nothing.
    prefix: String,
    /// Shown by `rabbitmqctl list_connections name`.
    pub(crate) connection_name: String,
}

impl AmqpConfig {
    /// Parses a bus URL. The scheme must be `amqp`.
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut namespace = None;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            match pair.split_once('=') {
                Some(("namespace", value)) => namespace = Some(decode_namespace(value)?),
                _ => kept.push(pair),
            }
        }
        let lapin_url = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut uri: AMQPUri = lapin_url.parse().map_err(|error| invalid(url, &error))?;
        if uri.scheme != AMQPScheme::AMQP {
            return Err(invalid(url, &"the scheme must be amqp://"));
        }
        // `amqp://host/` names the empty vhost by the letter of the URI spec,
        // which no one means: both spellings mean the default vhost here.
        if uri.vhost.is_empty() {
            uri.vhost = "/".to_owned();
        }
        let endpoint = format!(
            "{}:{}/{}",
            uri.authority.host,
            uri.authority.port,
            urlencoding::encode(&uri.vhost)
        );
        let pid = std::process::id();
        let (prefix, connection_name) = match &namespace {
            Some(ns) => (format!("{ns}."), format!("funcmesh {ns} {pid}")),
            None => (String::new(), format!("funcmesh {pid}")),
        };
        Ok(Self {
            uri,
            endpoint,
            prefix,
            connection_name,
        })
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
        format!("{}funcmesh.work", self.prefix)
    }
}

fn decode_namespace(raw: &str) -> Result<String> {
    let ns = urlencoding::decode(raw).map_or_else(|_| raw.to_owned(), |ns| ns.into_owned());
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if ns.is_empty() || ns.len() > MAX_NAMESPACE_LEN || !ns.chars().all(allowed) {
        return Err(Error::InvalidUrl(format!(
            "invalid namespace {ns:?} in the bus URL: use 1 to {MAX_NAMESPACE_LEN} letters, digits, '-', '_' or '.'"
        )));
    }
    Ok(ns)
}

fn invalid(url: &str, why: &dyn std::fmt::Display) -> Error {
    // The URL may hold a password: show it without its user info.
    let shown = match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, rest))) => format!("{scheme}://***@{rest}"),
        _ => url.to_owned(),
    };
    Error::InvalidUrl(format!("invalid bus URL {shown}: {why}"))
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
            "amqps://h/",
        ] {
            assert!(AmqpConfig::parse(url).is_err(), "{url}");
        }
    }

    #[test]
    fn errors_never_show_the_password() {
        let err = AmqpConfig::parse("amqp://user:secret@h:notaport/").unwrap_err();
        assert!(matches!(err, Error::InvalidUrl(_)), "{err:?}");
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(err.to_string().contains("***@h:notaport"), "{err}");
    }
}
