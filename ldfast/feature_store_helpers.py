"""CachingStoreWrapper: a FeatureStore made of your database code (a FeatureStoreCore) and a cache.

As the official ``ldclient.feature_store_helpers``: items read from the core are kept for
``CacheConfig.expiration`` seconds (``float("inf")``: forever; ``CacheConfig.disabled()``: not
at all), writes go to the core and then the cache, and a deleted item is stored as a placeholder
``{"key", "version", "deleted": True}`` so an older update cannot bring it back.
"""
from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from ldfast.feature_store import CacheConfig
from ldfast.interfaces import DiagnosticDescription, FeatureStore, FeatureStoreCore
from ldfast.versioned_data_kind import VersionedDataKind

_MISSING = object()


def _identity(x: Any) -> Any:
    return x


def _live(item: Any) -> Any:
    if item is None:
        return None
    deleted = item.get("deleted") if isinstance(item, dict) else getattr(item, "deleted", False)
    return None if deleted else item


class _TTLCache:
    """A dict of entries that expire ``ttl`` seconds after they were put (``None``: never)."""

    def __init__(self, ttl: Optional[float], capacity: int):
        self._ttl = ttl
        self._capacity = max(1, capacity)
        self._items: Dict[Any, Tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                return _MISSING
            if self._ttl is not None and time.monotonic() - entry[0] >= self._ttl:
                del self._items[key]
                return _MISSING
            return entry[1]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = (time.monotonic(), value)
            while len(self._items) > self._capacity:  # the oldest first
                del self._items[next(iter(self._items))]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class CachingStoreWrapper(DiagnosticDescription, FeatureStore):
    """A FeatureStore over ``core`` (a FeatureStoreCore), caching what it reads per ``cache_config``."""

    __INITED_CACHE_KEY__ = "$inited"

    def __init__(self, core: FeatureStoreCore, cache_config: CacheConfig):
        self._core = core
        self._inited = False
        self._cache: Optional[_TTLCache] = None
        if cache_config.enabled:
            expiration = cache_config.expiration
            self._cache = _TTLCache(None if math.isinf(expiration) else expiration, cache_config.capacity)

    def init(self, all_encoded_data: Mapping[VersionedDataKind, Mapping[str, dict[str, Any]]]) -> None:
        all_data = all_encoded_data
        self._core.init_internal(all_data)
        if self._cache is not None:
            self._cache.clear()
            for kind, items in all_data.items():
                self._cache.put(("all", kind.namespace), {k: v for k, v in items.items() if _live(v) is not None})
                for key, item in items.items():
                    self._cache.put((kind.namespace, key), [item])
        self._inited = True

    def get(self, kind: VersionedDataKind, key: str, callback: Callable[[Any], Any] = _identity) -> Any:
        if self._cache is not None:
            cached = self._cache.get((kind.namespace, key))
            if cached is not _MISSING:
                return callback(_live(cached[0]))
        item = self._core.get_internal(kind, key)
        if self._cache is not None:
            self._cache.put((kind.namespace, key), [item])
        return callback(_live(item))

    def all(self, kind: VersionedDataKind, callback: Callable[[Any], Any] = _identity) -> Any:
        if self._cache is not None:
            cached = self._cache.get(("all", kind.namespace))
            if cached is not _MISSING:
                return callback(cached)
        items = self._core.get_all_internal(kind) or {}
        live = {k: v for k, v in items.items() if _live(v) is not None}
        if self._cache is not None:
            self._cache.put(("all", kind.namespace), live)
        return callback(live)

    def delete(self, kind: VersionedDataKind, key: str, version: int) -> None:
        self.upsert(kind, {"key": key, "version": version, "deleted": True})

    def upsert(self, kind: VersionedDataKind, encoded_item: dict[str, Any]) -> None:
        item = encoded_item
        stored = self._core.upsert_internal(kind, item)
        if self._cache is not None:
            key = item.get("key") if isinstance(item, dict) else getattr(item, "key", None)
            self._cache.put((kind.namespace, key), [stored])
            self._cache_forget_all(kind)

    def _cache_forget_all(self, kind: VersionedDataKind) -> None:
        cache = self._cache
        if cache is not None:
            with cache._lock:
                cache._items.pop(("all", kind.namespace), None)

    @property
    def initialized(self) -> bool:
        if self._inited:
            return True
        if self._cache is not None and self._cache.get(self.__INITED_CACHE_KEY__) is False:
            return False
        result = bool(self._core.initialized_internal())
        if result:
            self._inited = True
        elif self._cache is not None:
            self._cache.put(self.__INITED_CACHE_KEY__, False)
        return result

    def disable_cache(self) -> None:
        """Stop caching: every operation goes to the core from now on."""
        self._cache = None

    def close(self) -> None:
        """Drop the cache and close the core, if it has ``close()``."""
        self.disable_cache()
        close = getattr(self._core, "close", None)
        if callable(close):
            close()

    def describe_configuration(self, config: Any) -> str:
        describe = getattr(self._core, "describe_configuration", None)
        return describe(config) if callable(describe) else "custom"

    def is_monitoring_enabled(self) -> bool:
        check = getattr(self._core, "is_monitoring_enabled", None)
        return bool(check()) if callable(check) else False

    def is_available(self) -> bool:
        check = getattr(self._core, "is_available", None)
        return bool(check()) if callable(check) else True


__all__ = ("CachingStoreWrapper",)
