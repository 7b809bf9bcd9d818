//! The Marathon orchestrator against a server that answers `GET` and `PUT
//! /v2/apps/{id}` as Marathon's REST API documentation says (no real
//! Marathon can be installed here: see the module comment).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::*;

/// One app as the fake keeps it.
#[derive(Debug, Clone)]
struct FakeApp {
    instances: u32,
    running: u32,
    health_checks: bool,
    /// A deployment in progress: PUTs answer 409 until it ends.
    locked: bool,
}

/// A Marathon that keeps apps in memory; a PUT starts a deployment that
/// brings the running tasks to the new count after `deploy_ms`.
#[derive(Clone)]
struct FakeMarathon {
    apps: Arc<Mutex<BTreeMap<String, FakeApp>>>,
    /// `Basic ...` the fake wants, if any.
    credentials: Option<String>,
    deploy_ms: u64,
    puts: Arc<Mutex<Vec<(String, Value)>>>,
}

impl FakeMarathon {
    fn new() -> Self {
        Self {
            apps: Arc::default(),
            credentials: None,
            deploy_ms: 50,
            puts: Arc::default(),
        }
    }

    fn with_app(self, id: &str, instances: u32, health_checks: bool) -> Self {
        self.apps.lock().insert(
            id.to_owned(),
            FakeApp {
                instances,
                running: instances,
                health_checks,
                locked: false,
            },
        );
        self
    }

    /// Serves on a free port of 127.0.0.1; the base URL.
    async fn start(self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let fake = self.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let fake = fake.clone();
                        async move { Ok::<_, Infallible>(fake.answer(request).await) }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        format!("http://{address}")
    }

    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        if let Some(wanted) = &self.credentials {
            let given = request
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            if given != Some(wanted.as_str()) {
                return reply(
                    StatusCode::UNAUTHORIZED,
                    json!({"message": "Invalid username or password."}),
                );
            }
        }
        let path = request.uri().path().to_owned();
        let Some(id) = path.strip_prefix("/v2/apps") else {
            return reply(StatusCode::NOT_FOUND, json!({"message": "Not Found"}));
        };
        let id = id.to_owned();
        let method = request.method().clone();
        let body = request.into_body().collect().await.unwrap().to_bytes();
        let mut apps = self.apps.lock();
        let Some(app) = apps.get_mut(&id) else {
            return reply(
                StatusCode::NOT_FOUND,
                json!({"message": format!("App '{id}' does not exist")}),
            );
        };
        match method {
            http::Method::GET => reply(
                StatusCode::OK,
                json!({"app": {
                    "id": id,
                    "instances": app.instances,
                    "tasksRunning": app.running,
                    "tasksHealthy": if app.health_checks { app.running } else { 0 },
                    "tasksStaged": 0,
                    "healthChecks": if app.health_checks { json!([{"protocol": "HTTP"}]) } else { json!([]) },
                    "deployments": if app.locked { json!([{"id": "d1"}]) } else { json!([]) },
                }}),
            ),
            http::Method::PUT => {
                if app.locked {
                    return reply(
                        StatusCode::CONFLICT,
                        json!({
                            "message": "App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.",
                            "deployments": [{"id": "d1"}],
                        }),
                    );
                }
                let update: Value = serde_json::from_slice(&body).unwrap();
                self.puts.lock().push((id.clone(), update.clone()));
                let Some(instances) = update["instances"].as_u64() else {
                    return reply(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        json!({"message": "Object is not valid"}),
                    );
                };
                app.instances = instances as u32;
                app.locked = true;
                let apps = Arc::clone(&self.apps);
                let deploy = Duration::from_millis(self.deploy_ms);
                tokio::spawn(async move {
                    tokio::time::sleep(deploy).await;
                    if let Some(app) = apps.lock().get_mut(&id) {
                        app.running = app.instances;
                        app.locked = false;
                    }
                });
                reply(
                    StatusCode::OK,
                    json!({"version": "2026-12-05T00:00:00.000Z", "deploymentId": "d2"}),
                )
            }
            _ => reply(
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"message": "HTTP 405 Method Not Allowed"}),
            ),
        }
    }
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn marathon(url: &str) -> Marathon {
    Marathon::new(MarathonOptions {
        url: url.to_owned(),
        ..MarathonOptions::default()
    })
    .unwrap()
}

