#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;

fn paths(ignore: &[&str]) -> Vec<JsonPath> {
    ignore.iter().map(|p| JsonPath::parse(p).unwrap()).collect()
}

fn shown(changes: &[JsonChange]) -> Vec<String> {
    changes
        .iter()
        .map(|c| match &c.kind {
            ChangeKind::Changed { captured, replayed } => {
                format!("{}: {captured} -> {replayed}", c.path)
            }
            ChangeKind::Missing { captured } => format!("{}: missing {captured}", c.path),
            ChangeKind::Added { replayed } => format!("{}: added {replayed}", c.path),
        })
        .collect()
}

#[test]
fn reordered_keys_and_equal_numbers_are_the_same() {
    let captured: Value =
        serde_json::from_str(r#"{"a":1,"b":{"x":[1,2],"y":"s"},"n":2.0}"#).unwrap();
    let replayed: Value =
        serde_json::from_str(r#"{"n":2,"b":{"y":"s","x":[1,2.0]},"a":1.0}"#).unwrap();
    assert_eq!(diff(&captured, &replayed, &[]), vec![]);
}

#[test]
fn a_changed_value_is_named_by_its_path() {
    let changes = diff(
        &json!({"word": "ox", "plural": "oxen", "n": 1}),
        &json!({"word": "ox", "plural": "oxes", "n": 1.5}),
        &[],
    );
    assert_eq!(
        shown(&changes),
        [r#"$.n: 1 -> 1.5"#, r#"$.plural: "oxen" -> "oxes""#]
    );
}

#[test]
fn missing_and_added_members_are_told_apart() {
    let changes = diff(
        &json!({"a": 1, "gone": [1]}),
        &json!({"a": 1, "new": {"x": null}}),
        &[],
    );
    assert_eq!(
        shown(&changes),
        ["$.gone: missing [1]", r#"$.new: added {"x":null}"#]
    );
}

#[test]
fn a_shorter_or_longer_array_names_each_element() {
    let changes = diff(&json!({"items": [1, 2, 3]}), &json!({"items": [1, 2]}), &[]);
    assert_eq!(shown(&changes), ["$.items[2]: missing 3"]);
    let changes = diff(&json!([1]), &json!([1, {"id": 2}]), &[]);
    assert_eq!(shown(&changes), [r#"$[1]: added {"id":2}"#]);
}

#[test]
fn a_changed_type_is_one_change() {
    let changes = diff(&json!({"a": {"b": 1}}), &json!({"a": [1]}), &[]);
    assert_eq!(shown(&changes), [r#"$.a: {"b":1} -> [1]"#]);
    assert_eq!(
        shown(&diff(&json!("1"), &json!(1), &[])),
        [r#"$: "1" -> 1"#]
    );
}

#[test]
fn each_ignore_path_form_hides_what_it_names_and_nothing_else() {
    let captured = json!({
        "timestamp": 1, "odd key": 1,
        "items": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
        "meta": {"updated_at": 1, "deep": {"updated_at": 1}},
    });
    let replayed = json!({
        "timestamp": 2, "odd key": 2,
        "items": [{"id": 9, "name": "a"}, {"id": 8, "name": "B"}],
        "meta": {"updated_at": 2, "deep": {"updated_at": 2}},
    });
    let all = diff(&captured, &replayed, &[]).len();
    assert_eq!(all, 7);
    let cases: [(&[&str], usize); 8] = [
        (&["$"], 0),
        (&["$.timestamp"], all - 1),
        (&["$['odd key']"], all - 1),
        (&["$.items[0].id"], all - 1),
        (&["$.items[*].id"], all - 2),
        (&["$.items.*"], all - 3),
        (&["$..updated_at"], all - 2),
        (&["$.timestamp", "$['odd key']", "$.items", "$.meta"], 0),
    ];
    for (ignore, left) in cases {
        let changes = diff(&captured, &replayed, &paths(ignore));
        assert_eq!(changes.len(), left, "{ignore:?}: {:?}", shown(&changes));
    }
    let left = diff(
        &captured,
        &replayed,
        &paths(&["$..updated_at", "$.items[*].id"]),
    );
    assert_eq!(
        shown(&left),
        [
            r#"$.items[1].name: "b" -> "B""#,
            "$['odd key']: 1 -> 2",
            "$.timestamp: 1 -> 2"
        ]
    );
}

#[test]
fn ignored_places_may_be_missing_or_added() {
    let changes = diff(
        &json!({"a": 1, "etag": "x"}),
        &json!({"a": 1, "id": 3}),
        &paths(&["$.etag", "$.id"]),
    );
    assert_eq!(changes, vec![]);
}
