//! Broadcast and listen: fan-out to whoever listens now, nothing kept.

use std::time::Duration;

use bytes::Bytes;

use super::{Backend, Run};
use crate::common::{self, assert_quiet};

pub async fn broadcasts_reach_every_listener_of_their_topic_only<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let bus = &run.bus;
    // Before anyone listens: dropped, not an error, and not kept.
    bus.broadcast("routes", Bytes::from("before"))
        .await
        .unwrap();
    let mut one = bus.listen("routes").await.unwrap();
    let mut two = bus.listen("routes").await.unwrap();
    let mut other = bus.listen("heartbeats").await.unwrap();
    bus.broadcast("routes", Bytes::from("table v2"))
        .await
        .unwrap();
    for listener in [&mut one, &mut two] {
        let d = run.next(listener).await;
        assert_eq!(
            d.bytes(),
            "table v2",
            "a listener sees only later broadcasts"
        );
        assert_eq!(d.attempt, 1);
        d.ack().await.unwrap();
    }
    assert_quiet(&mut other, Duration::from_millis(300)).await;
    bus.broadcast("heartbeats", Bytes::from("runner 1"))
        .await
        .unwrap();
    assert_eq!(run.next(&mut other).await.bytes(), "runner 1");
    assert_quiet(&mut one, Duration::from_millis(200)).await;
    // Another bus in the same namespace hears it; one in another does not.
    let same = run.other().await;
    let elsewhere_ns = common::namespace();
    let elsewhere = common::connected(&Run::<B>::url_in(&elsewhere_ns)).await;
    let mut theirs = elsewhere.listen("routes").await.unwrap();
    same.broadcast("routes", Bytes::from("v3")).await.unwrap();
    assert_eq!(run.next(&mut one).await.bytes(), "v3");
    assert_eq!(run.next(&mut two).await.bytes(), "v3");
    assert_quiet(&mut theirs, Duration::from_millis(300)).await;
    drop((theirs, elsewhere));
    B::cleanup(&elsewhere_ns).await;
    run.finish().await;
}
