"""The context-key cache that decides when an ``index`` event is needed (PROTOCOL.md 8.5).

Compiled with the recorder, which keeps one per event processor (``ldfast._ext.recorder``).
"""
from ldfast._ext.recorder import ContextKeyLRU

__all__ = ("ContextKeyLRU",)
