//! An OTLP/HTTP receiver for the benchmark of traces: decodes every export
//! (protobuf), counts the spans, answers 200, and tells its counts at
//! `GET /stats` as `{"exports":N,"spans":N,"bytes":N}`.
//!
//!   otlp_sink 127.0.0.1:4318

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

#[derive(Default)]
struct Counts {
    exports: AtomicU64,
    spans: AtomicU64,
    bytes: AtomicU64,
}

async fn receive(
    counts: Arc<Counts>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.uri().path() == "/stats" {
        let body = format!(
            r#"{{"exports":{},"spans":{},"bytes":{}}}"#,
            counts.exports.load(Ordering::Relaxed),
            counts.spans.load(Ordering::Relaxed),
            counts.bytes.load(Ordering::Relaxed)
        );
        return Ok(Response::new(Full::new(Bytes::from(body))));
    }
    let Ok(body) = request.into_body().collect().await.map(|b| b.to_bytes()) else {
        return Ok(status(400));
    };
    let Ok(export) = ExportTraceServiceRequest::decode(body.clone()) else {
        return Ok(status(400));
    };
    let spans: usize = export
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    counts.exports.fetch_add(1, Ordering::Relaxed);
    counts.spans.fetch_add(spans as u64, Ordering::Relaxed);
    counts.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
    Ok(status(200))
}

fn status(code: u16) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::default());
    *resp.status_mut() = hyper::StatusCode::from_u16(code).unwrap_or_default();
    resp
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:4318".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("otlp_sink listening on {}", listener.local_addr()?);
    let counts = Arc::new(Counts::default());
    loop {
        let (stream, _) = listener.accept().await?;
        let counts = Arc::clone(&counts);
        tokio::spawn(async move {
            let service = service_fn(move |request| receive(Arc::clone(&counts), request));
            let _ = Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
