"""Big Segments: the store interface and its value types, the status provider, and the manager.

The manager (the official SDK's ``BigSegmentStoreManager``) sits between the evaluator and a
``BigSegmentStore`` (``ldfast.integrations.Redis.new_big_segment_store``): it caches each context
key's membership (``context_cache_size`` entries, least recently used evicted first, each for
``context_cache_time`` s), polls the store's metadata every ``status_poll_interval`` s in a daemon
thread (stale when the store was never synchronized or not within ``stale_after`` s), and answers
the evaluator's lookup with ``(membership, "HEALTHY" | "STALE" | "STORE_ERROR")``. A store error is
never raised into the caller: it is logged and reported as ``STORE_ERROR`` with no membership.

``lookup`` may query the store in the calling thread (the synchronous client does, in the
application's thread, like the official SDK). ``cached`` never does I/O: the Twisted client asks
it on the reactor and fetches what is missing in a thread pool.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading
import time
from abc import ABCMeta, abstractmethod
from collections import OrderedDict
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

log = logging.getLogger(__name__)

HEALTHY = "HEALTHY"
STALE = "STALE"
STORE_ERROR = "STORE_ERROR"
NOT_CONFIGURED = "NOT_CONFIGURED"

# What a membership query that found nothing is cached as (shared: memberships are never modified).
_EMPTY_MEMBERSHIP: Dict[str, bool] = {}

Lookup = Tuple[Optional[Dict[str, bool]], str]


def hash_for_context_key(key: str) -> str:
    """The store's key for a context key: standard base64 (padded) of SHA-256 of its UTF-8 bytes."""
    return base64.b64encode(hashlib.sha256(key.encode("utf-8")).digest()).decode("ascii")


class BigSegmentStoreMetadata:
    """What ``BigSegmentStore.get_metadata()`` returns: ``last_up_to_date`` (Unix ms, or None)."""

    __slots__ = ("_last_up_to_date",)

    def __init__(self, last_up_to_date: Optional[int]):
        self._last_up_to_date = last_up_to_date

    @property
    def last_up_to_date(self) -> Optional[int]:
        """When the store was last synchronized (Unix epoch ms); None if it never was."""
        return self._last_up_to_date


class BigSegmentStore(metaclass=ABCMeta):
    """A read-only store of Big Segment memberships (the official ``BigSegmentStore`` interface)."""

    @abstractmethod
    def get_metadata(self) -> BigSegmentStoreMetadata:
        """The store's state (queried at each status poll; not cached)."""

    @abstractmethod
    def get_membership(self, context_hash: str) -> Optional[dict[str, Any]]:
        """``{segment ref: included}`` for a hashed context key, or None if it is in no Big Segment."""

    @abstractmethod
    def stop(self) -> None:
        """Release the store's connections."""


class BigSegmentStoreStatus:
    """The Big Segment store's status: ``available`` (it answers queries) and ``stale``."""

    __slots__ = ("_available", "_stale")

    def __init__(self, available: bool, stale: bool):
        self._available = available
        self._stale = stale

    @property
    def available(self) -> bool:
        """True if the store answers queries (when False, evaluations report STORE_ERROR)."""
        return self._available

    @property
    def stale(self) -> bool:
        """True if the store answers but was not synchronized within ``stale_after`` (STALE)."""
        return self._stale

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, BigSegmentStoreStatus) and other._available == self._available
                and other._stale == self._stale)

    def __hash__(self) -> int:
        return hash((self._available, self._stale))

    def __repr__(self) -> str:
        return "BigSegmentStoreStatus(available=%r, stale=%r)" % (self._available, self._stale)


_UNAVAILABLE = BigSegmentStoreStatus(False, False)


