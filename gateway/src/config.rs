//! How a gateway behaves: limits and routing, read from the mesh's config file.

use std::time::Duration;

use funcmesh_core::queues;
use serde::{Deserialize, Serialize};

/// A gateway's settings. Every field has a default, so `{}` is a valid config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// This gateway's id; it names the gateway's reply queue. Default: 12
    /// random hex digits, so that gateways started side by side never share
    /// a reply queue.
    #[serde(default = "default_id")]
    pub id: String,
    /// The largest request body accepted, in bytes (default 6 MiB).
    #[serde(default = "default_body_limit")]
    pub body_limit: usize,
    /// The longest a client waits for its reply (default 30 s). A client may
    /// ask for less with `x-funcmesh-timeout-ms`, never for more. Written in
    /// milliseconds as `timeout_ms`.
    #[serde(default = "default_timeout", rename = "timeout_ms", with = "millis")]
    pub timeout: Duration,
    /// The queue that requests go to when the gateway cannot route them itself.
    #[serde(default = "default_firehose")]
    pub firehose: String,
    /// Publish straight to a Func's queue when the pushed routing table knows
    /// the route, saving one broker hop (default true).
    #[serde(default = "default_direct_routing")]
    pub direct_routing: bool,
    /// Beyond this many requests in flight, new ones get 503 at once.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Serve `GET /__routes`, the routing table with each Func's bundle
    /// hash, to every client (default false: it tells an attacker what is
    /// deployed; the tron's admin API shows it to holders of the token).
    #[serde(default)]
    pub expose_routes: bool,
    /// Serve `GET /__openapi/NAME`, each bundle's API description with
    /// the route it was given, and `GET /__openapi`, the list of them
    /// (default false: the descriptions name every operation and its
    /// function).
    #[serde(default)]
    pub expose_openapi: bool,
    /// How long a client has to send a request's headers, from when its
    /// connection opens or its previous answer was sent (default 10 s); a
    /// connection that stays silent longer is closed. Written in
    /// milliseconds as `header_timeout_ms`.
    #[serde(
        default = "default_header_timeout",
        rename = "header_timeout_ms",
        with = "millis"
    )]
    pub header_timeout: Duration,
    /// Connections open at once; beyond it a new one is closed at once.
    /// Default: three quarters of the file descriptors the process may
    /// open, at most 10,000.
    #[serde(default)]
    pub max_connections: Option<usize>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            id: default_id(),
            body_limit: default_body_limit(),
            timeout: default_timeout(),
            firehose: default_firehose(),
            direct_routing: default_direct_routing(),
            max_in_flight: default_max_in_flight(),
            expose_routes: false,
            expose_openapi: false,
            header_timeout: default_header_timeout(),
            max_connections: None,
        }
    }
}

impl GatewayConfig {
    /// [`max_connections`](Self::max_connections), or its default from the
    /// process's file descriptor limit.
    pub fn connection_cap(&self) -> usize {
        self.max_connections.unwrap_or_else(|| {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit writes into the struct it is given.
            let known = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
            let fds = match known {
                true => usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX),
                false => 1024,
            };
            (fds / 4 * 3).clamp(16, 10_000)
        })
    }

    /// Rejects settings no gateway can run with.
    pub(crate) fn validate(&self) -> Result<(), &'static str> {
        if self.id.is_empty()
            || !self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err("id must be non-empty ASCII letters, digits, '-', '_' or '.'");
        }
        if self.timeout.is_zero() {
            return Err("timeout_ms must be positive");
        }
        if self.timeout > funcmesh_core::envelope::MAX_TIMEOUT {
            return Err("timeout_ms may be at most 900000 (15 minutes)");
        }
        if self.header_timeout.is_zero() {
            return Err("header_timeout_ms must be positive");
        }
        if self.max_connections == Some(0) {
            return Err("max_connections must be positive");
        }
        if self.max_in_flight == 0 {
            return Err("max_in_flight must be positive");
        }
        if self.firehose.is_empty() {
            return Err("firehose must name a queue");
        }
        Ok(())
    }
}

fn default_id() -> String {
    // The tail of a v7 UUID is random (its head is the clock).
    let uuid = uuid::Uuid::now_v7().simple().to_string();
    uuid[uuid.len() - 12..].to_owned()
}

const fn default_body_limit() -> usize {
    6 * 1024 * 1024
}

const fn default_header_timeout() -> Duration {
    Duration::from_secs(10)
}

const fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_firehose() -> String {
    queues::FIREHOSE.to_owned()
}

const fn default_direct_routing() -> bool {
    true
}

const fn default_max_in_flight() -> usize {
    10_000
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_an_empty_config() {
        let config: GatewayConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config.body_limit, 6 * 1024 * 1024);
        assert_eq!(config.timeout, Duration::from_secs(30));
        assert_eq!(config.firehose, queues::FIREHOSE);
        assert!(config.direct_routing);
        assert_eq!(config.max_in_flight, 10_000);
        assert_eq!(config.id.len(), 12);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn ids_differ_between_gateways() {
        assert_ne!(GatewayConfig::default().id, GatewayConfig::default().id);
    }

    #[test]
    fn timeout_is_written_in_milliseconds() {
        let config: GatewayConfig =
            serde_json::from_str(r#"{"timeout_ms": 1500, "id": "gw1"}"#).unwrap();
        assert_eq!(config.timeout, Duration::from_millis(1500));
        assert_eq!(serde_json::to_value(&config).unwrap()["timeout_ms"], 1500);
    }

    #[test]
    fn unknown_fields_and_bad_values_are_rejected() {
        assert!(serde_json::from_str::<GatewayConfig>(r#"{"timeout": 5}"#).is_err());
        let zero = GatewayConfig {
            timeout: Duration::ZERO,
            ..GatewayConfig::default()
        };
        assert!(zero.validate().is_err());
        let forever = GatewayConfig {
            timeout: funcmesh_core::envelope::MAX_TIMEOUT + Duration::from_millis(1),
            ..GatewayConfig::default()
        };
        assert!(forever.validate().is_err());
        let bad_id = GatewayConfig {
            id: "a b".into(),
            ..GatewayConfig::default()
        };
        assert!(bad_id.validate().is_err());
    }
}
