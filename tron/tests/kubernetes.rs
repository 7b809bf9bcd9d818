//! The Kubernetes orchestrator and the manifests of `k8s/`, against a real
//! Kubernetes API server (Debian's kube-apiserver 1.20 and etcd, started
//! by `funcmesh_testkit::kube` on loopback ports for each test).
//!
//! No kubelet runs: Deployments are stored, validated, authorised and
//! scaled by the API server, and no pod ever starts. What is tested is what
//! the API server decides.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use funcmesh_testkit::kube::{
    KubeApiServer, NOBODY_TOKEN, kubectl, kubectl_ok, render_for_old_server, replicas_of,
};
use funcmesh_tron::scale::rule::RuleConfig;
use funcmesh_tron::scale::scaler::{PoolInput, Scaler};
use funcmesh_tron::scale::{Kubernetes, KubernetesOptions, Orchestrator, Pools, ScaleError};

/// The overlays a team applies.
const OVERLAYS: &[&str] = &["rabbitmq", "nats", "kafka", "try"];

fn k8s() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../k8s")
}

fn render(server: &KubeApiServer, overlay: &str) -> PathBuf {
    render_for_old_server(server, &k8s().join("overlays").join(overlay))
}

async fn adapter(kubeconfig: PathBuf, deployments: &[(&str, &str)]) -> Kubernetes {
    Kubernetes::connect(KubernetesOptions {
        kubeconfig: Some(kubeconfig),
        deployments: deployments
            .iter()
            .map(|(pool, name)| ((*pool).to_owned(), (*name).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        ..KubernetesOptions::default()
    })
    .await
    .unwrap()
}

#[test]
fn every_overlay_renders_and_the_api_server_accepts_it() {
    let Some(server) = KubeApiServer::start() else {
        return;
    };
    let admin = server.admin();
    // Server-side dry runs do not create the namespace the rest goes in.
    kubectl_ok(&admin, &["create", "namespace", "funcmesh"]);
    for overlay in OVERLAYS {
        let rendered = render(&server, overlay);
        let out = kubectl_ok(
            &admin,
            &[
                "apply",
                "--dry-run=server",
                "-f",
                rendered.to_str().unwrap(),
            ],
        );
        for kind in [
            "deployment.apps/funcmesh-gateway",
            "role.rbac.authorization.k8s.io/funcmesh-tron",
        ] {
            assert!(out.contains(kind), "{overlay}: {out}");
        }
    }
    // The dry run is a real check: a wrong type is refused.
    let rendered = std::fs::read_to_string(render(&server, "try")).unwrap();
    let broken = rendered.replacen("replicas: 2", "replicas: two", 1);
    let path = server.dir().join("broken.yaml");
    std::fs::write(&path, broken).unwrap();
    let output = kubectl(
        &admin,
        &["apply", "--dry-run=server", "-f", path.to_str().unwrap()],
    );
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("replicas"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trons_identity_scales_its_runners_and_nothing_else() {
    let Some(server) = KubeApiServer::start() else {
        return;
    };
    let admin = server.admin();
    let rendered = render(&server, "try");
    kubectl_ok(&admin, &["apply", "-f", rendered.to_str().unwrap()]);
    assert_eq!(
        replicas_of(&server, "funcmesh", "funcmesh-runner-default"),
        1
    );

    // The tron's own identity: its ServiceAccount's token, as in its pod.
    let token = kubectl_ok(
        &admin,
        &["-n", "funcmesh", "create", "token", "funcmesh-tron"],
    );
    let tron = server.kubeconfig("tron", token.trim(), "funcmesh");
    let kubernetes = adapter(tron.clone(), &[]).await;
    assert_eq!(kubernetes.namespace(), "funcmesh");
    let replicas = kubernetes.replicas("default").await.unwrap();
    assert_eq!(
        (replicas.desired, replicas.ready),
        (1, 0),
        "no kubelet: nothing ready"
    );

    kubernetes.scale("default", 5).await.unwrap();
    assert_eq!(
        replicas_of(&server, "funcmesh", "funcmesh-runner-default"),
        5
    );
    assert_eq!(kubernetes.replicas("default").await.unwrap().desired, 5);
    kubernetes.scale("default", 2).await.unwrap();
    assert_eq!(
        replicas_of(&server, "funcmesh", "funcmesh-runner-default"),
        2
    );

    // Re-applying the manifests leaves the scaler's count alone.
    kubectl_ok(&admin, &["apply", "-f", rendered.to_str().unwrap()]);
    assert_eq!(
        replicas_of(&server, "funcmesh", "funcmesh-runner-default"),
        2
    );

    // The scaler itself, through this adapter: a queue of 500 messages
    // and no runner ready raise the pool at once, by the step limit.
    let pools = Pools::load(None, &["default:min=1,max=6,target=8".to_owned()]).unwrap();
    let orchestrator: Arc<dyn Orchestrator> = Arc::new(adapter(tron.clone(), &[]).await);
    let mut scaler = Scaler::new(orchestrator, pools, RuleConfig::default());
    let input = PoolInput {
        depth: 500,
        beats: Vec::new(),
    };
    scaler.tick("default", 1_000, input).await;
    assert_eq!(
        replicas_of(&server, "funcmesh", "funcmesh-runner-default"),
        6
    );
    let status = &scaler.status()["default"];
    assert_eq!(status.error, None);
    assert!(
        status.last_decision.as_ref().unwrap().contains("2 -> 6"),
        "{status:?}"
    );

    // The Role is minimal: no delete, no other Deployment, no Secret.
    kubectl_ok(
        &admin,
        &[
            "-n",
            "funcmesh",
            "create",
            "deployment",
            "other",
            "--image=funcmesh:0.1.0",
        ],
    );
    for (args, what) in [
        (
            &[
                "-n",
                "funcmesh",
                "delete",
                "deployment",
                "funcmesh-runner-default",
            ][..],
            "delete",
        ),
        (
            &[
                "-n",
                "funcmesh",
                "scale",
                "deployment",
                "other",
                "--replicas=3",
            ][..],
            "scale other",
        ),
        (&["-n", "funcmesh", "get", "secrets"][..], "read secrets"),
        (
            &[
                "-n",
                "funcmesh",
                "patch",
                "deployment",
                "funcmesh-runner-default",
                "-p",
                r#"{"spec":{"paused":true}}"#,
            ][..],
            "edit",
        ),
        (
            &["-n", "kube-system", "get", "deployments"][..],
            "another namespace",
        ),
    ] {
        let output = kubectl(&tron, args);
        let error = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{what} was allowed");
        assert!(
            error.contains("Forbidden") || error.contains("forbidden"),
            "{what}: {error}"
        );
    }
    let other = adapter(tron, &[("other", "other")]).await;
    let error = other.scale("other", 3).await.unwrap_err();
    assert!(matches!(error, ScaleError::Forbidden(_)), "{error}");
    assert_eq!(replicas_of(&server, "funcmesh", "other"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_errors_are_told_apart_and_the_adapter_recovers() {
    let Some(mut server) = KubeApiServer::start() else {
        return;
    };
    let admin_in = server.kubeconfig(
        "admin-errors",
        funcmesh_testkit::kube::ADMIN_TOKEN,
        "errors",
    );
    kubectl_ok(&admin_in, &["create", "namespace", "errors"]);
    kubectl_ok(
        &admin_in,
        &["create", "deployment", "runners", "--image=funcmesh:0.1.0"],
    );
    let kubernetes = adapter(admin_in.clone(), &[("gone", "no-such-deployment")]).await;

    // 404: no Deployment labelled for the pool, then one labelled later.
    let error = kubernetes.replicas("default").await.unwrap_err();
    assert!(matches!(error, ScaleError::NotFound { .. }), "{error}");
    assert!(
        error.to_string().contains("funcmesh.dev/pool=default"),
        "{error}"
    );
    kubectl_ok(
        &admin_in,
        &[
            "label",
            "deployment",
            "runners",
            "funcmesh.dev/pool=default",
        ],
    );
    assert_eq!(kubernetes.replicas("default").await.unwrap().desired, 1);
    // 404 on a Deployment named by flag.
    let error = kubernetes.replicas("gone").await.unwrap_err();
    assert!(matches!(error, ScaleError::NotFound { .. }), "{error}");

    // 409: someone scaled the Deployment after the adapter's read; its
    // write is refused, and the next read and write go through.
    kubernetes.replicas("default").await.unwrap();
    kubectl_ok(
        &admin_in,
        &["scale", "deployment", "runners", "--replicas=3"],
    );
    let error = kubernetes.scale("default", 5).await.unwrap_err();
    assert!(matches!(error, ScaleError::Conflict(_)), "{error}");
    assert_eq!(
        replicas_of(&server, "errors", "runners"),
        3,
        "the other change stands"
    );
    assert_eq!(kubernetes.replicas("default").await.unwrap().desired, 3);
    kubernetes.scale("default", 5).await.unwrap();
    assert_eq!(replicas_of(&server, "errors", "runners"), 5);

    // 403: an identity that no Role grants anything.
    let nobody = server.kubeconfig("nobody", NOBODY_TOKEN, "errors");
    let error = adapter(nobody, &[("default", "runners")])
        .await
        .replicas("default")
        .await
        .unwrap_err();
    assert!(matches!(error, ScaleError::Forbidden(_)), "{error}");

    // The API server down: unreachable; back: the adapter works again.
    server.stop_server();
    let error = kubernetes.replicas("default").await.unwrap_err();
    assert!(matches!(error, ScaleError::Unreachable(_)), "{error}");
    server.start_server();
    let mut answered = None;
    for _ in 0..50 {
        if let Ok(replicas) = kubernetes.replicas("default").await {
            answered = Some(replicas);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(answered.map(|r| r.desired), Some(5));
    kubernetes.scale("default", 1).await.unwrap();
    assert_eq!(replicas_of(&server, "errors", "runners"), 1);
}
