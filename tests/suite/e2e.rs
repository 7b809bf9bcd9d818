// The end-to-end suite, included by each test binary that defines `mesh()`
// (anything with `local_addr()` and `common::ShowsLogs`) and
// `async fn requests_served() -> u64`
// (requests the runners have executed so far).
// Every test goes through real HTTP to the gateway on 127.0.0.1.

use std::time::{Duration, Instant};

use common::{Call, call_at};

/// Runs a test body once the shared mesh is up (started outside the
/// runtime); a failure shows what the mesh logged.
fn block_on<F: Future>(test: F) -> F::Output {
    common::block_on_showing_logs(mesh(), test)
}

fn call(method: &str, path: &str) -> Call {
    call_at(mesh().local_addr(), method, path)
}

#[test]
fn hello_greets_by_name() {
    block_on(async {
        let resp = call("GET", "/hello/greet?name=Ada").send().await;
        assert_eq!(resp.status, 200, "{:?}", resp.body);
        assert_eq!(resp.json(), serde_json::json!({"greeting": "Hello, Ada!"}));
        assert!(resp.header("x-request-id").is_some_and(|id| id.len() >= 32));
        assert!(resp.header("x-funcmesh-bundle").is_some());
        assert_eq!(resp.header("content-type"), Some("application/json"));
    });
}

#[test]
fn request_id_is_passed_through() {
    block_on(async {
        let resp = call("GET", "/hello/greet").header("x-request-id", "trace-me-42").send().await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("x-request-id"), Some("trace-me-42"));
    });
}

#[test]
fn routes_by_swagger2_host_and_base_path() {
    block_on(async {
        let resp = call("GET", "/v2/hello/Grace").host("greeter.example.com").send().await;
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        assert!(resp.body.windows(5).any(|w| w == b"Grace"), "{}", String::from_utf8_lossy(&resp.body));
        let elsewhere = call("GET", "/v2/hello/Grace").host("other.example.org").send().await;
        assert_eq!(elsewhere.status, 404);
        let with_port = call("GET", "/v2/health").host("greeter.example.com:8080").send().await;
        assert_eq!(with_port.status, 200, "the port is not part of the host");
    });
}

#[test]
fn unknown_routes_get_a_json_404_with_the_request_id() {
    block_on(async {
        let resp = call("GET", "/nowhere/at/all").header("x-request-id", "lost-1").send().await;
        assert_eq!(resp.status, 404);
        let body = resp.json();
        assert_eq!(body["request_id"], "lost-1");
        assert!(body["error"].as_str().is_some_and(|e| e.contains("/nowhere/at/all")), "{body}");
    });
}

#[test]
fn base_paths_match_whole_segments_only() {
    block_on(async {
        assert_eq!(call("GET", "/helloworld/greet").send().await.status, 404);
        assert_eq!(call("GET", "/hello/greet").send().await.status, 200);
    });
}

#[test]
fn path_parameters_are_captured_and_typed() {
    block_on(async {
        let pet = call("GET", "/petstore/pets/7").send().await;
        assert_eq!(pet.status, 200, "{}", String::from_utf8_lossy(&pet.body));
        assert_eq!(pet.json()["id"], 7);
        let missing = call("GET", "/petstore/pets/0").send().await;
        assert_eq!(missing.status, 404, "the function's own 404 passes through");
        let bad = call("GET", "/petstore/pets/seven").send().await;
        assert_eq!(bad.status, 400);
        let details = bad.json()["details"].to_string();
        assert!(details.contains("petId"), "{details}");
    });
}

#[test]
fn invalid_query_parameters_never_reach_the_function() {
    block_on(async {
        let resp = call("GET", "/petstore/pets?limit=500").send().await;
        assert_eq!(resp.status, 400);
        let body = resp.json();
        assert!(body["request_id"].is_string());
        assert!(body["details"].to_string().contains("limit"), "{body}");
        assert_eq!(call("GET", "/petstore/pets?limit=5").send().await.status, 200);
    });
}

