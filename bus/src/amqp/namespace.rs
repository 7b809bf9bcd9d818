//! A namespace's queues and exchanges on RabbitMQ, listed and deleted
//! through the management API: AMQP 0-9-1 has no way to list a vhost's
//! queues. The API is RabbitMQ's `rabbitmq_management` plugin, on by
//! default in its container images; `rabbitmq-plugins enable
//! rabbitmq_management` turns it on elsewhere.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use percent_encoding::utf8_percent_encode;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use serde::Deserialize;

use super::config::{AmqpConfig, WORK_EXCHANGE};
use crate::bus_url::{COMPONENT, redact};
use crate::namespace::{
    Held, HeldKind, Namespace, Options, check_in, described, namespace_needed, outside_nested,
    sorted,
};
use crate::{Error, Result, error_chain};

/// How long one request to the management API may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The management API's port for `amqp://` and, over https, `amqps://`.
const HTTP_PORT: u16 = 15672;
const HTTPS_PORT: u16 = 15671;

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// A namespace on a RabbitMQ broker, through its management API.
pub(crate) struct Rabbit {
    /// The API's base URL, without a trailing `/`.
    api: String,
    /// The vhost, percent-encoded for a path.
    vhost: String,
    /// `NAME.`.
    prefix: String,
    /// `Basic ...`.
    authorization: String,
    endpoint: String,
    client: Client<Connector, Full<Bytes>>,
}

/// A queue as `GET /api/queues/VHOST?columns=...` gives it. The counts are
/// missing until the broker has gathered the queue's first statistics.
#[derive(Deserialize)]
struct QueueRow {
    name: String,
    messages: Option<u64>,
    consumers: Option<u64>,
    #[serde(default)]
    exclusive: bool,
}

#[derive(Deserialize)]
struct ExchangeRow {
    name: String,
}

impl Rabbit {
    pub(crate) fn open(url: &str, options: &Options) -> Result<Self> {
        let config = AmqpConfig::parse(url)?;
        let Some(prefix) = config.namespace_prefix() else {
            return Err(namespace_needed());
        };
        let secure = config.tls.is_some();
        let api = match &options.management {
            Some(api) => api.trim_end_matches('/').to_owned(),
            None => match secure {
                true => format!("https://{}:{HTTPS_PORT}", config.host),
                false => format!("http://{}:{HTTP_PORT}", config.host),
            },
        };
        if !(api.starts_with("http://") || api.starts_with("https://")) {
            return Err(Error::InvalidUrl(format!(
                "the management API's URL {api} must start with http:// or https://"
            )));
        }
        let ca = match &config.tls {
            Some(files) => {
                files
                    .read()
                    .map_err(|why| {
                        Error::InvalidUrl(format!("invalid bus URL {}: {why}", redact(url)))
                    })?
                    .ca
            }
            None => None,
        };
        let userinfo = &config.uri.authority.userinfo;
        let credentials = format!("{}:{}", userinfo.username, userinfo.password);
        Ok(Self {
            vhost: utf8_percent_encode(&config.uri.vhost, COMPONENT).to_string(),
            prefix: prefix.to_owned(),
            authorization: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            ),
            endpoint: config.endpoint.clone(),
            client: Client::builder(TokioExecutor::new()).build(connector(ca.as_deref())?),
            api,
        })
    }

    /// Sends one request to the API; its body on a 2xx answer, `None` on a
    /// 404.
    async fn request(&self, method: http::Method, path: &str) -> Result<Option<Bytes>> {
        let url = format!("{}{path}", self.api);
        let request = http::Request::builder()
            .method(method)
            .uri(&url)
            .header(http::header::AUTHORIZATION, &self.authorization)
            .body(Full::default())
            .map_err(|error| {
                Error::InvalidUrl(format!("the management API's URL {url}: {error}"))
            })?;
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, async {
            let response = self.client.request(request).await.map_err(|error| {
                Error::Unavailable(format!(
                    "RabbitMQ's management API at {} did not answer ({}); it lists a \
                     namespace's queues, which AMQP cannot: enable it on the broker with \
                     `rabbitmq-plugins enable rabbitmq_management`, or give its URL with \
                     --management",
                    self.api,
                    error_chain(&error)
                ))
            })?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|error| {
                    Error::Unavailable(format!("reading the answer of {url}: {error}"))
                })?
                .to_bytes();
            Ok::<_, Error>((status, body))
        })
        .await
        .map_err(|_| {
            Error::Unavailable(format!(
                "RabbitMQ's management API did not answer {url} within {}s",
                REQUEST_TIMEOUT.as_secs()
            ))
        })??;
        match answer {
            (status, body) if status.is_success() => Ok(Some(body)),
            (http::StatusCode::NOT_FOUND, _) => Ok(None),
            (status @ (http::StatusCode::UNAUTHORIZED | http::StatusCode::FORBIDDEN), _) => {
                Err(Error::Refused(format!(
                    "RabbitMQ's management API refused the bus URL's user ({status}): it needs \
                     the `management` tag or more (`rabbitmqctl set_user_tags USER management`) \
                     and the permission to configure the vhost"
                )))
            }
            (http::StatusCode::BAD_REQUEST, body)
                if String::from_utf8_lossy(&body).contains("exclusive access to locked queue") =>
            {
                Err(Error::Refused(format!(
                    "{url} names an exclusive queue: it belongs to the connection of a running \
                     process, and goes when that process ends"
                )))
            }
            (status, body) => Err(Error::Unavailable(format!(
                "RabbitMQ's management API answered {url} with {status}: {}",
                String::from_utf8_lossy(&body).trim()
            ))),
        }
    }

    /// The rows of a list, `None` when the vhost does not exist.
    async fn list<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<Vec<T>> {
        let Some(body) = self.request(http::Method::GET, path).await? else {
            return Ok(Vec::new());
        };
        serde_json::from_slice(&body).map_err(|error| {
            Error::Unavailable(format!(
                "RabbitMQ's management API answered {path} with what is not its list: {error}"
            ))
        })
    }
}

