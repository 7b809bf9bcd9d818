//! Operating a cluster: each process's Prometheus metrics move with the
//! traffic sent, JSON logs, and a Func's log level changed while it serves
//! (`funcmesh log-level`), on RabbitMQ with the tron, a gateway and a
//! runner as separate processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::cluster::{Cluster, RABBITMQ};
use funcmesh_testkit::{eventually, free_port};

/// The text `GET /metrics` answers at `addr`.
async fn scrape(addr: SocketAddr) -> String {
    let resp = common::call_at(addr, "GET", "/metrics").send().await;
    assert_eq!(resp.status, 200);
    assert!(
        resp.header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text")),
        "{:?}",
        resp.header("content-type")
    );
    String::from_utf8(resp.body.to_vec()).unwrap()
}

/// The value of the series `series` (name and labels, as written), 0 when
/// it is not there.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

/// How many lines of `log` hold every one of `parts`.
fn lines_with(log: &str, parts: &[&str]) -> usize {
    log.lines()
        .filter(|line| parts.iter().all(|p| line.contains(p)))
        .count()
}

/// Runs `funcmesh log-level ARGS` against the cluster; its stdout.
fn log_level(cluster: &Cluster, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_funcmesh"))
        .arg("log-level")
        .args(args)
        .env("FUNCMESH_BUS", &cluster.bus)
        .env("FUNCMESH_TOKEN", &cluster.token)
        .env("FUNCMESH_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "funcmesh log-level {args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The metrics only a tron that scales serves.
const SCALING_ONLY: [&str; 2] = [
    "funcmesh_tron_pool_runners",
    "funcmesh_tron_scale_decisions_total",
];

/// Every metric the Grafana dashboard of `compose/grafana/` queries is one
/// the processes serve (in `scraped`), or one a scaling tron serves.
fn every_dashboard_metric_is_served(scraped: &[&str]) {
    let path = common::root().join("compose/grafana/funcmesh.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut queried = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(at) = rest.find("funcmesh_") {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[at + name.len()..];
                queried.push(name);
            }
        }
    }
    assert!(queried.len() > 10, "{queried:?}");
    for name in queried {
        let served = scraped.iter().any(|text| {
            text.lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        });
        assert!(
            served || SCALING_ONLY.contains(&name.as_str()),
            "the dashboard queries {name}, which no process serves"
        );
    }
}

#[test]
fn metrics_logs_and_log_levels_on_a_cluster() {
    let cluster = Cluster::new(RABBITMQ);
    let (gateway, tron, runner) = (free_port(), free_port(), free_port());
    cluster.set_env("gateway", "FUNCMESH_METRICS", &gateway.to_string());
    cluster.set_env("gateway", "FUNCMESH_LOG_FORMAT", "json");
    cluster.set_env("tron", "FUNCMESH_METRICS", &tron.to_string());
    cluster.set_env("runner1", "FUNCMESH_METRICS", &runner.to_string());
    common::block_on_showing_logs(&cluster, async {
        cluster.start_all(1).await;

        // Metrics move with the traffic.
        let (g0, r0) = (scrape(gateway).await, scrape(runner).await);
        const SENT: usize = 20;
        for i in 0..SENT {
            let path = format!("/hello/greet?name=m{i}");
            assert_eq!(
                common::call_at(cluster.gateway, "GET", &path)
                    .send()
                    .await
                    .status,
                200
            );
        }
        let missing = common::call_at(cluster.gateway, "GET", "/hello/nowhere")
            .send()
            .await;
        assert_eq!(missing.status, 404);
        let (g1, r1) = (scrape(gateway).await, scrape(runner).await);
        let moved =
            |before: &str, after: &str, series: &str| value(after, series) - value(before, series);
        let ok = r#"funcmesh_gateway_request_duration_seconds_count{func="hello",code="2xx"}"#;
        assert!(moved(&g0, &g1, ok) >= SENT as f64, "{g1}");
        let refused = r#"funcmesh_gateway_request_duration_seconds_count{func="hello",code="4xx"}"#;
        assert!(moved(&g0, &g1, refused) >= 1.0, "{g1}");
        assert!(
            moved(&g0, &g1, "funcmesh_gateway_requests_total") >= SENT as f64 + 1.0,
            "{g1}"
        );
        let calls = r#"funcmesh_runner_calls_total{func="hello",outcome="ok"}"#;
        assert!(moved(&r0, &r1, calls) >= SENT as f64, "{r1}");
        let not_found = r#"funcmesh_runner_calls_total{func="hello",outcome="not_found"}"#;
        assert!(moved(&r0, &r1, not_found) >= 1.0, "{r1}");
        let waited = r#"funcmesh_runner_queue_wait_seconds_count{func="hello"}"#;
        assert!(moved(&r0, &r1, waited) >= SENT as f64, "{r1}");
        let ran = r#"funcmesh_runner_run_seconds_count{func="hello"}"#;
        assert!(moved(&r0, &r1, ran) >= SENT as f64, "{r1}");
        for text in [&g1, &r1] {
            let published = r#"funcmesh_bus_publishes_total{system="rabbitmq"}"#;
            assert!(value(text, published) >= SENT as f64, "{text}");
        }
        // The tron: its routes, the runner heard, each Func queue's depth.
        let status = cluster.status().await;
        let routes = status["routes"].as_array().unwrap().len() as f64;
        let queue = status["routes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "hello")
            .and_then(|r| r["queue"].as_str())
            .unwrap()
            .to_owned();
        let depth = format!(r#"funcmesh_tron_queue_depth{{queue="{queue}"}}"#);
        let sampled = || async {
            let t = scrape(tron).await;
            t.contains(&depth)
                && value(&t, "funcmesh_tron_routes") == routes
                && value(&t, r#"funcmesh_tron_runners_heard{pool="default"}"#) == 1.0
        };
        eventually(Duration::from_secs(10), "the tron's metrics", sampled).await;
        every_dashboard_metric_is_served(&[&g1, &r1, &scrape(tron).await]);
        // Labels stay bounded: no request ids, no paths.
        for text in [&g1, &r1] {
            assert!(
                !text.contains("request_id") && !text.contains("nowhere"),
                "{text}"
            );
        }

        // JSON logs: every line of the gateway is one object.
        let gateway_log = cluster.logs_of("gateway");
        let lines: Vec<serde_json::Value> = gateway_log
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert!(
            lines
                .iter()
                .any(|l| l["fields"]["message"] == "gateway started"),
            "{gateway_log}"
        );

        // A Func's debug lines come and go with its level; another's
        // never show.
        let hello = ["no operation matches", "func=hello"];
        let petstore = ["no operation matches", "func=petstore"];
        assert_eq!(lines_with(&cluster.logs_of("runner1"), &hello), 0);
        let said = log_level(&cluster, &["hello=debug", "--for", "5m"]);
        assert!(said.contains("hello: debug"), "{said}");
        let shown = || async {
            common::call_at(cluster.gateway, "GET", "/hello/nowhere")
                .send()
                .await;
            lines_with(&cluster.logs_of("runner1"), &hello) > 0
        };
        eventually(Duration::from_secs(5), "hello's debug lines", shown).await;
        common::call_at(cluster.gateway, "GET", "/petstore/nowhere")
            .send()
            .await;
        let said = log_level(&cluster, &["hello=reset"]);
        assert!(said.contains("no Func has a log level"), "{said}");
        // Once every process has the reset, hello's debug lines stop.
        let quiet = || async {
            let before = lines_with(&cluster.logs_of("runner1"), &hello);
            common::call_at(cluster.gateway, "GET", "/hello/nowhere")
                .send()
                .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            lines_with(&cluster.logs_of("runner1"), &hello) == before
        };
        eventually(Duration::from_secs(5), "hello's debug lines stop", quiet).await;
        assert_eq!(lines_with(&cluster.logs_of("runner1"), &petstore), 0);

        // A bad change is refused before anything is sent.
        let refused = Command::new(env!("CARGO_BIN_EXE_funcmesh"))
            .args(["log-level", "hello=loud"])
            .env("FUNCMESH_BUS", &cluster.bus)
            .env("FUNCMESH_TOKEN", &cluster.token)
            .output()
            .unwrap();
        assert!(!refused.status.success());
        assert!(String::from_utf8_lossy(&refused.stderr).contains("none of"));
    });
}
