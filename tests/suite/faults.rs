// The fault suite: a runner killed mid-request, a broker restart, a request
// that kills every runner that takes it, processes started before the
// broker. Included by a test binary per broker, which defines `BROKER`, a
// `Broker` naming its URL and how to stop and start it.
//
// The broker tests stop and start the machine's broker, so the tests of each
// binary run one at a time.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::{block_on, block_on_showing_logs, call_at};
use funcmesh_core::queues;
use funcmesh_testkit::{eventually, eventually_some, try_eventually};

/// A broker the suite runs on.
pub struct Broker {
    /// The bus URL, without a namespace.
    pub url: &'static str,
    /// Stops the broker; the mesh must then refuse requests at once.
    pub stop: fn(),
    /// Starts it again.
    pub start: fn(),
}

/// One test at a time: some of them stop the broker.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Stops the broker; starts it again when dropped, so that a failing test
/// never leaves the broker down.
struct BrokerStopped;

impl BrokerStopped {
    fn now() -> Self {
        (BROKER.stop)();
        Self
    }
}

impl Drop for BrokerStopped {
    fn drop(&mut self) {
        (BROKER.start)();
    }
}

/// 120 slow requests on two runners, one of which is killed with SIGKILL
/// mid-way: every request must be answered 200, once. All are sent at
/// once, so the last ones wait for the rest on one runner after the kill,
/// plus the takeover (3 s on Kafka), within the gateway's 10 s: 120 keeps
/// that wait near 6 s on a loaded machine, where 200 came close to 10.
#[test]
fn a_runner_killed_under_load_loses_no_request() {
    let _serial = serial();
    block_on(async {
        let cluster = Cluster::new(BROKER.url);
        cluster.start_tron("tron");
        cluster.start_gateway("gateway");
        // As many calls at once as the fault bundle allows, so that every
        // request taken is running (the rest wait on the queue).
        cluster.start_runner_with("runner1", 8);
        cluster.start_runner_with("runner2", 8);
        cluster.ready(2).await;
        let gateway = cluster.gateway;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..120 {
            let done = done.clone();
            tasks.spawn(async move {
                let resp = call_at(gateway, "GET", "/faults/slow?ms=200")
                    .header("x-request-id", &format!("kill-{i}"))
                    .send()
                    .await;
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                (i, resp)
            });
        }
        // Mid-way: the runners are busy (two rounds of 16 answered), and
        // most requests are still to come.
        let answered = || async { done.load(std::sync::atomic::Ordering::SeqCst) >= 32 };
        eventually(
            Duration::from_secs(60),
            "two rounds of requests answered",
            answered,
        )
        .await;
        cluster.kill("runner1");
        let before_kill = done.load(std::sync::atomic::Ordering::SeqCst);
        assert!(
            before_kill < 90,
            "the runner was killed after {before_kill} of 120 answers"
        );
        let mut answered = std::collections::BTreeSet::new();
        while let Some(joined) = tasks.join_next().await {
            let (i, resp) = joined.unwrap();
            assert_eq!(
                resp.status,
                200,
                "request {i}: {}\n{}",
                String::from_utf8_lossy(&resp.body),
                cluster.logs()
            );
            assert_eq!(
                resp.header("x-request-id"),
                Some(format!("kill-{i}").as_str())
            );
            assert!(answered.insert(i), "request {i} answered twice");
        }
        assert_eq!(answered.len(), 120);
        assert!(
            cluster.running("runner2") && cluster.running("gateway") && cluster.running("tron")
        );
    });
}

#[test]
fn a_request_that_kills_every_runner_is_dead_lettered_with_a_502() {
    let _serial = serial();
    let cluster = Cluster::new(BROKER.url);
    block_on_showing_logs(&cluster, async {
        cluster.start_tron("tron");
        cluster.start_gateway("gateway");
        // No runner: this test's consumer plays the runners, each of which
        // dies (its connection closes) with the request unacknowledged.
        let gateway = cluster.gateway;
        let client = tokio::spawn(async move {
            // Refused (503) until the gateway has the route.
            let taken = || async {
                let resp = call_at(gateway, "POST", "/faults/echo")
                    .body("poison")
                    .try_send()
                    .await;
                resp.ok().filter(|resp| resp.status != 503)
            };
            eventually_some(Duration::from_secs(60), "the mesh takes the request", taken).await
        });
        let queue = queues::func_queue(None, "/faults");
        let deliveries = crash_on_every_delivery(&cluster.bus, &queue).await;
        let resp = client.await.unwrap();
        assert_eq!(resp.status, 502, "{}", String::from_utf8_lossy(&resp.body));
        assert!(
            resp.json()["error"]
                .as_str()
                .unwrap()
                .contains("failed on every delivery")
        );
        assert_eq!(deliveries, 5, "the default delivery limit");

        let bus = funcmesh_bus::connect(&cluster.bus).await.unwrap();
        let parked = || async {
            bus.depth(queues::PARKED)
                .await
                .is_ok_and(|depth| depth.ready == 1)
        };
        eventually(Duration::from_secs(10), "the dead letter is parked", parked).await;
    });
}

