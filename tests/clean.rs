//! `funcmesh clean` on each broker: what a namespace holds is listed, kept
//! while a process still reads it or nobody confirmed, then removed; a
//! namespace nested in it, and another one, keep theirs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use bytes::Bytes;
use common::cluster::{KAFKA, NATS, RABBITMQ};
use funcmesh_bus::namespace::{self, Held, HeldKind};
use funcmesh_bus::{Bus, ConsumeOptions, Message, QueueSpec};

fn clean(bus: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_funcmesh"))
        .env("NO_COLOR", "1")
        .env_remove("FUNCMESH_BUS")
        .args(["clean", "--bus", bus])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("starting funcmesh clean")
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Whether the broker of `base` answers: when it does not, the test is
/// skipped, or fails when brokers are required.
fn broker_answers(base: &str) -> bool {
    let authority = base.split_once("://").map_or(base, |(_, rest)| rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, at)| at);
    let addr = authority.split(['/', '?']).next().unwrap_or(authority);
    let up = std::net::TcpStream::connect(addr).is_ok();
    if !up {
        assert!(
            !funcmesh_testkit::brokers_required(),
            "no broker answers on {addr} and FUNCMESH_REQUIRE_BROKERS is set \
             (./scripts/test starts RabbitMQ, NATS and Kafka)"
        );
        eprintln!("SKIPPED: no broker answers on {addr}");
    }
    up
}

fn fresh_namespace() -> String {
    let id = uuid::Uuid::now_v7().simple().to_string();
    format!("c{}", &id[id.len() - 12..])
}

fn with_namespace(base: &str, namespace: &str) -> String {
    let glue = if base.contains('?') { '&' } else { '?' };
    format!("{base}{glue}namespace={namespace}")
}

async fn held(url: &str) -> Vec<Held> {
    namespace::open(url, &namespace::Options::default())
        .await
        .unwrap()
        .held()
        .await
        .unwrap()
}

/// Waits until nothing of `url`'s namespace is read any more: its mesh's
/// connections are gone.
async fn readers_gone(url: &str) {
    let what = format!("no readers left in {url}");
    funcmesh_testkit::eventually(Duration::from_secs(30), &what, || async {
        held(url)
            .await
            .iter()
            .all(|item| item.readers.is_none_or(|n| n == 0))
    })
    .await;
}

/// A mesh's traffic in a namespace: a work queue holding one message, a
/// reply queue, and a broadcast.
async fn traffic(url: &str) -> std::sync::Arc<dyn Bus> {
    let bus = funcmesh_bus::connect(url).await.unwrap();
    bus.declare(&QueueSpec::work("orders")).await.unwrap();
    bus.declare(&QueueSpec::reply("reply.gw1")).await.unwrap();
    funcmesh_testkit::eventually(Duration::from_secs(20), "publishing", || async {
        bus.publish("orders", Message::new("kept")).await.is_ok()
    })
    .await;
    let _ = bus.broadcast("routes", Bytes::from_static(b"{}")).await;
    bus
}

