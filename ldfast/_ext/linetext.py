"""Dispatcher for the linetext twins: compiled when extensions are in use, else pure Python."""
from typing import TYPE_CHECKING

from ldfast._ext import USE_EXTENSIONS

if TYPE_CHECKING or not USE_EXTENSIONS:
    from ldfast._ext import linetext_py as _twin
    from ldfast._ext.linetext_py import *  # noqa: F401,F403
else:
    from ldfast._ext import linetext_c as _twin  # type: ignore[no-redef]
    from ldfast._ext.linetext_c import *  # type: ignore  # noqa: F401,F403

implementation = _twin  # the twin in use
