"""Tests of the funcmesh Python SDK: return forms, errors, Request, _invoke."""

import copy
import http
import json
import pickle
from collections import OrderedDict

import pytest

import funcmesh
from funcmesh import (
    BadRequest,
    Headers,
    HTTPError,
    MultiMapping,
    Request,
    Response,
    call,
    normalize,
)

JSON = ("content-type", "application/json")
TEXT = ("content-type", "text/plain; charset=utf-8")
OCTET = ("content-type", "application/octet-stream")


def meta(**overrides):
    """A meta JSON string as the runner sends it."""
    obj = {
        "request_id": "req-1",
        "operation_id": "words.api.inflect",
        "method": "GET",
        "path": "/words/ox",
        "base_path": "/words",
        "path_params": {"word": "ox"},
        "query": [["count", "2"], ["tag", "a"], ["tag", "b"]],
        "headers": [["host", "example.com"], ["x-multi", "1"], ["x-multi", "2"]],
    }
    obj.update(overrides)
    return json.dumps(obj)


def returning(value):
    return lambda request: value


# --- return forms -----------------------------------------------------------


@pytest.mark.parametrize(
    "result, status, headers, body",
    [
        ({"a": 1, "é": "ü"}, 200, [JSON], '{"a":1,"é":"ü"}'.encode()),
        ([1, "two", None], 200, [JSON], b'[1,"two",null]'),
        ({}, 200, [JSON], b"{}"),
        (OrderedDict(b=1, a=2), 200, [JSON], b'{"b":1,"a":2}'),
        ("héllo", 200, [TEXT], "héllo".encode()),
        ("", 200, [TEXT], b""),
        (b"\x00\xff", 200, [OCTET], b"\x00\xff"),
        (bytearray(b"ab"), 200, [OCTET], b"ab"),
        (memoryview(b"cd"), 200, [OCTET], b"cd"),
        (None, 204, [], b""),
    ],
)
def test_plain_return_forms(result, status, headers, body):
    resp = normalize(result)
    assert (resp.status, resp.headers, resp.body) == (status, headers, body)
    assert type(resp.body) is bytes


def test_json_encoding_is_compact_and_not_ascii_escaped():
    obj = {"k": ["ünïcode", 1.5, True, None], "n": {"x": []}}
    expected = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    assert normalize(obj).body == expected


def test_unserializable_json_raises_type_error():
    with pytest.raises(TypeError):
        normalize({"when": object()})
    with pytest.raises(TypeError):
        call(returning([{1, 2}]), Request())


@pytest.mark.parametrize(
    "result, status, headers, body",
    [
        ((201, {"id": 7}), 201, [JSON], b'{"id":7}'),
        ((202, ["x"]), 202, [JSON], b'["x"]'),
        ((200, "ok"), 200, [TEXT], b"ok"),
        ((200, b"raw"), 200, [OCTET], b"raw"),
        ((202, None), 202, [], b""),
        ((http.HTTPStatus.CREATED, "made"), 201, [TEXT], b"made"),
    ],
)
def test_status_body_tuple(result, status, headers, body):
    resp = normalize(result)
    assert (resp.status, resp.headers, resp.body) == (status, headers, body)
    assert type(resp.status) is int


def test_tuple_with_dict_headers():
    resp = normalize((201, {"id": 7}, {"location": "/pets/7", "x-n": 3}))
    assert resp.status == 201
    assert resp.headers == [JSON, ("location", "/pets/7"), ("x-n", "3")]


def test_tuple_with_header_pairs_keeps_order_and_repeats():
    pairs = [("set-cookie", "a=1"), ("set-cookie", "b=2")]
    resp = normalize((200, "hi", pairs))
    assert resp.headers == [TEXT, *pairs]
    # Any iterable of pairs works, e.g. a generator.
    resp = normalize((200, "hi", (p for p in pairs)))
    assert resp.headers == [TEXT, *pairs]


@pytest.mark.parametrize("name", ["content-type", "Content-Type", "CONTENT-TYPE"])
def test_given_content_type_overrides_the_default(name):
    resp = normalize((200, {"a": 1}, {name: "application/problem+json"}))
    assert resp.headers == [(name, "application/problem+json")]
    assert resp.body == b'{"a":1}'
    resp = normalize((200, "<p>hi</p>", [(name, "text/html")]))
    assert resp.headers == [(name, "text/html")]


