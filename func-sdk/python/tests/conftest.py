"""Makes the ``funcmesh`` package importable from this source tree, so the
tests run without installing it."""

import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
