"""Puts the bundle directory and its vendored ``lib/`` first on
``sys.path``, as the runner does, so ``import words`` and ``import
inflection`` resolve to this bundle's copies.

``funcmesh`` itself must be importable: installed
(``pip install ./func-sdk/python``) or on ``PYTHONPATH=func-sdk/python``.
"""

import os
import sys

_BUNDLE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

for _path in (os.path.join(_BUNDLE, "lib"), _BUNDLE):
    if _path in sys.path:
        sys.path.remove(_path)
    sys.path.insert(0, _path)
