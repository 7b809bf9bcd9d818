//! `--metrics ADDR`: each command serves its components' Prometheus
//! metrics (`funcmesh_core::metrics`) at `GET /metrics` on a listener of
//! its own, plain HTTP without a token. Bind it where only the scraper
//! reaches it (a private interface, a pod's port); it tells request
//! counts and Func names, never requests' contents.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use funcmesh_core::metrics::{self, Registry};
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// A registry with the bus's counters, for the components to add theirs.
pub fn registry() -> Registry {
    let mut registry = Registry::default();
    metrics::register_bus(&mut registry);
    registry
}

/// Binds `addr` and serves `registry` there until the process ends.
/// Returns the bound address (`addr` may name port 0).
pub async fn serve(addr: SocketAddr, registry: Registry) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the metrics listener {addr}"))?;
    let bound = listener
        .local_addr()
        .context("reading the metrics listener's address")?;
    let registry = Arc::new(registry);
    tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "the metrics listener cannot accept");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let registry = Arc::clone(&registry);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let registry = Arc::clone(&registry);
                    async move { Ok::<_, Infallible>(answer(&request, &registry)) }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                // A scraper that goes away mid-answer is no error of ours.
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    tracing::info!("metrics served on http://{bound}/metrics");
    Ok(bound)
}

fn answer(request: &Request<Incoming>, registry: &Registry) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => (
            StatusCode::OK,
            metrics::CONTENT_TYPE,
            metrics::encode(registry),
        ),
        (_, "/metrics") => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "only GET /metrics\n".to_owned(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "metrics are at /metrics\n".to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}
