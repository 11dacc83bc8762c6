"""Output events: event inputs and summary counters turned into the JSON dicts sent to LaunchDarkly.

The dicts have the official SDK's keys in the official SDK's order (PROTOCOL.md 8.1, 8.4), so
``serialize_events`` gives the official payload byte for byte. Context formatting applies private
attribute redaction (configured references plus each context's own, top-level and nested) and,
for ``feature`` and ``custom`` events, the redaction of anonymous contexts.
"""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Tuple

from ldfast._ext.model import ref_from_path
from ldfast.context import Context
from ldfast.events.summarizer import EventSummary
from ldfast.events.types import (
    DebugEvent,
    EventInputCustom,
    EventInputEvaluation,
    EventInputIdentify,
    IndexEvent,
)

# Parsed private references: names that hide a whole attribute; nested paths (component tuples, at
# least two components) -> the reference as written, reported in redactedAttributes; and every
# proper prefix of a nested path (where to look deeper).
_Refs = Tuple[FrozenSet[str], Dict[Tuple[str, ...], str], FrozenSet[Tuple[str, ...]]]


@lru_cache(maxsize=4096)
def _parse_ref(path: str) -> Optional[Tuple[Tuple[str, ...], str]]:
    """A private attribute reference as (components, path as written); None if invalid."""
    ref = ref_from_path(path)
    if ref.error is not None:
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
        self._merged: Dict[Tuple[str, ...], _Refs] = {}

    def format(self, context: Context, redact_anonymous: bool) -> Dict[str, Any]:
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

    def _single(self, context: Context, include_kind: bool, redact_anonymous: bool) -> Dict[str, Any]:
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
            top, nested, prefixes = self._refs if not own else self._refs_for(own)
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


def format_context(context: Context, config_private_attributes: Iterable[str] = (),
                   all_attributes_private: bool = False, redact_anonymous: bool = False) -> Dict[str, Any]:
    """One context's event form (a ``ContextFormatter`` is cheaper for many contexts)."""
    return ContextFormatter(config_private_attributes, all_attributes_private).format(context, redact_anonymous)


class EventOutputFormatter:
    """Turns event inputs and a summary into output event dicts. ``config`` needs only
    ``private_attributes`` and ``all_attributes_private``."""

    __slots__ = ("_contexts",)

    def __init__(self, config: Any):
        self._contexts = ContextFormatter(config.private_attributes, config.all_attributes_private)

    def make_output_events(self, events: Iterable[Any], summary: Optional[EventSummary]) -> List[Dict[str, Any]]:
        """The payload: one dict per event, then the summary event if anything was counted."""
        out = [self.make_output_event(e) for e in events]
        if summary is not None and not summary.is_empty():
            out.append(self.make_summary_event(summary))
        return out

    def make_output_event(self, e: Any) -> Dict[str, Any]:
        kind = type(e)
        if kind is EventInputEvaluation:
            out = _eval_props(e, "feature")
            out["context"] = self._contexts.format(e.context, True)
            return out
        if kind is IndexEvent:
            return {"kind": "index", "creationDate": e.timestamp,
                    "context": self._contexts.format(e.context, False)}
        if kind is DebugEvent:
            original = e.original_input
            out = _eval_props(original, "debug")
            out["context"] = self._contexts.format(original.context, False)
            return out
        if kind is EventInputCustom:
            out = {"kind": "custom", "creationDate": e.timestamp, "key": e.key,
                   "context": self._contexts.format(e.context, True)}
            if e.data is not None:
                out["data"] = e.data
            if e.metric_value is not None:
                out["metricValue"] = e.metric_value
            return out
        if kind is EventInputIdentify:
            return {"kind": "identify", "creationDate": e.timestamp,
                    "context": self._contexts.format(e.context, False)}
        raise TypeError("not an analytics event: %r" % (e,))

    @staticmethod
    def make_summary_event(summary: EventSummary) -> Dict[str, Any]:
        features = {}
        for key, (default, kinds, _, counters) in summary.flags.items():
            counters_out = []
            for count, value, variation, version, _older in counters:
                counter: Dict[str, Any] = {"count": count, "value": value}
                if variation is not None:
                    counter["variation"] = variation
                if version is None:
                    counter["unknown"] = True
                else:
                    counter["version"] = version
                counters_out.append(counter)
            features[key] = {"default": default, "contextKinds": list(kinds), "counters": counters_out}
        return {"kind": "summary", "startDate": summary.start_date, "endDate": summary.end_date,
                "features": features}


def _eval_props(e: EventInputEvaluation, kind: str) -> Dict[str, Any]:
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


def serialize_events(output_events: List[Dict[str, Any]]) -> bytes:
    """The request body, exactly as the official SDK writes it: ``json.dumps`` with compact separators
    and ASCII escapes. (orjson differs: UTF-8 instead of ``\\u`` escapes, other float spellings,
    errors on big integers and lone surrogates.)"""
    return json.dumps(output_events, separators=(",", ":")).encode("ascii")


__all__ = ("ContextFormatter", "EventOutputFormatter", "format_context", "serialize_events")
