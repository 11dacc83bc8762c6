"""What setup.py and the runtime share: the LDFAST_NO_EXTENSIONS switch and the pure-build marker."""
from __future__ import annotations

import os
import platform
from typing import Mapping, Optional

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")

PURE_BUILD_MARKER = "_pure_build.txt"
"""File that setup.py writes beside the twins when it installed them pure for want of a working C
compiler; its text is the reason. Absent after a compiled build or one that LDFAST_NO_EXTENSIONS
made pure."""


def no_extensions(environ: Optional[Mapping[str, str]] = None) -> bool:
    """True when LDFAST_NO_EXTENSIONS asks for the pure-Python twins, or when not on CPython."""
    env = os.environ if environ is None else environ
    raw = env.get("LDFAST_NO_EXTENSIONS", "").strip().lower()
    if raw in _TRUE:
        return True
    if raw not in _FALSE:
        raise ValueError(
            "LDFAST_NO_EXTENSIONS must be one of 1/true/yes or 0/false/no/empty, got %r" % raw
        )
    return platform.python_implementation() != "CPython"
