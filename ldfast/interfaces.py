"""Data store status, as the official SDK's ``ldclient.interfaces``: DataStoreStatus, its provider
(``client.data_store_status_provider``) and the sink a persistent store reports changes to.

The in-memory store is always available and does not monitor itself. The Redis store
(``ldfast.integrations.Redis``) reports ``available=False`` during an outage, then
``available=True, stale=True`` once the database answers again while it re-syncs (queued writes
flushed, data re-read), then ``available=True, stale=False``. Listeners are called once per
change, on the thread that noticed it (the store's worker thread); an exception in a listener is
logged, never propagated.
"""
from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from typing import Any, Callable, List

log = logging.getLogger(__name__)

Listener = Callable[["DataStoreStatus"], Any]


class DataStoreStatus:
    """Whether the data store is available, and whether its data may be out of date (stale)."""

    __slots__ = ("_available", "_stale")

    def __init__(self, available: bool, stale: bool):
        self._available = available
        self._stale = stale

    @property
    def available(self) -> bool:
        """False while the store cannot be reached (evaluation keeps using the last data)."""
        return self._available

    @property
    def stale(self) -> bool:
        """True after an outage until the store has re-synced its data."""
        return self._stale

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, DataStoreStatus):
            return self._available == other._available and self._stale == other._stale
        return False

    def __hash__(self) -> int:
        return hash((self._available, self._stale))

    def __repr__(self) -> str:
        return "DataStoreStatus(available=%r, stale=%r)" % (self._available, self._stale)


class DataStoreUpdateSink(ABC):
    """Where a data store reports its status."""

    @abstractmethod
    def status(self) -> DataStoreStatus:
        """The last reported status."""

    @abstractmethod
    def update_status(self, status: DataStoreStatus) -> None:
        """Report a status; listeners are notified if it differs from the last one."""


class DataStoreStatusProvider(ABC):
    """``client.data_store_status_provider``: the store's status and status listeners."""

    @property
    @abstractmethod
    def status(self) -> DataStoreStatus:
        """The current status (always available for the in-memory store)."""

    @abstractmethod
    def is_monitoring_enabled(self) -> bool:
        """True for a persistent store, which reports outages; False for the in-memory store."""

    @abstractmethod
    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(status)`` on every status change."""

    @abstractmethod
    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener``; nothing happens if it was not added."""


class DataStoreUpdateSinkImpl(DataStoreUpdateSink):
    """Keeps the last status and notifies listeners of changes (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status = DataStoreStatus(True, False)
        self._listeners: List[Listener] = []

    def status(self) -> DataStoreStatus:
        return self._status

    def update_status(self, status: DataStoreStatus) -> None:
        with self._lock:
            old, self._status = self._status, status
            listeners = list(self._listeners) if old != status else []
        for listener in listeners:
            try:
                listener(status)
            except Exception:
                log.exception("Error in a data store status listener")

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            try:
                self._listeners.remove(listener)
            except ValueError:
                pass


class DataStoreStatusProviderImpl(DataStoreStatusProvider):
    """The client's provider: reads the sink the store reports to."""

    def __init__(self, store: Any, sink: DataStoreUpdateSinkImpl):
        self._store = store
        self._sink = sink

    @property
    def status(self) -> DataStoreStatus:
        return self._sink.status()

    def is_monitoring_enabled(self) -> bool:
        check = getattr(self._store, "is_monitoring_enabled", None)
        return bool(check()) if callable(check) else False

    def add_listener(self, listener: Listener) -> None:
        self._sink.add_listener(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._sink.remove_listener(listener)


# Big Segment interfaces live in ldfast.big_segments; here too, where the official SDK has them.
from ldfast.big_segments import (  # noqa: E402
    BigSegmentStore,
    BigSegmentStoreMetadata,
    BigSegmentStoreStatus,
    BigSegmentStoreStatusProvider,
)

__all__ = ("DataStoreStatus", "DataStoreStatusProvider", "DataStoreUpdateSink", "BigSegmentStore",
           "BigSegmentStoreMetadata", "BigSegmentStoreStatus", "BigSegmentStoreStatusProvider")
