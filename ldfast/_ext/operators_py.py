"""Clause operators, pure-Python twin: value parsing (times, semvers) and per-op matching.

Clause values are preprocessed once per clause (``preprocess``) into the shape each operator
needs: sets with JSON equality for ``in``, tuples of strings, compiled regexes, the largest and
smallest number / time / semver for the ordering operators (``x < any(v)`` is ``x < max(v)``).
"""
from __future__ import annotations

import re
import warnings
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
    t = type(value)
    if t is int or t is float:
        return True
    return isinstance(value, Number) and not isinstance(value, bool)


def parse_time(value: Any) -> Optional[float]:
    """Epoch milliseconds from a number (taken as ms) or an RFC 3339 string with an offset."""
    t = type(value)
    if t is int or t is float:
        return float(value)
    if t is str:
        try:
            return _time_cache[value]
        except KeyError:
            pass
        result = _parse_time_string(value)
        if len(_time_cache) >= _CACHE_LIMIT:
            _time_cache.clear()
        _time_cache[value] = result
        return result
    if isinstance(value, str):
        return _parse_time_string(value)
    if is_number(value):
        return float(value)
    return None


def _parse_time_string(value: str) -> Optional[float]:
    try:
        dt = datetime.fromisoformat(_Z_SUFFIX.sub("+00:00", value))
        return (dt - _EPOCH).total_seconds() * 1000.0
    except Exception:  # naive datetimes cannot be subtracted from an aware one: no value
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

SemverKey = Tuple[int, int, int, Tuple[Any, ...]]


def _semver_key(m: "re.Match[str]") -> SemverKey:
    pre = m.group(4)
    if not pre:
        pre_key: tuple[Any, ...] = (1,)
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


_CACHE_LIMIT = 4096
_semver_cache: dict[str, Optional[SemverKey]] = {}
_time_cache: dict[str, Optional[float]] = {}


def parse_semver(value: Any) -> Optional[SemverKey]:
    """A sortable key for a (leniently parsed) semantic version; None if it does not parse.

    Keys order exactly as SemVer 2.0 precedence; build metadata is ignored. Results for exact
    ``str`` values are memoized (bounded), since context attributes repeat.
    """
    if type(value) is str:
        try:
            return _semver_cache[value]
        except KeyError:
            pass
        result = _parse_semver(value)
        if len(_semver_cache) >= _CACHE_LIMIT:
            _semver_cache.clear()
        _semver_cache[value] = result
        return result
    if not isinstance(value, str):
        return None
    return _parse_semver(value)


def _parse_semver(value: str) -> Optional[SemverKey]:
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

    def __init__(self, values: list[Any]):
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


_REGEX_CACHE_LIMIT = 1024


def _compile(pattern: str) -> Any:
    """re.compile; a pattern that only warns (FutureWarning for "[[") is still valid, even where
    warnings are turned into errors."""
    try:
        return re.compile(pattern)
    except Warning:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(pattern)


class RegexValues:
    """Compiled patterns of a ``matches`` clause, with a bounded memo of results per value."""

    __slots__ = ("patterns", "cache")

    def __init__(self, values: list[Any]):
        patterns = []
        for v in values:
            if isinstance(v, str):
                try:
                    patterns.append(_compile(v))
                except Exception:
                    pass
        self.patterns = tuple(patterns)
        self.cache: dict[str, bool] = {}  # value -> True/False, bounded by _REGEX_CACHE_LIMIT

    def search(self, value: str) -> bool:
        for rx in self.patterns:
            if rx.search(value) is not None:
                return True
        return False


def _in_slow(value: Any, values: tuple[Any, ...]) -> bool:
    vb = isinstance(value, bool)
    for c in values:
        if isinstance(c, bool) == vb and value == c:
            return True
    return False


