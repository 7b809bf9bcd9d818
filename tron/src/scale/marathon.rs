//! The Marathon orchestrator (`--scaler marathon`), for Mesos clusters:
//! each pool's runners are one Marathon app, scaled through Marathon's
//! documented REST API (v2):
//!
//! - `GET /v2/apps/{id}`: `app.instances` is the desired count; the ready
//!   ones are `app.tasksHealthy` when the app has health checks, else
//!   `app.tasksRunning`;
//! - `PUT /v2/apps/{id}` with `{"instances": N}`: Marathon starts a
//!   deployment. While another deployment of the app runs, Marathon answers
//!   409 ("locked"); the scaler logs it and asks again at a later tick. The
//!   request never sets `force=true`, which would cancel a deployment
//!   someone else started.
//!
//! A pool's app id is named by [`MarathonOptions::apps`], or else
//! `{app_prefix}{pool}` (`/funcmesh/runner-POOL` by default). Credentials
//! in the URL (`http://user:password@host:8080`) are sent as HTTP basic
//! authentication, never logged.
//!
//! Apache Mesos and Marathon are retired (the Apache Attic, 2025) and
//! cannot be installed on this project's machines: this adapter is tested
//! against a server in the tests that answers these calls as Marathon's
//! API documentation says, not against a real Marathon.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use super::adapter::{BoxFuture, Orchestrator, Replicas, ScaleError};

/// An app id's prefix, by default: pool `default` is
/// `/funcmesh/runner-default`.
pub const APP_PREFIX: &str = "/funcmesh/runner-";

/// How long one call to Marathon may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the Marathon orchestrator finds Marathon and the pools' apps.
#[derive(Debug, Clone, Default)]
pub struct MarathonOptions {
    /// Marathon's base URL, e.g. `http://marathon.mesos:8080`.
    pub url: String,
    /// Apps named for pools (pool -> app id).
    pub apps: BTreeMap<String, String>,
    /// The prefix of other pools' app ids ([`APP_PREFIX`] when `None`).
    pub app_prefix: Option<String>,
}

/// Runner pools as Marathon apps.
pub struct Marathon {
    base: String,
    authorization: Option<HeaderValue>,
    apps: BTreeMap<String, String>,
    prefix: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl std::fmt::Debug for Marathon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Marathon")
            .field("base", &self.base)
            .field("apps", &self.apps)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// The part of `GET /v2/apps/{id}` the adapter reads.
#[derive(Debug, Deserialize)]
struct AppResponse {
    app: App,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct App {
    instances: u32,
    #[serde(default)]
    tasks_running: u32,
    #[serde(default)]
    tasks_healthy: u32,
    #[serde(default)]
    health_checks: Vec<serde_json::Value>,
}

/// Marathon's error body: `{"message": "..."}`.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    message: String,
}

impl Marathon {
    /// The orchestrator for the Marathon at `options.url` (`http://` only:
    /// put Marathon behind a TLS-terminating proxy on the tron's host, or
    /// reach it inside the cluster's network, for HTTPS).
    pub fn new(options: MarathonOptions) -> anyhow::Result<Self> {
        let url = url::Url::parse(&options.url)
            .map_err(|e| anyhow::anyhow!("--marathon-url {:?}: {e}", options.url))?;
        anyhow::ensure!(
            url.scheme() == "http",
            "--marathon-url {}: only http:// is supported (reach an HTTPS Marathon through a \
             local TLS proxy)",
            funcmesh_bus::redact(&options.url)
        );
        anyhow::ensure!(
            url.host_str().is_some(),
            "--marathon-url {}: no host",
            funcmesh_bus::redact(&options.url)
        );
        let authorization = match url.username() {
            "" => None,
            user => {
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8_lossy()
                        .into_owned()
                };
                let pair = format!("{}:{}", decode(user), decode(url.password().unwrap_or("")));
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        let mut base = url.clone();
        let _ = base.set_username("");
        let _ = base.set_password(None);
        Ok(Self {
            base: base.as_str().trim_end_matches('/').to_owned(),
            authorization,
            apps: options.apps,
            prefix: options.app_prefix.unwrap_or_else(|| APP_PREFIX.to_owned()),
            client: Client::builder(TokioExecutor::new()).build_http(),
        })
    }

    /// The pool's app id, with one leading `/`.
    fn app_id(&self, pool: &str) -> String {
        let id = match self.apps.get(pool) {
            Some(id) => id.clone(),
            None => format!("{}{pool}", self.prefix),
        };
        format!("/{}", id.trim_start_matches('/'))
    }

    /// One call: the status and body, or why there was none.
    async fn call(
        &self,
        method: Method,
        pool: &str,
        body: Option<String>,
    ) -> Result<(StatusCode, Bytes), ScaleError> {
        let app = self.app_id(pool);
        let url = format!("{}/v2/apps{app}", self.base);
        let mut request = Request::builder()
            .method(method)
            .uri(&url)
            .header(http::header::ACCEPT, "application/json");
        if let Some(value) = &self.authorization {
            request = request.header(http::header::AUTHORIZATION, value.clone());
        }
        if body.is_some() {
            request = request.header(http::header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| ScaleError::Other(format!("{url}: {e}")))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| {
                ScaleError::Unreachable(format!(
                    "{url}: {}",
                    std::error::Error::source(&e).map_or(e.to_string(), |s| s.to_string())
                ))
            })?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| ScaleError::Unreachable(format!("{url}: {e}")))?
                .to_bytes();
            Ok((status, bytes))
        };
        tokio::time::timeout(CALL_TIMEOUT, exchange)
            .await
            .map_err(|_| {
                ScaleError::Unreachable(format!("{url}: no answer within {CALL_TIMEOUT:?}"))
            })?
    }

