"""Analytics event recording, pure-Python twin (compiled as recorder_c with the types in recorder_c.pxd).

What every evaluation, ``identify`` and ``track`` goes through when events are on (PROTOCOL.md 8.2,
8.3): the event input classes, the summary counters, the context-key cache and the
:class:`Recorder` that the clients' evaluation core calls.

The recorder does, in the caller's thread and in call order, what the official SDK's event thread
does first with each input: count the evaluation in the summary (unless the flag has
``excludeFromSummaries``) and put the context's key in the context-key cache (an ``index`` event is
due when it was not there). So the common evaluation (flag not tracked, no debug window, not an
experiment, context already seen) ends here: a counter increment in a table the recorder owns, no
object made. Only when an ``index`` event is due or the evaluation may become a full or debug event
is an input made and handed to the event processor (``sink.queue(index, event)``), whose reactor
thread decides the debug window and sampling and buffers output events. The processor takes the
summary table at flush (:meth:`Recorder.take_summary`).

Threads: the sync client evaluates in application threads while its processor runs on a reactor
thread. The compiled twin runs each counting step (counters, dates, cache) without executing Python
bytecode, so under the GIL it is atomic with respect to the other threads; the pure twin takes a
lock around the same steps. (One exception in the compiled twin: making the entry of a flag or
counter first seen in a flush period allocates, and a garbage collection it triggers may run a
finalizer written in Python, which may switch threads; a count racing with it could in theory be
lost.)
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from time import time as _time
from typing import Any, Callable, Dict, Hashable, List, Optional

from ldfast._ext.context import Context as _Context
from ldfast._ext.context import to_context

log = logging.getLogger("ldfast.events.recorder")


def _probe() -> None:
    pass


_COMPILED = type(_probe).__name__ != "function"


def current_time_millis() -> int:
    """Milliseconds since the epoch, as the official SDK computes it."""
    return int(_time() * 1000)


# -- event inputs -----------------------------------------------------------------------------------

class EventInputEvaluation:
    """One flag evaluation (also a prerequisite evaluation, or the default served on an error).

    ``flag`` is None for an unknown flag; then ``version`` and ``debug_until`` are None,
    ``sampling_ratio`` is 1 and ``exclude_from_summaries`` is False. ``sampling_ratio`` is otherwise
    the flag's ``samplingRatio`` (None when absent, meaning 1).
    """

    __slots__ = ("timestamp", "context", "key", "flag", "version", "variation", "value", "reason",
                 "default_value", "prereq_of", "track_events", "exclude_from_summaries",
                 "sampling_ratio", "debug_until")

    def __init__(self, timestamp: int, context: Any, key: str, flag: Any, variation: Optional[int], value: Any,
                 reason: Optional[dict[str, Any]], default_value: Any, prereq_of: Any = None, track_events: bool = False):
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
            self.version = None
            self.exclude_from_summaries = False
            self.sampling_ratio = 1
            self.debug_until = None
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

    def __init__(self, timestamp: int, context: Any, sampling_ratio: Optional[int] = None):
        self.timestamp = timestamp
        self.context = context
        self.sampling_ratio = sampling_ratio

    def __repr__(self) -> str:
        return "EventInputIdentify(%r)" % (self.timestamp,)


class EventInputCustom:
    """A ``track`` call: event key, optional JSON data and optional metric value."""

    __slots__ = ("timestamp", "context", "key", "data", "metric_value", "sampling_ratio")

    def __init__(self, timestamp: int, context: Any, key: str, data: Any = None, metric_value: Any = None):
        self.timestamp = timestamp
        self.context = context
        self.key = key
        self.data = data
        self.metric_value = metric_value
        self.sampling_ratio = None

    def __repr__(self) -> str:
        return "EventInputCustom(%r, key=%r)" % (self.timestamp, self.key)


class IndexEvent:
    """Made the first time a context is seen (see PROTOCOL.md 8.3)."""

    __slots__ = ("timestamp", "context")

    def __init__(self, timestamp: int, context: Any):
        self.timestamp = timestamp
        self.context = context


class DebugEvent:
    """Made by the processor when a flag's ``debugEventsUntilDate`` is in the future."""

    __slots__ = ("original_input",)

    def __init__(self, original_input: EventInputEvaluation):
        self.original_input = original_input


