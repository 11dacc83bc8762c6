"""An incremental Server-Sent Events parser (WHATWG "event stream interpretation"); pure, no I/O.

Feed it the bytes of a ``text/event-stream`` body as they arrive, split anywhere (inside a UTF-8
sequence, between CR and LF): ``SSEParser().feed(chunk)`` returns the events completed by that
chunk. Lines end with CR, LF or CRLF; a leading byte order mark is skipped; invalid UTF-8 is
replaced with U+FFFD, never raised. An event whose data buffer is empty is not dispatched, and an
unterminated event at the end of the stream is simply never returned (drop the parser).

Lines are found on the raw bytes (CR and LF never occur inside a UTF-8 sequence), so decoding a
complete line gives exactly what decoding the whole stream first would.
"""
from __future__ import annotations

from typing import Any, List, Optional

from ldfast._ext.linetext import LineText

_BOM = b"\xef\xbb\xbf"
_CR = 13
_LF = 10
_LONG_LINE = 1 << 18
"""Bytes of an unterminated line after which its fragments are decoded as they arrive (see feed)."""
_MAX_NAME = 5  # the longest field name SSE knows ("retry")


class Event:
    """One dispatched event: ``event`` type (default "message"), ``data``, and ids.

    ``id`` is the value of this event's own ``id:`` field (None if it had none), as in
    ld_eventsource; ``last_event_id`` is the stream's last event ID when the event was dispatched
    (the WHATWG ``MessageEvent.lastEventId``; None if no id was ever seen).
    """

    __slots__ = ("event", "data", "id", "last_event_id")

    def __init__(self, event: str = "message", data: str = "", id: Optional[str] = None,
                 last_event_id: Optional[str] = None):
        self.event = event
        self.data = data
        self.id = id
        self.last_event_id = last_event_id

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (self.event == other.event and self.data == other.data and self.id == other.id
                and self.last_event_id == other.last_event_id)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        # Shortened: an event's data can be a whole flag payload.
        data = self.data if len(self.data) <= 80 else self.data[:77] + "..."
        return "Event(event=%r, data=%r, id=%r, last_event_id=%r)" % (self.event, data, self.id, self.last_event_id)


