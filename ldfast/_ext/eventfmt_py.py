"""Analytics payloads, pure-Python twin (compiled as eventfmt_c with the types in eventfmt_c.pxd).

Event inputs and a summary become the JSON dicts sent to LaunchDarkly, with the official SDK's keys
in the official SDK's order (PROTOCOL.md 8.1, 8.4), then bytes: ``orjson.dumps``, or for an event
orjson refuses (an int beyond 64 bits, a lone surrogate, a non-string key) ``json.dumps`` with
compact separators; an event neither can write is dropped, with one log line per payload. The JSON
is the official SDK's once parsed (same events, same keys in the same order); the bytes differ only
in spelling (orjson writes UTF-8 rather than ``\\u`` escapes, ``1e16`` rather than ``1e+16``).

Context formatting applies private attribute redaction (configured references plus each
context's own, top-level and nested) and, for ``feature``, ``custom`` and ``migration_op`` events,
the redaction of anonymous contexts. An input with ``output_event(context)`` (``migration_op``,
``ldfast.events.migration``) writes its own event around its formatted context. Within one payload a context object is formatted once per redaction mode.
"""
from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Tuple

import orjson

from ldfast._ext.model import ref_from_path
from ldfast._ext.recorder import DebugEvent as _DebugEvent
from ldfast._ext.recorder import EventInputCustom as _EventInputCustom
from ldfast._ext.recorder import EventInputEvaluation as _EventInputEvaluation
from ldfast._ext.recorder import EventInputIdentify as _EventInputIdentify
from ldfast._ext.recorder import IndexEvent as _IndexEvent
from ldfast._ext.recorder import make_summary_event as _make_summary_event

log = logging.getLogger("ldfast.events.formatter")

_dumps = orjson.dumps
_Fragment: Any = getattr(orjson, "Fragment", None)  # orjson >= 3.9.16: JSON written once, embedded as is

# Parsed private references: names that hide a whole attribute; nested paths (component tuples, at
# least two components) -> the reference as written, reported in redactedAttributes; and every
# proper prefix of a nested path (where to look deeper).
_Refs = Tuple[FrozenSet[str], Dict[Tuple[str, ...], str], FrozenSet[Tuple[str, ...]]]


@lru_cache(maxsize=4096)
def _parse_ref(path: str) -> Optional[Tuple[Tuple[str, ...], str]]:
    """A private attribute reference as (components, path as written); None if invalid."""
    ref = ref_from_path(path)
    if ref.error is not None or ref.first is None:
        return None
    return ((ref.first,) + tuple(ref.rest), ref.path)


def _build_refs(paths: Iterable[str]) -> _Refs:
    top = set()
    nested: Dict[Tuple[str, ...], str] = {}
    prefixes = set()
    for path in paths:
        parsed = _parse_ref(path)
        if parsed is None:
            continue
        components, written = parsed
        if len(components) == 1:
            top.add(components[0])
        else:
            nested.setdefault(components, written)  # the first reference matching reports
            for i in range(1, len(components)):
                prefixes.add(components[:i])
    return frozenset(top), nested, frozenset(prefixes)


def _literal_path(name: str) -> str:
    """How an attribute name is reported in redactedAttributes (a reference to that name)."""
    if name[:1] != "/":
        return name
    return "/" + name.replace("~", "~0").replace("/", "~1")


