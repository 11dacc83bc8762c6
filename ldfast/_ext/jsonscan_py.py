"""JSON object splitter, pure-Python twin: a big object's members as (key, value span) without keeping values.

``ObjectScanner`` walks the members of the JSON object at ``text[pos]`` a few at a time and accepts
exactly what ``json.loads`` accepts (the stdlib's scanner, ``strict=True``: NaN and Infinity
allowed, control characters in strings not). This twin is built on ``json.decoder`` itself: it
decodes each member's value with the stdlib's scanner to validate it (and throws it away), so its
answers are the stdlib's by construction; the compiled twin (jsonscan_c.pyx) validates in C loops
and must give the same answers.

Errors are ``ValueError`` with a message in json's style (``msg: line L column C (char N)``) that
never quotes the text; a ``json.JSONDecodeError`` from the stdlib becomes a plain ``ValueError``
with the same message (and no ``__context__``), so the exception does not keep the text alive.
"""
from __future__ import annotations

import json
import json.decoder
import operator
import re
from typing import Any, Callable, List, Optional, Tuple, cast

Item = Tuple[str, int, int, Any]

_WS = re.compile(r"[ \t\n\r]*")
# Always matches (possibly empty), so it never returns None.
_ws_match = cast(Callable[[str, int], "re.Match[str]"], _WS.match)
# The stdlib's scanners: real attributes, absent from typeshed.
_scan_once: Callable[[str, int], Tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
scanstring: Callable[[str, int, bool], Tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]

_READY, _MORE, _DONE, _FAILED = 0, 1, 2, 3


def error_message(msg: str, text: str, pos: int) -> str:
    """``msg`` with the position of ``text[pos]``, formatted as ``json.JSONDecodeError`` does."""
    lineno = text.count("\n", 0, pos) + 1
    colno = pos - text.rfind("\n", 0, pos)
    return "%s: line %d column %d (char %d)" % (msg, lineno, colno, pos)


def check_start(text: Any, pos: Any, name: Any) -> int:
    """The validated ``pos``: TypeError for a non-str text or name, ValueError unless text[pos] is '{'."""
    if not isinstance(text, str):
        raise TypeError("text must be str, not %s" % type(text).__name__)
    if not isinstance(name, str):
        raise TypeError("name must be str, not %s" % type(name).__name__)
    index = operator.index(pos)
    if index < 0 or index >= len(text):
        raise ValueError("Expecting '{': position %d is outside the text (length %d)" % (index, len(text)))
    if text[index] != "{":
        raise ValueError(error_message("Expecting '{'", text, index))
    return index


def decode_value(text: str, start: int) -> Tuple[Any, int]:
    """The stdlib's decoding of the value at ``text[start]`` and its end, errors as plain ValueError.

    The ValueError is raised outside the ``except`` so that it has no ``__context__``: json's own
    error holds the whole text (``doc``), which must not live on in a logged or kept exception.
    """
    try:
        return _scan_once(text, start)
    except StopIteration as exc:
        message = error_message("Expecting value", text, exc.value)
    except json.JSONDecodeError as exc:
        message = error_message(exc.msg, text, exc.pos)
    except RecursionError:
        message = error_message("Nesting too deep in the value starting at", text, start)
    except ValueError as exc:  # int() over sys.get_int_max_str_digits(): no position of its own
        message = error_message("%s, in the value starting at" % (exc,), text, start)
    raise ValueError(message)


def decode_key(text: str, quote: int) -> Tuple[str, int]:
    """The stdlib's decoding of the string whose opening quote is at ``text[quote]``, and its end."""
    try:
        return scanstring(text, quote + 1, True)
    except json.JSONDecodeError as exc:
        message = error_message(exc.msg, text, exc.pos)
    raise ValueError(message)


class ObjectScanner:
    """Walks the members of the JSON object that starts at ``text[pos]`` (no leading whitespace skipped)."""

    def __init__(self, text: str, pos: int, name: str) -> None:
        self._pos = check_start(text, pos, name)
        self._text = text
        self._name = name
        self._idx = self._pos + 1
        self._state = _READY
        self._end = -1
        self._error = ""

    @property
    def end(self) -> int:
        """Index just past the object's closing '}'; -1 until the closing '}' has been reached."""
        return self._end

    def next_items(self, limit: int) -> List[Item]:
        """Up to ``limit`` further members as ``(key, value_start, value_end, named)``; [] once finished.

        ``text[value_start:value_end]`` is the value's text; ``named`` is the decoded value of the
        value's own top-level member called ``name`` (the last one, as json) when the value is an
        object that has one, else None. Raises ValueError on invalid JSON, and again on every later
        call once it has.
        """
        limit = operator.index(limit)
        if limit < 1:
            raise ValueError("limit must be at least 1, not %d" % limit)
        if self._state == _FAILED:
            raise ValueError(self._error)
        if self._state == _DONE:
            return []
        try:
            return self._walk(limit)
        except ValueError as exc:
            self._state = _FAILED
            self._error = str(exc)
            raise

    def _walk(self, limit: int) -> List[Item]:
        text, name, ws = self._text, self._name, _ws_match
        idx = ws(text, self._idx).end()
        items: List[Item] = []
        if self._state == _READY:
            if idx < len(text) and text[idx] == "}":
                return self._finish(idx, items)
            self._state = _MORE
        while True:
            if idx >= len(text) or text[idx] != '"':
                raise ValueError(error_message("Expecting property name enclosed in double quotes", text, idx))
            key, idx = decode_key(text, idx)
            idx = ws(text, idx).end()
            if idx >= len(text) or text[idx] != ":":
                raise ValueError(error_message("Expecting ':' delimiter", text, idx))
            start = ws(text, idx + 1).end()
            value, end = decode_value(text, start)
            named: Optional[Any] = value.get(name) if type(value) is dict else None
            items.append((key, start, end, named))
            idx = ws(text, end).end()
            if idx < len(text) and text[idx] == "}":
                return self._finish(idx, items)
            if idx >= len(text) or text[idx] != ",":
                raise ValueError(error_message("Expecting ',' delimiter", text, idx))
            idx = ws(text, idx + 1).end()
            if len(items) >= limit:
                self._idx = idx
                return items

    def _finish(self, brace: int, items: List[Item]) -> List[Item]:
        self._state = _DONE
        self._idx = self._end = brace + 1
        return items
