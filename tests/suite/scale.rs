// The scaling suite: a tron scales the `default` pool of the fault bundle
// (its `slow` operation sleeps 20 ms; a runner runs 8 of its calls at once)
// through the local-process orchestrator, from zero and back. Included by
// the fault test binary of each broker, after `suite/faults.rs` (it uses
// its `BROKER` and `serial`); on Kafka the steady-load test is skipped.

mod scaling {
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::time::{Duration, Instant};

    use funcmesh_testkit::{eventually, eventually_some};

    use super::{BROKER, serial};
    use crate::common::cluster::{Cluster, free_port};
    use crate::common::{block_on_showing_logs, call_at};

    /// Windows short enough for a test: down after 3 s of lower load, to
    /// zero after 4 s idle.
    const SCALING: &[&str] = &[
        "--scaler",
        "local",
        "--pool",
        "default:min=0,max=4,target=8",
        "--scale-down-window-ms",
        "3000",
        "--scale-to-zero-after-ms",
        "4000",
        "--runner-stop-timeout-ms",
        "15000",
        "--runner-arg=--concurrency=8",
    ];

    const SLOW: &str = "/faults/slow?ms=20";

    fn cluster() -> Cluster {
        Cluster::with_bundles(BROKER.url, &["tests/fixtures/faults"])
    }

    /// The `default` pool as a tron's `/status` shows it.
    async fn pool(cluster: &Cluster, admin: SocketAddr) -> serde_json::Value {
        let status = cluster.status_at(admin).await.unwrap_or_default();
        status["scaling"]["pools"]["default"].clone()
    }

    async fn current(cluster: &Cluster, admin: SocketAddr) -> u64 {
        pool(cluster, admin).await["current"].as_u64().unwrap_or(0)
    }

    async fn holds_lease(cluster: &Cluster, admin: SocketAddr) -> bool {
        let status = cluster.status_at(admin).await.unwrap_or_default();
        status["scaling"]["holds_lease"].as_bool() == Some(true)
    }

    /// `count` requests with `concurrency` in flight; every status seen.
    async fn load(gateway: SocketAddr, count: usize, concurrency: usize) -> Vec<u16> {
        load_until(gateway, concurrency, move |sent| sent >= count).await
    }

    /// `concurrency` clients, each sending its next request when it has its
    /// answer, for `time`; every status seen.
    async fn load_for(gateway: SocketAddr, time: Duration, concurrency: usize) -> Vec<u16> {
        let end = Instant::now() + time;
        load_until(gateway, concurrency, move |_| Instant::now() >= end).await
    }

