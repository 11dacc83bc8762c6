"""Flag and segment data model: raw JSON parsed once, at store time, into preprocessed objects.

Everything that does not depend on the context is done here: type checks (the same ones the
official SDK makes), target lists as frozensets, clause values preprocessed per operator, attribute
references parsed, bucketing prefixes encoded, and every EvaluationDetail a flag can produce
without a context-dependent part (off, prerequisite failed, target match, each rule and fallthrough
variation, with and without ``inExperiment``) built once.

A malformed item never raises out of here: it is kept as a ``Flag``/``Segment`` whose ``error`` is
set, and evaluates to the default with ``ERROR``/``MALFORMED_FLAG``. Objects are never mutated
after construction.

Garbage collection. A large data set is hundreds of thousands of small objects, and CPython's
cyclic collector walks every tracked container on each full pass (~200 ms for 5,000 rule-heavy
flags), however long they have lived. These objects cannot form reference cycles: each one refers
only to objects built during its own construction (its children: model objects, tuples,
frozensets, the decoded JSON lists and dicts it keeps) or to shared immutable constants
(``MALFORMED``, reason dicts, strings, compiled patterns), never to an ancestor, and nothing is
mutated after construction. So the compiled twin takes each object it builds, and each container
it keeps, out of the collector (``PyObject_GC_UnTrack``; reference counting still frees them):
``seal`` below. The pure twin leaves them tracked (it cannot untrack). Only objects the model
creates, or JSON it decoded itself, are sealed: a dict given to ``parse_flag`` by a caller stays
as it is. Items decoded from text keep that text (``raw_json``) instead of the decoded tree;
``raw`` decodes a fresh copy on demand.
"""
from __future__ import annotations

import json
import logging
import threading
from typing import Any, List, Optional, Tuple, Union

import re

try:
    import cython

    _COMPILED = cython.compiled
except ImportError:  # pure twin without Cython installed
    _COMPILED = False

from ldfast._ext.bucketing import bucket_prefix
from ldfast._ext.operators import OP_CODES, InValues, RegexValues, preprocess

log = logging.getLogger("ldfast.model")
_json_loads = json.loads
_MATERIALIZING = threading.Lock()


# -- taking model objects out of the cycle collector (compiled twin only; see the docstring) -----

def _untrack(obj: Any) -> None:
    """Stop the cycle collector from tracking ``obj`` (a container that can hold no cycle)."""
    if _COMPILED and PyObject_IS_GC(obj):  # type: ignore[name-defined]  # noqa: F821 (model_c.pxd)
        PyObject_GC_UnTrack(obj)  # type: ignore[name-defined]  # noqa: F821


def seal(value: Any) -> Any:
    """``value`` (decoded JSON) and every list and dict in it, untracked in the compiled twin;
    returned unchanged. Only for JSON the model decoded itself (a tree nobody else holds)."""
    if not _COMPILED:
        return value
    t = type(value)
    if t is dict:
        _untrack(value)
        for v in value.values():
            if type(v) is dict or type(v) is list:
                seal(v)
    elif t is list:
        _untrack(value)
        for v in value:
            if type(v) is dict or type(v) is list:
                seal(v)
    return value


def _untrack_pre(pre: Any) -> None:
    """A clause's preprocessed values (see operators.preprocess): the containers built for it."""
    t = type(pre)
    if t is InValues:
        _untrack(pre)
        _untrack(pre.hashed)
        _untrack(pre.bools)
        _untrack(pre.all_values)  # its items are the clause's values (sealed with them if owned)
    elif t is RegexValues:
        _untrack(pre)  # its patterns come from re's shared cache: left as they are
        _untrack(pre.patterns)
    elif t is tuple or t is frozenset:  # strings; semantic version keys (nested tuples)
        _untrack_tuples(pre)


def _untrack_tuples(value: Any) -> None:
    """A tuple or frozenset we built, and the tuples and frozensets in it."""
    _untrack(value)
    for v in value:
        if type(v) is tuple or type(v) is frozenset:
            _untrack_tuples(v)


# -- evaluation results ---------------------------------------------------------------------------

