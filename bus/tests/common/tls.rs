//! What the TLS tests of every backend check: a round trip through a
//! server the URL's CA trusts, and a bus that never connects to one it
//! does not.

use std::time::Duration;

use funcmesh_bus::{ConsumeOptions, Error, Message, QueueSpec};
use funcmesh_testkit::tls::TestPki;

use super::connected;

/// One message there and back on a work queue.
pub async fn round_trip(url: &str) {
    let bus = connected(url).await;
    bus.declare(&QueueSpec::work("jobs")).await.unwrap();
    bus.publish("jobs", Message::new("over tls")).await.unwrap();
    let mut jobs = bus
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(20), jobs.next())
        .await
        .expect("no delivery within 20 s")
        .expect("the consumer ended")
        .unwrap();
    assert_eq!(delivery.bytes(), "over tls");
    delivery.ack().await.unwrap();
}

/// The bus never connects: publishing stays `Unavailable` for `wait`.
pub async fn never_connects(url: &str, wait: Duration) {
    let bus = funcmesh_bus::connect(url).await.unwrap();
    let deadline = tokio::time::Instant::now() + wait;
    while tokio::time::Instant::now() < deadline {
        match bus.publish("jobs", Message::new("x")).await {
            Err(Error::Unavailable(_)) => {}
            other => panic!("{url}: connected to an untrusted server: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A server that asks for a client certificate (one of `pki`'s CA): the
/// bus is served with the certificate and key the URL names, and never
/// connects without them. `url` makes the bus URL from its TLS parameters.
pub async fn client_certificate_is_presented(pki: &TestPki, url: impl Fn(&str) -> String) {
    let (ca, cert, key) = (
        pki.path("ca.pem"),
        pki.path("client.pem"),
        pki.path("client-key.pem"),
    );
    round_trip(&url(&format!(
        "cacertfile={}&certfile={}&keyfile={}",
        ca.display(),
        cert.display(),
        key.display()
    )))
    .await;
    never_connects(
        &url(&format!("cacertfile={}", ca.display())),
        Duration::from_secs(3),
    )
    .await;
}

/// A server whose certificate `pki`'s CA signed: the bus is served with
/// that CA, and never connects with another CA (`other-ca.pem`) nor at
/// `system_only`, a URL that trusts the system's certificates alone.
pub async fn only_the_named_ca_is_trusted(
    pki: &TestPki,
    url: impl Fn(&str) -> String,
    system_only: &str,
) {
    let ca = pki.path("ca.pem");
    round_trip(&url(&format!("cacertfile={}", ca.display()))).await;
    let other = pki.path("other-ca.pem");
    never_connects(
        &url(&format!("cacertfile={}", other.display())),
        Duration::from_secs(3),
    )
    .await;
    never_connects(system_only, Duration::from_secs(3)).await;
}