#[test]
fn json_bodies_are_validated_against_the_schema() {
    block_on(async {
        let created = call("POST", "/petstore/pets").json(serde_json::json!({"name": "Rex", "age": 3})).send().await;
        assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
        assert_eq!(created.json()["name"], "Rex");
        let no_name = call("POST", "/petstore/pets").json(serde_json::json!({"age": 3})).send().await;
        assert_eq!(no_name.status, 400);
        assert!(no_name.json()["details"].to_string().contains("name"));
        let negative = call("POST", "/petstore/pets").json(serde_json::json!({"name": "Rex", "age": -1})).send().await;
        assert_eq!(negative.status, 400);
        let broken = call("POST", "/petstore/pets").header("content-type", "application/json").body("{nope").send().await;
        assert_eq!(broken.status, 400);
        let wrong_type = call("POST", "/petstore/pets").header("content-type", "text/plain").body("Rex").send().await;
        assert_eq!(wrong_type.status, 415);
    });
}

#[test]
fn wrong_method_is_405_with_allow() {
    block_on(async {
        let resp = call("PUT", "/petstore/pets").send().await;
        assert_eq!(resp.status, 405);
        let allow = resp.header("allow").unwrap_or_default().to_owned();
        assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    });
}

#[test]
fn oversized_bodies_get_413() {
    block_on(async {
        let huge = vec![b'x'; 7 * 1024 * 1024];
        let resp = call("POST", "/faults/echo").header("content-type", "application/octet-stream").body(huge).send().await;
        assert_eq!(resp.status, 413);
        assert!(resp.json()["error"].as_str().is_some_and(|e| e.contains("6291456") || e.contains("MiB")));
    });
}

#[test]
fn binary_bodies_round_trip_byte_exact() {
    block_on(async {
        let bytes: Vec<u8> = (0..=255u8).rev().collect();
        let resp = call("POST", "/faults/echo").header("content-type", "application/octet-stream").body(bytes.clone()).send().await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body.as_ref(), bytes.as_slice());
        let out = call("GET", "/faults/binary").send().await;
        assert_eq!(out.body.as_ref(), (0..=255u8).collect::<Vec<_>>().as_slice());
    });
}

#[test]
fn a_trap_is_a_502_for_that_request_only() {
    block_on(async {
        let resp = call("GET", "/faults/trap").header("x-request-id", "trap-1").send().await;
        assert_eq!(resp.status, 502);
        let body = resp.json();
        assert_eq!(body["request_id"], "trap-1");
        assert!(body["error"].as_str().is_some_and(|e| e.contains("trap")), "{body}");
        assert_eq!(call("GET", "/hello/greet").send().await.status, 200);
    });
}

#[test]
fn memory_hog_hits_its_limit_with_a_502() {
    block_on(async {
        let resp = call("GET", "/faults/hog").send().await;
        assert_eq!(resp.status, 502);
        assert!(resp.json()["error"].as_str().is_some_and(|e| e.contains("memory")), "{:?}", resp.json());
    });
}

/// Keeps apart the tests that time requests against one another and the
/// one that floods the mesh: under a thousand requests at once on a small
/// machine, no greeting comes back within the loop's 500 ms.
static LOAD_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn load_lock() -> std::sync::MutexGuard<'static, ()> {
    LOAD_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn an_infinite_loop_gets_504_while_others_are_served() {
    let _alone = load_lock();
    block_on(async {
        let started = Instant::now();
        let spin = tokio::spawn(call("GET", "/faults/spin").send());
        // Greetings are answered for as long as the loop runs (its
        // deadline is 500 ms), not after it.
        let mut meanwhile = 0;
        while !spin.is_finished() {
            assert!(started.elapsed() < Duration::from_secs(10), "the loop runs past its deadline");
            let resp = call("GET", &format!("/hello/greet?name=n{meanwhile}")).send().await;
            assert_eq!(resp.status, 200);
            meanwhile += usize::from(!spin.is_finished());
        }
        assert!(meanwhile >= 3, "only {meanwhile} greeting(s) answered while the loop ran");
        let spin = spin.await.unwrap();
        assert_eq!(spin.status, 504, "{}", String::from_utf8_lossy(&spin.body));
        assert!(started.elapsed() < Duration::from_secs(10), "stopped within its deadline");
        assert!(spin.json()["error"].as_str().is_some_and(|e| e.contains("deadline")));
    });
}

