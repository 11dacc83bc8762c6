"""A feature store of your own (the official ``FeatureStore`` interface), read through by the clients.

``Config(feature_store=my_store)`` where ``my_store`` is not an ldfast store (any object with the
official ``get``/``all``/``init``/``upsert``/``delete``/``initialized``, for instance a
``FeatureStoreCore`` in a ``CachingStoreWrapper``) is wrapped in :class:`ForeignStore`, which goes
the read-through path the Redis store takes (``reads_through``; see ``_read_first`` in
``ldfast.client``): before each evaluation the flag, its prerequisites and its segments are read
from your store (which does its own caching, as in the official SDK), parsed, and evaluated by the
core; ``all_flags_state`` reads everything first. Data sources write to your store, and to the
parsed copy the flag tracker compares.

Items your store returns may be dicts or objects with ``to_json_dict()`` (the official models).
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Tuple

from ldfast.feature_store import InMemoryFeatureStore, dependency_order
from ldfast.model import Flag, parse_flag, parse_segment
from ldfast.versioned_data_kind import FEATURES, SEGMENTS, VersionedDataKind

log = logging.getLogger(__name__)

_STORE_METHODS = ("get", "all", "init", "upsert", "delete")


def is_feature_store(store: Any) -> bool:
    """True for an object with the official FeatureStore methods."""
    return all(callable(getattr(store, name, None)) for name in _STORE_METHODS) and hasattr(store, "initialized")


def _raw(item: Any) -> Any:
    to_json = getattr(item, "to_json_dict", None)
    return to_json() if to_json is not None else item


def _identity(x: Any) -> Any:
    return x


class ForeignStore(InMemoryFeatureStore):
    """Your FeatureStore behind the clients: evaluation reads it first, every time (it caches)."""

    accepts_pending = False  # (writes to your store want whole items)
    reads_through = True
    caches_reads = False  # your store is the cache: read it before every evaluation, as the official client

    def __init__(self, store: Any):
        super().__init__()
        self.wrapped = store

    # -- reads (on the evaluating thread, as the official client; the Twisted client's pool) ---

    def needs_read(self, key: Any, kind: VersionedDataKind = FEATURES) -> bool:
        """Always, for a flag key: your store is read before every evaluation."""
        return isinstance(key, str)

    def needs_read_all(self) -> bool:
        return True

    def read(self, key: Any) -> None:
        """Copy the flag ``key``, its prerequisites and its segments from your store (never raises:
        an error is logged and the evaluation goes on with what was read before)."""
        if not isinstance(key, str):
            return
        try:
            self._read_closure([(FEATURES, key)])
        except Exception:
            log.exception("Error reading flag %r from the feature store", key)

    def read_all(self) -> None:
        """Copy every flag and segment from your store (before all_flags_state)."""
        try:
            flags = self.wrapped.all(FEATURES, _identity) or {}
            segments = self.wrapped.all(SEGMENTS, _identity) or {}
        except Exception:
            log.exception("Error reading all flags from the feature store")
            return
        parsed_flags = {k: parse_flag(_raw(v)) for k, v in flags.items() if v is not None}
        parsed_segments = {k: parse_segment(_raw(v)) for k, v in segments.items() if v is not None}
        with self._lock:
            self._flags = dependency_order(parsed_flags)
            self._segments = parsed_segments
            self.segments_generation += 1

    def _read_closure(self, todo: List[Tuple[VersionedDataKind, str]]) -> None:
        seen = set()
        got: List[Tuple[VersionedDataKind, str, Any]] = []
        while todo:
            kind, key = todo.pop()
            if (kind.namespace, key) in seen:
                continue
            seen.add((kind.namespace, key))
            raw = _raw(self.wrapped.get(kind, key, _identity))
            item = None
            if isinstance(raw, dict) and not raw.get("deleted"):
                item = (parse_flag if kind is FEATURES else parse_segment)(raw)
                if item.error is None:
                    todo.extend((SEGMENTS, k) for k in item.segment_keys)
                    if isinstance(item, Flag):
                        todo.extend((FEATURES, p.key) for p in item.prerequisites if isinstance(p.key, str))
            got.append((kind, key, item))
        with self._lock:
            for kind, key, item in got:
                items = self._flags if kind is FEATURES else self._segments
                if item is None:
                    items.pop(key, None)
                else:
                    items[key] = item
                if kind is SEGMENTS:
                    self.segments_generation += 1

    def get(self, kind: VersionedDataKind, key: str, callback: Any = _identity) -> Any:
        return self.wrapped.get(kind, key, callback)

    def all(self, kind: VersionedDataKind, callback: Any = _identity) -> Any:
        return self.wrapped.all(kind, callback)

    @property
    def initialized(self) -> bool:
        return bool(self.wrapped.initialized)

    # -- writes (from the data source): your store, then the parsed copy (change listeners) ----

    def init(self, all_data: Any) -> None:
        self.wrapped.init(all_data)
        super().init(all_data)

    def init_preprocessed(self, flags: Dict[str, Any], segments: Dict[str, Any], ordered: bool = False) -> tuple[Any,
                          ...]:
        self.wrapped.init({FEATURES: {k: f.raw for k, f in flags.items()},
                           SEGMENTS: {k: s.raw for k, s in segments.items()}})
        return super().init_preprocessed(flags, segments, ordered)

    def upsert(self, kind: VersionedDataKind, item: dict[str, Any]) -> bool:
        self.wrapped.upsert(kind, item)
        return super().upsert(kind, item)

    def delete(self, kind: VersionedDataKind, key: str, version: int) -> bool:
        self.wrapped.delete(kind, key, version)
        return InMemoryFeatureStore.upsert(self, kind, {"key": key, "version": version, "deleted": True})

    # -- status ------------------------------------------------------------------------------

    def is_monitoring_enabled(self) -> bool:
        check = getattr(self.wrapped, "is_monitoring_enabled", None)
        return bool(check()) if callable(check) else False

    def is_available(self) -> bool:
        check = getattr(self.wrapped, "is_available", None)
        return bool(check()) if callable(check) else True

    def describe_configuration(self, config: Any) -> str:
        describe = getattr(self.wrapped, "describe_configuration", None)
        return describe(config) if callable(describe) else "custom"


class DataSourceUpdateSinkImpl:
    """``config.data_source_update_sink`` for a data source of your own: data into the client's
    store (flag change listeners are notified), state into ``client.data_source_status_provider``."""

    def __init__(self, store: Any, status: Any):
        self._store = store
        self._status = status

    def init(self, all_data: Any) -> None:
        self._store.init(all_data)

    def upsert(self, kind: VersionedDataKind, item: dict[str, Any]) -> None:
        self._store.upsert(kind, item)

    def delete(self, kind: VersionedDataKind, key: str, version: int) -> None:
        self._store.delete(kind, key, version)

    def update_status(self, new_state: Any, new_error: Optional[Any]) -> None:
        self._status.update_status(new_state, new_error)
