"""Tests of the words functions, called as the mesh calls them."""

import pytest

import funcmesh
from funcmesh import Request, call
from words import api


def get(word, **query):
    """``GET /words/{word}`` through ``inflect``."""
    return call(
        api.inflect,
        Request(
            "GET",
            f"/words/{word}",
            path_params={"word": word},
            query=query,
            base_path="/words",
            operation_id="words.api.inflect",
        ),
    )


def post_batch(payload):
    """``POST /words/batch`` through ``batch``."""
    return call(
        api.batch,
        Request(
            "POST",
            "/words/batch",
            json=payload,
            base_path="/words",
            operation_id="words.api.batch",
        ),
    )


def test_uses_the_vendored_inflection():
    import inflection

    assert inflection.__version__ == "0.5.1"
    assert "/lib/" in inflection.__file__.replace("\\", "/")


def test_inflect_returns_every_form():
    resp = get("ApplePie")
    assert resp.status == 200
    assert resp.content_type == "application/json"
    assert resp.json == {
        "word": "ApplePie",
        "plural": "ApplePies",
        "singular": "ApplePie",
        "camel": "ApplePie",
        "underscore": "apple_pie",
        "dasherized": "apple-pie",
        "human": "Apple pie",
        "title": "Apple Pie",
    }


@pytest.mark.parametrize(
    "word, plural, singular",
    [("ox", "oxen", "ox"), ("people", "people", "person"), ("sheep", "sheep", "sheep")],
)
def test_inflect_irregular_words(word, plural, singular):
    body = get(word).json
    assert (body["plural"], body["singular"]) == (plural, singular)


def test_inflect_spaces_become_snake_and_camel_case():
    body = get("apple pie").json
    assert body["underscore"] == "apple_pie"
    assert body["camel"] == "ApplePie"


@pytest.mark.parametrize("word, ordinal", [("1", "1st"), ("22", "22nd"), ("11", "11th")])
def test_inflect_ordinal_for_integers_only(word, ordinal):
    assert get(word).json["ordinal"] == ordinal
    assert "ordinal" not in get("apple").json


@pytest.mark.parametrize(
    "word, count, phrase",
    [
        ("apple", "3", "3 apples"),
        ("apple", "1", "1 apple"),
        ("apples", "1", "1 apple"),
        ("apple", "0", "0 apples"),
        ("person", "2", "2 people"),
        ("ox", "1000000", "1000000 oxen"),
    ],
)
def test_inflect_count_phrase(word, count, phrase):
    body = get(word, count=count).json
    assert body["phrase"] == phrase
    assert body["count"] == int(count)


def test_inflect_without_count_has_no_phrase():
    body = get("apple").json
    assert "phrase" not in body and "count" not in body


@pytest.mark.parametrize("count", ["-1", "1000001", "three", "1.5", "", "9" * 5000])
def test_inflect_bad_count_is_400(count):
    resp = get("apple", count=count)
    assert resp.status == 400
    assert "count" in resp.json["error"]


def test_inflect_word_length_is_checked():
    assert get("a" * 64).status == 200
    assert get("a" * 65).status == 400
    assert call(api.inflect, Request("GET", "/words/")).status == 400


@pytest.mark.parametrize(
    "form, expected",
    [
        ("plural", ["oxen", "apples", "ApplePies"]),
        ("singular", ["ox", "apple", "ApplePie"]),
        ("camel", ["Ox", "Apples", "ApplePie"]),
        ("underscore", ["ox", "apples", "apple_pie"]),
    ],
)
def test_batch_each_form(form, expected):
    words = ["ox", "apples", "ApplePie"]
    resp = post_batch({"words": words, "form": form})
    assert resp.status == 200
    assert resp.content_type == "application/json"
    assert resp.json == [{"word": w, "result": r} for w, r in zip(words, expected)]


def test_batch_form_defaults_to_plural():
    assert post_batch({"words": ["mouse"]}).json == [{"word": "mouse", "result": "mice"}]


def test_batch_accepts_100_words():
    resp = post_batch({"words": ["cat"] * 100})
    assert resp.status == 200 and len(resp.json) == 100


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        {},
        {"words": []},
        {"words": "ox"},
        {"words": [1]},
        {"words": [""]},
        {"words": ["a" * 65]},
        {"words": ["cat"] * 101},
        {"words": ["ox"], "form": "shout"},
        {"words": ["ox"], "form": None},
    ],
)
def test_batch_bad_bodies_are_400(payload):
    resp = post_batch(payload)
    assert resp.status == 400
    assert "error" in resp.json


def test_batch_invalid_json_is_400():
    resp = call(api.batch, Request("POST", "/words/batch", body=b"{not json"))
    assert resp.status == 400
    assert resp.json["error"].startswith("request body is not valid JSON")


def test_plural_text_is_plain_text():
    resp = call(
        api.plural_text,
        Request("GET", "/words/ox/plural", path_params={"word": "ox"}),
    )
    assert resp.status == 200
    assert resp.content_type == "text/plain; charset=utf-8"
    assert resp.text == "oxen"


def test_functions_run_through_the_runner_entry_point():
    import json

    meta = json.dumps(
        {
            "request_id": "r-1",
            "operation_id": "words.api.inflect",
            "method": "GET",
            "path": "/words/octopus",
            "base_path": "/words",
            "path_params": {"word": "octopus"},
            "query": [["count", "2"]],
            "headers": [["host", "localhost"]],
        }
    )
    status, headers, body = funcmesh._invoke(api.inflect, meta, b"")
    assert status == 200
    assert headers == [("content-type", "application/json")]
    assert json.loads(body)["phrase"] == "2 octopi"
