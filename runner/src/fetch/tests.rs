//! Fetching from a small HTTP server that plays the tron's admin listener.

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use funcmesh_core::bundle::{BundleError, Packed, pack_any};
use funcmesh_testkit::eventually;
use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;

use super::{BundleFetcher, FetchConfig, FetchError};

/// A module exporting `memory`, `funcmesh_alloc` and `hello`: all the
/// loader reads of a module is its export section.
const MODULE: &[u8] =
    b"\0asm\x01\0\0\0\x01\x07\x01`\x02\x7f\x7f\x01~\x03\x03\x02\0\0\x05\x03\x01\0\x01\
    \x07#\x03\x0efuncmesh_alloc\0\0\x05hello\0\x01\x06memory\x02\0\n\t\x02\x03\0\0\x0b\x03\0\0\x0b";

fn packed(dir: &Path) -> Packed {
    std::fs::write(
        dir.join("openapi.yaml"),
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\nservers: [{url: /hello}]\n\
         paths:\n  /hello:\n    get:\n      operationId: hello\n      responses: {'200': {description: ok}}\n",
    )
    .unwrap();
    std::fs::write(dir.join("hello.wasm"), MODULE).unwrap();
    pack_any(dir).unwrap()
}

/// Serves `body` for every request, answering 503 to the first
/// `failures`; counts the requests. A held tron answers nothing until it
/// is opened.
struct Tron {
    url: String,
    requests: Arc<AtomicUsize>,
    open: watch::Sender<bool>,
}

async fn tron(body: Bytes, failures: usize) -> Tron {
    serve_tron(body, failures, true).await
}

async fn held_tron(body: Bytes) -> Tron {
    serve_tron(body, 0, false).await
}

