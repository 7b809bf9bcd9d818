//! What the backends' URL readers share: one server's URL read by the `url`
//! crate, its funcmesh parameters, the namespace check, and credentials kept
//! out of logs and errors.

use std::borrow::Cow;
use std::path::PathBuf;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use url::Url;

/// The longest namespace accepted, so that prefixed names stay well under
/// every broker's limit on names (255 bytes for AMQP queues, 249 for Kafka
/// topics).
pub(crate) const MAX_NAMESPACE_LEN: usize = 64;

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`)
/// is percent-encoded.
pub(crate) const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One server of a bus URL: `scheme://[user[:pass]@]host[:port][/path][?query]`.
/// A server without `://` is given `default_scheme`, as brokers' clients do
/// with the second and later servers of a list (`kafka://a,b`).
pub(crate) fn server(text: &str, default_scheme: &str) -> Result<Url, url::ParseError> {
    let text = text.trim();
    match text.contains("://") {
        true => Url::parse(text),
        false => Url::parse(&format!("{default_scheme}://{text}")),
    }
}

/// The host of a server as a client connects to it and as it is shown:
/// `[::1]` keeps its brackets, so that `host:port` stays readable. `None`
/// when the URL has no host.
pub(crate) fn host(url: &Url) -> Option<&str> {
    url.host_str().filter(|host| !host.is_empty())
}

/// Whether a decoded namespace has the characters of one: 1 to
/// [`MAX_NAMESPACE_LEN`] letters, digits and the characters of `extra`.
pub(crate) fn namespace_ok(ns: &str, extra: &[char]) -> bool {
    !ns.is_empty()
        && ns.len() <= MAX_NAMESPACE_LEN
        && ns
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
}

/// The TLS files a bus URL names, under the parameter names of RabbitMQ's
/// URI spec: `cacertfile` (PEM certificates to trust besides the system's),
/// and `certfile` with `keyfile` (a PEM client certificate chain and its
/// PKCS #8, PKCS #1 or SEC1 key, for servers that ask for one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsFiles {
    /// `cacertfile`.
    pub(crate) ca: Option<PathBuf>,
    /// `certfile`.
    pub(crate) cert: Option<PathBuf>,
    /// `keyfile`.
    pub(crate) key: Option<PathBuf>,
}

/// [`TlsFiles`] read: what a connection attempt hands to its client.
#[derive(Clone, Default)]
pub(crate) struct TlsPem {
    /// The CA certificates, PEM.
    pub(crate) ca: Option<String>,
    /// The client certificate chain and its key, PEM.
    pub(crate) identity: Option<(Vec<u8>, Vec<u8>)>,
}

/// The keys stay out of logs.
impl std::fmt::Debug for TlsPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsPem(..)")
    }
}

impl TlsFiles {
    /// The names of the parameters, for errors.
    pub(crate) const PARAMETERS: &str = "cacertfile, certfile, keyfile";

    /// Takes `key=value` when `key` is a TLS parameter; `false` otherwise.
    pub(crate) fn take(&mut self, key: &str, value: &str) -> bool {
        let slot = match key {
            "cacertfile" => &mut self.ca,
            "certfile" => &mut self.cert,
            "keyfile" => &mut self.key,
            _ => return false,
        };
        *slot = Some(PathBuf::from(value));
        true
    }

    /// Whether no TLS parameter was given.
    pub(crate) fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Reads the files, so that a missing or unreadable one is an error
    /// when the bus opens, not a connection that keeps failing. Called
    /// again on every connection attempt, which picks up renewed files.
    pub(crate) fn read(&self) -> Result<TlsPem, String> {
        let read = |what: &str, path: &PathBuf| {
            std::fs::read(path)
                .map_err(|error| format!("cannot read {what} {}: {error}", path.display()))
        };
        let is_pem = |what: &str, path: &PathBuf, bytes: &[u8]| match bytes
            .windows(11)
            .any(|w| w == b"-----BEGIN ")
        {
            true => Ok(()),
            false => Err(format!("{what} {} holds no PEM block", path.display())),
        };
        let ca = match &self.ca {
            Some(path) => {
                let bytes = read("cacertfile", path)?;
                is_pem("cacertfile", path, &bytes)?;
                Some(
                    String::from_utf8(bytes)
                        .map_err(|_| format!("cacertfile {} is not PEM text", path.display()))?,
                )
            }
            None => None,
        };
        let identity = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let chain = read("certfile", cert)?;
                is_pem("certfile", cert, &chain)?;
                let secret = read("keyfile", key)?;
                is_pem("keyfile", key, &secret)?;
                Some((chain, secret))
            }
            (None, None) => None,
            _ => return Err("certfile and keyfile go together".to_owned()),
        };
        Ok(TlsPem { ca, identity })
    }
}

