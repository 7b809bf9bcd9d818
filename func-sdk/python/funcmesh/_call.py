"""Calling a function: from tests (:func:`call`) and from the runner
(:func:`_invoke`)."""

from __future__ import annotations

import json as _json
from typing import Any, Callable

from ._errors import HTTPError
from ._request import Request
from ._response import JSON_TYPE, TEXT_TYPE, Response, dumps, normalize

__all__ = ["call", "_invoke"]

_loads = _json.loads
_JSON_HEADER = ("content-type", JSON_TYPE)
_TEXT_HEADER = ("content-type", TEXT_TYPE)


def call(func: Callable[[Request], Any], request: Request) -> Response:
    """Calls ``func(request)`` and returns the :class:`Response` the mesh
    would answer with: what the function returned, through
    :func:`normalize`, or the response of an :class:`HTTPError` it raised.

    Any other exception propagates (the mesh would answer 502), so a test
    sees the traceback::

        def test_greet():
            resp = funcmesh.call(greet, funcmesh.Request(query={"name": "Ada"}))
            assert resp.status == 200
            assert resp.json == {"greeting": "Hello, Ada!"}
    """
    try:
        result = func(request)
    except HTTPError as exc:
        return exc.to_response()
    return normalize(result)


def _invoke(
    func: Callable[[Request], Any], meta_json: str, body: bytes
) -> tuple[int, list[tuple[str, str]], bytes]:
    """The runner's entry point: one request in, ``(status, headers, body)``
    out.

    ``meta_json`` is the JSON object the runner builds for the request::

        {"request_id": str, "operation_id": str, "method": str,
         "path": str, "base_path": str, "path_params": {str: str},
         "query": [[name, value], ...], "headers": [[lower-case name, value], ...]}

    and ``body`` the request body. The result is a new tuple of a plain
    ``int`` status in 100..=599, a new list of ``(str, str)`` header pairs
    and ``bytes``. Any exception other than :class:`HTTPError` (a bad return
    value included) propagates unchanged for the runner to answer 502.

    This runs once per request, so it trusts ``meta_json`` (it is the
    runner's own output) and takes short paths for the common returns.
    """
    if type(body) is not bytes:
        body = bytes(body)
    request = Request._from_meta(_loads(meta_json), body)
    try:
        result = func(request)
    except HTTPError as exc:
        response = exc.to_response()
    else:
        kind = type(result)
        if kind is dict or kind is list:
            return 200, [_JSON_HEADER], dumps(result)
        if kind is str:
            return 200, [_TEXT_HEADER], result.encode()
        if result is None:
            return 204, [], b""
        response = normalize(result)
    return response.status, response.headers, response.body
