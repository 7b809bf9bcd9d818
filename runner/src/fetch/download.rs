//! `GET {tron}/bundles/{hash}` with a timeout, across the trons in turn,
//! with backoff after connection errors and 5xx answers.

use bytes::Bytes;
use funcmesh_bus::Backoff;
use funcmesh_core::errors::chain;
use funcmesh_core::tls::AdminConnector;
use http::{Request, StatusCode};
use http_body_util::{BodyExt as _, Empty, LengthLimitError, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{FetchConfig, FetchError};

/// What one attempt came to, when it did not give the pack.
enum Failure {
    /// Worth another attempt: the tron was unreachable, slow or failing.
    Retry(String),
    /// Not worth one.
    Final(FetchError),
}

pub(super) struct Downloader {
    trons: Vec<String>,
    config: FetchConfig,
    client: Client<AdminConnector, Empty<Bytes>>,
}

impl Downloader {
    pub(super) fn new(trons: Vec<String>, config: FetchConfig) -> Self {
        let trons = trons
            .into_iter()
            .map(|url| url.trim_end_matches('/').to_owned())
            .collect();
        let client = Client::builder(TokioExecutor::new()).build(config.connector.clone());
        Self {
            trons,
            config,
            client,
        }
    }

    pub(super) fn trons(&self) -> &[String] {
        &self.trons
    }

    /// The pack of `hash`, not yet checked.
    pub(super) async fn download(&self, hash: &str) -> Result<Bytes, FetchError> {
        let mut last = "no tron URL is configured".to_owned();
        let mut made = 0;
        let mut backoff =
            Backoff::between(self.config.backoff, Backoff::MAX.max(self.config.backoff));
        for (attempt, tron) in self
            .trons
            .iter()
            .cycle()
            .take(self.config.attempts as usize)
            .enumerate()
        {
            if attempt > 0 {
                tokio::time::sleep(backoff.next_delay()).await;
            }
            made += 1;
            let url = format!("{tron}/bundles/{hash}");
            let outcome = tokio::time::timeout(self.config.timeout, self.get(&url, hash)).await;
            match outcome {
                Ok(Ok(bytes)) => return Ok(bytes),
                Ok(Err(Failure::Final(error))) => return Err(error),
                Ok(Err(Failure::Retry(why))) => last = format!("{url}: {why}"),
                Err(_) => last = format!("{url}: no answer within {:?}", self.config.timeout),
            }
            tracing::debug!(bundle.hash = hash, attempt = made, error = %last, "bundle download failed");
        }
        Err(FetchError::Unavailable {
            hash: hash.to_owned(),
            attempts: made,
            last,
        })
    }

    async fn get(&self, url: &str, hash: &str) -> Result<Bytes, Failure> {
        let mut request = Request::get(url);
        if let Some(token) = &self.config.token {
            request = request.header(http::header::AUTHORIZATION, token.bearer());
        }
        let request = request.body(Empty::new()).map_err(|error| {
            Failure::Final(FetchError::Unavailable {
                hash: hash.to_owned(),
                attempts: 0,
                last: format!("bad tron URL {url}: {error}"),
            })
        })?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|error| Failure::Retry(chain(&error)))?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Err(Failure::Final(FetchError::NotFound {
                hash: hash.to_owned(),
                url: url.to_owned(),
            }));
        }
        if !status.is_success() {
            let why = match status {
                StatusCode::UNAUTHORIZED => format!(
                    "answered {status}: this runner's mesh token (FUNCMESH_TOKEN) is missing or not the tron's"
                ),
                _ => format!("answered {status}"),
            };
            return Err(match status.is_server_error() {
                true => Failure::Retry(why),
                false => Failure::Final(FetchError::Unavailable {
                    hash: hash.to_owned(),
                    attempts: 1,
                    last: format!("{url}: {why}"),
                }),
            });
        }
        let body = Limited::new(response.into_body(), self.config.max_bytes);
        match body.collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
                Err(Failure::Final(FetchError::Unavailable {
                    hash: hash.to_owned(),
                    attempts: 1,
                    last: format!(
                        "{url}: the pack is larger than {} bytes",
                        self.config.max_bytes
                    ),
                }))
            }
            Err(error) => Err(Failure::Retry(format!(
                "reading the pack: {}",
                chain(&*error)
            ))),
        }
    }
}