async fn serve_tron(body: Bytes, failures: usize, open: bool) -> Tron {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&requests);
    let (open, opened) = watch::channel(open);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (body, counted, opened) = (body.clone(), Arc::clone(&counted), opened.clone());
            let service = service_fn(move |_request| {
                let (body, n) = (body.clone(), counted.fetch_add(1, Ordering::SeqCst));
                let mut opened = opened.clone();
                async move {
                    opened.wait_for(|open| *open).await.unwrap();
                    let mut response = Response::new(Full::new(body));
                    if n < failures {
                        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                    }
                    Ok::<_, Infallible>(response)
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    Tron {
        url,
        requests,
        open,
    }
}

/// Nothing listens here.
async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

fn quick() -> FetchConfig {
    FetchConfig {
        timeout: Duration::from_secs(5),
        attempts: 3,
        backoff: Duration::from_millis(10),
        ..FetchConfig::default()
    }
}

#[tokio::test]
async fn a_fetched_bundle_is_cached_and_served_from_the_cache_alone() {
    let source = tempfile::tempdir().unwrap();
    let packed = packed(source.path());
    let hash = packed.bundle.hash.clone();
    let server = tron(packed.bytes.clone(), 0).await;
    let cache = tempfile::tempdir().unwrap();
    let fetcher = BundleFetcher::new(vec![server.url.clone()], cache.path().to_path_buf())
        .with_config(quick());
    let bundle = fetcher.fetch(&hash).await.unwrap();
    assert_eq!(
        (bundle.hash.as_str(), bundle.base_path.as_str()),
        (hash.as_str(), "/hello")
    );
    assert_eq!(bundle.dir, cache.path().join(&hash));
    assert_eq!(server.requests.load(Ordering::SeqCst), 1);

    let offline = BundleFetcher::new(vec![closed_port().await], cache.path().to_path_buf())
        .with_config(quick());
    let again = offline.fetch(&hash).await.unwrap();
    assert_eq!(again.hash, hash, "served from the cache with no tron up");

    std::fs::write(again.dir.join("hello.wasm"), b"\0asm tampered").unwrap();
    let error = offline.fetch(&hash).await.unwrap_err();
    assert!(
        matches!(error, FetchError::Unavailable { attempts: 3, .. }),
        "{error}"
    );
    assert!(
        !cache.path().join(&hash).exists(),
        "a tampered cache entry is dropped"
    );
    let refetched = fetcher.fetch(&hash).await.unwrap();
    assert_eq!(refetched.hash, hash);
    assert_eq!(server.requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn tampered_bytes_are_refused_and_not_cached() {
    let source = tempfile::tempdir().unwrap();
    let packed = packed(source.path());
    let mut tampered = packed.bytes.to_vec();
    tampered[10] ^= 0x20;
    let server = tron(Bytes::from(tampered), 0).await;
    let cache = tempfile::tempdir().unwrap();
    let fetcher =
        BundleFetcher::new(vec![server.url], cache.path().to_path_buf()).with_config(quick());
    let error = fetcher.fetch(&packed.bundle.hash).await.unwrap_err();
    let FetchError::Bundle { source, .. } = &error else {
        panic!("{error}");
    };
    assert!(
        matches!(**source, BundleError::HashMismatch { .. }),
        "{error}"
    );
    assert_eq!(
        std::fs::read_dir(cache.path()).unwrap().count(),
        0,
        "nothing cached"
    );
}

#[tokio::test]
async fn concurrent_fetches_share_one_download() {
    let source = tempfile::tempdir().unwrap();
    let packed = packed(source.path());
    let hash = packed.bundle.hash.clone();
    let server = held_tron(packed.bytes.clone()).await;
    let cache = tempfile::tempdir().unwrap();
    let fetcher = Arc::new(BundleFetcher::new(
        vec![server.url.clone()],
        cache.path().to_path_buf(),
    ));
    let fetches: Vec<_> = (0..8)
        .map(|_| {
            let (fetcher, hash) = (Arc::clone(&fetcher), hash.clone());
            tokio::spawn(async move { fetcher.fetch(&hash).await })
        })
        .collect();
    // The download is held until all eight wait on it: the flight is
    // shared by the eight and the table.
    eventually(
        Duration::from_secs(5),
        "eight fetches on one flight",
        || async {
            let flights = fetcher.flights.lock();
            flights
                .get(&hash)
                .is_some_and(|flight| Arc::strong_count(flight) == 9)
        },
    )
    .await;
    server.open.send_replace(true);
    for fetch in fetches {
        assert_eq!(fetch.await.unwrap().unwrap().hash, hash);
    }
    assert_eq!(server.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unreachable_and_failing_trons_are_retried_then_given_up() {
    let source = tempfile::tempdir().unwrap();
    let packed = packed(source.path());
    let hash = packed.bundle.hash.clone();
    let flaky = tron(packed.bytes.clone(), 1).await;
    let cache = tempfile::tempdir().unwrap();
    let urls = vec![closed_port().await, flaky.url.clone()];
    let fetcher = BundleFetcher::new(urls, cache.path().to_path_buf()).with_config(FetchConfig {
        attempts: 4,
        ..quick()
    });
    assert_eq!(fetcher.fetch(&hash).await.unwrap().hash, hash);
    assert_eq!(
        flaky.requests.load(Ordering::SeqCst),
        2,
        "a 503, then the pack"
    );

    let down = BundleFetcher::new(vec![closed_port().await], cache.path().join("other"))
        .with_config(quick());
    let error = down.fetch(&hash).await.unwrap_err().to_string();
    assert!(error.contains("after 3 attempt(s)"), "{error}");
    let none = BundleFetcher::new(Vec::new(), cache.path().join("other"));
    assert!(
        none.fetch(&hash)
            .await
            .unwrap_err()
            .to_string()
            .contains("no tron URL")
    );
    assert!(matches!(
        none.fetch("../etc").await,
        Err(FetchError::BadHash(_))
    ));
}

#[tokio::test]
async fn a_missing_bundle_is_not_retried() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&requests);
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let service = service_fn(move |_request| {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
            *response.status_mut() = StatusCode::NOT_FOUND;
            async { Ok::<_, Infallible>(response) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
    });
    let cache = tempfile::tempdir().unwrap();
    let fetcher = BundleFetcher::new(vec![url], cache.path().to_path_buf()).with_config(quick());
    let error = fetcher.fetch(&"a".repeat(64)).await.unwrap_err();
    assert!(matches!(error, FetchError::NotFound { .. }), "{error}");
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}
