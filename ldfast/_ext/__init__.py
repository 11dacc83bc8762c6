"""Compiled hot paths and their pure-Python twins; the choice between them is made here, once.

Each hot path X has ``X_py.py`` (pure Python) and ``X_c`` (Cython: either ``X_c.py``, a link to
``X_py.py`` compiled with the types in ``X_c.pxd``, or a hand-written ``X_c.pyx``), and a
dispatcher ``X.py`` that the rest of the package imports. The compiled twins cimport each other,
so they are used all together or not at all: only when every one of them is a built extension
module and ``LDFAST_NO_EXTENSIONS`` does not ask for pure Python.
"""
import importlib.machinery
import importlib.util

from ldfast._ext._env import no_extensions

TWINS = ("operators", "bucketing", "model", "context", "recorder", "eventfmt", "evaluator", "jsonscan")


def _is_built(name: str) -> bool:
    spec = importlib.util.find_spec("ldfast._ext.%s_c" % name)
    origin = getattr(spec, "origin", None) or ""
    return any(origin.endswith(suffix) for suffix in importlib.machinery.EXTENSION_SUFFIXES)


REQUESTED = not no_extensions()
BUILT = tuple(name for name in TWINS if _is_built(name))
USE_EXTENSIONS = REQUESTED and len(BUILT) == len(TWINS)