def is_experiment(flag: Any, reason: Optional[dict[str, Any]]) -> bool:
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


# -- summary counters -------------------------------------------------------------------------------

class SummaryCounter:
    """One (variation, version) counter; ``older`` links counters of the same variation for other
    flag versions."""

    __slots__ = ("count", "value", "variation", "version", "older")

    def __init__(self, value: Any, variation: Any, version: Any, older: Optional["SummaryCounter"]):
        self.count = 0
        self.value = value
        self.variation = variation
        self.version = version
        self.older = older


class FlagCounts:
    """A flag's summary: the default of the first event counted, the context kinds seen, the
    counters in creation order (the order they are sent in) and, by variation, the newest counter."""

    __slots__ = ("default", "kinds", "last_kind", "by_variation", "counters", "last")

    def __init__(self, default: Any):
        self.default = default
        self.kinds: set[Any] = set()
        self.last_kind: Any = None
        self.by_variation: Dict[Any, SummaryCounter] = {}
        self.counters: List[SummaryCounter] = []
        self.last: Optional[SummaryCounter] = None


class EventSummary:
    """The counters of one flush period: ``flags`` maps a flag key to its counts."""

    __slots__ = ("start_date", "end_date", "flags")

    def __init__(self, start_date: int, end_date: int, flags: Dict[str, Any]):
        self.start_date = start_date
        self.end_date = end_date
        self.flags = flags

    def is_empty(self) -> bool:
        return not self.flags


class SummaryTable:
    """Summary counters (PROTOCOL.md 8.1). Counters compare variations and versions as the official
    SDK's ``(variation, version)`` dict keys do; ``contextKinds`` is a set filled in the official
    order. Dates are kept in float milliseconds and truncated when read, as ``int(time() * 1000)``.
    Not thread-safe by itself (the Recorder guards it)."""

    __slots__ = ("start", "end", "flags")

    def __init__(self) -> None:
        self.start = 0.0
        self.end = 0.0
        self.flags: Dict[Any, FlagCounts] = {}

    def count(self, key: Any, context: Any, variation: Any, version: Any, value: Any, default: Any,
              ts: float) -> None:
        """Count one evaluation at ``ts`` (milliseconds)."""
        entry = self.flags.get(key)
        if entry is None:
            entry = self.flags.setdefault(key, FlagCounts(default))
        multi = context._multi
        if multi is None:
            kind = context._kind
            if kind is not entry.last_kind:
                entry.kinds.add(kind)
                entry.last_kind = kind
        else:
            for c in multi:
                entry.kinds.add(c._kind)
        counter = entry.last
        if counter is None or counter.variation is not variation or counter.version is not version:
            newest = entry.by_variation.get(variation)
            counter = newest
            while counter is not None and not (counter.version == version):
                counter = counter.older
            if counter is None:
                counter = SummaryCounter(value, variation, version, newest)
                entry.by_variation[variation] = counter
                entry.counters.append(counter)
            entry.last = counter
        counter.count += 1
        if self.start == 0.0 or ts < self.start:
            self.start = ts
        if ts > self.end:
            self.end = ts

    def count_event(self, event: EventInputEvaluation) -> None:
        """Count an evaluation input, unless its flag has ``excludeFromSummaries``."""
        if event.exclude_from_summaries:
            return
        self.count(event.key, event.context, event.variation, event.version, event.value,
                   event.default_value, float(event.timestamp))

    def snapshot(self) -> EventSummary:
        """The counters so far (still counting into the same objects until :meth:`clear`)."""
        return EventSummary(int(self.start), int(self.end), self.flags)

    def take(self) -> EventSummary:
        """The counters so far; the table starts over empty."""
        summary = EventSummary(int(self.start), int(self.end), self.flags)
        self.start = 0.0
        self.end = 0.0
        self.flags = {}
        return summary

    def clear(self) -> None:
        self.start = 0.0
        self.end = 0.0
        self.flags = {}

    def is_empty(self) -> bool:
        return not self.flags


def make_summary_event(summary: EventSummary) -> Dict[str, Any]:
    """The ``summary`` output event, in the official SDK's key order."""
    features = {}
    for key, entry in summary.flags.items():
        counters_out = []
        for counter in entry.counters:
            out: Dict[str, Any] = {"count": counter.count, "value": counter.value}
            if counter.variation is not None:
                out["variation"] = counter.variation
            if counter.version is None:
                out["unknown"] = True
            else:
                out["version"] = counter.version
            counters_out.append(out)
        features[key] = {"default": entry.default, "contextKinds": list(entry.kinds), "counters": counters_out}
    return {"kind": "summary", "startDate": summary.start_date, "endDate": summary.end_date, "features": features}


