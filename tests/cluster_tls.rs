//! A mesh whose every link is TLS: tron, gateway and runner reach RabbitMQ
//! over `amqps://` (the test broker's TLS listener, whose CA
//! `scripts/setup.sh` makes), the tron's admin listener serves a
//! certificate the test makes, the runner fetches packs over `https://`,
//! and `funcmesh push` uploads over it. Without the CA, push is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::cluster::Cluster;
use funcmesh_testkit::tls::TestPki;

const AMQPS: &str = "amqps://guest:guest@127.0.0.1:5671/%2f";

fn broker_ca() -> PathBuf {
    std::env::var_os("FUNCMESH_RABBITMQ_TLS_DIR")
        .map_or_else(
            || PathBuf::from("/etc/rabbitmq/funcmesh-tls"),
            PathBuf::from,
        )
        .join("ca.pem")
}

/// Runs `funcmesh push` of the hello example under `name` to the tron at
/// `tron`, trusting `ca`.
fn push(cluster: &Cluster, tron: &str, name: &str, ca: Option<&PathBuf>) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_funcmesh"));
    command
        .args([
            "push",
            "swagger-examples/hello",
            "--name",
            name,
            "--tron",
            tron,
        ])
        .current_dir(common::root())
        .env("FUNCMESH_TOKEN", &cluster.token)
        .env_remove("FUNCMESH_ADMIN_CA");
    if let Some(ca) = ca {
        command.arg("--admin-ca").arg(ca);
    }
    command.output().unwrap()
}

#[test]
fn a_mesh_on_tls_links_serves_and_takes_pushes_only_from_who_trusts_it() {
    let mut cluster = Cluster::with_bundles(AMQPS, &[]);
    cluster.bus = format!("{}&cacertfile={}", cluster.bus, broker_ca().display());
    let pki = TestPki::new();
    let (cert, key, ca) = (
        pki.path("server.pem"),
        pki.path("server-key.pem"),
        pki.path("ca.pem"),
    );
    let tron = format!("https://{}", cluster.admin);
    cluster.start_tron_with(
        "tron",
        cluster.admin,
        &[
            "--admin-tls-cert",
            cert.to_str().unwrap(),
            "--admin-tls-key",
            key.to_str().unwrap(),
        ],
    );
    cluster.start_gateway("gateway");
    let cache = tempfile::tempdir().unwrap();
    cluster.spawn(
        "runner",
        &[
            "runner",
            "--tron",
            &tron,
            "--admin-ca",
            ca.to_str().unwrap(),
            "--cache-dir",
            cache.path().to_str().unwrap(),
        ],
    );

    // Without the CA, the upload never leaves: the tron's certificate is
    // not trusted.
    let refused = push(&cluster, &tron, "hello", None);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("certificate"), "{stderr}");

    // With it, pushed over https; the runner fetches it over https and
    // the gateway serves it.
    let pushed = common::block_on_showing_logs(&cluster, async {
        let ready = || async {
            let output = push(&cluster, &tron, "hello", Some(&ca));
            output.status.success().then_some(output)
        };
        funcmesh_testkit::eventually_some(Duration::from_secs(120), "the push over https", ready)
            .await
    });
    assert!(
        String::from_utf8_lossy(&pushed.stdout).contains("hash"),
        "{pushed:?}"
    );
    common::block_on_showing_logs(&cluster, async {
        let served = || async {
            let resp = common::call_at(cluster.gateway, "GET", "/hello/greet?name=tls")
                .try_send()
                .await;
            resp.is_ok_and(|r| r.status == 200 && String::from_utf8_lossy(&r.body).contains("tls"))
        };
        funcmesh_testkit::eventually(
            Duration::from_secs(90),
            "/hello/greet over TLS links",
            served,
        )
        .await;
    });
}