/// A tron that starts while a request waits on the firehose routes it once
/// its bundles are loaded, not before: it is not answered 404 for a route
/// the tron serves.
#[test]
fn a_tron_that_starts_with_a_request_waiting_routes_it() {
    use funcmesh_bus::{ConsumeOptions, Message, QueueSpec};
    use funcmesh_core::envelope::{Body, RequestEnvelope, VERSION};

    let _serial = serial();
    let cluster = Cluster::new(BROKER.url);
    block_on_showing_logs(&cluster, async {
        let bus = funcmesh_bus::connect(&cluster.bus).await.unwrap();
        let policy = funcmesh_tron::policy::QueuePolicy::default();
        policy
            .declare_shared(&*bus, queues::FIREHOSE)
            .await
            .unwrap();
        let reply = queues::reply_queue("waiting-test");
        bus.declare(&QueueSpec::reply(&reply)).await.unwrap();
        let request = RequestEnvelope {
            version: VERSION.into(),
            id: "waiting-1".into(),
            method: "POST".into(),
            scheme: "http".into(),
            host: "127.0.0.1".into(),
            path: "/faults/echo".into(),
            query: String::new(),
            headers: Vec::new(),
            body: Body::Empty,
            reply_to: Some(reply.clone()),
            deadline_ms: funcmesh_bus::now_ms() + 60_000,
            trace: None,
            bundle: None,
            remote_addr: None,
            describe: None,
        };
        // Once the bus has connected (it connects in the background).
        let publish = || async {
            let message = Message::new(request.encode());
            bus.publish(queues::FIREHOSE, message).await.ok()
        };
        eventually_some(Duration::from_secs(10), "the request published", publish).await;
        cluster.start_tron("tron");

        let queue = queues::func_queue(None, "/faults");
        let options = ConsumeOptions { prefetch: 1 };
        let consume = || async { bus.consume(&queue, options).await.ok() };
        let what = format!("the Func queue {queue} appears");
        let mut func = eventually_some(Duration::from_secs(60), &what, consume).await;
        let routed = tokio::time::timeout(Duration::from_secs(30), func.next()).await;
        let routed = match routed {
            Ok(Some(Ok(delivery))) => delivery,
            other => panic!("not routed: {:?}", other.map(|o| o.map(|r| r.map(|_| ())))),
        };
        let envelope = RequestEnvelope::decode(&routed.bytes()).unwrap();
        assert_eq!(envelope.id, "waiting-1");
        routed.ack().await.unwrap();
        // And nothing was answered in its place.
        let mut replies = bus.consume(&reply, options).await.unwrap();
        let answered = tokio::time::timeout(Duration::from_secs(1), replies.next()).await;
        assert!(answered.is_err(), "answered in its place: {answered:?}");
    });
}

/// Takes the request from the Func queue `queue` of the cluster on `bus`,
/// as a runner that dies before answering (the delivery is dropped without
/// an acknowledgement), until the broker dead-letters it; how many times it
/// was delivered.
async fn crash_on_every_delivery(bus: &str, queue: &str) -> u32 {
    let bus = funcmesh_bus::connect(bus).await.unwrap();
    // The tron declares the queue once it has loaded the bundle.
    let consume = || async {
        let options = funcmesh_bus::ConsumeOptions { prefetch: 1 };
        bus.consume(queue, options).await.ok()
    };
    let what = format!("the Func queue {queue} appears");
    let mut consumer = eventually_some(Duration::from_secs(60), &what, consume).await;
    let mut deliveries = 0;
    loop {
        // The first delivery waits for the consumer to start reading (on
        // Kafka: to take its partitions, the queue's topic metadata fetched);
        // a redelivery only for the broker to give the request back.
        let wait = Duration::from_secs(if deliveries == 0 { 30 } else { 10 });
        match tokio::time::timeout(wait, consumer.next()).await {
            Ok(Some(Ok(delivery))) => {
                deliveries += 1;
                drop(delivery);
            }
            Err(_) if deliveries > 0 => return deliveries,
            other => panic!("no delivery: {:?}", other.map(|o| o.map(|r| r.map(|_| ())))),
        }
    }
}

