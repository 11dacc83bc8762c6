"""Flag evaluation, pure-Python twin: LaunchDarkly's algorithm over preprocessed flags.

The evaluator does no I/O and takes no locks: flags and segments are read from plain dicts (the
store's current maps), big segment membership through an optional callable. It returns the
EvaluationDetail objects prebuilt by ``ldfast.model``; only a big-segments status makes a new one.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional, Tuple

from ldfast._ext.bucketing import bucket_value
from ldfast._ext.operators import match_value
from ldfast._ext.context import Context as _Context
from ldfast._ext.context import DictContexts as _DictContexts
from ldfast._ext.context import to_context
from ldfast._ext.model import MALFORMED, error_reason
from ldfast._ext.model import EvaluationDetail as _Detail
from ldfast._ext import model as _m  # (for annotations: the compiled twin cimports the classes)
from ldfast._ext import recorder as _recorder

try:
    import cython

    _COMPILED = cython.compiled
except ImportError:  # no Cython installed: this is the pure twin
    _COMPILED = False

log = logging.getLogger(__name__)

BigSegmentsLookup = Callable[[str], Tuple[Optional[Dict[str, Any]], str]]


class EvaluationException(Exception):
    """A flag cannot be evaluated (malformed data found while evaluating)."""

    def __init__(self, message: str, error_kind: str = "MALFORMED_FLAG"):
        super().__init__(message)
        self.message = message
        self.error_kind = error_kind


class EvalState:
    """Per-evaluation state, made only for flags with prerequisites or segment clauses."""

    __slots__ = ("flags", "segments", "big_segments", "original_key", "prereq_stack", "segment_stack",
                 "depth", "prereq_keys", "events", "bs_status", "bs_membership")

    flags: Dict[str, Any]
    segments: Dict[str, Any]
    big_segments: Optional[BigSegmentsLookup]
    original_key: str
    prereq_stack: Optional[List[str]]
    segment_stack: Optional[List[str]]
    depth: int
    prereq_keys: Optional[List[Any]]
    events: Optional[List[Any]]
    bs_status: Optional[str]
    bs_membership: Optional[Dict[str, Any]]



def _new_state(flags: dict[str, Any], segments: dict[str, Any], big_segments: Optional[BigSegmentsLookup],
               original_key: str,
               events: Optional[list[Any]], prereq_keys: Optional[list[Any]]) -> EvalState:
    # __new__ and plain assignments: the compiled twin makes this a bare allocation
    state = EvalState.__new__(EvalState)
    state.flags = flags
    state.segments = segments
    state.big_segments = big_segments
    state.original_key = original_key
    state.prereq_stack = None  # lists made on first use
    state.segment_stack = None
    state.depth = 0
    state.prereq_keys = prereq_keys
    state.events = events
    state.bs_status = None
    state.bs_membership = None
    return state


def evaluate(flag: Any, context: Any, flags: dict[str, Any], segments: dict[str, Any],
             big_segments: Optional[BigSegmentsLookup] = None, events: Optional[list[Any]] = None,
             prereq_keys: Optional[list[Any]] = None) -> _Detail:
    """Evaluate a (non-deleted, parsed: not ``pending``) flag for a valid context; its
    prerequisites are parsed here as they are met.

    ``events``, when a list, receives ``(prerequisite_flag, detail, parent_flag)`` for every
    prerequisite evaluated; ``prereq_keys``, when a list, the keys of the direct prerequisites
    evaluated. The detail's value is None when its variation index is None (the caller
    substitutes its default).
    """
    if flag.error is not None:
        return MALFORMED
    state = None
    if flag.uses_state:
        state = _new_state(flags, segments, big_segments, flag.key, events, prereq_keys)
    try:
        detail = _evaluate(flag, context, state)
    except EvaluationException as e:
        log.error('Could not evaluate flag "%s": %s', flag.key, e.message)
        return MALFORMED
    if state is not None and state.bs_status is not None:
        reason = dict(detail.reason)
        reason["bigSegmentsStatus"] = state.bs_status
        return _Detail(detail._value, detail._variation_index, reason)
    return detail


def _individual(context: Any, kind: str) -> Any:
    if context._multi is None:
        return context if context._kind == kind else None
    return context._by_kind.get(kind)


def _evaluate(flag: _m.Flag, context: Any, state: Optional[EvalState]) -> _Detail:
    if not flag.on:
        return flag.off_detail
    if flag.prerequisites:
        failed = _check_prerequisites(flag, context, state)  # type: ignore[arg-type]
        if failed is not None:
            return failed
    for target in flag.targets:
        c = _individual(context, target.kind)
        if c is not None and c._key in target.keys:
            return target.detail
    for rule in flag.rules:
        for clause in rule.clauses:
            if not _clause_matches(clause, context, state):
                break
        else:
            return _outcome(rule.outcome, context)
    fallthrough = flag.fallthrough
    assert fallthrough is not None  # only a malformed flag has none, and it is not evaluated
    return _outcome(fallthrough, context)


def _check_prerequisites(flag: _m.Flag, context: Any, state: EvalState) -> Optional[_Detail]:
    # The stack holds the prerequisite flags being evaluated below the top-level one; it is made
    # only when a prerequisite itself has prerequisites (only then can a cycle be reached).
    pushed = flag.key != state.original_key
    if pushed:
        if state.prereq_stack is None:
            state.prereq_stack = []
        state.prereq_stack.append(flag.key)
    try:
        for prereq in flag.prerequisites:
            pkey = prereq.key
            if pkey == state.original_key or (state.prereq_stack is not None and pkey in state.prereq_stack):
                raise EvaluationException(
                    'prerequisite relationship to "%s" caused a circular reference; this is probably '
                    "a temporary condition due to an incomplete update" % pkey)
            pflag = state.flags.get(pkey)
            if pflag is not None and pflag._pending is not None:
                pflag.materialize()
            if state.depth == 0 and state.prereq_keys is not None:
                state.prereq_keys.append(pkey)
            if pflag is None or pflag.deleted:
                return prereq.failed
            if pflag.error is not None:
                raise EvaluationException('prerequisite flag "%s" is malformed' % pkey)
            state.depth += 1
            result = _evaluate(pflag, context, state)
            state.depth -= 1
            if state.events is not None:
                state.events.append((pflag, result, flag))
            if not pflag.on or result.variation_index != prereq.variation:
                return prereq.failed
        return None
    finally:
        if pushed:
            assert state.prereq_stack is not None  # made above when pushed
            state.prereq_stack.pop()


def _outcome(outcome: _m.VariationOrRollout, context: Any) -> _Detail:
    detail = outcome.detail
    if detail is not None:
        return detail
    rollout = outcome.rollout
    assert rollout is not None  # an outcome has a fixed detail or a rollout
    bucket = _bucket(context, rollout.context_kind, rollout.bucket_by, rollout.prefix)
    bounds = rollout.bounds
    n = len(bounds)
    i = 0
    while i < n and not bucket < bounds[i]:
        i += 1
    if i == n:
        if rollout.overflow:  # the official SDK fails converting that weight only when it reaches it
            raise OverflowError("int too large to convert to float")
        i = len(rollout.details) - 1
    if rollout.is_experiment and bucket >= 0:
        return rollout.exp_details[i]
    return rollout.details[i]


def _bucket(context: Any, kind: Optional[str], bucket_by: Any, prefix: bytes) -> float:
    c = _individual(context, kind or "user")
    if c is None:
        return -1.0
    value = c._key if bucket_by is None else _attribute(c, bucket_by)
    if value is None:
        return 0.0
    return bucket_value(prefix, value)


def _attribute(c: Any, ref: Any) -> Any:
    if ref.error is not None:
        raise EvaluationException("invalid attribute reference: " + ref.error)
    builtin = ref.builtin
    if builtin == 0:
        attrs = c._attributes
        value = None if attrs is None else attrs.get(ref.first)
    elif builtin == 1:
        value = c._key
    elif builtin == 2:
        value = c._kind
    elif builtin == 3:
        value = c._name
    else:
        value = c._anonymous
    if not ref.rest:
        return value
    for component in ref.rest:
        if not isinstance(value, dict):
            return None
        value = value.get(component)
    return value


def _clause_matches(clause: _m.Clause, context: Any, state: Optional[EvalState]) -> bool:
    if clause.is_segment_match:
        segments = state.segments  # type: ignore[union-attr]
        for seg_key in clause.values:
            segment = segments.get(seg_key)
            if segment is not None and not segment.deleted and _segment_matches(segment, context, state):  # type: ignore[arg-type]
                return not clause.negate
        return clause.negate
    pre = clause.pre
    if clause.is_kind:
        parts = context._multi if context._multi is not None else (context,)
        for c in parts:
            if match_value(clause.op, pre, c._kind):
                return not clause.negate
        return clause.negate
    c = _individual(context, clause.kind)
    if c is None:
        return False
    value = _attribute(c, clause.attr)
    if value is None:
        return False
    if isinstance(value, (list, tuple)):
        for v in value:
            if match_value(clause.op, pre, v):
                return not clause.negate
        return clause.negate
    return match_value(clause.op, pre, value) != clause.negate


def _segment_matches(segment: _m.Segment, context: Any, state: EvalState) -> bool:
    if segment.error is not None:
        raise EvaluationException('segment "%s" is malformed' % segment.key)
    if state.segment_stack is not None and segment.key in state.segment_stack:
        raise EvaluationException(
            'segment rule referencing segment "%s" caused a circular reference; this is probably '
            "a temporary condition due to an incomplete update" % segment.key)
    if segment.unbounded:
        return _big_segment_matches(segment, context, state)
    return _simple_segment_matches(segment, context, state, True)


def _simple_segment_matches(segment: _m.Segment, context: Any, state: EvalState, use_lists: bool) -> bool:
    if use_lists:
        if segment.included:
            c = _individual(context, "user")
            if c is not None and c._key in segment.included:
                return True
        for kind, keys in segment.included_contexts:
            if keys:
                c = _individual(context, kind)
                if c is not None and c._key in keys:
                    return True
        if segment.excluded:
            c = _individual(context, "user")
            if c is not None and c._key in segment.excluded:
                return False
        for kind, keys in segment.excluded_contexts:
            if keys:
                c = _individual(context, kind)
                if c is not None and c._key in keys:
                    return False
    if not segment.rules:
        return False
    if not segment.refers_to_segments:  # no segmentMatch inside: no cycle can start here
        for rule in segment.rules:
            if _segment_rule_matches(rule, context, state):
                return True
        return False
    if state.segment_stack is None:
        state.segment_stack = []
    state.segment_stack.append(segment.key)
    try:
        for rule in segment.rules:
            if _segment_rule_matches(rule, context, state):
                return True
        return False
    finally:
        state.segment_stack.pop()


def _segment_rule_matches(rule: _m.SegmentRule, context: Any, state: EvalState) -> bool:
    for clause in rule.clauses:
        if not _clause_matches(clause, context, state):
            return False
    if rule.weight is None:
        return True
    bucket = _bucket(context, rule.rollout_context_kind, rule.bucket_by, rule.prefix)
    return bucket < rule.weight / 100000.0


def _big_segment_matches(segment: _m.Segment, context: Any, state: EvalState) -> bool:
    generation = segment.generation
    if generation is None:
        state.bs_status = "NOT_CONFIGURED"
        return False
    c = _individual(context, segment.unbounded_context_kind or "user")
    if c is None:
        return False
    key = c._key
    cache = state.bs_membership
    if cache is not None and key in cache:
        membership = cache[key]
    else:
        if state.big_segments is None:
            state.bs_status = "NOT_CONFIGURED"
            return False
        membership, state.bs_status = state.big_segments(key)
        if cache is None:
            cache = state.bs_membership = {}
        cache[key] = membership
    included: Optional[bool] = None if membership is None else membership.get("%s.g%d" % (segment.key, generation))
    if included is not None:
        return included
    return _simple_segment_matches(segment, context, state, False)


_NOT_READY = error_reason("CLIENT_NOT_READY")
_NOT_FOUND = error_reason("FLAG_NOT_FOUND")
_NO_CONTEXT = error_reason("USER_NOT_SPECIFIED")
_EXCEPTION = error_reason("EXCEPTION")


class ClientCore:
    """The client-level evaluation path (``LDClient.variation``/``variation_detail``).

    Config defaults, offline mode, readiness, context conversion and validation, the flag lookup,
    unexpected errors and analytics events (``events``: the event processor's ``Recorder``, or None when events
    are off), in one place so the compiled twin runs the whole call in C.
    ``check_ready(what)`` is asked while ``ready`` is False (it sets ``ready`` once data is in).
    """

    __slots__ = ("store", "defaults", "offline", "ready", "check_ready", "big_segments", "events", "read_missing",
                 "contexts")

    def __init__(self, store: Any, defaults: dict[str, Any], offline: bool, check_ready: Callable[[str], bool],
                 big_segments: Optional[BigSegmentsLookup]):
        self.store = store
        self.defaults = defaults
        self.offline = offline
        self.ready = False
        self.check_ready = check_ready
        self.big_segments = big_segments
        self.events: Optional[_recorder.Recorder] = None
        self.read_missing = None
        self.contexts = _DictContexts()  # a user dict given for several calls in a row converts once

    def variation(self, key: str, context: Any, default: Any) -> Any:
        """The flag's value for the context, or ``default`` if it cannot be evaluated."""
        if self.defaults:
            default = self.defaults.get(key, default)
        detail = self.detail_for(key, context, default, False)
        if detail._variation_index is None:
            return default
        return detail._value

    def variation_detail(self, key: str, context: Any, default: Any) -> _Detail:
        """The flag's value for the context with its variation index and reason."""
        if self.defaults:
            default = self.defaults.get(key, default)
        detail = self.detail_for(key, context, default, True)
        if detail._variation_index is None:
            return _Detail(default, None, detail._reason)
        return detail

    def detail_for(self, key: str, context: Any, default: Any, detailed: bool = False) -> _Detail:
        """The evaluation detail (events recorded); when its index is None the caller serves the default."""
        if self.offline:
            return _NOT_READY_DETAIL
        events = self.events
        if type(context) is not _Context:
            context = self.contexts.convert(context)
        if not self.ready and not self.check_ready("Feature flag evaluation"):
            if events is not None and context._error is None:
                events.unknown(key, context, default, _NOT_READY, detailed)
            return _NOT_READY_DETAIL
        if context._error is not None:
            log.warning("Context was invalid for flag evaluation (%s); returning default value", context._error)
            return _NO_CONTEXT_DETAIL
        store = self.store
        flags = store._flags
        flag = flags.get(key)
        if flag is None and self.read_missing is not None:  # a persistent store reads it into its cache
            self.read_missing(key)
            flags = store._flags
            flag = flags.get(key)
        if flag is not None and flag._pending is not None:  # a streamed put's flag not yet parsed
            flag.materialize()
        if flag is None or flag.deleted:
            if events is not None:
                events.unknown(key, context, default, _NOT_FOUND, detailed)
            return _NOT_FOUND_DETAIL
        try:
            if events is None:
                return evaluate(flag, context, flags, store._segments, self.big_segments)
            prerequisites: Optional[List[Any]] = [] if flag.prerequisites else None
            detail = evaluate(flag, context, flags, store._segments, self.big_segments, prerequisites)
        except Exception as e:
            log.error('Unexpected error while evaluating feature flag "%s": %r', key, e)
            log.debug("evaluation error", exc_info=True)
            if events is not None:
                events.failed(flag, context, default, _EXCEPTION, detailed)
            return _EXCEPTION_DETAIL
        events.evaluated(flag, context, detail, default, detailed, prerequisites)
        return detail


    def fill_flags_state(self, values: dict[str, Any], metas: dict[str, Any], context: Any, client_only: bool,
                         with_reasons: bool,
                         details_only: bool, now_ms: int, part: Optional[dict[str, Any]] = None) -> None:
        """Evaluate every flag for a valid context into FeatureFlagsState's value and metadata maps
        (``part``: only the flags of that dict, a part of a copy of the store's flags, so that a
        caller can evaluate a large store in several calls; prerequisites and segments are read
        from the store either way).

        The metadata is exactly the official SDK's (``FeatureFlagsState.add_flag`` builds the same
        for its public API; this loop is the compiled hot path): reason (with_reasons or trackReason, unless
        details are omitted), version (unless omitted), prerequisites (non-empty), variation (not
        None), trackEvents/trackReason (when true), debugEventsUntilDate (when set).
        """
        store = self.store
        flags = store._flags
        segments = store._segments
        snapshot = flags.copy() if part is None else part  # the store may change while we evaluate
        for key, flag in snapshot.items():
            if flag._pending is not None:
                flag.materialize()
            if flag.deleted or (client_only and not flag.client_side):
                continue
            prereqs: Optional[List[str]] = [] if flag.prerequisites else None
            try:
                detail = evaluate(flag, context, flags, segments, self.big_segments, None, prereqs)
            except Exception as e:
                log.error('Error evaluating flag "%s" in all_flags_state: %r', key, e)
                detail = _EXCEPTION_DETAIL
                prereqs = None
            reason = detail._reason
            known = detail._experiment
            experiment = is_experiment(flag, reason) if known is None else known
            track_events = flag.track_events or experiment
            debug_until = flag.debug_events_until_date
            if flag.error is None:
                key = flag.key
            values[key] = detail._value
            meta: Dict[str, Any] = {}
            omit = details_only and not track_events and not (debug_until is not None and debug_until > now_ms)
            if not omit:
                if with_reasons or experiment:
                    meta["reason"] = reason
                meta["version"] = flag.version
            if prereqs:
                _untrack_leaf(prereqs)
                meta["prerequisites"] = prereqs
            if detail._variation_index is not None:
                meta["variation"] = detail._variation_index
            if track_events:
                meta["trackEvents"] = True
            if experiment:
                meta["trackReason"] = True
            if debug_until is not None:
                meta["debugEventsUntilDate"] = debug_until
            _untrack_leaf(meta)
            metas[key] = meta


