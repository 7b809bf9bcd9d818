// The end-to-end suite of Python bundles: the `words-py` example and the
// `py-faults` fixture (`tests/fixtures/py-faults`, served at `/pyfaults`),
// over real HTTP to the gateway on 127.0.0.1.
//
// Included in a module of its own by each test binary that serves both
// bundles; the module brings `mesh()` (anything with `local_addr()` and
// `common::ShowsLogs`) and `common` into scope and defines
// `const DEV_MODE: bool`: whether the runners put a function's traceback in
// its 502 answers.
//
// The tests that hold a worker past the deadline or end it (`spin`,
// `sleepy`, `stubborn`, `die`) take turns, so that the bundle always has a
// worker left for the requests they send alongside.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Call, Resp, call_at};
use funcmesh_testkit::{eventually, eventually_some, try_eventually};

/// How long any one request may take before the test fails instead of
/// hanging; far above every deadline the bundles have.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// One test at a time holds or ends a worker of `py-faults`.
static HOGS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs a test body once the shared mesh is up (started outside the
/// runtime); a failure shows what the mesh logged.
fn block_on<F: Future>(test: F) -> F::Output {
    common::block_on_showing_logs(mesh(), test)
}

fn call(method: &str, path: &str) -> Call {
    call_at(mesh().local_addr(), method, path)
}

/// Sends, failing the test if no answer comes within [`ANSWER_WITHIN`].
async fn send(call: Call) -> Resp {
    tokio::time::timeout(ANSWER_WITHIN, call.send())
        .await
        .expect("an answer within a minute")
}

async fn get(path: &str) -> Resp {
    send(call("GET", path)).await
}

fn text(resp: &Resp) -> String {
    String::from_utf8_lossy(&resp.body).into_owned()
}

/// Whether `pid` is a running Python worker.
fn worker_alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| cmdline.windows(15).any(|w| w == b"__python-worker"))
}

/// Waits until `pid` is no longer a running worker.
async fn worker_gone(pid: u32) {
    let what = format!("worker {pid} stops");
    eventually(Duration::from_secs(30), &what, || async {
        !worker_alive(pid)
    })
    .await;
}

/// A directory a fault operation writes its worker's pid to (`?mark=`).
struct Mark(tempfile::TempDir);

impl Mark {
    fn new() -> Mark {
        let dir = tempfile::tempdir().unwrap();
        // Functions may run as another user (`nobody` under a root runner).
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        Mark(dir)
    }

    /// `/pyfaults/{op}?mark=DIR`.
    fn path(&self, op: &str) -> String {
        format!("/pyfaults/{op}?mark={}", self.0.path().display())
    }

    fn file(&self) -> PathBuf {
        self.0.path().join("pid")
    }

    /// Another file the function wrote, once it has.
    async fn read(&self, name: &str) -> String {
        let path = self.0.path().join(name);
        eventually_some(ANSWER_WITHIN, &format!("the function writes {name}"), || async {
            std::fs::read_to_string(&path).ok()
        })
        .await
    }

    /// The pid, once the function has written it.
    async fn pid(&self) -> u32 {
        eventually_some(ANSWER_WITHIN, "the function runs", || async { self.ran() }).await
    }