class BigSegmentStoreStatusProvider:
    """The Big Segment store's status and change listeners (``client.big_segment_store_status_provider``).

    ``status`` is the last polled status. On the synchronous client, before the first poll has
    finished, reading it queries the store (blocking, as in the official SDK); on the Twisted
    client it never blocks and reports ``available=False`` until the first poll (a few ms after
    start). Listeners are called with the new status when ``available`` or ``stale`` changes (not
    for the first status): on the poll thread for the synchronous client, on the reactor for the
    Twisted client.
    """

    def __init__(self, status_getter: Callable[[], BigSegmentStoreStatus],
                 dispatch: Optional[Callable[..., Any]] = None):
        self._status_getter = status_getter
        self._dispatch = dispatch
        self._listeners: List[Callable[[BigSegmentStoreStatus], Any]] = []
        self._lock = threading.Lock()
        self._last: Optional[BigSegmentStoreStatus] = None

    @property
    def status(self) -> BigSegmentStoreStatus:
        return self._status_getter()

    def add_listener(self, listener: Callable[[BigSegmentStoreStatus], Any]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[BigSegmentStoreStatus], Any]) -> None:
        with self._lock:
            try:
                self._listeners.remove(listener)
            except ValueError:
                pass

    def _update_status(self, new: BigSegmentStoreStatus) -> None:
        with self._lock:
            last, self._last = self._last, new
            if last is None or last == new:
                return
            listeners = list(self._listeners)
        if not listeners:
            return
        if self._dispatch is None:
            self._notify(listeners, new)
        else:
            try:
                self._dispatch(self._notify, listeners, new)
            except Exception as e:  # e.g. the reactor is no longer running
                log.debug("Big Segment status listeners not called: %s", e)

    @staticmethod
    def _notify(listeners: Iterable[Callable[[BigSegmentStoreStatus], Any]], status: BigSegmentStoreStatus) -> None:
        for listener in listeners:
            try:
                listener(status)
            except Exception:  # a listener must never break the poll
                log.exception("Error in a Big Segment store status listener")


class _MembershipCache:
    """Context key -> membership, at most ``capacity`` entries (least recently used evicted first),
    each kept ``ttl`` seconds after it was stored. Thread-safe."""

    def __init__(self, capacity: int, ttl: float, clock: Callable[[], float]):
        self._capacity = max(1, capacity)
        self._ttl = ttl
        self._clock = clock
        self._data: "OrderedDict[str, Tuple[Dict[str, bool], float]]" = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Optional[Dict[str, bool]]:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if self._clock() >= entry[1]:
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return entry[0]

    def put(self, key: str, membership: Dict[str, bool]) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            self._data.pop(key, None)
            while len(self._data) >= self._capacity:
                self._data.popitem(last=False)
            self._data[key] = (membership, self._clock() + self._ttl)

    def __len__(self) -> int:
        return len(self._data)


