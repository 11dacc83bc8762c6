"""Analytics event inputs (what the client hands the event processor) and the factory that makes them.

These are not the JSON events sent to LaunchDarkly: the processor turns them into output events
(``ldfast.events.formatter``) and summary counters. The rules are those of launchdarkly-server-sdk
9.x (``ldclient/impl/events/types.py``); see PROTOCOL.md 8.2.

The input classes are compiled (``ldfast._ext.recorder``) and carry everything the processor needs
without looking at the flag again: ``version``, ``debug_until``, ``exclude_from_summaries`` and
``sampling_ratio`` are copied from the flag when the event is made. The clients do not use
``EventFactory``: their recorder (``ldfast._ext.recorder.Recorder``) makes inputs only when an
evaluation needs more than a summary counter.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from ldfast._ext.recorder import (
    DebugEvent,
    EventInputCustom,
    EventInputEvaluation,
    EventInputIdentify,
    IndexEvent,
    current_time_millis,
    is_experiment,
)
from ldfast.context import Context
from ldfast.evaluation import EvaluationDetail
from ldfast.model import Flag


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
                          reason: Optional[dict[str, Any]]) -> EventInputEvaluation:
        """The default served for an existing flag because of an error (no experiment forcing)."""
        return EventInputEvaluation(
            self._now(), context, flag.key, flag, None, default_value,
            reason if self._with_reasons else None, default_value, None, flag.track_events)

    def new_unknown_flag_event(self, key: str, context: Context, default_value: Any,
                               reason: Optional[dict[str, Any]]) -> EventInputEvaluation:
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
