"""Decoding stream payloads: small messages whole, a put one item at a time (so it can be sliced).

One ``loads`` of a large put (17 MB for 5,000 rule-heavy flags) holds the GIL for several hundred
milliseconds, most of it in garbage collections over the growing result. Walking the put's outer
objects by hand and decoding each flag and segment on its own keeps every step short (a flag
takes tens of microseconds) and, measured, is also faster overall.

Both paths use the standard library's C scanner, i.e. exactly what the official SDK accepts
(``json.loads``): NaN/Infinity, integers of any size, lone surrogate escapes, last duplicate key
wins, control characters in strings rejected.

With ``keep_text=True`` each parser is also given the item's own JSON text (a slice of the
message), so the store can keep that compact string rather than the decoded tree.
"""
from __future__ import annotations

import gc
import json
import json.decoder
import re
import time
import logging
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from twisted.internet.defer import Deferred
from twisted.internet.task import Cooperator, SchedulerStopped, TaskDone, TaskFailed, TaskStopped
from twisted.python.failure import Failure

from ldfast._ext.jsonscan import ObjectScanner
from ldfast._failure import exc_info

log = logging.getLogger(__name__)
_decoder = json.JSONDecoder()
# The stdlib's scanners: real attributes, absent from typeshed.
_scan: Callable[[str, int], Tuple[Any, int]] = _decoder.scan_once  # type: ignore[attr-defined]
_scanstring: Callable[[str, int], Tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_WS = re.compile(r"[ \t\n\r]*")


SLICE_SECONDS = 0.004
"""How long a data source works through a large payload before it yields to the reactor. Kept
short because a full garbage collection that happens to start inside a slice adds its own pause
(~20-30 ms for a Twisted process's ~40,000 objects on a small shared machine) to the slice's."""


class _Budget:
    __slots__ = ("_end",)

    def __init__(self) -> None:
        self._end = time.monotonic() + SLICE_SECONDS

    def __call__(self) -> bool:
        return time.monotonic() >= self._end


def without_gc_pass(work: Callable[..., Any], *args: Any) -> Any:
    """``work(*args)`` with the cyclic garbage collector paused, so a collection that comes due
    meanwhile (a full one costs ~20-30 ms in a Twisted process here) runs after the step, at the
    next allocation, rather than inside it: a reactor stall is then the longer of the two, never
    their sum. Nothing is skipped; if the collector was already off it stays off. (The switch is
    process-wide: another thread that turns the collector off during the step, a few milliseconds,
    finds it on again afterwards.)"""
    if not gc.isenabled():
        return work(*args)
    gc.disable()
    try:
        return work(*args)
    finally:
        gc.enable()


def slice_cooperator(reactor: Any) -> Cooperator:
    """A Cooperator running its tasks on ``reactor`` in slices of :data:`SLICE_SECONDS`, each
    slice with the collector paused (:func:`without_gc_pass`)."""
    return Cooperator(terminationPredicateFactory=_Budget,
                      scheduler=lambda work: reactor.callLater(0, without_gc_pass, work))


class BackgroundParse:
    """Parses a stored data set's placeholder flags (``ldfast.model.pending_flag``) on a
    Cooperator, one flag a step, so they are all parsed soon after the put is stored without a
    long reactor stall. Parsing them is never required for correctness (every reader parses a
    placeholder it meets), only for speed: an evaluation that meets one pays its parse once.

    ``waiter()`` is None when nothing is left to parse, else a Deferred that fires (with None)
    once everything is parsed or the work is stopped. A reactor-only component."""

    def __init__(self, cooperator: Cooperator):
        self._cooperator = cooperator
        self._task: Any = None
        self._waiters: List["Deferred[None]"] = []

    def start(self, flags: Dict[str, Any]) -> None:
        """Parse ``flags``' placeholders (stops work on an earlier data set)."""
        self._stop_task()
        pending = [flag for flag in flags.values() if flag.pending]
        if not pending:
            self._fire()
            return
        task = self._task = self._cooperator.cooperate(self._steps(pending))
        task.whenDone().addBoth(self._done, task)

    @staticmethod
    def _steps(pending: List[Any]) -> Iterator[None]:
        for flag in pending:
            flag.materialize()  # (at once if an evaluation got there first)
            yield None

    def _done(self, result: Any, task: Any) -> None:
        if task is self._task:
            self._task = None
            self._fire()
        if isinstance(result, Failure) and not result.check(TaskStopped, SchedulerStopped):
            log.error("Unexpected error parsing stored flags", exc_info=exc_info(result))

    def waiter(self) -> Optional["Deferred[None]"]:
        if self._task is None:
            return None
        d: "Deferred[None]" = Deferred()
        self._waiters.append(d)
        return d

    def stop(self) -> None:
        self._stop_task()
        self._fire()

    def _stop_task(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            try:
                task.stop()
            except (TaskDone, TaskFailed):
                pass

    def _fire(self) -> None:
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(None)


class InvalidData(ValueError):
    """A message is not valid JSON, or lacks a required part. The message never quotes the payload."""


def loads_object(text: str) -> dict[str, Any]:
    """Decode a whole message that must be a JSON object."""
    try:
        value = _decoder.decode(text)
    except ValueError as e:
        raise InvalidData("unparseable JSON (%s)" % e) from None
    if not isinstance(value, dict):
        raise InvalidData("the message is not a JSON object")
    return value


def field(obj: dict[str, Any], name: str, typ: Any) -> Any:
    """``obj[name]``, which must be of ``typ`` (a bool is not an int here)."""
    value = obj.get(name)
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise InvalidData('"%s" is missing or not %s' % (name, "an object" if typ is dict else typ.__name__))
    return value


class _Cursor:
    __slots__ = ("s", "i")

    def __init__(self, s: str):
        self.s = s
        self.i = 0

    def ws(self) -> None:
        self.i = _WS.match(self.s, self.i).end()  # type: ignore[union-attr]

    def peek(self) -> str:
        return self.s[self.i:self.i + 1]

    def expect(self, ch: str) -> None:
        if self.s[self.i:self.i + 1] != ch:
            raise InvalidData("unparseable JSON (expecting %r at char %d)" % (ch, self.i))
        self.i += 1

    def value(self) -> Any:
        try:
            value, self.i = _scan(self.s, self.i)
        except StopIteration:
            raise InvalidData("unparseable JSON (expecting a value at char %d)" % self.i) from None
        except ValueError as e:
            raise InvalidData("unparseable JSON (%s)" % e) from None
        return value

    def members(self) -> Iterator[str]:
        """Yield an object's keys; after each, the caller consumes the value at the cursor."""
        self.expect("{")
        self.ws()
        if self.peek() == "}":
            self.i += 1
            return
        while True:
            self.ws()
            self.expect('"')
            try:
                key, self.i = _scanstring(self.s, self.i)
            except ValueError as e:
                raise InvalidData("unparseable JSON (%s)" % e) from None
            self.ws()
            self.expect(":")
            self.ws()
            yield key
            self.ws()
            ch = self.peek()
            self.i += 1
            if ch == "}":
                return
            if ch != ",":
                raise InvalidData("unparseable JSON (expecting ',' or '}' at char %d)" % (self.i - 1))


def put_items(text: str, flags: Dict[str, Any], segments: Dict[str, Any],
              parse_flag: Callable[..., Any], parse_segment: Callable[..., Any], *,
              keep_text: bool = False, pending_flag: Optional[Callable[..., Any]] = None) -> Iterator[None]:
    """Decode a stream put ``{"path": ..., "data": {"flags": {...}, "segments": {...}}}`` into
    ``flags`` and ``segments`` (each item through its parser: ``parse(value)``, or with
    ``keep_text`` ``parse(value, item_text)``), yielding after every item.

    With ``pending_flag`` the flags are not decoded: the flags object is only validated and split
    (``ldfast._ext.jsonscan``, as strict as ``json.loads``) and each flag is stored as
    ``pending_flag(key, item_text, prerequisite_keys)`` (a placeholder parsed on first use),
    yielding after every :data:`SPLIT_BATCH` flags.

    Raises InvalidData, at whatever step finds it, if the text is not valid JSON or ``data``,
    ``data.flags`` or ``data.segments`` is missing or not an object; the dicts are then partial.
    """
    cur = _Cursor(text)
    cur.ws()
    data_ok = False
    for key in cur.members():
        if key != "data" or cur.peek() != "{":
            cur.value()
            if key == "data":
                data_ok = False
            continue
        yield from _all_data(cur, flags, segments, parse_flag, parse_segment, keep_text, pending_flag)
        data_ok = True
    _end(cur)
    if not data_ok:
        raise InvalidData('"data" is missing or not an object')


def all_data_items(text: str, flags: Dict[str, Any], segments: Dict[str, Any],
                   parse_flag: Callable[..., Any], parse_segment: Callable[..., Any], *,
                   keep_text: bool = False) -> Iterator[None]:
    """As :func:`put_items`, for a polling body ``{"flags": {...}, "segments": {...}}``."""
    cur = _Cursor(text)
    cur.ws()
    yield from _all_data(cur, flags, segments, parse_flag, parse_segment, keep_text)
    _end(cur)


def _end(cur: _Cursor) -> None:
    cur.ws()
    if cur.i != len(cur.s):
        raise InvalidData("unparseable JSON (extra data at char %d)" % cur.i)


SPLIT_BATCH = 64
"""Flags split per step of a put stored as placeholders (~20 KB of text each here)."""


def _split_flags(cur: _Cursor, flags: Dict[str, Any], pending_flag: Callable[..., Any]) -> Iterator[None]:
    """The flags object at the cursor into placeholders, :data:`SPLIT_BATCH` flags a step."""
    text = cur.s
    try:
        scanner = ObjectScanner(text, cur.i, "prerequisites")
        while True:
            batch = scanner.next_items(SPLIT_BATCH)
            if not batch:
                break
            for key, start, end, prerequisites in batch:
                flags[key] = pending_flag(key, text[start:end], _keys(prerequisites))
            yield None
    except ValueError as e:
        raise InvalidData("unparseable JSON (%s)" % e) from None
    cur.i = scanner.end


def _keys(prerequisites: Any) -> tuple[Any, ...]:
    """The keys a flag's raw ``prerequisites`` value lists (what ordering flags needs; the parsed
    flag gives the same list, and a malformed flag's text the same keys as the store reads them)."""
    if type(prerequisites) is not list or not prerequisites:
        return ()
    return tuple(p.get("key") for p in prerequisites if isinstance(p, dict))


def _all_data(cur: _Cursor, flags: Dict[str, Any], segments: Dict[str, Any],
              parse_flag: Callable[..., Any], parse_segment: Callable[..., Any], keep_text: bool,
              pending_flag: Optional[Callable[..., Any]] = None) -> Iterator[None]:
    """The object at the cursor, which must hold "flags" and "segments" objects (the last of each wins)."""
    seen = {"flags": False, "segments": False}
    flags.clear()
    segments.clear()
    for name in cur.members():
        if name not in seen:
            cur.value()
            continue
        if cur.peek() != "{":
            cur.value()
            seen[name] = False
            continue
        seen[name] = True
        out, parse = (flags, parse_flag) if name == "flags" else (segments, parse_segment)
        out.clear()
        if name == "flags" and pending_flag is not None:
            yield from _split_flags(cur, flags, pending_flag)
            continue
        for item_key in cur.members():
            if keep_text:
                start = cur.i
                value = cur.value()
                out[item_key] = parse(value, cur.s[start:cur.i])
                del value  # the parser owns it now
            else:
                out[item_key] = parse(cur.value())
            yield None
    for name, ok in seen.items():
        if not ok:
            raise InvalidData('"%s" is missing or not an object' % name)


__all__ = ("BackgroundParse", "InvalidData", "loads_object", "field", "put_items", "all_data_items", "slice_cooperator",
           "SLICE_SECONDS", "without_gc_pass")