# -- the context-key cache ---------------------------------------------------------------------------

class ContextKeyLRU:
    """A set of at most ``capacity`` keys, oldest evicted first. ``put`` of a present key makes it the
    newest. Not thread-safe by itself (the Recorder guards it)."""

    __slots__ = ("_capacity", "_keys", "_newest")

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError("context key cache capacity must be at least 1, not %r" % (capacity,))
        self._capacity = capacity
        self._keys: "OrderedDict[Hashable, None]" = OrderedDict()
        self._newest: Any = None  # the newest key (None when empty): no reordering needed

    @property
    def capacity(self) -> int:
        return self._capacity

    def put(self, key: Any) -> bool:
        """Add ``key`` as the newest entry; True if it was already there."""
        if key is self._newest and key is not None:
            return True
        keys = self._keys
        if key in keys:
            keys.move_to_end(key)
            self._newest = key
            return True
        if len(keys) >= self._capacity:
            keys.popitem(False)
        keys[key] = None
        self._newest = key
        return False

    def __contains__(self, key: Any) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def clear(self) -> None:
        self._keys.clear()
        self._newest = None


# -- the processor's output buffer ---------------------------------------------------------------------

def sample(ratio: object, random: Callable[[], float]) -> bool:
    """Keep an event with probability 1/ratio (None is 1; a non-int or a ratio <= 0 is never)."""
    if ratio is None:
        return True
    if type(ratio) is not int:
        return False
    if ratio == 1:
        return True
    if ratio <= 0:
        return False
    return random() < 1.0 / ratio


class Outbox:
    """The event processor's output events (reactor thread only): at most ``capacity``; an event
    that finds it full is dropped and counted (``dropped``), with one warning per overflow episode."""

    __slots__ = ("events", "capacity", "full", "dropped")

    def __init__(self, capacity: int):
        self.events: List[Any] = []
        self.capacity = capacity
        self.full = False
        self.dropped = 0

    def add(self, event: Any) -> None:
        if len(self.events) >= self.capacity:
            self.dropped += 1
            if not self.full:
                self.full = True
                log.warning("Exceeded event queue capacity. Increase capacity to avoid dropping events.")
        else:
            self.events.append(event)
            self.full = False

    def take(self) -> List[Any]:
        """The events so far; the buffer starts over empty."""
        events = self.events
        self.events = []
        self.full = False
        return events

    def take_dropped(self) -> int:
        n = self.dropped
        self.dropped = 0
        return n

    def process(self, inbox: Any, n: int, now_ms: Any, server_ms: Any, random: Any) -> None:
        """Turn up to ``n`` inputs from the recorder's ``inbox`` into output events: index events as
        they are; an evaluation tracked becomes a full event, and a debug event while its flag's
        ``debugEventsUntilDate`` is later than both ``now_ms`` and ``server_ms``; identify, custom
        and passed-through events are full events. Full and debug events are sampled (``random``)."""
        popleft = inbox.popleft
        for i in range(n):
            try:
                event = popleft()
            except IndexError:
                break
            try:
                self._process(event, now_ms, server_ms, random)
            except Exception:
                log.exception("Unexpected error while processing an analytics event")

    def _process(self, event: Any, now_ms: Any, server_ms: Any, random: Any) -> None:
        kind = type(event)
        if kind is IndexEvent:
            self.add(event)
            return
        if kind is EventInputEvaluation:
            ev = event
            ratio = ev.sampling_ratio
            if ev.track_events and sample(ratio, random):
                self.add(ev)
            until = ev.debug_until
            if until is not None and _window_open(until, now_ms, server_ms) and sample(ratio, random):
                self.add(DebugEvent(ev))
        elif kind is EventInputIdentify or kind is EventInputCustom:
            if sample(event.sampling_ratio, random):
                self.add(event)
        elif hasattr(event, "output_event"):  # passed through (Recorder.record)
            if sample(event.sampling_ratio, random):
                self.add(event)
        else:
            log.warning("Ignored an analytics event input of unknown type %s", kind.__name__)