class BigSegmentStoreManager:
    """Caches memberships and polls the status of a configured Big Segment store.

    ``BigSegmentStoreManager(big_segments_config, dispatch=None, blocking_status=True)``; ``start()``
    begins the status poll (a daemon thread), ``stop()`` ends it and stops the store (bounded).
    ``dispatch(fn, *args)`` runs status listeners (the Twisted client passes
    ``reactor.callFromThread``); ``blocking_status=False`` makes ``status_provider.status`` never
    query the store itself. ``clock``/``wall_clock_ms`` are injectable for tests.
    """

    def __init__(self, config: Any, *, dispatch: Optional[Callable[..., Any]] = None, blocking_status: bool = True,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)):
        if config.store is None:
            raise ValueError("BigSegmentStoreManager needs a BigSegmentsConfig with a store")
        self._store = config.store
        self._poll_interval = float(config.status_poll_interval)
        self._stale_after_ms = float(config.stale_after) * 1000.0
        self._wall_clock_ms = wall_clock_ms
        self._cache = _MembershipCache(int(config.context_cache_size), float(config.context_cache_time), clock)
        self._last_status: Optional[BigSegmentStoreStatus] = None
        self._poll_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._membership_failing = False
        getter = self.get_status if blocking_status else self._status_now
        self._provider = BigSegmentStoreStatusProvider(getter, dispatch)

    @property
    def status_provider(self) -> BigSegmentStoreStatusProvider:
        return self._provider

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start polling the store's status (at once, then every ``status_poll_interval`` s)."""
        if self._stopping.is_set() or (self._thread is not None and self._thread.is_alive()):
            return
        self._thread = threading.Thread(target=self._poll_loop, name="ldfast-big-segments-status", daemon=True)
        self._pid = os.getpid()
        self._thread.start()

    def after_fork_in_child(self) -> None:
        """In a forked child the poll thread does not exist: start it anew (with fresh locks, in case
        another thread held one at the fork). Once per process: several fork hooks may call."""
        if getattr(self, "_pid", None) == os.getpid():
            return
        self._pid = os.getpid()
        self._thread = None
        self._poll_lock = threading.Lock()
        self._cache._lock = threading.Lock()
        self._provider._lock = threading.Lock()
        self.start()

    def stop_polling(self, timeout: float = 1.0) -> None:
        """End the status poll; waits at most ``timeout`` s for an in-flight poll (0: do not wait)."""
        self._stopping.set()
        thread = self._thread
        if timeout > 0 and thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def stop_store(self) -> None:
        """Stop the store (release its connections); errors are logged."""
        try:
            self._store.stop()
        except Exception as e:
            log.warning("Error stopping the Big Segment store: %s", e)

    def stop(self, timeout: float = 1.0) -> None:
        """End the status poll and stop the store; bounded by ``timeout`` s plus the store's stop."""
        self.stop_polling(timeout)
        self.stop_store()

    def _poll_loop(self) -> None:
        while not self._stopping.is_set():
            self.poll_store_and_update_status()
            self._stopping.wait(self._poll_interval)

    # -- status ---------------------------------------------------------------------------------

    def _status_now(self) -> BigSegmentStoreStatus:
        """The last polled status, never blocking (unavailable before the first poll)."""
        status = self._last_status
        return _UNAVAILABLE if status is None else status

    @property
    def last_status(self) -> Optional[BigSegmentStoreStatus]:
        return self._last_status

    def get_status(self) -> BigSegmentStoreStatus:
        """The last polled status; before the first poll, the store is queried now (blocking)."""
        status = self._last_status
        if status is not None:
            return status
        with self._poll_lock:
            status = self._last_status
            if status is not None:
                return status
            status = self._query_status()
        self._provider._update_status(status)
        return status

    def poll_store_and_update_status(self) -> BigSegmentStoreStatus:
        with self._poll_lock:
            status = self._query_status()
        self._provider._update_status(status)
        return status

    def _query_status(self) -> BigSegmentStoreStatus:
        """Ask the store for its metadata; callers hold the poll lock."""
        previous = self._last_status
        try:
            metadata = self._store.get_metadata()
            last = None if metadata is None else metadata.last_up_to_date
            status = BigSegmentStoreStatus(True, self._is_stale(last))
            if previous is not None and not previous.available:
                log.info("Big Segment store is available again")
        except Exception as e:
            status = _UNAVAILABLE
            if previous is None or previous.available:
                log.warning("Big Segment store status query failed (evaluations report STORE_ERROR): %s", e)
            else:
                log.debug("Big Segment store status query failed: %s", e)
        self._last_status = status
        return status

    def _is_stale(self, last_up_to_date: Optional[int]) -> bool:
        return last_up_to_date is None or (self._wall_clock_ms() - last_up_to_date) >= self._stale_after_ms

    # -- membership -----------------------------------------------------------------------------

    def lookup(self, key: str) -> Lookup:
        """The evaluator's lookup: ``(membership, status)`` for a context key; may query the store."""
        membership = self._cache.get(key)
        if membership is None:
            try:
                membership = self._store.get_membership(hash_for_context_key(key))
            except Exception as e:
                if not self._membership_failing:
                    self._membership_failing = True
                    log.warning("Big Segment store membership query failed (evaluations report STORE_ERROR): %s", e)
                else:
                    log.debug("Big Segment store membership query failed: %s", e)
                return None, STORE_ERROR
            if self._membership_failing:
                self._membership_failing = False
                log.info("Big Segment store membership queries succeed again")
            if membership is None:
                membership = _EMPTY_MEMBERSHIP
            self._cache.put(key, membership)
        return membership, _status_name(self.get_status())

    def lookup_many(self, keys: Iterable[str]) -> Dict[str, Lookup]:
        """``lookup`` for each key (for a worker thread)."""
        return {key: self.lookup(key) for key in keys}

    def cached(self, key: str) -> Optional[Lookup]:
        """``(membership, status)`` from the cache and the last polled status, or None (never does I/O)."""
        status = self._last_status
        if status is None:
            return None
        membership = self._cache.get(key)
        if membership is None:
            return None
        return membership, _status_name(status)


def _status_name(status: BigSegmentStoreStatus) -> str:
    if not status.available:
        return STORE_ERROR
    return STALE if status.stale else HEALTHY


def not_configured_status_provider() -> BigSegmentStoreStatusProvider:
    """The provider of a client without a Big Segment store: unavailable, never changes."""
    return BigSegmentStoreStatusProvider(lambda: _UNAVAILABLE)


__all__ = ("BigSegmentStore", "BigSegmentStoreMetadata", "BigSegmentStoreStatus", "BigSegmentStoreStatusProvider",
           "BigSegmentStoreManager", "hash_for_context_key")
