"""The Redis persistent feature store: LaunchDarkly's Redis layout, read through a local mirror.

``Redis.new_feature_store(...)`` returns a ``RedisFeatureStore``: an ``InMemoryFeatureStore`` (the
LOCAL MIRROR the evaluator reads, so evaluation never waits on Redis) plus one worker thread that
talks to Redis with redis-py over a bounded ``BlockingConnectionPool``:

- Writes from a data source (``init``/``init_preprocessed``/``upsert``/``delete``, on whatever
  thread calls them, usually a reactor) update the mirror at once and are queued; the worker
  writes them to Redis in order, with the official SDK's exact layout and semantics (PROTOCOL §10):
  ``init`` is one MULTI/EXEC pipeline (segments then flags, prerequisites first; DEL, HSET each,
  SET ``$inited``); an upsert is WATCH/HGET/version check/MULTI HSET EXEC, retried on WatchError
  up to 10 times; deletes are upserts of tombstones, which stay in the hash. A newer queued write
  for a key supersedes an older one still queued. During an outage writes stay queued and go out
  when Redis answers again; if Redis came back without ``$inited`` (it lost its data) the whole
  mirror is written again as an ``init``.
- A refresher reads both hashes and ``$inited`` (one MULTI/EXEC) every ``caching.expiration``
  seconds (1 s with caching disabled; once, at start, with ``expiration=float("inf")``), parses
  only items whose JSON changed, and applies them to the mirror: never an older version over a newer
  one, never over a write of ours still queued. Flag change listeners fire for what it applies.
  In a read-only store (daemon mode: nothing ever called ``init``), items gone from Redis are
  dropped from the mirror too, and items are read whether or not ``$inited`` is set (as the
  official SDK reads them); ``initialized`` becomes true once ``$inited`` is seen. Unparseable JSON becomes that one item, malformed (MALFORMED_FLAG).
- Status: an error from Redis makes the store unavailable (one warning per outage; the worker
  retries every 0.5 s); when Redis answers again the status is available+stale until queued writes
  are flushed and the data re-read, then available.

Why a thread and redis-py rather than a Twisted Redis protocol: the sync ``LDClient`` in daemon
mode has no reactor at all, redis-py is what the official SDK's ``redis_opts`` are passed to (TLS,
auth, timeouts work the same), and since nothing on the hot path reads Redis, a single worker that
serialises writes (keeping their order) is all the throughput needed. Nothing here runs redis-py on
a reactor thread. Sockets get 5 s timeouts unless ``redis_opts`` says otherwise, so a hung server
cannot hold the worker forever; ``close()`` is bounded regardless.
"""
from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
import weakref
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ldfast.feature_store import CacheConfig, InMemoryFeatureStore
from ldfast.interfaces import DataStoreStatus, DataStoreUpdateSink
from ldfast.model import parse_flag, parse_segment
from ldfast.versioned_data_kind import FEATURES, SEGMENTS, VersionedDataKind

log = logging.getLogger(__name__)