class ContextFormatter:
    """Formats contexts for events, with the configured private attributes."""

    __slots__ = ("_all_private", "_config_paths", "_refs", "_merged")

    def __init__(self, private_attributes: Iterable[str] = (), all_attributes_private: bool = False):
        self._all_private = bool(all_attributes_private)
        self._config_paths = tuple(private_attributes)
        self._refs = _build_refs(self._config_paths)
        # the configured references plus one context's own list, by that list
        self._merged: Dict[Tuple[str, ...], tuple[Any, ...]] = {}

    def format(self, context: Any, redact_anonymous: bool) -> Dict[str, Any]:
        """The context's event form; with ``redact_anonymous``, an anonymous context (or part of a
        multi-context) keeps only key, kind and anonymous."""
        multi = context._multi
        if multi is None:
            return self._single(context, True, redact_anonymous)
        out: Dict[str, Any] = {"kind": "multi"}
        for c in multi:
            out[c._kind] = self._single(c, False, redact_anonymous)
        return out

    def _refs_for(self, own: List[str]) -> _Refs:
        key = tuple(own)
        refs = self._merged.get(key)
        if refs is None:
            refs = _build_refs(self._config_paths + key)
            if len(self._merged) >= 1024:
                self._merged.clear()
            self._merged[key] = refs
        return refs

    def _single(self, context: Any, include_kind: bool, redact_anonymous: bool) -> Dict[str, Any]:
        out: Dict[str, Any] = {"key": context._key}
        if include_kind:
            out["kind"] = context._kind
        anonymous = context._anonymous
        if anonymous:
            out["anonymous"] = True
        name = context._name
        attributes = context._attributes
        redacted: List[str] = []
        if self._all_private or (anonymous and redact_anonymous):
            if name is not None:
                redacted.append("name")
            if attributes:
                for attr in attributes:
                    redacted.append(_literal_path(attr))
        else:
            own = context._private
            refs = self._refs if not own else self._refs_for(own)
            top = refs[0]
            nested = refs[1]
            prefixes = refs[2]
            if name is not None:
                if "name" in top:
                    redacted.append("name")
                else:
                    out["name"] = name
            if attributes:
                for attr, value in attributes.items():
                    if attr in top:
                        redacted.append(_literal_path(attr))
                        continue
                    if prefixes and isinstance(value, dict) and value:
                        path = (attr,)
                        if path in prefixes:
                            value = _redact_nested(path, value, nested, prefixes, redacted)
                    out[attr] = value
        if redacted:
            out["_meta"] = {"redactedAttributes": redacted}
        return out


def _redact_nested(path: Tuple[str, ...], value: Dict[str, Any], nested: Dict[Tuple[str, ...], str],
                   prefixes: FrozenSet[Tuple[str, ...]], redacted: List[str]) -> Dict[str, Any]:
    """A copy of the object at ``path`` without the properties that private references name."""
    out = {}
    for k, v in value.items():
        sub = path + (k,)
        written = nested.get(sub)
        if written is not None:
            redacted.append(written)
            continue
        if isinstance(v, dict) and v and sub in prefixes:
            v = _redact_nested(sub, v, nested, prefixes, redacted)
        out[k] = v
    return out


def format_context(context: Any, config_private_attributes: Iterable[str] = (),
                   all_attributes_private: bool = False, redact_anonymous: bool = False) -> Dict[str, Any]:
    """One context's event form (a ``ContextFormatter`` is cheaper for many contexts)."""
    return ContextFormatter(config_private_attributes, all_attributes_private).format(context, redact_anonymous)


