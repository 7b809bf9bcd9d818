use std::path::Path;

use super::*;
use crate::test_support::bundle;

#[test]
fn install_publishes_a_new_table() {
    let reg = Registry::new();
    let rx = reg.subscribe();
    reg.install(bundle("a", None, "/a", "h1")).unwrap();
    let table = rx.borrow().clone();
    assert_eq!(table.generation, 1);
    assert_eq!(table.lookup("x", "/a/b").unwrap().bundle, "h1");
}

#[test]
fn a_new_version_replaces_the_old_one() {
    let reg = Registry::new();
    reg.install(bundle("a", None, "/a", "h1")).unwrap();
    let old = reg.install(bundle("a", None, "/a", "h2")).unwrap().unwrap();
    assert_eq!(old.hash, "h1");
    let table = reg.table();
    assert_eq!(table.routes.len(), 1);
    assert_eq!(table.lookup("x", "/a").unwrap().bundle, "h2");
}

#[test]
fn two_bundles_on_one_route_conflict() {
    let reg = Registry::new();
    reg.install(bundle("a", Some("h.com"), "/a", "h1")).unwrap();
    let err = reg
        .install(bundle("b", Some("H.com"), "/a", "h2"))
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("b claims host H.com and basePath \"/a\", already served by a"),
        "{msg}"
    );
    assert_eq!(
        reg.table().lookup("h.com", "/a").unwrap().bundle,
        "h1",
        "the first keeps serving"
    );
    reg.install(bundle("c", Some("other.com"), "/a", "h3"))
        .unwrap();
}

#[test]
fn remove_stops_routing() {
    let reg = Registry::new();
    reg.install(bundle("a", None, "/a", "h1")).unwrap();
    assert!(reg.remove(Path::new("a")).is_some());
    assert!(reg.table().lookup("x", "/a").is_none());
    assert!(reg.remove(Path::new("a")).is_none());
    assert_eq!(reg.table().generation, 2);
}