class SSEParser:
    """Turns chunks of an event-stream body into :class:`Event` objects.

    ``last_event_id`` is the stream's last event ID (seed it with the one from a previous
    connection); ``retry`` is the reconnection time in milliseconds, once the stream sent one.
    """

    __slots__ = ("_pending", "_pending_size", "_long", "_after_cr", "_head", "_data", "_type", "_own_id",
                 "_id_buffer", "last_event_id", "retry")

    def __init__(self, last_event_id: Optional[str] = None) -> None:
        self._pending: List[bytes] = []  # fragments of the current, unterminated line
        self._pending_size = 0
        self._long: Optional[_LongLine] = None  # the current line, once it is long: decoded as it comes
        self._after_cr = False  # the last byte seen was CR: a LF starting the next chunk ends no line
        self._head: Optional[bytes] = b""  # bytes held back while checking for a BOM; None once done
        self._data: List[str] = []  # the data buffer, one entry per data line
        self._type = ""
        self._own_id: Optional[str] = None
        self._id_buffer = last_event_id
        self.last_event_id = last_event_id
        self.retry: Optional[int] = None

    def feed(self, chunk: bytes) -> List[Event]:
        """Parse ``chunk``; return the events it completed, in order (often none)."""
        if self._head is not None:
            chunk = self._head + chunk
            if len(chunk) < 3 and _BOM.startswith(chunk):
                self._head = chunk
                return []
            self._head = None
            if chunk.startswith(_BOM):
                chunk = chunk[3:]
        if not chunk:
            return []
        if self._after_cr:
            self._after_cr = False
            if chunk[0] == _LF:
                chunk = chunk[1:]
                if not chunk:
                    return []
        if chunk.find(b"\n") < 0 and chunk.find(b"\r") < 0:
            # Inside a long line (a large put is one 17 MB data line): no splitlines copy.
            self._hold(chunk)
            return []
        lines = chunk.splitlines()  # bytes.splitlines breaks at CR, LF and CRLF only
        last = chunk[-1]
        tail: Optional[bytes] = None
        if last == _CR:
            self._after_cr = True
        elif last != _LF:
            tail = lines.pop()
        events: List[Event] = []
        if lines:
            first = lines[0]
            if self._long is not None:
                name, value = self._long.finish(first)
                self._long = None
                self._field(name, value)
                del lines[0]
            elif self._pending:
                self._pending.append(first)
                lines[0] = b"".join(self._pending)
                self._pending = []
                self._pending_size = 0
            for line in lines:
                self._line(line, events)
        if tail is not None:
            self._hold(tail)
        return events

    def _hold(self, fragment: bytes) -> None:
        """Keep a fragment of the unterminated line. Once the line is long (a large put), its
        fragments are decoded as they arrive, so the chunk that ends it costs little more than a
        join of the decoded text (the reactor would otherwise decode megabytes in one go)."""
        if self._long is not None:
            self._long.add(fragment)
            return
        self._pending.append(bytes(fragment))  # (bytes() copies only a mutable buffer)
        self._pending_size += len(fragment)
        # (More than _MAX_NAME bytes, so a line held without a colon can be no field SSE knows;
        # that matters only with the tiny thresholds the tests use.)
        if self._pending_size >= _LONG_LINE and self._pending_size > _MAX_NAME:
            held = b"".join(self._pending)
            self._pending = []
            self._pending_size = 0
            self._long = _LongLine(held)

    def _line(self, line: bytes, events: List[Event]) -> None:
        if not line:
            self._dispatch(events)
            return
        colon = line.find(b":")
        if colon == 0:
            return  # a comment (heartbeats are comments)
        if colon < 0:
            name, value = line, ""
        else:
            name = line[:colon]
            start = colon + 2 if line[colon + 1:colon + 2] == b" " else colon + 1
            value = str(memoryview(line)[start:], "utf-8", "replace")
        self._field(name, value)

    def _field(self, name: Optional[bytes], value: str) -> None:
        """One field line (``name`` None: a comment)."""
        if name == b"data":
            self._data.append(value)
        elif name == b"event":
            self._type = value
        elif name == b"id":
            if "\x00" not in value:
                self._id_buffer = value
                self._own_id = value
        elif name == b"retry":
            if value and value.isascii() and value.isdigit():
                self.retry = int(value)
        # any other field name is ignored

    def _dispatch(self, events: List[Event]) -> None:
        self.last_event_id = self._id_buffer
        if self._data:
            data = self._data[0] if len(self._data) == 1 else "\n".join(self._data)
            events.append(Event(self._type or "message", data, self._own_id, self.last_event_id))
            self._data = []
        self._type = ""
        self._own_id = None


class _LongLine:
    """A long line being received: its field name and its value decoded fragment by fragment
    (``ldfast._ext.linetext.LineText``: exactly what the one-shot decode of the whole value gives;
    the compiled twin writes an ASCII value into its final string as the fragments arrive, so the
    fragment that ends a large put costs no join of megabytes)."""

    __slots__ = ("name", "space_check", "text")

    def __init__(self, held: bytes) -> None:
        colon = held.find(b":")
        # No colon in the held bytes (longer than any field name SSE knows): whatever follows, the
        # field name is unknown, so the line is ignored; a colon first: a comment, ignored too.
        self.name: Optional[bytes] = held[:colon] if colon > 0 else None
        self.space_check = False  # the colon ended the held bytes: a space may start the next fragment
        self.text = LineText()
        if self.name is not None:
            start = colon + 1
            if start == len(held):
                self.space_check = True
            elif held[start:start + 1] == b" ":
                start += 1
            self.text.add(memoryview(held)[start:])

    def add(self, fragment: bytes) -> None:
        if self.name is None:
            return
        if self.space_check and fragment:
            self.space_check = False
            if fragment[:1] == b" ":
                fragment = memoryview(fragment)[1:]  # type: ignore[assignment]
        self.text.add(fragment)

    def finish(self, last: bytes) -> "tuple[Optional[bytes], str]":
        """The line's (name, value) once ``last``, its final fragment, has arrived (name None: ignored)."""
        if self.name is None:
            return None, ""
        self.add(last)
        return self.name, self.text.finish(b"")


__all__ = ("Event", "SSEParser")
