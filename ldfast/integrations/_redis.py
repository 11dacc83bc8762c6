"""The Redis persistent feature store: LaunchDarkly's Redis layout on ``PersistentFeatureStore``.

``Redis.new_feature_store(...)`` returns a ``RedisFeatureStore``: the read-through cache, worker,
daemon mode and outage handling of ``ldfast.integrations._persistent`` over Redis, with redis-py
over a bounded ``BlockingConnectionPool``. The layout is the official SDK's and the Relay Proxy's:
a hash ``{prefix}:features`` and one ``{prefix}:segments`` (field: key, value: the item's JSON) and
a string ``{prefix}:$inited``. ``init`` is one MULTI/EXEC pipeline (segments then flags; DEL, HSET
each, SET ``$inited``); an upsert is WATCH/HGET/version check/MULTI HSET EXEC, retried on
WatchError up to 10 times; deletes are upserts of tombstones, which stay in the hash. Reads are
pipelined HMGETs (1,000 fields each); every item at once is a MULTI/EXEC of HGETALLs.

Sockets get 5 s timeouts unless ``redis_opts`` says otherwise; ``close()`` is bounded regardless.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ldfast.feature_store import CacheConfig
from ldfast.integrations._persistent import MAX_UPSERT_ATTEMPTS, Contention, PersistentFeatureStore
from ldfast.integrations._persistent_cache import _NS, Fetched, dumps_item, version_of, writable_items

log = logging.getLogger(__name__)

DEFAULT_URL = "redis://localhost:6379/0"
DEFAULT_PREFIX = "launchdarkly"
DEFAULT_MAX_CONNECTIONS = 16
_CHUNK = 1000  # fields per HMGET


def _redact(url: str) -> str:
    """The URL without its password, for logs."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    return "%s%s%s:xxxx@%s" % (scheme, sep, creds.split(":", 1)[0], host)


class RedisFeatureStore(PersistentFeatureStore):
    """A feature store kept in Redis, evaluated from a read-through cache; see the module docstring."""

    backend_name = "Redis"

    def __init__(self, url: str = DEFAULT_URL, prefix: Optional[str] = DEFAULT_PREFIX,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS, caching: Optional[CacheConfig] = None,
                 redis_opts: Optional[Dict[str, Any]] = None):
        super().__init__(caching)
        try:
            import redis
        except ImportError:  # pragma: no cover - redis is in the test extra
            raise ImportError("the Redis feature store needs redis-py: pip install 'ldfast[redis]'") from None
        self._r_redis = redis
        self._errors = (redis.RedisError,)
        self._r_prefix = prefix or DEFAULT_PREFIX
        self._r_inited_key = "%s:$inited" % self._r_prefix
        opts: Dict[str, Any] = {"max_connections": max_connections, "timeout": 5.0,
                                "socket_timeout": 5.0, "socket_connect_timeout": 5.0}
        opts.update(redis_opts or {})
        self._r_pool = redis.BlockingConnectionPool.from_url(url, **opts)
        self._r_client = redis.Redis(connection_pool=self._r_pool)
        self.read_wait = self._r_pool.timeout or 5.0
        log.info("Redis feature store for %s, prefix %r", _redact(url), self._r_prefix)

    @property
    def _r_gen(self) -> int:
        """(Tests.) The count of our writes, as ``_p_gen``."""
        return self._p_gen

    def _hash(self, ns: str) -> str:
        return "%s:%s" % (self._r_prefix, ns)

    def _fetch(self, want: Mapping[str, List[str]]) -> Fetched:
        pipe = self._r_client.pipeline(transaction=False)
        order: List[Tuple[str, List[str]]] = []
        for ns, keys in want.items():
            for i in range(0, len(keys), _CHUNK):
                pipe.hmget(self._hash(ns), keys[i:i + _CHUNK])
                order.append((ns, keys[i:i + _CHUNK]))
        got: Fetched = {ns: {} for ns in want}
        for (ns, keys), values in zip(order, pipe.execute()):
            got[ns].update(zip(keys, values))
        return got

    def _fetch_all(self) -> Dict[str, Dict[str, bytes]]:
        pipe = self._r_client.pipeline(transaction=True)
        for ns in _NS:
            pipe.hgetall(self._hash(ns))
        return {ns: {(f.decode() if isinstance(f, bytes) else f): v for f, v in fields.items()}
                for ns, fields in zip(_NS, pipe.execute())}

    def _has_inited(self) -> bool:
        return bool(self._r_client.exists(self._r_inited_key))

    def _disconnect(self) -> None:
        self._r_pool.disconnect()

    def _reconnect(self) -> None:
        self._r_pool.reset()

    def _write_all(self, segments: Dict[str, Any], flags: Dict[str, Any]) -> Dict[str, Dict[str, bytes]]:
        # No dependency sort (the official SDK's store wrapper sorts for every store kind): a Redis
        # hash keeps no order, the MULTI writes the data set at once, and readers order what they load.
        segments, flags = writable_items(segments), writable_items(flags)
        pipe = self._r_client.pipeline(transaction=True)
        seen: Dict[str, Dict[str, bytes]] = {}
        for ns, items in zip(_NS, (segments, flags)):
            base = self._hash(ns)
            pipe.delete(base)
            encoded = seen[ns] = {}
            for key, raw in items.items():
                text = dumps_item(ns, key, raw)
                if text is None:
                    continue
                pipe.hset(base, key, text)
                encoded[key] = text.encode()
        pipe.set(self._r_inited_key, self._r_inited_key)
        pipe.execute()
        log.info("Initialized the Redis store with %d items", len(segments) + len(flags))
        return seen

    def _write_one(self, ns: str, key: str, item: Dict[str, Any]) -> Optional[bytes]:
        base = self._hash(ns)
        text = dumps_item(ns, key, item)
        if text is None:
            return None
        version = item.get("version")
        for _ in range(MAX_UPSERT_ATTEMPTS):
            with self._r_client.pipeline(transaction=True) as pipe:
                pipe.watch(base)
                old = pipe.hget(base, key)
                old_version = version_of(old)
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
        raise Contention()


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
