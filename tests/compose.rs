//! `compose/` on the real Docker engine, from images built on this machine
//! (`scripts/images`, the funcmesh ones holding this build's binary): every
//! compose file is valid; the mesh comes up on RabbitMQ and answers
//! through the gateway container; a file saved on the host is live; three
//! runners serve; a runner container killed under load loses nothing;
//! `down` leaves nothing behind; Prometheus (`metrics.yaml`) scrapes every
//! process of the mesh; the NATS, Kafka and one-container variants answer
//! too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use funcmesh_testkit::docker::{self, Compose};
use funcmesh_testkit::{eventually, free_port};

fn compose_dir() -> std::path::PathBuf {
    common::root().join("compose")
}

#[test]
fn every_compose_file_is_valid() {
    if !docker::engine() {
        return;
    }
    let dir = compose_dir();
    for files in [
        &["compose.yaml"][..],
        &["compose.yaml", "nats.yaml"],
        &["compose.yaml", "kafka.yaml"],
        &["compose.yaml", "metrics.yaml"],
        &["dev.yaml"],
    ] {
        Compose::new(&dir, "funcmesh-config-check", files, &[]).ok(&["config", "-q"]);
    }
    let swarm = dir.join("swarm.yaml").display().to_string();
    docker::docker_ok(&["stack", "config", "-c", &swarm]);
}

/// A copy of the example bundles, sources and all (the tron in its
/// container builds the Rust ones), with the `faults` fixture packed beside
/// them, readable and writable by the containers' user.
fn bundle_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("funcmesh-compose-")
        .tempdir()
        .unwrap();
    let examples = common::root().join("swagger-examples");
    for entry in [
        "Cargo.toml",
        "Cargo.lock",
        "hello",
        "greeter-v2",
        "petstore",
        "words-py",
    ] {
        copy_tree(&examples.join(entry), &dir.path().join(entry));
    }
    let faults = funcmesh_core::bundle::pack_any(&common::root().join("tests/fixtures/faults"))
        .expect("packing the faults fixture");
    funcmesh_core::bundle::unpack_to(
        &faults.bytes,
        &faults.bundle.hash,
        &dir.path().join("faults"),
    )
    .unwrap();
    open_to_containers(dir.path());
    dir
}

/// Lets the containers' user (10001) read and write everything in `dir`.
fn open_to_containers(dir: &Path) {
    let status = std::process::Command::new("chmod")
        .args(["-R", "a+rwX"])
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success());
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name() != "target" && entry.file_name() != "__pycache__" {
                copy_tree(&entry.path(), &to.join(entry.file_name()));
            }
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

async fn get(gateway: SocketAddr, path: &str) -> Option<(u16, serde_json::Value)> {
    let response = common::call_at(gateway, "GET", path)
        .try_send()
        .await
        .ok()?;
    Some((response.status, response.json()))
}

