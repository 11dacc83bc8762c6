"""Clause operators, pure-Python twin: value parsing (times, semvers) and per-op matching.

Clause values are preprocessed once per clause (``preprocess``) into the shape each operator
needs: sets with JSON equality for ``in``, tuples of strings, compiled regexes, the largest and
smallest number / time / semver for the ordering operators (``x < any(v)`` is ``x < max(v)``).
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from numbers import Number
from typing import Any, Optional, Tuple

OP_UNKNOWN = 0
OP_IN = 1
OP_STARTS_WITH = 2
OP_ENDS_WITH = 3
OP_CONTAINS = 4
OP_MATCHES = 5
OP_LT = 6
OP_LTE = 7
OP_GT = 8
OP_GTE = 9
OP_BEFORE = 10
OP_AFTER = 11
OP_SEMVER_EQ = 12
OP_SEMVER_LT = 13
OP_SEMVER_GT = 14
OP_SEGMENT_MATCH = 15

OP_CODES = {
    "in": OP_IN,
    "startsWith": OP_STARTS_WITH,
    "endsWith": OP_ENDS_WITH,
    "contains": OP_CONTAINS,
    "matches": OP_MATCHES,
    "lessThan": OP_LT,
    "lessThanOrEqual": OP_LTE,
    "greaterThan": OP_GT,
    "greaterThanOrEqual": OP_GTE,
    "before": OP_BEFORE,
    "after": OP_AFTER,
    "semVerEqual": OP_SEMVER_EQ,
    "semVerLessThan": OP_SEMVER_LT,
    "semVerGreaterThan": OP_SEMVER_GT,
    "segmentMatch": OP_SEGMENT_MATCH,
}

_EPOCH = datetime.fromtimestamp(0, timezone.utc)
_Z_SUFFIX = re.compile("Z$", re.IGNORECASE)


def is_number(value: Any) -> bool:
    """A JSON number: any Number that is not a bool."""
    return isinstance(value, Number) and not isinstance(value, bool)


def parse_time(value: Any) -> Optional[float]:
    """Epoch milliseconds from a number (taken as ms) or an RFC 3339 string with an offset."""
    t = type(value)
    if t is int or t is float:
        return float(value)
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(_Z_SUFFIX.sub("+00:00", value))
            return (dt - _EPOCH).total_seconds() * 1000.0
        except Exception:  # naive datetimes cannot be subtracted from an aware one: no value
            return None
    if is_number(value):
        return float(value)  # type: ignore[arg-type]
    return None


_PRE_ID = r"(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
_BUILD_ID = r"[0-9a-zA-Z-]+"
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-(" + _PRE_ID + r"(?:\." + _PRE_ID + r")*))?"
    r"(?:\+(" + _BUILD_ID + r"(?:\." + _BUILD_ID + r")*))?\Z",
    re.ASCII,
)
_LEADING_NUMERIC = re.compile(r"^([0-9.]*)(.*)")

SemverKey = Tuple[int, int, int, tuple]


def _semver_key(m: "re.Match[str]") -> SemverKey:
    pre = m.group(4)
    if not pre:
        pre_key: tuple = (1,)
    else:
        parts = []
        for ident in pre.split("."):
            if ident.isdigit():
                norm = ident.lstrip("0") or "0"
                parts.append((0, len(norm), norm))
            else:
                parts.append((1, 0, ident))
        pre_key = (0, tuple(parts))
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), pre_key)


def parse_semver(value: Any) -> Optional[SemverKey]:
    """A sortable key for a (leniently parsed) semantic version; None if it does not parse.

    Keys order exactly as SemVer 2.0 precedence; build metadata is ignored.
    """
    if not isinstance(value, str):
        return None
    s = value
    for _ in range(3):
        m = _SEMVER.match(s)
        if m is not None:
            return _semver_key(m)
        lead = _LEADING_NUMERIC.match(s)
        s = lead.group(1) + ".0" + lead.group(2)  # type: ignore[union-attr]
    return None


class InValues:
    """Clause values of an ``in`` clause, split for O(1) lookup with JSON equality."""

    __slots__ = ("hashed", "bools", "all_values")

    def __init__(self, values: list):
        hashed = set()
        bools = set()
        for v in values:
            t = type(v)
            if t is bool:
                bools.add(v)
            elif t is str or t is int or v is None or (t is float and v == v):
                hashed.add(v)
        self.hashed = frozenset(hashed)
        self.bools = frozenset(bools)
        self.all_values = tuple(values)


def _in_slow(value: Any, values: tuple) -> bool:
    vb = isinstance(value, bool)
    for c in values:
        if isinstance(c, bool) == vb and value == c:
            return True
    return False


def preprocess(op: int, values: list) -> Any:
    """The per-op shape of a clause's values (see the module docstring)."""
    if op == OP_IN:
        return InValues(values)
    if op == OP_STARTS_WITH or op == OP_ENDS_WITH or op == OP_CONTAINS:
        return tuple(v for v in values if isinstance(v, str))
    if op == OP_MATCHES:
        out = []
        for v in values:
            if isinstance(v, str):
                try:
                    out.append(re.compile(v))
                except Exception:
                    pass
        return tuple(out)
    if OP_LT <= op <= OP_GTE:
        nums = [float(v) for v in values if is_number(v)]
        nums = [n for n in nums if n == n]
        return _bounds(nums)
    if op == OP_BEFORE or op == OP_AFTER:
        times = [parse_time(v) for v in values]
        return _bounds([t for t in times if t is not None and t == t])
    if OP_SEMVER_EQ <= op <= OP_SEMVER_GT:
        vers = [parse_semver(v) for v in values]
        vers = [v for v in vers if v is not None]
        if op == OP_SEMVER_EQ:
            return frozenset(vers)
        return _bounds(vers)
    return None


def _bounds(items: list) -> Optional[tuple]:
    if not items:
        return None
    return (min(items), max(items))


def match_value(op: int, pre: Any, value: Any) -> bool:
    """Whether one context value matches any of a clause's preprocessed values."""
    if op == OP_IN:
        t = type(value)
        if t is str or t is int or t is float:
            return value in pre.hashed
        if t is bool:
            return value in pre.bools
        return _in_slow(value, pre.all_values)
    if op == OP_STARTS_WITH:
        return isinstance(value, str) and len(pre) > 0 and value.startswith(pre)
    if op == OP_ENDS_WITH:
        return isinstance(value, str) and len(pre) > 0 and value.endswith(pre)
    if op == OP_CONTAINS:
        if isinstance(value, str):
            for c in pre:
                if c in value:
                    return True
        return False
    if op == OP_MATCHES:
        if isinstance(value, str):
            for rx in pre:
                if rx.search(value) is not None:
                    return True
        return False
    if OP_LT <= op <= OP_GTE:
        if pre is None or not is_number(value):
            return False
        x = float(value)
        if op == OP_LT:
            return x < pre[1]
        if op == OP_LTE:
            return x <= pre[1]
        if op == OP_GT:
            return x > pre[0]
        return x >= pre[0]
    if op == OP_BEFORE or op == OP_AFTER:
        if pre is None:
            return False
        x = parse_time(value)
        if x is None:
            return False
        return x < pre[1] if op == OP_BEFORE else x > pre[0]
    if OP_SEMVER_EQ <= op <= OP_SEMVER_GT:
        if not pre:
            return False
        v = parse_semver(value)
        if v is None:
            return False
        if op == OP_SEMVER_EQ:
            return v in pre
        if op == OP_SEMVER_LT:
            return v < pre[1]
        return v > pre[0]
    return False
