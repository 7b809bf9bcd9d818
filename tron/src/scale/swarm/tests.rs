use bollard::errors::Error;

use super::*;

fn server(status_code: u16, message: &str) -> Error {
    Error::DockerResponseServerError {
        status_code,
        message: message.to_owned(),
    }
}

#[test]
fn engine_answers_map_to_what_the_scaler_does_with_them() {
    let socket = "/var/run/docker.sock";
    let error = |e| scale_error("default", socket, e);
    assert!(matches!(
        error(server(404, "service funcmesh_runner not found")),
        ScaleError::NotFound { pool, .. } if pool == "default"
    ));
    assert!(matches!(
        error(server(403, "forbidden")),
        ScaleError::Forbidden(_)
    ));
    // The engine's refusal of an update at an old version index is a 500.
    assert!(matches!(
        error(server(
            500,
            "rpc error: code = Unknown desc = update out of sequence"
        )),
        ScaleError::Conflict(_)
    ));
    let manager = error(server(503, "This node is not a swarm manager."));
    assert!(
        manager.to_string().contains("swarm manager node"),
        "{manager}"
    );
    assert!(matches!(
        error(server(502, "bad gateway")),
        ScaleError::Unreachable(_)
    ));
    assert!(matches!(
        error(Error::SocketNotFoundError("/nowhere.sock".into())),
        ScaleError::Unreachable(detail) if detail.contains("/nowhere.sock")
    ));
    let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    assert!(matches!(
        error(Error::IOError { err: denied }),
        ScaleError::Forbidden(detail) if detail.contains(socket)
    ));
    let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    assert!(matches!(
        error(Error::IOError { err: refused }),
        ScaleError::Unreachable(_)
    ));
}

#[test]
fn only_a_unix_socket_is_taken() {
    let with = |socket: &str| {
        Swarm::new(SwarmOptions {
            socket: Some(socket.to_owned()),
            ..SwarmOptions::default()
        })
    };
    assert_eq!(
        with("unix:///run/user/1000/docker.sock")
            .map(|swarm| swarm.socket().to_owned())
            .ok()
            .as_deref(),
        Some("/run/user/1000/docker.sock")
    );
    assert_eq!(
        with("/var/run/docker.sock")
            .map(|swarm| swarm.socket().to_owned())
            .ok()
            .as_deref(),
        Some("/var/run/docker.sock")
    );
    for socket in ["tcp://10.0.0.1:2376", "ssh://manager", "docker.sock"] {
        let refused = with(socket)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(refused.contains("Unix socket"), "{socket}: {refused}");
    }
}

#[tokio::test]
async fn a_missing_socket_is_an_unreachable_engine_and_is_tried_again() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let socket = dir.path().join("docker.sock");
    let swarm = Swarm::new(SwarmOptions {
        socket: Some(socket.display().to_string()),
        ..SwarmOptions::default()
    })
    .expect("a Unix socket path");
    for _ in 0..2 {
        let error = swarm.replicas("default").await.err();
        assert!(
            matches!(&error, Some(ScaleError::Unreachable(detail)) if detail.contains("docker.sock")),
            "{error:?}"
        );
    }
}

/// An engine on a Unix socket that keeps one service, as the Docker Engine
/// API answers: `/version`, the service list by label, inspect, update at
/// a version index (refused as out of sequence while `conflicts` lasts,
/// each refusal standing for someone else's update), and the tasks.
#[derive(Clone, Default)]
struct FakeEngine {
    state: std::sync::Arc<parking_lot::Mutex<EngineState>>,
}

#[derive(Default)]
struct EngineState {
    index: u64,
    spec: serde_json::Value,
    conflicts: usize,
    /// Each request: method, path and query.
    requests: Vec<String>,
    /// Each update's version parameter and body.
    updates: Vec<(u64, serde_json::Value)>,
}

impl FakeEngine {
    fn with_service(spec: serde_json::Value) -> Self {
        let engine = Self::default();
        {
            let mut state = engine.state.lock();
            state.index = 10;
            state.spec = spec;
        }
        engine
    }

    fn service(state: &EngineState) -> serde_json::Value {
        serde_json::json!({
            "ID": "svc1",
            "Version": { "Index": state.index },
            "Spec": state.spec,
        })
    }

