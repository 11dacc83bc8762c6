"""The Redis persistent feature store: LaunchDarkly's Redis layout and persistent-store contract.

``Redis.new_feature_store(...)`` returns a ``RedisFeatureStore``: an ``InMemoryFeatureStore`` whose
dicts (``_flags``/``_segments``, what the evaluator reads without locks or I/O) are a CACHE over
Redis, plus one worker thread that writes to Redis and refreshes the cache, with redis-py over a
bounded ``BlockingConnectionPool``. The contract is LaunchDarkly's (its contract tests check it):

- Read-through: a flag the cache does not hold is read from Redis, with the flags and segments it
  depends on, before it is evaluated: by the sync client on the calling thread, by the Twisted
  client in the reactor's thread pool (``needs_read``/``read``; every item, for all_flags_state:
  ``needs_read_all``/``read_all``). A key Redis does not have is cached as absent (a deleted item
  of version -1; at most ``caching.capacity`` such keys, the oldest forgotten first).
- ``caching.expiration``: an entry is read again that many seconds after it was read or written;
  ``float("inf")``: never again; ``<= 0`` (``CacheConfig.disabled()``): every evaluation reads its
  flag and all it depends on from Redis first. Where the official SDK drops an expired entry and
  reads it on its next use, the worker reads expired entries again itself (a batch of HMGETs;
  only JSON that changed is parsed), so a cached hit never waits for Redis and flag change
  listeners fire for what changed in Redis. A key gone from Redis is gone once its entry expires.
- Daemon mode (``use_ldd=True``): the client serves whatever Redis holds, ``$inited`` or not.
  ``initialized`` is true once a data source gave a full data set or ``$inited`` was seen (checked
  at start, then every expiration period until seen; once, with an infinite cache).
- Writes from a data source (``init``/``init_preprocessed``/``upsert``/``delete``, on whatever
  thread calls them, usually a reactor) update the cache at once and are queued; the worker writes
  them to Redis in order, with the official SDK's exact layout and semantics: ``init`` is one
  MULTI/EXEC pipeline (segments then flags; DEL, HSET each, SET ``$inited``); an upsert is
  WATCH/HGET/version check/MULTI HSET EXEC, retried on WatchError up to 10 times; deletes are
  upserts of tombstones, which stay in the hash. A newer queued write for a key supersedes an older
  one still queued. A read never puts back what a write of ours not yet in Redis replaced.
- Unparseable JSON in Redis becomes that one item, malformed (MALFORMED_FLAG); nothing else breaks.
- Outages (where ldfast does better than the contract asks): an error from Redis makes the store
  unavailable (one warning per outage; the worker retries every 0.5 s). Meanwhile the cache keeps
  serving the last known items (an expired entry is kept until it can be read again), a key not
  cached is not found (nothing waits on Redis), and writes stay queued. When Redis answers again
  the status is available+stale until the queued writes are in it (the whole cache, as an
  ``init``, if a writer finds ``$inited`` gone: Redis lost its data), then available.

Why a thread and redis-py rather than a Twisted Redis protocol: the sync ``LDClient`` has no
reactor of its own for this, redis-py is what the official SDK's ``redis_opts`` are passed to (TLS,
auth, timeouts work the same), and a single worker serialises the writes (keeping their order).
Nothing here runs on a reactor thread: the Twisted client reads in its thread pool. Sockets get
5 s timeouts unless ``redis_opts`` says otherwise; ``close()`` is bounded regardless.
"""
from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
import weakref
from collections import OrderedDict
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from ldfast.feature_store import CacheConfig, InMemoryFeatureStore, _identity, _ready
from ldfast.interfaces import DataStoreStatus, DataStoreUpdateSink
from ldfast.model import Flag, Segment, parse_flag, parse_segment
from ldfast.versioned_data_kind import FEATURES, SEGMENTS, VersionedDataKind

log = logging.getLogger(__name__)

DEFAULT_URL = "redis://localhost:6379/0"
DEFAULT_PREFIX = "launchdarkly"
DEFAULT_MAX_CONNECTIONS = 16
#: How often (s) the worker re-reads the cache's entries when caching is disabled (evaluations read
#: Redis themselves; this keeps flag change listeners informed).
UNCACHED_REFRESH_INTERVAL = 1.0
#: How often (s) the worker retries Redis during an outage (the official SDK polls every 0.5 s).
RETRY_INTERVAL = 0.5
_MAX_UPSERT_ATTEMPTS = 10
_UNPARSEABLE = "_ldfastUnparseable"  # marks an item made from JSON that did not parse
_ABSENT_VERSION = -1  # the version of a cached "Redis does not have it"
_CHUNK = 1000  # fields per HMGET
_FLAGS, _SEGMENTS = FEATURES.namespace, SEGMENTS.namespace
_NS = (_SEGMENTS, _FLAGS)  # init and apply order: segments, then flags
_PARSE = {_FLAGS: parse_flag, _SEGMENTS: parse_segment}
_Key = Tuple[str, str]  # (namespace, key)


