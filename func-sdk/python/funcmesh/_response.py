"""The response, and the conversion of whatever a function returns into one."""

from __future__ import annotations

import json as _json
import re
import types
from collections.abc import Mapping
from typing import Any, Callable

__all__ = ["Response", "normalize", "check_status", "dumps"]

JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"
OCTET_TYPE = "application/octet-stream"

#: One encoder for every call: ``json.dumps`` with keyword arguments would
#: build a new one each time.
_ENCODER = _json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_encode = _ENCODER.encode


def dumps(obj: Any) -> bytes:
    """``obj`` as compact UTF-8 JSON.

    Same output as ``json.dumps(obj, separators=(",", ":"),
    ensure_ascii=False).encode()``; an object JSON cannot encode raises
    ``TypeError``.
    """
    return _encode(obj).encode()


#: RFC 9110 ``token``: what a header name may be made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: What a header value must not contain: it would end the header line.
_BAD_VALUE = re.compile(r"[\r\n\x00]")

_BODY_FORMS = "dict, list, str, bytes, bytearray, memoryview or None"
_RESULT_FORMS = (
    "dict or list (JSON), str (text), bytes/bytearray/memoryview (binary), "
    "None (204), a (status, body) or (status, body, headers) tuple, "
    "or a funcmesh.Response"
)


def type_name(obj: Any) -> str:
    """The name of ``obj``'s type, module-qualified unless built in."""
    kind = type(obj)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def check_status(status: Any) -> int:
    """``status`` as a plain ``int`` if it is an HTTP status (100..=599).

    Accepts ``int`` and its subclasses such as ``http.HTTPStatus``, but not
    ``bool``; anything else raises ``ValueError``.
    """
    if isinstance(status, int) and not isinstance(status, bool):
        if 100 <= status <= 599:
            return int(status)
        raise ValueError(f"status {status} is not in 100..=599")
    raise ValueError(
        f"status must be an int in 100..=599, not {type_name(status)} {status!r}"
    )


def check_headers(headers: Any) -> list[tuple[str, str]]:
    """Response headers as a new list of checked ``(name, value)`` pairs.

    ``headers`` is ``None``, a mapping, or an iterable of pairs. Names must
    be non-empty ``str`` tokens (so no CR, LF, colon or space); values
    ``str`` or ``int`` (converted with ``str()``) without CR, LF or NUL.
    Any violation raises ``ValueError``.
    """
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        items = headers.items()
    elif isinstance(headers, (str, bytes, bytearray)):
        raise ValueError(
            "headers must be a dict or an iterable of (name, value) pairs, "
            f"not {type(headers).__name__}"
        )
    else:
        try:
            items = iter(headers)
        except TypeError:
            raise ValueError(
                "headers must be a dict or an iterable of (name, value) pairs, "
                f"not {type(headers).__name__}"
            ) from None
    out = []
    for item in items:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise ValueError(
                f"each header must be a (name, value) pair, got {item!r}"
            ) from None
        if not isinstance(name, str):
            raise ValueError(f"header name must be str, not {type(name).__name__}")
        if not _TOKEN.fullmatch(name):
            raise ValueError(
                f"invalid header name {name!r}: it must be a non-empty token "
                "(no CR, LF, colon, space or other separator)"
            )
        if not isinstance(value, str):
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(int(value))
            else:
                raise ValueError(
                    f"value of header {name!r} must be str or int, "
                    f"not {type(value).__name__}"
                )
        elif _BAD_VALUE.search(value):
            raise ValueError(f"value of header {name!r} contains CR, LF or NUL")
        out.append((name, value))
    return out


def encode_body(body: Any, what: str = "response body") -> tuple[bytes, str | None]:
    """``body`` as bytes, with its default content type (``None`` for none)."""
    kind = type(body)
    if kind is dict or kind is list:
        return dumps(body), JSON_TYPE
    if kind is str:
        return body.encode(), TEXT_TYPE
    if kind is bytes:
        return body, OCTET_TYPE
    if body is None:
        return b"", None
    if isinstance(body, (dict, list)):
        return dumps(body), JSON_TYPE
    if isinstance(body, str):
        return str(body).encode(), TEXT_TYPE
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body), OCTET_TYPE
    raise TypeError(f"a {type_name(body)} cannot be a {what}; use {_BODY_FORMS}")


def _has_content_type(headers: list[tuple[str, str]]) -> bool:
    return any(name.lower() == "content-type" for name, _ in headers)


def _head(
    status: Any, headers: Any, content_type: str | None
) -> tuple[int, list[tuple[str, str]]]:
    """The checked status and headers, with ``content_type`` added first
    unless ``headers`` name a content type."""
    status = check_status(status)
    pairs = check_headers(headers)
    if content_type is not None and not _has_content_type(pairs):
        pairs.insert(0, ("content-type", content_type))
    return status, pairs


def _build(cls: type, body: bytes, content_type: str | None, status: Any, headers: Any):
    status, pairs = _head(status, headers, content_type)
    return cls._raw(status, pairs, body)


class _FactoryOrProperty:
    """``Response.json(obj)`` builds a response; ``response.json`` reads one.

    On the class, the attribute is the factory bound to the class (like a
    classmethod); on an instance, it is the value of ``getter`` (like a
    read-only property).
    """

    def __init__(self, factory: Callable, getter: Callable) -> None:
        self._factory = factory
        self._getter = getter
        self.__doc__ = factory.__doc__

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return types.MethodType(self._factory, owner)
        return self._getter(instance)