    /// The pid, if the function ran.
    fn ran(&self) -> Option<u32> {
        std::fs::read_to_string(self.file())
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

/// Sends `n` echo requests at once; each must be answered 200 with its own
/// query.
async fn echoes(n: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        tasks.spawn(async move { (i, get(&format!("/pyfaults/echo?i={i}")).await) });
    }
    while let Some(joined) = tasks.join_next().await {
        let (i, resp) = joined.unwrap();
        assert_eq!(resp.status, 200, "echo {i}: {}", text(&resp));
        assert_eq!(
            resp.json()["query"],
            serde_json::json!([["i", i.to_string()]])
        );
    }
}

/// Waits until the bundle answers an echo again.
async fn echo_answers() {
    let last = std::sync::Mutex::new(String::new());
    let answers = try_eventually(ANSWER_WITHIN, || async {
        let resp = get("/pyfaults/echo").await;
        *last.lock().unwrap() = format!("{} {}", resp.status, text(&resp));
        resp.status == 200
    })
    .await;
    assert!(
        answers,
        "py-faults stopped answering: {}",
        last.lock().unwrap()
    );
}

/// Calls fault operation `op` and, once it runs, 20 echoes alongside; the
/// fault's answer, its worker's pid and how long it took.
async fn fault_with_echoes(op: &str) -> (Resp, u32, Duration) {
    let mark = Mark::new();
    let started = Instant::now();
    let fault = tokio::spawn(send(call("GET", &mark.path(op))));
    let pid = mark.pid().await;
    echoes(20).await;
    let resp = fault.await.unwrap();
    (resp, pid, started.elapsed())
}

fn assert_deadline_504(resp: &Resp, elapsed: Duration) {
    assert_eq!(resp.status, 504, "{}", text(resp));
    assert!(
        resp.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("deadline")),
        "{}",
        text(resp)
    );
    assert!(resp.json()["request_id"].is_string());
    assert!(
        elapsed < Duration::from_secs(30),
        "stopped near its 500 ms deadline, not after {elapsed:?}"
    );
}

// --- words-py -------------------------------------------------------------

#[test]
fn words_py_inflects_a_word_with_a_count() {
    block_on(async {
        let resp = get("/words/apple?count=3").await;
        assert_eq!(resp.status, 200, "{}", text(&resp));
        assert_eq!(resp.header("content-type"), Some("application/json"));
        assert!(resp.header("x-funcmesh-bundle").is_some());
        let body = resp.json();
        assert_eq!(body["word"], "apple");
        assert_eq!(body["plural"], "apples");
        assert_eq!(body["count"], 3);
        assert_eq!(body["phrase"], "3 apples");

        let person = get("/words/person?count=1").await.json();
        assert_eq!(person["plural"], "people");
        assert_eq!(person["phrase"], "1 person");
        let camel = get("/words/ApplePie").await.json();
        assert_eq!(camel["underscore"], "apple_pie");
        assert!(camel.get("phrase").is_none(), "{camel}");
        assert_eq!(get("/words/21").await.json()["ordinal"], "21st");
    });
}

#[test]
fn words_py_batch_takes_and_returns_json() {
    block_on(async {
        let resp = send(
            call("POST", "/words/batch")
                .json(serde_json::json!({"words": ["ox", "mouse", "ApplePie"]})),
        )
        .await;
        assert_eq!(resp.status, 200, "{}", text(&resp));
        assert_eq!(resp.header("content-type"), Some("application/json"));
        assert_eq!(
            resp.json(),
            serde_json::json!([
                {"word": "ox", "result": "oxen"},
                {"word": "mouse", "result": "mice"},
                {"word": "ApplePie", "result": "ApplePies"},
            ])
        );
        let singular = send(
            call("POST", "/words/batch")
                .json(serde_json::json!({"words": ["people"], "form": "singular"})),
        )
        .await;
        assert_eq!(
            singular.json(),
            serde_json::json!([{"word": "people", "result": "person"}])
        );
    });
}

