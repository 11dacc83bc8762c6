"""The streaming data source's parts: one connection's state, its body protocol.

Split from ``ldfast.datasource.streaming``; nothing here does I/O by itself. (The request
headers are built by ``ldfast._headers``.)
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, List, Optional

from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed

from ldfast.datasource.sse import SSEParser
from ldfast.datasource.status import DataSourceErrorInfo
from ldfast._failure import type_name

if TYPE_CHECKING:
    from ldfast.datasource.streaming import StreamingDataSource

log = logging.getLogger("ldfast.datasource.streaming")


class _Connection:
    """One connection attempt and its stream."""

    __slots__ = ("parser", "request", "connect_timer", "read_timer", "stop_timer", "last_data", "transport",
                 "timed_out", "failed", "poisoned", "lost", "waiters", "pending_failure")

    def __init__(self, last_event_id: Optional[str]):
        self.parser = SSEParser(last_event_id)
        self.request: Optional[Deferred[Any]] = None
        self.connect_timer: Any = None
        self.read_timer: Any = None
        self.stop_timer: Any = None
        self.last_data = 0.0
        self.transport: Any = None  # the body's IPushProducer, once streaming
        self.timed_out = False  # the connect timer cancelled the request
        self.failed = False  # dropped (or given up on); reported once
        self.poisoned = False  # a bad message was seen: its later events are discarded
        self.lost = False  # the body reported connectionLost
        self.waiters: List[Deferred[None]] = []  # stop() calls waiting for connectionLost
        self.pending_failure: Optional[_Failed] = None  # its failure, queued behind its events

    def cancel_timers(self) -> None:
        for name in ("connect_timer", "read_timer"):
            call = getattr(self, name)
            if call is not None:
                setattr(self, name, None)
                if call.active():
                    call.cancel()

    def closed(self) -> None:
        """The connection is gone: release stop() waiters."""
        self.lost = True
        if self.stop_timer is not None and self.stop_timer.active():
            self.stop_timer.cancel()
        self.stop_timer = None
        waiters, self.waiters = self.waiters, []
        for d in waiters:
            d.callback(None)


class _Failed:
    """A connection failure queued behind the events received before it."""

    __slots__ = ("info", "description", "unexpected", "level")

    def __init__(self, info: DataSourceErrorInfo, description: str, unexpected: bool, level: int):
        self.info = info
        self.description = description
        self.unexpected = unexpected
        self.level = level


class _StreamProtocol(Protocol):
    def __init__(self, source: "StreamingDataSource", conn: _Connection):
        self._source = source
        self._conn = conn

    def connectionMade(self) -> None:
        self._conn.transport = self.transport

    def dataReceived(self, data: bytes) -> None:
        self._source._on_data(self._conn, data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._source._on_lost(self._conn, reason)


class _Discard(Protocol):
    """Takes the body of a response we will not read, and closes the connection."""

    def connectionMade(self) -> None:
        try:
            self.transport.stopProducing()  # type: ignore[union-attr]  # connected: set
        except Exception:
            log.debug("Error closing an unread response", exc_info=True)


def _abort_body(response: Any) -> None:
    try:
        response.deliverBody(_Discard())
    except Exception:
        log.debug("Error discarding a response body", exc_info=True)


def _describe(reason: Failure) -> str:
    value = reason.value
    if isinstance(value, ResponseFailed):
        inner = [f.getErrorMessage() for f in value.reasons if isinstance(f, Failure)]
        if inner:
            return "; ".join(inner)
    return reason.getErrorMessage() or type_name(reason)


__all__ = ()