class EvaluationDetail:
    """The result of a flag evaluation: value, variation index (None for the default), reason."""

    __slots__ = ("_value", "_variation_index", "_reason", "_experiment")

    def __init__(self, value: object, variation_index: Optional[int], reason: dict[str, Any]):
        self._value = value
        self._variation_index = variation_index
        self._reason = reason
        # For details prebuilt for one flag: whether serving it is an experiment evaluation
        # (its events carry the reason); None when not known in advance.
        self._experiment: Optional[bool] = None

    @property
    def value(self) -> object:
        return self._value

    @property
    def variation_index(self) -> Optional[int]:
        return self._variation_index

    @property
    def reason(self) -> dict[str, Any]:
        return self._reason

    def is_default_value(self) -> bool:
        return self._variation_index is None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EvaluationDetail):
            return NotImplemented
        return (self._value == other._value and self._variation_index == other._variation_index
                and self._reason == other._reason)

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return "(value=%s, variation_index=%s, reason=%s)" % (self._value, self._variation_index, self._reason)

    __repr__ = __str__


def error_reason(error_kind: str) -> dict[str, Any]:
    return {"kind": "ERROR", "errorKind": error_kind}



# -- attribute references -------------------------------------------------------------------------

_BUILTIN_ATTRS = {"key": 1, "kind": 2, "name": 3, "anonymous": 4}
_BAD_ESCAPE = re.compile(r"(~[^01]|~$)")
_ERR_EMPTY = "attribute reference cannot be empty"


class AttrRef:
    """A parsed reference: ``first`` is looked up with Context.get, ``rest`` indexes into objects."""

    __slots__ = ("path", "first", "rest", "error", "depth", "builtin")

    def __init__(self, path: str, components: Tuple[str, ...], error: Optional[str]):
        self.path = path
        self.error = error
        self.depth = 0 if error is not None else len(components)
        self.first: Optional[str] = components[0] if components else None
        self.rest: Tuple[str, ...] = components[1:]
        # which built-in attribute ``first`` names: 1 key, 2 kind, 3 name, 4 anonymous; 0 custom
        self.builtin: int = _BUILTIN_ATTRS.get(self.first, 0) if type(self.first) is str else 0
        _untrack(self.rest)
        _untrack(self)

    @property
    def valid(self) -> bool:
        return self.error is None

    def __repr__(self) -> str:
        return "AttrRef(%r)" % (self.path if self.error is None else self.error)


def ref_from_path(path: str) -> AttrRef:
    if path == "" or path == "/":
        return AttrRef("", (), _ERR_EMPTY)
    if path[0] != "/":
        return AttrRef(path, (path,), None)
    parts = path[1:].split("/")
    for i, c in enumerate(parts):
        if c == "":
            return AttrRef("", (), "attribute reference contained a double slash or a trailing slash")
        if "~" in c:
            if _BAD_ESCAPE.search(c):
                return AttrRef("", (), "attribute reference contained an escape character (~) that was not followed by 0 or 1")
            parts[i] = c.replace("~1", "/").replace("~0", "~")
    return AttrRef(path, tuple(parts), None)


def ref_from_literal(name: str) -> AttrRef:
    if name == "":
        return AttrRef("", (), _ERR_EMPTY)
    if name[0] != "/":
        return AttrRef(name, (name,), None)
    return AttrRef("/" + name.replace("~", "~0").replace("/", "~1"), (name,), None)


def ref_for(attr: str, context_kind: Optional[str]) -> AttrRef:
    """A clause or bucketBy attribute: a literal name without a context kind, else a path."""
    if context_kind is None or context_kind == "":
        return ref_from_literal(attr)
    return ref_from_path(attr)


# -- flags and segments ---------------------------------------------------------------------------


MALFORMED = EvaluationDetail(None, None, error_reason("MALFORMED_FLAG"))
_untrack(MALFORMED)
_OFF_REASON = {"kind": "OFF"}
_TARGET_REASON = {"kind": "TARGET_MATCH"}
_FALLTHROUGH_REASON = {"kind": "FALLTHROUGH"}
_FALLTHROUGH_EXP_REASON = {"kind": "FALLTHROUGH", "inExperiment": True}


