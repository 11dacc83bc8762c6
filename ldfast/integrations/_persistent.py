"""A persistent feature store: LaunchDarkly's persistent-store contract over any database backend.

``PersistentFeatureStore`` is an ``InMemoryFeatureStore`` whose dicts (``_flags``/``_segments``,
what the evaluator reads without locks or I/O) are a CACHE over a database, plus one worker thread
that writes to the database and refreshes the cache. A backend (``RedisFeatureStore`` in
``_redis``, ``DynamoDBFeatureStore`` in ``_dynamodb``) only reads and writes items in its layout:
``_fetch``/``_fetch_all`` (``_persistent_cache``), ``_write_all``, ``_write_one``, ``_has_inited``,
``_disconnect``, ``_reconnect``, and lists its error types in ``_errors``. The contract is
LaunchDarkly's (its contract tests check it):

- Read-through: a flag the cache does not hold is read from the database, with the flags and
  segments it depends on, before it is evaluated: by the sync client on the calling thread, by the
  Twisted and asyncio clients in the reactor's thread pool (``needs_read``/``read``; every item,
  for all_flags_state: ``needs_read_all``/``read_all``), never on the loop. A key the database does
  not have is cached as absent (a deleted item of version -1; at most ``caching.capacity`` such
  keys, the oldest forgotten first).
- ``caching.expiration``: an entry is read again that many seconds after it was read or written;
  ``float("inf")``: never again; ``<= 0`` (``CacheConfig.disabled()``): every evaluation reads its
  flag and all it depends on from the database first. Where the official SDK drops an expired
  entry and reads it on its next use, the worker reads expired entries again itself (only JSON
  that changed is parsed), so a cached hit never waits for the database and flag change listeners
  fire for what changed there. A key gone from the database is gone once its entry expires.
- Daemon mode (``use_ldd=True``): the client serves whatever the database holds, ``$inited`` or
  not. ``initialized`` is true once a data source gave a full data set or ``$inited`` was seen
  (checked at start, then every expiration period until seen; once, with an infinite cache).
- Writes from a data source (``init``/``init_preprocessed``/``upsert``/``delete``, on whatever
  thread calls them, usually a reactor) update the cache at once and are queued; the worker writes
  them in order, in the backend's layout (a full data set with ``$inited``; an upsert only over an
  older version; deletes as tombstones). A newer queued write for a key supersedes an older one
  still queued. A read never puts back what a write of ours not yet in the database replaced.
- Unparseable JSON in the database becomes that one item, malformed (MALFORMED_FLAG).
- Outages (where ldfast does better than the contract asks): an error from the database makes the
  store unavailable (one warning per outage; the worker retries every 0.5 s). Meanwhile the cache
  keeps serving the last known items (an expired entry is kept until it can be read again), a key
  not cached is not found (nothing waits on the database), and writes stay queued. When it answers
  again the status is available+stale until the queued writes are in it (the whole cache, as an
  ``init``, if a writer finds ``$inited`` gone: the database lost its data), then available.

Why a thread rather than a Twisted protocol: the sync ``LDClient`` has no reactor of its own for
this, the drivers are what the official SDK's options are passed to (redis-py, boto3), and a single
worker serialises the writes (keeping their order). ``close()`` is bounded.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Type, cast

from ldfast.feature_store import _identity
from ldfast.integrations._persistent_cache import _FLAGS, _NS, _PARSE, _SEGMENTS, CachedItems, _Key
from ldfast.interfaces import DataStoreStatus, DataStoreUpdateSink
from ldfast.versioned_data_kind import FEATURES, VersionedDataKind

log = logging.getLogger(__name__)

#: How often (s) the worker retries the database during an outage (the official SDK polls every 0.5 s).
RETRY_INTERVAL = 0.5
MAX_UPSERT_ATTEMPTS = 10


class Contention(Exception):
    """An upsert lost a race with other writers ``MAX_UPSERT_ATTEMPTS`` times in a row."""


_live_stores: "weakref.WeakSet[PersistentFeatureStore]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for store in list(_live_stores):
        store._restart_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class PersistentFeatureStore(CachedItems):
    """A feature store kept in a database, evaluated from a read-through cache; see the module docstring."""

    accepts_pending = False  # (its writes want parsed items)
    reads_through = True
    """The clients have it read a flag it does not cache before they evaluate (``needs_read``/``read``)."""

    _errors: Tuple[Type[BaseException], ...] = ()
    """The backend's exceptions that mean "the database is unavailable" (an outage)."""
    read_wait = 5.0
    """How long (s) a reader waits for the same read by another caller."""

    # -- what a backend implements, besides _fetch/_fetch_all (blocking) ------------------------

    def _write_all(self, segments: Dict[str, Any], flags: Dict[str, Any]) -> Dict[str, Dict[str, bytes]]:
        """Replace the database's data set by these raw items and set ``$inited``; the JSON written."""
        raise NotImplementedError

    def _write_one(self, ns: str, key: str, item: Dict[str, Any]) -> Optional[bytes]:
        """Write one raw item unless the database has it at the same or a newer version; its
        JSON if written. May raise ``Contention``."""
        raise NotImplementedError

    def _has_inited(self) -> bool:
        """Whether the database holds ``$inited`` (raises one of ``_errors`` if it is unreachable)."""
        raise NotImplementedError

    def _disconnect(self) -> None:
        """Close the connections (the worker's last act; also ``close()`` before a start)."""

    def _reconnect(self) -> None:
        """In a forked child: forget the parent's connections."""

    # -- the FeatureStore write interface: cache now, the database later--------------------------

    def init(self, all_data: Mapping[VersionedDataKind, Mapping[str, Dict[str, Any]]]) -> None:
        with self._p_sync:
            super().init(all_data)
            self._queue_full_write()
        self.start()

    def init_preprocessed(self, flags: Dict[str, Any], segments: Dict[str, Any], ordered: bool = False) -> Tuple[Any, ...]:
        with self._p_sync:
            old = super().init_preprocessed(flags, segments, ordered)
            self._queue_full_write()
        self.start()
        return old

    def upsert(self, kind: VersionedDataKind, item: Dict[str, Any]) -> bool:
        with self._p_sync:
            stored = super().upsert(kind, item)
            if stored:
                key: _Key = (kind.namespace, cast(str, item.get("key")))
                self._p_gen += 1
                self._p_key_gen[key] = self._p_gen
                self._p_pending[key] = item
                self._p_absent.pop(key, None)
                self._p_seen[key[0]].pop(key[1], None)
                self._stamp(key, time.monotonic())
                self._p_sync.notify_all()
        if stored:
            self.start()
        return stored

    def delete(self, kind: VersionedDataKind, key: str, version: int) -> bool:
        return self.upsert(kind, {"key": key, "version": version, "deleted": True})

    def _queue_full_write(self) -> None:
        """(Under the lock, after the dicts were replaced.) The new data set is the cache, every
        entry read now; queue it as one full write, which supersedes queued writes."""
        now = time.monotonic()
        self._p_pending_init = (dict(self._segments), dict(self._flags))  # C-speed copies; the rest in the worker
        self._p_pending.clear()
        self._p_gen += 1
        self._p_init_gen = self._p_gen
        self._p_wrote_init = True
        self._p_inited = True
        self._p_absent.clear()
        self._p_seen = {ns: {} for ns in _NS}
        self._p_stamp = OrderedDict()  # (the worker stamps every entry "now": _stamp_init)
        self._p_stamp_init = now
        self._p_all_read = now
        self._p_sync.notify_all()

    @property
    def initialized(self) -> bool:
        """True once a data source gave a full data set or ``$inited`` was seen in the database (sticky)."""
        return self._p_inited

    # -- reading through (the clients call these before they evaluate) -------------------------

    def needs_read(self, key: Any, kind: VersionedDataKind = FEATURES) -> bool:
        """Whether :meth:`read` would read the flag (or ``kind`` item) ``key`` from the database: always
        with caching disabled, else when the cache does not hold it; never during an outage or once
        closed."""
        if not self._p_available or self._p_stopping or not isinstance(key, str):
            return False
        return not self.caches_reads or key not in self._cache_of(kind.namespace)

    def read(self, key: Any) -> None:
        """Read the flag ``key`` and what it depends on (prerequisites, segments) from the database into
        the cache, if :meth:`needs_read` says so. Blocking: never call it on a reactor thread.
        Never raises: an error from the database starts an outage, and the cache goes on serving."""
        if self.needs_read(key):
            self._read_shared((_FLAGS, key), {_FLAGS: [key]})

    def needs_read_all(self) -> bool:
        """Whether :meth:`read_all` would read the database (before all_flags_state): always with caching
        disabled; once per expiration period; once, with an infinite cache."""
        if not self._p_available or self._p_stopping:
            return False
        read_at = self._p_all_read
        if not self.caches_reads or read_at is None:
            return True
        return self._p_ttl is not None and time.monotonic() - read_at >= self._p_ttl

    def read_all(self) -> None:
        """Read every flag and segment from the database (``_fetch_all``) into the cache, if
        :meth:`needs_read_all` says so; an entry already cached keeps its own expiry (with caching
        disabled the cache becomes what the database holds). Blocking, never raises, as :meth:`read`."""
        if self.needs_read_all():
            self._read_shared("*", None)

    def get(self, kind: VersionedDataKind, key: str, callback: Callable[[Any], Any] = _identity) -> Any:
        """The item (read from the database first if not cached: blocking), or None if absent or deleted."""
        if kind.namespace in _PARSE and self.needs_read(key, kind):
            self._read_shared((kind.namespace, key), {kind.namespace: [key]})
        return super().get(kind, key, callback)

    def all(self, kind: VersionedDataKind, callback: Callable[[Any], Any] = _identity) -> Any:
        """Every non-deleted item (all read from the database first when due: blocking)."""
        self.read_all()
        return super().all(kind, callback)

    def _read_shared(self, what: Any, want: Optional[Dict[str, List[str]]]) -> None:
        """Run one read of ``want`` (None: everything); callers asking for the same meanwhile wait for it."""
        with self._p_sync:
            if self._p_thread is None and not self._p_stopping:
                self.start()  # (it recovers from outages)
            running = self._p_reading.get(what)
            if running is None:
                mine = self._p_reading[what] = threading.Event()
        if running is not None:
            running.wait(self.read_wait)
            return
        try:
            if want is None:
                self._read_everything()
            else:
                self._read(want, fresh=not self.caches_reads)
        except self._errors as e:
            self._outage(e)
        except Exception:  # a bug must not break an evaluation
            log.exception("Unexpected error reading the %s store", self.backend_name)
        finally:
            with self._p_sync:
                if self._p_reading.get(what) is mine:
                    del self._p_reading[what]
            mine.set()

    # -- status -------------------------------------------------------------------------------

    def is_monitoring_enabled(self) -> bool:
        return True

    def is_available(self) -> bool:
        """Whether the last database operation succeeded (no I/O here: it never blocks)."""
        return self._p_available

    def describe_configuration(self, config: Any) -> str:
        return self.backend_name

    def _attach_status_sink(self, sink: DataStoreUpdateSink) -> None:
        self._p_sinks.append(sink)
        sink.update_status(DataStoreStatus(self._p_available, self._p_stale))

    def _set_status(self, available: bool, stale: bool) -> None:
        with self._p_sync:
            if (available, stale) == (self._p_available, self._p_stale):
                return
            self._p_available, self._p_stale = available, stale
            self._p_sync.notify_all()  # (an outage seen by a reader: the worker starts retrying)
        status = DataStoreStatus(available, stale)
        for sink in list(self._p_sinks):
            sink.update_status(status)

    def _outage(self, error: Optional[BaseException]) -> None:
        if self._p_available:
            log.warning("%s is unavailable (%s); serving the last known flag data, writes are queued "
                        "until it recovers", self.backend_name, error)
            self._set_status(False, False)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread (idempotent; writes, reads and the clients start it)."""
        with self._p_sync:
            if self._p_thread is not None and self._p_thread.is_alive():
                return
            self._p_stopping = False
            self._p_thread = threading.Thread(target=self._run, name="ldfast-%s-store" % self.backend_name.lower(), daemon=True)
            self._p_pid = os.getpid()
            _live_stores.add(self)
            self._p_thread.start()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the worker, waiting up to ``timeout`` s (0: do not wait); queued writes not yet in
        the database are kept and go out if the store is started again. The cache keeps serving."""
        with self._p_sync:
            thread, self._p_thread = self._p_thread, None
            self._p_stopping = True
            self._p_sync.notify_all()
        _live_stores.discard(self)
        if thread is None:
            self._disconnect()
        elif timeout > 0 and thread is not threading.current_thread():
            thread.join(timeout)  # the worker disconnects as it exits
            if thread.is_alive():
                log.warning("The %s store's worker did not stop within %s s; left behind (daemon)", self.backend_name,
                            timeout)

    def _restart_after_fork(self) -> None:
        """In a forked child (called by the fork hook and by the client's own fork handling, e.g.
        uWSGI's post-fork hook): restart the worker, once per process."""
        if getattr(self, "_r_pid", None) == os.getpid():
            return
        self._p_pid = os.getpid()
        self._p_sync = threading.Condition(threading.RLock())  # a lock held at fork time stays held
        self._p_writing = False  # the parent's worker does not exist here
        self._p_reading = {}  # nor do its readers
        self._p_started = threading.Event()
        self._reconnect()
        if self._p_thread is not None and not self._p_stopping:
            self._p_thread = None
            self.start()

    def wait_started(self, timeout: float) -> bool:
        """Wait (bounded) until the worker has done its first pass (looked for ``$inited``, its lazy
        imports included), so that it is idle when the application goes on, e.g. when a pre-forking
        server forks (a thread running Python at fork time can leave the child hung)."""
        self.start()
        return self._p_started.wait(timeout)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued write is in the database; False on timeout (e.g. during an outage)."""
        self.start()
        deadline = time.monotonic() + timeout
        with self._p_sync:
            while self._p_pending_init is not None or self._p_pending or self._p_writing:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._p_sync.wait(left)
        return True

    def refresh(self, timeout: float = 5.0) -> bool:
        """Read every cached entry (and ``$inited``) from the database again now, whatever the caching
        mode (the next all_flags_state reads every item), and wait for it; False on timeout or outage."""
        self.start()
        deadline = time.monotonic() + timeout
        with self._p_sync:
            self._p_all_read = None
            self._p_refresh_requested += 1
            target = self._p_refresh_requested
            self._p_sync.notify_all()
            while self._p_refresh_done < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._p_sync.wait(left)
        return True

    # -- the worker ---------------------------------------------------------------------------

    def _next_due(self) -> Optional[float]:
        """(Under the lock.) When the oldest entry expires or ``$inited`` is due a look (None: never)."""
        due = self._p_inited_due if not self._p_inited else None
        if self._p_ttl is not None and self._p_stamp:
            expires = next(iter(self._p_stamp.values())) + self._p_ttl
            due = expires if due is None else min(due, expires)
        return due

    def _run(self) -> None:
        retry_at = 0.0
        while True:
            with self._p_sync:
                while True:
                    if self._p_stopping:
                        break
                    now = time.monotonic()
                    due = None
                    if not self._p_available:
                        due = retry_at
                    elif self._p_pending_init is not None or self._p_pending:
                        due = max(now, retry_at)
                    elif self._p_refresh_requested > self._p_refresh_done:
                        due = now
                    else:
                        due = self._next_due()
                    if due is not None and due <= now:
                        break
                    self._p_sync.wait(None if due is None else due - now)
                if self._p_stopping:
                    break
            try:
                if not self._p_available:
                    self._recover()
                self._stamp_init()
                if not self._flush_writes():
                    retry_at = time.monotonic() + RETRY_INTERVAL / 5
                    continue
                with self._p_sync:
                    requested = self._p_refresh_requested
                everything = requested > self._p_refresh_done
                self._refresh(everything)
                if everything or (not self._p_inited and self._p_inited_due is not None
                                  and self._p_inited_due <= time.monotonic()):
                    self._check_inited()
                with self._p_sync:
                    if everything:
                        self._p_refresh_done = max(self._p_refresh_done, requested)
                        self._p_sync.notify_all()
                    idle = self._p_pending_init is None and not self._p_pending
                if self._p_stale and idle:
                    self._set_status(True, False)
            except self._errors as e:
                retry_at = time.monotonic() + RETRY_INTERVAL
                self._worker_outage(e)
            except Exception:  # a bug must not kill the worker silently
                log.exception("Unexpected error in the %s store's worker", self.backend_name)
                retry_at = time.monotonic() + RETRY_INTERVAL
                self._worker_outage(None)
            self._p_started.set()
        self._p_started.set()
        self._disconnect()

    def _worker_outage(self, error: Optional[BaseException]) -> None:
        with self._p_sync:
            self._p_writing = False
            self._p_sync.notify_all()
        self._outage(error)

    def _recover(self) -> None:
        exists = self._has_inited()
        log.warning("%s is available again; re-syncing", self.backend_name)
        with self._p_sync:
            if not exists and self._p_wrote_init and self._p_pending_init is None:
                log.warning("%s has lost its data ($inited is missing); writing all flag data again",
                            self.backend_name)
                self._p_pending_init = (dict(self._segments), dict(self._flags))
                self._p_pending.clear()
                self._p_gen += 1
                self._p_init_gen = self._p_gen
        self._set_status(True, True)

    def _refresh(self, everything: bool) -> None:
        """Read the expired entries again (every entry, if ``everything``)."""
        with self._p_sync:
            if self._p_ttl is None and not everything:
                return
            now = time.monotonic()
            limit = now if everything else now - self._p_ttl + min(0.05, self._p_ttl / 20)  # type: ignore[operator]
            want: Dict[str, List[str]] = {ns: [] for ns in _NS}
            for (ns, key), stamp in self._p_stamp.items():
                if stamp > limit:
                    break
                want[ns].append(key)
        if not want[_FLAGS] and not want[_SEGMENTS]:
            return
        self._read(want, fresh=False)
        with self._p_sync:  # an entry the read skipped (a write of ours) is not due again at once
            for ns in _NS:
                for key in want[ns]:
                    when = self._p_stamp.get((ns, key))
                    if when is not None and when <= limit:
                        self._stamp((ns, key), now)

    def _check_inited(self) -> None:
        found = self._has_inited()
        with self._p_sync:
            self._p_inited = self._p_inited or bool(found)
            self._p_inited_due = None if self._p_ttl is None else time.monotonic() + self._p_ttl

    def _flush_writes(self) -> bool:
        """Write queued writes in order; False if one lost too many WATCH races (retry soon)."""
        while True:
            with self._p_sync:
                init = self._p_pending_init
                if init is None:
                    if not self._p_pending:
                        self._p_writing = False
                        self._p_sync.notify_all()
                        return True
                    key, item = next(iter(self._p_pending.items()))
                self._p_writing = True
            if init is not None:
                seen = self._write_all(*init)
                with self._p_sync:
                    if self._p_pending_init is init:
                        self._p_pending_init = None
                        self._p_seen = seen
                        self._p_gen += 1
                        self._p_init_gen = self._p_gen
                continue
            try:
                text = self._write_one(key[0], key[1], item)
            except Contention:
                log.warning("Could not update %r in %s after %d attempts (concurrent writers); will retry",
                            key[1], self.backend_name, MAX_UPSERT_ATTEMPTS)
                with self._p_sync:
                    self._p_writing = False
                return False
            with self._p_sync:
                if self._p_pending.get(key) is item:
                    del self._p_pending[key]
                    if text is not None:
                        self._p_seen[key[0]][key[1]] = text
                    self._p_gen += 1  # a read begun before this write must not undo it
                    self._p_key_gen[key] = self._p_gen



__all__ = ("Contention", "MAX_UPSERT_ATTEMPTS", "PersistentFeatureStore", "RETRY_INTERVAL")
