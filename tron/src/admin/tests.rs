//! The admin routes over real HTTP on 127.0.0.1.

mod upload;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use funcmesh_core::auth::MeshToken;
use funcmesh_core::bundle::{Packed, pack_any};
use funcmesh_core::tls::{AdminConnector, AdminTrust};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::{AdminState, DEFAULT_MAX_UPLOAD, UploadHook, serve};
use crate::store::BundleStore;

/// A module exporting `memory`, `funcmesh_alloc` and `hello`: all the
/// loader reads of a module is its export section.
const MODULE: &[u8] =
    b"\0asm\x01\0\0\0\x01\x07\x01`\x02\x7f\x7f\x01~\x03\x03\x02\0\0\x05\x03\x01\0\x01\
    \x07#\x03\x0efuncmesh_alloc\0\0\x05hello\0\x01\x06memory\x02\0\n\t\x02\x03\0\0\x0b\x03\0\0\x0b";

/// The mesh token the test listeners require.
const TOKEN: &str = "test-token-0123456789abcdef0123456789";

/// Writes a bundle serving `GET {base}/hello` into `dir` and packs it.
fn write_bundle(dir: &Path, base: &str) -> Packed {
    std::fs::create_dir_all(dir).unwrap();
    let spec = format!(
        "openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\nservers: [{{url: '{base}'}}]\n\
         paths:\n  /hello:\n    get:\n      operationId: hello\n      responses: {{'200': {{description: ok}}}}\n"
    );
    std::fs::write(dir.join("openapi.yaml"), spec).unwrap();
    std::fs::write(dir.join("hello.wasm"), MODULE).unwrap();
    pack_any(dir).unwrap()
}

/// A hook that loads the uploaded directory, as the tron process does, and
/// stores its pack.
fn storing_hook(store: Arc<BundleStore>) -> UploadHook {
    Arc::new(move |dir: PathBuf| {
        let store = Arc::clone(&store);
        Box::pin(async move {
            let packed = tokio::task::spawn_blocking(move || pack_any(&dir)).await??;
            store.insert(&packed);
            Ok(packed.bundle.hash)
        })
    })
}

struct Admin {
    base: String,
    store: Arc<BundleStore>,
    bundles: tempfile::TempDir,
    client: Client<AdminConnector, Full<Bytes>>,
    /// The `Authorization` header sent unless a test sends its own.
    authorization: Option<String>,
    _stop: oneshot::Sender<()>,
}

impl Admin {
    async fn start(configure: impl FnOnce(&mut AdminState)) -> Self {
        Self::start_on(configure, None, &AdminTrust::default()).await
    }

