"""Exceptions a function raises to answer with an HTTP error."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from ._response import Response, check_status

__all__ = ["HTTPError", "BadRequest"]


def _reason(status: int) -> str:
    """The standard reason phrase of ``status``, or ``"Error"``."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class HTTPError(Exception):
    """Raise to answer the request with ``status`` and ``body``.

    ``funcmesh.call`` and the runner catch it and answer with
    :meth:`to_response`, exactly as if the function had returned
    ``(status, body, headers)``::

        def get_pet(request):
            pet = PETS.get(request.path_params["petId"])
            if pet is None:
                raise funcmesh.HTTPError(404, {"error": "no such pet"})
            return pet

    ``body`` takes any body form a function may return (dict, list, str,
    bytes, ``None``). Left out (``None``), it is the JSON object
    ``{"error": "<reason phrase>"}``, e.g. ``{"error": "Not Found"}``.
    ``headers`` is a dict or an iterable of ``(name, value)`` pairs. The
    status is checked here, so a bad one fails where it is raised.

    Any other exception escaping a function is a failure of the function:
    the runner answers it with 502 and logs it.
    """

    def __init__(self, status: int, body: Any = None, headers: Any = None) -> None:
        status = check_status(status)
        super().__init__(status, body, headers)
        self.status = status
        self.body = body
        self.headers = headers

    def to_response(self) -> Response:
        """The response this error answers with."""
        body = self.body
        if body is None:
            body = {"error": _reason(self.status)}
        return Response(body, self.status, self.headers)

    def __str__(self) -> str:
        text = f"{self.status} {_reason(self.status)}"
        if self.body is not None:
            text += f": {self.body!r}"
        return text


class BadRequest(HTTPError, ValueError):
    """The request cannot be used: answered 400 ``{"error": message}``.

    Raised by :attr:`funcmesh.Request.json` for a body that is not valid
    JSON; a function raises it for any other input it refuses. It is a
    :class:`ValueError`, so code that parses input with ``except ValueError``
    keeps working, and an :class:`HTTPError`, so left uncaught it becomes a
    400 response rather than a failure of the function.
    """

    def __init__(self, message: str = "bad request", headers: Any = None) -> None:
        super().__init__(400, {"error": message}, headers)
        self.message = message
        # ``args`` as the constructor takes them, so that copies and pickles
        # rebuild the same error.
        self.args = (message, headers) if headers is not None else (message,)

    def __str__(self) -> str:
        return self.message


for _cls in (HTTPError, BadRequest):
    _cls.__module__ = "funcmesh"
del _cls