def _window_open(until: Any, now_ms: Any, server_ms: Any) -> bool:
    try:
        return bool(until > server_ms and until > now_ms)
    except TypeError:  # not a number
        return False


# -- track() arguments --------------------------------------------------------------------------------

def track_context(event_name: Any, context: Any, data: Any) -> Any:
    """The context of a ``track`` call, or None (with one log line) when no event can be recorded."""
    if type(context) is not _Context:
        if context is None or (isinstance(context, dict) and "key" not in context and data is None):
            log.warning("track(%r) called without a user/context; no event is recorded", event_name)
            return None
        context = to_context(context)
    if context._error is not None:
        log.warning("Invalid context for track (%s)", context._error)
        return None
    return context


def track_metric(event_name: Any, metric_value: Any) -> Any:
    """The metric value of a ``track`` call: a finite int or float, else None (with one log line)."""
    if metric_value is None:
        return None
    t = type(metric_value)
    if t is int:
        return metric_value
    if t is float:
        v = metric_value
        if v - v == 0.0:  # not NaN or an infinity
            return metric_value
    elif isinstance(metric_value, (int, float)) and not isinstance(metric_value, bool):
        if isinstance(metric_value, int) or metric_value - metric_value == 0.0:
            return metric_value
    log.warning("track(%r): metric_value must be a finite number, not %r; it is omitted", event_name, metric_value)
    return None


def check_track(event_name: Any, context: Any, data: Any, metric_value: Any) -> None:
    """The warnings ``track`` logs for bad arguments, for a client whose events are off."""
    if track_context(event_name, context, data) is not None:
        track_metric(event_name, metric_value)


# -- the recorder -------------------------------------------------------------------------------------

def _without_anonymous(context: Any) -> Any:
    """``context`` without its anonymous parts (itself when it has none)."""
    multi = context._multi
    if multi is None:
        if not context._anonymous:
            return context
    else:
        for c in multi:
            if c._anonymous:
                break
        else:
            return context
    return context.without_anonymous_contexts()


