"""The request a function receives."""

from __future__ import annotations

import json as _json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from ._errors import BadRequest
from ._multimapping import Headers, MultiMapping, PairsLike
from ._response import dumps

__all__ = ["Request"]

#: Marks "not given" (``json=``) and "not parsed yet" (the cached body).
_UNSET: Any = type("_Unset", (), {"__repr__": lambda self: "<unset>", "__slots__": ()})()

_loads = _json.loads


class Request:
    """One HTTP request, as the runner hands it to a function.

    Attributes (plain, read them freely):

    - ``method``: ``"GET"``, ``"POST"``, ... (upper case)
    - ``path``: the full request path, base path included, without the
      query string, e.g. ``"/words/apple"``
    - ``base_path``: the bundle's base path, e.g. ``"/words"``
    - ``operation_id``: the ``operationId`` of the matched operation
    - ``request_id``: the mesh's id of this request (for logs)
    - ``path_params``: ``dict`` of path template values, e.g.
      ``{"word": "apple"}``
    - ``query``: a :class:`MultiMapping` of the query string:
      ``query["tag"]`` / ``query.get("tag")`` give the first value,
      ``query.get_all("tag")`` all of them
    - ``headers``: a :class:`Headers` (the same, with case-insensitive
      names)
    - ``body``: ``bytes``

    and, computed from them, :attr:`text`, :attr:`json` and
    :attr:`content_type`.

    Parameters and bodies that the OpenAPI description declares were
    validated by the mesh before the function runs; values stay strings as
    they came (``int(request.query["count"])`` is the function's job).

    In tests, build one directly::

        Request("GET", "/words/apple", path_params={"word": "apple"},
                query={"count": 3})
        Request("POST", "/words/batch", json={"words": ["ox"]})

    ``query`` and ``headers`` take a dict (a list value repeats the name) or
    a list of ``(name, value)`` pairs; a query string in ``path`` is parsed
    into ``query`` when ``query`` is not given. ``json=obj`` sets the body
    to ``obj`` as JSON and, unless a content type is given, the header
    ``content-type: application/json``. ``body`` may be ``str`` (encoded
    as UTF-8) or bytes.
    """

    __slots__ = (
        "method",
        "path",
        "base_path",
        "operation_id",
        "request_id",
        "path_params",
        "query",
        "headers",
        "body",
        "_json",
    )

    method: str
    path: str
    base_path: str
    operation_id: str
    request_id: str
    path_params: dict[str, str]
    query: MultiMapping
    headers: Headers
    body: bytes

    def __init__(
        self,
        method: str = "GET",
        path: str = "/",
        *,
        path_params: Mapping[str, str] | None = None,
        query: PairsLike | None = None,
        headers: PairsLike | None = None,
        body: bytes | bytearray | memoryview | str = b"",
        json: Any = _UNSET,
        base_path: str = "",
        operation_id: str = "",
        request_id: str = "test",
    ) -> None:
        if not isinstance(method, str) or not method:
            raise TypeError("method must be a non-empty str")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"path must be a str starting with '/', not {path!r}")
        path, sep, query_string = path.partition("?")
        if sep:
            if query is not None:
                raise ValueError("give the query either in path or as query=, not both")
            query = parse_qsl(query_string, keep_blank_values=True)

        headers = Headers(headers)
        if json is not _UNSET:
            if body:
                raise ValueError("give either body= or json=, not both")
            body = dumps(json)
            if "content-type" not in headers:
                headers = Headers._trusted(
                    [("content-type", "application/json"), *headers.items()]
                )
        if isinstance(body, str):
            body = body.encode()
        elif isinstance(body, (bytearray, memoryview)):
            body = bytes(body)
        elif not isinstance(body, bytes):
            raise TypeError(f"body must be bytes or str, not {type(body).__name__}")

        self.method = method.upper()
        self.path = path
        self.base_path = base_path
        self.operation_id = operation_id
        self.request_id = request_id
        self.path_params = dict(path_params) if path_params is not None else {}
        self.query = MultiMapping(query)
        self.headers = headers
        self.body = body
        self._json = _UNSET

    @classmethod
    def _from_meta(cls, meta: dict[str, Any], body: bytes) -> Request:
        """The request the runner describes: ``meta`` is its decoded meta
        JSON object, trusted as is (nothing is copied or re-checked)."""
        self = cls.__new__(cls)
        self.method = meta["method"]
        self.path = meta["path"]
        self.base_path = meta["base_path"]
        self.operation_id = meta["operation_id"]
        self.request_id = meta["request_id"]
        self.path_params = meta["path_params"]
        self.query = MultiMapping._trusted(meta["query"])
        self.headers = Headers._trusted(meta["headers"])
        self.body = body
        self._json = _UNSET
        return self

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (``UnicodeDecodeError`` if it is not)."""
        return self.body.decode("utf-8")

    @property
    def json(self) -> Any:
        """The body parsed as JSON, parsed once and cached.

        ``None`` when the body is empty. A body that is not valid JSON
        (nor UTF-8) raises :class:`funcmesh.BadRequest`, which, uncaught,
        answers 400 ``{"error": "request body is not valid JSON: ..."}``.
        The content type is not looked at: the mesh has already checked it
        against the operation's declared request body.
        """
        value = self._json
        if value is _UNSET:
            body = self.body
            if not body:
                value = None
            else:
                try:
                    value = _loads(body)
                except (ValueError, RecursionError) as exc:
                    # ValueError covers JSONDecodeError and UnicodeDecodeError.
                    raise BadRequest(f"request body is not valid JSON: {exc}") from exc
            self._json = value
        return value

    @property
    def content_type(self) -> str | None:
        """The media type of the body without parameters, in lower case
        (``"application/json"`` for ``application/JSON; charset=utf-8``),
        or ``None`` when there is no ``content-type`` header."""
        value = self.headers.get("content-type")
        if value is None:
            return None
        media_type = value.partition(";")[0].strip().lower()
        return media_type or None

    def __repr__(self) -> str:
        target = self.path
        if len(self.query):
            target += "?" + urlencode(self.query.items())
        parts = [f"<funcmesh.Request {self.method} {target}"]
        if self.operation_id:
            parts.append(f"operation_id={self.operation_id!r}")
        if self.path_params:
            parts.append(f"path_params={self.path_params!r}")
        parts.append(f"request_id={self.request_id!r}")
        if self.body:
            parts.append(f"body={len(self.body)} bytes")
        return " ".join(parts) + ">"


Request.__module__ = "funcmesh"
