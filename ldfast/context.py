"""Evaluation contexts (public module): Context, ContextBuilder, ContextMultiBuilder.

The implementation is ``ldfast._ext.context`` (compiled or pure twin).
"""
from ldfast._ext.context import Context, ContextBuilder, ContextMultiBuilder, to_context

__all__ = ("Context", "ContextBuilder", "ContextMultiBuilder", "to_context")