class EventOutputFormatter:
    """Turns event inputs and a summary into output event dicts. ``config`` needs only
    ``private_attributes`` and ``all_attributes_private``."""

    __slots__ = ("_contexts",)

    def __init__(self, config: Any):
        self._contexts = ContextFormatter(config.private_attributes, config.all_attributes_private)

    def make_output_events(self, events: Iterable[Any], summary: Any) -> List[Dict[str, Any]]:
        """The payload: one dict per event, then the summary event if anything was counted."""
        out = []
        redacted: Dict[int, Any] = {}  # formatted contexts, by id, within this payload
        plain: Dict[int, Any] = {}
        for e in events:
            out.append(self._output_event(e, redacted, plain, False))
        if summary is not None and not summary.is_empty():
            out.append(_make_summary_event(summary))
        return out

    def make_output_event(self, e: Any) -> Dict[str, Any]:
        return self._output_event(e, {}, {}, False)

    def serialize(self, events: List[Any], summary: Any, contexts: Optional[List[Dict[int, Any]]] = None) -> bytes:
        """The JSON array of these events and the summary: ``serialize_events(make_output_events(...))``
        but faster, each context being written once per payload. For a payload written in parts,
        pass the same ``contexts`` (from :meth:`new_context_cache`) for every part, and keep the
        events of the earlier parts alive until the last part is written."""
        fragments = _Fragment is not None
        if contexts is None:
            contexts = [{}, {}]
        redacted = contexts[0]
        plain = contexts[1]
        out = []
        for e in events:
            out.append(self._output_event(e, redacted, plain, fragments))
        if summary is not None and not summary.is_empty():
            out.append(_make_summary_event(summary))
        try:
            return _dumps(out)
        except TypeError:  # orjson.JSONEncodeError: e.g. an int over 64 bits, a non-string key
            pass
        parts = []
        dropped = 0
        first = ""
        n = len(events)
        for i in range(len(out)):
            event = out[i]
            try:
                parts.append(_dumps(event))
                continue
            except TypeError:
                pass
            if fragments and i < n:  # the json module cannot write fragments
                event = self._output_event(events[i], {}, {}, False)
            try:
                parts.append(json.dumps(event, separators=(",", ":"), allow_nan=False).encode("utf-8"))
            except (TypeError, ValueError) as e:
                if dropped == 0:
                    first = "%s event: %s" % (event.get("kind"), e)
                dropped += 1
        if dropped:
            log.warning("Dropped %d analytics event(s) whose data cannot be serialized to JSON (first: %s)",
                        dropped, first)
        return b"[" + b",".join(parts) + b"]"

    @staticmethod
    def new_context_cache() -> List[Dict[int, Any]]:
        """Formatted contexts (by context object) for the parts of one payload (see :meth:`serialize`)."""
        return [{}, {}]

    def make_summary_event(self, summary: Any) -> Dict[str, Any]:
        return _make_summary_event(summary)

    def _context(self, context: Any, redact_anonymous: bool, cache: Dict[int, Any], fragment: bool) -> Any:
        """The context's event form, made once per payload (``cache``, by object); as an orjson
        fragment (its JSON) when ``fragment``, unless orjson cannot write it."""
        key = id(context)
        formatted = cache.get(key)
        if formatted is None:
            formatted = self._contexts.format(context, redact_anonymous)
            if fragment:
                try:
                    formatted = _Fragment(_dumps(formatted))
                except TypeError:
                    pass  # the event is written by the json module, with the context as a dict
            cache[key] = formatted
        return formatted

    def _output_event(self, e: Any, redacted: Dict[int, Any], plain: Dict[int, Any], fragment: bool) -> Dict[str, Any]:
        kind = type(e)
        if kind is _EventInputEvaluation:
            out = _eval_props(e, "feature")
            out["context"] = self._context(e.context, True, redacted, fragment)
            return out
        if kind is _IndexEvent:
            return {"kind": "index", "creationDate": e.timestamp,
                    "context": self._context(e.context, False, plain, fragment)}
        if kind is _DebugEvent:
            original = e.original_input
            out = _eval_props(original, "debug")
            out["context"] = self._context(original.context, False, plain, fragment)
            return out
        if kind is _EventInputCustom:
            out = {"kind": "custom", "creationDate": e.timestamp, "key": e.key,
                   "context": self._context(e.context, True, redacted, fragment)}
            if e.data is not None:
                out["data"] = e.data
            if e.metric_value is not None:
                out["metricValue"] = e.metric_value
            return out
        if kind is _EventInputIdentify:
            return {"kind": "identify", "creationDate": e.timestamp,
                    "context": self._context(e.context, False, plain, fragment)}
        output_event = getattr(e, "output_event", None)
        if output_event is not None:  # an input that writes its own event (migration_op), context redacted here
            made: Dict[str, Any] = output_event(self._context(e.context, True, redacted, fragment))
            return made
        raise TypeError("not an analytics event: %r" % (e,))


def _eval_props(e: Any, kind: str) -> Dict[str, Any]:
    out = {"kind": kind, "creationDate": e.timestamp, "key": e.key, "value": e.value,
           "default": e.default_value}
    if e.flag is not None:
        out["version"] = e.version
    if e.variation is not None:
        out["variation"] = e.variation
    if e.reason is not None:
        out["reason"] = e.reason
    if e.prereq_of is not None:
        out["prereqOf"] = e.prereq_of.key
    return out


def dumps_items(output_events: List[Any]) -> bytes:
    """The output events as JSON array items, comma-separated, without the brackets (b"" for none).
    An event that cannot be written as JSON is dropped (one log line for the payload), not the
    whole payload."""
    try:
        return _dumps(output_events)[1:-1]
    except TypeError:  # orjson.JSONEncodeError: e.g. an int over 64 bits, a non-string key
        pass
    parts = []
    dropped = 0
    first = ""
    for event in output_events:
        try:
            parts.append(_dumps(event))
        except TypeError:
            try:
                parts.append(json.dumps(event, separators=(",", ":"), allow_nan=False).encode("utf-8"))
            except (TypeError, ValueError) as e:
                if dropped == 0:
                    first = "%s event: %s" % (event.get("kind") if isinstance(event, dict) else "?", e)
                dropped += 1
    if dropped:
        log.warning("Dropped %d analytics event(s) whose data cannot be serialized to JSON (first: %s)",
                    dropped, first)
    return b",".join(parts)


def serialize_events(output_events: List[Any]) -> bytes:
    """The request body: a JSON array (see :func:`dumps_items`)."""
    try:
        return _dumps(output_events)
    except TypeError:
        return b"[" + dumps_items(output_events) + b"]"


__all__ = ("ContextFormatter", "EventOutputFormatter", "dumps_items", "format_context", "serialize_events")
