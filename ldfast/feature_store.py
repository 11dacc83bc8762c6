"""The in-memory feature store: raw items in, preprocessed immutable Flag/Segment objects kept.

Writers take a lock; readers (the evaluator) never do: they read ``_flags``/``_segments``, plain
dicts that are either replaced whole (``init``) or updated one key at a time (GIL-atomic).
Deleted items are kept as tombstones so that an older update can never resurrect them.

``get``/``all`` return each item as it was given: the dict itself for an item stored as a dict
(``init``, ``upsert``), or, for an item preprocessed from JSON text (a streamed put keeps each
item's text, ``Flag.raw_json``, rather than its decoded tree), a fresh decode of that text on
every call, as ``json.loads`` made it.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Dict, Iterator, Mapping, Optional

from ldfast.model import Flag, Segment, parse_flag, parse_segment
from ldfast.versioned_data_kind import FEATURES, SEGMENTS, VersionedDataKind

log = logging.getLogger(__name__)


def _identity(x: Any) -> Any:
    return x


def _parser(kind: VersionedDataKind) -> Callable[[Any], Any]:
    if kind.namespace == FEATURES.namespace:
        return parse_flag
    if kind.namespace == SEGMENTS.namespace:
        return parse_segment
    raise ValueError("unknown data kind %r" % (kind,))


def _ready(item: Any) -> Any:
    """``item``, parsed first if it is a placeholder (``ldfast.model.pending_flag``)."""
    if item is not None and item.pending:
        item.materialize()
    return item


def _prerequisite_keys(flag: Flag) -> list[Any]:
    if flag.pending:  # (as its text lists them, the same list the parsed flag would give)
        return list(flag.pending_prerequisite_keys())
    if flag.error is None:
        return [p.key for p in flag.prerequisites]
    item = flag.raw  # (a fresh decode when the flag keeps its JSON text)
    raw = item.get("prerequisites") if isinstance(item, dict) else None
    return [p.get("key") for p in raw if isinstance(p, dict)] if isinstance(raw, list) else []


def dependency_order(flags: Dict[str, Flag]) -> Dict[str, Flag]:
    """The flags reordered so that a flag's prerequisites come before it, otherwise in their order.

    This is the order the official SDK stores (and so lists, e.g. in all_flags_state) flags in.
    """
    out: Dict[str, Flag] = {}
    for _ in dependency_order_steps(flags, out):
        pass
    return out


def dependency_order_steps(flags: Dict[str, Flag], out: Dict[str, Flag], step: int = 500) -> Iterator[None]:
    """:func:`dependency_order` into the empty dict ``out``, yielding after every ``step`` flags
    (so a reactor can order a large data set in slices)."""
    if not any(f.prerequisites or f.error is not None or f.pending_prerequisite_keys() for f in flags.values()):
        out.update(flags)
        return
    remaining = dict(flags)
    count = 0
    for key in flags:
        count += 1
        if count % step == 0:
            yield None
        first = remaining.pop(key, None)
        if first is None:
            continue
        if first.error is None and not first.prerequisites and not first.pending_prerequisite_keys():
            # the common case: nothing to visit
            out[key] = first
            continue
        # depth-first, prerequisites first, as the official SDK's recursive sort (iteratively here)
        stack = [(key, first, iter(_prerequisite_keys(first)))]
        while stack:
            k, flag, deps = stack[-1]
            for dep in deps:
                dep_flag = remaining.pop(dep, None) if isinstance(dep, str) else None
                if dep_flag is not None:
                    stack.append((dep, dep_flag, iter(_prerequisite_keys(dep_flag))))
                    break
            else:
                stack.pop()
                out[k] = flag


def _dependents(flags: Dict[str, Flag], segments: Dict[str, Segment]) -> Dict[tuple[Any, ...], set[Any]]:
    """(kind, key) -> the (kind, key)s that use it: prerequisites and segmentMatch clauses."""
    out: Dict[tuple[Any, ...], set[Any]] = {}
    for fkey, flag in flags.items():
        _ready(flag)
        if flag.error is not None or flag.deleted or not flag.uses_state:  # (no prerequisite, no segmentMatch)
            continue
        for p in flag.prerequisites:
            out.setdefault(("features", p.key), set()).add(("features", fkey))
        for sk in flag.segment_keys:
            out.setdefault(("segments", sk), set()).add(("features", fkey))
    for skey, seg in segments.items():
        if seg.error is not None or seg.deleted or not seg.refers_to_segments:
            continue
        for sk in seg.segment_keys:
            out.setdefault(("segments", sk), set()).add(("segments", skey))
    return out


def _changed(old: Dict[str, Any], new: Dict[str, Any]) -> set[Any]:
    keys = set()
    for k in old.keys() | new.keys():
        a, b = old.get(k), new.get(k)
        if a is not None and b is not None and (a.pending or b.pending):
            if a.raw_json is not None and a.raw_json == b.raw_json:
                continue  # the same text: the same flag (nothing to parse)
            _ready(a)
            _ready(b)
        if a is None or b is None or a.version != b.version or a.deleted != b.deleted:
            keys.add(k)
    return keys


class InMemoryFeatureStore:
    """Thread-safe in-memory store with the official FeatureStore interface (raw dicts in and out)."""

    accepts_pending = True
    """The streaming data source may store a first put's flags as placeholders (``pending_flag``)."""

    def __init__(self) -> None:
        self._change_listeners: list[Any] = []
        self._lock = threading.Lock()
        self._flags: Dict[str, Flag] = {}
        self._segments: Dict[str, Segment] = {}
        self._initialized = False
        self.segments_generation = 0
        """Counts the changes to the stored segments (a cache over them compares it)."""

    def _items(self, kind: VersionedDataKind) -> Dict[str, Any]:
        if kind.namespace == FEATURES.namespace:
            return self._flags
        if kind.namespace == SEGMENTS.namespace:
            return self._segments
        raise ValueError("unknown data kind %r" % (kind,))

    def init(self, all_data: Mapping[VersionedDataKind, Mapping[str, dict[str, Any]]]) -> None:
        """Replace all data. Each item is parsed once; a malformed one is kept, marked malformed."""
        flags: Dict[str, Flag] = {}
        segments: Dict[str, Segment] = {}
        for kind, items in all_data.items():
            target = flags if kind.namespace == FEATURES.namespace else segments
            parse = _parser(kind)
            for key, raw in (items or {}).items():
                target[key] = parse(raw)
        flags = dependency_order(flags)
        with self._lock:
            old = (self._flags, self._segments)
            self._flags = flags
            self._segments = segments
            self.segments_generation += 1
            self._initialized = True
        self._notify_replaced(old)

    def init_preprocessed(self, flags: Dict[str, Flag], segments: Dict[str, Segment],
                          ordered: bool = False) -> tuple[Any, ...]:
        """Replace all data with items already parsed by ``ldfast.model`` (e.g. in reactor-sized chunks).

        ``ordered=True`` says ``flags`` is already in :func:`dependency_order` (a reactor can order
        a large data set in slices with :func:`dependency_order_steps` before the swap).

        Returns the replaced ``(flags, segments)`` dicts, which nothing else holds: a caller on a
        reactor can release them a slice at a time (freeing 5,000 rule-heavy flags at once takes
        tens of milliseconds); dropping the result frees them at once.
        """
        if not ordered:
            flags = dependency_order(flags)
        with self._lock:
            old = (self._flags, self._segments)
            self._flags = dict(flags)
            self._segments = dict(segments)
            self.segments_generation += 1
            self._initialized = True
        self._notify_replaced(old)
        return old

    def upsert(self, kind: VersionedDataKind, item: dict[str, Any]) -> bool:
        """Store an item unless the stored one has the same or a higher version; True if stored."""
        parsed = _parser(kind)(item)
        key = parsed.key
        with self._lock:
            items = self._items(kind)
            old = _ready(items.get(key))
            if old is not None and old.version >= parsed.version:
                return False
            items[key] = parsed
            if kind.namespace == SEGMENTS.namespace:
                self.segments_generation += 1
        if self._listening():
            self._notify({(kind.namespace, key)})
        return True

    def delete(self, kind: VersionedDataKind, key: str, version: int) -> bool:
        """Store a tombstone for ``key`` at ``version`` (same version rule as upsert)."""
        return self.upsert(kind, {"key": key, "version": version, "deleted": True})

    # -- change notification (for the flag tracker) -------------------------------------------

    def add_change_listener(self, listener: Callable[[set[Any]], Any], wanted: Optional[Callable[[],
                            bool]] = None) -> None:
        """``listener(flag_keys)`` after each update, with every flag affected (dependents too).

        ``wanted()``, if given, says whether the listener wants to hear of changes at the moment
        (e.g. a flag tracker with no listeners of its own): when no listener does, an update
        computes no change set at all (which could mean parsing flags still held as text)."""
        self._change_listeners.append((listener, wanted))

    def _listening(self) -> bool:
        return any(wanted is None or wanted() for _, wanted in self._change_listeners)

    def _notify_replaced(self, old: tuple[Any, ...]) -> None:
        if not self._listening():
            return
        if not old[0] and not old[1]:  # the first data set: every flag in it is new
            if self._flags:
                self._call_listeners(list(self._flags))
            return
        changed = {("features", k) for k in _changed(old[0], self._flags)}
        changed |= {("segments", k) for k in _changed(old[1], self._segments)}
        if changed:
            # dependents under the old data too: a flag that stopped using a changed item changed as well
            self._notify(changed, old)

    def _notify(self, changed: set[Any], old: Any = None) -> None:
        graphs = [_dependents(self._flags, self._segments)]
        if old is not None:
            graphs.append(_dependents(old[0], old[1]))
        seen = set(changed)
        todo = list(changed)
        while todo:
            item = todo.pop()
            for graph in graphs:
                for dep in graph.get(item, ()):
                    if dep not in seen:
                        seen.add(dep)
                        todo.append(dep)
        flag_keys = [k for kind, k in seen if kind == "features"]
        if flag_keys:
            self._call_listeners(flag_keys)

    def _call_listeners(self, flag_keys: list[Any]) -> None:
        for listener, _ in list(self._change_listeners):
            try:
                listener(flag_keys)
            except Exception:  # a listener must never break the data source
                log.exception("Error in a store change listener")

    def get(self, kind: VersionedDataKind, key: str, callback: Callable[[Any], Any] = _identity) -> Any:
        """The raw item, or None if it is absent or deleted (see the module docstring)."""
        item = _ready(self._items(kind).get(key))
        if item is None or item.deleted:
            return callback(None)
        return callback(item.raw)

    def all(self, kind: VersionedDataKind, callback: Callable[[Any], Any] = _identity) -> Any:
        """Every non-deleted raw item, by key (items kept as JSON text are decoded afresh)."""
        return callback({k: v.raw for k, v in list(self._items(kind).items()) if not _ready(v).deleted})

    def get_parsed(self, kind: VersionedDataKind, key: str) -> Any:
        item = _ready(self._items(kind).get(key))
        return None if item is None or item.deleted else item

    @property
    def initialized(self) -> bool:
        return self._initialized

    def is_available(self) -> bool:
        return True

    def is_monitoring_enabled(self) -> bool:
        return False

    def describe_configuration(self, config: Any) -> str:
        """How diagnostic events name this store."""
        return "memory"

    def close(self, timeout: Any = None) -> None:
        """Nothing to release (a persistent store stops its worker here, within ``timeout``)."""


class CacheConfig:
    """Caching parameters of a persistent store (``ldfast.integrations.Redis``), as the official SDK's.

    ``expiration`` is in seconds: how long a cached item is served before it is read from the
    database again; ``float("inf")`` caches forever (the official SDK's cache accepts it the same
    way: entries never expire); ``<= 0`` disables caching (every evaluation reads the database).
    ``capacity`` bounds the keys cached as absent from the database (ldfast keeps every item it read).
    """

    DEFAULT_EXPIRATION = 15.0
    DEFAULT_CAPACITY = 1000

    def __init__(self, expiration: float = DEFAULT_EXPIRATION, capacity: int = DEFAULT_CAPACITY):
        self._expiration = expiration
        self._capacity = capacity

    @staticmethod
    def default() -> "CacheConfig":
        """Caching on: 15 s, 1000 items."""
        return CacheConfig()

    @staticmethod
    def disabled() -> "CacheConfig":
        """Caching off."""
        return CacheConfig(expiration=0)

    @property
    def enabled(self) -> bool:
        return self._expiration > 0

    @property
    def expiration(self) -> float:
        return self._expiration

    @property
    def capacity(self) -> int:
        return self._capacity


__all__ = ("CacheConfig", "InMemoryFeatureStore")
