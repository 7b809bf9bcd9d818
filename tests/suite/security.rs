// What an attacker without the mesh token tries against the shared cluster:
// the admin API, and control messages published straight on the broker.
// Included by the cluster test binaries, each of which defines `mesh()`.

mod security {
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use funcmesh_bus::Bus;
    use funcmesh_core::auth::MeshToken;
    use funcmesh_core::control::signed::SignedBus;
    use funcmesh_core::control::{self, CaptureChange, ROUTES_TOPIC, CAPTURE_TOPIC};

    use super::{common, mesh};

    /// Runs `funcmesh push` of the hello example as `hello` with `env`.
    fn push_hello(env: &[(&str, &str)]) -> std::process::Output {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_funcmesh"));
        command
            .args(["push", "swagger-examples/hello", "--name", "hello"])
            .args(["--tron", &format!("http://{}", mesh().admin)])
            .current_dir(common::root())
            .env_remove("FUNCMESH_TOKEN")
            .env_remove("FUNCMESH_TOKEN_FILE");
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().unwrap()
    }

    #[test]
    fn the_admin_api_refuses_pushes_and_reads_without_the_token() {
        // Started outside the test's runtime (it blocks on its own).
        let _ = mesh();
        common::block_on(async {
            mesh().ready(2).await;
            let before = mesh().status().await;
            let wrong = MeshToken::generate();
            for env in [vec![], vec![("FUNCMESH_TOKEN", wrong.secret())]] {
                let output = push_hello(&env);
                assert!(!output.status.success());
                let stderr = String::from_utf8_lossy(&output.stderr);
                assert!(stderr.contains("401"), "{stderr}");
                assert!(stderr.contains("token"), "{stderr}");
            }
            for path in ["/status", "/bundles"] {
                let answer = common::call_at(mesh().admin, "GET", path).send().await;
                assert_eq!(answer.status, 401, "{path}");
                assert!(answer.json()["error"].as_str().unwrap().contains("token"));
            }
            let hash = before["routes"][0]["bundle"].as_str().unwrap();
            let pack = common::call_at(mesh().admin, "GET", &format!("/bundles/{hash}"))
                .send()
                .await;
            assert_eq!(pack.status, 401);
            let health = common::call_at(mesh().admin, "GET", "/health").send().await;
            assert_eq!(health.status, 200);
            // Nothing changed: the live bundles are the ones before.
            assert_eq!(mesh().status().await["routes"], before["routes"]);
        });
    }

    /// The gateway's table after a forged announcement that adds `/forged`
    /// and points runners at another store, sent as `sender` sends.
    async fn forge_routes(sender: &Arc<dyn Bus>) {
        let table = common::call_at(mesh().gateway, "GET", "/__routes").send().await.json();
        let mut forged = table.clone();
        forged["generation"] = serde_json::json!(table["generation"].as_u64().unwrap() + 1000);
        let mut route = table["routes"][0].clone();
        route["base_path"] = serde_json::json!("/forged");
        forged["routes"].as_array_mut().unwrap().push(route);
        let announcement = serde_json::json!({
            "v": control::VERSION,
            "tron": "intruder",
            "store": "http://forged-store.invalid:7070",
            "table": forged,
            "capture": {"routes": [{"route": "*", "rate": 1.0}]},
        });
        let body = Bytes::from(announcement.to_string());
        // The bus connects in the background: send once it has.
        let connected = || async { sender.broadcast("nobody", Bytes::new()).await.is_ok() };
        funcmesh_testkit::eventually(Duration::from_secs(15), "the bus connects", connected).await;
        for _ in 0..3 {
            sender.broadcast(ROUTES_TOPIC, body.clone()).await.unwrap();
            let change = CaptureChange::On {
                rule: funcmesh_core::capture::RouteRule {
                    route: "*".into(),
                    rate: 1.0,
                },
            };
            sender.broadcast(CAPTURE_TOPIC, control::encode(&change)).await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    #[test]
    fn forged_control_messages_change_nothing() {
        // Started outside the test's runtime (it blocks on its own).
        let _ = mesh();
        common::block_on(async {
            mesh().ready(2).await;
            let before = mesh().status().await;
            let raw = funcmesh_bus::connect(&mesh().bus).await.unwrap();
            let stranger = SignedBus::wrap(Arc::clone(&raw), MeshToken::generate());
            forge_routes(&raw).await;
            // A listener logs one refusal a second: let the next one show.
            tokio::time::sleep(Duration::from_millis(1100)).await;
            forge_routes(&stranger).await;
            // Announcements repeat every 2 s: wait past one.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let answer = common::call_at(mesh().gateway, "GET", "/forged/greet?name=x").send().await;
            assert_eq!(answer.status, 404, "the forged route is served");
            let hello = common::call_at(mesh().gateway, "GET", "/hello/greet?name=x").send().await;
            assert_eq!(hello.status, 200);
            let after = mesh().status().await;
            assert_eq!(after["routes"], before["routes"]);
            assert_eq!(after["capture"], before["capture"], "the forged capture rule was applied");
            let logs = mesh().logs();
            assert!(logs.contains("control message ignored: it is not signed"), "{logs}");
            assert!(logs.contains("its signature does not verify"), "{logs}");
            assert!(!logs.contains("forged-store"), "a runner took the forged store");
        });
    }

    #[test]
    fn a_request_with_a_deadline_in_the_far_future_is_answered_and_holds_nothing() {
        // Started outside the test's runtime (it blocks on its own).
        let _ = mesh();
        common::block_on(async {
            mesh().ready(2).await;
            let table = common::call_at(mesh().gateway, "GET", "/__routes").send().await.json();
            let queue = table["routes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == "hello")
                .unwrap()["queue"]
                .as_str()
                .unwrap()
                .to_owned();
            let bus = funcmesh_bus::connect(&mesh().bus).await.unwrap();
            let reply = format!("funcmesh.reply.poison{}", uuid::Uuid::now_v7().simple());
            bus.declare(&funcmesh_bus::QueueSpec::reply(&reply)).await.unwrap();
            let mut answers = bus
                .consume(&reply, funcmesh_bus::ConsumeOptions::default())
                .await
                .unwrap();
            let poison = funcmesh_core::RequestEnvelope {
                version: funcmesh_core::envelope::VERSION.into(),
                id: "poison-1".into(),
                method: "GET".into(),
                scheme: "http".into(),
                host: "localhost".into(),
                path: "/hello/greet".into(),
                query: "name=Mallory".into(),
                headers: Vec::new(),
                body: funcmesh_core::Body::Empty,
                reply_to: Some(reply.clone()),
                deadline_ms: u64::MAX,
                trace: None,
                bundle: None,
                remote_addr: None,
                describe: None,
            };
            // The bus connects in the background: publish once it has.
            let message = funcmesh_bus::Message::new(poison.encode());
            let published = || async { bus.publish(&queue, message.clone()).await.is_ok() };
            funcmesh_testkit::eventually(Duration::from_secs(15), "publishing the request", published)
                .await;
            let delivery = tokio::time::timeout(Duration::from_secs(15), answers.next())
                .await
                .expect("the poisoned request was never answered")
                .unwrap()
                .unwrap();
            let answer = funcmesh_core::ResponseEnvelope::decode(&delivery.bytes()).unwrap();
            assert_eq!((answer.id.as_str(), answer.status), ("poison-1", 200));
            // The runners are not wedged: clients are served.
            for _ in 0..8 {
                let hello = common::call_at(mesh().gateway, "GET", "/hello/greet?name=x").send().await;
                assert_eq!(hello.status, 200);
            }
        });
    }
}
