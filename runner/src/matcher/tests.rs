use super::*;
use crate::test_support::op;

fn pets() -> Router {
    let ops = vec![
        op("listPets", "GET", "/pets"),
        op("createPet", "POST", "/pets"),
        op("getPet", "GET", "/pets/{petId}"),
        op("deletePet", "DELETE", "/pets/{petId}"),
        op("myPets", "GET", "/pets/mine"),
        op("getToy", "GET", "/pets/{petId}/toys/{toyId}"),
        op("file", "GET", "/files/{name}.{ext}"),
        op("report", "GET", "/reports/{year}-summary"),
        op("root", "GET", "/"),
    ];
    Router::new("/v1", &ops)
}

fn found(index: usize, params: &[(&str, &str)]) -> Match {
    let params = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Match::Found { index, params }
}

#[test]
fn table() {
    let router = pets();
    let cases: Vec<(&str, &str, Match)> = vec![
        ("GET", "/v1/pets", found(0, &[])),
        ("POST", "/v1/pets", found(1, &[])),
        ("GET", "/v1/pets/", found(0, &[])),
        ("get", "/v1/pets", found(0, &[])),
        ("GET", "/v1/pets/7", found(2, &[("petId", "7")])),
        ("DELETE", "/v1/pets/7/", found(3, &[("petId", "7")])),
        ("GET", "/v1/pets/mine", found(4, &[])),
        (
            "GET",
            "/v1/pets/mine/toys/ball",
            found(5, &[("petId", "mine"), ("toyId", "ball")]),
        ),
        ("GET", "/v1/pets/a%20b", found(2, &[("petId", "a b")])),
        ("GET", "/v1/pets/caf%C3%A9", found(2, &[("petId", "café")])),
        ("GET", "/v1/pets/a%2Fb", found(2, &[("petId", "a/b")])),
        (
            "GET",
            "/v1/files/report.tar.gz",
            found(6, &[("name", "report"), ("ext", "tar.gz")]),
        ),
        (
            "GET",
            "/v1/reports/2024-summary",
            found(7, &[("year", "2024")]),
        ),
        ("GET", "/v1", found(8, &[])),
        ("GET", "/v1/", found(8, &[])),
        ("GET", "/v1/reports/-summary", Match::NoPath),
        ("GET", "/v1/files/noext", Match::NoPath),
        ("GET", "/v1/nothing", Match::NoPath),
        ("GET", "/v1/pets/7/toys", Match::NoPath),
        ("GET", "/v1/pets//", Match::NoPath),
        ("GET", "/v1x/pets", Match::NoPath),
        ("GET", "/pets", Match::NoPath),
        ("GET", "/v", Match::NoPath),
        (
            "PUT",
            "/v1/pets",
            Match::WrongMethod {
                allow: vec!["GET".into(), "POST".into()],
            },
        ),
        (
            "POST",
            "/v1/pets/7",
            Match::WrongMethod {
                allow: vec!["DELETE".into(), "GET".into()],
            },
        ),
        // The literal path wins even where only the template serves the method.
        (
            "DELETE",
            "/v1/pets/mine",
            Match::WrongMethod {
                allow: vec!["GET".into()],
            },
        ),
    ];
    for (method, path, want) in cases {
        assert_eq!(router.find(method, path), want, "{method} {path}");
    }
}

#[test]
fn base_path_is_matched_at_a_segment_boundary() {
    let router = Router::new("/api", &[op("list", "GET", "/items")]);
    assert_eq!(router.find("GET", "/api/items"), found(0, &[]));
    assert_eq!(router.find("GET", "/apiary/items"), Match::NoPath);
    assert_eq!(router.find("GET", "/apiitems"), Match::NoPath);
}

#[test]
fn empty_base_path_serves_from_the_root() {
    let router = Router::new(
        "",
        &[op("list", "GET", "/items"), op("one", "GET", "/items/{id}")],
    );
    assert_eq!(router.find("GET", "/items"), found(0, &[]));
    assert_eq!(router.find("GET", "/items/x"), found(1, &[("id", "x")]));
    assert_eq!(router.find("GET", "/"), Match::NoPath);
}

#[test]
fn literal_beats_parameter_at_the_first_difference() {
    let ops = [
        op("a", "GET", "/{x}/b"),
        op("b", "GET", "/a/{y}"),
        op("c", "GET", "/{x}/{y}"),
    ];
    let router = Router::new("", &ops);
    assert_eq!(router.find("GET", "/a/b"), found(1, &[("y", "b")]));
    assert_eq!(router.find("GET", "/z/b"), found(0, &[("x", "z")]));
    assert_eq!(
        router.find("GET", "/z/q"),
        found(2, &[("x", "z"), ("y", "q")])
    );
}

#[test]
fn order_of_declaration_does_not_change_specificity() {
    let forward = Router::new(
        "",
        &[
            op("id", "GET", "/pets/{id}"),
            op("mine", "GET", "/pets/mine"),
        ],
    );
    let backward = Router::new(
        "",
        &[
            op("mine", "GET", "/pets/mine"),
            op("id", "GET", "/pets/{id}"),
        ],
    );
    assert_eq!(forward.find("GET", "/pets/mine"), found(1, &[]));
    assert_eq!(backward.find("GET", "/pets/mine"), found(0, &[]));
}

#[test]
fn mixed_segments_parse() {
    assert_eq!(
        pieces("{name}.{ext}"),
        [
            Piece::Param("name".into()),
            Piece::Literal(".".into()),
            Piece::Param("ext".into())
        ]
    );
    assert_eq!(Segment::parse("{id}"), Segment::Param("id".into()));
    assert_eq!(Segment::parse("pets"), Segment::Literal("pets".into()));
    // An unclosed brace is literal text.
    assert_eq!(Segment::parse("a{b"), Segment::Literal("a{b".into()));
}
