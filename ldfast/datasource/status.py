"""Data source status: the official state and error types, and a provider that data sources update.

Names, values and the transition rule follow ldclient.interfaces and
ldclient/impl/datasource/status.py (launchdarkly-server-sdk 9.20.0):

- INTERRUPTED reported while still INITIALIZING keeps the state INITIALIZING (the error is kept);
- a report that changes neither the state nor the error is dropped, and listeners hear only
  changes; ``since`` moves only when the state does;
- OFF is final: nothing reported after it changes the status.

Listeners run synchronously on the thread that reports the change (the reactor thread for the
streaming source); an exception from one is logged and never reaches the data source.
"""
from __future__ import annotations

import logging
import threading
import time
from enum import Enum
from typing import Any, Callable, List, Optional

log = logging.getLogger(__name__)


class DataSourceState(Enum):
    """The states a data source can be in."""

    INITIALIZING = "initializing"
    VALID = "valid"
    INTERRUPTED = "interrupted"
    OFF = "off"


class DataSourceErrorKind(Enum):
    """The kinds of error a data source can report."""

    UNKNOWN = "unknown"
    NETWORK_ERROR = "network_error"
    ERROR_RESPONSE = "error_response"
    INVALID_DATA = "invalid_data"
    STORE_ERROR = "store_error"


class DataSourceErrorInfo:
    """An error the data source met: its kind, the HTTP status (or 0), Unix time and a message."""

    __slots__ = ("_kind", "_status_code", "_time", "_message")

    def __init__(self, kind: DataSourceErrorKind, status_code: int, time: float, message: Optional[str]):
        self._kind = kind
        self._status_code = status_code
        self._time = time
        self._message = message

    @property
    def kind(self) -> DataSourceErrorKind:
        return self._kind

    @property
    def status_code(self) -> int:
        return self._status_code

    @property
    def time(self) -> float:
        return self._time

    @property
    def message(self) -> Optional[str]:
        return self._message

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, DataSourceErrorInfo):
            return NotImplemented
        return (self._kind, self._status_code, self._time, self._message) == (
            other._kind, other._status_code, other._time, other._message)

    def __hash__(self) -> int:
        return hash((self._kind, self._status_code, self._time, self._message))

    def __repr__(self) -> str:
        return "DataSourceErrorInfo(%s, %r, %r, %r)" % (self._kind, self._status_code, self._time, self._message)


class DataSourceStatus:
    """The data source's state, when it last changed (Unix time), and the last error (or None)."""

    __slots__ = ("_state", "_since", "_error")

    def __init__(self, state: DataSourceState, state_since: float, last_error: Optional[DataSourceErrorInfo]):
        self._state = state
        self._since = state_since
        self._error = last_error

    @property
    def state(self) -> DataSourceState:
        return self._state

    @property
    def since(self) -> float:
        return self._since

    @property
    def error(self) -> Optional[DataSourceErrorInfo]:
        return self._error

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, DataSourceStatus):
            return NotImplemented
        return (self._state, self._since, self._error) == (other._state, other._since, other._error)

    def __hash__(self) -> int:
        return hash((self._state, self._since, self._error))

    def __repr__(self) -> str:
        return "DataSourceStatus(%s, %r, %r)" % (self._state, self._since, self._error)


Listener = Callable[[DataSourceStatus], Any]


class DataSourceStatusProvider:
    """The current data source status and its listeners; data sources report through ``update_status``.

    ``now`` returns the Unix time used for ``since`` (``time.time`` unless injected). Thread-safe.
    """

    def __init__(self, *, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._status = DataSourceStatus(DataSourceState.INITIALIZING, now(), None)
        self._listeners: List[Listener] = []
        self._environment_id: Optional[str] = None

    @property
    def environment_id(self) -> Optional[str]:
        """The environment id LaunchDarkly last reported (``X-LD-EnvID``), or None (given to hooks)."""
        return self._environment_id

    def set_environment_id(self, environment_id: str) -> None:
        """Keep the environment id of a stream or poll response (the sink side, used by data sources)."""
        self._environment_id = environment_id

    @property
    def status(self) -> DataSourceStatus:
        """The current status."""
        return self._status

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(new_status)`` on every status change."""
        with self._lock:
            self._listeners = self._listeners + [listener]

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener``; a listener that was never added is ignored."""
        with self._lock:
            listeners = list(self._listeners)
            try:
                listeners.remove(listener)
            except ValueError:
                return
            self._listeners = listeners

    def update_status(self, new_state: DataSourceState, new_error: Optional[DataSourceErrorInfo]) -> None:
        """Report a state and/or an error (the sink side, used by data sources)."""
        with self._lock:
            old = self._status
            if old.state is DataSourceState.OFF:
                return
            if new_state is DataSourceState.INTERRUPTED and old.state is DataSourceState.INITIALIZING:
                new_state = DataSourceState.INITIALIZING
            if new_state is old.state and new_error is None:
                return
            since = old.since if new_state is old.state else self._now()
            self._status = status = DataSourceStatus(new_state, since, old.error if new_error is None else new_error)
            listeners = self._listeners
        for listener in listeners:
            try:
                listener(status)
            except Exception:
                log.exception("Unexpected error in a data source status listener")


def record_environment_id(status: Any, headers: Any) -> None:
    """Keep the ``X-LD-EnvID`` header of a successful stream or poll response (Twisted ``Headers``)
    as ``status.environment_id``, as the official SDK does; no header (or an empty one) changes nothing."""
    values = headers.getRawHeaders(b"x-ld-envid")
    if values and values[-1]:
        status.set_environment_id(values[-1].decode("latin-1"))


__all__ = ("DataSourceState", "DataSourceErrorKind", "DataSourceErrorInfo", "DataSourceStatus",
           "DataSourceStatusProvider")
