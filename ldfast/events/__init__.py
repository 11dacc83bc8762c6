"""Analytics events without I/O: event inputs, their JSON form, summary counters, the context-key cache.

The event processor (buffering, flushing, delivery) builds on these; see PROTOCOL.md section 8.
"""
from ldfast.events.formatter import ContextFormatter, EventOutputFormatter, format_context, serialize_events
from ldfast.events.lru import ContextKeyLRU
from ldfast.events.summarizer import EventSummarizer, EventSummary
from ldfast.events.types import (
    DebugEvent,
    EventFactory,
    EventInputCustom,
    EventInputEvaluation,
    EventInputIdentify,
    IndexEvent,
    current_time_millis,
    is_experiment,
)

__all__ = (
    "ContextFormatter",
    "ContextKeyLRU",
    "DebugEvent",
    "EventFactory",
    "EventInputCustom",
    "EventInputEvaluation",
    "EventInputIdentify",
    "EventOutputFormatter",
    "EventSummarizer",
    "EventSummary",
    "IndexEvent",
    "current_time_millis",
    "format_context",
    "is_experiment",
    "serialize_events",
)
