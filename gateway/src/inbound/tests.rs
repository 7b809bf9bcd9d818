use super::*;

#[test]
fn hosts_are_lower_cased_without_port() {
    assert_eq!(
        normalize_host("Example.COM:8080").as_deref(),
        Some("example.com")
    );
    assert_eq!(
        normalize_host("example.com").as_deref(),
        Some("example.com")
    );
    assert_eq!(
        normalize_host("example.com.").as_deref(),
        Some("example.com")
    );
    assert_eq!(normalize_host("127.0.0.1:80").as_deref(), Some("127.0.0.1"));
    assert_eq!(normalize_host("[::1]:8080").as_deref(), Some("[::1]"));
    assert_eq!(
        normalize_host("[2001:DB8::1]").as_deref(),
        Some("[2001:db8::1]")
    );
}

#[test]
fn unparsable_hosts_are_rejected() {
    for raw in [
        "",
        ":80",
        "a b",
        "user@host",
        "::1",
        "[::1",
        "[zz::1]",
        "[]",
        "host:80x",
        "host:123456",
        "host:65536",
        "host:99999",
        "a/b",
    ] {
        assert_eq!(normalize_host(raw), None, "{raw:?}");
    }
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, http::HeaderValue::from_static(value));
    }
    map
}

#[test]
fn request_ids_pass_through_when_usable() {
    assert_eq!(
        request_id(&headers(&[("x-request-id", "abc-123")])),
        "abc-123"
    );
    let long = "x".repeat(129);
    let mut map = HeaderMap::new();
    map.insert("x-request-id", long.parse().unwrap());
    for map in [
        map,
        headers(&[("x-request-id", "has space")]),
        HeaderMap::new(),
    ] {
        let id = request_id(&map);
        assert_eq!(
            uuid::Uuid::parse_str(&id).unwrap().get_version_num(),
            7,
            "{id}"
        );
    }
}

#[test]
fn client_may_shorten_the_timeout_only() {
    let max = Duration::from_secs(30);
    assert_eq!(timeout(&HeaderMap::new(), max).unwrap(), max);
    assert_eq!(
        timeout(&headers(&[("x-funcmesh-timeout-ms", "250")]), max).unwrap(),
        Duration::from_millis(250)
    );
    assert_eq!(
        timeout(&headers(&[("x-funcmesh-timeout-ms", "60000")]), max).unwrap(),
        max
    );
    assert!(timeout(&headers(&[("x-funcmesh-timeout-ms", "0")]), max).is_err());
    assert!(timeout(&headers(&[("x-funcmesh-timeout-ms", "soon")]), max).is_err());
}

#[test]
fn respond_async_is_found_among_preferences() {
    assert!(prefers_async(&headers(&[("prefer", "respond-async")])));
    assert!(prefers_async(&headers(&[(
        "prefer",
        "return=minimal, Respond-Async; wait=5"
    )])));
    assert!(!prefers_async(&headers(&[("prefer", "return=minimal")])));
    assert!(!prefers_async(&HeaderMap::new()));
}

#[test]
fn hop_by_hop_and_connection_listed_headers_are_dropped() {
    let map = headers(&[
        ("accept", "a"),
        ("connection", "keep-alive, x-private"),
        ("x-private", "secret"),
        ("keep-alive", "timeout=5"),
        ("proxy-authorization", "basic"),
        ("accept", "b"),
        ("te", "trailers"),
    ]);
    let pairs = envelope_headers(&map);
    assert_eq!(
        pairs,
        vec![
            ("accept".to_owned(), "a".to_owned()),
            ("accept".to_owned(), "b".to_owned())
        ]
    );
}

#[test]
fn the_envelope_carries_the_request() {
    let request = http::Request::builder()
        .method("POST")
        .uri("/api/pets%20x?b=2&a=1")
        .header("host", "Shop.Example.com:8080")
        .header("content-type", "application/json")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .body(())
        .unwrap();
    let (parts, ()) = request.into_parts();
    let host = host(&parts).unwrap();
    let received = Received {
        id: "r1".into(),
        host,
        body: Bytes::from_static(br#"{"name":"rex"}"#),
        deadline_ms: 42,
        remote: Some("10.0.0.1:5555".parse().unwrap()),
    };
    let env = envelope(&parts, received);
    assert_eq!(env.host, "shop.example.com");
    assert_eq!(env.path, "/api/pets%20x");
    assert_eq!(env.query, "b=2&a=1");
    assert_eq!(env.body.encoding(), "json");
    assert_eq!(
        env.trace.unwrap().traceparent,
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    );
    assert_eq!(env.remote_addr.as_deref(), Some("10.0.0.1:5555"));
    assert_eq!(env.deadline_ms, 42);
    assert_eq!(env.version, funcmesh_core::envelope::VERSION);
}

#[test]
fn authority_wins_over_host_and_missing_host_is_rejected() {
    let (parts, ()) = http::Request::get("http://a.example:81/x")
        .header("host", "b.example")
        .body(())
        .unwrap()
        .into_parts();
    assert_eq!(host(&parts).unwrap(), "a.example");
    let (parts, ()) = http::Request::get("/x").body(()).unwrap().into_parts();
    assert!(matches!(host(&parts), Err(Error::BadRequest(_))));
}

#[test]
fn broken_escapes_in_paths_are_refused() {
    for good in ["/a", "/a%20b", "/%2F%2f", "/caf%C3%A9", "/"] {
        assert!(check_path(good).is_ok(), "{good}");
    }
    for bad in ["/a%", "/a%2", "/a%zz", "/%G0/x", "/x%%41"] {
        assert!(check_path(bad).is_err(), "{bad}");
    }
}

#[test]
fn two_host_headers_are_refused() {
    let (mut parts, ()) = http::Request::get("/x").body(()).unwrap().into_parts();
    parts
        .headers
        .append(header::HOST, "a.example".parse().unwrap());
    assert_eq!(host(&parts).unwrap(), "a.example");
    parts
        .headers
        .append(header::HOST, "b.example".parse().unwrap());
    assert!(host(&parts).is_err());
}
