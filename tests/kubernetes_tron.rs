//! `funcmesh tron --scaler kubernetes` as a process, from its flags to the
//! runner Deployment of `k8s/` on a real Kubernetes API server
//! (`funcmesh_testkit::kube`), on RabbitMQ. The tron authenticates with
//! its ServiceAccount's token. No kubelet runs here, so the Deployment's
//! pods never start: a burst stays queued, and the tron raises the
//! Deployment to the pool's max, then lowers it to its min once the
//! requests have expired.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::block_on_showing_logs;
use common::cluster::{Cluster, RABBITMQ, free_port};
use funcmesh_testkit::eventually;
use funcmesh_testkit::kube::{KubeApiServer, kubectl_ok, render_for_old_server, replicas_of};

fn replicas(server: &KubeApiServer) -> u64 {
    replicas_of(server, "funcmesh", "funcmesh-runner-default")
}

#[test]
fn a_tron_scales_the_runner_deployment_with_its_service_account() {
    let Some(server) = KubeApiServer::start() else {
        return;
    };
    let admin = server.admin();
    let rendered = render_for_old_server(&server, &common::root().join("k8s/overlays/try"));
    kubectl_ok(&admin, &["apply", "-f", rendered.to_str().unwrap()]);
    let token = kubectl_ok(
        &admin,
        &["-n", "funcmesh", "create", "token", "funcmesh-tron"],
    );
    let kubeconfig = server.kubeconfig("tron", token.trim(), "funcmesh");
    let kubeconfig = kubeconfig.to_str().unwrap();

    let cluster = Cluster::with_bundles(RABBITMQ, &["tests/fixtures/faults"]);
    block_on_showing_logs(&cluster, async {
        let tron_admin = free_port();
        cluster.start_tron_with(
            "tron",
            tron_admin,
            &[
                "--scaler",
                "kubernetes",
                "--kubeconfig",
                kubeconfig,
                "--k8s-deployment",
                "default=funcmesh-runner-default",
                "--pool",
                "default:min=2,max=5,target=8",
                "--scale-down-window-ms",
                "3000",
            ],
        );
        cluster.start_gateway("gateway");
        let wait = Duration::from_secs(60);
        eventually(wait, "the Deployment at the pool's min", || async {
            replicas(&server) == 2
        })
        .await;

        // A burst that no runner takes: the queue stands, the pool grows
        // to its max, and no further.
        let gateway = cluster.gateway;
        let burst: Vec<_> = (0..40)
            .map(|_| {
                tokio::spawn(async move {
                    common::call_at(gateway, "GET", "/faults/slow?ms=20")
                        .send()
                        .await
                        .status
                })
            })
            .collect();
        eventually(wait, "the Deployment at the pool's max", || async {
            replicas(&server) == 5
        })
        .await;
        let status = cluster.status_at(tron_admin).await.unwrap();
        let pool = &status["scaling"]["pools"]["default"];
        assert_eq!(pool["current"], 5, "{pool}");
        assert_eq!(pool["ready"], 0, "no kubelet: {pool}");
        assert_eq!(pool["error"], serde_json::Value::Null, "{pool}");

        // The requests expire unanswered (504) and leave the queue; after
        // the window the pool is back at its min.
        for request in burst {
            assert_eq!(request.await.unwrap(), 504);
        }
        eventually(wait, "the Deployment back at the pool's min", || async {
            replicas(&server) == 2
        })
        .await;
        assert!(cluster.logs_of("tron").contains("pool=default 2 -> 5"));
    });
}