#[test]
fn manifest_environment_reaches_the_function() {
    block_on(async {
        let resp = call("GET", "/faults/env?name=FAULTS_GREETING").send().await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.json()["value"], "hello from the manifest");
        let hidden = call("GET", "/faults/env?name=PATH").send().await;
        assert_eq!(hidden.json()["value"], serde_json::Value::Null, "no host environment leaks in");
    });
}

#[test]
fn repeated_headers_reach_the_function() {
    block_on(async {
        let resp = call("GET", "/faults/headers").header("x-multi", "a").header("x-multi", "b").send().await;
        let pairs = resp.json();
        let multi: Vec<_> = pairs.as_array().unwrap().iter().filter(|p| p[0] == "x-multi").map(|p| p[1].clone()).collect();
        assert_eq!(multi, vec!["a", "b"]);
    });
}

#[test]
fn fire_and_forget_is_accepted_and_executed() {
    block_on(async {
        let before = requests_served().await;
        let resp = call("POST", "/faults/echo").header("prefer", "respond-async").body("x").send().await;
        assert_eq!(resp.status, 202);
        assert!(resp.json()["request_id"].is_string());
        let executed = || async { requests_served().await > before };
        funcmesh_testkit::eventually(Duration::from_secs(10), "the fire-and-forget request is executed", executed).await;
    });
}

#[test]
fn routes_are_listed() {
    block_on(async {
        let table = call("GET", "/__routes").send().await.json();
        let routes = table["routes"].as_array().unwrap();
        let bases: Vec<_> = routes.iter().map(|r| r["base_path"].as_str().unwrap()).collect();
        for base in ["/hello", "/v2", "/petstore", "/faults"] {
            assert!(bases.contains(&base), "{bases:?}");
        }
    });
}

#[test]
fn each_bundles_api_description_is_served_with_its_route() {
    block_on(async {
        let listed = call("GET", "/__openapi").send().await;
        assert_eq!(listed.status, 200, "{:?}", listed.body);
        let listed = listed.json();
        let names: Vec<_> = listed.as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"petstore") && names.contains(&"greeter-v2"), "{names:?}");

        // OpenAPI 3, answered by a runner of the Func: the version serving.
        let petstore = call("GET", "/__openapi/petstore").send().await;
        assert_eq!(petstore.status, 200, "{}", String::from_utf8_lossy(&petstore.body));
        let bundle = petstore.header("x-funcmesh-bundle").unwrap().to_owned();
        let doc = petstore.json();
        assert_eq!(doc["servers"], serde_json::json!([{ "url": "/petstore" }]));
        assert_eq!(doc["paths"]["/pets"]["post"]["operationId"], "createPet");
        assert!(doc["x-funcmesh-bundle"].as_str().unwrap().starts_with(&bundle));

        // Swagger 2.0, with its exact host.
        let greeter = call("GET", "/__openapi/greeter-v2").send().await.json();
        assert_eq!((greeter["host"].as_str(), greeter["basePath"].as_str()), (Some("greeter.example.com"), Some("/v2")));

        let unknown = call("GET", "/__openapi/nothing-here").send().await;
        assert_eq!(unknown.status, 404);
        assert!(unknown.json()["error"].as_str().unwrap().contains("nothing-here"));
        assert_eq!(call("POST", "/__openapi/petstore").send().await.status, 405);
    });
}

#[test]
fn a_thousand_concurrent_requests_are_all_answered_correctly() {
    let _alone = load_lock();
    block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..1000 {
            tasks.spawn(async move { (i, call("GET", &format!("/hello/greet?name=p{i}")).send().await) });
        }
        let mut ok = 0;
        while let Some(joined) = tasks.join_next().await {
            let (i, resp) = joined.unwrap();
            let body = String::from_utf8_lossy(&resp.body);
            assert_eq!(resp.status, 200, "request {i}: {body}");
            assert_eq!(resp.json()["greeting"], format!("Hello, p{i}!"));
            ok += 1;
        }
        assert_eq!(ok, 1000);
    });
}