def _redact(url: str) -> str:
    """The URL without its password, for logs."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    return "%s%s%s:xxxx@%s" % (scheme, sep, creds.split(":", 1)[0], host)


class _Contention(Exception):
    """An upsert lost the WATCH race ``_MAX_UPSERT_ATTEMPTS`` times in a row."""


_live_stores: "weakref.WeakSet[RedisFeatureStore]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for store in list(_live_stores):
        store._restart_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class RedisFeatureStore(InMemoryFeatureStore):
    """A feature store kept in Redis, evaluated from a read-through cache; see the module docstring."""

    accepts_pending = False  # (its writes to Redis want parsed items)
    reads_through = True
    """The clients have it read a flag it does not cache before they evaluate (``needs_read``/``read``)."""

    def __init__(self, url: str = DEFAULT_URL, prefix: Optional[str] = DEFAULT_PREFIX,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS, caching: Optional[CacheConfig] = None,
                 redis_opts: Optional[Dict[str, Any]] = None):
        super().__init__()
        try:
            import redis
        except ImportError:  # pragma: no cover - redis is in the test extra
            raise ImportError("the Redis feature store needs redis-py: pip install 'ldfast[redis]'") from None
        self._r_redis = redis
        self._r_prefix = prefix or DEFAULT_PREFIX
        self._r_inited_key = "%s:$inited" % self._r_prefix
        opts: Dict[str, Any] = {"max_connections": max_connections, "timeout": 5.0,
                                "socket_timeout": 5.0, "socket_connect_timeout": 5.0}
        opts.update(redis_opts or {})
        self._r_pool = redis.BlockingConnectionPool.from_url(url, **opts)
        self._r_client = redis.Redis(connection_pool=self._r_pool)
        self._r_caching = caching if caching is not None else CacheConfig.default()
        expiration = self._r_caching.expiration
        self.caches_reads = expiration > 0
        """False with caching disabled: then every evaluation reads Redis first."""
        self._r_ttl: Optional[float] = (None if math.isinf(expiration)
                                        else expiration if expiration > 0 else UNCACHED_REFRESH_INTERVAL)
        self._r_capacity = max(1, int(self._r_caching.capacity))
        self._r_sync = threading.Condition(threading.RLock())
        # all below guarded by self._r_sync
        self._r_pending_init: Optional[Tuple[Dict[str, Any], Dict[str, Any]]] = None
        self._r_pending: Dict[_Key, dict[str, Any]] = {}
        self._r_writing = False
        self._r_gen = 0  # counts our writes, queued and done: a read older than one never undoes it
        self._r_init_gen = 0
        self._r_key_gen: Dict[_Key, int] = {}
        self._r_wrote_init = False  # a data source gave us a full data set: a writer
        self._r_inited = False
        self._r_inited_due: Optional[float] = time.monotonic()  # when to look for $inited next
        self._r_stamp: "OrderedDict[_Key, float]" = OrderedDict()  # when each entry was read/written, oldest first
        self._r_stamp_init: Optional[float] = None  # when our last data set replaced the cache, until stamped
        self._r_absent: "OrderedDict[_Key, None]" = OrderedDict()  # entries that say "Redis does not have it"
        self._r_seen: Dict[str, Dict[str, bytes]] = {ns: {} for ns in _NS}  # the JSON each entry was read as
        self._r_all_read: Optional[float] = None  # when every item was last read (all_flags_state)
        self._r_reading: Dict[Any, threading.Event] = {}  # reads in progress, shared by their callers
        self._r_refresh_requested = 0
        self._r_refresh_done = 0
        self._r_stopping = False
        self._r_thread: Optional[threading.Thread] = None
        self._r_started = threading.Event()  # the worker's first pass is done
        # status
        self._r_available = True
        self._r_stale = False
        self._r_sinks: List[DataStoreUpdateSink] = []
        log.info("Redis feature store for %s, prefix %r", _redact(url), self._r_prefix)

    # -- the FeatureStore write interface: cache now, Redis later -----------------------------

    def init(self, all_data: Mapping[VersionedDataKind, Mapping[str, dict[str, Any]]]) -> None:
        with self._r_sync:
            super().init(all_data)
            self._queue_full_write()
        self.start()

    def init_preprocessed(self, flags: Dict[str, Any], segments: Dict[str, Any], ordered: bool = False) -> tuple[Any,
                          ...]:
        with self._r_sync:
            old = super().init_preprocessed(flags, segments, ordered)
            self._queue_full_write()
        self.start()
        return old

    def upsert(self, kind: VersionedDataKind, item: dict[str, Any]) -> bool:
        with self._r_sync:
            stored = super().upsert(kind, item)
            if stored:
                key: Tuple[str, Any] = (kind.namespace, item.get("key"))
                self._r_gen += 1
                self._r_key_gen[key] = self._r_gen
                self._r_pending[key] = item
                self._r_absent.pop(key, None)
                self._r_seen[key[0]].pop(key[1], None)
                self._stamp(key, time.monotonic())
                self._r_sync.notify_all()
        if stored:
            self.start()
        return stored

    def delete(self, kind: VersionedDataKind, key: str, version: int) -> bool:
        return self.upsert(kind, {"key": key, "version": version, "deleted": True})

    def _queue_full_write(self) -> None:
        """(Under the lock, after the dicts were replaced.) The new data set is the cache, every
        entry read now; queue it as one Redis init, which supersedes queued writes."""
        now = time.monotonic()
        self._r_pending_init = (dict(self._segments), dict(self._flags))  # C-speed copies; the rest in the worker
        self._r_pending.clear()
        self._r_gen += 1
        self._r_init_gen = self._r_gen
        self._r_wrote_init = True
        self._r_inited = True
        self._r_absent.clear()
        self._r_seen = {ns: {} for ns in _NS}
        self._r_stamp = OrderedDict()  # (the worker stamps every entry "now": _stamp_init)
        self._r_stamp_init = now
        self._r_all_read = now
        self._r_sync.notify_all()

    @property
    def initialized(self) -> bool:
        """True once a data source gave a full data set or ``$inited`` was seen in Redis (sticky)."""
        return self._r_inited

    # -- reading through (the clients call these before they evaluate) -------------------------

    def needs_read(self, key: Any, kind: VersionedDataKind = FEATURES) -> bool:
        """Whether :meth:`read` would read the flag (or ``kind`` item) ``key`` from Redis: always
        with caching disabled, else when the cache does not hold it; never during an outage or once
        closed."""
        if not self._r_available or self._r_stopping or not isinstance(key, str):
            return False
        return not self.caches_reads or key not in self._cache_of(kind.namespace)

    def read(self, key: Any) -> None:
        """Read the flag ``key`` and what it depends on (prerequisites, segments) from Redis into
        the cache, if :meth:`needs_read` says so. Blocking: never call it on a reactor thread.
        Never raises: an error from Redis starts an outage, and the cache goes on serving."""
        if self.needs_read(key):
            self._read_shared((_FLAGS, key), {_FLAGS: [key]})

    def needs_read_all(self) -> bool:
        """Whether :meth:`read_all` would read Redis (before all_flags_state): always with caching
        disabled; once per expiration period; once, with an infinite cache."""
        if not self._r_available or self._r_stopping:
            return False
        read_at = self._r_all_read
        if not self.caches_reads or read_at is None:
            return True
        return self._r_ttl is not None and time.monotonic() - read_at >= self._r_ttl

    def read_all(self) -> None:
        """Read every flag and segment from Redis (one MULTI/EXEC of HGETALLs) into the cache, if
        :meth:`needs_read_all` says so; an entry already cached keeps its own expiry (with caching
        disabled the cache becomes what Redis holds). Blocking, never raises, as :meth:`read`."""
        if self.needs_read_all():
            self._read_shared("*", None)

    def get(self, kind: VersionedDataKind, key: str, callback: Callable[[Any], Any] = _identity) -> Any:
        """The item (read from Redis first if not cached: blocking), or None if absent or deleted."""
        if kind.namespace in _PARSE and self.needs_read(key, kind):
            self._read_shared((kind.namespace, key), {kind.namespace: [key]})
        return super().get(kind, key, callback)

    def all(self, kind: VersionedDataKind, callback: Callable[[Any], Any] = _identity) -> Any:
        """Every non-deleted item (all read from Redis first when due: blocking)."""
        self.read_all()
        return super().all(kind, callback)

    def _read_shared(self, what: Any, want: Optional[Dict[str, List[str]]]) -> None:
        """Run one read of ``want`` (None: everything); callers asking for the same meanwhile wait for it."""
        with self._r_sync:
            if self._r_thread is None and not self._r_stopping:
                self.start()  # (it recovers from outages)
            running = self._r_reading.get(what)
            if running is None:
                mine = self._r_reading[what] = threading.Event()
        if running is not None:
            running.wait(self._r_pool.timeout or 5.0)
            return
        try:
            if want is None:
                self._read_everything()
            else:
                self._read(want, fresh=not self.caches_reads)
        except self._r_redis.RedisError as e:
            self._outage(e)
        except Exception:  # a bug must not break an evaluation
            log.exception("Unexpected error reading the Redis store")
        finally:
            with self._r_sync:
                if self._r_reading.get(what) is mine:
                    del self._r_reading[what]
            mine.set()

    def _read(self, want: Mapping[str, Iterable[str]], fresh: bool) -> None:
        """Read the keys ``want`` names, then, round by round, what the flags and segments read
        depend on (all of it when ``fresh``, else what the cache lacks); put it all in the cache."""
        with self._r_sync:
            start = self._r_gen
        rounds: List[Dict[str, Dict[str, tuple[Any, ...]]]] = []
        asked: Dict[str, set[Any]] = {ns: set() for ns in _NS}
        todo: Dict[str, Dict[str, None]] = {ns: dict.fromkeys(want.get(ns, ())) for ns in _NS}
        if fresh:  # what the cached items depend on now, in the same round trip
            for ns in _NS:
                for key in list(todo[ns]):
                    self._add_dependencies(ns, self._cache_of(ns).get(key), todo, asked, fresh)
        while any(todo.values()):
            pipe = self._r_client.pipeline(transaction=False)
            order = []
            for ns in _NS:
                keys = list(todo[ns])
                asked[ns].update(keys)
                for i in range(0, len(keys), _CHUNK):
                    pipe.hmget("%s:%s" % (self._r_prefix, ns), keys[i:i + _CHUNK])
                    order.append((ns, keys[i:i + _CHUNK]))
            got: Dict[str, Dict[str, Any]] = {ns: {} for ns in _NS}
            for (ns, keys), values in zip(order, pipe.execute()):
                got[ns].update(zip(keys, values))
            parsed = self._parse(got)
            rounds.append(parsed)
            todo = {ns: {} for ns in _NS}
            for ns in _NS:
                for key, (_, item, _) in parsed[ns].items():
                    self._add_dependencies(ns, item, todo, asked, fresh)
        self._apply(rounds[::-1], start)  # (what is depended on first)

    def _add_dependencies(self, ns: str, item: Any, todo: Dict[str, Dict[str, None]], asked: Dict[str, set[Any]],
                          fresh: bool) -> None:
        for dep_ns, dep in _dependencies(ns, item):
            if dep not in asked[dep_ns] and dep not in todo[dep_ns] and (fresh or dep not in self._cache_of(dep_ns)):
                todo[dep_ns][dep] = None

    def _read_everything(self) -> None:
        with self._r_sync:
            start = self._r_gen
            read_at = time.monotonic()
        pipe = self._r_client.pipeline(transaction=True)
        for ns in _NS:
            pipe.hgetall("%s:%s" % (self._r_prefix, ns))
        hashes = pipe.execute()
        got = {}
        for ns, fields in zip(_NS, hashes):
            got[ns] = {(f.decode() if isinstance(f, bytes) else f): v for f, v in fields.items()}
            if not self.caches_reads:  # the cache becomes what Redis holds: the rest is absent
                got[ns].update((key, None) for key in list(self._cache_of(ns)) if key not in got[ns])
        self._apply([self._parse(got, new_only=self.caches_reads)], start)
        with self._r_sync:
            self._r_all_read = read_at

    def _parse(self, got: Dict[str, Dict[str, Any]], new_only: bool = False) -> Dict[str, Dict[str, tuple[Any, ...]]]:
        """{ns: {key: (JSON bytes or None, the item or None, the cached item the bytes are of)}}:
        parses only JSON the cache does not hold (outside the lock: writers never wait for it)."""
        out: Dict[str, Dict[str, tuple[Any, ...]]] = {}
        for ns in _NS:
            items, seen, absent = self._cache_of(ns), self._r_seen[ns], self._r_absent
            parsed = out[ns] = {}
            for key, value in got.get(ns, {}).items():
                if isinstance(value, str):
                    value = value.encode()
                cached = items.get(key)
                if value is None:
                    parsed[key] = (None, None, None)
                elif cached is not None and (ns, key) not in absent and (new_only or seen.get(key) == value):
                    if not new_only:
                        parsed[key] = (value, cached, cached)
                else:
                    parsed[key] = (value, _parse_item(ns, key, value), None)
        return out

    def _apply(self, rounds: List[Dict[str, Dict[str, tuple[Any, ...]]]], start: int) -> None:
        """Put what was read into the cache (segments first, then flags, dependencies before what
        depends on them), except over writes of ours newer than the read; notify listeners."""
        now = time.monotonic()
        changed = set()
        with self._r_sync:
            if self._r_init_gen > start or self._r_pending_init is not None:
                return  # a data set of ours replaced everything since (Redis gets it next)
            for parsed in rounds:
                for ns in _NS:
                    items = self._cache_of(ns)
                    seen = self._r_seen[ns]
                    for key, (value, item, same_as) in parsed[ns].items():
                        k = (ns, key)
                        if self._r_key_gen.get(k, 0) > start or k in self._r_pending:
                            continue  # our own write is newer: never undo it
                        current = items.get(key)
                        if k in self._r_absent:
                            current = None
                        if value is None:
                            if current is not None or key not in items:
                                items[key] = _absent(ns, key)
                                self._r_absent[k] = None
                                seen.pop(key, None)
                                if current is not None and not current.deleted:
                                    changed.add(k)
                        elif same_as is None or current is not same_as:
                            if same_as is not None:  # the entry changed meanwhile: parse (rare)
                                item = _parse_item(ns, key, value)
                            items[key] = item
                            seen[key] = value
                            self._r_absent.pop(k, None)
                            if _differs(current, item):
                                changed.add(k)
                        self._stamp(k, now)
            if any(ns == _SEGMENTS for ns, _ in changed):
                self.segments_generation += 1
            self._r_sync.notify_all()  # (the worker's next expiry may be sooner now)
            while len(self._r_absent) > self._r_capacity:  # forget the oldest "not in Redis"
                ns, key = self._r_absent.popitem(last=False)[0]
                items = self._cache_of(ns)
                if items.get(key) is not None and items[key].deleted:
                    del items[key]
                self._r_stamp.pop((ns, key), None)
        if changed and self._listening():
            self._notify(changed)

    def _cache_of(self, ns: str) -> Dict[str, Any]:
        return self._flags if ns == _FLAGS else self._segments

    def _stamp_init(self) -> None:
        """(Worker.) Stamp every entry of our last data set with the time it replaced the cache
        (done here, not on the data source's thread: thousands of entries take milliseconds)."""
        with self._r_sync:
            when = self._r_stamp_init
            if when is None:
                return
            keys = [(_SEGMENTS, k) for k in self._segments] + [(_FLAGS, k) for k in self._flags]
        stamps = OrderedDict.fromkeys(keys, when)
        with self._r_sync:
            if self._r_stamp_init != when:
                return  # (a newer data set meanwhile: its turn next)
            for key, stamp in self._r_stamp.items():  # entries read or written since, in order
                stamps[key] = stamp
                stamps.move_to_end(key)
            self._r_stamp = stamps
            self._r_stamp_init = None

    def _stamp(self, key: _Key, now: float) -> None:
        """(Under the lock.) The entry ``key`` was read or written at ``now`` (expiry order kept)."""
        stamps = self._r_stamp
        stamps[key] = now
        stamps.move_to_end(key)

    # -- status -------------------------------------------------------------------------------

    def is_monitoring_enabled(self) -> bool:
        return True

    def is_available(self) -> bool:
        """Whether the last Redis operation succeeded (no I/O here: it never blocks)."""
        return self._r_available

    def describe_configuration(self, config: Any) -> str:
        return "Redis"

    def _attach_status_sink(self, sink: DataStoreUpdateSink) -> None:
        self._r_sinks.append(sink)
        sink.update_status(DataStoreStatus(self._r_available, self._r_stale))

    def _set_status(self, available: bool, stale: bool) -> None:
        with self._r_sync:
            if (available, stale) == (self._r_available, self._r_stale):
                return
            self._r_available, self._r_stale = available, stale
            self._r_sync.notify_all()  # (an outage seen by a reader: the worker starts retrying)
        status = DataStoreStatus(available, stale)
        for sink in list(self._r_sinks):
            sink.update_status(status)

    def _outage(self, error: Optional[Exception]) -> None:
        if self._r_available:
            log.warning("Redis is unavailable (%s); serving the last known flag data, writes are queued "
                        "until it recovers", error)
            self._set_status(False, False)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread (idempotent; writes, reads and the clients start it)."""
        with self._r_sync:
            if self._r_thread is not None and self._r_thread.is_alive():
                return
            self._r_stopping = False
            self._r_thread = threading.Thread(target=self._run, name="ldfast-redis-store", daemon=True)
            self._r_pid = os.getpid()
            _live_stores.add(self)
            self._r_thread.start()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the worker, waiting up to ``timeout`` s (0: do not wait); queued writes not yet in
        Redis are kept and go out if the store is started again. The cache keeps serving."""
        with self._r_sync:
            thread, self._r_thread = self._r_thread, None
            self._r_stopping = True
            self._r_sync.notify_all()
        _live_stores.discard(self)
        if thread is None:
            self._r_pool.disconnect()
        elif timeout > 0 and thread is not threading.current_thread():
            thread.join(timeout)  # the worker disconnects the pool as it exits
            if thread.is_alive():
                log.warning("The Redis store's worker did not stop within %s s; left behind (daemon)", timeout)

    def _restart_after_fork(self) -> None:
        """In a forked child (called by the fork hook and by the client's own fork handling, e.g.
        uWSGI's post-fork hook): restart the worker, once per process."""
        if getattr(self, "_r_pid", None) == os.getpid():
            return
        self._r_pid = os.getpid()
        self._r_sync = threading.Condition(threading.RLock())  # a lock held at fork time stays held
        self._r_writing = False  # the parent's worker does not exist here
        self._r_reading = {}  # nor do its readers
        self._r_started = threading.Event()
        self._r_pool.reset()
        if self._r_thread is not None and not self._r_stopping:
            self._r_thread = None
            self.start()

    def wait_started(self, timeout: float) -> bool:
        """Wait (bounded) until the worker has done its first pass (looked for ``$inited``, its lazy
        imports included), so that it is idle when the application goes on, e.g. when a pre-forking
        server forks (a thread running Python at fork time can leave the child hung)."""
        self.start()
        return self._r_started.wait(timeout)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued write is in Redis; False on timeout (e.g. during an outage)."""
        self.start()
        deadline = time.monotonic() + timeout
        with self._r_sync:
            while self._r_pending_init is not None or self._r_pending or self._r_writing:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._r_sync.wait(left)
        return True

    def refresh(self, timeout: float = 5.0) -> bool:
        """Read every cached entry (and ``$inited``) from Redis again now, whatever the caching
        mode (the next all_flags_state reads every item), and wait for it; False on timeout or outage."""
        self.start()
        deadline = time.monotonic() + timeout
        with self._r_sync:
            self._r_all_read = None
            self._r_refresh_requested += 1
            target = self._r_refresh_requested
            self._r_sync.notify_all()
            while self._r_refresh_done < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._r_sync.wait(left)
        return True

    # -- the worker ---------------------------------------------------------------------------

    def _next_due(self) -> Optional[float]:
        """(Under the lock.) When the oldest entry expires or ``$inited`` is due a look (None: never)."""
        due = self._r_inited_due if not self._r_inited else None
        if self._r_ttl is not None and self._r_stamp:
            expires = next(iter(self._r_stamp.values())) + self._r_ttl
            due = expires if due is None else min(due, expires)
        return due

    def _run(self) -> None:
        retry_at = 0.0
        while True:
            with self._r_sync:
                while True:
                    if self._r_stopping:
                        break
                    now = time.monotonic()
                    due = None
                    if not self._r_available:
                        due = retry_at
                    elif self._r_pending_init is not None or self._r_pending:
                        due = max(now, retry_at)
                    elif self._r_refresh_requested > self._r_refresh_done:
                        due = now
                    else:
                        due = self._next_due()
                    if due is not None and due <= now:
                        break
                    self._r_sync.wait(None if due is None else due - now)
                if self._r_stopping:
                    break
            try:
                if not self._r_available:
                    self._recover()
                self._stamp_init()
                if not self._flush_writes():
                    retry_at = time.monotonic() + RETRY_INTERVAL / 5
                    continue
                with self._r_sync:
                    requested = self._r_refresh_requested
                everything = requested > self._r_refresh_done
                self._refresh(everything)
                if everything or (not self._r_inited and self._r_inited_due is not None
                                  and self._r_inited_due <= time.monotonic()):
                    self._check_inited()
                with self._r_sync:
                    if everything:
                        self._r_refresh_done = max(self._r_refresh_done, requested)
                        self._r_sync.notify_all()
                    idle = self._r_pending_init is None and not self._r_pending
                if self._r_stale and idle:
                    self._set_status(True, False)
            except self._r_redis.RedisError as e:
                retry_at = time.monotonic() + RETRY_INTERVAL
                self._worker_outage(e)
            except Exception:  # a bug must not kill the worker silently
                log.exception("Unexpected error in the Redis store's worker")
                retry_at = time.monotonic() + RETRY_INTERVAL
                self._worker_outage(None)
            self._r_started.set()
        self._r_started.set()
        self._r_pool.disconnect()

    def _worker_outage(self, error: Optional[Exception]) -> None:
        with self._r_sync:
            self._r_writing = False
            self._r_sync.notify_all()
        self._outage(error)

    def _recover(self) -> None:
        self._r_client.ping()
        log.warning("Redis is available again; re-syncing")
        exists = self._r_client.exists(self._r_inited_key)
        with self._r_sync:
            if not exists and self._r_wrote_init and self._r_pending_init is None:
                log.warning("Redis has lost its data ($inited is missing); writing all flag data again")
                self._r_pending_init = (dict(self._segments), dict(self._flags))
                self._r_pending.clear()
                self._r_gen += 1
                self._r_init_gen = self._r_gen
        self._set_status(True, True)

    def _refresh(self, everything: bool) -> None:
        """Read the expired entries again (every entry, if ``everything``)."""
        with self._r_sync:
            if self._r_ttl is None and not everything:
                return
            now = time.monotonic()
            limit = now if everything else now - self._r_ttl + min(0.05, self._r_ttl / 20)  # type: ignore[operator]
            want: Dict[str, List[str]] = {ns: [] for ns in _NS}
            for (ns, key), stamp in self._r_stamp.items():
                if stamp > limit:
                    break
                want[ns].append(key)
        if not want[_FLAGS] and not want[_SEGMENTS]:
            return
        self._read(want, fresh=False)
        with self._r_sync:  # an entry the read skipped (a write of ours) is not due again at once
            for ns in _NS:
                for key in want[ns]:
                    due = self._r_stamp.get((ns, key))
                    if due is not None and due <= limit:
                        self._stamp((ns, key), now)

    def _check_inited(self) -> None:
        found = self._r_client.exists(self._r_inited_key)
        with self._r_sync:
            self._r_inited = self._r_inited or bool(found)
            self._r_inited_due = None if self._r_ttl is None else time.monotonic() + self._r_ttl

    def _flush_writes(self) -> bool:
        """Write queued writes in order; False if one lost too many WATCH races (retry soon)."""
        while True:
            with self._r_sync:
                init = self._r_pending_init
                if init is None:
                    if not self._r_pending:
                        self._r_writing = False
                        self._r_sync.notify_all()
                        return True
                    key, item = next(iter(self._r_pending.items()))
                self._r_writing = True
            if init is not None:
                seen = self._write_init(*init)
                with self._r_sync:
                    if self._r_pending_init is init:
                        self._r_pending_init = None
                        self._r_seen = seen
                        self._r_gen += 1
                        self._r_init_gen = self._r_gen
                continue
            try:
                text = self._write_item(key[0], key[1], item)
            except _Contention:
                log.warning("Could not update %r in Redis after %d attempts (concurrent writers); will retry",
                            key[1], _MAX_UPSERT_ATTEMPTS)
                with self._r_sync:
                    self._r_writing = False
                return False
            with self._r_sync:
                if self._r_pending.get(key) is item:
                    del self._r_pending[key]
                    if text is not None:
                        self._r_seen[key[0]][key[1]] = text
                    self._r_gen += 1  # a read begun before this write must not undo it
                    self._r_key_gen[key] = self._r_gen

    def _write_init(self, segment_items: Dict[str, Any], flag_items: Dict[str, Any]) -> Dict[str, Dict[str, bytes]]:
        # No dependency sort (the official SDK's store wrapper sorts for every store kind): a Redis
        # hash keeps no order, the MULTI writes the data set at once, and readers order what they load.
        segments = _writable(segment_items)
        flags = _writable(flag_items)
        pipe = self._r_client.pipeline(transaction=True)
        seen: Dict[str, Dict[str, bytes]] = {}
        for ns, items in zip(_NS, (segments, flags)):
            base = "%s:%s" % (self._r_prefix, ns)
            pipe.delete(base)
            encoded = seen[ns] = {}
            for key, raw in items.items():
                text = _dumps(ns, key, raw)
                if text is None:
                    continue
                pipe.hset(base, key, text)
                encoded[key] = text.encode()
        pipe.set(self._r_inited_key, self._r_inited_key)
        pipe.execute()
        log.info("Initialized the Redis store with %d items", len(segments) + len(flags))
        return seen

    def _write_item(self, ns: str, key: str, item: dict[str, Any]) -> Optional[bytes]:
        """Write one item unless Redis has it at the same or a newer version; its JSON if written."""
        base = "%s:%s" % (self._r_prefix, ns)
        text = _dumps(ns, key, item)
        if text is None:
            return None
        version = item.get("version")
        for _ in range(_MAX_UPSERT_ATTEMPTS):
            with self._r_client.pipeline(transaction=True) as pipe:
                pipe.watch(base)
                old = pipe.hget(base, key)
                old_version = _version_of(old)
                if old_version is not None and isinstance(version, int) and old_version >= version:
                    pipe.unwatch()
                    log.debug("Redis already has %s %r at version %s >= %s", ns, key, old_version, version)
                    return None
                pipe.multi()
                pipe.hset(base, key, text)
                try:
                    pipe.execute()
                except self._r_redis.WatchError:
                    continue
                return text.encode()
        raise _Contention()


def _absent(ns: str, key: str) -> Any:
    """The cache entry saying "Redis does not have ``key``": a deleted item of version -1."""
    return _PARSE[ns]({"key": key, "version": _ABSENT_VERSION, "deleted": True})


def _is_absent(item: Union[Flag, Segment]) -> bool:
    return item.deleted and item.version == _ABSENT_VERSION


def _differs(old: Any, new: Any) -> bool:
    """Whether replacing ``old`` (None: nothing) by ``new`` changes the item for listeners."""
    if old is None or old.deleted:
        return not new.deleted
    return new.deleted or old.version != new.version or (old.error is None) != (new.error is None)


def _dependencies(ns: str, item: Any) -> List[_Key]:
    """The (namespace, key)s an item's evaluation reads: a flag's prerequisites and segments, a
    segment's segments."""
    item = _ready(item)
    if item is None or item.deleted or item.error is not None:
        return []
    deps = [(_SEGMENTS, k) for k in item.segment_keys]
    if ns == _FLAGS:
        deps += [(_FLAGS, p.key) for p in item.prerequisites if isinstance(p.key, str)]
    return deps


def _parse_item(ns: str, key: str, value: bytes) -> Any:
    """An item from the JSON Redis holds for it (kept as text); unparseable JSON: malformed."""
    try:
        text = value.decode()
        raw = json.loads(text)
    except ValueError:  # (UnicodeDecodeError too)
        raw = text = None
    if not isinstance(raw, dict):
        log.error("Redis holds unparseable JSON for %s %r; it evaluates as malformed", ns, key)
        return _PARSE[ns]({"key": key, _UNPARSEABLE: True})
    return _PARSE[ns](raw, text)


def _dumps(ns: str, key: str, raw: Any) -> Optional[str]:
    try:
        return json.dumps(raw)  # default separators, exactly as the official SDK writes
    except (TypeError, ValueError) as e:
        log.error("Cannot write %s %r to Redis, it is not JSON-serializable: %s", ns, key, e)
        return None


def _writable(items: Mapping[str, Any]) -> Dict[str, Any]:
    """The raw items to write (each decoded once; items that are not data are left out: what
    Redis held as unparseable JSON, and "Redis does not have it")."""
    out: Dict[str, Any] = {}
    for key, item in items.items():
        if _is_absent(item):
            continue
        raw = item.raw
        if not (isinstance(raw, dict) and raw.get(_UNPARSEABLE) is True):
            out[key] = raw
    return out


def _version_of(value: Any) -> Optional[int]:
    if value is None:
        return None
    try:
        version = json.loads(value).get("version")
    except (ValueError, AttributeError):
        return None  # unparseable: overwrite it
    return version if isinstance(version, int) else None


class Redis:
    """Factory methods for Redis integrations, as ``ldclient.integrations.Redis``."""

    DEFAULT_URL = DEFAULT_URL
    DEFAULT_PREFIX = DEFAULT_PREFIX
    DEFAULT_MAX_CONNECTIONS = DEFAULT_MAX_CONNECTIONS

    @staticmethod
    def new_feature_store(url: str = DEFAULT_URL, prefix: str = DEFAULT_PREFIX,
                          max_connections: int = DEFAULT_MAX_CONNECTIONS,
                          caching: CacheConfig = CacheConfig.default(),
                          redis_opts: Dict[str, Any] = {}) -> RedisFeatureStore:
        """A Redis feature store for ``Config(feature_store=...)`` (and ``use_ldd=True`` for daemon mode).

        :param url: the Redis URL (``redis://``, ``rediss://``, ``unix://``)
        :param prefix: the key prefix shared with the other SDKs and the Relay Proxy
        :param max_connections: the bound of the connection pool (unlike the official SDK, used)
        :param caching: ``CacheConfig``: how long a cached item is served before it is read from
            Redis again (``expiration`` s; forever when infinite; not cached when disabled);
            ``capacity`` bounds the keys cached as "not in Redis"
        :param redis_opts: extra keyword arguments for redis-py's ``ConnectionPool.from_url``
        """
        return RedisFeatureStore(url=url, prefix=prefix, max_connections=max_connections, caching=caching,
                                 redis_opts=dict(redis_opts))

    @staticmethod
    def new_big_segment_store(url: str = DEFAULT_URL, prefix: str = DEFAULT_PREFIX,
                              max_connections: int = DEFAULT_MAX_CONNECTIONS, redis_opts: Dict[str, Any] = {}) -> Any:
        """A Redis Big Segment store for ``BigSegmentsConfig(store=...)``."""
        from ldfast.integrations._redis_big_segments import RedisBigSegmentStore

        return RedisBigSegmentStore(url=url, prefix=prefix, max_connections=max_connections, redis_opts=redis_opts)


__all__ = ("Redis", "RedisFeatureStore")
