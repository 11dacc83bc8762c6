"""Compiled hot paths and their pure-Python twins; the choice between them is made here, once.

Each hot path X has ``X_c`` (Cython) and ``X_py`` (pure Python) and a dispatcher ``X`` that the
rest of the package imports. ``LDFAST_NO_EXTENSIONS=1`` (or a non-CPython interpreter) selects the
pure twins.
"""
from ldfast._ext._env import no_extensions

USE_EXTENSIONS = not no_extensions()