#[tokio::test]
async fn reads_instances_and_ready_tasks() {
    let fake = FakeMarathon::new()
        .with_app("/funcmesh/runner-default", 2, false)
        .with_app("/funcmesh/runner-gpu", 3, true);
    let url = fake.start().await;
    let marathon = marathon(&url);
    assert_eq!(
        marathon.replicas("default").await.unwrap(),
        Replicas {
            desired: 2,
            ready: 2
        }
    );
    // With health checks, the healthy tasks are the ready ones.
    assert_eq!(marathon.replicas("gpu").await.unwrap().ready, 3);
}

#[tokio::test]
async fn scales_an_app_and_a_locked_one_answers_a_conflict() {
    let mut fake = FakeMarathon::new().with_app("/funcmesh/runner-default", 1, false);
    fake.deploy_ms = 300;
    let puts = Arc::clone(&fake.puts);
    let url = fake.start().await;
    let marathon = marathon(&url);
    marathon.scale("default", 4).await.unwrap();
    assert_eq!(
        *puts.lock(),
        vec![(
            "/funcmesh/runner-default".to_owned(),
            json!({"instances": 4})
        )]
    );
    let replicas = marathon.replicas("default").await.unwrap();
    assert_eq!((replicas.desired, replicas.ready), (4, 1), "deploying");
    // The deployment still runs: Marathon refuses a second one.
    let error = marathon.scale("default", 2).await.unwrap_err();
    assert!(matches!(error, ScaleError::Conflict(_)), "{error}");
    assert!(error.to_string().contains("locked"), "{error}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        marathon.replicas("default").await.unwrap(),
        Replicas {
            desired: 4,
            ready: 4
        }
    );
    marathon.scale("default", 2).await.unwrap();
}

#[tokio::test]
async fn a_missing_app_a_refusal_and_a_dead_marathon_are_told_apart() {
    let mut fake = FakeMarathon::new().with_app("/team/runners", 1, false);
    fake.credentials = Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ops:s3cret")
    ));
    let url = fake.start().await;
    let address = url.trim_start_matches("http://");

    let anonymous = marathon(&url);
    let error = anonymous.replicas("default").await.unwrap_err();
    assert!(matches!(error, ScaleError::Forbidden(_)), "{error}");

    let named = Marathon::new(MarathonOptions {
        url: format!("http://ops:s3cret@{address}"),
        apps: BTreeMap::from([("default".to_owned(), "team/runners".to_owned())]),
        app_prefix: None,
    })
    .unwrap();
    assert_eq!(named.replicas("default").await.unwrap().desired, 1);
    let error = named.replicas("other").await.unwrap_err();
    assert!(matches!(error, ScaleError::NotFound { .. }), "{error}");
    assert!(
        error.to_string().contains("/funcmesh/runner-other"),
        "{error}"
    );
    // The password is in no error and no debug output.
    assert!(!format!("{named:?}").contains("s3cret"));

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let dead = marathon(&format!("http://{closed}"));
    let error = dead.replicas("default").await.unwrap_err();
    assert!(matches!(error, ScaleError::Unreachable(_)), "{error}");
}

#[test]
fn only_http_urls_with_a_host_are_taken() {
    for url in ["https://marathon:8443", "marathon:8080", "http://"] {
        let error = Marathon::new(MarathonOptions {
            url: url.to_owned(),
            ..MarathonOptions::default()
        })
        .unwrap_err();
        assert!(
            error.to_string().contains("--marathon-url"),
            "{url}: {error}"
        );
    }
}