class MalformedError(ValueError):
    """A flag or segment property has the wrong JSON type or a required one is missing."""


# -- typed property access (the official SDK's checks; a bool passes an int check) ---------------

def _opt(data: dict[str, Any], name: str, typ: Any) -> Any:
    value = data.get(name)
    if value is not None and not isinstance(value, typ):
        raise MalformedError('property "%s" should be %s but was %s' % (name, _type_name(typ), type(value).__name__))
    return value


def _type_name(typ: Union[type, Tuple[type, ...]]) -> str:
    if isinstance(typ, tuple):
        return " or ".join(t.__name__ for t in typ)
    return typ.__name__


def _req(data: dict[str, Any], name: str, typ: Any) -> Any:
    value = _opt(data, name, typ)
    if value is None:
        raise MalformedError('required property "%s" is missing' % name)
    return value


def _opt_bool(data: dict[str, Any], name: str) -> bool:
    return _opt(data, name, bool) is True


def _list_of(items: list[Any], name: str, typ: Any) -> list[Any]:
    for item in items:
        if not isinstance(item, typ):
            raise MalformedError("property %s should be an array of %s" % (name, typ.__name__))
    return items


def _opt_list(data: dict[str, Any], name: str, typ: Any = None) -> list[Any]:
    items = _opt(data, name, list) or []
    return items if typ is None else _list_of(items, name, typ)


def _req_list(data: dict[str, Any], name: str, typ: Any = None) -> list[Any]:
    items = _req(data, name, list)
    return items if typ is None else _list_of(items, name, typ)


