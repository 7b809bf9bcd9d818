"""Tests of the functions, called as the runner calls them. The funcmesh
package's pytest plugin puts this bundle first on sys.path."""

from funcmesh import Request, call

from {{module}} import api


def test_hello_greets_by_name():
    resp = call(api.hello, Request("GET", "/hello", query={"name": "Ada"}))
    assert resp.status == 200
    assert resp.json == {"greeting": "Hello, Ada!"}


def test_create_item_answers_201_with_the_item():
    resp = call(api.create_item, Request("POST", "/items", json={"name": "pen", "quantity": 3}))
    assert resp.status == 201
    assert resp.json["name"] == "pen" and resp.json["quantity"] == 3


def test_a_blank_name_is_refused():
    resp = call(api.create_item, Request("POST", "/items", json={"name": " "}))
    assert resp.status == 400


def test_quantity_defaults_to_one():
    resp = call(api.create_item, Request("POST", "/items", json={"name": "pen"}))
    assert resp.json["quantity"] == 1
