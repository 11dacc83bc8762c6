"""The read-through cache of a persistent feature store: what a read from the database puts in it.

``PersistentFeatureStore`` (``ldfast.integrations._persistent``) is an ``InMemoryFeatureStore``
whose dicts are a cache over a database (Redis, DynamoDB). This module holds its cache half: the
state, reading keys (and, round by round, the flags and segments they depend on) through the
backend's ``_fetch``/``_fetch_all``, parsing only JSON that changed, and applying what was read
without ever undoing a write of ours that is newer than the read. Items are kept in the database
as the official SDKs write them: one JSON text per item (``dumps_item``).
"""
from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Mapping, Optional, Set, Tuple

from ldfast.feature_store import CacheConfig, InMemoryFeatureStore, _ready
from ldfast.interfaces import DataStoreUpdateSink
from ldfast.model import parse_flag, parse_segment
from ldfast.versioned_data_kind import FEATURES, SEGMENTS

log = logging.getLogger(__name__)

#: How often (s) the worker re-reads the cache's entries when caching is disabled (evaluations read
#: the database themselves; this keeps flag change listeners informed).
UNCACHED_REFRESH_INTERVAL = 1.0
_UNPARSEABLE = "_ldfastUnparseable"  # marks an item made from JSON that did not parse
_ABSENT_VERSION = -1  # the version of a cached "the database does not have it"
_FLAGS, _SEGMENTS = FEATURES.namespace, SEGMENTS.namespace
_NS = (_SEGMENTS, _FLAGS)  # init and apply order: segments, then flags
_PARSE = {_FLAGS: parse_flag, _SEGMENTS: parse_segment}
_Key = Tuple[str, str]  # (namespace, key)
Fetched = Dict[str, Dict[str, Optional[bytes]]]
"""What a backend read: {namespace: {key: the item's JSON, or None if the database lacks it}}."""
_Parsed = Dict[str, Dict[str, Tuple[Optional[bytes], Any, Any]]]


