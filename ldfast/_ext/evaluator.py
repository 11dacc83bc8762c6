"""Dispatcher: the compiled evaluator twin when extensions are enabled and built, else the pure one."""
from typing import TYPE_CHECKING

from ldfast._ext import USE_EXTENSIONS

if TYPE_CHECKING or not USE_EXTENSIONS:
    from ldfast._ext.evaluator_py import *  # noqa: F401,F403
    from ldfast._ext import evaluator_py as implementation
else:
    try:
        from ldfast._ext.evaluator_c import *  # type: ignore  # noqa: F401,F403
        from ldfast._ext import evaluator_c as implementation  # type: ignore
    except ImportError:
        from ldfast._ext.evaluator_py import *  # noqa: F401,F403
        from ldfast._ext import evaluator_py as implementation