def _check_dict(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise MalformedError("%s should be an object" % what)
    return data


# -- shared pieces --------------------------------------------------------------------------------

def _detail(value: Any, index: Any, reason: dict[str, Any]) -> EvaluationDetail:
    """A detail prebuilt for a flag: its value is a sealed variation, its reason a flat dict."""
    detail = EvaluationDetail(value, index, reason)
    _untrack(detail)
    return detail


def variation_detail(variations: list[Any], index: Any, reason: dict[str, Any]) -> EvaluationDetail:
    """The detail for serving variation ``index``, or MALFORMED_FLAG if it is out of range."""
    if index < 0 or index >= len(variations):
        return MALFORMED
    return _detail(variations[index], index, reason)


class Clause:
    __slots__ = ("op", "op_name", "attr", "is_kind", "is_segment_match", "negate", "context_kind", "kind",
                 "values", "pre")

    def __init__(self, data: dict[str, Any], owned: bool):
        _check_dict(data, "clause")
        self.context_kind: Optional[str] = _opt(data, "contextKind", str)
        self.kind: str = self.context_kind or "user"  # the context kind whose attribute is tested
        attribute = _req(data, "attribute", str)
        self.attr: AttrRef = ref_for(attribute, self.context_kind)
        self.negate: bool = _opt_bool(data, "negate")
        self.op_name: str = _req(data, "op", str)
        self.values: list[Any] = _req_list(data, "values")
        self.op: int = OP_CODES.get(self.op_name, 0)  # 0: unknown operator, never matches
        self.is_segment_match: bool = self.op_name == "segmentMatch"
        self.is_kind: bool = self.attr.depth == 1 and self.attr.first == "kind"
        self.pre: Any = None if self.is_segment_match else preprocess(self.op, self.values)
        if owned:
            seal(self.values)
        _untrack_pre(self.pre)
        _untrack(self)


class Rollout:
    """A percentage rollout or experiment, with cumulative bucket bounds and prebuilt details."""

    __slots__ = ("context_kind", "bucket_by", "is_experiment", "seed", "prefix", "bounds", "overflow",
                 "details", "exp_details", "variations")

    def __init__(self, data: dict[str, Any], flag_key: str, salt: str, flag_variations: list[Any], reason: dict[str,
                 Any],
                 exp_reason: dict[str, Any]):
        _check_dict(data, "rollout")
        self.context_kind: Optional[str] = _opt(data, "contextKind", str)
        bucket_by = _opt(data, "bucketBy", str)
        self.is_experiment: bool = _opt(data, "kind", str) == "experiment"
        self.seed: Optional[int] = _opt(data, "seed", int)
        weighted = []
        for wv in _req_list(data, "variations", dict):
            weighted.append((_req(wv, "variation", int), _req(wv, "weight", int), _opt_bool(wv, "untracked")))
        # experiments ignore bucketBy and always hash the context key
        self.bucket_by: Optional[AttrRef] = (
            None if (bucket_by is None or bucket_by == "" or self.is_experiment)
            else ref_for(bucket_by, self.context_kind)
        )
        self.prefix: bytes = bucket_prefix(flag_key, salt, self.seed)
        self.variations = tuple(weighted)
        bounds = []
        total = 0.0
        self.overflow = False  # a weight too large for a float: evaluation raises on reaching it
        for _, weight, _ in weighted:
            try:
                total += weight / 100000.0  # same accumulation as the official SDK, bit for bit
            except OverflowError:
                self.overflow = True
                break
            bounds.append(total)
        self.bounds: Tuple[float, ...] = tuple(bounds)
        self.details = tuple(variation_detail(flag_variations, v, reason) for v, _, _ in weighted)
        self.exp_details = tuple(
            variation_detail(flag_variations, v, exp_reason) if (self.is_experiment and not untracked)
            else variation_detail(flag_variations, v, reason)
            for v, _, untracked in weighted
        )
        _untrack_tuples(self.variations)
        _untrack(self.bounds)
        _untrack(self.details)
        _untrack(self.exp_details)
        _untrack(self)


class VariationOrRollout:
    """A rule's or the fallthrough's outcome: a fixed detail, or a rollout."""

    __slots__ = ("variation", "rollout", "detail")

    def __init__(self, data: Optional[dict[str, Any]], flag_key: str, salt: str, flag_variations: list[Any],
                 reason: dict[str, Any], exp_reason: dict[str, Any]):
        data = {} if data is None else data
        self.variation: Optional[int] = _opt(data, "variation", int)
        rollout = _opt(data, "rollout", dict)
        self.rollout: Optional[Rollout] = None
        if self.variation is not None:
            if rollout is not None:
                Rollout(rollout, flag_key, salt, flag_variations, reason, exp_reason)  # type checks only
            self.detail: Optional[EvaluationDetail] = variation_detail(flag_variations, self.variation, reason)
        elif rollout is None:
            self.detail = MALFORMED
        else:
            self.rollout = Rollout(rollout, flag_key, salt, flag_variations, reason, exp_reason)
            self.detail = MALFORMED if not self.rollout.variations else None
        _untrack(self)


class Rule:
    __slots__ = ("id", "clauses", "track_events", "outcome", "reason")

    def __init__(self, data: dict[str, Any], index: int, flag_key: str, salt: str, flag_variations: list[Any],
                 owned: bool):
        _check_dict(data, "rule")
        self.id: Optional[str] = _opt(data, "id", str)
        self.reason = {"kind": "RULE_MATCH", "ruleIndex": index, "ruleId": self.id}
        exp_reason = {"kind": "RULE_MATCH", "ruleIndex": index, "ruleId": self.id, "inExperiment": True}
        self.outcome = VariationOrRollout(data, flag_key, salt, flag_variations, self.reason, exp_reason)
        self.clauses: Tuple[Clause, ...] = tuple(Clause(c, owned) for c in _req_list(data, "clauses", dict))
        self.track_events: bool = _opt_bool(data, "trackEvents")
        _untrack(self.clauses)
        _untrack(self)


class Prerequisite:
    __slots__ = ("key", "variation", "failed")

    def __init__(self, data: dict[str, Any], flag: "Flag", off_variation: Optional[int]):
        self.key: str = _req(data, "key", str)
        self.variation: int = _req(data, "variation", int)
        reason = {"kind": "PREREQUISITE_FAILED", "prerequisiteKey": self.key}
        self.failed = off_detail(flag.variations, off_variation, reason)
        _untrack(self)


class Target:
    """A target list entry: the context kind it applies to, the keys, the detail it serves."""

    __slots__ = ("context_kind", "variation", "values", "detail")

    def __init__(self, data: dict[str, Any], variations: list[Any]):
        _check_dict(data, "target")
        self.context_kind: Optional[str] = _opt(data, "contextKind", str)
        self.variation: int = _req(data, "variation", int)
        self.values = frozenset(_req_list(data, "values", str))
        self.detail = variation_detail(variations, self.variation, _TARGET_REASON)
        _untrack(self.values)
        _untrack(self)


def _identity(raw: Any, key: str, version: Any) -> Tuple[str, Any, bool]:
    """What can be salvaged from a malformed item: its key, version and deleted flag."""
    if not isinstance(raw, dict):
        return key, version, False
    k, v = raw.get("key"), raw.get("version")
    return (k if isinstance(k, str) else key, v if isinstance(v, int) else version, raw.get("deleted") is True)


def off_detail(variations: list[Any], off_variation: Optional[int], reason: dict[str, Any]) -> EvaluationDetail:
    if off_variation is None:
        return _detail(None, None, reason)
    return variation_detail(variations, off_variation, reason)


class TargetCheck:
    """One effective target: a context of ``kind`` whose key is in ``keys`` gets ``detail``."""

    __slots__ = ("kind", "keys", "detail")

    def __init__(self, kind: str, keys: frozenset[Any], detail: EvaluationDetail):
        self.kind = kind
        self.keys = keys
        self.detail = detail
        _untrack(self)


def _effective_targets(targets: Tuple[Target, ...], context_targets: Tuple[Target, ...]) -> Tuple[TargetCheck, ...]:
    """The targets to check, in the order LaunchDarkly checks them.

    With no contextTargets, the user targets apply. Otherwise contextTargets apply in order, and a
    user-kind entry uses the keys of the FIRST user target with the same variation.
    """
    if not context_targets:
        return tuple(TargetCheck("user", t.values, t.detail) for t in targets)
    out = []
    for ct in context_targets:
        kind = ct.context_kind or "user"
        if kind == "user":
            for t in targets:
                if t.variation == ct.variation:
                    out.append(TargetCheck("user", t.values, ct.detail))  # serves the contextTarget's variation
                    break
        else:
            out.append(TargetCheck(kind, ct.values, ct.detail))
    return tuple(out)


class Flag:
    """A preprocessed feature flag. ``error`` is set when the raw flag was malformed.

    ``raw`` is the item as the store interface returns it: the object given, or, when the flag was
    built from ``raw_json`` (the text ``raw`` was decoded from, handed over by the decoder), a
    fresh decode of that text on each access.
    """

    __slots__ = (
        "key", "version", "deleted", "on", "variations", "off_variation", "off_detail",
        "fallthrough", "prerequisites", "targets", "rules", "salt", "track_events",
        "track_events_fallthrough", "debug_events_until_date", "exclude_from_summaries",
        "sampling_ratio", "client_side", "_raw", "raw_json", "error", "uses_state", "segment_keys", "_pending",
    )

    def __init__(self, raw: Any, raw_json: Optional[str] = None, pending: Optional[tuple[Any, ...]] = None):
        self._pending: Optional[tuple[Any, ...]] = None
        self._build(raw, raw_json, pending)

    def _build(self, raw: Any, raw_json: Optional[str], pending: Optional[tuple[Any, ...]]) -> None:
        owned = raw_json is not None
        self._raw = None if owned else raw
        self.raw_json = raw_json
        self.error: Optional[str] = None
        self.deleted = False
        self.key = ""
        self.version = 0
        self.on = False
        self.variations: list[Any] = []
        self.off_variation: Optional[int] = None
        self.off_detail = MALFORMED
        self.fallthrough: Optional[VariationOrRollout] = None
        self.prerequisites: Tuple[Prerequisite, ...] = ()
        self.targets: Tuple[TargetCheck, ...] = ()
        self.rules: Tuple[Rule, ...] = ()
        self.salt = ""
        self.track_events = False
        self.track_events_fallthrough = False
        self.debug_events_until_date: Any = None
        self.exclude_from_summaries = False
        self.sampling_ratio: Optional[int] = None
        self.client_side = False
        self.uses_state = False
        self.segment_keys: Tuple[str, ...] = ()  # the segments its segmentMatch clauses name
        if pending is not None:  # a placeholder: see pending_flag
            self._pending = pending
            _untrack(self)
            return
        try:
            self._parse(raw, owned)
        except Exception as e:  # keep the item, marked malformed; never break the store
            self.error = str(e) or type(e).__name__
            self.uses_state = False
            self.segment_keys = ()
            self.key, self.version, self.deleted = _identity(raw, self.key, self.version)
            self.track_events = isinstance(raw, dict) and raw.get("trackEvents") is True
        if owned:
            seal(self.variations)
        _untrack(self.prerequisites)
        _untrack(self.targets)
        _untrack(self.rules)
        _untrack(self.segment_keys)
        _untrack(self)

    @property
    def raw(self) -> Any:
        if self.raw_json is not None:
            return _json_loads(self.raw_json)
        return self._raw

    @property
    def pending(self) -> bool:
        """True for a placeholder (:func:`pending_flag`) not yet parsed: call :meth:`materialize`."""
        return self._pending is not None

    def pending_prerequisite_keys(self) -> tuple[Any, ...]:
        """A placeholder's prerequisite keys, as its text lists them (for ordering before parsing)."""
        return self._pending if self._pending is not None else ()

    def materialize(self) -> None:
        """Parse a placeholder's JSON text in place, once (any thread may call it; the first one
        parses, the others wait for it). Readers check ``pending`` first: a flag never shows a
        half-parsed state, since ``pending`` turns False only once every field is set."""
        with _MATERIALIZING:
            if self._pending is None:
                return
            text = self.raw_json
            assert text is not None  # a placeholder always keeps its JSON text
            try:
                raw = _json_loads(text)
            except (ValueError, RecursionError):  # the put's scanner validated it: not expected
                raw = None  # (kept as a malformed flag)
            self._build(raw, text, None)
            self._pending = None
        if self.error is not None:
            log.error("Flag %r is malformed and will evaluate to the default: %s", self.key, self.error)

    def _parse(self, data: dict[str, Any], owned: bool) -> None:
        _check_dict(data, "flag")
        self.version = _req(data, "version", int)
        self.deleted = _opt_bool(data, "deleted")
        if self.deleted:
            self.key = _opt(data, "key", str) or ""
            return
        self.key = key = _req(data, "key", str)
        self.variations = variations = _opt_list(data, "variations")
        self.on = _opt_bool(data, "on")
        self.off_variation = _opt(data, "offVariation", int)
        self.off_detail = off_detail(variations, self.off_variation, _OFF_REASON)
        self.salt = salt = _opt(data, "salt", str) or ""
        self.fallthrough = VariationOrRollout(_opt(data, "fallthrough", dict), key, salt, variations,
                                              _FALLTHROUGH_REASON, _FALLTHROUGH_EXP_REASON)
        self.prerequisites = tuple(Prerequisite(p, self, self.off_variation)
                                   for p in _opt_list(data, "prerequisites", dict))
        self.rules = tuple(Rule(r, i, key, salt, variations, owned)
                           for i, r in enumerate(_opt_list(data, "rules", dict)))
        targets = tuple(Target(t, variations) for t in _opt_list(data, "targets", dict))
        context_targets = tuple(Target(t, variations) for t in _opt_list(data, "contextTargets", dict))
        self.targets = _effective_targets(targets, context_targets)
        self.track_events = _opt_bool(data, "trackEvents")
        self.track_events_fallthrough = _opt_bool(data, "trackEventsFallthrough")
        self.debug_events_until_date = _opt(data, "debugEventsUntilDate", (int, float))
        if "migration" in data:
            migration = _opt(data, "migration", dict) or {}
            _opt(migration, "checkRatio", int)
        self.exclude_from_summaries = _opt_bool(data, "excludeFromSummaries")
        self.sampling_ratio = _opt(data, "samplingRatio", int)
        self.client_side = bool(data.get("clientSide", False))
        self._mark_experiments()
        self.uses_state = bool(self.prerequisites) or any(
            c.is_segment_match for r in self.rules for c in r.clauses
        )
        self.segment_keys = _segment_keys(self.rules)

    def _mark_experiments(self) -> None:
        """Record on each prebuilt detail whether serving it is an experiment evaluation."""
        for detail in (self.off_detail,) + tuple(p.failed for p in self.prerequisites) + tuple(
                t.detail for t in self.targets):
            if detail is not MALFORMED:
                detail._experiment = False
        outcomes = [(r.outcome, r.track_events) for r in self.rules]
        if self.fallthrough is not None:
            outcomes.append((self.fallthrough, self.track_events_fallthrough))
        for outcome, tracked in outcomes:
            details: List[Optional[EvaluationDetail]] = [outcome.detail] if outcome.rollout is None else list(
                outcome.rollout.details + outcome.rollout.exp_details)
            for served in details:
                if served is not None and served is not MALFORMED:
                    served._experiment = bool(tracked or served._reason.get("inExperiment"))

    def rule_tracks_events(self, rule_index: Any) -> bool:
        return isinstance(rule_index, int) and 0 <= rule_index < len(self.rules) and self.rules[rule_index].track_events

    def __repr__(self) -> str:
        return "Flag(%r, version=%r%s)" % (self.key, self.version, ", malformed" if self.error else "")


class SegmentRule:
    __slots__ = ("clauses", "weight", "bucket_by", "rollout_context_kind", "prefix")

    def __init__(self, data: dict[str, Any], seg_key: str, salt: str, owned: bool):
        _check_dict(data, "segment rule")
        self.clauses: Tuple[Clause, ...] = tuple(Clause(c, owned) for c in _req_list(data, "clauses", dict))
        self.rollout_context_kind: Optional[str] = _opt(data, "rolloutContextKind", str)
        bucket_by = _opt(data, "bucketBy", str)
        self.bucket_by: Optional[AttrRef] = (
            None if bucket_by is None or bucket_by == "" else ref_for(bucket_by, self.rollout_context_kind)
        )
        self.weight: Optional[int] = _opt(data, "weight", int)
        self.prefix = bucket_prefix(seg_key, salt, None)
        _untrack(self.clauses)
        _untrack(self)


class Segment:
    """A preprocessed segment. ``error`` is set when the raw segment was malformed.

    ``raw`` and ``raw_json`` as for :class:`Flag`.
    """

    __slots__ = ("key", "version", "deleted", "included", "excluded", "included_contexts",
                 "excluded_contexts", "rules", "salt", "unbounded", "unbounded_context_kind",
                 "generation", "_raw", "raw_json", "error", "refers_to_segments", "segment_keys")

    def __init__(self, raw: Any, raw_json: Optional[str] = None):
        owned = raw_json is not None
        self._raw = None if owned else raw
        self.raw_json = raw_json
        self.error: Optional[str] = None
        self.key = ""
        self.version = 0
        self.deleted = False
        self.included: frozenset[Any] = frozenset()
        self.excluded: frozenset[Any] = frozenset()
        self.included_contexts: Tuple[Tuple[str, frozenset[Any]], ...] = ()
        self.excluded_contexts: Tuple[Tuple[str, frozenset[Any]], ...] = ()
        self.rules: Tuple[SegmentRule, ...] = ()
        self.salt = ""
        self.unbounded = False
        self.unbounded_context_kind: Optional[str] = None
        self.generation: Optional[int] = None
        self.refers_to_segments = False
        self.segment_keys: Tuple[str, ...] = ()  # the segments its rules' segmentMatch clauses name
        try:
            self._parse(raw, owned)
        except Exception as e:  # keep the item, marked malformed; never break the store
            self.error = str(e) or type(e).__name__
            self.segment_keys = ()
            self.key, self.version, self.deleted = _identity(raw, self.key, self.version)
        _untrack(self.included)
        _untrack(self.excluded)
        _untrack_tuples(self.included_contexts)
        _untrack_tuples(self.excluded_contexts)
        _untrack(self.rules)
        _untrack(self.segment_keys)
        _untrack(self)

    @property
    def raw(self) -> Any:
        if self.raw_json is not None:
            return _json_loads(self.raw_json)
        return self._raw

    @property
    def pending(self) -> bool:
        """Always False: segments are parsed when stored (a store reads ``pending`` of any item)."""
        return False

    def _parse(self, data: dict[str, Any], owned: bool) -> None:
        _check_dict(data, "segment")
        self.version = _req(data, "version", int)
        self.deleted = _opt_bool(data, "deleted")
        if self.deleted:
            self.key = _opt(data, "key", str) or ""
            return
        self.key = key = _req(data, "key", str)
        self.included = frozenset(_opt_list(data, "included", str))
        self.excluded = frozenset(_opt_list(data, "excluded", str))
        self.included_contexts = tuple(_segment_target(t) for t in _opt_list(data, "includedContexts", dict))
        self.excluded_contexts = tuple(_segment_target(t) for t in _opt_list(data, "excludedContexts", dict))
        self.salt = salt = _opt(data, "salt", str) or ""
        self.rules = tuple(SegmentRule(r, key, salt, owned) for r in _opt_list(data, "rules", dict))
        self.unbounded = _opt_bool(data, "unbounded")
        self.unbounded_context_kind = _opt(data, "unboundedContextKind", str)
        self.generation = _opt(data, "generation", int)
        self.refers_to_segments = any(c.is_segment_match for r in self.rules for c in r.clauses)
        self.segment_keys = _segment_keys(self.rules)

    def __repr__(self) -> str:
        return "Segment(%r, version=%r%s)" % (self.key, self.version, ", malformed" if self.error else "")


def _segment_keys(rules: tuple[Any, ...]) -> Tuple[str, ...]:
    """The segment keys (string values) of the segmentMatch clauses in ``rules``, for the store's
    dependency graph."""
    keys = []
    for rule in rules:
        for clause in rule.clauses:
            if clause.is_segment_match:
                for value in clause.values:
                    if isinstance(value, str):
                        keys.append(value)
    return tuple(keys)


def _segment_target(data: dict[str, Any]) -> Tuple[str, frozenset[Any]]:
    kind = _opt(data, "contextKind", str)
    return (kind or "user", frozenset(_req_list(data, "values", str)))


def parse_flag(raw: Any, raw_json: Optional[str] = None) -> Flag:
    """``raw`` preprocessed; ``raw_json``, if given, is the text ``raw`` was just decoded from and
    ``raw`` is handed over (the flag keeps the text, and seals what it keeps of ``raw``)."""
    flag = Flag(raw, raw_json)
    if flag.error is not None:
        log.error("Flag %r is malformed and will evaluate to the default: %s", flag.key, flag.error)
    return flag


def reset_after_fork() -> None:
    """In a forked child: a new placeholder lock (a thread that was parsing a placeholder at the
    fork does not exist in the child, so the lock it held would never be released; the flag it was
    parsing is still pending and is parsed again from its text)."""
    global _MATERIALIZING
    _MATERIALIZING = threading.Lock()


def pending_flag(key: str, raw_json: str, prerequisite_keys: tuple[Any, ...]) -> Flag:
    """A placeholder for the flag stored under ``key`` whose JSON text is ``raw_json`` (already
    validated as JSON), parsed on first use (:meth:`Flag.materialize`). ``prerequisite_keys`` are
    the keys its text lists as prerequisites, so the store can order flags before parsing them."""
    flag = Flag(None, raw_json, prerequisite_keys)
    flag.key = key
    return flag


def parse_segment(raw: Any, raw_json: Optional[str] = None) -> Segment:
    """As :func:`parse_flag`, for a segment."""
    seg = Segment(raw, raw_json)
    if seg.error is not None:
        log.error("Segment %r is malformed; flags using it evaluate to the default: %s", seg.key, seg.error)
    return seg