class CachedItems(InMemoryFeatureStore):
    """The cache half of ``PersistentFeatureStore``; a backend implements ``_fetch``/``_fetch_all``."""

    backend_name = "the database"
    """How logs name the database ("Redis", "DynamoDB")."""

    def __init__(self, caching: Optional[CacheConfig]) -> None:
        super().__init__()
        self._p_caching = caching if caching is not None else CacheConfig.default()
        expiration = self._p_caching.expiration
        self.caches_reads = expiration > 0
        """False with caching disabled: then every evaluation reads the database first."""
        self._p_ttl: Optional[float] = (None if math.isinf(expiration)
                                        else expiration if expiration > 0 else UNCACHED_REFRESH_INTERVAL)
        self._p_capacity = max(1, int(self._p_caching.capacity))
        self._p_sync = threading.Condition(threading.RLock())
        # all below guarded by self._p_sync
        self._p_pending_init: Optional[Tuple[Dict[str, Any], Dict[str, Any]]] = None
        self._p_pending: Dict[_Key, Dict[str, Any]] = {}
        self._p_writing = False
        self._p_gen = 0  # counts our writes, queued and done: a read older than one never undoes it
        self._p_init_gen = 0
        self._p_key_gen: Dict[_Key, int] = {}
        self._p_wrote_init = False  # a data source gave us a full data set: a writer
        self._p_inited = False
        self._p_inited_due: Optional[float] = time.monotonic()  # when to look for $inited next
        self._p_stamp: "OrderedDict[_Key, float]" = OrderedDict()  # when each entry was read/written, oldest first
        self._p_stamp_init: Optional[float] = None  # when our last data set replaced the cache, until stamped
        self._p_absent: "OrderedDict[_Key, None]" = OrderedDict()  # entries that say "the database does not have it"
        self._p_seen: Dict[str, Dict[str, bytes]] = {ns: {} for ns in _NS}  # the JSON each entry was read as
        self._p_all_read: Optional[float] = None  # when every item was last read (all_flags_state)
        self._p_reading: Dict[Any, threading.Event] = {}  # reads in progress, shared by their callers
        self._p_refresh_requested = 0
        self._p_refresh_done = 0
        self._p_stopping = False
        self._p_thread: Optional[threading.Thread] = None
        self._p_started = threading.Event()  # the worker's first pass is done
        # status
        self._p_available = True
        self._p_stale = False
        self._p_sinks: List[DataStoreUpdateSink] = []

    # -- what a backend implements (blocking; its errors are in ``_errors``) --------------------

    def _fetch(self, want: Mapping[str, List[str]]) -> Fetched:
        """The JSON the database holds for the keys ``want`` names (None for a key it lacks)."""
        raise NotImplementedError

    def _fetch_all(self) -> Dict[str, Dict[str, bytes]]:
        """Every flag's and segment's JSON (tombstones included), read at once where it can."""
        raise NotImplementedError

    def _read(self, want: Mapping[str, Iterable[str]], fresh: bool) -> None:
        """Read the keys ``want`` names, then, round by round, what the flags and segments read
        depend on (all of it when ``fresh``, else what the cache lacks); put it all in the cache."""
        with self._p_sync:
            start = self._p_gen
        rounds: List[_Parsed] = []
        asked: Dict[str, Set[str]] = {ns: set() for ns in _NS}
        todo: Dict[str, Dict[str, None]] = {ns: dict.fromkeys(want.get(ns, ())) for ns in _NS}
        if fresh:  # what the cached items depend on now, in the same round trip
            for ns in _NS:
                for key in list(todo[ns]):
                    self._add_dependencies(ns, self._cache_of(ns).get(key), todo, asked, fresh)
        while any(todo.values()):
            for ns in _NS:
                asked[ns].update(todo[ns])
            got = self._fetch({ns: list(todo[ns]) for ns in _NS if todo[ns]})
            parsed = self._parse(got)
            rounds.append(parsed)
            todo = {ns: {} for ns in _NS}
            for ns in _NS:
                for key, (_, item, _) in parsed[ns].items():
                    self._add_dependencies(ns, item, todo, asked, fresh)
        self._apply(rounds[::-1], start)  # (what is depended on first)

    def _add_dependencies(self, ns: str, item: Any, todo: Dict[str, Dict[str, None]], asked: Dict[str, Set[str]],
                          fresh: bool) -> None:
        for dep_ns, dep in _dependencies(ns, item):
            if dep not in asked[dep_ns] and dep not in todo[dep_ns] and (fresh or dep not in self._cache_of(dep_ns)):
                todo[dep_ns][dep] = None

    def _read_everything(self) -> None:
        with self._p_sync:
            start = self._p_gen
            read_at = time.monotonic()
        got: Dict[str, Dict[str, Any]] = {}
        for ns, fields in self._fetch_all().items():
            got[ns] = dict(fields)
            if not self.caches_reads:  # the cache becomes what the database holds: the rest is absent
                got[ns].update((key, None) for key in list(self._cache_of(ns)) if key not in got[ns])
        self._apply([self._parse(got, new_only=self.caches_reads)], start)
        with self._p_sync:
            self._p_all_read = read_at

    def _parse(self, got: Dict[str, Dict[str, Any]], new_only: bool = False) -> _Parsed:
        """{ns: {key: (JSON bytes or None, the item or None, the cached item the bytes are of)}}:
        parses only JSON the cache does not hold (outside the lock: writers never wait for it)."""
        out: _Parsed = {}
        for ns in _NS:
            items, seen, absent = self._cache_of(ns), self._p_seen[ns], self._p_absent
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

    def _apply(self, rounds: List[_Parsed], start: int) -> None:
        """Put what was read into the cache (segments first, then flags, dependencies before what
        depends on them), except over writes of ours newer than the read; notify listeners."""
        now = time.monotonic()
        changed = set()
        with self._p_sync:
            if self._p_init_gen > start or self._p_pending_init is not None:
                return  # a data set of ours replaced everything since (the database gets it next)
            for parsed in rounds:
                for ns in _NS:
                    items = self._cache_of(ns)
                    seen = self._p_seen[ns]
                    for key, (value, item, same_as) in parsed[ns].items():
                        k = (ns, key)
                        if self._p_key_gen.get(k, 0) > start or k in self._p_pending:
                            continue  # our own write is newer: never undo it
                        current = items.get(key)
                        if k in self._p_absent:
                            current = None
                        if value is None:
                            if current is not None or key not in items:
                                items[key] = _absent(ns, key)
                                self._p_absent[k] = None
                                seen.pop(key, None)
                                if current is not None and not current.deleted:
                                    changed.add(k)
                        elif same_as is None or current is not same_as:
                            if same_as is not None:  # the entry changed meanwhile: parse (rare)
                                item = _parse_item(ns, key, value)
                            items[key] = item
                            seen[key] = value
                            self._p_absent.pop(k, None)
                            if _differs(current, item):
                                changed.add(k)
                        self._stamp(k, now)
            if any(ns == _SEGMENTS for ns, _ in changed):
                self.segments_generation += 1
            self._p_sync.notify_all()  # (the worker's next expiry may be sooner now)
            while len(self._p_absent) > self._p_capacity:  # forget the oldest "not in the database"
                ns, key = self._p_absent.popitem(last=False)[0]
                items = self._cache_of(ns)
                if items.get(key) is not None and items[key].deleted:
                    del items[key]
                self._p_stamp.pop((ns, key), None)
        if changed and self._listening():
            self._notify(changed)

    def _cache_of(self, ns: str) -> Dict[str, Any]:
        return self._flags if ns == _FLAGS else self._segments

    def _stamp_init(self) -> None:
        """(Worker.) Stamp every entry of our last data set with the time it replaced the cache
        (done here, not on the data source's thread: thousands of entries take milliseconds)."""
        with self._p_sync:
            when = self._p_stamp_init
            if when is None:
                return
            keys = [(_SEGMENTS, k) for k in self._segments] + [(_FLAGS, k) for k in self._flags]
        stamps = OrderedDict.fromkeys(keys, when)
        with self._p_sync:
            if self._p_stamp_init != when:
                return  # (a newer data set meanwhile: its turn next)
            for key, stamp in self._p_stamp.items():  # entries read or written since, in order
                stamps[key] = stamp
                stamps.move_to_end(key)
            self._p_stamp = stamps
            self._p_stamp_init = None

    def _stamp(self, key: _Key, now: float) -> None:
        """(Under the lock.) The entry ``key`` was read or written at ``now`` (expiry order kept)."""
        stamps = self._p_stamp
        stamps[key] = now
        stamps.move_to_end(key)