def test_none_body_in_tuple_with_headers_adds_no_content_type():
    resp = normalize((302, None, {"location": "/elsewhere"}))
    assert resp.headers == [("location", "/elsewhere")]
    assert resp.body == b""


# --- Response -----------------------------------------------------------------


def test_response_is_returned_as_is():
    original = Response(b"x", 418, {"x-tea": "yes"})
    assert normalize(original) is original
    assert original.headers == [OCTET, ("x-tea", "yes")]


def test_response_constructor_defaults():
    resp = Response()
    assert (resp.status, resp.headers, resp.body) == (200, [], b"")
    assert Response({"a": 1}) == normalize({"a": 1})
    assert Response("t", 201) == normalize((201, "t"))


def test_response_json_and_text_factories_and_readers():
    resp = Response.json({"a": [1, 2]}, status=201, headers=[("x-a", "b")])
    assert resp.status == 201
    assert resp.headers == [JSON, ("x-a", "b")]
    assert resp.json == {"a": [1, 2]}
    assert Response.json(None).body == b"null"
    assert Response.json("s").json == "s"

    resp = Response.text("héllo", headers={"content-type": "text/csv"})
    assert resp.headers == [("content-type", "text/csv")]
    assert resp.text == "héllo"
    assert Response().json is None
    with pytest.raises(TypeError):
        Response.text(b"bytes")


def test_response_helpers():
    resp = Response("x", headers={"X-Thing": "1"})
    assert resp.get_header("x-thing") == "1"
    assert resp.get_header("missing", "d") == "d"
    assert resp.content_type == "text/plain; charset=utf-8"
    assert "200" in repr(resp)


def test_response_mutated_after_construction_is_checked_again():
    resp = Response({"a": 1})
    resp.headers.append(("x-count", 2))
    resp.body = bytearray(b"{}")
    assert normalize(resp).headers[-1] == ("x-count", "2")
    assert type(resp.body) is bytes

    resp.headers.append(("bad name", "v"))
    with pytest.raises(ValueError):
        normalize(resp)

    bad = Response()
    bad.status = 99
    with pytest.raises(ValueError):
        normalize(bad)
    bad = Response()
    bad.body = "text"
    with pytest.raises(TypeError):
        normalize(bad)


# --- bad results ----------------------------------------------------------------


@pytest.mark.parametrize(
    "result",
    [42, 1.5, True, object(), {1, 2}, (x for x in ()), Request()],
)
def test_other_results_are_type_errors(result):
    with pytest.raises(TypeError) as info:
        normalize(result)
    message = str(info.value)
    assert type(result).__name__ in message
    assert "dict or list" in message and "funcmesh.Response" in message


@pytest.mark.parametrize("result", [(), (200,), (200, "a", {}, "extra")])
def test_tuples_of_the_wrong_length_are_type_errors(result):
    with pytest.raises(TypeError, match="tuple"):
        normalize(result)


@pytest.mark.parametrize("body", [42, 1.5, object(), Response(), (1, 2)])
def test_bad_body_in_tuple_is_a_type_error(body):
    with pytest.raises(TypeError, match="body"):
        normalize((200, body))


@pytest.mark.parametrize(
    "status", [99, 600, 0, -1, True, False, "200", 200.0, None]
)
def test_bad_status_is_a_value_error(status):
    with pytest.raises(ValueError, match="status"):
        normalize((status, "x"))
    with pytest.raises(ValueError):
        Response("x", status)


@pytest.mark.parametrize("status", [100, 599])
def test_status_bounds_are_inclusive(status):
    assert normalize((status, None)).status == status


