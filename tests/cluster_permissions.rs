//! The broker permission sets of `docs/permissions/`, applied as written:
//! each process of a mesh connects as its own broker user, with those
//! rights and no others, and the mesh serves, takes a bundle, and captures;
//! and each user is refused what its set leaves out (a runner announcing a
//! routing table, a gateway reading a Func's queue).
//! - RabbitMQ: `docs/permissions/rabbitmq.sh` on a vhost of the test's own,
//!   with a namespace (the script's regexes escape it), users of the test's
//!   own, both deleted at the end.
//! - NATS: a nats-server of the test's own, with JetStream, configured by
//!   `docs/permissions/nats.conf` (no namespace: the stream names in it are
//!   those of a mesh without one).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::cluster::Cluster;
use funcmesh_testkit::nats::NatsServer;

const COMPONENTS: [&str; 4] = ["gateway", "tron", "runner", "capture"];

/// A random password that each broker's configuration takes as a string
/// (a NATS configuration would read a value of digits as a number).
fn password() -> String {
    format!("p{}", uuid::Uuid::now_v7().simple())
}

/// The password of `component`.
fn of<'a>(passwords: &'a [(&'static str, String)], component: &str) -> &'a str {
    let found = passwords.iter().find(|(c, _)| *c == component);
    &found.unwrap_or_else(|| panic!("no user {component}")).1
}

/// Starts the mesh with each process on its own bus URL (`bus(component)`),
/// and waits until `/hello/greet` is answered.
fn start_mesh(cluster: &mut Cluster, bus: impl Fn(&str) -> String) {
    cluster.bus = bus("tron");
    cluster.start_tron("tron");
    cluster.bus = bus("gateway");
    cluster.start_gateway("gateway");
    cluster.bus = bus("runner");
    cluster.start_runner("runner");
    common::block_on_showing_logs(&*cluster, async {
        let served = || async {
            let resp = common::call_at(cluster.gateway, "GET", "/hello/greet?name=least")
                .try_send()
                .await;
            resp.is_ok_and(|r| {
                r.status == 200 && String::from_utf8_lossy(&r.body).contains("least")
            })
        };
        funcmesh_testkit::eventually(
            Duration::from_secs(90),
            "/hello/greet with each process on its own broker user",
            served,
        )
        .await;
    });
}

/// `funcmesh capture on hello` and `capture --from-queue hello` as the
/// capture user: the change is announced, and one request is copied.
fn capture_works(cluster: &Cluster, bus: &str) {
    let funcmesh = env!("CARGO_BIN_EXE_funcmesh");
    let on = Command::new(funcmesh)
        .args(["capture", "on", "hello", "--wait", "30"])
        .env("FUNCMESH_BUS", bus)
        .env("FUNCMESH_TOKEN", &cluster.token)
        .output()
        .unwrap();
    assert!(on.status.success(), "capture on: {on:?}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hello.jsonl");
    let mut tap = Command::new(funcmesh)
        .args([
            "capture",
            "--from-queue",
            "hello",
            "--count",
            "1",
            "--for",
            "60",
        ])
        .arg("--out")
        .arg(&out)
        .env("FUNCMESH_BUS", bus)
        .env("FUNCMESH_TOKEN", &cluster.token)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    common::block_on_showing_logs(cluster, async {
        // Requests until the tap, once it is bound, has copied one.
        let copied = || async {
            let _ = common::call_at(cluster.gateway, "GET", "/hello/greet?name=tapped")
                .try_send()
                .await;
            std::fs::read_to_string(&out).is_ok_and(|text| text.contains("tapped"))
        };
        funcmesh_testkit::eventually(Duration::from_secs(60), "a request copied", copied).await;
    });
    let status = tap.wait().unwrap();
    assert!(status.success(), "capture --from-queue: {status}");
}

mod rabbitmq {
    use super::*;

    /// The test's vhost and users, deleted on drop.
    struct Broker {
        vhost: String,
        users: String,
        passwords: Vec<(&'static str, String)>,
    }

    impl Broker {
        fn url(&self, component: &str, namespace: &str) -> String {
            let pass = of(&self.passwords, component);
            format!(
                "amqp://{}{component}:{pass}@127.0.0.1:5672/{}?namespace={namespace}",
                self.users, self.vhost
            )
        }
    }

    impl Drop for Broker {
        fn drop(&mut self) {
            let _ = rabbitmqctl(&["delete_vhost", &self.vhost]);
            for component in COMPONENTS {
                let _ = rabbitmqctl(&["delete_user", &format!("{}{component}", self.users)]);
            }
        }
    }

    fn rabbitmqctl(args: &[&str]) -> std::process::Output {
        Command::new("rabbitmqctl")
            .arg("-q")
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs the documented script for namespace `ns`.
    fn apply(ns: &str) -> Broker {
        let broker = Broker {
            vhost: format!("perm-{ns}"),
            users: format!("{ns}-"),
            passwords: COMPONENTS.iter().map(|c| (*c, password())).collect(),
        };
        let mut script = Command::new("sh");
        script
            .arg(common::root().join("docs/permissions/rabbitmq.sh"))
            .env("NS", ns)
            .env("VHOST", &broker.vhost)
            .env("USERS", &broker.users);
        for (component, pass) in &broker.passwords {
            script.env(format!("{}_PASS", component.to_uppercase()), pass);
        }
        let output = script.output().unwrap();
        assert!(output.status.success(), "rabbitmq.sh: {output:?}");
        broker
    }

    /// Whether `what` is refused by the broker with 403 ACCESS_REFUSED.
    fn refused(what: &str, result: Result<(), lapin::Error>) {
        let error = result.expect_err(what);
        assert!(
            error.to_string().contains("ACCESS_REFUSED"),
            "{what}: {error}"
        );
    }

    /// Publishes a routing table on the control exchange, with a
    /// publisher confirm.
    async fn publish_routes(channel: &lapin::Channel, ns: &str) -> Result<(), lapin::Error> {
        channel.confirm_select(Default::default()).await?;
        channel
            .basic_publish(
                format!("{ns}.funcmesh.control").into(),
                "routes".into(),
                Default::default(),
                b"{}",
                Default::default(),
            )
            .await?
            .await?;
        Ok(())
    }

    #[test]
    fn a_mesh_runs_with_the_documented_rights_and_no_more() {
        let mut cluster =
            Cluster::with_bundles(common::cluster::RABBITMQ, &["swagger-examples/hello"]);
        let ns = cluster.bus.rsplit_once("namespace=").unwrap().1.to_owned();
        let broker = apply(&ns);
        start_mesh(&mut cluster, |component| broker.url(component, &ns));
        capture_works(&cluster, &broker.url("capture", &ns));

        let queue = funcmesh_core::queues::func_queue(None, "/hello");
        common::block_on(async {
            let open = |component: &'static str| {
                let url = broker.url(component, &ns);
                let url = url.split('?').next().unwrap().to_owned();
                async move {
                    let connection =
                        lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
                            .await
                            .unwrap();
                    connection.create_channel().await.unwrap()
                }
            };
            // A runner, or the capture user, announcing a routing table:
            // refused by the topic permissions of the control exchange.
            for component in ["runner", "capture"] {
                let channel = open(component).await;
                refused(
                    &format!("{component} publishing routes"),
                    publish_routes(&channel, &ns).await,
                );
            }
            // A gateway reading a Func's requests.
            let channel = open("gateway").await;
            let read = channel
                .basic_consume(
                    format!("{ns}.{queue}").into(),
                    "thief".into(),
                    Default::default(),
                    Default::default(),
                )
                .await
                .map(drop);
            refused("a gateway consuming a Func queue", read);
        });
        drop(cluster);
    }
}

mod nats {
    use super::*;

    /// A nats-server with JetStream, configured by the documented file.
    struct Server {
        server: NatsServer,
        passwords: Vec<(&'static str, String)>,
    }

    impl Server {
        fn start() -> Option<Self> {
            let passwords: Vec<_> = COMPONENTS.iter().map(|c| (*c, password())).collect();
            let server = NatsServer::start(|command| {
                command
                    .arg("-c")
                    .arg(common::root().join("docs/permissions/nats.conf"));
                for (component, pass) in &passwords {
                    command.env(format!("FM_{}_PASS", component.to_uppercase()), pass);
                }
            })?;
            Some(Self { server, passwords })
        }

        fn url(&self, component: &str) -> String {
            let pass = of(&self.passwords, component);
            format!("nats://fm-{component}:{pass}@{}", self.server.addr())
        }
    }

    /// A client on `url`, and the errors its server sends it.
    async fn connect(
        url: &str,
    ) -> (
        async_nats::Client,
        tokio::sync::mpsc::UnboundedReceiver<String>,
    ) {
        let (credentials, addr) = url.trim_start_matches("nats://").rsplit_once('@').unwrap();
        let (user, pass) = credentials.split_once(':').unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let client = async_nats::ConnectOptions::with_user_and_password(user.into(), pass.into())
            .event_callback(move |event| {
                let tx = tx.clone();
                async move {
                    if let async_nats::Event::ServerError(error) = event {
                        let _ = tx.send(error.to_string());
                    }
                }
            })
            .connect(addr)
            .await
            .unwrap();
        (client, rx)
    }

    /// Waits for the server to report a permissions violation.
    async fn violation(errors: &mut tokio::sync::mpsc::UnboundedReceiver<String>, what: &str) {
        let error = tokio::time::timeout(Duration::from_secs(10), errors.recv())
            .await
            .unwrap_or_else(|_| panic!("no error reported for {what}"))
            .expect("the connection ended");
        assert!(
            error.to_lowercase().contains("permissions violation"),
            "{what}: {error}"
        );
    }

    #[test]
    fn a_mesh_runs_with_the_documented_rights_and_no_more() {
        let Some(server) = Server::start() else {
            return;
        };
        let mut cluster = Cluster::with_bundles(common::cluster::NATS, &["swagger-examples/hello"]);
        start_mesh(&mut cluster, |component| server.url(component));
        capture_works(&cluster, &server.url("capture"));

        common::block_on(async {
            // A runner announcing a routing table.
            let (runner, mut errors) = connect(&server.url("runner")).await;
            runner
                .publish("funcmesh.control.routes", "{}".into())
                .await
                .unwrap();
            runner.flush().await.unwrap();
            violation(&mut errors, "a runner publishing routes").await;
            // A gateway subscribing to the Funcs' requests.
            let (gateway, mut errors) = connect(&server.url("gateway")).await;
            let _subscription = gateway
                .subscribe("funcmesh.q.funcmesh.func.>")
                .await
                .unwrap();
            gateway.flush().await.unwrap();
            violation(&mut errors, "a gateway reading Func queues").await;
        });
        drop(cluster);
    }
}