def _json_factory(cls, obj: Any, status: int = 200, headers: Any = None) -> Response:
    """A response whose body is ``obj`` as JSON (``application/json``).

    Unlike returning ``obj``, any JSON value works here, ``None`` (``null``)
    and strings included. ``headers`` may override the content type.
    """
    return _build(cls, dumps(obj), JSON_TYPE, status, headers)


def _json_getter(self: Response) -> Any:
    """The body parsed as JSON; ``None`` when it is empty."""
    return _json.loads(self.body) if self.body else None


def _text_factory(cls, text: str, status: int = 200, headers: Any = None) -> Response:
    """A response whose body is ``text`` (``text/plain; charset=utf-8``)."""
    if not isinstance(text, str):
        raise TypeError(f"Response.text() takes a str, not {type(text).__name__}")
    return _build(cls, text.encode(), TEXT_TYPE, status, headers)


def _text_getter(self: Response) -> str:
    """The body decoded as UTF-8."""
    return self.body.decode("utf-8")


class Response:
    """An HTTP response: ``status`` (int), ``headers`` (a list of
    ``(name, value)`` pairs) and ``body`` (bytes).

    ``Response(body, status, headers)`` takes the body in any form a
    function may return and adds the matching content type unless
    ``headers`` names one (in any case):

    ==========================  ==============================
    body                        content-type
    ==========================  ==============================
    dict, list                  ``application/json``
    str                         ``text/plain; charset=utf-8``
    bytes, bytearray,           ``application/octet-stream``
    memoryview
    None                        none, and an empty body
    ==========================  ==============================

    ``Response.json(obj)`` and ``Response.text(s)`` build JSON and text
    responses; on a response, ``.json`` and ``.text`` read the body back,
    which is what tests assert on. ``headers`` is a plain list, so a
    function may append to it; it is checked again when the response is
    returned.
    """

    __slots__ = ("status", "headers", "body")

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def __init__(self, body: Any = None, status: int = 200, headers: Any = None) -> None:
        content, content_type = encode_body(body)
        self.status, self.headers = _head(status, headers, content_type)
        self.body = content

    @classmethod
    def _raw(cls, status: int, headers: list[tuple[str, str]], body: bytes) -> Response:
        """A response from parts that are already checked."""
        self = cls.__new__(cls)
        self.status = status
        self.headers = headers
        self.body = body
        return self

    json = _FactoryOrProperty(_json_factory, _json_getter)
    text = _FactoryOrProperty(_text_factory, _text_getter)

    def get_header(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (any case), or ``default``."""
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return default

    @property
    def content_type(self) -> str | None:
        """The ``content-type`` header as given, or ``None``."""
        return self.get_header("content-type")

    def _check(self) -> Response:
        """Checks (and canonicalizes) the attributes, which a function may
        have changed since construction; returns ``self``."""
        self.status = check_status(self.status)
        self.headers = check_headers(self.headers)
        body = self.body
        if type(body) is not bytes:
            if not isinstance(body, (bytes, bytearray, memoryview)):
                raise TypeError(
                    "Response.body must be bytes, bytearray or memoryview, "
                    f"not {type(body).__name__}"
                )
            self.body = bytes(body)
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return (self.status, self.headers, self.body) == (
            other.status,
            other.headers,
            other.body,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        body = self.body
        shown = body if len(body) <= 60 else body[:57] + b"..."
        return (
            f"<funcmesh.Response {self.status} headers={self.headers!r} body={shown!r}>"
        )


Response.__module__ = "funcmesh"


def normalize(result: Any) -> Response:
    """The :class:`Response` a function's return value stands for.

    - ``dict`` or ``list``: 200, JSON, ``application/json``
    - ``str``: 200, UTF-8, ``text/plain; charset=utf-8``
    - ``bytes``, ``bytearray``, ``memoryview``: 200,
      ``application/octet-stream``
    - ``None``: 204, empty body, no content type
    - ``(status, body)`` or ``(status, body, headers)``: ``body`` in one of
      the forms above, ``headers`` a dict or an iterable of ``(name, value)``
      pairs that override the default content type; i.e.
      ``Response(body, status, headers)``
    - a :class:`Response`: itself, after checking its attributes

    Anything else raises ``TypeError``; a bad status or header raises
    ``ValueError``; a dict or list JSON cannot encode raises ``TypeError``.
    """
    kind = type(result)
    if kind is dict or kind is list:
        return Response._raw(200, [("content-type", JSON_TYPE)], dumps(result))
    if result is None:
        return Response._raw(204, [], b"")
    if isinstance(result, Response):
        return result._check()
    if isinstance(result, tuple):
        if len(result) == 2:
            status, body = result
            headers = None
        elif len(result) == 3:
            status, body, headers = result
        else:
            raise TypeError(
                f"a returned tuple must be (status, body) or (status, body, headers), "
                f"not {len(result)} items long"
            )
        status = check_status(status)
        content, content_type = encode_body(body, "body in a returned tuple")
        return _build(Response, content, content_type, status, headers)
    if isinstance(result, (dict, list, str, bytes, bytearray, memoryview)):
        content, content_type = encode_body(result)
        return Response._raw(200, [("content-type", content_type)], content)
    raise TypeError(
        f"a function returned a {type_name(result)}, "
        f"which is not a response; return {_RESULT_FORMS}"
    )