/// The whole story on one broker: `work` is what the work queue is there;
/// `readers_seen` says whether the broker tells who reads it. A namespace
/// nested in the one cleaned (`NAME.eu`, where the broker's namespaces may
/// hold a `.`) and another one keep theirs.
async fn cleans(base: &str, work: HeldKind, readers_seen: bool, dotted: bool) {
    let ns = fresh_namespace();
    let url = with_namespace(base, &ns);
    let nested = with_namespace(base, &format!("{ns}{}eu", if dotted { '.' } else { '-' }));
    let other = with_namespace(base, &fresh_namespace());
    let bus = traffic(&url).await;
    let nested_bus = traffic(&nested).await;
    let other_bus = traffic(&other).await;

    // Listed, with the message the queue holds; nothing removed.
    let queue = funcmesh_testkit::eventually_some(
        Duration::from_secs(20),
        "the work queue listed with its message",
        || async {
            held(&url)
                .await
                .into_iter()
                .find(|item| item.kind == work && item.name.contains("orders"))
                .filter(|item| item.messages.is_none_or(|n| n == 1))
        },
    )
    .await;
    let listed = clean(&url, &["--dry-run"]);
    let (stdout, stderr) = text(&listed);
    assert!(listed.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("namespace {ns} holds:")),
        "{stdout}"
    );
    assert!(stdout.contains(&queue.name), "{stdout}");
    assert!(!stdout.contains(&format!("{ns}.eu.")), "{stdout}");
    assert!(!stdout.contains(&format!("{ns}-eu.")), "{stdout}");
    assert!(stdout.contains("dry run: nothing removed"), "{stdout}");

    // A runner takes the message: on Kafka its group's offset is committed.
    let mut consumer = bus
        .consume("orders", ConsumeOptions::default())
        .await
        .unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(30), consumer.next())
        .await
        .expect("the message delivered")
        .unwrap()
        .unwrap();
    delivery.ack().await.unwrap();
    if work == HeldKind::Topic {
        // The committed offsets of the queue's group are the namespace's
        // too (a queue made again would otherwise start from them). They
        // are committed shortly after the ack, while the consumer runs.
        let group = format!("{ns}.q.orders");
        funcmesh_testkit::eventually(Duration::from_secs(30), "the group listed", || async {
            held(&url)
                .await
                .iter()
                .any(|item| item.kind == HeldKind::Group && item.name == group)
        })
        .await;
    }
    // A process still reading the queue keeps it, unless forced.
    if readers_seen {
        funcmesh_testkit::eventually(Duration::from_secs(20), "the reader seen", || async {
            held(&url)
                .await
                .iter()
                .any(|item| item.name == queue.name && item.readers.is_some_and(|n| n > 0))
        })
        .await;
        let refused = clean(&url, &["--yes"]);
        let (stdout, stderr) = text(&refused);
        assert_eq!(refused.status.code(), Some(1), "{stdout}{stderr}");
        assert!(
            stderr.contains("still read by running processes"),
            "{stderr}"
        );
        assert!(stderr.contains(&queue.name), "{stderr}");
    }
    drop(consumer);
    // The mesh stops: its connection goes, and with it what only it held
    // (a RabbitMQ reply queue).
    drop(bus);
    if readers_seen {
        readers_gone(&url).await;
    }

    // Without a terminal to ask on, only --yes removes.
    let unasked = clean(&url, &[]);
    let (stdout, stderr) = text(&unasked);
    assert_eq!(unasked.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("pass --yes"), "{stderr}");
    assert!(!held(&url).await.is_empty());

    let removed = clean(&url, &["--yes"]);
    let (stdout, stderr) = text(&removed);
    assert!(removed.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("removed {work} {}", queue.name)),
        "{stdout}"
    );
    if work == HeldKind::Topic {
        assert!(
            stdout.contains(&format!("removed consumer group {ns}.q.orders")),
            "{stdout}"
        );
    }
    funcmesh_testkit::eventually(Duration::from_secs(20), "the namespace empty", || async {
        held(&url).await.is_empty()
    })
    .await;
    let again = clean(&url, &["--yes"]);
    let (stdout, stderr) = text(&again);
    assert!(again.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("nothing to remove"), "{stdout}");

    // The nested and the other namespace keep their queues, and are
    // cleaned in turn.
    for (url, bus) in [(nested, nested_bus), (other, other_bus)] {
        let kept = held(&url).await;
        assert!(
            kept.iter()
                .any(|item| item.kind == work && item.name.contains("orders")),
            "{url}: {kept:?}"
        );
        drop(bus);
        readers_gone(&url).await;
        let removed = clean(&url, &["--yes"]);
        assert!(removed.status.success(), "{:?}", text(&removed));
        assert!(held(&url).await.is_empty(), "{url}");
    }
}

#[test]
fn rabbitmq_queues_and_exchanges_are_listed_and_removed() {
    if !broker_answers(RABBITMQ) {
        return;
    }
    common::block_on(cleans(RABBITMQ, HeldKind::Queue, true, true));
}

#[test]
fn nats_streams_are_listed_and_removed() {
    if !broker_answers(NATS) {
        return;
    }
    common::block_on(cleans(NATS, HeldKind::Stream, true, true));
}

#[test]
fn kafka_topics_and_groups_are_listed_and_removed() {
    if !broker_answers(KAFKA) {
        return;
    }
    common::block_on(cleans(KAFKA, HeldKind::Topic, false, false));
}

#[test]
fn a_url_without_a_namespace_or_on_the_embedded_bus_is_refused() {
    for (bus, says) in [
        ("nats://127.0.0.1:4222", "names no namespace"),
        (
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            "names no namespace",
        ),
        ("kafka://127.0.0.1:9092", "names no namespace"),
        ("inproc://", "keeps nothing once its process ends"),
    ] {
        let refused = clean(bus, &["--yes"]);
        let (stdout, stderr) = text(&refused);
        assert_eq!(refused.status.code(), Some(1), "{bus}: {stdout}{stderr}");
        assert!(stderr.contains(says), "{bus}: {stderr}");
    }
}

#[test]
fn rabbitmq_without_its_management_api_says_how_to_turn_it_on() {
    if !broker_answers(RABBITMQ) {
        return;
    }
    let closed = funcmesh_testkit::free_port();
    let url = with_namespace(RABBITMQ, &fresh_namespace());
    let refused = clean(&url, &["--management", &format!("http://{closed}")]);
    let (stdout, stderr) = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("rabbitmq-plugins enable rabbitmq_management"),
        "{stderr}"
    );
}
