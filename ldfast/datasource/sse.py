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

_BOM = b"\xef\xbb\xbf"
_CR = 13
_LF = 10


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

    __slots__ = ("_pending", "_after_cr", "_head", "_data", "_type", "_own_id", "_id_buffer",
                 "last_event_id", "retry")

    def __init__(self, last_event_id: Optional[str] = None) -> None:
        self._pending: List[bytes] = []  # fragments of the current, unterminated line
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
            # Inside a long line (a large put is one 17 MB data line): keep the chunk as it is,
            # rather than copying it through splitlines (bytes() copies only a mutable buffer).
            self._pending.append(bytes(chunk))
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
            if self._pending:
                self._pending.append(lines[0])
                lines[0] = b"".join(self._pending)
                self._pending = []
            for line in lines:
                self._line(line, events)
        if tail is not None:
            self._pending.append(tail)
        return events

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
            # Decoded through a view: no copy of the line's tail (a large put's data line).
            value = str(memoryview(line)[start:], "utf-8", "replace")
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


__all__ = ("Event", "SSEParser")
