// Capture switched on and off at run time through the tron with
// `funcmesh capture on|off`, on a gateway process of the shared cluster
// started with --capture-dir. Included by the cluster test binaries, each
// of which defines `mesh()`.

mod capture {
    use std::time::Duration;

    use funcmesh_core::capture::{CaptureRecord, read_records};
    use funcmesh_testkit::try_eventually;

    use super::{common, mesh};

    /// Runs `funcmesh capture ARGS... --bus BUS`: its stdout, or its stderr when it fails.
    fn capture_command(args: &[&str], bus: &str) -> Result<String, String> {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_funcmesh"))
            .arg("capture")
            .args(args)
            .args(["--bus", bus, "--wait", "15"])
            .env("FUNCMESH_TOKEN", &mesh().token)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        match output.status.success() {
            true => Ok(stdout),
            false => Err(String::from_utf8_lossy(&output.stderr).into_owned()),
        }
    }

    fn records(path: &std::path::Path) -> Vec<CaptureRecord> {
        match path.exists() {
            true => read_records(path).unwrap().map(Result::unwrap).collect(),
            false => Vec::new(),
        }
    }

    /// Waits until `path` holds a record of request `id`.
    async fn written(path: &std::path::Path, id: &str) -> Vec<CaptureRecord> {
        let captured = || async { records(path).iter().any(|r| r.request.id == id) };
        let in_time = try_eventually(Duration::from_secs(20), captured).await;
        assert!(in_time, "{id} never captured\n{}", mesh().logs());
        records(path)
    }

    /// Sends requests to `path` on `gateway` until the gateway has the rule
    /// (a request shows up in `file`): the change reaches the tron and the
    /// gateways at the same time, but not at the same instant.
    async fn until_captured(gateway: std::net::SocketAddr, path: &str, file: &std::path::Path) {
        let sent = std::sync::Mutex::new(Vec::new());
        let captured = || async {
            let id = format!("probe-{}", uuid::Uuid::now_v7().simple());
            let resp = common::call_at(gateway, "GET", path).header("x-request-id", &id).send().await;
            assert_eq!(resp.status, 200);
            let mut sent = sent.lock().unwrap();
            sent.push(id);
            records(file).iter().any(|r| sent.contains(&r.request.id))
        };
        if !try_eventually(Duration::from_secs(20), captured).await {
            panic!("capture never started\n{}", mesh().logs());
        }
    }

    #[test]
    fn capture_is_switched_on_and_off_through_the_tron_while_gateways_serve() {
        let cluster = mesh();
        common::block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let gateway = common::cluster::free_port();
            let (listen, capture_dir) = (gateway.to_string(), dir.path().display().to_string());
            cluster.spawn(
                "gateway-capture",
                &["gateway", "--listen", &listen, "--capture-dir", &capture_dir, "--capture-redact", "x-api-key"],
            );
            let serves = || async {
                let resp = common::call_at(gateway, "GET", "/hello/greet?name=up").try_send().await;
                resp.is_ok_and(|resp| resp.status == 200)
            };
            let in_time = try_eventually(Duration::from_secs(30), serves).await;
            assert!(in_time, "the capturing gateway never served\n{}", cluster.logs());
            let hello = dir.path().join("hello.jsonl");
            let petstore = dir.path().join("petstore.jsonl");
            let send = |path: &'static str, id: String| async move {
                let resp = common::call_at(gateway, "GET", path)
                    .header("x-request-id", &id)
                    .header("authorization", "Bearer cluster-secret")
                    .header("x-api-key", "cluster-secret")
                    .send()
                    .await;
                assert_eq!(resp.status, 200, "{id}");
            };
            send("/hello/greet?name=before", "before-on".into()).await;

            let said = capture_command(&["on", "hello"], &cluster.bus).unwrap();
            assert!(said.contains("capturing hello at rate 1"), "{said}");
            until_captured(gateway, "/hello/greet?name=probe", &hello).await;
            for n in 0..10 {
                send("/hello/greet?name=on", format!("on-{n}")).await;
            }
            let got = written(&hello, "on-9").await;
            let on: Vec<&CaptureRecord> = got.iter().filter(|r| r.request.id.starts_with("on-")).collect();
            assert_eq!(on.len(), 10);
            for record in &on {
                assert_eq!(record.route, "hello");
                assert_eq!(record.response.as_ref().unwrap().status, 200);
                assert_eq!(record.request.header("authorization"), Some("[redacted]"));
                assert_eq!(record.request.header("x-api-key"), Some("[redacted]"));
            }
            let text = std::fs::read_to_string(&hello).unwrap();
            assert!(!text.contains("cluster-secret"), "a secret reached the file");
            assert!(!got.iter().any(|r| r.request.id == "before-on"));

            let said = capture_command(&["off", "hello"], &cluster.bus).unwrap();
            assert!(said.contains("no Func is captured"), "{said}");
            // Turned on for another Func, capture proves it is off for hello:
            // the writer takes exchanges in order, so once a later petstore
            // request is written, any hello request before it would be too.
            capture_command(&["on", "petstore"], &cluster.bus).unwrap();
            until_captured(gateway, "/petstore/pets/1", &petstore).await;
            for n in 0..5 {
                send("/hello/greet?name=off", format!("off-{n}")).await;
            }
            send("/petstore/pets/1", "barrier".into()).await;
            written(&petstore, "barrier").await;
            let after_off: Vec<String> = records(&hello)
                .into_iter()
                .map(|r| r.request.id)
                .filter(|id| id.starts_with("off-"))
                .collect();
            assert!(after_off.is_empty(), "captured after off: {after_off:?}");
            capture_command(&["off"], &cluster.bus).unwrap();
            cluster.kill("gateway-capture");
        });
    }

    #[test]
    fn capture_on_without_a_tron_says_so() {
        let base = mesh().bus.split('?').next().unwrap().to_owned();
        let lonely = format!("{base}?namespace=nobody{}", std::process::id());
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_funcmesh"))
            .args(["capture", "on", "hello", "--bus", &lonely, "--wait", "2"])
            .env("FUNCMESH_TOKEN", &mesh().token)
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("no tron announced the change"), "{stderr}");
    }

    #[test]
    fn a_bad_rate_is_refused_before_anything_is_sent() {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_funcmesh"))
            .args(["capture", "on", "hello=1.5", "--bus", "inproc://"])
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("between 0 and 1"), "{stderr}");
    }
}