@pytest.mark.parametrize(
    "headers",
    [
        {"x-a": "line\r\nbreak"},
        {"x-a": "line\nbreak"},
        {"x-a": "nul\x00"},
        {"x-a\r\n": "v"},
        {"x:a": "v"},
        {"x a": "v"},
        {"": "v"},
        {b"x-a": "v"},
        {"x-a": b"v"},
        {"x-a": None},
        {"x-a": True},
        {"x-a": 1.5},
        [("x-a",)],
        [("x-a", "v", "w")],
        ["x-a"],
        "x-a: v",
        42,
    ],
)
def test_bad_headers_are_value_errors(headers):
    with pytest.raises(ValueError):
        normalize((200, "x", headers))
    with pytest.raises(ValueError):
        Response("x", 200, headers)


def test_int_header_values_become_str():
    resp = normalize((200, None, {"retry-after": 120}))
    assert resp.headers == [("retry-after", "120")]


# --- errors ---------------------------------------------------------------------


def test_http_error_becomes_its_response():
    def missing(request):
        raise HTTPError(404, {"error": "no such pet"})

    resp = call(missing, Request())
    assert resp.status == 404
    assert resp.headers == [JSON]
    assert resp.json == {"error": "no such pet"}


def test_http_error_defaults_and_headers():
    resp = HTTPError(503, headers={"retry-after": 5}).to_response()
    assert resp.status == 503
    assert resp.json == {"error": "Service Unavailable"}
    assert ("retry-after", "5") in resp.headers
    assert HTTPError(599).to_response().json == {"error": "Error"}
    resp = HTTPError(409, "conflict").to_response()
    assert resp.headers == [TEXT] and resp.text == "conflict"


def test_http_error_checks_status_where_raised():
    with pytest.raises(ValueError):
        HTTPError(700)
    with pytest.raises(ValueError):
        HTTPError("404")


def test_http_error_str_and_pickle():
    err = HTTPError(404, {"error": "gone"})
    assert str(err).startswith("404 Not Found")
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.status, clone.body) == (404, {"error": "gone"})


def test_bad_request_is_a_value_error_and_a_400():
    err = BadRequest("count must be an integer")
    assert isinstance(err, ValueError) and isinstance(err, HTTPError)
    assert str(err) == "count must be an integer"
    assert err.status == 400

    def handler(request):
        raise err

    resp = call(handler, Request())
    assert resp.status == 400
    assert resp.json == {"error": "count must be an integer"}
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is BadRequest and clone.message == err.message
    assert copy.copy(err).message == err.message


def test_other_exceptions_propagate_from_call():
    def broken(request):
        raise KeyError("boom")

    with pytest.raises(KeyError):
        call(broken, Request())


# --- Request ----------------------------------------------------------------------


def test_request_defaults():
    req = Request()
    assert (req.method, req.path, req.body) == ("GET", "/", b"")
    assert (req.base_path, req.operation_id, req.request_id) == ("", "", "test")
    assert req.path_params == {} and len(req.query) == 0 and len(req.headers) == 0
    assert req.json is None and req.text == "" and req.content_type is None


def test_request_method_is_upper_case_and_path_checked():
    assert Request("post", "/x").method == "POST"
    with pytest.raises(ValueError):
        Request("GET", "relative")
    with pytest.raises(TypeError):
        Request("", "/")


def test_query_is_a_multi_mapping():
    req = Request(query=[("tag", "a"), ("limit", "5"), ("tag", "b"), ("empty", "")])
    q = req.query
    assert q["tag"] == "a" and q.get("tag") == "a"
    assert q.get_all("tag") == ["a", "b"]
    assert q.get_all("missing") == []
    assert q.get("missing") is None and q.get("missing", "d") == "d"
    assert q["empty"] == ""
    with pytest.raises(KeyError):
        q["missing"]
    assert list(q) == ["tag", "limit", "empty"] and len(q) == 3
    assert "tag" in q and "TAG" not in q
    assert q.items() == [("tag", "a"), ("limit", "5"), ("tag", "b"), ("empty", "")]
    assert q.values() == ["a", "5", "b", ""]
    assert list(q.keys()) == ["tag", "limit", "empty"]
    assert dict(q) == {"tag": "a", "limit": "5", "empty": ""}
    assert q == {"tag": "a", "limit": "5", "empty": ""}
    assert q == [("tag", "a"), ("limit", "5"), ("tag", "b"), ("empty", "")]