#[test]
fn words_py_plural_is_plain_text() {
    block_on(async {
        let resp = get("/words/octopus/plural").await;
        assert_eq!(resp.status, 200, "{}", text(&resp));
        assert_eq!(
            resp.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(text(&resp), "octopi");
    });
}

#[test]
fn words_py_requests_are_checked_against_the_spec() {
    block_on(async {
        let negative = get("/words/apple?count=-1").await;
        assert_eq!(negative.status, 400, "{}", text(&negative));
        assert!(negative.json()["details"].to_string().contains("count"));
        let not_a_number = get("/words/apple?count=three").await;
        assert_eq!(not_a_number.status, 400);

        let too_long = get(&format!("/words/{}", "a".repeat(65))).await;
        assert_eq!(too_long.status, 400, "{}", text(&too_long));
        assert!(too_long.json()["details"].to_string().contains("word"));

        let bad_form = send(
            call("POST", "/words/batch")
                .json(serde_json::json!({"words": ["ox"], "form": "shout"})),
        )
        .await;
        assert_eq!(bad_form.status, 400, "{}", text(&bad_form));
        assert!(bad_form.json()["details"].to_string().contains("form"));
        let empty = send(call("POST", "/words/batch").json(serde_json::json!({"words": []}))).await;
        assert_eq!(empty.status, 400);

        let literal_wins = get("/words/batch").await;
        assert_eq!(literal_wins.status, 405, "{}", text(&literal_wins));
        assert_eq!(get("/words/ox/plural/more").await.status, 404);
    });
}

#[test]
fn many_concurrent_python_calls_are_each_answered_correctly() {
    block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..100 {
            tasks.spawn(async move { (i, get(&format!("/words/box{i}?count=2")).await) });
        }
        while let Some(joined) = tasks.join_next().await {
            let (i, resp) = joined.unwrap();
            assert_eq!(resp.status, 200, "request {i}: {}", text(&resp));
            let body = resp.json();
            assert_eq!(body["word"], format!("box{i}"));
            assert_eq!(body["phrase"], format!("2 box{i}s"));
        }
    });
}

#[test]
fn python_routes_are_listed() {
    block_on(async {
        let table = get("/__routes").await.json();
        let routes = table["routes"].as_array().unwrap();
        let bases: Vec<_> = routes
            .iter()
            .map(|r| r["base_path"].as_str().unwrap())
            .collect();
        for base in ["/words", "/pyfaults"] {
            assert!(bases.contains(&base), "{bases:?}");
        }
    });
}

// --- py-faults: what a function sees ---------------------------------------

#[test]
fn echo_sees_method_path_query_headers_and_request_id() {
    block_on(async {
        let resp = send(
            call("GET", "/pyfaults/echo?a=1&tag=x&tag=y&empty=")
                .header("x-request-id", "py-echo-1")
                .header("x-echo", "one")
                .header("x-echo", "two"),
        )
        .await;
        assert_eq!(resp.status, 200, "{}", text(&resp));
        assert_eq!(resp.header("x-request-id"), Some("py-echo-1"));
        let body = resp.json();
        assert_eq!(body["method"], "GET");
        assert_eq!(body["path"], "/pyfaults/echo");
        assert_eq!(body["base_path"], "/pyfaults");
        assert_eq!(body["operation_id"], "faults.handlers.echo");
        assert_eq!(body["request_id"], "py-echo-1");
        assert_eq!(body["path_params"], serde_json::json!({}));
        assert_eq!(
            body["query"],
            serde_json::json!([["a", "1"], ["tag", "x"], ["tag", "y"], ["empty", ""]])
        );
        assert_eq!(body["headers"]["x-echo"], serde_json::json!(["one", "two"]));
        assert_eq!(body["text"], "");
        assert_eq!(body["json"], serde_json::Value::Null);
    });
}

#[test]
fn echo_sees_text_json_and_binary_bodies() {
    block_on(async {
        let json =
            send(call("POST", "/pyfaults/echo").json(serde_json::json!({"k": [1, "two"]}))).await;
        assert_eq!(json.status, 200, "{}", text(&json));
        let body = json.json();
        assert_eq!(body["method"], "POST");
        assert_eq!(body["operation_id"], "faults.handlers.echo_post");
        assert_eq!(body["json"], serde_json::json!({"k": [1, "two"]}));
        assert_eq!(
            body["headers"]["content-type"],
            serde_json::json!(["application/json"])
        );

        let plain = send(
            call("POST", "/pyfaults/echo")
                .header("content-type", "text/plain; charset=utf-8")
                .body("héllo, wörld"),
        )
        .await;
        assert_eq!(plain.json()["text"], "héllo, wörld");
        assert_eq!(plain.json()["json"], serde_json::Value::Null);

        let binary = send(
            call("POST", "/pyfaults/echo")
                .header("content-type", "application/octet-stream")
                .body(vec![0xff, 0xfe, 0x00, 0x80]),
        )
        .await;
        assert_eq!(binary.status, 200, "{}", text(&binary));
        assert_eq!(binary.json()["text"], serde_json::Value::Null, "not UTF-8");
    });
}

