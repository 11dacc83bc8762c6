"""Flag and segment data model (public module); the implementation is ``ldfast._ext.model``."""
from ldfast._ext.model import MALFORMED, Flag, Segment, parse_flag, parse_segment, pending_flag, reset_after_fork

__all__ = ("MALFORMED", "Flag", "Segment", "parse_flag", "parse_segment", "pending_flag",
           "reset_after_fork")
