//! `amqps://` against the test broker's TLS listener (127.0.0.1:5671,
//! which `scripts/setup.sh` gives a certificate of a CA it makes, in
//! `/etc/rabbitmq/funcmesh-tls` or `FUNCMESH_RABBITMQ_TLS_DIR`): the bus
//! works through it, with or without a client certificate, and refuses a
//! broker whose certificate it was not told to trust.

use std::path::PathBuf;
use std::time::Duration;

use funcmesh_bus::{ConsumeOptions, Error, Message, QueueSpec};
use funcmesh_testkit::tls::TestPki;

use crate::RabbitMq;
use crate::common::brokers::{Broker, available};
use crate::common::connected;
use crate::common::tls::never_connects;
use crate::contract::Run;

const TLS: Broker = Broker {
    name: "RabbitMQ over TLS",
    addr: "127.0.0.1:5671",
    start: "scripts/setup.sh's ensure_rabbitmq_tls gives the broker a TLS listener",
};

fn tls_dir() -> PathBuf {
    std::env::var_os("FUNCMESH_RABBITMQ_TLS_DIR").map_or_else(
        || PathBuf::from("/etc/rabbitmq/funcmesh-tls"),
        PathBuf::from,
    )
}

fn url(ns: &str, params: &str) -> String {
    format!("amqps://guest:guest@127.0.0.1:5671/%2f?namespace={ns}&{params}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqps_works_with_the_ca_the_url_names_and_a_client_certificate() {
    let Some(run) = Run::<RabbitMq>::start().await else {
        return;
    };
    if !available(&TLS) {
        return;
    }
    let dir = tls_dir();
    let ca = format!("cacertfile={}", dir.join("ca.pem").display());
    let identity = format!(
        "{ca}&certfile={}&keyfile={}",
        dir.join("client.pem").display(),
        dir.join("client-key.pem").display()
    );
    for params in [ca, identity] {
        let bus = connected(&url(&run.ns, &params)).await;
        bus.declare(&QueueSpec::work("tls")).await.unwrap();
        bus.publish("tls", Message::new(params.clone()))
            .await
            .unwrap();
        let mut c = bus.consume("tls", ConsumeOptions::default()).await.unwrap();
        let d = run.next(&mut c).await;
        assert_eq!(d.bytes(), params);
        d.ack().await.unwrap();
    }
    run.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_whose_certificate_is_not_trusted_is_never_used() {
    if !available(&TLS) {
        return;
    }
    let pki = TestPki::new();
    let ns = crate::common::namespace();
    // A CA of the test's own, which did not sign the broker's certificate;
    // and the system's certificates alone.
    let other = format!("cacertfile={}", pki.path("ca.pem").display());
    for url in [url(&ns, &other), url(&ns, "heartbeat=5")] {
        never_connects(&url, Duration::from_secs(3)).await;
    }
}

#[tokio::test]
async fn tls_files_are_checked_when_the_bus_opens() {
    for (url, why) in [
        (
            "amqps://h/?cacertfile=/nonexistent/ca.pem",
            "cannot read cacertfile",
        ),
        (
            "amqps://h/?certfile=/etc/passwd",
            "certfile and keyfile go together",
        ),
        ("amqp://h/?cacertfile=/etc/passwd", "need amqps://"),
    ] {
        let Err(err) = funcmesh_bus::connect(url).await else {
            panic!("{url} accepted");
        };
        assert!(matches!(err, Error::InvalidUrl(_)), "{err}");
        assert!(err.to_string().contains(why), "{url}: {err}");
    }
}