#[test]
fn the_mesh_comes_up_reloads_on_save_scales_and_loses_nothing() {
    if !common::docker_images(&["rabbitmq", "prometheus", "funcmesh"]) {
        return;
    }
    let bundles = bundle_dir();
    let gateway = free_port();
    let admin = free_port();
    let prometheus = free_port();
    let project = format!("funcmesh-test-{}", std::process::id());
    let token = funcmesh_core::auth::MeshToken::generate();
    let bearer = token.bearer();
    let compose = Compose::new(
        &compose_dir(),
        &project,
        &["compose.yaml", "metrics.yaml"],
        &[
            ("FUNCMESH_TOKEN", token.secret().to_owned()),
            ("FUNCMESH_BUNDLES", bundles.path().display().to_string()),
            ("FUNCMESH_PUBLISH", gateway.to_string()),
            ("FUNCMESH_ADMIN_PUBLISH", admin.to_string()),
            ("FUNCMESH_PROMETHEUS_PUBLISH", prometheus.to_string()),
        ],
    );
    let started = Instant::now();
    compose.ok(&["up", "--detach", "--no-build"]);
    common::block_on(async {
        // The first start builds the Rust bundles in the tron's container.
        eventually(
            Duration::from_secs(600),
            "GET /hello/greet?name=Ada through the gateway container",
            || async {
                get(gateway, "/hello/greet?name=Ada").await
                    == Some((200, serde_json::json!({"greeting": "Hello, Ada!"})))
            },
        )
        .await;
        eprintln!(
            "compose up to the first answer: {:.1} s",
            started.elapsed().as_secs_f64()
        );
        assert_eq!(
            compose.containers("runner").len(),
            2,
            "two runners by default"
        );
        eventually(
            Duration::from_secs(60),
            "the Python bundle answers",
            || async {
                get(gateway, "/words/mouse")
                    .await
                    .is_some_and(|(status, words)| status == 200 && words["plural"] == "mice")
            },
        )
        .await;

        // A Python source saved on the host is live in the containers.
        let api = bundles.path().join("words-py/words/api.py");
        let source = std::fs::read_to_string(&api).unwrap();
        let edited = source.replace(
            "\"camel\": inflection.camelize(underscored),",
            "\"camel\": \"Edited\" + inflection.camelize(underscored),",
        );
        assert_ne!(source, edited, "the edit applies");
        let saved = Instant::now();
        std::fs::write(&api, edited).unwrap();
        eventually(Duration::from_secs(60), "the edit live", || async {
            get(gateway, "/words/mouse")
                .await
                .is_some_and(|(_, words)| words["camel"] == "EditedMouse")
        })
        .await;
        eprintln!(
            "save on the host to live in the mesh: {:.2} s",
            saved.elapsed().as_secs_f64()
        );

        // Three runners.
        compose.ok(&[
            "up",
            "--detach",
            "--no-build",
            "--no-recreate",
            "--scale",
            "runner=3",
        ]);
        assert_eq!(compose.containers("runner").len(), 3);
        eventually(
            Duration::from_secs(60),
            "three runners heartbeat",
            || async {
                let status: Option<serde_json::Value> = async {
                    let response = common::call_at(admin, "GET", "/status")
                        .header("authorization", &bearer)
                        .try_send()
                        .await
                        .ok()?;
                    Some(response.json())
                }
                .await;
                status.is_some_and(|status| status["runners"].as_array().map_or(0, Vec::len) == 3)
            },
        )
        .await;
        for _ in 0..20 {
            let (status, _) = get(gateway, "/hello/greet?name=Ada").await.unwrap();
            assert_eq!(status, 200);
        }

        // Prometheus scrapes the tron, the gateway and every runner, and
        // sees the requests just sent.
        eventually(
            Duration::from_secs(60),
            "Prometheus scrapes every process of the mesh",
            || async { scraped(prometheus).await == Some((1, 1, 3)) },
        )
        .await;
        let query = "/api/v1/query?query=sum(funcmesh_gateway_request_duration_seconds_count%7Bfunc%3D%22hello%22%7D)";
        eventually(
            Duration::from_secs(30),
            "Prometheus holds the gateway's count of /hello requests",
            || async {
                let Ok(resp) = common::call_at(prometheus, "GET", query).try_send().await else {
                    return false;
                };
                let answer = resp.json();
                let value = answer["data"]["result"][0]["value"][1]
                    .as_str()
                    .unwrap_or("0");
                value.parse::<f64>().unwrap_or(0.0) >= 20.0
            },
        )
        .await;

        // A runner container killed while it holds requests: every request
        // is answered, by the others. Each call sleeps 250 ms of the
        // fixture's 500 ms deadline, the rest left for a loaded machine.
        let load: Vec<_> = (0..60)
            .map(|_| {
                tokio::spawn(async move {
                    common::call_at(gateway, "GET", "/faults/slow?ms=250")
                        .send()
                        .await
                        .status
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let victim = compose.containers("runner")[0].clone();
        docker::docker_ok(&["kill", &victim]);
        let mut statuses = Vec::new();
        for request in load {
            statuses.push(request.await.unwrap());
        }
        assert!(
            statuses.iter().all(|&status| status == 200),
            "every request answered 200 after a runner was killed: {statuses:?}"
        );
    });

    compose.down();
    assert_eq!(
        compose.leftovers(),
        Vec::<String>::new(),
        "down leaves nothing"
    );
}

/// How many trons, gateways and runners Prometheus at `addr` scrapes with
/// success; `None` while it does not answer.
async fn scraped(addr: SocketAddr) -> Option<(usize, usize, usize)> {
    let resp = common::call_at(addr, "GET", "/api/v1/targets")
        .try_send()
        .await
        .ok()?;
    let targets = resp.json();
    let up = |component: &str| {
        targets["data"]["activeTargets"]
            .as_array()
            .map_or(0, |all| {
                all.iter()
                    .filter(|t| t["labels"]["component"] == component && t["health"] == "up")
                    .count()
            })
    };
    Some((up("tron"), up("gateway"), up("runner")))
}

#[test]
fn the_nats_kafka_and_one_container_variants_answer() {
    if !common::docker_images(&["nats", "tansu", "funcmesh"]) {
        return;
    }
    let root = common::root();
    // The Python example alone: nothing to build in the containers.
    let bundles = tempfile::Builder::new()
        .prefix("funcmesh-compose-")
        .tempdir()
        .unwrap();
    copy_tree(
        &root.join("swagger-examples/words-py"),
        &bundles.path().join("words-py"),
    );
    open_to_containers(bundles.path());
    for files in [
        &["compose.yaml", "nats.yaml"][..],
        &["compose.yaml", "kafka.yaml"],
        &["dev.yaml"],
    ] {
        let gateway = free_port();
        let project = format!(
            "funcmesh-test-{}-{}",
            std::process::id(),
            files.last().unwrap().trim_end_matches(".yaml")
        );
        let compose = Compose::new(
            &compose_dir(),
            &project,
            files,
            &[
                ("FUNCMESH_BUNDLES", bundles.path().display().to_string()),
                ("FUNCMESH_PUBLISH", gateway.to_string()),
                ("FUNCMESH_ADMIN_PUBLISH", free_port().to_string()),
            ],
        );
        compose.ok(&["up", "--detach", "--no-build"]);
        common::block_on(eventually(
            Duration::from_secs(180),
            &format!("GET /words/mouse through {files:?}"),
            || async {
                get(gateway, "/words/mouse")
                    .await
                    .is_some_and(|(status, words)| status == 200 && words["plural"] == "mice")
            },
        ));
        compose.down();
        assert_eq!(
            compose.leftovers(),
            Vec::<String>::new(),
            "{files:?}: down leaves nothing"
        );
    }
}