def preprocess(op: int, values: list[Any]) -> Any:
    """The per-op shape of a clause's values (see the module docstring)."""
    if op == OP_IN:
        return InValues(values)
    if op == OP_STARTS_WITH or op == OP_ENDS_WITH or op == OP_CONTAINS:
        return tuple(v for v in values if isinstance(v, str))
    if op == OP_MATCHES:
        return RegexValues(values)
    if OP_LT <= op <= OP_GTE:
        # Numeric clause values in order, as floats, up to one too large for a float (comparing
        # with that one raises, as in the official SDK, unless an earlier value matched).
        if not any(is_number(v) for v in values):
            return None
        nums = []
        overflow = False
        for v in values:
            if is_number(v):
                try:
                    n = float(v)
                except OverflowError:
                    overflow = True
                    break
                if n == n:
                    nums.append(n)
        bounds = NumBounds.of(nums)
        if bounds is None:
            bounds = NumBounds(0.0, 0.0)
            bounds.has_values = False
        bounds.overflow = overflow
        return bounds
    if op == OP_BEFORE or op == OP_AFTER:
        times = [parse_time(v) for v in values]
        return NumBounds.of([t for t in times if t is not None and t == t])
    if OP_SEMVER_EQ <= op <= OP_SEMVER_GT:
        vers = [parse_semver(v) for v in values]
        vers = [v for v in vers if v is not None]
        if op == OP_SEMVER_EQ:
            return frozenset(vers)
        return _bounds(vers)
    return None


class NumBounds:
    """The smallest and largest clause number (or time): ``x < any(v)`` is ``x < hi``."""

    __slots__ = ("lo", "hi", "has_values", "overflow")

    def __init__(self, lo: float, hi: float):
        self.lo = lo
        self.hi = hi
        self.has_values = True
        self.overflow = False  # (numeric clauses) a later value is too large for a float

    @staticmethod
    def of(items: list[Any]) -> "Optional[NumBounds]":
        if not items:
            return None
        return NumBounds(min(items), max(items))


def _bounds(items: list[Any]) -> Optional[tuple[Any, ...]]:
    if not items:
        return None
    return (min(items), max(items))


def match_value(op: int, pre: Any, value: Any) -> bool:
    """Whether one context value matches any of a clause's preprocessed values."""
    if op == OP_IN:
        inv = pre
        t = type(value)
        if t is str or t is int or t is float:
            return value in inv.hashed
        if t is bool:
            return value in inv.bools
        return _in_slow(value, inv.all_values)
    if op == OP_STARTS_WITH or op == OP_ENDS_WITH:
        if type(value) is str:  # exact str: the compiled twin tests each string in C
            text = value
            strings = pre
            for part in strings:
                if (text.startswith(part) if op == OP_STARTS_WITH else text.endswith(part)):
                    return True
            return False
        if not isinstance(value, str) or not pre:
            return False
        return value.startswith(pre) if op == OP_STARTS_WITH else value.endswith(pre)
    if op == OP_CONTAINS:
        if isinstance(value, str):
            for c in pre:
                if c in value:
                    return True
        return False
    if op == OP_MATCHES:
        rv: RegexValues = pre
        if type(value) is str:
            cache = rv.cache
            hit = cache.get(value)
            if hit is not None:
                return hit
            result = rv.search(value)
            if len(cache) >= _REGEX_CACHE_LIMIT:
                cache.clear()
            cache[value] = result
            return result
        if isinstance(value, str):
            return rv.search(value)
        return False
    if OP_LT <= op <= OP_GTE:
        if pre is None or not is_number(value):
            return False
        nb: NumBounds = pre
        x = float(value)
        if nb.has_values:
            if op == OP_LT:
                if x < nb.hi:
                    return True
            elif op == OP_LTE:
                if x <= nb.hi:
                    return True
            elif op == OP_GT:
                if x > nb.lo:
                    return True
            elif x >= nb.lo:
                return True
        if nb.overflow:
            raise OverflowError("int too large to convert to float")
        return False
    if op == OP_BEFORE or op == OP_AFTER:
        if pre is None:
            return False
        when = parse_time(value)
        if when is None:
            return False
        nb = pre
        return when < nb.hi if op == OP_BEFORE else when > nb.lo
    if OP_SEMVER_EQ <= op <= OP_SEMVER_GT:
        if not pre:
            return False
        v = parse_semver(value)
        if v is None:
            return False
        if op == OP_SEMVER_EQ:
            return v in pre
        lo_hi: Tuple[SemverKey, SemverKey] = pre
        if op == OP_SEMVER_LT:
            return v < lo_hi[1]
        return v > lo_hi[0]
    return False