#[test]
fn the_mesh_recovers_from_a_broker_restart_under_load() {
    let _serial = serial();
    block_on(async {
        let cluster = Cluster::new(BROKER.url);
        cluster.start_all(1).await;
        let gateway = cluster.gateway;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let served = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let served_now = || served.load(std::sync::atomic::Ordering::SeqCst);
        let mut load = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (stop, served) = (stop.clone(), served.clone());
            load.spawn(async move {
                let mut slowest = Duration::ZERO;
                let mut statuses = std::collections::BTreeMap::<u16, u32>::new();
                let mut odd = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let started = Instant::now();
                    let status = match call_at(gateway, "GET", "/hello/greet?name=load")
                        .try_send()
                        .await
                    {
                        Ok(resp) => {
                            if ![200, 503, 504].contains(&resp.status) {
                                odd.push(String::from_utf8_lossy(&resp.body).into_owned());
                            }
                            resp.status
                        }
                        Err(_) => 0,
                    };
                    slowest = slowest.max(started.elapsed());
                    *statuses.entry(status).or_default() += 1;
                    if status == 200 {
                        served.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    } else {
                        // Pacing, not a wait: a refused client does not
                        // hammer the gateway while the broker is down.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                (slowest, statuses, odd)
            });
        }
        // Under load: the clients are being answered.
        let loaded = || async { served_now() >= 100 };
        eventually(Duration::from_secs(30), "the load is answered", loaded).await;
        let stopped = BrokerStopped::now();
        // While the broker is down, requests are refused at once.
        let started = Instant::now();
        let resp = call_at(gateway, "GET", "/hello/greet?name=down")
            .send()
            .await;
        assert_eq!(resp.status, 503, "{}", String::from_utf8_lossy(&resp.body));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a request hung while the broker was down"
        );
        // The outage lasts a while: the processes retry their connections.
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop(stopped);
        let back = Instant::now();
        // How long after the broker answers again the mesh may take to
        // answer a request, measured over repeated runs on this machine:
        // RabbitMQ 0.5 to 3.8 s (`start_app` returns before its quorum
        // queues have their leaders back), tansu 0.3 to 6.8 s, counting
        // runs where a request published while the in-memory broker was
        // getting its topics back was lost with them, which its gateway
        // answers 504 only at the request's 10 s deadline. So: one deadline
        // plus 5 s. Requests refused (503) or lost (504) meanwhile are
        // tried again; the load below checks that none waited past its
        // deadline.
        //
        // Not yet on Kafka (docs/errors-and-guarantees.md, "What survives
        // what"): after tansu in memory comes back without its topics, the
        // mesh has stalled for 15 to 30 s in about one run in four before
        // serving again; there the bounds are a minute, so that the test
        // still shows it recovers and that no request waits past its
        // deadline.
        let kafka = BROKER.url == common::cluster::KAFKA;
        let bound = Duration::from_secs(if kafka { 60 } else { 15 });
        let answered = || async {
            let resp = call_at(gateway, "GET", "/hello/greet?name=back")
                .send()
                .await;
            assert!(
                [200, 503, 504].contains(&resp.status),
                "{} while recovering\n{}",
                resp.status,
                cluster.logs()
            );
            resp.status == 200
        };
        let recovered = try_eventually(bound, answered).await;
        assert!(
            recovered,
            "not recovered {bound:?} after the broker came back\n{}",
            cluster.logs()
        );
        let recovery = back.elapsed();
        // The load is answered again too.
        let again = served_now() + 100;
        let reloaded = || async { served_now() >= again };
        let reload = Duration::from_secs(if kafka { 60 } else { 30 });
        let reloaded = try_eventually(reload, reloaded).await;
        assert!(
            reloaded,
            "the load is not answered again ({} answered in all)\n{}",
            served_now(),
            cluster.logs()
        );
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut statuses = std::collections::BTreeMap::<u16, u32>::new();
        let mut odd = Vec::new();
        while let Some(joined) = load.join_next().await {
            let (slowest, seen, bodies) = joined.unwrap();
            odd.extend(bodies);
            assert!(
                slowest < Duration::from_secs(11),
                "a request waited {slowest:?}, past its 10 s deadline"
            );
            for (status, n) in seen {
                *statuses.entry(status).or_default() += n;
            }
        }
        eprintln!(
            "recovered {recovery:?} after the broker came back; statuses under load: {statuses:?}"
        );
        assert!(
            statuses.keys().all(|s| [200, 503, 504].contains(s)),
            "{statuses:?}: {odd:?}\n{}",
            cluster.logs()
        );
        for name in ["tron", "gateway", "runner1"] {
            assert!(cluster.running(name), "{name} exited\n{}", cluster.logs());
        }
    });
}

#[test]
fn processes_started_before_the_broker_connect_once_it_is_up() {
    let _serial = serial();
    block_on(async {
        let cluster = Cluster::new(BROKER.url);
        let stopped = BrokerStopped::now();
        cluster.start_tron("tron");
        cluster.start_gateway("gateway");
        cluster.start_runner("runner1");
        // Nothing may happen while the broker is down: no process exits.
        tokio::time::sleep(Duration::from_secs(2)).await;
        for name in ["tron", "gateway", "runner1"] {
            assert!(
                cluster.running(name),
                "{name} exited while the broker was down\n{}",
                cluster.logs()
            );
        }
        let resp = call_at(cluster.gateway, "GET", "/hello/greet?name=early")
            .send()
            .await;
        assert_eq!(resp.status, 503);
        drop(stopped);
        cluster.ready(1).await;
        let resp = call_at(cluster.gateway, "GET", "/hello/greet?name=Ada")
            .send()
            .await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.json()["greeting"], "Hello, Ada!");
    });
}
