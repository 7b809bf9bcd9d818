"""Write funcmesh functions in Python.

A Python bundle is an OpenAPI / Swagger description whose ``operationId``\\ s
name functions as ``module.function`` (a dotted module path relative to the
bundle directory, e.g. ``words.api.inflect``). A function takes one
:class:`Request` and returns the response in whichever form is handiest::

    def inflect(request):                       # GET /words/{word}
        word = request.path_params["word"]
        return {"word": word, "plural": word + "s"}        # 200, JSON

    def create(request):                        # POST /things
        thing = request.json                    # invalid JSON -> 400
        if "name" not in thing:
            raise funcmesh.BadRequest("name is required")  # 400
        return 201, thing, {"location": "/things/1"}

Return forms (see :func:`normalize`):

- ``dict`` / ``list``: 200 ``application/json``
- ``str``: 200 ``text/plain; charset=utf-8``
- ``bytes`` / ``bytearray`` / ``memoryview``: 200 ``application/octet-stream``
- ``None``: 204 with no body
- ``(status, body)`` or ``(status, body, headers)``
- a :class:`Response`

Raising :class:`HTTPError` (or :class:`BadRequest`) answers with its status
and body; any other exception is a failure of the function, answered 502 by
the runner.

Functions are tested with plain pytest, without the mesh::

    import funcmesh
    from mypkg.api import inflect

    def test_inflect():
        resp = funcmesh.call(inflect, funcmesh.Request(
            "GET", "/words/ox", path_params={"word": "ox"}))
        assert resp.status == 200 and resp.json["word"] == "ox"

The package has no dependencies beyond the standard library. The runner
calls functions through the private :func:`_invoke`.
"""

from ._call import _invoke as _invoke  # the runner's entry point
from ._call import call
from ._errors import BadRequest, HTTPError
from ._multimapping import Headers, MultiMapping
from ._request import Request
from ._response import Response, normalize

__version__ = "0.1.0"

__all__ = [
    "BadRequest",
    "HTTPError",
    "Headers",
    "MultiMapping",
    "Request",
    "Response",
    "call",
    "normalize",
    "__version__",
]
