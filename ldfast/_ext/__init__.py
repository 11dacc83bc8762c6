"""Compiled hot paths and their pure-Python twins; the choice between them is made here, once.

Each hot path X has ``X_py.py`` (pure Python) and ``X_c`` (Cython: either ``X_c.py``, a link to
``X_py.py`` compiled with the types in ``X_c.pxd``, or a hand-written ``X_c.pyx``), and a
dispatcher ``X.py`` that the rest of the package imports. The compiled twins cimport each other,
so they are used all together or not at all: only when every one of them is a built extension
module and ``LDFAST_NO_EXTENSIONS`` does not ask for pure Python.

An install that setup.py made pure for want of a C compiler leaves a marker file here (its text
the reason); importing ldfast then emits one ``ExtensionsUnavailableWarning`` unless
``LDFAST_NO_EXTENSIONS`` asks for pure Python anyway.
"""
import importlib.machinery
import importlib.util
import os
import platform
import sys
import warnings
from typing import Optional

from ldfast._ext._env import PURE_BUILD_MARKER, no_extensions

TWINS = ("operators", "bucketing", "model", "context", "recorder", "eventfmt", "evaluator", "jsonscan",
         "linetext")


def _is_built(name: str) -> bool:
    spec = importlib.util.find_spec("ldfast._ext.%s_c" % name)
    origin = getattr(spec, "origin", None) or ""
    return any(origin.endswith(suffix) for suffix in importlib.machinery.EXTENSION_SUFFIXES)


REQUESTED = not no_extensions()
BUILT = tuple(name for name in TWINS if _is_built(name))
USE_EXTENSIONS = REQUESTED and len(BUILT) == len(TWINS)


class ExtensionsUnavailableWarning(UserWarning):
    """ldfast was installed without its compiled twins because no working C compiler was found at
    install time: it runs on the pure-Python twins (same results, slower)."""

    __module__ = "ldfast"  # public as ldfast.ExtensionsUnavailableWarning; tracebacks say so


def _read_pure_build_reason() -> Optional[str]:
    try:
        with open(os.path.join(os.path.dirname(__file__), PURE_BUILD_MARKER), encoding="utf-8") as f:
            return f.read().strip() or "no working C compiler at install time"
    except OSError:
        return None


PURE_BUILD_REASON = None if BUILT else _read_pure_build_reason()
"""Why the install compiled nothing (setup.py's marker), or None."""


def unavailable_reason() -> Optional[str]:
    """Why the pure-Python twins are in use, or None when the compiled twins are."""
    if USE_EXTENSIONS:
        return None
    if not REQUESTED:
        if platform.python_implementation() != "CPython":
            return "not CPython (%s)" % platform.python_implementation()
        return "LDFAST_NO_EXTENSIONS=%s" % os.environ.get("LDFAST_NO_EXTENSIONS", "")
    if PURE_BUILD_REASON is not None:
        return "installed without a working C compiler: %s" % PURE_BUILD_REASON
    missing = ", ".join(name + "_c" for name in TWINS if name not in BUILT)
    return "compiled twins not built (missing: %s)" % missing


def _importer_stacklevel() -> int:
    """The warnings stacklevel of the first frame outside ldfast and the import machinery (the
    line that imported ldfast), so the warning points at the application. ``warnings`` does not
    count importlib's frames, so neither does this."""
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(("<frozen", package_dir)):
            break
        frame = frame.f_back
        if not frame.f_code.co_filename.startswith("<frozen importlib"):
            level += 1
    return level


if REQUESTED and PURE_BUILD_REASON is not None:
    warnings.warn(
        "ldfast is using its pure-Python twins (same results, slower): %s. Reinstall ldfast where a "
        "C compiler works for the compiled twins, or set LDFAST_NO_EXTENSIONS=1 to choose pure "
        "Python without this warning." % unavailable_reason(),
        ExtensionsUnavailableWarning,
        stacklevel=_importer_stacklevel(),
    )
