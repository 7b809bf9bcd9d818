//! The shared Kafka-compatible broker the tests run on: cleaning up a
//! namespace's topics. Nothing here stops or restarts the broker.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;

use crate::common::brokers::Broker;

pub const BROKER: Broker = Broker {
    name: "Kafka broker",
    addr: "127.0.0.1:9092",
    start: "scripts/kafka-broker start",
};

/// Deletes the topics of namespace `ns`.
pub async fn cleanup(ns: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", BROKER.addr)
        .create()
        .unwrap();
    let prefix = format!("{ns}.");
    let metadata = admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(5))
        .unwrap();
    let doomed: Vec<String> = metadata
        .topics()
        .iter()
        .map(|topic| topic.name().to_owned())
        .filter(|name| name.starts_with(&prefix))
        .collect();
    if doomed.is_empty() {
        return;
    }
    let names: Vec<&str> = doomed.iter().map(String::as_str).collect();
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(5)));
    let deleting = admin.delete_topics(&names, &options);
    if tokio::time::timeout(Duration::from_secs(10), deleting)
        .await
        .is_err()
    {
        eprintln!("the broker did not delete the topics of {ns} within 10 s");
    }
}
