"""Summary counters: how many times each flag was evaluated, per (variation, version) (PROTOCOL.md 8.1).

``summarize_event`` runs for every evaluation, so the data is kept in plain lists and dicts and the
common case (a counter that exists) allocates nothing:

- ``flags``: flag key -> ``[default, context_kinds (set), by_variation (dict), counters (list)]``
- a counter: ``[count, value, variation, version, older]``; ``counters`` holds them in creation
  order (the order they are sent in) and ``by_variation`` maps a variation index to its newest
  counter, whose ``older`` links to counters of the same variation for other flag versions.

Counters compare variations and versions with ``==``, like the official SDK's tuple keys.
``contextKinds`` is kept in a ``set`` filled in the official SDK's order, so that within a process
its list comes out in the same order as the official SDK's.
"""
from __future__ import annotations

from typing import Any, Dict, List

from ldfast.events.types import EventInputEvaluation

# indexes into a flag entry and a counter
DEFAULT, KINDS, BY_VARIATION, COUNTERS = 0, 1, 2, 3
COUNT, VALUE, VARIATION, VERSION, OLDER = 0, 1, 2, 3, 4


class EventSummary:
    """A snapshot of the counters of one flush period (see the module docstring for ``flags``)."""

    __slots__ = ("start_date", "end_date", "flags")

    def __init__(self, start_date: int, end_date: int, flags: Dict[str, List[Any]]):
        self.start_date = start_date
        self.end_date = end_date
        self.flags = flags

    def is_empty(self) -> bool:
        return not self.flags


class EventSummarizer:
    """Counts evaluation events for the summary event. Not thread-safe."""

    __slots__ = ("_start", "_end", "_flags")

    def __init__(self) -> None:
        self._start = 0
        self._end = 0
        self._flags: Dict[str, List[Any]] = {}

    def summarize_event(self, event: EventInputEvaluation) -> None:
        """Count one evaluation, unless its flag has ``excludeFromSummaries``."""
        if event.exclude_from_summaries:
            return
        flag = self._flags.get(event.key)
        if flag is None:
            flag = [event.default_value, set(), {}, []]
            self._flags[event.key] = flag
        context = event.context
        multi = context._multi
        if multi is None:
            flag[1].add(context._kind)
        else:
            kinds = flag[1]
            for c in multi:
                kinds.add(c._kind)
        counter = flag[2].get(event.variation)
        if counter is not None and counter[3] == event.version:
            counter[0] += 1
        else:
            _count_other(flag, event, counter)
        date = event.timestamp
        if self._start == 0 or date < self._start:
            self._start = date
        if date > self._end:
            self._end = date

    def snapshot(self) -> EventSummary:
        """The counters so far. Call ``clear`` before counting more if the snapshot is kept."""
        return EventSummary(self._start, self._end, self._flags)

    def clear(self) -> None:
        self._start = 0
        self._end = 0
        self._flags = {}

    def is_empty(self) -> bool:
        return not self._flags


def _count_other(flag: List[Any], event: EventInputEvaluation, newest: Any) -> None:
    """Count an event whose variation has no counter yet, or only counters for other versions."""
    version = event.version
    counter = newest and newest[OLDER]
    while counter is not None:
        if counter[VERSION] == version:
            counter[COUNT] += 1
            return
        counter = counter[OLDER]
    counter = [1, event.value, event.variation, version, newest]
    flag[BY_VARIATION][event.variation] = counter
    flag[COUNTERS].append(counter)


__all__ = ("EventSummarizer", "EventSummary")
