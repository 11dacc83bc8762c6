"""The ``migration_op`` analytics event: the input an ``OpTracker`` builds, and its JSON form.

``ldfast.migrations.OpTracker.build()`` makes a :class:`MigrationOpEvent`, which the clients'
``track_migration_op`` records. The event pipeline (``ldfast._ext.recorder``, ``eventfmt``) passes
such an input through as it is, since it has ``output_event``: its context goes into the
context-key cache but never has an ``index`` event, it is kept with probability 1/``sampling_ratio``
(the flag's ``samplingRatio``), and the formatter asks it for its JSON form, giving it its context
with anonymous redaction. The fields and their order are launchdarkly-server-sdk 9.20's
(``event_processor_common.py``, PROTOCOL.md 8.1).

The official SDK writes the ``invoked`` and ``error`` origins in the order of a Python set of enum
members, which varies from process to process; ldfast writes them OLD first. ``latency_ms`` keeps
the order the latencies were recorded in, as the official SDK.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Dict, List, Optional, Set

_MS = timedelta(milliseconds=1)


class MigrationOpEvent:
    """The measurements of one migration-assisted read or write (made by ``OpTracker.build()``;
    not meant to be constructed directly)."""

    __slots__ = ("timestamp", "context", "sampling_ratio", "key", "flag", "operation", "default_stage", "detail",
                 "invoked", "consistent", "consistent_ratio", "errors", "latencies")

    def __init__(self, timestamp: int, context: Any, key: str, flag: Any, operation: Any, default_stage: Any,
                 detail: Any, invoked: Set[Any], consistent: Optional[bool], consistent_ratio: Optional[int],
                 errors: Set[Any], latencies: Dict[Any, timedelta]):
        self.timestamp = timestamp
        self.context = context
        self.sampling_ratio = None if flag is None else flag.sampling_ratio
        self.key = key
        self.flag = flag
        self.operation = operation
        self.default_stage = default_stage
        self.detail = detail
        self.invoked = invoked
        self.consistent = consistent
        self.consistent_ratio = consistent_ratio
        self.errors = errors
        self.latencies = latencies

    def output_event(self, context: Any) -> Dict[str, Any]:
        """The JSON event, given the context's event form (anonymous attributes redacted)."""
        detail = self.detail
        evaluation: Dict[str, Any] = {"key": self.key, "value": detail.value}
        if self.flag is not None:
            evaluation["version"] = self.flag.version
        if self.default_stage:
            evaluation["default"] = self.default_stage.value
        if detail.variation_index is not None:
            evaluation["variation"] = detail.variation_index
        if detail.reason is not None:
            evaluation["reason"] = detail.reason
        out: Dict[str, Any] = {"kind": "migration_op", "creationDate": self.timestamp,
                               "operation": self.operation.value, "context": context, "evaluation": evaluation}
        if self.sampling_ratio is not None and self.sampling_ratio != 1:
            out["samplingRatio"] = self.sampling_ratio
        measurements: List[Dict[str, Any]] = []
        if self.invoked:
            measurements.append({"key": "invoked", "values": {o.value: True for o in _in_order(self.invoked)}})
        if self.consistent is not None:
            consistent: Dict[str, Any] = {"key": "consistent", "value": self.consistent}
            if self.consistent_ratio is not None and self.consistent_ratio != 1:
                consistent["samplingRatio"] = self.consistent_ratio
            measurements.append(consistent)
        if self.latencies:
            measurements.append({"key": "latency_ms",
                                 "values": {o.value: d / _MS for o, d in self.latencies.items()}})
        if self.errors:
            measurements.append({"key": "error", "values": {o.value: True for o in _in_order(self.errors)}})
        if measurements:
            out["measurements"] = measurements
        return out

    def to_debugging_dict(self) -> dict[str, Any]:
        """The event's fields, for debugging (as the official SDK's)."""
        return {
            "timestamp": self.timestamp,
            "context": self.context.to_dict(),
            "flag": None if self.flag is None else {"key": self.flag.key},
            "operation": self.operation.value,
            "default_stage": self.default_stage.value,
            "detail": self.detail,
            "invoked": self.invoked,
            "consistent": self.consistent,
            "consistent_ratio": self.consistent_ratio,
            "errors": self.errors,
            "latencies": self.latencies,
        }

    def __repr__(self) -> str:
        return "MigrationOpEvent(%r, key=%r, operation=%s)" % (self.timestamp, self.key, self.operation)


def _in_order(origins: Set[Any]) -> List[Any]:
    """The origins OLD first (a stable order; enum members sort by value: "new" < "old")."""
    return sorted(origins, key=lambda o: o.value, reverse=True)


__all__ = ("MigrationOpEvent",)
