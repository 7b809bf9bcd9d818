use super::*;

fn route(host: Option<&str>, base: &str) -> Route {
    Route {
        host: host.map(str::to_owned),
        base_path: base.into(),
        queue: queues::func_queue(host, base),
        bundle: format!("hash-{}-{base}", host.unwrap_or("any")),
        name: base.trim_start_matches('/').into(),
        pool: "default".into(),
    }
}

fn table() -> RouteTable {
    RouteTable::new(
        1,
        vec![
            route(None, "/api"),
            route(None, "/api/v2"),
            route(None, ""),
            route(Some("shop.example.com"), "/api"),
            route(Some("*.example.com"), "/api"),
        ],
    )
}

fn hit(t: &RouteTable, host: &str, path: &str) -> Option<(Option<String>, String)> {
    t.lookup(host, path)
        .map(|r| (r.host.clone(), r.base_path.clone()))
}

#[test]
fn longest_base_path_wins() {
    let t = table();
    assert_eq!(
        hit(&t, "other.org", "/api/v2/pets"),
        Some((None, "/api/v2".into()))
    );
    assert_eq!(
        hit(&t, "other.org", "/api/v1/pets"),
        Some((None, "/api".into()))
    );
    assert_eq!(hit(&t, "other.org", "/api"), Some((None, "/api".into())));
}

#[test]
fn base_paths_match_at_segment_boundaries() {
    let t = RouteTable::new(1, vec![route(None, "/api")]);
    assert!(t.lookup("h", "/apiary").is_none());
    assert!(t.lookup("h", "/api/").is_some());
    assert!(t.lookup("h", "/ap").is_none());
    assert!(base_path_matches("", "/anything"));
}

#[test]
fn exact_host_beats_wildcard_beats_any() {
    let t = table();
    assert_eq!(
        hit(&t, "shop.example.com", "/api/x"),
        Some((Some("shop.example.com".into()), "/api".into()))
    );
    assert_eq!(
        hit(&t, "SHOP.Example.com", "/api/x"),
        Some((Some("shop.example.com".into()), "/api".into()))
    );
    assert_eq!(
        hit(&t, "blog.example.com", "/api/x"),
        Some((Some("*.example.com".into()), "/api".into()))
    );
    assert_eq!(
        hit(&t, "example.com", "/api/x"),
        Some((None, "/api".into())),
        "a wildcard needs a subdomain"
    );
    assert_eq!(
        hit(&t, "badexample.com", "/api/x"),
        Some((None, "/api".into()))
    );
}

#[test]
fn empty_base_path_catches_the_rest() {
    let t = table();
    assert_eq!(hit(&t, "x", "/elsewhere"), Some((None, "".into())));
    let none = RouteTable::new(1, vec![route(Some("a.com"), "/x")]);
    assert!(
        none.lookup("b.com", "/x").is_none(),
        "unknown host has no route"
    );
}

#[test]
fn same_place_ignores_host_case() {
    assert!(route(Some("A.com"), "/x").same_place(&route(Some("a.com"), "/x")));
    assert!(!route(None, "/x").same_place(&route(Some("a.com"), "/x")));
}
