"""Analytics event inputs (what the client hands the event processor) and the factory that makes them.

These are not the JSON events sent to LaunchDarkly: the processor turns them into output events
(``ldfast.events.formatter``) and summary counters (``ldfast.events.summarizer``). The rules are
those of launchdarkly-server-sdk 9.x (``ldclient/impl/events/types.py``); see PROTOCOL.md 8.2.

The classes are slotted and carry everything the processor needs without looking at the flag again:
``version``, ``debug_until``, ``exclude_from_summaries`` and ``sampling_ratio`` are copied from the
flag when the event is made.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Optional

from ldfast.context import Context
from ldfast.evaluation import EvaluationDetail
from ldfast.model import Flag


def current_time_millis() -> int:
    """Milliseconds since the epoch, as the official SDK computes it."""
    return int(time.time() * 1000)


class EventInputEvaluation:
    """One flag evaluation (also a prerequisite evaluation, or the default served on an error).

    ``flag`` is None for an unknown flag; then ``version`` and ``debug_until`` are None,
    ``sampling_ratio`` is 1 and ``exclude_from_summaries`` is False. ``sampling_ratio`` is otherwise
    the flag's ``samplingRatio`` (None when absent, meaning 1).
    """

    __slots__ = ("timestamp", "context", "key", "flag", "version", "variation", "value", "reason",
                 "default_value", "prereq_of", "track_events", "exclude_from_summaries",
                 "sampling_ratio", "debug_until")

    def __init__(self, timestamp: int, context: Context, key: str, flag: Optional[Flag],
                 variation: Optional[int], value: Any, reason: Optional[dict], default_value: Any,
                 prereq_of: Optional[Flag] = None, track_events: bool = False):
        self.timestamp = timestamp
        self.context = context
        self.key = key
        self.flag = flag
        self.variation = variation
        self.value = value
        self.reason = reason
        self.default_value = default_value
        self.prereq_of = prereq_of
        self.track_events = track_events
        if flag is None:
            self.version: Any = None
            self.exclude_from_summaries = False
            self.sampling_ratio: Optional[int] = 1
            self.debug_until: Any = None
        else:
            self.version = flag.version
            self.exclude_from_summaries = flag.exclude_from_summaries
            self.sampling_ratio = flag.sampling_ratio
            self.debug_until = flag.debug_events_until_date

    def __repr__(self) -> str:
        return "EventInputEvaluation(%r, key=%r, version=%r, variation=%r, track_events=%r)" % (
            self.timestamp, self.key, self.version, self.variation, self.track_events)


class EventInputIdentify:
    """An ``identify`` call."""

    __slots__ = ("timestamp", "context", "sampling_ratio")

    def __init__(self, timestamp: int, context: Context, sampling_ratio: Optional[int] = None):
        self.timestamp = timestamp
        self.context = context
        self.sampling_ratio = sampling_ratio

    def __repr__(self) -> str:
        return "EventInputIdentify(%r)" % (self.timestamp,)


class EventInputCustom:
    """A ``track`` call: event key, optional JSON data and optional metric value."""

    __slots__ = ("timestamp", "context", "key", "data", "metric_value", "sampling_ratio")

    def __init__(self, timestamp: int, context: Context, key: str, data: Any = None,
                 metric_value: Any = None):
        self.timestamp = timestamp
        self.context = context
        self.key = key
        self.data = data
        self.metric_value = metric_value
        self.sampling_ratio: Optional[int] = None

    def __repr__(self) -> str:
        return "EventInputCustom(%r, key=%r)" % (self.timestamp, self.key)


class IndexEvent:
    """Made by the processor the first time it sees a context (see PROTOCOL.md 8.3)."""

    __slots__ = ("timestamp", "context")

    def __init__(self, timestamp: int, context: Context):
        self.timestamp = timestamp
        self.context = context


class DebugEvent:
    """Made by the processor when a flag's ``debugEventsUntilDate`` is in the future."""

    __slots__ = ("original_input",)

    def __init__(self, original_input: EventInputEvaluation):
        self.original_input = original_input


def is_experiment(flag: Flag, reason: Optional[dict]) -> bool:
    """Whether an evaluation with this reason is part of an experiment (its event is always full
    and carries the reason)."""
    if reason is not None:
        if reason.get("inExperiment"):
            return True
        kind = reason["kind"]
        if kind == "RULE_MATCH":
            index = reason["ruleIndex"]
            rules = flag.rules
            return 0 <= index < len(rules) and bool(rules[index].track_events)
        if kind == "FALLTHROUGH":
            return bool(flag.track_events_fallthrough)
    return False


class EventFactory:
    """Makes event inputs. The client owns two: ``EventFactory(False)`` for ``variation`` and
    ``EventFactory(True)`` for ``variation_detail`` (reasons always included)."""

    __slots__ = ("_with_reasons", "_now")

    def __init__(self, with_reasons: bool, timestamp_fn: Callable[[], int] = current_time_millis):
        self._with_reasons = with_reasons
        self._now = timestamp_fn

    @property
    def with_reasons(self) -> bool:
        return self._with_reasons

    def new_eval_event(self, flag: Flag, context: Context, detail: EvaluationDetail,
                       default_value: Any, prereq_of: Optional[Flag] = None) -> EventInputEvaluation:
        """An evaluation of ``flag``; a prerequisite evaluation when ``prereq_of`` (the flag that
        depends on it) is given, and then the default is None, as in the official SDK."""
        if prereq_of is not None:
            default_value = None
        reason = detail._reason
        # Details prebuilt by the model know whether they are experiment evaluations; details
        # made at evaluation time (errors) have None and are checked here.
        experiment = detail._experiment
        if experiment is None:
            experiment = is_experiment(flag, reason)
        return EventInputEvaluation(
            self._now(), context, flag.key, flag, detail._variation_index, detail._value,
            reason if (self._with_reasons or experiment) else None, default_value, prereq_of,
            flag.track_events or experiment)

    def new_default_event(self, flag: Flag, context: Context, default_value: Any,
                          reason: Optional[dict]) -> EventInputEvaluation:
        """The default served for an existing flag because of an error (no experiment forcing)."""
        return EventInputEvaluation(
            self._now(), context, flag.key, flag, None, default_value,
            reason if self._with_reasons else None, default_value, None, flag.track_events)

    def new_unknown_flag_event(self, key: str, context: Context, default_value: Any,
                               reason: Optional[dict]) -> EventInputEvaluation:
        """The default served for a flag that does not exist (or a client not ready)."""
        return EventInputEvaluation(
            self._now(), context, key, None, None, default_value,
            reason if self._with_reasons else None, default_value, None, False)

    def new_identify_event(self, context: Context) -> EventInputIdentify:
        return EventInputIdentify(self._now(), context)

    def new_custom_event(self, key: str, context: Context, data: Any,
                         metric_value: Any) -> EventInputCustom:
        return EventInputCustom(self._now(), context, key, data, metric_value)


__all__ = ("DebugEvent", "EventFactory", "EventInputCustom", "EventInputEvaluation",
           "EventInputIdentify", "IndexEvent", "current_time_millis", "is_experiment")