def _absent(ns: str, key: str) -> Any:
    """The cache entry saying "the database does not have ``key``": a deleted item of version -1."""
    return _PARSE[ns]({"key": key, "version": _ABSENT_VERSION, "deleted": True})


def _is_absent(item: Any) -> bool:
    return bool(item.deleted and item.version == _ABSENT_VERSION)


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
    """An item from the JSON the database holds for it (kept as text); unparseable JSON: malformed."""
    try:
        text = value.decode()
        raw = json.loads(text)
    except ValueError:  # (UnicodeDecodeError too)
        raw = text = None
    if not isinstance(raw, dict):
        log.error("The database holds unparseable JSON for %s %r; it evaluates as malformed", ns, key)
        return _PARSE[ns]({"key": key, _UNPARSEABLE: True})
    return _PARSE[ns](raw, text)


def dumps_item(ns: str, key: str, raw: Any) -> Optional[str]:
    try:
        return json.dumps(raw)  # default separators, exactly as the official SDK writes
    except (TypeError, ValueError) as e:
        log.error("Cannot write %s %r to the database, it is not JSON-serializable: %s", ns, key, e)
        return None


def writable_items(items: Mapping[str, Any]) -> Dict[str, Any]:
    """The raw items to write (each decoded once; items that are not data are left out: what
    the database held as unparseable JSON, and "the database does not have it")."""
    out: Dict[str, Any] = {}
    for key, item in items.items():
        if _is_absent(item):
            continue
        raw = item.raw
        if not (isinstance(raw, dict) and raw.get(_UNPARSEABLE) is True):
            out[key] = raw
    return out


def version_of(value: Any) -> Optional[int]:
    if value is None:
        return None
    try:
        version = json.loads(value).get("version")
    except (ValueError, AttributeError):
        return None  # unparseable: overwrite it
    return version if isinstance(version, int) else None



__all__ = ("CachedItems", "Fetched", "dumps_item", "version_of", "writable_items")