def _untrack_leaf(container: Any) -> None:
    """A flag's all_flags_state metadata dict (strings, numbers, bools, a shared reason dict, its
    prerequisite key list) and that list of strings: no cycle can run through them, so the
    compiled twin keeps them out of the cycle collector. 1,000 flags make over 1,000 of them per
    call; tracked, they were promoted through the generations while the call ran and set off full
    collections of the application's heap (~14% of the call). CPython tracks a dict or list again
    by itself if a container is ever stored in it. The pure twin leaves them tracked."""
    if _COMPILED:
        PyObject_GC_UnTrack(container)  # type: ignore[name-defined]  # noqa: F821 (evaluator_c.pxd)


def is_experiment(flag: _m.Flag, reason: dict[str, Any]) -> bool:
    """Whether an evaluation is part of an experiment (its events carry the reason)."""
    if reason.get("inExperiment"):
        return True
    kind = reason.get("kind")
    if kind == "RULE_MATCH":
        index = reason.get("ruleIndex")
        rules = flag.rules
        return type(index) is int and 0 <= index < len(rules) and rules[index].track_events
    if kind == "FALLTHROUGH":
        return flag.track_events_fallthrough
    return False


_NOT_READY_DETAIL = _Detail(None, None, _NOT_READY)
_NO_CONTEXT_DETAIL = _Detail(None, None, _NO_CONTEXT)
_NOT_FOUND_DETAIL = _Detail(None, None, _NOT_FOUND)
_EXCEPTION_DETAIL = _Detail(None, None, _EXCEPTION)
