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
from typing import Any, Callable, List, Mapping

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

    @property
    def listeners(self) -> Any:
        """The status listeners (``add``/``remove``/``notify``), as the official sink's."""
        raise NotImplementedError


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

    @property
    def listeners(self) -> Any:
        return _SinkListeners(self)


class _SinkListeners:
    """The official ``Listeners`` shape (add/remove/notify) over a DataStoreUpdateSinkImpl."""

    def __init__(self, sink: DataStoreUpdateSinkImpl):
        self._sink = sink

    def add(self, listener: Listener) -> None:
        self._sink.add_listener(listener)

    def remove(self, listener: Listener) -> None:
        self._sink.remove_listener(listener)

    def has_listeners(self) -> bool:
        return bool(self._sink._listeners)

    def notify(self, value: Any) -> None:
        for listener in list(self._sink._listeners):
            try:
                listener(value)
            except Exception:
                log.exception("Error in a data store status listener")


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


class FeatureStore(ABC):
    """A store of flags and segments, as the official ``ldclient.interfaces.FeatureStore``. A store of
    your own (``Config(feature_store=...)``) is read through on every evaluation, as there."""

    @abstractmethod
    def get(self, kind: Any, key: str, callback: Callable[[Any], Any] = lambda x: x) -> Any:
        """``callback(item)`` for the item of ``kind`` with ``key`` (None if absent or deleted)."""

    @abstractmethod
    def all(self, kind: Any, callback: Callable[[Any], Any] = lambda x: x) -> Any:
        """``callback({key: item})`` for every live item of ``kind``."""

    @abstractmethod
    def init(self, all_data: Mapping[Any, Mapping[str, dict[str, Any]]]) -> None:
        """Replace everything with ``all_data`` (``{kind: {key: item}}``)."""

    @abstractmethod
    def delete(self, kind: Any, key: str, version: int) -> None:
        """Mark the item deleted, if ``version`` is newer than the stored one."""

    @abstractmethod
    def upsert(self, kind: Any, item: dict[str, Any]) -> None:
        """Add or replace the item, if its version is newer than the stored one."""

    @property
    @abstractmethod
    def initialized(self) -> bool:
        """True once ``init`` has been called (or the underlying database says so)."""

    def is_monitoring_enabled(self) -> bool:
        """True if the store reports its availability (see ``is_available``)."""
        return False

    def is_available(self) -> bool:
        """False while the store cannot be reached."""
        return True


class FeatureStoreCore(ABC):
    """The database half of a persistent store; wrap it in
    ``ldfast.feature_store_helpers.CachingStoreWrapper`` to get a FeatureStore with a cache."""

    @abstractmethod
    def get_internal(self, kind: Any, key: str) -> dict[str, Any]:
        """The item (deleted ones included, as placeholders), or None."""

    @abstractmethod
    def get_all_internal(self, callback: Any) -> Mapping[str, dict[str, Any]]:
        """Every item of ``kind`` (the official signature names the parameter ``callback``)."""

    @abstractmethod
    def init_internal(self, all_data: Mapping[Any, Mapping[str, dict[str, Any]]]) -> None:
        """Replace everything with ``all_data``."""

    @abstractmethod
    def upsert_internal(self, kind: Any, item: dict[str, Any]) -> dict[str, Any]:
        """Store ``item`` if newer; return the item that is stored afterwards."""

    @abstractmethod
    def initialized_internal(self) -> bool:
        """True if the database has been initialized."""

    def is_monitoring_enabled(self) -> bool:
        return False

    def is_available(self) -> bool:
        return True


class BackgroundOperation:
    """Something that runs in the background: ``start``, ``stop``, ``is_alive``."""

    def start(self) -> None:
        """Start the operation."""

    def stop(self) -> None:
        """Stop the operation."""

    def is_alive(self) -> bool:
        """True while the operation runs."""
        return True


class UpdateProcessor(BackgroundOperation, ABC):
    """A data source: puts data into the store it was given (``update_processor_class``)."""

    def initialized(self) -> bool:  # type: ignore[empty-body]
        """True once the data source has received its first full data set."""


class EventProcessor(ABC):
    """Where analytics events go (``Config(event_processor_class=...)``)."""

    @abstractmethod
    def send_event(self, event: Any) -> None:
        """Queue one event."""

    @abstractmethod
    def flush(self) -> None:
        """Deliver what is queued, in the background."""

    @abstractmethod
    def stop(self) -> None:
        """Deliver what is queued, then stop."""


class FeatureRequester(ABC):
    """Fetches every flag and segment over HTTP (the polling data source's part)."""

    def get_all(self) -> None:
        """Deprecated in the official SDK; not used."""

    def get_all_data(self) -> Mapping[Any, Mapping[str, dict[str, Any]]]:  # type: ignore[empty-body]
        """``{kind: {key: item}}``."""


class DiagnosticDescription:
    """A component that describes itself in diagnostic events."""

    @abstractmethod
    def describe_configuration(self, config: Any) -> str:
        """A short name for the component's configuration (e.g. ``"Redis"``)."""


class DataSourceUpdateSink(ABC):
    """Where a data source of your own puts its data and its status (``config.data_source_update_sink``)."""

    @abstractmethod
    def init(self, all_data: Mapping[Any, Mapping[str, dict[str, Any]]]) -> None:
        """Replace everything with ``all_data``; flag change listeners are notified."""

    @abstractmethod
    def upsert(self, kind: Any, item: dict[str, Any]) -> None:
        """Add or replace one item."""

    @abstractmethod
    def delete(self, kind: Any, key: str, version: int) -> None:
        """Delete one item."""

    @abstractmethod
    def update_status(self, new_state: Any, new_error: Any) -> None:
        """Report the data source's state (a DataSourceState) and error (a DataSourceErrorInfo or None)."""


# Defined next to the code that uses them; importable here, as from the official module.
from ldfast.datasource.status import (  # noqa: E402
    DataSourceErrorInfo,
    DataSourceErrorKind,
    DataSourceState,
    DataSourceStatus,
    DataSourceStatusProvider,
)
from ldfast.flag_tracker import FlagChange, FlagTracker, FlagValueChange  # noqa: E402
from ldfast.versioned_data_kind import VersionedDataKind  # noqa: E402

# Big Segment interfaces live in ldfast.big_segments; here too, where the official SDK has them.
from ldfast.big_segments import (  # noqa: E402
    BigSegmentStore,
    BigSegmentStoreMetadata,
    BigSegmentStoreStatus,
    BigSegmentStoreStatusProvider,
)

__all__ = ("DataStoreStatus", "DataStoreStatusProvider", "DataStoreUpdateSink", "BigSegmentStore",
           "BigSegmentStoreMetadata", "BigSegmentStoreStatus", "BigSegmentStoreStatusProvider",
           "BackgroundOperation", "DataSourceErrorInfo", "DataSourceErrorKind", "DataSourceState",
           "DataSourceStatus", "DataSourceStatusProvider", "DataSourceUpdateSink", "DiagnosticDescription",
           "EventProcessor", "FeatureRequester", "FeatureStore", "FeatureStoreCore", "FlagChange",
           "FlagTracker", "FlagValueChange", "UpdateProcessor", "VersionedDataKind")