#[test]
fn path_parameters_are_coerced_and_unknown_subpaths_are_404() {
    block_on(async {
        let item = get("/pyfaults/items/42").await;
        assert_eq!(item.status, 200, "{}", text(&item));
        assert_eq!(item.json(), serde_json::json!({"id": 42, "raw": "42"}));

        for bad in [
            "/pyfaults/items/abc",
            "/pyfaults/items/4.5",
            "/pyfaults/items/0",
        ] {
            let resp = get(bad).await;
            assert_eq!(resp.status, 400, "{bad}: {}", text(&resp));
            let details = resp.json()["details"].to_string();
            assert!(details.contains("id"), "{bad}: {details}");
        }
        for unknown in [
            "/pyfaults/items/42/extra",
            "/pyfaults/items",
            "/pyfaults/nowhere",
        ] {
            let resp = get(unknown).await;
            assert_eq!(resp.status, 404, "{unknown}: {}", text(&resp));
            assert!(resp.json()["request_id"].is_string());
        }
        assert_eq!(send(call("DELETE", "/pyfaults/items/42")).await.status, 405);
    });
}

#[test]
fn schema_invalid_bodies_get_400_before_python_runs() {
    block_on(async {
        let thing = serde_json::json!({"name": "box", "size": 3});
        let created = send(call("POST", "/pyfaults/things").json(thing.clone())).await;
        assert_eq!(created.status, 201, "{}", text(&created));
        assert_eq!(created.json(), serde_json::json!({"created": thing}));
        assert_eq!(created.header("location"), Some("/pyfaults/things/1"));

        // The function answers 502 to any of these: a 400 with `details`
        // comes from the mesh.
        let invalid = [
            (serde_json::json!({"size": 3}), "name"),
            (serde_json::json!({"name": ""}), "name"),
            (serde_json::json!({"name": "box", "size": -1}), "size"),
            (
                serde_json::json!({"name": "box", "colour": "red"}),
                "colour",
            ),
            (serde_json::json!(["box"]), "object"),
        ];
        for (body, problem) in invalid {
            let resp = send(call("POST", "/pyfaults/things").json(body.clone())).await;
            assert_eq!(resp.status, 400, "{body}: {}", text(&resp));
            let details = resp.json()["details"].to_string();
            assert!(details.contains(problem), "{body}: {details}");
        }
        let broken = send(
            call("POST", "/pyfaults/things")
                .header("content-type", "application/json")
                .body("{\"name\": "),
        )
        .await;
        assert_eq!(broken.status, 400, "{}", text(&broken));
        let missing = send(call("POST", "/pyfaults/things")).await;
        assert_eq!(missing.status, 400, "{}", text(&missing));
        let wrong_type = send(
            call("POST", "/pyfaults/things")
                .header("content-type", "text/plain")
                .body("box"),
        )
        .await;
        assert_eq!(wrong_type.status, 415, "{}", text(&wrong_type));
    });
}