    /// A non-2xx answer as a [`ScaleError`].
    fn refusal(&self, pool: &str, status: StatusCode, body: &[u8]) -> ScaleError {
        let message = serde_json::from_slice::<ErrorBody>(body)
            .map(|e| e.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(body).chars().take(200).collect());
        let app = self.app_id(pool);
        let detail = format!("Marathon app {app}: HTTP {status}: {message}");
        match status {
            StatusCode::NOT_FOUND => ScaleError::NotFound {
                pool: pool.to_owned(),
                detail,
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ScaleError::Forbidden(detail),
            StatusCode::CONFLICT => ScaleError::Conflict(detail),
            s if s.is_server_error() => ScaleError::Unreachable(detail),
            _ => ScaleError::Other(detail),
        }
    }

    async fn read(&self, pool: &str) -> Result<Replicas, ScaleError> {
        let (status, body) = self.call(Method::GET, pool, None).await?;
        if !status.is_success() {
            return Err(self.refusal(pool, status, &body));
        }
        let app = serde_json::from_slice::<AppResponse>(&body)
            .map_err(|e| {
                ScaleError::Other(format!(
                    "Marathon app {}: unexpected answer: {e}",
                    self.app_id(pool)
                ))
            })?
            .app;
        let ready = match app.health_checks.is_empty() {
            true => app.tasks_running,
            false => app.tasks_healthy,
        };
        Ok(Replicas {
            desired: app.instances,
            ready,
        })
    }

    async fn write(&self, pool: &str, desired: u32) -> Result<(), ScaleError> {
        let body = serde_json::json!({ "instances": desired }).to_string();
        let (status, body) = self.call(Method::PUT, pool, Some(body)).await?;
        match status.is_success() {
            true => Ok(()),
            false => Err(self.refusal(pool, status, &body)),
        }
    }
}

impl Orchestrator for Marathon {
    fn name(&self) -> &'static str {
        "marathon"
    }

    fn replicas<'a>(&'a self, pool: &'a str) -> BoxFuture<'a, Result<Replicas, ScaleError>> {
        Box::pin(self.read(pool))
    }

    fn scale<'a>(&'a self, pool: &'a str, desired: u32) -> BoxFuture<'a, Result<(), ScaleError>> {
        Box::pin(self.write(pool, desired))
    }
}

#[cfg(test)]
mod tests;