DEFAULT_URL = "redis://localhost:6379/0"
DEFAULT_PREFIX = "launchdarkly"
DEFAULT_MAX_CONNECTIONS = 16
#: Refresh interval (s) when caching is disabled: the mirror is still what evaluation reads.
UNCACHED_REFRESH_INTERVAL = 1.0
#: How often (s) the worker retries Redis during an outage (the official SDK polls every 0.5 s).
RETRY_INTERVAL = 0.5
_MAX_UPSERT_ATTEMPTS = 10
_UNPARSEABLE = "_ldfastUnparseable"  # marks a mirror item made from JSON that did not parse
_NS = (SEGMENTS.namespace, FEATURES.namespace)  # init order: segments, then flags


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
    """A feature store kept in Redis, evaluated from a local mirror; see the module docstring."""

    accepts_pending = False  # (its writes to Redis want parsed items)

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
        self._r_interval: Optional[float] = (None if math.isinf(expiration)
                                           else expiration if expiration > 0 else UNCACHED_REFRESH_INTERVAL)
        self._r_sync = threading.Condition(threading.RLock())
        # all below guarded by self._r_sync
        self._r_pending_init: Optional[Tuple[Dict[str, Any], Dict[str, Any]]] = None
        self._r_pending: Dict[Tuple[str, str], dict] = {}
        self._r_writing = False
        self._r_gen = 0
        self._r_init_gen = 0
        self._r_key_gen: Dict[Tuple[str, str], int] = {}
        self._r_wrote_init = False  # a data source gave us a full data set: a writer, not read-only
        self._r_redis_inited = False
        self._r_refresh_requested = 0
        self._r_refresh_done = 0
        self._r_stopping = False
        self._r_thread: Optional[threading.Thread] = None
        self._r_init_listeners: List[Callable[[], Any]] = []
        # worker thread only
        self._r_seen: Dict[str, Dict[str, bytes]] = {ns: {} for ns in _NS}
        self._r_loaded = False
        # status
        self._r_available = True
        self._r_stale = False
        self._r_sinks: List[DataStoreUpdateSink] = []
        log.info("Redis feature store for %s, prefix %r", _redact(url), self._r_prefix)

    # -- the FeatureStore write interface: mirror now, Redis later ----------------------------

    def init(self, all_data: Mapping[VersionedDataKind, Mapping[str, dict]]) -> None:
        with self._r_sync:
            super().init(all_data)
            self._queue_full_write()
        self.start()

    def init_preprocessed(self, flags: Dict[str, Any], segments: Dict[str, Any], ordered: bool = False) -> None:
        with self._r_sync:
            super().init_preprocessed(flags, segments, ordered)
            self._queue_full_write()
        self.start()

    def upsert(self, kind: VersionedDataKind, item: dict) -> bool:
        with self._r_sync:
            stored = super().upsert(kind, item)
            if stored:
                key = (kind.namespace, item.get("key"))
                self._r_gen += 1
                self._r_key_gen[key] = self._r_gen
                self._r_pending[key] = item
                self._r_sync.notify_all()
        if stored:
            self.start()
        return stored

    def delete(self, kind: VersionedDataKind, key: str, version: int) -> bool:
        return self.upsert(kind, {"key": key, "version": version, "deleted": True})

    def _queue_full_write(self) -> None:
        """(Under the lock.) Queue the whole mirror as one Redis init; it supersedes queued writes."""
        self._r_pending_init = (dict(self._segments), dict(self._flags))  # C-speed copies; the rest in the worker
        self._r_pending.clear()
        self._r_gen += 1
        self._r_init_gen = self._r_gen
        self._r_wrote_init = True
        self._r_redis_inited = True
        self._r_sync.notify_all()
        listeners, self._r_init_listeners = self._r_init_listeners, []
        for fn in listeners:
            _call(fn)

    @property
    def initialized(self) -> bool:
        """True once ``$inited`` was seen in Redis or a data source gave a full data set (sticky)."""
        return self._r_redis_inited

    def _when_initialized(self, fn: Callable[[], Any]) -> None:
        """Call ``fn()`` (on the thread that sees it) once the store is initialized."""
        with self._r_sync:
            if not self._r_redis_inited:
                self._r_init_listeners.append(fn)
                return
        _call(fn)

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
        if (available, stale) == (self._r_available, self._r_stale):
            return
        self._r_available, self._r_stale = available, stale
        status = DataStoreStatus(available, stale)
        for sink in list(self._r_sinks):
            sink.update_status(status)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread (idempotent; writes and the clients start it)."""
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
        Redis are kept and go out if the store is started again."""
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
        self._r_pool.reset()
        if self._r_thread is not None and not self._r_stopping:
            self._r_thread = None
            self.start()

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
        """Re-read Redis into the mirror now and wait for it; False on timeout or outage."""
        self.start()
        deadline = time.monotonic() + timeout
        with self._r_sync:
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

    def _run(self) -> None:
        next_refresh: Optional[float] = time.monotonic()  # first load at once
        retry_at = 0.0
        while True:
            with self._r_sync:
                while True:
                    if self._r_stopping:
                        break
                    now = time.monotonic()
                    if not self._r_available:
                        wait = retry_at - now
                    elif self._r_pending_init is not None or self._r_pending:
                        wait = 0.0 if now >= retry_at else retry_at - now
                    elif self._r_refresh_requested > self._r_refresh_done:
                        wait = 0.0
                    elif next_refresh is not None:
                        wait = next_refresh - now
                    else:
                        wait = None
                    if wait is not None and wait <= 0:
                        break
                    self._r_sync.wait(wait)
                if self._r_stopping:
                    break
            try:
                if not self._r_available:
                    self._recover()
                if not self._flush_writes():
                    retry_at = time.monotonic() + RETRY_INTERVAL / 5
                    continue
                now = time.monotonic()
                if (next_refresh is not None and now >= next_refresh) or self._r_refresh_requested > self._r_refresh_done:
                    if self._refresh():
                        next_refresh = None if self._r_interval is None else time.monotonic() + self._r_interval
                if self._r_stale:
                    with self._r_sync:
                        idle = self._r_pending_init is None and not self._r_pending
                    if idle:
                        self._set_status(True, False)
            except self._r_redis.RedisError as e:
                retry_at = time.monotonic() + RETRY_INTERVAL
                self._outage(e)
            except Exception:  # a bug must not kill the worker silently
                log.exception("Unexpected error in the Redis store's worker")
                retry_at = time.monotonic() + RETRY_INTERVAL
                self._outage(None)
        self._r_pool.disconnect()

    def _outage(self, error: Optional[Exception]) -> None:
        with self._r_sync:
            self._r_writing = False
            self._r_sync.notify_all()
        if self._r_available:
            log.warning("Redis is unavailable (%s); serving the last known flag data, writes are queued "
                        "until it recovers", error)
            self._set_status(False, False)

    def _recover(self) -> None:
        self._r_client.ping()
        log.warning("Redis is available again; re-syncing")
        exists = self._r_client.exists(self._r_inited_key)
        with self._r_sync:
            if not exists and self._r_wrote_init and self._r_pending_init is None:
                log.warning("Redis has lost its data ($inited is missing); writing all flag data again")
                self._queue_full_write()
            if self._r_interval is not None or not self._r_loaded:
                self._r_refresh_requested += 1  # infinite cache: never re-read once loaded
        self._set_status(True, True)

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
                self._write_init(*init)
                with self._r_sync:
                    if self._r_pending_init is init:
                        self._r_pending_init = None
                continue
            try:
                self._write_item(key[0], key[1], item)
            except _Contention:
                log.warning("Could not update %r in Redis after %d attempts (concurrent writers); will retry",
                            key[1], _MAX_UPSERT_ATTEMPTS)
                with self._r_sync:
                    self._r_writing = False
                return False
            with self._r_sync:
                if self._r_pending.get(key) is item:
                    del self._r_pending[key]

    def _write_init(self, segment_items: Dict[str, Any], flag_items: Dict[str, Any]) -> None:
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
        self._r_seen = seen
        log.info("Initialized the Redis store with %d items", len(segments) + len(flags))

    def _write_item(self, ns: str, key: str, item: dict) -> bool:
        base = "%s:%s" % (self._r_prefix, ns)
        text = _dumps(ns, key, item)
        if text is None:
            return False
        version = item.get("version")
        for _ in range(_MAX_UPSERT_ATTEMPTS):
            with self._r_client.pipeline(transaction=True) as pipe:
                pipe.watch(base)
                old = pipe.hget(base, key)
                old_version = _version_of(old)
                if old_version is not None and isinstance(version, int) and old_version >= version:
                    pipe.unwatch()
                    log.debug("Redis already has %s %r at version %s >= %s", ns, key, old_version, version)
                    return False
                pipe.multi()
                pipe.hset(base, key, text)
                try:
                    pipe.execute()
                except self._r_redis.WatchError:
                    continue
                self._r_seen[ns][key] = text.encode()
                return True
        raise _Contention()

    def _refresh(self) -> bool:
        """Read Redis into the mirror; True if the result was applied (or Redis is not initialized)."""
        with self._r_sync:
            start_gen = self._r_gen
            requested = self._r_refresh_requested
        pipe = self._r_client.pipeline(transaction=True)
        for ns in _NS:
            pipe.hgetall("%s:%s" % (self._r_prefix, ns))
        pipe.exists(self._r_inited_key)
        segments, flags, inited = pipe.execute()
        done = True
        with self._r_sync:
            lost = not inited and self._r_wrote_init
            if lost and self._r_pending_init is None and self._r_init_gen <= start_gen:
                log.warning("Redis has lost its data ($inited is missing); writing all flag data again")
                self._queue_full_write()
        if not lost:  # a reader applies what it finds, $inited or not (as the official SDK reads)
            done = self._apply({SEGMENTS.namespace: segments, FEATURES.namespace: flags}, start_gen, bool(inited))
        with self._r_sync:
            if done:
                self._r_refresh_done = max(self._r_refresh_done, requested)
            self._r_sync.notify_all()
        return done

    def _apply(self, hashes: Dict[str, Dict[Any, Any]], start_gen: int, inited: bool) -> bool:
        """Apply what changed in Redis since the last read to the mirror; False if it must be re-read."""
        kinds = ((SEGMENTS, parse_segment), (FEATURES, parse_flag))
        changed: Dict[str, Dict[str, Tuple[bytes, dict, Any]]] = {}
        present: Dict[str, set] = {}
        for kind, parse in kinds:  # parse outside the lock: writers on a reactor never wait for it
            ns = kind.namespace
            seen = self._r_seen[ns]
            out = changed[ns] = {}
            keys = present[ns] = set()
            for field, value in hashes[ns].items():
                key = field.decode() if isinstance(field, bytes) else field
                value = value.encode() if isinstance(value, str) else value
                keys.add(key)
                if seen.get(key) != value:
                    raw = _loads(ns, key, value)
                    out[key] = (value, raw, parse(raw))
        with self._r_sync:
            if self._r_init_gen > start_gen:
                return False  # a data source replaced everything meanwhile; read again later
            read_only = not self._r_wrote_init
            upserts: List[Tuple[VersionedDataKind, dict]] = []
            rebuild = read_only and not self._r_loaded
            updates: Dict[str, Dict[str, Any]] = {}
            for kind, _ in kinds:
                ns = kind.namespace
                mirror = self._flags if kind is FEATURES else self._segments
                items = updates[ns] = {}
                for key, (value, raw, parsed) in changed[ns].items():
                    if self._r_key_gen.get((ns, key), 0) > start_gen or (ns, key) in self._r_pending:
                        # our own newer write: never revert it (and read this value again next
                        # time: Redis may keep it, if it is newer than what we wrote)
                        continue
                    self._r_seen[ns][key] = value
                    version = raw.get("version")
                    current = mirror.get(key)
                    if _unparseable(raw) or not isinstance(version, int):
                        rebuild = True  # malformed: replaces whatever version the mirror had
                    elif current is not None and version <= current.version:
                        continue  # never an older version over a newer one
                    else:
                        upserts.append((kind, raw))
                    items[key] = parsed
                if read_only:  # daemon mode: an item gone from Redis is gone
                    for key in [k for k in mirror if k not in present[ns]]:
                        if self._r_key_gen.get((ns, key), 0) <= start_gen and (ns, key) not in self._r_pending:
                            rebuild = True
                            self._r_seen[ns].pop(key, None)
                            items[key] = None
            if rebuild or len(upserts) > 8:
                merged = []
                for kind, _ in kinds:
                    merged_kind = dict(self._flags if kind is FEATURES else self._segments)
                    for key, obj in updates[kind.namespace].items():
                        if obj is None:
                            merged_kind.pop(key, None)
                        else:
                            merged_kind[key] = obj
                    merged.append(merged_kind)
                InMemoryFeatureStore.init_preprocessed(self, merged[1], merged[0])
            else:
                for kind, raw in upserts:
                    InMemoryFeatureStore.upsert(self, kind, raw)
            self._r_loaded = True
            newly = inited and not self._r_redis_inited
            self._r_redis_inited = self._r_redis_inited or inited
            listeners, self._r_init_listeners = (self._r_init_listeners, []) if newly else ([], self._r_init_listeners)
        for fn in listeners:
            _call(fn)
        return True


