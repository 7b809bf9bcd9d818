//! The end-to-end suite on RabbitMQ, with the tron, the gateway and two
//! runners as separate `funcmesh` processes.

mod common;

use std::sync::OnceLock;

use common::cluster::{Cluster, RABBITMQ};

fn mesh() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let cluster = Cluster::new(RABBITMQ);
        common::block_on(cluster.start_all(2));
        cluster
    })
}

async fn requests_served() -> u64 {
    mesh().requests_served().await
}

include!("suite/e2e.rs");
