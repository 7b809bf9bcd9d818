//! A bus that talks to a broker: connecting in the background, a broker
//! that is down, a connection that is lost and comes back.

use std::time::{Duration, Instant};

use bytes::Bytes;
use funcmesh_bus::{ConsumeOptions, Consumer, Error, Message, QueueSpec};

use super::{Backend, Run};
use crate::common::logs::LogCapture;
use crate::common::{self, assert_quiet};

/// Port 1 on localhost: nothing listens there.
const NOWHERE: &str = "127.0.0.1:1";

pub async fn a_consumer_started_before_the_connection_starts_with_it<B: Backend>() {
    if !Run::<B>::available() {
        return;
    }
    let ns = common::namespace();
    let bus = funcmesh_bus::connect(&Run::<B>::url_in(&ns)).await.unwrap();
    // Straight away, before the background connection is up.
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let mut routes = bus.listen("routes").await.unwrap();
    common::wait_connected(&bus).await;
    bus.publish("q", Message::new("hello")).await.unwrap();
    let d = common::next_within(&mut c, B::SHAPE.wait).await;
    assert_eq!(d.bytes(), "hello");
    d.ack().await.unwrap();
    bus.broadcast("routes", Bytes::from("v1")).await.unwrap();
    assert_eq!(
        common::next_within(&mut routes, B::SHAPE.wait)
            .await
            .bytes(),
        "v1"
    );
    drop(bus);
    B::cleanup(&ns).await;
}

pub async fn a_broker_that_is_down_does_not_fail_connect_but_publish_fails_fast<B: Backend>() {
    let started = Instant::now();
    let bus = funcmesh_bus::connect(&B::url(NOWHERE, "down"))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    let mut consumer = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let _listener = bus.listen("routes").await.unwrap();
    for _ in 0..3 {
        let start = Instant::now();
        let err = bus.publish("q", Message::new("x")).await.unwrap_err();
        assert!(matches!(err, Error::Unavailable(_)), "{err}");
        assert!(start.elapsed() < Duration::from_millis(100));
        assert!(err.to_string().contains(NOWHERE), "{err}");
        let err = bus.broadcast("t", Bytes::from("x")).await.unwrap_err();
        assert!(matches!(err, Error::Unavailable(_)), "{err}");
        let err = bus.depth("q").await.unwrap_err();
        assert!(matches!(err, Error::Unavailable(_)), "{err}");
        // The test is about time: the answers stay fast while the bus
        // keeps trying to connect.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A consumer started meanwhile waits for the broker.
    assert_quiet(&mut consumer, Duration::from_millis(200)).await;
}

pub async fn everything_comes_back_after_the_connection_is_lost<B: Backend>() {
    let Some(run) = Run::<B>::through_proxy().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("jobs")).await.unwrap();
    bus.declare(&QueueSpec::reply("reply.gw")).await.unwrap();
    let mut jobs = bus
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    let mut replies = bus
        .consume("reply.gw", ConsumeOptions::default())
        .await
        .unwrap();
    let mut routes = bus.listen("routes").await.unwrap();

    assert_eq!(run.cut().await, 1, "one connection per bus");
    // Meanwhile publishing answers at once: Unavailable, or Ok once the
    // bus has reconnected.
    let cut_at = Instant::now();
    let mut saw_unavailable = false;
    loop {
        let start = Instant::now();
        let result = bus.publish("jobs", Message::new("after")).await;
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "publish hung while reconnecting"
        );
        match result {
            Ok(()) => break,
            Err(Error::Unavailable(_)) => saw_unavailable = true,
            Err(other) => panic!("unexpected {other}"),
        }
        assert!(
            cut_at.elapsed() < Duration::from_secs(5),
            "not back within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "back after {:?} (saw Unavailable: {saw_unavailable})",
        cut_at.elapsed()
    );

    // The consumer that existed before the loss keeps receiving.
    let d = run.next(&mut jobs).await;
    assert_eq!(d.bytes(), "after");
    d.ack().await.unwrap();
    // The reply queue is back under the same name (on NATS its
    // subscription comes back a moment after the connection).
    funcmesh_testkit::eventually(
        Duration::from_secs(5),
        "the reply queue is back",
        || async {
            match bus.publish("reply.gw", Message::new("reply")).await {
                Ok(()) => true,
                Err(Error::UnknownQueue(_)) => false,
                Err(other) => panic!("unexpected {other}"),
            }
        },
    )
    .await;
    assert_eq!(run.next(&mut replies).await.bytes(), "reply");
    heard_again(&*run.bus, &mut routes).await;
    run.finish().await;
}

/// Broadcasts until the listener hears one: it is bound again.
async fn heard_again(bus: &dyn funcmesh_bus::Bus, routes: &mut Consumer) {
    let start = Instant::now();
    loop {
        bus.broadcast("routes", Bytes::from("v3")).await.unwrap();
        if let Ok(d) = tokio::time::timeout(Duration::from_millis(200), routes.next()).await {
            assert_eq!(d.unwrap().unwrap().bytes(), "v3");
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "listener not back within 5 s"
        );
    }
}

/// One WARN per outage, however many attempts fail; an INFO on recovery.
/// Runs on a current-thread runtime, where the bus's tasks log to this
/// thread's default subscriber.
pub async fn an_outage_is_logged_once_and_the_recovery_too<B: Backend>() {
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.clone());
    let down = funcmesh_bus::connect(&B::url(NOWHERE, "down"))
        .await
        .unwrap();
    // The test is about time: 100 ms doubling makes about six attempts in
    // a second and a half.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let warns = logs.at(tracing::Level::WARN);
    assert_eq!(warns.len(), 1, "{warns:?}");
    assert!(warns[0].contains("cannot reach"), "{warns:?}");
    drop(down);

    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.clone());
    let Some(run) = Run::<B>::through_proxy().await else {
        return;
    };
    // The broker looks down for a while: several attempts fail.
    let proxy = run.proxy.as_ref().unwrap();
    proxy.refuse(true);
    assert_eq!(run.cut().await, 1);
    tokio::time::sleep(Duration::from_millis(800)).await;
    proxy.refuse(false);
    common::wait_connected(&run.bus).await;
    let warns = logs.at(tracing::Level::WARN);
    let infos = logs.at(tracing::Level::INFO);
    assert_eq!(warns.len(), 1, "{warns:?}");
    assert!(warns[0].contains("lost"), "{warns:?}");
    assert_eq!(infos.len(), 2, "connected, then recovered: {infos:?}");
    assert!(infos[1].contains("recovered"), "{infos:?}");
    run.finish().await;
}
