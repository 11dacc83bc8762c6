"""Summary counters: how many times each flag was evaluated, per (variation, version) (PROTOCOL.md 8.1).

The counters live in the compiled recorder (``ldfast._ext.recorder.SummaryTable``), which the
clients' evaluations update directly; :class:`EventSummarizer` is the same table fed with event
inputs, for code that has inputs in hand.
"""
from __future__ import annotations

from ldfast._ext.recorder import EventInputEvaluation, EventSummary, SummaryTable


class EventSummarizer:
    """Counts evaluation inputs for the summary event. Not thread-safe."""

    __slots__ = ("_table",)

    def __init__(self) -> None:
        self._table = SummaryTable()

    def summarize_event(self, event: EventInputEvaluation) -> None:
        """Count one evaluation, unless its flag has ``excludeFromSummaries``."""
        self._table.count_event(event)

    def snapshot(self) -> EventSummary:
        """The counters so far. Call ``clear`` before counting more if the snapshot is kept."""
        return self._table.snapshot()

    def clear(self) -> None:
        self._table.clear()

    def is_empty(self) -> bool:
        return self._table.is_empty()


__all__ = ("EventSummarizer", "EventSummary")
