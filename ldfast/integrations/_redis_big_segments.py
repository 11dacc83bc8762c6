"""RedisBigSegmentStore: Big Segment memberships in Redis, as the Relay Proxy writes them.

Layout (PROTOCOL.md section 10): ``{prefix}:big_segments_synchronized_on`` holds the Unix ms of the
last synchronization; ``{prefix}:big_segment_include:{hash}`` and ``...exclude:{hash}`` are sets of
segment refs (``"{segmentKey}.g{generation}"``) for a hashed context key. A membership is read with
both SMEMBERS in one round trip; excluded refs map to False, then included ones to True (include
wins); both empty means None. redis-py, one bounded connection pool, blocking calls: the manager
runs them off any reactor (see ``ldfast.big_segments``). Socket timeouts default to 5 s so a hung
Redis cannot hold a caller for longer (``redis_opts`` may set others).
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Optional
from urllib.parse import urlsplit, urlunsplit

from ldfast.big_segments import BigSegmentStore, BigSegmentStoreMetadata

log = logging.getLogger(__name__)

_SYNCHRONIZED_ON = ":big_segments_synchronized_on"
_INCLUDE = ":big_segment_include:"
_EXCLUDE = ":big_segment_exclude:"
_DEFAULT_TIMEOUT = 5.0


def _redact(url: str) -> str:
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.replace(":%s@" % parts.password, ":xxxx@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<unparsable url>"


class RedisBigSegmentStore(BigSegmentStore):
    """``RedisBigSegmentStore(url='redis://localhost:6379/0', prefix='launchdarkly', max_connections=16,
    redis_opts={})``: the Big Segment store over Redis (``BigSegmentsConfig(store=...)``).

    ``max_connections`` bounds the pool; a caller waits up to the socket timeout for a free
    connection. ``redis_opts`` are passed to redis-py's connection pool (``socket_timeout`` and
    ``socket_connect_timeout`` default to 5 s). An empty or None prefix means ``launchdarkly``.
    """

    def __init__(self, url: str = "redis://localhost:6379/0", prefix: Optional[str] = "launchdarkly",
                 max_connections: int = 16, redis_opts: Optional[Dict[str, Any]] = None):
        try:
            import redis
        except ImportError:  # pragma: no cover - redis is in the ldfast[redis] extra
            raise ImportError("The Redis Big Segment store needs the redis package: "
                              "pip install 'ldfast[redis]'") from None
        if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
            raise ValueError("max_connections must be an int >= 1, got %r" % (max_connections,))
        self._prefix = prefix or "launchdarkly"
        opts: Dict[str, Any] = {"socket_timeout": _DEFAULT_TIMEOUT, "socket_connect_timeout": _DEFAULT_TIMEOUT}
        opts.update(redis_opts or {})
        opts.setdefault("timeout", opts["socket_timeout"] or _DEFAULT_TIMEOUT)  # wait for a free connection
        self._pool = redis.BlockingConnectionPool.from_url(url, max_connections=max_connections, **opts)
        self._redis = redis.Redis(connection_pool=self._pool)
        self._synchronized_on_key = self._prefix + _SYNCHRONIZED_ON
        log.info("Started RedisBigSegmentStore connected to URL: %s using prefix: %s", _redact(url), self._prefix)

    @property
    def prefix(self) -> str:
        return self._prefix

    def get_metadata(self) -> BigSegmentStoreMetadata:
        """When the store was last synchronized (None if never). A non-integer value raises ValueError."""
        value = self._redis.get(self._synchronized_on_key)
        if value is None:
            return BigSegmentStoreMetadata(None)
        try:
            return BigSegmentStoreMetadata(int(value))
        except ValueError:
            raise ValueError("%s is not a Unix time in ms: %r" % (self._synchronized_on_key, value[:40])) from None

    def get_membership(self, context_hash: str) -> Optional[dict[str, Any]]:
        """``{segment ref: included}`` for a hashed context key, or None when both sets are empty."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.smembers(self._prefix + _INCLUDE + context_hash)
        pipe.smembers(self._prefix + _EXCLUDE + context_hash)
        included, excluded = pipe.execute()
        if not included and not excluded:
            return None
        membership: Dict[str, bool] = {}
        for ref in excluded:
            membership[ref.decode("utf-8", "replace")] = False
        for ref in included:  # include wins over exclude
            membership[ref.decode("utf-8", "replace")] = True
        return membership

    def stop(self) -> None:
        """Close the pool's connections (an in-flight call on another thread fails and is retried later)."""
        self._pool.disconnect()


__all__ = ("RedisBigSegmentStore",)