def _call(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception:
        log.exception("Error in a Redis store listener")


def _dumps(ns: str, key: str, raw: Any) -> Optional[str]:
    try:
        return json.dumps(raw)  # default separators, exactly as the official SDK writes
    except (TypeError, ValueError) as e:
        log.error("Cannot write %s %r to Redis, it is not JSON-serializable: %s", ns, key, e)
        return None


def _writable(items: Mapping[str, Any]) -> Dict[str, Any]:
    """The raw items to write (each decoded once; items the mirror could not parse are left out)."""
    out: Dict[str, Any] = {}
    for key, item in items.items():
        raw = item.raw
        if not _unparseable(raw):
            out[key] = raw
    return out


def _unparseable(raw: Any) -> bool:
    return isinstance(raw, dict) and raw.get(_UNPARSEABLE) is True


def _loads(ns: str, key: str, value: bytes) -> dict:
    try:
        raw = json.loads(value)
    except ValueError:
        raw = None
    if not isinstance(raw, dict):
        log.error("Redis holds unparseable JSON for %s %r; it evaluates as malformed", ns, key)
        return {"key": key, _UNPARSEABLE: True}
    return raw


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
        :param caching: ``CacheConfig``: how often the local mirror is refreshed from Redis
            (``expiration`` s; 1 s when disabled; never after the first load when infinite)
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
