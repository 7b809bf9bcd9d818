//! `funcmesh tron --scaler swarm` on a real one-node swarm: `compose/swarm.yaml`
//! deployed with `docker stack deploy` from images built on this machine,
//! a bundle pushed to the tron, a burst through the gateway. The tron
//! scales the runner service up under the burst (its new tasks really run
//! and answer) and back to the pool's min after it; no request is lost,
//! and the scaler's updates change nothing of the service but its
//! replicas.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use funcmesh_testkit::docker::{OneNodeSwarm, Stack, docker, docker_ok};
use funcmesh_testkit::{eventually, free_port};

/// The service's spec as the engine holds it, as JSON.
fn spec(service: &str) -> serde_json::Value {
    let inspected = docker_ok(&["service", "inspect", "--format", "{{json .Spec}}", service]);
    serde_json::from_str(inspected.trim()).unwrap()
}

fn replicas(service: &str) -> u64 {
    spec(service)["Mode"]["Replicated"]["Replicas"]
        .as_u64()
        .unwrap_or(0)
}

/// The ids of the service's tasks that run.
fn running_tasks(service: &str) -> Vec<String> {
    docker_ok(&[
        "service",
        "ps",
        "-q",
        "--filter",
        "desired-state=running",
        service,
    ])
    .split_whitespace()
    .map(str::to_owned)
    .collect()
}

#[test]
fn the_tron_scales_the_runner_service_of_a_swarm_with_the_load() {
    if !common::docker_images(&["rabbitmq", "funcmesh"]) {
        return;
    }
    let root = common::root();
    let _swarm = OneNodeSwarm::ensure();
    let (gateway, admin) = (free_port(), free_port());
    let name = format!("fmtest{}", std::process::id());
    let token = funcmesh_core::auth::MeshToken::generate();
    // Dropped after the stack (declared before it): a secret in use
    // cannot be removed.
    let secret = Secret::create(&format!("{name}-token"), token.secret());
    let stack = Stack::deploy(
        &root.join("compose/swarm.yaml"),
        &name,
        &[
            ("FUNCMESH_TOKEN_SECRET", secret.0.clone()),
            ("FUNCMESH_PUBLISH", gateway.port().to_string()),
            ("FUNCMESH_ADMIN_PUBLISH", admin.port().to_string()),
            ("FUNCMESH_POOL", "default:min=1,max=3,target=8".to_owned()),
            ("FUNCMESH_SCALE_DOWN_WINDOW_MS", "5000".to_owned()),
        ],
    );
    let runner = stack.service("runner");
    let tron_admin = format!("http://{admin}");
    common::block_on(async {
        let wait = Duration::from_secs(180);
        eventually(wait, "the tron's admin API", || async {
            common::call_at(admin, "GET", "/health")
                .try_send()
                .await
                .is_ok_and(|response| response.status == 200)
        })
        .await;
        // The bundle reaches the cluster as a team's would: pushed.
        let push = std::process::Command::new(env!("CARGO_BIN_EXE_funcmesh"))
            .args(["push", "tests/fixtures/faults", "--tron", &tron_admin])
            .env("FUNCMESH_TOKEN", token.secret())
            .current_dir(&root)
            .output()
            .unwrap();
        assert!(
            push.status.success(),
            "funcmesh push: {}",
            String::from_utf8_lossy(&push.stderr)
        );
        eventually(
            wait,
            "the pushed bundle answers through the gateway",
            || async {
                common::call_at(gateway, "GET", "/faults/slow?ms=1")
                    .try_send()
                    .await
                    .is_ok_and(|response| response.status == 200)
            },
        )
        .await;
        assert_eq!(replicas(&runner), 1, "the pool's min");
        let before = spec(&runner);
        let first_task = running_tasks(&runner);
        assert_eq!(first_task.len(), 1);

        // A burst: far more than one runner's 8 slots, for several seconds.
        let burst: Vec<_> = (0..400)
            .map(|_| {
                tokio::spawn(async move {
                    common::call_at(gateway, "GET", "/faults/slow?ms=250")
                        .send()
                        .await
                        .status
                })
            })
            .collect();
        eventually(wait, "the runner service scaled up", || async {
            replicas(&runner) >= 2
        })
        .await;
        eventually(wait, "the new runner tasks run", || async {
            running_tasks(&runner).len() >= 2
        })
        .await;
        assert!(
            running_tasks(&runner).contains(&first_task[0]),
            "scaling up left the first runner task alone"
        );
        let mut statuses = Vec::new();
        for request in burst {
            statuses.push(request.await.unwrap());
        }
        assert!(
            statuses.iter().all(|&status| status == 200),
            "every request of the burst answered 200: {statuses:?}"
        );
        let status = common::call_at(admin, "GET", "/status")
            .header("authorization", &token.bearer())
            .send()
            .await
            .json();
        let served_by: Vec<u64> = status["runners"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|runner| runner["stats"]["answered"].as_u64())
            .collect();
        assert!(
            served_by.iter().filter(|&&answered| answered > 0).count() >= 2,
            "the new tasks answered requests: {status}"
        );

        // After the burst: back to the min, once the window has passed.
        eventually(
            wait,
            "the runner service back at the pool's min",
            || async { replicas(&runner) == 1 },
        )
        .await;
        let logs = funcmesh_testkit::docker::service_logs(&stack.service("tron"));
        assert!(logs.contains("pool=default 1 -> "), "{logs}");
        for decision in logs.lines().filter(|line| line.contains("pool=default ")) {
            eprintln!("{decision}");
        }

        // The scaler sent back the whole spec: nothing changed but the
        // replicas.
        let mut after = spec(&runner);
        after["Mode"] = before["Mode"].clone();
        assert_eq!(after, before, "the service's spec apart from its replicas");
    });
}

/// A swarm secret, removed when dropped.
struct Secret(String);

impl Secret {
    fn create(name: &str, value: &str) -> Self {
        use std::io::Write as _;
        let mut child = std::process::Command::new("docker")
            .args(["secret", "create", name, "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(value.as_bytes())
            .unwrap();
        assert!(
            child.wait().unwrap().success(),
            "docker secret create {name}"
        );
        Self(name.to_owned())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // The stack's tasks may take a moment to let go of it.
        for _ in 0..30 {
            if docker(&["secret", "rm", &self.0]).status.success() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}
