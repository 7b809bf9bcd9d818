#![allow(clippy::unwrap_used)]

use super::*;

fn key(k: &str) -> Step {
    Step::Key(k.to_owned())
}

fn hit(path: &str, steps: &[Step]) -> bool {
    JsonPath::parse(path).unwrap().matches(steps)
}

#[test]
fn the_root_names_the_whole_body_only() {
    assert!(hit("$", &[]));
    assert!(JsonPath::parse("$").unwrap().is_root());
    assert!(!hit("$", &[key("a")]));
}

#[test]
fn dotted_and_bracketed_keys_name_the_same_member() {
    let at = [key("timestamp")];
    assert!(hit("$.timestamp", &at));
    assert!(hit("$['timestamp']", &at));
    assert!(hit("$[\"timestamp\"]", &at));
    assert!(hit(".timestamp", &at), "the `$` may be left out");
    assert!(!hit("$.time", &at));
    assert!(hit("$['odd key.with dots']", &[key("odd key.with dots")]));
    assert!(hit(r"$['it\'s']", &[key("it's")]));
}

#[test]
fn indexes_and_wildcards_select_elements_and_members() {
    let second_id = [key("items"), Step::Index(1), key("id")];
    assert!(hit("$.items[1].id", &second_id));
    assert!(!hit("$.items[0].id", &second_id));
    assert!(hit("$.items[*].id", &second_id));
    assert!(hit("$.*[1].id", &second_id));
    assert!(hit("$.items.*.id", &second_id), "`.*` takes elements too");
    assert!(
        !hit("$.items[*]", &second_id),
        "the path names the element, not its id"
    );
}

#[test]
fn recursive_descent_finds_a_key_at_any_depth() {
    assert!(hit("$..updated_at", &[key("updated_at")]));
    assert!(hit(
        "$..updated_at",
        &[key("a"), Step::Index(3), key("updated_at")]
    ));
    assert!(!hit("$..updated_at", &[key("updated_at"), key("x")]));
    assert!(hit("$..meta.etag", &[key("x"), key("meta"), key("etag")]));
    assert!(hit("$..[0]", &[key("x"), Step::Index(0)]));
    assert!(hit("$.a..*", &[key("a"), key("b"), key("c")]));
}

#[test]
fn unreadable_paths_are_refused_with_the_path_named() {
    for bad in ["$.", "$[", "$[x]", "$['open", "$.a]b", "timestamp"] {
        let error = JsonPath::parse(bad).unwrap_err().to_string();
        assert!(error.contains(&format!("{bad:?}")), "{bad}: {error}");
    }
}

#[test]
fn places_display_as_paths_that_parse_back() {
    let steps = [
        key("items"),
        Step::Index(2),
        key("odd key"),
        key("it's"),
        key("ok_1"),
    ];
    let shown = display(&steps);
    assert_eq!(shown, r"$.items[2]['odd key']['it\'s'].ok_1");
    assert!(hit(&shown, &steps));
}