#[test]
fn the_worker_environment_is_the_manifests_only() {
    block_on(async {
        let resp = get("/pyfaults/env").await;
        assert_eq!(resp.status, 200, "{}", text(&resp));
        let body = resp.json();
        assert_eq!(body["greeting"], "hi");
        let names: Vec<&str> = body["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        assert!(!names.contains(&"CARGO"), "{names:?}");
        let leaked: Vec<&&str> = names
            .iter()
            .filter(|n| {
                n.starts_with("CARGO")
                    || n.starts_with("FUNCMESH")
                    || n.starts_with("RUST")
                    || **n == "HOME"
            })
            .collect();
        assert!(
            leaked.is_empty(),
            "the runner's environment leaked: {leaked:?}"
        );
    });
}

#[test]
fn bundle_files_are_read_from_the_versions_own_copy() {
    block_on(async {
        let resp = get("/pyfaults/readfile").await;
        assert_eq!(resp.status, 200, "{}", text(&resp));
        let body = resp.json();
        assert_eq!(body["message"], "hello from the bundle\n");
        let cwd = PathBuf::from(body["cwd"].as_str().unwrap());
        let source = common::root().join("tests/fixtures/py-faults");
        assert_ne!(cwd, source, "runs from a copy, not the sources");
        assert!(
            cwd.join("faults/handlers.py").is_file(),
            "{}",
            cwd.display()
        );
        assert!(!cwd.join("__pycache__").exists());
    });
}

// --- py-faults: return forms -------------------------------------------------

#[test]
fn every_return_form_becomes_its_response() {
    block_on(async {
        let json = "application/json";
        let cases: [(&str, u16, Option<&str>, &[u8]); 6] = [
            (
                "dict",
                200,
                Some(json),
                br#"{"form":"dict","nested":{"list":[1,2,3],"none":null}}"#,
            ),
            ("list", 200, Some(json), br#"["list",1,{"two":2}]"#),
            (
                "str",
                200,
                Some("text/plain; charset=utf-8"),
                "plain text, héllo".as_bytes(),
            ),
            ("none", 204, None, b""),
            ("tuple2", 201, Some(json), br#"{"form":"tuple2"}"#),
            ("response", 203, Some(json), br#"{"form":"response"}"#),
        ];
        for (form, status, content_type, body) in cases {
            let resp = get(&format!("/pyfaults/returns/{form}")).await;
            assert_eq!(resp.status, status, "{form}: {}", text(&resp));
            assert_eq!(resp.header("content-type"), content_type, "{form}");
            assert!(resp.header("x-funcmesh-bundle").is_some(), "{form}");
            if content_type == Some(json) {
                let expected: serde_json::Value = serde_json::from_slice(body).unwrap();
                assert_eq!(resp.json(), expected, "{form}");
            } else {
                assert_eq!(resp.body.as_ref(), body, "{form}");
            }
        }

        let bytes = get("/pyfaults/returns/bytes").await;
        assert_eq!(bytes.status, 200);
        assert_eq!(
            bytes.header("content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(
            bytes.body.as_ref(),
            (0..=255u8).collect::<Vec<_>>().as_slice()
        );

        let tuple3 = get("/pyfaults/returns/tuple3").await;
        assert_eq!(tuple3.status, 202, "{}", text(&tuple3));
        assert_eq!(
            tuple3.header("content-type"),
            Some("text/html; charset=utf-8"),
            "the function's content type wins"
        );
        assert_eq!(tuple3.header("x-custom"), Some("yes"));
        assert_eq!(text(&tuple3), "<p>tuple3</p>");

        let response = get("/pyfaults/returns/response").await;
        assert_eq!(response.header("x-response"), Some("object"));

        let error = get("/pyfaults/returns/http-error").await;
        assert_eq!(error.status, 404, "{}", text(&error));
        assert_eq!(error.json(), serde_json::json!({"error": "no such thing"}));
        assert_eq!(error.header("x-why"), Some("missing"));
    });
}

// --- py-faults: failures -------------------------------------------------------

#[test]
fn an_exception_is_a_502_with_the_request_id() {
    block_on(async {
        let resp = send(call("GET", "/pyfaults/boom").header("x-request-id", "py-boom-1")).await;
        assert_eq!(resp.status, 502, "{}", text(&resp));
        let body = resp.json();
        assert_eq!(body["request_id"], "py-boom-1");
        let error = body["error"].as_str().unwrap();
        if DEV_MODE {
            for part in [
                "ValueError",
                "kaboom",
                "Traceback",
                "handlers.py",
                "in boom",
            ] {
                assert!(error.contains(part), "dev mode shows {part}: {error}");
            }
        } else {
            for part in ["kaboom", "Traceback", "handlers.py"] {
                assert!(!error.contains(part), "{part} is for the log only: {error}");
            }
            assert!(error.contains("exception"), "{error}");
        }
        assert_eq!(get("/pyfaults/returns/dict").await.status, 200);
    });
}

#[test]
fn an_infinite_loop_gets_504_while_others_are_served() {
    block_on(async {
        let _turn = HOGS.lock().await;
        let (resp, pid, elapsed) = fault_with_echoes("spin").await;
        assert_deadline_504(&resp, elapsed);
        assert!(
            worker_alive(pid),
            "the interrupt stopped the loop: its worker lives on"
        );
        echoes(4).await;
    });
}

#[test]
fn a_sleep_past_the_deadline_gets_504_while_others_are_served() {
    block_on(async {
        let _turn = HOGS.lock().await;
        let (resp, pid, elapsed) = fault_with_echoes("sleepy").await;
        assert_deadline_504(&resp, elapsed);
        assert!(
            elapsed < Duration::from_secs(25),
            "woken well before its 30 s sleep ended: {elapsed:?}"
        );
        assert!(
            worker_alive(pid),
            "the interrupt woke it: its worker lives on"
        );
        echoes(4).await;
    });
}

#[test]
fn a_function_that_swallows_the_deadline_is_killed_and_replaced() {
    block_on(async {
        let _turn = HOGS.lock().await;
        let (resp, pid, elapsed) = fault_with_echoes("stubborn").await;
        assert_deadline_504(&resp, elapsed);
        worker_gone(pid).await;
        echoes(20).await;
        // Its replacement serves, as does the rest of the bundle.
        let again = Mark::new();
        let started = Instant::now();
        let resp = get(&again.path("stubborn")).await;
        assert_deadline_504(&resp, started.elapsed());
        let second = again.pid().await;
        assert_ne!(second, pid);
        worker_gone(second).await;
        echoes(20).await;
    });
}

#[test]
fn a_worker_that_exits_is_a_502_and_is_replaced() {
    block_on(async {
        let _turn = HOGS.lock().await;
        let (resp, pid, _) = fault_with_echoes("die").await;
        assert_eq!(resp.status, 502, "{}", text(&resp));
        assert!(
            resp.json()["error"]
                .as_str()
                .is_some_and(|e| e.contains("status 3")),
            "{}",
            text(&resp)
        );
        worker_gone(pid).await;
        echoes(20).await;

        // More exits than the bundle has workers on any runner here: the
        // later ones run on replacements. A call that finds every worker of
        // its runner being replaced may wait out its deadline instead (504).
        let mut exited = vec![pid];
        let deadline = Instant::now() + Duration::from_secs(180);
        while exited.len() < 6 {
            assert!(
                Instant::now() < deadline,
                "workers are not replaced: {exited:?}"
            );
            let mark = Mark::new();
            let resp = get(&mark.path("die")).await;
            match (resp.status, mark.ran()) {
                (502, Some(pid)) => {
                    assert!(!exited.contains(&pid), "a worker exited twice: {pid}");
                    worker_gone(pid).await;
                    exited.push(pid);
                }
                (504, None) => {}
                (status, ran) => panic!("{status} (ran on {ran:?}): {}", text(&resp)),
            }
            echo_answers().await;
        }
        echoes(20).await;
    });
}

// --- py-faults: confinement ----------------------------------------------------

/// Whether the runners here are root, and so must switch their workers to
/// another user (`nobody`).
fn runner_is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Whether `pid` has exited (gone, or a zombie nobody reaped).
fn process_gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'))
    })
}

/// The uid of `nobody` in /etc/passwd.
fn nobody_uid() -> u64 {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .expect("a nobody user");
    line.split(':').nth(2).unwrap().parse().unwrap()
}

/// `op` with `?mb=8`, which fits in the fixture's 128 MiB, answers 200;
/// with `?mb=past`, 502 naming the limit, and its worker is replaced.
async fn past_the_memory_limit_is_a_502(op: &str, past: u32) {
    let _turn = HOGS.lock().await;
    let small = get(&format!("/pyfaults/{op}?mb=8")).await;
    assert_eq!(small.status, 200, "8 MiB fits in 128: {}", text(&small));

    let mark = Mark::new();
    let resp = get(&format!("{}&mb={past}", mark.path(op))).await;
    assert_eq!(resp.status, 502, "{}", text(&resp));
    let error = resp.json()["error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains("memory limit of 128 MiB"), "{error}");
    worker_gone(mark.pid().await).await;
    echoes(20).await;
}

#[test]
fn allocating_past_memory_limit_mb_is_a_502_and_its_worker_is_replaced() {
    block_on(past_the_memory_limit_is_a_502("hog", 1536));
}

#[test]
fn what_a_killed_worker_forked_dies_with_it() {
    block_on(async {
        let _turn = HOGS.lock().await;
        let mark = Mark::new();
        let started = Instant::now();
        let resp = get(&mark.path("forker")).await;
        assert_deadline_504(&resp, started.elapsed());
        let mut children: Vec<u32> = mark
            .read("children")
            .await
            .split_whitespace()
            .map(|pid| pid.parse().unwrap())
            .collect();
        assert_eq!(children.len(), 3, "{children:?}");
        // The second child escaped the death signal: only the kill of the
        // worker's process group reaches it. The third left the group as
        // well: only the worker's cgroup holds it.
        assert_eq!(mark.read("cleared").await, children[1].to_string());
        assert_eq!(mark.read("escaped").await, children[2].to_string());
        worker_gone(mark.pid().await).await;
        if !in_own_cgroup(&mark.read("cgroup").await) {
            let escaped = children.pop().unwrap();
            eprintln!("no cgroup per worker here: a child in a session of its own outlives its worker (docs/security.md)");
            // SAFETY: kill only sends a signal.
            unsafe { libc::kill(escaped as libc::pid_t, libc::SIGKILL) };
        }
        for child in children {
            let what = format!("child {child} of the killed worker ends");
            eventually(Duration::from_secs(30), &what, || async {
                process_gone(child)
            })
            .await;
        }
        echoes(20).await;
    });
}

/// Whether a worker's memory cgroup is one the runner made for it.
fn in_own_cgroup(cgroup: &str) -> bool {
    cgroup.contains("/funcmesh-runner-")
}

#[test]
fn a_root_runners_workers_each_have_a_cgroup_that_counts_all_their_memory() {
    block_on(async {
        let ids = get("/pyfaults/whoami").await.json();
        let cgroup = ids["cgroup"].as_str().unwrap_or_default().to_owned();
        if !runner_is_root() || !Path::new("/sys/fs/cgroup/memory/cgroup.procs").exists() {
            assert!(!in_own_cgroup(&cgroup), "{cgroup}");
            eprintln!("not root, or no cgroup v1 here: workers get no cgroup of their own");
            return;
        }
        assert!(in_own_cgroup(&cgroup), "{ids}");
        // Shared memory, which the heap's rlimit does not count.
        past_the_memory_limit_is_a_502("shmhog", 256).await;
    });
}

#[test]
fn a_function_cannot_read_the_runners_environment_or_the_shadow_file() {
    block_on(async {
        let resp = get("/pyfaults/snoop").await;
        assert_eq!(resp.status, 200, "{}", text(&resp));
        let body = resp.json();
        assert_eq!(body["environ"]["GREETING"], "hi");
        // Non-dumpable: even its own entries in /proc belong to root.
        assert_eq!(
            body["own_environ"]["error"], "PermissionError",
            "{}",
            body["own_environ"]
        );
        if !runner_is_root() {
            eprintln!("not root: the workers run as the runner's own user, which can read its environment");
            return;
        }
        for read in ["runner_environ", "runner_memory", "worker_environ", "shadow"] {
            assert_eq!(
                body[read]["error"], "PermissionError",
                "{read}: {}",
                body[read]
            );
        }
        let everything = body.to_string();
        for secret in ["FUNCMESH_TOKEN", "CARGO_MANIFEST_DIR"] {
            assert!(!everything.contains(secret), "{secret} leaked: {everything}");
        }
        // `[env]` comes in the init frame, after the worker made itself
        // non-dumpable: never in the environment it started with.
        let pid = get("/pyfaults/echo").await.json()["pid"].as_u64().unwrap();
        let started_with = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        let started_with = String::from_utf8_lossy(&started_with);
        assert!(started_with.contains("PATH="), "{started_with}");
        assert!(!started_with.contains("GREETING"), "{started_with}");
    });
}

#[test]
fn a_function_reaches_this_hosts_network_by_default() {
    block_on(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let resp = get(&format!("/pyfaults/connect?port={port}")).await;
        assert_eq!(resp.status, 200, "{}", text(&resp));
        assert_eq!(resp.json()["connected"], true, "{}", text(&resp));
    });
}

#[test]
fn a_root_runners_functions_run_as_nobody_without_groups() {
    block_on(async {
        let resp = get("/pyfaults/whoami").await;
        assert_eq!(resp.status, 200, "{}", text(&resp));
        let ids = resp.json();
        if !runner_is_root() {
            // SAFETY: getuid cannot fail.
            assert_eq!(ids["uid"], u64::from(unsafe { libc::getuid() }));
            return;
        }
        let nobody = nobody_uid();
        assert_eq!((&ids["uid"], &ids["euid"]), (&nobody.into(), &nobody.into()), "{ids}");
        assert_ne!(ids["gid"], 0, "{ids}");
        assert_ne!(ids["egid"], 0, "{ids}");
        assert_eq!(ids["groups"], serde_json::json!([]), "{ids}");
    });
}

#[test]
fn a_function_cannot_be_traced_nor_make_a_namespace() {
    block_on(async {
        let resp = get("/pyfaults/syscalls").await;
        assert_eq!(resp.status, 200, "{}", text(&resp));
        let body = resp.json();
        // Without the seccomp filter, PTRACE_TRACEME succeeds.
        for call in ["ptrace", "unshare"] {
            assert_eq!(body[call]["result"], -1, "{call}: {body}");
            assert_eq!(body[call]["errno"], libc::EPERM, "{call}: {body}");
        }
    });
}

#[test]
fn a_worker_cannot_open_more_files_than_its_limit() {
    block_on(async {
        let resp = get("/pyfaults/files").await;
        assert_eq!(resp.status, 200, "{}", text(&resp));
        let body = resp.json();
        assert_eq!(body["errno"], libc::EMFILE, "{body}");
        let opened = body["opened"].as_u64().unwrap();
        assert!(
            (10..common::PYTHON_MAX_OPEN_FILES).contains(&opened),
            "{body}"
        );
        echoes(4).await;
    });
}

#[test]
fn a_worker_cannot_fork_past_its_process_limit() {
    block_on(async {
        let _turn = HOGS.lock().await;
        // Forking to the limit takes a good part of the fixture's 500 ms
        // deadline; when another test has just had a worker killed, the
        // call may also wait for the replacement to start. Only that 504
        // is tried again, a bounded number of times.
        let mut resp = get("/pyfaults/forks").await;
        for _ in 0..3 {
            if resp.status != 504 {
                break;
            }
            resp = get("/pyfaults/forks").await;
        }
        assert_eq!(resp.status, 200, "{}", text(&resp));
        let body = resp.json();
        assert_eq!(body["errno"], libc::EAGAIN, "{body}");
        let forked = body["forked"].as_u64().unwrap();
        assert!(forked < common::PYTHON_MAX_PROCESSES, "{body}");
        echoes(4).await;
    });
}