class Recorder:
    """Records analytics events for one event processor (see the module docstring).

    What the processor needs to see goes into ``inbox`` (a deque the processor drains on its
    reactor thread), an ``IndexEvent`` first when one is due, at most ``capacity`` inputs deep: an
    input that finds it full is dropped and counted (``inbox_dropped``), with one warning per
    overflow episode (``inbox_full``, which the processor clears once it has drained the inbox).
    ``wake()`` is called when something was queued and no wake-up is pending (``wake_pending``,
    cleared by the processor when it wakes up). ``enabled`` is cleared when the processor stops or
    is disabled: everything is ignored from then on.
    """

    __slots__ = ("enabled", "_inbox", "_capacity", "_wake", "wake_pending", "inbox_full", "inbox_dropped",
                 "_table", "_keys", "deduplicated", "_omit_anonymous", "_lock")

    def __init__(self, inbox: Any, capacity: int, wake: Any, context_keys_capacity: int = 1000,
                 omit_anonymous_contexts: bool = False):
        self.enabled = True
        self._inbox = inbox
        self._capacity = capacity
        self._wake = wake
        self.wake_pending = False
        self.inbox_full = False
        self.inbox_dropped = 0
        self._table = SummaryTable()
        self._keys = ContextKeyLRU(context_keys_capacity)
        self.deduplicated = 0
        self._omit_anonymous = bool(omit_anonymous_contexts)
        self._lock: Any = None if _COMPILED else threading.Lock()

    # -- what the clients call (any thread) ---------------------------------------------------------

    def evaluated(self, flag: Any, context: Any, detail: Any, default: Any, detailed: bool,
                  prerequisites: Optional[list[Any]]) -> None:
        """A flag evaluated (``detail`` before the default is substituted); ``prerequisites`` holds
        ``(flag, detail, parent flag)`` for each prerequisite evaluated, recorded first."""
        if not self.enabled:
            return
        if prerequisites:
            for item in prerequisites:
                pflag = item[0]
                self._evaluation(pflag, context, item[1], None, detailed, item[2], False)
        self._evaluation(flag, context, detail, default, detailed, None, True)

    def unknown(self, key: Any, context: Any, default: Any, reason: Any, detailed: bool) -> None:
        """The default served for a flag that does not exist (or a client not ready)."""
        if self.enabled:
            self._record(None, key, None, context, None, default, default, reason if detailed else None,
                         None, False)

    def failed(self, flag: Any, context: Any, default: Any, reason: Any, detailed: bool) -> None:
        """The default served for an existing flag because of an error (no experiment forcing)."""
        if self.enabled:
            self._record(flag, flag.key, flag.version, context, None, default, default,
                         reason if detailed else None, None, flag.track_events)

    def identify(self, context: Any) -> None:
        if self.enabled:
            self._identify(EventInputIdentify(current_time_millis(), context))

    def custom(self, key: Any, context: Any, data: Any, metric_value: Any) -> None:
        if self.enabled:
            self._other(EventInputCustom(current_time_millis(), context, key, data, metric_value))

    def track(self, event_name: Any, context: Any, data: Any, metric_value: Any) -> None:
        """A client's ``track`` call: bad arguments are logged (see :func:`track_context` and
        :func:`track_metric`); an event that finds the inbox full is dropped before it is made."""
        context = track_context(event_name, context, data)
        if context is None:
            return
        if metric_value is not None:
            metric_value = track_metric(event_name, metric_value)
        if not self.enabled:
            return
        if len(self._inbox) >= self._capacity:
            self._overflow()
            return
        event = EventInputCustom.__new__(EventInputCustom)  # made field by field: no argument parsing
        event.timestamp = current_time_millis()
        event.context = context
        event.key = event_name
        event.data = data
        event.metric_value = metric_value
        event.sampling_ratio = None
        self._other(event)

    def record(self, event: Any) -> None:
        """Record any event input (``EventInputEvaluation``, ``EventInputIdentify``,
        ``EventInputCustom``) made elsewhere, with its own timestamp; or an input that writes its
        own output event (it has ``output_event``: a ``migration_op`` event,
        ``ldfast.events.migration``), passed through as it is: its ``context`` is noted in the
        key cache but never has an index event, and the processor keeps it when sampled
        (``sampling_ratio``)."""
        if not self.enabled:
            return
        kind = type(event)
        if kind is EventInputEvaluation:
            self._recorded_evaluation(event)
        elif kind is EventInputIdentify:
            self._identify(event)
        elif kind is EventInputCustom:
            self._other(event)
        elif hasattr(event, "output_event"):
            self._unindexed(event)
        else:
            log.warning("Ignored an analytics event input of unknown type %s", kind.__name__)

    # -- what the processor calls ------------------------------------------------------------------

    def take_summary(self) -> EventSummary:
        """The summary counted so far; counting starts over (atomically w.r.t. recording threads)."""
        lock = self._lock
        if lock is not None:
            lock.acquire()
        try:
            return self._table.take()
        finally:
            if lock is not None:
                lock.release()

    def summary_is_empty(self) -> bool:
        return self._table.is_empty()

    def clear_summary(self) -> None:
        self.take_summary()

    def clear_context_keys(self) -> None:
        lock = self._lock
        if lock is not None:
            lock.acquire()
        try:
            self._keys.clear()
        finally:
            if lock is not None:
                lock.release()

    def take_inbox_dropped(self) -> int:
        """Inputs dropped at the full inbox since the last call."""
        lock = self._lock
        if lock is not None:
            lock.acquire()
        try:
            n = self.inbox_dropped
            self.inbox_dropped = 0
        finally:
            if lock is not None:
                lock.release()
        return n

    def take_deduplicated(self) -> int:
        """Contexts found in the key cache since the last call."""
        lock = self._lock
        if lock is not None:
            lock.acquire()
        try:
            n = self.deduplicated
            self.deduplicated = 0
        finally:
            if lock is not None:
                lock.release()
        return n

    # -- internals ---------------------------------------------------------------------------------

    def _evaluation(self, flag: Any, context: Any, detail: Any, default: Any, detailed: bool, parent: Any,
                    main: bool) -> None:
        variation = detail._variation_index
        value = detail._value
        if main and variation is None:
            value = default
        reason = detail._reason
        known = detail._experiment
        if known is None:
            experiment = is_experiment(flag, reason)
        else:
            experiment = bool(known)
        self._record(flag, flag.key, flag.version, context, variation, value, default,
                     reason if (detailed or experiment) else None, parent, flag.track_events or experiment)

    def _record(self, flag: Any, key: Any, version: Any, context: Any, variation: Any, value: Any, default: Any,
                reason: Any, parent: Any, track: bool) -> None:
        """Count an evaluation and note its context; an input for the processor only when needed."""
        count = True
        debug_until = None
        if flag is not None:
            count = not flag.exclude_from_summaries
            debug_until = flag.debug_events_until_date
        if parent is not None:
            default = None
        indexable = context
        if self._omit_anonymous:
            indexable = _without_anonymous(context)
        lock = self._lock
        if lock is not None:
            lock.acquire()
        try:
            ts = _time() * 1000.0
            if count:
                self._table.count(key, context, variation, version, value, default, ts)
            indexable = self._note(indexable)
        finally:
            if lock is not None:
                lock.release()
        if indexable is None and not track and debug_until is None:
            return
        timestamp = int(ts)
        index = None
        if indexable is not None:
            index = IndexEvent(timestamp, indexable)
        event = None
        if track or debug_until is not None:
            event = EventInputEvaluation(timestamp, context, key, flag, variation, value, reason, default, parent,
                                         track)
        self._queue(index, event)

    def _recorded_evaluation(self, event: EventInputEvaluation) -> None:
        indexable = event.context
        if self._omit_anonymous and indexable is not None:
            indexable = _without_anonymous(indexable)
        lock = self._lock
        if lock is not None:
            lock.acquire()
        try:
            self._table.count_event(event)
            indexable = self._note(indexable)
        finally:
            if lock is not None:
                lock.release()
        index = None
        if indexable is not None:
            index = IndexEvent(event.timestamp, indexable)
        if event.track_events or event.debug_until is not None:
            self._queue(index, event)
        elif index is not None:
            self._queue(index, None)

    def _identify(self, event: EventInputIdentify) -> None:
        context = event.context
        if self._omit_anonymous:
            context = _without_anonymous(context)
            if context._error is not None:
                return  # nothing but anonymous contexts: no event at all
            if context is not event.context:
                event = EventInputIdentify(event.timestamp, context, event.sampling_ratio)
        lock = self._lock
        if lock is not None:
            lock.acquire()
        try:
            self._note(context)  # an identify marks its context seen but never has an index event
        finally:
            if lock is not None:
                lock.release()
        self._queue(None, event)

    def _unindexed(self, event: Any) -> None:
        context = event.context
        if self._omit_anonymous:
            context = _without_anonymous(context)
        lock = self._lock
        if lock is not None:
            lock.acquire()
        try:
            self._note(context)  # seen, but never with an index event (as the official SDK's migration_op)
        finally:
            if lock is not None:
                lock.release()
        self._queue(None, event)

    def _other(self, event: Any) -> None:
        indexable = event.context
        if self._omit_anonymous and indexable is not None:
            indexable = _without_anonymous(indexable)
        lock = self._lock
        if lock is not None:
            lock.acquire()
        try:
            indexable = self._note(indexable)
        finally:
            if lock is not None:
                lock.release()
        index = None
        if indexable is not None:
            index = IndexEvent(event.timestamp, indexable)
        self._queue(index, event)

    def _queue(self, index: Any, event: Any) -> None:
        """Hand an index event and/or an input to the processor (any thread)."""
        inbox = self._inbox
        if len(inbox) >= self._capacity:
            self._overflow()
            return
        if index is not None:
            inbox.append(index)
        if event is not None:
            inbox.append(event)
        if not self.wake_pending:
            self.wake_pending = True
            try:
                self._wake()
            except Exception:  # the reactor is gone: the events can no longer be sent
                pass

    def _overflow(self) -> None:
        self.inbox_dropped += 1
        if not self.inbox_full:
            self.inbox_full = True
            log.warning("Events are being produced faster than they can be processed; some events will be dropped")

    def _note(self, context: Any) -> Any:
        """Put a context's key in the cache: the context when an index event is due, else None."""
        if context is None or context._error is not None:
            return None
        if self._keys.put(context._full_key):
            self.deduplicated += 1
            return None
        return context


__all__ = ("ContextKeyLRU", "DebugEvent", "EventInputCustom", "EventInputEvaluation", "EventInputIdentify",
           "EventSummary", "IndexEvent", "Outbox", "Recorder", "SummaryTable", "check_track", "current_time_millis",
           "is_experiment", "make_summary_event", "track_context", "track_metric")
