"""The functions behind openapi.yaml: each ``operationId`` names one as
``module.function``."""

import os

import funcmesh


def hello(request):
    """``GET /{{name}}/hello?name=Ada`` answers ``{"greeting": "Hello, Ada!"}``.
    The greeting word is ``GREETING`` from funcmesh.toml's ``[env]``."""
    word = os.environ.get("GREETING", "Hello")
    name = request.query.get("name", "World")
    return {"greeting": f"{word}, {name}!"}


def create_item(request):
    """``POST /{{name}}/items`` answers 201 with the item and its id. The
    gateway has already checked the body against ``NewItem`` in the spec,
    and answered 400 if it did not match."""
    item = request.json
    quantity = item.get("quantity", 1)
    if item["name"].strip() == "":
        raise funcmesh.BadRequest("name is blank")
    return 201, {
        "id": f"{request.request_id}-{quantity}",
        "name": item["name"],
        "quantity": quantity,
    }
