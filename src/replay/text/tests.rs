use serde_json::json;

use super::*;
use crate::replay::compare::StatusChange;
use crate::replay::diff::{BinaryDiff, TextDiff};
use crate::replay::headers::HeaderChange;
use crate::replay::json::JsonChange;
use crate::replay::report::{DifferentAnswer, Failure, Latencies, Summary};

fn at(line: usize, id: Option<&str>) -> Origin {
    Origin {
        file: "caps/words.jsonl".into(),
        line,
        request_id: id.map(str::to_owned),
        method: id.map(|_| "GET".to_owned()),
        path: id.map(|_| "/words/ox?count=2".to_owned()),
    }
}

fn report() -> Report {
    let json_diff = Difference {
        status: Some(StatusChange {
            captured: 200,
            replayed: 500,
        }),
        headers: vec![HeaderChange {
            name: "content-type".into(),
            captured: vec!["application/json".into()],
            replayed: vec!["text/plain".into()],
        }],
        body: Some(BodyDiff::Json {
            changes: vec![
                JsonChange {
                    path: "$.plural".into(),
                    kind: ChangeKind::Changed {
                        captured: json!("oxen"),
                        replayed: json!("oxes"),
                    },
                },
                JsonChange {
                    path: "$.phrase".into(),
                    kind: ChangeKind::Missing {
                        captured: json!("2 oxen"),
                    },
                },
                JsonChange {
                    path: "$.extra".into(),
                    kind: ChangeKind::Added { replayed: json!(3) },
                },
            ],
        }),
    };
    let text_diff = Difference {
        body: Some(BodyDiff::Text(TextDiff {
            lines: vec!["- oxen".into(), "+ oxes".into()],
            more: 0,
        })),
        ..Difference::default()
    };
    let binary_diff = Difference {
        body: Some(BodyDiff::Binary(BinaryDiff {
            captured_len: 120,
            replayed_len: 118,
            first_difference: 17,
        })),
        ..Difference::default()
    };
    Report {
        target: "http://127.0.0.1:8080".into(),
        summary: Summary {
            total: 6,
            same: 1,
            different: 3,
            errors: 1,
            unverified: 1,
            elapsed_ms: 250,
            throughput_rps: 20.0,
            latency: Latencies {
                replayed: Percentiles::of(vec![1_000, 2_000, 4_500]),
                captured: Percentiles::of(vec![1_200]),
            },
        },
        differences: [json_diff, text_diff, binary_diff]
            .into_iter()
            .enumerate()
            .map(|(i, difference)| DifferentAnswer {
                origin: at(i + 1, Some(&format!("r{}", i + 1))),
                difference,
            })
            .collect(),
        errors: vec![Failure {
            origin: at(7, None),
            message: "not a capture record: expected value".into(),
        }],
    }
}

#[test]
fn every_kind_of_difference_reads_as_documented() {
    let text = render(&report());
    let expected = r#"DIFFERENT r1 GET /words/ox?count=2 (caps/words.jsonl:1)
  status: 200 -> 500
  - content-type: application/json
  + content-type: text/plain
  $.plural: "oxen" -> "oxes"
  $.phrase: missing (was "2 oxen")
  $.extra: added (3)
DIFFERENT r2 GET /words/ox?count=2 (caps/words.jsonl:2)
  body:
    - oxen
    + oxes
DIFFERENT r3 GET /words/ox?count=2 (caps/words.jsonl:3)
  body: 120 bytes -> 118 bytes, first difference at byte 17
ERROR (caps/words.jsonl:7)
  not a capture record: expected value
replayed 6 request(s) against http://127.0.0.1:8080: 1 same, 3 different, 1 error(s), 1 unverified
throughput 20.0 req/s over 0.25 s; latency p50 2.0 ms, p99 4.5 ms (captured p50 1.2 ms, p99 1.2 ms)
"#;
    assert_eq!(text, expected);
}

#[test]
fn long_values_are_cut() {
    let long = json!("x".repeat(500));
    let shown = value(&long);
    assert_eq!(shown.chars().count(), MAX_VALUE + 3);
    assert!(shown.ends_with("..."));
}
