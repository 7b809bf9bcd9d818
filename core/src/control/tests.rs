#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use super::*;
use crate::capture::{CaptureRules, RouteRule};
use crate::routing::{Route, RouteTable};

fn rule(route: &str, rate: f64) -> RouteRule {
    RouteRule {
        route: route.into(),
        rate,
    }
}

fn announcement() -> RoutesAnnouncement {
    RoutesAnnouncement {
        log_levels: Default::default(),
        tron: "t1".into(),
        store: Some("http://127.0.0.1:7070".into()),
        table: RouteTable::new(
            3,
            vec![Route {
                host: Some("api.example.com".into()),
                base_path: "/hello".into(),
                queue: "funcmesh.func.00".into(),
                bundle: "ab".repeat(32),
                name: "hello".into(),
                pool: "default".into(),
            }],
        ),
        capture: CaptureRules::default().with(rule("hello", 0.5)),
    }
}

fn heartbeat() -> RunnerHeartbeat {
    RunnerHeartbeat {
        runner: "r1".into(),
        host: "node-1".into(),
        pid: 42,
        pool: Some("default".into()),
        concurrency: 8,
        queues: vec!["funcmesh.func.00".into()],
        bundles: vec!["ab".repeat(32)],
        stats: StatsSnapshot {
            requests: 10,
            answered: 9,
            in_flight: 1,
            run_us_total: 1234,
            busy_us_total: 1500,
            queue_held: 3,
            failures: BTreeMap::from([("trap".to_owned(), 1)]),
            ..StatsSnapshot::default()
        },
        at_ms: 1_700_000_000_000,
    }
}

fn round_trip<T>(message: &T) -> T
where
    T: Serialize + for<'de> Deserialize<'de>,
{
    try_decode(&encode(message)).unwrap()
}

#[test]
fn a_heartbeat_without_the_newer_fields_reads_them_as_zero() {
    // As a runner from before the fields sends it, during a rolling upgrade.
    let mut older: serde_json::Value = serde_json::from_slice(&encode(&heartbeat())).unwrap();
    let stats = older["stats"].as_object_mut().unwrap();
    stats.remove("busy_us_total");
    stats.remove("queue_held");
    let beat: RunnerHeartbeat = try_decode(older.to_string().as_bytes()).unwrap();
    assert_eq!(beat.stats.busy_us_total, 0);
    assert_eq!(beat.stats.queue_held, 0);
    assert_eq!(beat.stats.run_us_total, 1234);
}

#[test]
fn every_message_round_trips() {
    assert_eq!(round_trip(&announcement()), announcement());
    assert_eq!(round_trip(&heartbeat()), heartbeat());
    let hello = Hello {
        component: "runner".into(),
        id: "abc".into(),
    };
    assert_eq!(round_trip(&hello), hello);
    let claim = ScalerClaim {
        tron: "t1".into(),
        since_ms: 1_700_000_000_000,
    };
    assert_eq!(round_trip(&claim), claim);
    for change in [
        CaptureChange::On {
            rule: rule("hello", 0.25),
        },
        CaptureChange::Off {
            route: Some("hello".into()),
        },
        CaptureChange::Off { route: None },
    ] {
        assert_eq!(round_trip(&change), change);
    }
}

#[test]
fn every_message_carries_its_version() {
    let value: serde_json::Value = serde_json::from_slice(&encode(&heartbeat())).unwrap();
    assert_eq!(value["v"], VERSION);
    let on = encode(&CaptureChange::On {
        rule: rule("hello", 0.5),
    });
    assert_eq!(
        on, r#"{"v":1,"action":"on","rule":{"route":"hello","rate":0.5}}"#,
        "plain JSON that an operator can read and write"
    );
}

#[test]
fn a_message_from_a_newer_version_is_refused_and_an_unstamped_one_read_as_v1() {
    let mut value: serde_json::Value = serde_json::from_slice(&encode(&announcement())).unwrap();
    value["v"] = (VERSION + 1).into();
    let newer = serde_json::to_vec(&value).unwrap();
    assert!(matches!(
        try_decode::<RoutesAnnouncement>(&newer),
        Err(DecodeError::Newer { found }) if found == VERSION + 1
    ));
    assert!(decode::<RoutesAnnouncement>(ROUTES_TOPIC, &newer).is_none());

    value.as_object_mut().unwrap().remove("v");
    let unstamped = serde_json::to_vec(&value).unwrap();
    assert_eq!(
        try_decode::<RoutesAnnouncement>(&unstamped).unwrap(),
        announcement()
    );
}

#[test]
fn fields_added_later_are_ignored_and_missing_defaults_filled_in() {
    let mut value: serde_json::Value = serde_json::from_slice(&encode(&announcement())).unwrap();
    value["a_field_from_the_future"] = true.into();
    value.as_object_mut().unwrap().remove("capture");
    let body = serde_json::to_vec(&value).unwrap();
    let read: RoutesAnnouncement = try_decode(&body).unwrap();
    assert_eq!(read.table, announcement().table);
    assert_eq!(read.capture, CaptureRules::default());
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for body in [
        &b""[..],
        b"null",
        b"[1,2]",
        b"{\"v\":\"one\"}",
        b"{\"v\":1}",
    ] {
        assert!(
            try_decode::<RoutesAnnouncement>(body).is_err(),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    assert!(try_decode::<CaptureChange>(br#"{"v":1,"action":"explode"}"#).is_err());
}

#[test]
fn changes_apply_to_the_rules() {
    let rules = CaptureChange::On {
        rule: rule("a", 1.0),
    }
    .apply(CaptureRules::default());
    let rules = CaptureChange::On {
        rule: rule("b", 0.5),
    }
    .apply(rules);
    let rules = CaptureChange::On {
        rule: rule("a", 0.1),
    }
    .apply(rules);
    assert_eq!(rules.routes, [rule("b", 0.5), rule("a", 0.1)]);
    assert!(
        CaptureChange::On {
            rule: rule("a", 0.1)
        }
        .shows_in(&rules)
    );
    assert!(
        !CaptureChange::On {
            rule: rule("a", 1.0)
        }
        .shows_in(&rules)
    );
    let rules = CaptureChange::Off {
        route: Some("b".into()),
    }
    .apply(rules);
    assert_eq!(rules.routes, [rule("a", 0.1)]);
    assert!(
        CaptureChange::Off { route: None }
            .apply(rules)
            .routes
            .is_empty()
    );
}

#[test]
fn process_ids_are_short_and_distinct() {
    let (a, b) = (new_id(), new_id());
    assert_eq!(a.len(), 12);
    assert_ne!(a, b);
}
