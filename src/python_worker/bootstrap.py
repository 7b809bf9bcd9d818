"""The Python side of a funcmesh worker process.

The runner starts one worker per interpreter. This module prepares the
interpreter for one bundle version, resolves the functions its operationIds
name, and runs each call under a deadline. It is executed by the worker
before any code of the bundle.
"""

import importlib
import importlib.abc
import importlib.util
import os
import signal
import sys
import time
import traceback


class DeadlineExceeded(BaseException):
    """Raised inside a function that runs past its deadline.

    A BaseException, like KeyboardInterrupt, so that `except Exception`
    in a function does not swallow it.
    """


_armed = False


def _on_alarm(signum, frame):
    if _armed:
        raise DeadlineExceeded("the function ran past its deadline")


class _SdkFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the funcmesh SDK package from the sources the runner carries,
    ahead of any copy a bundle vendors, so every bundle gets the SDK the
    runner speaks."""

    def __init__(self, sources):
        self._sources = sources

    def find_spec(self, name, path=None, target=None):
        if name not in self._sources:
            return None
        package = name == "funcmesh"
        spec = importlib.util.spec_from_loader(name, self, is_package=package)
        if package:
            spec.submodule_search_locations = []
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        name = module.__name__
        filename = "<funcmesh-sdk>/" + name.replace(".", "/") + ".py"
        code = compile(self._sources[name], filename, "exec")
        exec(code, module.__dict__)


def setup(bundle_dir, sdk_sources, env):
    """sys.path is the bundle, then its lib/, then the standard library:
    a bundle sees only what it carries, never the machine's site-packages.
    The manifest's ``[env]`` joins ``os.environ`` (and the C environment,
    through putenv) before any of the bundle's code runs."""
    os.environ.update(env)
    sys.dont_write_bytecode = True
    keep = [
        p
        for p in sys.path
        if p and "site-packages" not in p and "dist-packages" not in p
    ]
    sys.path[:] = [bundle_dir, bundle_dir + "/lib"] + keep
    sys.meta_path.insert(0, _SdkFinder(dict(sdk_sources)))
    signal.signal(signal.SIGALRM, _on_alarm)


def load(operations):
    """Imports the modules and returns ({operationId: function}, None), or
    (None, message) naming every operation that cannot be served."""
    started = time.monotonic()
    functions = {}
    problems = []
    failed = set()
    for op in operations:
        module_name, _, name = op.rpartition(".")
        if module_name in failed:
            problems.append(f"operationId `{op}`: importing `{module_name}` failed (above)")
            continue
        try:
            module = importlib.import_module(module_name)
        except BaseException as exc:  # a SyntaxError, an ImportError, a sys.exit()
            failed.add(module_name)
            problems.append(f"operationId `{op}`: importing `{module_name}` failed:\n{_import_failure(exc)}")
            continue
        function = getattr(module, name, None)
        if function is None:
            problems.append(f"operationId `{op}`: module `{module_name}` has no `{name}`")
        elif not callable(function):
            problems.append(f"operationId `{op}`: `{op}` is a {type(function).__name__}, not a function")
        else:
            functions[op] = function
    elapsed_ms = int((time.monotonic() - started) * 1000)
    if problems:
        return None, "\n".join(problems), elapsed_ms
    return functions, None, elapsed_ms


def _import_failure(exc):
    """The traceback of a failed import as the author needs it: the
    frames of their files (and of what they import), not those of Python's
    import machinery or of this module; chained exceptions kept."""
    shown = traceback.TracebackException.from_exception(exc)
    seen = set()
    part = shown
    while part is not None and id(part) not in seen:
        seen.add(id(part))
        frames = [f for f in part.stack if not _machinery(f.filename)]
        part.stack = traceback.StackSummary.from_list(frames)
        part = part.__cause__ or part.__context__
    return "".join(shown.format()).rstrip()


def _machinery(filename):
    return (
        filename.startswith("<frozen ")
        or filename.startswith("<funcmesh-")
        or filename.endswith(os.sep + os.path.join("importlib", "__init__.py"))
    )


def run(invoke, function, meta, body, budget_s):
    """Calls `invoke(function, meta, body)` with SIGALRM armed for the
    budget; the handler raises DeadlineExceeded in the function."""
    global _armed
    _armed = True
    signal.setitimer(signal.ITIMER_REAL, budget_s)
    try:
        return invoke(function, meta, body)
    finally:
        _armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)


def describe(exc):
    """(type name, message, traceback) of an exception a call raised."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
    return type(exc).__name__, str(exc), text
