"""The pytest plugin of the funcmesh package: a bundle's tests import its
code as the runner does.

Before pytest imports a test file, the plugin finds the bundle the file
belongs to (the nearest directory above it holding ``funcmesh.toml`` or an
OpenAPI / Swagger spec) and puts that directory, then its vendored
``lib/``, first on ``sys.path``. ``pytest`` run anywhere (in the bundle,
above it, or with a test file's path) then resolves ``import mypkg.api``
and the bundle's vendored dependencies to the bundle's own copies.

Installed with the package, pytest loads it by itself (the ``pytest11``
entry point); with the package only on ``PYTHONPATH``, load it with
``-p funcmesh.pytest_plugin``.
"""

from __future__ import annotations

import os
import sys

__all__ = ["bundle_dir"]

_MARKERS = ("funcmesh.toml",) + tuple(
    name + ext for name in ("openapi", "swagger") for ext in (".yaml", ".yml", ".json")
)


def bundle_dir(path: str) -> str | None:
    """The bundle directory holding ``path`` (a file or directory): the
    nearest one at or above it with ``funcmesh.toml`` or a spec, or None."""
    current = os.path.abspath(path)
    if not os.path.isdir(current):
        current = os.path.dirname(current)
    while True:
        if any(os.path.isfile(os.path.join(current, m)) for m in _MARKERS):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def _put_first(path: str) -> None:
    if path in sys.path:
        sys.path.remove(path)
    sys.path.insert(0, path)


def pytest_collect_file(file_path, parent):
    """Called for every file pytest looks at, before it imports any: a
    Python file inside a bundle puts the bundle on ``sys.path``."""
    if file_path.suffix != ".py":
        return None
    bundle = bundle_dir(str(file_path))
    if bundle is not None:
        _put_first(os.path.join(bundle, "lib"))
        _put_first(bundle)
    return None
