"""What the clients call to record analytics events: evaluations, identify, custom events.

It turns results into the official input events (``EventFactory``) and hands them to the event
processor, which may be on another thread. One recorder per client; ``None`` when events are off.
"""
from __future__ import annotations

from typing import Any, Optional

from ldfast.events.types import EventFactory


class EventRecorder:
    __slots__ = ("_processor", "_plain", "_with_reasons")

    def __init__(self, processor: Any):
        self._processor = processor
        self._plain = EventFactory(False)
        self._with_reasons = EventFactory(True)

    def evaluated(self, flag: Any, context: Any, detail: Any, default: Any, detailed: bool,
                  prerequisites: Optional[list]) -> None:
        """A flag evaluated (``detail`` before the default is substituted); prerequisite events first."""
        factory = self._with_reasons if detailed else self._plain
        send = self._processor.send_event
        if prerequisites:
            for pflag, presult, parent in prerequisites:
                send(factory.new_eval_event(pflag, context, presult, None, parent))
        if detail._variation_index is None:
            detail = type(detail)(default, None, detail._reason)
        send(factory.new_eval_event(flag, context, detail, default))

    def unknown(self, key: str, context: Any, default: Any, reason: dict, detailed: bool) -> None:
        factory = self._with_reasons if detailed else self._plain
        self._processor.send_event(factory.new_unknown_flag_event(key, context, default, reason))

    def failed(self, flag: Any, context: Any, default: Any, reason: dict, detailed: bool) -> None:
        factory = self._with_reasons if detailed else self._plain
        self._processor.send_event(factory.new_default_event(flag, context, default, reason))

    def identify(self, context: Any) -> None:
        self._processor.send_event(self._plain.new_identify_event(context))

    def custom(self, key: str, context: Any, data: Any, metric_value: Any) -> None:
        self._processor.send_event(self._plain.new_custom_event(key, context, data, metric_value))
