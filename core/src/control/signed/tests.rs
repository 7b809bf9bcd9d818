#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use funcmesh_bus::inproc::InProcBus;

use super::*;

fn token(fill: char) -> MeshToken {
    MeshToken::new(&fill.to_string().repeat(40)).unwrap()
}

/// What the listener passes on within a short wait, `None` if nothing.
async fn received(listener: &mut Consumer) -> Option<Bytes> {
    match tokio::time::timeout(Duration::from_millis(300), listener.next()).await {
        Ok(Some(Ok(delivery))) => Some(delivery.bytes()),
        _ => None,
    }
}

#[tokio::test]
async fn a_signed_broadcast_arrives_as_it_was_sent() {
    let raw: Arc<dyn Bus> = Arc::new(InProcBus::new());
    let bus = SignedBus::wrap(Arc::clone(&raw), token('a'));
    let mut listener = bus.listen("routes").await.unwrap();
    bus.broadcast("routes", Bytes::from_static(b"{\"v\":1}"))
        .await
        .unwrap();
    assert_eq!(received(&mut listener).await.unwrap(), &b"{\"v\":1}"[..]);
}

#[tokio::test]
async fn forged_messages_are_dropped_and_counted() {
    let raw: Arc<dyn Bus> = Arc::new(InProcBus::new());
    let bus = Arc::new(SignedBus {
        inner: Arc::clone(&raw),
        token: token('a'),
        rejected: Arc::new(AtomicU64::new(0)),
    });
    let mut listener = bus.listen("routes").await.unwrap();
    let now = now_ms();
    let forgeries = [
        // Unsigned, as a process without the token sends.
        Bytes::from_static(b"{\"v\":1,\"tron\":\"evil\"}"),
        // Signed under another token.
        sign(&token('b'), "routes", now, b"{}"),
        // Signed for another topic.
        sign(&token('a'), "runner-stats", now, b"{}"),
        // Too old.
        sign(&token('a'), "routes", now - 120_000, b"{}"),
        // Altered after signing.
        {
            let mut bytes = sign(&token('a'), "routes", now, b"{}").to_vec();
            bytes[1] = b']';
            Bytes::from(bytes)
        },
        // Too short to hold a trailer, ending in the marker.
        Bytes::from_static(MARKER),
    ];
    for forged in forgeries {
        raw.broadcast("routes", forged).await.unwrap();
    }
    assert_eq!(received(&mut listener).await, None);
    assert_eq!(bus.rejected.load(Ordering::Relaxed), 6);

    // The genuine article still passes, once.
    let genuine = sign(&token('a'), "routes", now, b"{\"ok\":true}");
    raw.broadcast("routes", genuine.clone()).await.unwrap();
    assert_eq!(
        received(&mut listener).await.unwrap(),
        &b"{\"ok\":true}"[..]
    );
    raw.broadcast("routes", genuine).await.unwrap();
    assert_eq!(received(&mut listener).await, None, "a replay was taken");
    assert_eq!(bus.rejected.load(Ordering::Relaxed), 7);
}

#[test]
fn open_says_why() {
    let key = token('a');
    let now = 1_000_000_000;
    assert_eq!(open(&key, "t", b"{}", now), Err(Refused::Unsigned));
    let signed = sign(&key, "t", now + 61_000, b"{}");
    assert_eq!(open(&key, "t", &signed, now), Err(Refused::Stale(61_000)));
    let signed = sign(&key, "t", now - 59_000, b"{}");
    let (message, sent, _) = open(&key, "t", &signed, now).unwrap();
    assert_eq!((message, sent), (&b"{}"[..], now - 59_000));
    assert_eq!(
        open(&token('c'), "t", &signed, now),
        Err(Refused::BadSignature)
    );
}
