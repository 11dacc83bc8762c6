"""Output events: event inputs and summary counters turned into the JSON sent to LaunchDarkly.

Compiled (``ldfast._ext.eventfmt``): the dicts have the official SDK's keys in the official SDK's
order (PROTOCOL.md 8.1, 8.4) and are written with orjson (``json.dumps`` for what orjson refuses),
so a payload parses to the official SDK's JSON.
"""
from ldfast._ext.eventfmt import ContextFormatter, EventOutputFormatter, dumps_items, format_context, serialize_events

__all__ = ("ContextFormatter", "EventOutputFormatter", "dumps_items", "format_context", "serialize_events")