/// `url` as it may be logged or shown in an error: the user info (user name
/// and password, or a token) of every server in it becomes `***`.
///
/// ```
/// assert_eq!(
///     funcmesh_bus::redact("amqp://guest:s3cret@h:5672/%2f"),
///     "amqp://***@h:5672/%2f"
/// );
/// assert_eq!(
///     funcmesh_bus::redact("nats://a:4222,nats://tok@b:4222"),
///     "nats://a:4222,nats://***@b:4222"
/// );
/// ```
pub fn redact(url: &str) -> String {
    if url.matches("://").count() == 1
        && let Ok(mut parsed) = Url::parse(url)
    {
        if parsed.username().is_empty() && parsed.password().is_none() {
            return url.to_owned();
        }
        if parsed.set_password(None).is_ok() && parsed.set_username("***").is_ok() {
            return parsed.into();
        }
    }
    redact_by_hand(url).into_owned()
}

/// The `url` crate reads one URL, and refuses some that still hold a
/// password (`amqp://user:secret@host:notaport`), while a list of servers
/// (`nats://a,nats://u:p@b`) is no URL at all: there, each server's user
/// info runs from its `://` to the last `@` before the next server's, which
/// errs on the side of hiding too much (a password holding `/` or `,`).
fn redact_by_hand(url: &str) -> Cow<'_, str> {
    if !url.contains('@') {
        return Cow::Borrowed(url);
    }
    let mut shown = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(start) = rest.find("://") {
        let (head, tail) = rest.split_at(start + 3);
        shown.push_str(head);
        let end = tail.find("://").unwrap_or(tail.len());
        // The next server's scheme stays with it: cut after the last `,`.
        let end = tail[..end]
            .rfind(',')
            .filter(|_| end < tail.len())
            .unwrap_or(end);
        let server = &tail[..end];
        match server.rfind('@') {
            Some(at) => {
                shown.push_str("***");
                shown.push_str(&server[at..]);
            }
            None => shown.push_str(server),
        }
        rest = &tail[end..];
    }
    shown.push_str(rest);
    Cow::Owned(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacting_hides_every_user_info_and_nothing_else() {
        for (url, shown) in [
            ("inproc://x", "inproc://x"),
            ("amqp://h/v", "amqp://h/v"),
            ("amqp://guest:secret@h:5672/%2f", "amqp://***@h:5672/%2f"),
            ("amqp://u:p%40ss@h/", "amqp://***@h/"),
            ("amqp://u:p@ss@h/", "amqp://***@h/"),
            ("amqp://u:p,q@h/", "amqp://***@h/"),
            ("amqp://h/v?x=a@b", "amqp://h/v?x=a@b"),
            ("nats://token@[::1]:4222", "nats://***@[::1]:4222"),
            // Refused by the parser: cut by hand.
            ("amqp://user:secret@h:notaport/", "amqp://***@h:notaport/"),
            ("amqp://u:pa/ss@h/v", "amqp://***@h/v"),
            // Lists of servers.
            ("nats://a:1,nats://u:p@b:2", "nats://a:1,nats://***@b:2"),
            ("nats://u:p@a,nats://v:q@b", "nats://***@a,nats://***@b"),
            ("nats://u:p,q@a,nats://b", "nats://***@a,nats://b"),
            ("kafka://u:p@a,b", "kafka://***@a,b"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn a_server_without_a_scheme_gets_the_default_one() {
        let url = server(" b:9093 ", "kafka").unwrap();
        assert_eq!(
            (url.scheme(), host(&url), url.port()),
            ("kafka", Some("b"), Some(9093))
        );
        let url = server("[::1]", "kafka").unwrap();
        assert_eq!(host(&url), Some("[::1]"));
        assert_eq!(host(&server("nats://", "nats").unwrap()), None);
    }

    #[test]
    fn namespaces_have_the_characters_of_one() {
        assert!(namespace_ok("t-1", &['-']));
        assert!(!namespace_ok("a.b", &['-', '_']));
        assert!(namespace_ok("a.b", &['-', '_', '.']));
        assert!(!namespace_ok("", &[]));
        assert!(!namespace_ok(&"x".repeat(MAX_NAMESPACE_LEN + 1), &[]));
        assert!(!namespace_ok("é", &[]));
    }
}
