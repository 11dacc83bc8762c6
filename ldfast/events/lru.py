"""The context-key cache that decides when an ``index`` event is needed (PROTOCOL.md 8.5)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Hashable


class ContextKeyLRU:
    """A set of at most ``capacity`` keys, oldest evicted first. ``put`` of a present key makes it the
    newest. Not thread-safe."""

    __slots__ = ("_capacity", "_keys")

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError("context key cache capacity must be at least 1, not %r" % (capacity,))
        self._capacity = capacity
        self._keys: "OrderedDict[Hashable, None]" = OrderedDict()

    @property
    def capacity(self) -> int:
        return self._capacity

    def put(self, key: Hashable) -> bool:
        """Add ``key`` as the newest entry; True if it was already there."""
        keys = self._keys
        if key in keys:
            keys.move_to_end(key)
            return True
        if len(keys) >= self._capacity:
            keys.popitem(last=False)
        keys[key] = None
        return False

    def __contains__(self, key: Hashable) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def clear(self) -> None:
        self._keys.clear()


__all__ = ("ContextKeyLRU",)