    /// The same, serving TLS when `tls` is given (at an `https://` base),
    /// its client trusting what `trust` names.
    async fn start_on(
        configure: impl FnOnce(&mut AdminState),
        tls: Option<Arc<rustls::ServerConfig>>,
        trust: &AdminTrust,
    ) -> Self {
        let store = Arc::new(BundleStore::new());
        let bundles = tempfile::tempdir().unwrap();
        let mut state = AdminState {
            store: Arc::clone(&store),
            bundles_dir: bundles.path().join("bundles"),
            max_upload: DEFAULT_MAX_UPLOAD,
            on_upload: storing_hook(Arc::clone(&store)),
            status: Arc::new(|| json!({"routes": 0})),
            token: Some(MeshToken::new(TOKEN).unwrap()),
        };
        configure(&mut state);
        let authorization = state.token.as_ref().map(MeshToken::bearer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base = format!("{scheme}://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, state, tls, async {
            let _ = stopped.await;
        }));
        let client = Client::builder(TokioExecutor::new()).build(trust.connector().unwrap());
        Self {
            base,
            store,
            bundles,
            client,
            authorization,
            _stop: stop,
        }
    }

    fn bundles_dir(&self) -> PathBuf {
        self.bundles.path().join("bundles")
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> (StatusCode, http::HeaderMap, Bytes) {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let own = headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("authorization"));
        if let (Some(authorization), false) = (&self.authorization, own) {
            request = request.header("authorization", authorization);
        }
        let response = self
            .client
            .request(request.body(Full::new(body)).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        (
            parts.status,
            parts.headers,
            body.collect().await.unwrap().to_bytes(),
        )
    }

    async fn get(&self, path: &str) -> (StatusCode, http::HeaderMap, Bytes) {
        self.send(Method::GET, path, &[], Bytes::new()).await
    }
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

#[tokio::test]
async fn health_status_and_unknown_resources() {
    let admin = Admin::start(|_| {}).await;
    assert_eq!(admin.get("/health").await.0, StatusCode::OK);
    let (status, _, body) = admin.get("/status").await;
    assert_eq!(
        (status, json_of(&body)),
        (StatusCode::OK, json!({"routes": 0}))
    );
    assert_eq!(admin.get("/nope").await.0, StatusCode::NOT_FOUND);
    let post = admin
        .send(Method::POST, "/bundles", &[], Bytes::new())
        .await;
    assert_eq!(post.0, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn everything_but_health_requires_the_token() {
    let admin = Admin::start(|_| {}).await;
    let source = tempfile::tempdir().unwrap();
    let packed = write_bundle(&source.path().join("hello"), "/v1");
    admin.store.insert(&packed);
    let pack = format!("/bundles/{}", packed.bundle.hash);
    let wrong = format!("Bearer {}", TOKEN.replace('0', "1"));
    for authorization in ["", "Bearer ", &wrong, TOKEN, "Basic Z3Vlc3Q6Z3Vlc3Q="] {
        let headers: &[(&str, &str)] = &[("authorization", authorization)];
        for (method, path) in [
            (Method::GET, "/status"),
            (Method::GET, "/bundles"),
            (Method::GET, pack.as_str()),
            (Method::PUT, "/bundles/hello"),
            (Method::GET, "/nope"),
        ] {
            let (status, response, body) = admin
                .send(method.clone(), path, headers, packed.bytes.clone())
                .await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {authorization:?}"
            );
            assert!(
                response["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .starts_with("Bearer")
            );
            let error = json_of(&body)["error"].as_str().unwrap().to_owned();
            assert!(error.contains("token"), "{error}");
        }
    }
    // Nothing was uploaded.
    assert!(!admin.bundles_dir().join("hello").exists());
    // Health stays open, for probes.
    let (status, _, _) = admin
        .send(
            Method::GET,
            "/health",
            &[("authorization", "")],
            Bytes::new(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // The token itself opens the rest.
    assert_eq!(admin.get(&pack).await.0, StatusCode::OK);
}

#[tokio::test]
async fn without_a_token_the_routes_are_open() {
    let admin = Admin::start(|state| state.token = None).await;
    assert_eq!(admin.get("/status").await.0, StatusCode::OK);
}

/// The admin listener over TLS: uploads and pack downloads work for a
/// client that trusts its CA, over HTTP/2 as over HTTP/1.1; a client that
/// does not, or that speaks plain HTTP, gets nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_only_a_client_that_trusts_the_certificate_is_served() {
    let pki = funcmesh_testkit::tls::TestPki::new();
    let tls =
        funcmesh_core::tls::server_config(&pki.path("server.pem"), &pki.path("server-key.pem"))
            .unwrap();
    let trust = AdminTrust {
        ca: Some(pki.path("ca.pem")),
    };
    let admin = Admin::start_on(|_| {}, Some(tls), &trust).await;
    assert!(admin.base.starts_with("https://"), "{}", admin.base);
    assert_eq!(admin.get("/health").await.0, StatusCode::OK);
    let source = tempfile::tempdir().unwrap();
    let packed = write_bundle(&source.path().join("hello"), "/v1");
    let (status, _, body) = admin
        .send(
            Method::PUT,
            "/bundles/hello",
            &[("x-bundle-hash", &packed.bundle.hash)],
            packed.bytes.clone(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (status, _, body) = admin.get(&format!("/bundles/{}", packed.bundle.hash)).await;
    assert_eq!((status, body), (StatusCode::OK, packed.bytes.clone()));

    // ALPN offers h2: a client that speaks only HTTP/2 is served too.
    let h2 = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build::<_, Full<Bytes>>(trust.connector().unwrap());
    let response = h2
        .request(
            Request::get(format!("{}/health", admin.base))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        (response.status(), response.version()),
        (StatusCode::OK, http::Version::HTTP_2)
    );

    // Trusting the system's certificates only, or another CA: refused.
    for ca in [None, Some(pki.path("other-ca.pem"))] {
        let client = Client::builder(TokioExecutor::new())
            .build::<_, Full<Bytes>>(AdminTrust { ca }.connector().unwrap());
        let request = Request::get(format!("{}/health", admin.base))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let err = client.request(request).await.unwrap_err();
        let chain = funcmesh_core::errors::chain(&err);
        assert!(chain.contains("certificate"), "{chain}");
    }
    // Plain HTTP to the TLS port: no answer.
    let plain = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let url = admin.base.replacen("https://", "http://", 1);
    let request = Request::get(format!("{url}/health"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert!(plain.request(request).await.is_err());
}

#[tokio::test]
async fn packs_are_served_by_hash() {
    let admin = Admin::start(|_| {}).await;
    let source = tempfile::tempdir().unwrap();
    let packed = write_bundle(&source.path().join("hello"), "/v1");
    admin.store.insert(&packed);
    let hash = &packed.bundle.hash;

    let (status, headers, body) = admin.get(&format!("/bundles/{hash}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, packed.bytes);
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert_eq!(headers["x-bundle-hash"], hash.as_str());
    assert_eq!(headers["etag"], format!("\"{hash}\"").as_str());

    let (status, _, body) = admin.get("/bundles").await;
    assert_eq!(status, StatusCode::OK);
    let size = packed.bytes.len();
    assert_eq!(
        json_of(&body),
        json!([{"name": "hello", "hash": hash, "host": null, "basePath": "/v1", "size": size}])
    );

    let (status, _, body) = admin.get(&format!("/bundles/{}", "0".repeat(64))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        json_of(&body)["error"]
            .as_str()
            .unwrap()
            .contains("no bundle")
    );
    for bad in ["xyz", &hash.to_uppercase(), &hash[1..]] {
        let (status, _, body) = admin.get(&format!("/bundles/{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            json_of(&body)["error"]
                .as_str()
                .unwrap()
                .contains("not a bundle hash")
        );
    }
}