def test_multi_mapping_is_read_only_and_returns_copies():
    q = MultiMapping({"a": ["1", "2"]})
    with pytest.raises(TypeError):
        q["a"] = "3"
    q.get_all("a").append("x")
    q.items().append(("b", "2"))
    assert q.items() == [("a", "1"), ("a", "2")]
    with pytest.raises(TypeError):
        hash(q)


def test_query_from_dict_repeats_list_values_and_stringifies():
    req = Request(query={"tag": ["a", "b"], "count": 3})
    assert req.query.items() == [("tag", "a"), ("tag", "b"), ("count", "3")]


def test_query_string_in_path():
    req = Request("GET", "/words/ox?count=2&tag=a&tag=b&flag")
    assert req.path == "/words/ox"
    assert req.query.get_all("tag") == ["a", "b"]
    assert req.query["count"] == "2" and req.query["flag"] == ""
    with pytest.raises(ValueError):
        Request("GET", "/x?a=1", query={"b": "2"})


def test_headers_are_case_insensitive_multi_mapping():
    req = Request(headers=[("X-Multi", "1"), ("Accept", "*/*"), ("x-multi", "2")])
    h = req.headers
    assert isinstance(h, Headers)
    assert h["x-multi"] == h["X-MULTI"] == h.get("X-Multi") == "1"
    assert h.get_all("X-MULTI") == ["1", "2"]
    assert "ACCEPT" in h and "accept" in h and "missing" not in h
    assert list(h) == ["x-multi", "accept"]
    assert h.items() == [("x-multi", "1"), ("accept", "*/*"), ("x-multi", "2")]
    assert h == {"X-Multi": "1", "accept": "*/*"}
    with pytest.raises(KeyError):
        h["missing"]
    assert h.get(42) is None


def test_bad_names_in_test_constructor():
    with pytest.raises(TypeError):
        Request(query={1: "x"})
    with pytest.raises(TypeError):
        Request(headers=[("a",)])
    with pytest.raises(TypeError):
        Request(headers="x: y")


def test_body_forms_and_text():
    assert Request(body="héllo").body == "héllo".encode()
    assert Request(body=bytearray(b"ab")).body == b"ab"
    assert Request(body="héllo").text == "héllo"
    with pytest.raises(UnicodeDecodeError):
        Request(body=b"\xff").text
    with pytest.raises(TypeError):
        Request(body=42)


def test_json_property():
    assert Request().json is None
    req = Request("POST", "/", body=b'{"a": [1, 2]}')
    assert req.json == {"a": [1, 2]}
    assert req.json is req.json  # parsed once
    assert Request(body=b"null").json is None
    assert Request(body=b"3").json == 3


@pytest.mark.parametrize("body", [b"{", b"not json", b"\xff\xfe\x00", b"[1,]", b"[" * 100000])
def test_invalid_json_body_is_bad_request(body):
    req = Request("POST", "/", body=body)
    with pytest.raises(BadRequest, match="not valid JSON"):
        req.json
    with pytest.raises(ValueError):
        req.json


def test_invalid_json_answers_400_through_call():
    resp = call(lambda request: request.json, Request("POST", "/", body=b"{"))
    assert resp.status == 400
    assert resp.json["error"].startswith("request body is not valid JSON")


def test_json_keyword_sets_body_and_content_type():
    req = Request("POST", "/", json={"words": ["ox"]})
    assert req.body == b'{"words":["ox"]}'
    assert req.headers["content-type"] == "application/json"
    assert req.content_type == "application/json"
    assert req.json == {"words": ["ox"]}

    req = Request("POST", "/", json=[1], headers={"Content-Type": "application/x+json"})
    assert req.headers.get_all("content-type") == ["application/x+json"]
    assert Request(json=None).body == b"null"
    with pytest.raises(ValueError):
        Request(body=b"x", json={})


@pytest.mark.parametrize(
    "value, expected",
    [
        ("application/JSON; charset=utf-8", "application/json"),
        ("  text/plain ", "text/plain"),
        ("multipart/form-data; boundary=x", "multipart/form-data"),
        (";charset=utf-8", None),
    ],
)
def test_content_type(value, expected):
    assert Request(headers={"Content-Type": value}).content_type == expected