    async fn load_until(
        gateway: SocketAddr,
        concurrency: usize,
        done: impl Fn(usize) -> bool + Send + Sync + 'static,
    ) -> Vec<u16> {
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let done = std::sync::Arc::new(done);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let (sent, done) = (std::sync::Arc::clone(&sent), std::sync::Arc::clone(&done));
            tasks.spawn(async move {
                let mut statuses = Vec::new();
                while !done(sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst)) {
                    let id = format!("scale-{}", NEXT_ID.fetch_add(1, Relaxed));
                    let resp = call_at(gateway, "GET", SLOW)
                        .header("x-request-id", &id)
                        .send()
                        .await;
                    let answered = resp.header("x-request-id");
                    assert_eq!(answered, Some(id.as_str()), "the answer to another request");
                    statuses.push(resp.status);
                }
                statuses
            });
        }
        let mut statuses = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            statuses.extend(joined.unwrap());
        }
        statuses
    }

    /// A request id unique within the test binary.
    static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

    /// The replies a gateway received for requests already answered or
    /// given up (a request run twice answers twice), from its metrics.
    async fn late_replies(metrics: SocketAddr) -> f64 {
        let resp = call_at(metrics, "GET", "/metrics").send().await;
        let text = String::from_utf8_lossy(&resp.body);
        let series = "funcmesh_gateway_late_replies_total ";
        let value = text.lines().find_map(|line| line.strip_prefix(series));
        let value = value.unwrap_or_else(|| panic!("no {series}in\n{text}"));
        value.trim().parse().unwrap()
    }

    /// The tron's scaling decisions logged so far.
    fn decisions(cluster: &Cluster) -> usize {
        cluster.logs_of("tron").matches("pool=default ").count()
    }

    /// From zero to what a burst needs (never past max), no decision under
    /// steady load once ramped, and back to zero when the load stops; every
    /// request answered 200, once, with its own answer.
    #[test]
    fn a_pool_scales_from_zero_with_the_load_and_back() {
        if BROKER.url == crate::common::cluster::KAFKA {
            // docs/scaling.md: on Kafka a queue of calls on their way
            // stands while runners have slots free, and the rule cannot
            // yet tell it from clients waiting: under this steady load the
            // pool may still change, and the burst may not reach max.
            eprintln!("SKIPPED on Kafka: the pool does not follow this load reliably there yet (docs/scaling.md)");
            return;
        }
        let _serial = serial();
        let cluster = cluster();
        let metrics = free_port();
        cluster.set_env("gateway", "FUNCMESH_METRICS", &metrics.to_string());
        block_on_showing_logs(&cluster, async {
            let admin = free_port();
            cluster.start_tron_with("tron", admin, SCALING);
            cluster.start_gateway("gateway");
            let wait = Duration::from_secs(30);
            eventually(wait, "the tron holds the scaler's lease", || {
                holds_lease(&cluster, admin)
            })
            .await;
            assert_eq!(current(&cluster, admin).await, 0, "min = 0: no runner yet");

            // From zero: the first request waits in its queue for a runner.
            let asked = Instant::now();
            let first = call_at(cluster.gateway, "GET", SLOW).send().await;
            let cold = asked.elapsed();
            assert_eq!(first.status, 200, "{:?}", first.body);
            println!("cold start (request to answer, from zero runners): {cold:?}");

            // Steady load that two runners carry: after the ramp, no change.
            // Fifteen clients: fewer calls than two runners of 8 take (16
            // would be exactly two runners' worth, a call more reads as
            // three), and more than one takes as long as a client spends
            // more than half of each call in a runner's slot (two thirds to
            // five sixths of it here, the rest in the gateway and on the
            // bus); twelve put the load at the edge between one and two.
            let load = Duration::from_secs(34);
            let started = Instant::now();
            let steady = tokio::spawn(load_for(cluster.gateway, load, 15));
            eventually(
                Duration::from_secs(15),
                "more than one runner for fifteen clients",
                || async { current(&cluster, admin).await >= 2 },
            )
            .await;
            // The ramp is over once no decision has come for as long as a
            // step up and what it overshot given back take: the new
            // runners started and measured (4 s), and the scale-down
            // window (3 s), and a tick.
            let mut last = (decisions(&cluster), Instant::now());
            while last.1.elapsed() < Duration::from_secs(8) {
                tokio::time::sleep(Duration::from_millis(250)).await; // sampling
                let now = decisions(&cluster);
                if now != last.0 {
                    last = (now, Instant::now());
                }
            }
            let left = load.saturating_sub(started.elapsed());
            assert!(
                left >= Duration::from_secs(8),
                "the ramp took until {left:?} before the end"
            );
            assert_eq!(
                current(&cluster, admin).await,
                2,
                "two runners for fifteen clients"
            );
            let before = decisions(&cluster);
            let statuses = steady.await.unwrap();
            let after = decisions(&cluster);
            assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
            assert_eq!(after, before, "scaling decisions under steady load");

            // A burst of 64 clients: up to max (4), not past it.
            let started = Instant::now();
            let burst = tokio::spawn(load_for(cluster.gateway, Duration::from_secs(12), 64));
            let mut most = 0;
            let mut reached = None;
            while !burst.is_finished() {
                let now = current(&cluster, admin).await;
                most = most.max(now);
                if now == 4 && reached.is_none() {
                    reached = Some(started.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(100)).await; // sampling
            }
            let statuses = burst.await.unwrap();
            let failed: Vec<_> = statuses.iter().filter(|s| **s != 200).collect();
            assert!(
                failed.is_empty(),
                "every request of the burst answered 200: {failed:?}"
            );
            assert_eq!(most, 4, "the burst needs 8 runners; max is 4");
            println!(
                "burst of 64 clients: {} requests; max runners reached after {reached:?}",
                statuses.len()
            );
            assert!(
                reached.is_some_and(|t| t < Duration::from_secs(10)),
                "capacity within a few seconds: {reached:?}"
            );

            // Load stops: back to zero after the window and the idle time.
            eventually(Duration::from_secs(30), "the pool back at zero", || async {
                let pool = pool(&cluster, admin).await;
                pool["current"] == 0 && pool["ready"] == 0
            })
            .await;
            // No request ran twice through the scale-downs: none was
            // answered a second time.
            assert_eq!(late_replies(metrics).await, 0.0, "replies after the answer");
        });
    }

    /// A runner the orchestrator started, killed with SIGKILL under load,
    /// is replaced; no request is lost.
    #[test]
    fn a_killed_runner_is_replaced_and_nothing_is_lost() {
        let _serial = serial();
        let cluster = cluster();
        block_on_showing_logs(&cluster, async {
            let admin = free_port();
            let mut args = SCALING.to_vec();
            args[3] = "default:min=2,max=4,target=8";
            cluster.start_tron_with("tron", admin, &args);
            cluster.start_gateway("gateway");
            let wait = Duration::from_secs(60);
            let pids: Vec<u64> = eventually_some(wait, "two runners heard", || async {
                let status = cluster.status_at(admin).await?;
                let pids: Vec<u64> = status["runners"]
                    .as_array()?
                    .iter()
                    .filter(|r| r["pool"] == "default")
                    .filter_map(|r| r["pid"].as_u64())
                    .collect();
                (pids.len() == 2).then_some(pids)
            })
            .await;
            let traffic = tokio::spawn(load(cluster.gateway, 600, 16));
            eventually(wait, "the runners busy with the load", || async {
                let status = cluster.status_at(admin).await.unwrap_or_default();
                let served: u64 = status["runners"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r["stats"]["requests"].as_u64())
                    .sum();
                served >= 50
            })
            .await;
            // SAFETY: signals a runner this test's tron started.
            unsafe {
                libc::kill(pids[0] as libc::pid_t, libc::SIGKILL);
            }
            let statuses = traffic.await.unwrap();
            assert!(
                statuses.iter().all(|s| *s == 200),
                "every request answered 200: {statuses:?}"
            );
            eventually(wait, "a runner in the killed one's place", || async {
                let Some(status) = cluster.status_at(admin).await else {
                    return false;
                };
                let alive: Vec<u64> = status["runners"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|r| r["pool"] == "default")
                    .filter_map(|r| r["pid"].as_u64())
                    .collect();
                alive.len() >= 2 && !alive.contains(&pids[0])
            })
            .await;
        });
    }

    /// A runner told to stop says, once it has drained, that it runs
    /// nothing: the tron does not count the calls of its last heartbeat
    /// as running until it forgets the runner (they read as load).
    #[test]
    fn a_runner_that_stops_reports_nothing_in_flight() {
        let _serial = serial();
        let cluster = cluster();
        block_on_showing_logs(&cluster, async {
            cluster.start_tron("tron");
            cluster.start_gateway("gateway");
            cluster.start_runner_with("runner1", 8);
            let gateway = cluster.gateway;
            let mut load = tokio::task::JoinSet::new();
            for _ in 0..8 {
                load.spawn(async move {
                    loop {
                        let call = call_at(gateway, "GET", "/faults/slow?ms=200");
                        let _ = call.try_send().await;
                    }
                });
            }
            // The runner the tron heard from, and its calls in flight.
            let in_flight = || async {
                let status = cluster.status_at(cluster.admin).await?;
                status["runners"][0]["stats"]["in_flight"].as_u64()
            };
            let wait = Duration::from_secs(30);
            eventually(wait, "a heartbeat with calls in flight", || async {
                in_flight().await.is_some_and(|n| n > 0)
            })
            .await;
            cluster.terminate("runner1");
            // Within the 5 s the tron keeps a runner it no longer hears.
            eventually(Duration::from_secs(4), "nothing in flight", || async {
                in_flight().await == Some(0)
            })
            .await;
            load.abort_all();
        });
    }

    /// Two trons that can scale: one holds the lease; when it dies, the
    /// other takes over within the bound and scales.
    #[test]
    fn only_one_tron_scales_and_another_takes_over() {
        let _serial = serial();
        let cluster = cluster();
        block_on_showing_logs(&cluster, async {
            let (first, second) = (free_port(), free_port());
            cluster.start_tron_with("tron1", first, SCALING);
            let wait = Duration::from_secs(30);
            eventually(wait, "the first tron holds the lease", || {
                holds_lease(&cluster, first)
            })
            .await;
            cluster.start_tron_with("tron2", second, SCALING);
            eventually(wait, "the second tron answers", || async {
                cluster.status_at(second).await.is_some()
            })
            .await;
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(300)).await; // sampling over 3 s
                assert!(holds_lease(&cluster, first).await);
                assert!(!holds_lease(&cluster, second).await, "two scalers");
            }
            cluster.kill("tron1");
            let killed = Instant::now();
            eventually(
                Duration::from_secs(10),
                "the second tron takes over",
                || holds_lease(&cluster, second),
            )
            .await;
            let took = killed.elapsed();
            println!("lease taken over {took:?} after the holder died");
            assert!(took < Duration::from_secs(4), "within the bound: {took:?}");
            cluster.start_gateway("gateway");
            eventually(wait, "the gateway routes to the fault bundle", || async {
                let answer = call_at(cluster.gateway, "GET", "/__routes")
                    .try_send()
                    .await;
                answer.is_ok_and(|a| {
                    a.status == 200 && String::from_utf8_lossy(&a.body).contains("faults")
                })
            })
            .await;
            let answer = call_at(cluster.gateway, "GET", SLOW).send().await;
            assert_eq!(answer.status, 200, "the new scaler starts a runner");
            assert!(
                !pool(&cluster, second).await["last_decision"].is_null(),
                "the second tron made the decision"
            );
        });
    }
}