#[async_trait::async_trait]
impl Namespace for Rabbit {
    fn describe(&self) -> String {
        described("rabbitmq", &self.endpoint, &self.prefix)
    }

    async fn held(&self) -> Result<Vec<Held>> {
        let queues: Vec<QueueRow> = self
            .list(&format!(
                "/api/queues/{}?columns=name,messages,consumers,exclusive",
                self.vhost
            ))
            .await?;
        let exchanges: Vec<ExchangeRow> = self
            .list(&format!("/api/exchanges/{}?columns=name", self.vhost))
            .await?;
        let exchanges_seen: Vec<String> = exchanges.iter().map(|row| row.name.clone()).collect();
        let queues = queues
            .into_iter()
            .filter(|queue| queue.name.starts_with(&self.prefix))
            .map(|queue| Held {
                kind: HeldKind::Queue,
                name: queue.name,
                messages: queue.messages,
                // An exclusive queue (a gateway's replies) lives as long as
                // the connection that declared it: its process is running,
                // and nobody else may delete it.
                readers: match queue.exclusive {
                    true => Some(queue.consumers.unwrap_or(0).max(1)),
                    false => queue.consumers,
                },
            });
        let exchanges = exchanges
            .into_iter()
            .filter(|exchange| exchange.name.starts_with(&self.prefix))
            .map(|exchange| Held {
                kind: HeldKind::Exchange,
                name: exchange.name,
                messages: None,
                readers: None,
            });
        // Every namespace has a work exchange: one named under this
        // namespace's prefix is a nested namespace's (`shop.eu` in `shop`).
        let held = queues.chain(exchanges).collect();
        Ok(sorted(outside_nested(
            held,
            &self.prefix,
            exchanges_seen.iter().map(String::as_str),
            WORK_EXCHANGE,
        )))
    }

    async fn remove(&self, held: &Held) -> Result<()> {
        let kind = match held.kind {
            HeldKind::Queue => "queues",
            HeldKind::Exchange => "exchanges",
            other => {
                return Err(Error::InvalidUrl(format!(
                    "RabbitMQ holds no {other} ({})",
                    held.name
                )));
            }
        };
        check_in(held, &self.prefix)?;
        let name = utf8_percent_encode(&held.name, COMPONENT);
        self.request(
            http::Method::DELETE,
            &format!("/api/{kind}/{}/{name}", self.vhost),
        )
        .await
        .map(drop)
    }
}

/// `https://` trusting the system's certificates and `ca` (PEM); `http://`
/// plain.
fn connector(ca: Option<&str>) -> Result<Connector> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(ca) = ca {
        let found = CertificateDer::pem_slice_iter(ca.as_bytes())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|error| Error::InvalidUrl(format!("the bus URL's cacertfile: {error}")))?;
        roots.add_parsable_certificates(found);
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}