def test_request_repr():
    req = Request(
        "GET",
        "/words/ox",
        query={"count": "2"},
        path_params={"word": "ox"},
        operation_id="words.api.inflect",
        body="x",
    )
    text = repr(req)
    assert "GET /words/ox?count=2" in text
    assert "words.api.inflect" in text and "'word': 'ox'" in text
    assert "1 bytes" in text


# --- call / _invoke ----------------------------------------------------------------


def test_call_normalizes():
    resp = call(lambda request: (201, {"m": request.method}), Request("PUT", "/"))
    assert resp.status == 201 and resp.json == {"m": "PUT"}


def test_invoke_round_trip():
    seen = {}

    def handler(request):
        seen["request"] = request
        return {
            "word": request.path_params["word"],
            "count": int(request.query["count"]),
            "tags": request.query.get_all("tag"),
            "host": request.headers["Host"],
            "multi": request.headers.get_all("x-multi"),
            "body": request.json,
        }

    status, headers, body = funcmesh._invoke(handler, meta(), b'{"k":"v"}')
    assert status == 200
    assert headers == [JSON]
    assert json.loads(body) == {
        "word": "ox",
        "count": 2,
        "tags": ["a", "b"],
        "host": "example.com",
        "multi": ["1", "2"],
        "body": {"k": "v"},
    }
    req = seen["request"]
    assert (req.method, req.path, req.base_path) == ("GET", "/words/ox", "/words")
    assert (req.operation_id, req.request_id) == ("words.api.inflect", "req-1")
    assert req.query.items() == [("count", "2"), ("tag", "a"), ("tag", "b")]
    assert req.headers.items()[0] == ("host", "example.com")
    assert req.text == '{"k":"v"}'


@pytest.mark.parametrize(
    "result, expected",
    [
        ({"a": 1}, (200, [JSON], b'{"a":1}')),
        ([], (200, [JSON], b"[]")),
        ("hi", (200, [TEXT], b"hi")),
        (b"\x01", (200, [OCTET], b"\x01")),
        (None, (204, [], b"")),
        ((201, "made", {"location": "/x"}), (201, [TEXT, ("location", "/x")], b"made")),
        (Response.json([1], 202), (202, [JSON], b"[1]")),
    ],
)
def test_invoke_result_triples(result, expected):
    triple = funcmesh._invoke(returning(result), meta(), b"")
    assert triple == expected
    status, headers, body = triple
    assert type(status) is int and type(body) is bytes
    assert all(type(n) is str and type(v) is str for n, v in headers)


def test_invoke_returns_fresh_header_lists():
    first = funcmesh._invoke(returning({}), meta(), b"")[1]
    first.append(("x", "y"))
    assert funcmesh._invoke(returning({}), meta(), b"")[1] == [JSON]


def test_invoke_accepts_bytes_like_body():
    triple = funcmesh._invoke(lambda r: r.text, meta(method="POST"), bytearray(b"abc"))
    assert triple == (200, [TEXT], b"abc")


def test_invoke_turns_http_errors_into_responses():
    def handler(request):
        raise HTTPError(404, {"error": "no such word"}, [("x-why", "gone")])

    assert funcmesh._invoke(handler, meta(), b"") == (
        404,
        [JSON, ("x-why", "gone")],
        b'{"error":"no such word"}',
    )
    status, _, body = funcmesh._invoke(lambda r: r.json, meta(), b"{oops")
    assert status == 400 and b"not valid JSON" in body


def test_invoke_propagates_other_exceptions_unchanged():
    error = RuntimeError("boom")

    def handler(request):
        raise error

    with pytest.raises(RuntimeError) as info:
        funcmesh._invoke(handler, meta(), b"")
    assert info.value is error
    with pytest.raises(TypeError):
        funcmesh._invoke(returning(3), meta(), b"")
    with pytest.raises(ValueError):
        funcmesh._invoke(returning((1000, "x")), meta(), b"")


def test_public_names():
    assert funcmesh.__version__ == "0.1.0"
    for name in funcmesh.__all__:
        assert hasattr(funcmesh, name)
    assert Request.__module__ == "funcmesh"
