"""Flag change notifications, as the official SDK's ``client.flag_tracker``.

``add_listener(fn)`` calls ``fn(FlagChange(key))`` whenever a flag's configuration changes, and for
every flag that depends on it (through prerequisites or segments). A flag value change listener
(``add_flag_value_change_listener(key, context, fn)``) calls ``fn(FlagValueChange(key, old, new))``
only when that flag's value for that context changes. Listeners run on the thread that applied
the update (the networking thread); an exception in a listener is logged, never propagated.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Iterable, List

log = logging.getLogger(__name__)


class FlagChange:
    """A flag's configuration (or something it depends on) changed."""

    __slots__ = ("_key",)

    def __init__(self, key: str):
        self._key = key

    @property
    def key(self) -> str:
        return self._key

    def __repr__(self) -> str:
        return "FlagChange(%r)" % self._key


class FlagValueChange:
    """A flag's value for a given context changed."""

    __slots__ = ("_key", "_old_value", "_new_value")

    def __init__(self, key: str, old_value: Any, new_value: Any):
        self._key = key
        self._old_value = old_value
        self._new_value = new_value

    key = property(lambda self: self._key)
    old_value = property(lambda self: self._old_value)
    new_value = property(lambda self: self._new_value)

    def __repr__(self) -> str:
        return "FlagValueChange(%r, %r, %r)" % (self._key, self._old_value, self._new_value)


class FlagTracker:
    """Registers flag change listeners; see the module docstring."""

    def __init__(self, evaluate: Callable[[str, Any], Any]):
        self._evaluate = evaluate
        self._lock = threading.Lock()
        self._listeners: List[Callable[[FlagChange], Any]] = []

    def add_listener(self, listener: Callable[[FlagChange], Any]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[FlagChange], Any]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def add_flag_value_change_listener(self, key: str, context: Any,
                                       listener: Callable[[FlagValueChange], Any]) -> Callable[[FlagChange], Any]:
        """Call ``listener`` when ``key``'s value for ``context`` changes; returns the listener to remove."""
        fn = listener
        state = {"value": self._evaluate(key, context)}

        def on_change(change: FlagChange) -> None:
            if change.key != key:
                return
            new = self._evaluate(key, context)
            old = state["value"]
            if new != old or type(new) is not type(old):
                state["value"] = new
                fn(FlagValueChange(key, old, new))

        self.add_listener(on_change)
        return on_change

    def remove_flag_value_change_listener(self, listener: Callable[[FlagChange], Any]) -> None:
        self.remove_listener(listener)

    @property
    def has_listeners(self) -> bool:
        return bool(self._listeners)

    def notify(self, flag_keys: Iterable[str]) -> None:
        """Tell every listener about each changed flag key."""
        with self._lock:
            listeners = list(self._listeners)
        for key in flag_keys:
            change = FlagChange(key)
            for listener in listeners:
                try:
                    listener(change)
                except Exception:
                    log.exception("Error in a flag change listener")


__all__ = ("FlagChange", "FlagTracker", "FlagValueChange")
