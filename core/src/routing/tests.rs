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

/// What the index must answer: the first route, in the table's order,
/// whose host and base path serve the request.
fn scanned<'a>(t: &'a RouteTable, host: &str, path: &str) -> Option<&'a Route> {
    t.scan(host, path)
}

/// The index's answer, whatever the table's size.
fn indexed<'a>(t: &'a RouteTable, host: &str, path: &str) -> Option<&'a Route> {
    Index::new(&t.routes)
        .lookup(host, path)
        .map(|at| &t.routes[at])
}

proptest::proptest! {
    #[test]
    fn the_index_answers_what_a_scan_of_the_table_answers(
        routes in proptest::collection::vec(
            (
                proptest::option::of(proptest::sample::select(vec![
                    "a.example.com", "A.Example.com", "*.example.com", "*.com", "b.org", "*.", "x.",
                ])),
                proptest::sample::select(vec!["", "/api", "/api/v2", "/a", "/api/", "/x/y/z"]),
            ),
            0..40,
        ),
        host in proptest::sample::select(vec![
            "a.example.com", "b.example.com", "example.com", "b.org", "x.", "a.x.", ".com", "z.com",
        ]),
        path in proptest::sample::select(vec![
            "", "/", "/api", "/api/", "/api/v2/pets", "/apiary", "/a", "/a/b", "/x/y/z/w", "//api",
        ]),
    ) {
        let t = RouteTable::new(1, routes.iter().map(|(h, b)| route(*h, b)).collect());
        proptest::prop_assert_eq!(indexed(&t, host, path), scanned(&t, host, path));
        proptest::prop_assert_eq!(t.lookup(host, path), scanned(&t, host, path));
        let read: RouteTable = serde_json::from_slice(&serde_json::to_vec(&t).unwrap()).unwrap();
        proptest::prop_assert_eq!(&read, &t);
        proptest::prop_assert_eq!(read.lookup(host, path), scanned(&t, host, path));
    }
}

#[test]
fn a_lookup_among_ten_thousand_routes_finds_its_route() {
    let routes = (0..10_000)
        .map(|i| route(Some(&format!("h{i}.example.com")), &format!("/f{i}")))
        .chain([route(None, "/hello")])
        .collect();
    let t = RouteTable::new(1, routes);
    let read: RouteTable = serde_json::from_slice(&serde_json::to_vec(&t).unwrap()).unwrap();
    assert_eq!(
        read.lookup("h9999.example.com", "/f9999/x")
            .map(|r| &r.name),
        Some(&"f9999".to_owned()),
        "a table read from the bus has its index"
    );
    assert_eq!(
        t.lookup("h9999.example.com", "/f9999/x").map(|r| &r.name),
        Some(&"f9999".to_owned())
    );
    assert_eq!(
        t.lookup("other", "/hello/greet").map(|r| &r.name),
        Some(&"hello".to_owned())
    );
    assert!(t.lookup("h1.example.com", "/f2").is_none());
}