    fn answer(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: &[u8],
    ) -> (u16, serde_json::Value) {
        use serde_json::json;
        let mut state = self.state.lock();
        state.requests.push(format!("{method} {path}?{query}"));
        // Without its /vX.Y prefix.
        let path = match path.strip_prefix("/v") {
            Some(rest) => rest.find('/').map_or(path, |at| &rest[at..]),
            None => path,
        };
        match (method, path) {
            ("GET", "/version") => (200, json!({ "ApiVersion": "1.41", "Version": "20.10.24" })),
            ("GET", "/services") => (200, json!([Self::service(&state)])),
            ("GET", "/services/stack_runner") => (200, Self::service(&state)),
            ("POST", "/services/stack_runner/update") => {
                let version: u64 = query
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("version="))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let body: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
                state.updates.push((version, body.clone()));
                if state.conflicts > 0 {
                    state.conflicts -= 1;
                    state.index += 1;
                    let message = "rpc error: code = Unknown desc = update out of sequence";
                    return (500, json!({ "message": message }));
                }
                if version != state.index {
                    return (500, json!({ "message": "update out of sequence" }));
                }
                state.index += 1;
                state.spec = body;
                (200, json!({ "Warnings": null }))
            }
            ("GET", "/tasks") => (
                200,
                json!([
                    { "ID": "t1", "DesiredState": "running", "Status": { "State": "running" } },
                    { "ID": "t2", "DesiredState": "running", "Status": { "State": "starting" } },
                ]),
            ),
            _ => (
                404,
                json!({ "message": format!("no such endpoint {path}") }),
            ),
        }
    }

    /// Serves on a socket in `dir`; returns its path.
    fn serve(&self, dir: &std::path::Path) -> String {
        use http_body_util::BodyExt as _;
        let path = dir.join("docker.sock");
        let listener = tokio::net::UnixListener::bind(&path).expect("binding the socket");
        let engine = self.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let engine = engine.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |request: http::Request<hyper::body::Incoming>| {
                            let engine = engine.clone();
                            async move {
                                let method = request.method().to_string();
                                let path = request.uri().path().to_owned();
                                let query = request.uri().query().unwrap_or("").to_owned();
                                let body = request
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                let (status, json) = engine.answer(&method, &path, &query, &body);
                                let response = http::Response::builder()
                                    .status(status)
                                    .header("content-type", "application/json")
                                    .body(http_body_util::Full::new(bytes::Bytes::from(
                                        json.to_string(),
                                    )))
                                    .expect("a response");
                                Ok::<_, std::convert::Infallible>(response)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        path.display().to_string()
    }
}

fn runner_spec() -> serde_json::Value {
    serde_json::json!({
        "Name": "stack_runner",
        "Labels": { "funcmesh.dev/pool": "default", "com.docker.stack.namespace": "stack" },
        "TaskTemplate": {
            "ContainerSpec": {
                "Image": "funcmesh:latest",
                "Args": ["runner", "--tron", "http://tron:7070"],
                "Env": ["FUNCMESH_BUS=amqp://broker"],
                "StopGracePeriod": 35_000_000_000u64,
            },
            "RestartPolicy": { "Condition": "any", "MaxAttempts": 0 },
            "ForceUpdate": 0,
        },
        "Mode": { "Replicated": { "Replicas": 1 } },
        "EndpointSpec": { "Mode": "dnsrr" },
    })
}

#[tokio::test]
async fn a_pool_is_read_from_its_labelled_service_and_its_running_tasks() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let engine = FakeEngine::with_service(runner_spec());
    let swarm = Swarm::new(SwarmOptions {
        socket: Some(engine.serve(dir.path())),
        ..SwarmOptions::default()
    })
    .expect("a socket path");
    let replicas = swarm.replicas("default").await.expect("the service read");
    assert_eq!(
        replicas,
        Replicas {
            desired: 1,
            ready: 1
        }
    );
    let requests = engine.state.lock().requests.clone();
    assert!(requests[0].contains("/version"), "{requests:?}");
    let docker = swarm.docker().await.expect("connected");
    assert_eq!(docker.client_version().to_string(), "1.41", "negotiated");
    assert!(
        requests
            .iter()
            .any(|request| request.contains("funcmesh.dev%2Fpool%3Ddefault")),
        "found by its label: {requests:?}"
    );
}

#[tokio::test]
async fn a_write_sends_back_the_whole_spec_at_the_version_it_read_and_retries_a_conflict() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let engine = FakeEngine::with_service(runner_spec());
    engine.state.lock().conflicts = WRITE_ATTEMPTS - 1;
    let swarm = Swarm::new(SwarmOptions {
        socket: Some(engine.serve(dir.path())),
        services: [("default".to_owned(), "stack_runner".to_owned())].into(),
        ..SwarmOptions::default()
    })
    .expect("a socket path");
    swarm
        .scale("default", 3)
        .await
        .expect("scaled after the conflicts");
    let state = engine.state.lock();
    let versions: Vec<u64> = state.updates.iter().map(|(version, _)| *version).collect();
    // A fresh read before each try: the index someone else moved on.
    assert_eq!(versions, [10, 11, 12]);
    let mut expected = runner_spec();
    expected["Mode"]["Replicated"]["Replicas"] = 3.into();
    assert_eq!(state.spec, expected, "nothing but the replicas changed");
}

#[tokio::test]
async fn a_service_changed_under_every_write_is_a_conflict() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let engine = FakeEngine::with_service(runner_spec());
    engine.state.lock().conflicts = WRITE_ATTEMPTS + 2;
    let swarm = Swarm::new(SwarmOptions {
        socket: Some(engine.serve(dir.path())),
        ..SwarmOptions::default()
    })
    .expect("a socket path");
    let error = swarm.scale("default", 2).await.err();
    assert!(matches!(error, Some(ScaleError::Conflict(_))), "{error:?}");
    assert_eq!(engine.state.lock().updates.len(), WRITE_ATTEMPTS);
    assert_eq!(
        engine.state.lock().spec["Mode"]["Replicated"]["Replicas"],
        1,
        "nothing written"
    );
}

#[tokio::test]
async fn a_global_service_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut spec = runner_spec();
    spec["Mode"] = serde_json::json!({ "Global": {} });
    let engine = FakeEngine::with_service(spec);
    let swarm = Swarm::new(SwarmOptions {
        socket: Some(engine.serve(dir.path())),
        ..SwarmOptions::default()
    })
    .expect("a socket path");
    let error = swarm.scale("default", 2).await.err().map(|e| e.to_string());
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("not a replicated service")),
        "{error:?}"
    );
    assert!(engine.state.lock().updates.is_empty());
}
