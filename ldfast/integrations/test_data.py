"""In-memory test data source (``TestData``) with builders for flag configurations.

Mirrors ``ldclient.integrations.test_data``: the same builder methods, the same flag JSON, and
versions that start at 1 and go up by one on each ``update`` of a flag key. A ``TestData`` is the
factory passed as ``Config(update_processor_class=td)``; it may feed several clients at once, and
each update reaches every client whose data source is running.
"""
from __future__ import annotations

import copy
import logging
import threading
from typing import Any, Dict, List, Optional, Protocol, Set, Union

from ldfast.versioned_data_kind import FEATURES, SEGMENTS, VersionedDataKind

__all__ = ("TestData", "FlagBuilder", "FlagRuleBuilder")

log = logging.getLogger(__name__)

TRUE_VARIATION_INDEX = 0
FALSE_VARIATION_INDEX = 1
_USER_KIND = "user"

Variation = Union[bool, int]


def _variation_for_boolean(value: bool) -> int:
    return TRUE_VARIATION_INDEX if value else FALSE_VARIATION_INDEX


class _Store(Protocol):
    """The part of the feature store API that a data source writes to."""

    def init(self, all_data: Dict[VersionedDataKind, Dict[str, dict[str, Any]]]) -> None: ...

    def upsert(self, kind: VersionedDataKind, item: dict[str, Any]) -> None: ...


class TestData:
    """A data source whose flags the test sets in code, for use in place of LaunchDarkly.

    ::

        from ldfast import Config, Context, LDClient
        from ldfast.integrations.test_data import TestData

        td = TestData.data_source()
        td.update(td.flag("flag-key-1").variation_for_all(True))
        client = LDClient(config=Config("SDK_KEY", update_processor_class=td, send_events=False))
        assert client.variation("flag-key-1", Context.create("some-user-key"), False) is True

        # later, while the client runs:
        td.update(td.flag("flag-key-1").variation_for_user("some-user-key", True).fallthrough_variation(False))
        assert client.variation("flag-key-1", Context.create("another-key"), True) is False
        client.close()

    ``FlagBuilder`` covers targets and "is one of"/"is not one of" rules; for anything else use
    ``use_preconfigured_flag`` with full flag JSON.
    """

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._flag_builders: Dict[str, FlagBuilder] = {}
        self._current_flags: Dict[str, dict[str, Any]] = {}
        self._current_segments: Dict[str, dict[str, Any]] = {}
        self._instances: List[_TestDataSource] = []

    def __call__(self, config: Any, store: _Store, ready: threading.Event) -> "_TestDataSource":
        return _TestDataSource(store, self, ready)

    @staticmethod
    def data_source() -> "TestData":
        """Create a new, empty test data source."""
        return TestData()

    def flag(self, key: str) -> "FlagBuilder":
        """A builder for flag ``key``: a copy of the last one passed to ``update``, else a new boolean flag.

        A new flag has variations ``True`` and ``False``, targeting on, fallthrough ``True`` and
        off variation ``False``. Pass the builder to ``update`` when it is configured.
        """
        with self._lock:
            existing = self._flag_builders.get(key)
            if existing is not None:
                return existing._copy()
        return FlagBuilder(key).boolean_flag()

    def update(self, flag_builder: "FlagBuilder") -> "TestData":
        """Store the builder's flag (at the next version) and send it to every running client.

        Later changes to ``flag_builder`` have no effect unless it is passed to ``update`` again.
        """
        with self._lock:
            key = flag_builder._key
            new_flag = flag_builder._build(self._next_version(self._current_flags, key))
            self._current_flags[key] = new_flag
            self._flag_builders[key] = flag_builder._copy()
            self._broadcast(FEATURES, new_flag)
        return self

    def use_preconfigured_flag(self, flag: dict[str, Any]) -> "TestData":
        """Store a flag given as full flag JSON (an ldfast addition, as in the Go and Java SDKs).

        Its version is kept if higher than the current one for that key, else set to current + 1.
        A later ``flag(key)`` starts from a new default builder.
        """
        with self._lock:
            item = self._versioned_copy(self._current_flags, flag)
            self._current_flags[item["key"]] = item
            self._flag_builders.pop(item["key"], None)
            self._broadcast(FEATURES, item)
        return self

    def use_preconfigured_segment(self, segment: dict[str, Any]) -> "TestData":
        """Store a segment given as full segment JSON (an ldfast addition, as in the Go and Java SDKs).

        Its version is kept if higher than the current one for that key, else set to current + 1.
        """
        with self._lock:
            item = self._versioned_copy(self._current_segments, segment)
            self._current_segments[item["key"]] = item
            self._broadcast(SEGMENTS, item)
        return self

    # -- internals used by _TestDataSource ------------------------------------------------------

    @staticmethod
    def _next_version(current: Dict[str, dict[str, Any]], key: str) -> int:
        old = current.get(key)
        return (old["version"] if old else 0) + 1

    @staticmethod
    def _versioned_copy(current: Dict[str, dict[str, Any]], item: dict[str, Any]) -> dict[str, Any]:
        key = item.get("key")
        if not isinstance(key, str):
            raise ValueError('a preconfigured item needs a string "key"')
        new_item = copy.deepcopy(item)
        given = new_item.get("version")
        next_version = TestData._next_version(current, key)
        if not isinstance(given, int) or isinstance(given, bool) or given < next_version:
            new_item["version"] = next_version
        return new_item

    def _broadcast(self, kind: VersionedDataKind, item: dict[str, Any]) -> None:
        # Called with the lock held, so every client sees updates in the order they were made.
        for instance in self._instances:
            instance._upsert(kind, copy.deepcopy(item))

    def _attach(self, instance: "_TestDataSource") -> None:
        """Give ``instance`` all current data and add it to the clients that get updates."""
        with self._lock:
            instance._init(
                {
                    FEATURES: copy.deepcopy(self._current_flags),
                    SEGMENTS: copy.deepcopy(self._current_segments),
                }
            )
            self._instances.append(instance)

    def _detach(self, instance: "_TestDataSource") -> None:
        with self._lock:
            if instance in self._instances:
                self._instances.remove(instance)


class _TestDataSource:
    """The update processor that one client gets from a ``TestData``."""

    __test__ = False

    def __init__(self, store: _Store, test_data: TestData, ready: threading.Event) -> None:
        self._store = store
        self._test_data = test_data
        self._ready = ready
        self._started = False
        self._stopped = False

    def start(self) -> None:
        if self._started or self._stopped:
            return
        self._started = True
        try:
            self._test_data._attach(self)
        finally:
            self._ready.set()

    def stop(self) -> None:
        self._stopped = True
        self._test_data._detach(self)

    def initialized(self) -> bool:
        return True

    def is_alive(self) -> bool:
        return not self._stopped

    def _init(self, all_data: Dict[VersionedDataKind, Dict[str, dict[str, Any]]]) -> None:
        self._store.init(all_data)

    def _upsert(self, kind: VersionedDataKind, item: dict[str, Any]) -> None:
        try:
            self._store.upsert(kind, item)
        except Exception as e:  # one broken client must not stop updates to the others
            log.error("Unable to store test data item %s in %s: %s: %s",
                      item.get("key"), kind.namespace, type(e).__name__, e)


class FlagBuilder:
    """Builds one flag's configuration for ``TestData.update``; get one from ``TestData.flag``."""

    def __init__(self, key: str) -> None:
        self._key = key
        self._on = True
        self._variations: List[Any] = []
        self._off_variation: Optional[int] = None
        self._fallthrough_variation: Optional[int] = None
        # context kind -> variation index -> context keys, in the order first targeted
        self._targets: Dict[str, Dict[int, Set[str]]] = {}
        self._rules: List[FlagRuleBuilder] = []

    def _copy(self) -> "FlagBuilder":
        """An independent copy: changing either builder afterwards does not affect the other."""
        other = FlagBuilder(self._key)
        other._on = self._on
        other._variations = list(self._variations)
        other._off_variation = self._off_variation
        other._fallthrough_variation = self._fallthrough_variation
        other._targets = {kind: {idx: set(keys) for idx, keys in by_var.items()} for kind, by_var in self._targets.items()}
        other._rules = [rule._copy(other) for rule in self._rules]
        return other

    def on(self, on: bool) -> "FlagBuilder":
        """Turn targeting on or off."""
        self._on = on
        return self

    def fallthrough_variation(self, variation: Variation) -> "FlagBuilder":
        """Set the variation served when targeting is on and no target or rule matched.

        A bool also makes this a boolean flag; an int is a variation index.
        """
        if isinstance(variation, bool):
            self.boolean_flag()._fallthrough_variation = _variation_for_boolean(variation)
        else:
            self._fallthrough_variation = variation
        return self

    def off_variation(self, variation: Variation) -> "FlagBuilder":
        """Set the variation served when targeting is off.

        A bool also makes this a boolean flag; an int is a variation index.
        """
        if isinstance(variation, bool):
            self.boolean_flag()._off_variation = _variation_for_boolean(variation)
        else:
            self._off_variation = variation
        return self

    def boolean_flag(self) -> "FlagBuilder":
        """Make this a boolean flag (variations ``True``, ``False``; fallthrough ``True``, off ``False``).

        Does nothing if the variations already are exactly ``True``, ``False``.
        """
        if self._is_boolean_flag():
            return self
        return (
            self.variations(True, False)
            .fallthrough_variation(TRUE_VARIATION_INDEX)
            .off_variation(FALSE_VARIATION_INDEX)
        )

    def _is_boolean_flag(self) -> bool:
        v = self._variations
        return len(v) == 2 and v[TRUE_VARIATION_INDEX] is True and v[FALSE_VARIATION_INDEX] is False

    def variations(self, *variations: Any) -> "FlagBuilder":
        """Set the flag's variation values (any JSON values)."""
        self._variations = list(variations)
        return self

    def variation_for_all(self, variation: Variation) -> "FlagBuilder":
        """Serve this variation to every context: targeting on, targets and rules removed.

        The off variation is unchanged. A bool also makes this a boolean flag.
        """
        if isinstance(variation, bool):
            return self.boolean_flag().variation_for_all(_variation_for_boolean(variation))
        return self.clear_rules().clear_targets().on(True).fallthrough_variation(variation)

    def value_for_all(self, value: Any) -> "FlagBuilder":
        """Make ``value`` the only variation and serve it to every context."""
        return self.variations(value).variation_for_all(0)

    def variation_for_user(self, user_key: str, variation: Variation) -> "FlagBuilder":
        """Target the "user" context with this key to this variation (when targeting is on)."""
        return self.variation_for_key(_USER_KIND, user_key, variation)

    def variation_for_key(self, context_kind: str, context_key: str, variation: Variation) -> "FlagBuilder":
        """Target the context of this kind and key to this variation (when targeting is on).

        The key is removed from the flag's other targets of that kind. A bool also makes this a
        boolean flag; an int must be an index of an existing variation to add a target.
        """
        if isinstance(variation, bool):
            return self.boolean_flag().variation_for_key(context_kind, context_key, _variation_for_boolean(variation))
        by_variation = self._targets.setdefault(context_kind, {})
        for idx in range(len(self._variations)):
            if idx == variation:
                by_variation.setdefault(idx, set()).add(context_key)
            elif idx in by_variation:
                by_variation[idx].discard(context_key)
        return self

    def _add_rule(self, rule: "FlagRuleBuilder") -> None:
        self._rules.append(rule)

    def if_match(self, attribute: str, *values: Any) -> "FlagRuleBuilder":
        """Start a rule whose first clause is: the user's ``attribute`` is one of ``values``."""
        return self.if_match_context(_USER_KIND, attribute, *values)

    def if_match_context(self, context_kind: str, attribute: str, *values: Any) -> "FlagRuleBuilder":
        """Start a rule whose first clause is: the ``context_kind`` context's ``attribute`` is one of ``values``."""
        return FlagRuleBuilder(self).and_match_context(context_kind, attribute, *values)

    def if_not_match(self, attribute: str, *values: Any) -> "FlagRuleBuilder":
        """Start a rule whose first clause is: the user's ``attribute`` is not one of ``values``."""
        return self.if_not_match_context(_USER_KIND, attribute, *values)

    def if_not_match_context(self, context_kind: str, attribute: str, *values: Any) -> "FlagRuleBuilder":
        """Start a rule whose first clause is: the ``context_kind`` context's ``attribute`` is not one of ``values``."""
        return FlagRuleBuilder(self).and_not_match_context(context_kind, attribute, *values)

    def clear_rules(self) -> "FlagBuilder":
        """Remove all rules."""
        self._rules = []
        return self

    def clear_targets(self) -> "FlagBuilder":
        """Remove all individual targets."""
        self._targets = {}
        return self

    def _build(self, version: int) -> dict[str, Any]:
        """The flag JSON at ``version``, shaped exactly as the official SDK builds it."""
        targets: List[dict[str, Any]] = []
        context_targets: List[dict[str, Any]] = []
        for kind, by_variation in self._targets.items():
            for idx, keys in by_variation.items():
                values = sorted(keys)
                if kind == _USER_KIND:
                    # User targets live in "targets"; "contextTargets" keeps an empty placeholder for order.
                    targets.append({"variation": idx, "values": values})
                    context_targets.append({"contextKind": kind, "variation": idx, "values": []})
                else:
                    context_targets.append({"contextKind": kind, "variation": idx, "values": values})
        return {
            "key": self._key,
            "version": version,
            "on": self._on,
            "variations": list(self._variations),
            "prerequisites": [],
            "salt": "",
            "offVariation": self._off_variation,
            "fallthrough": {"variation": self._fallthrough_variation},
            "targets": targets,
            "contextTargets": context_targets,
            "rules": [rule._build(str(i)) for i, rule in enumerate(self._rules)],
        }


class FlagRuleBuilder:
    """Builds one flag rule: clauses that must all match, then the variation to serve.

    Start one with ``FlagBuilder.if_match`` (or a sibling), add clauses with ``and_match*``, and
    finish with ``then_return``, which adds the rule to the flag builder and returns that builder.
    """

    def __init__(self, flag_builder: FlagBuilder) -> None:
        self._flag_builder = flag_builder
        self._clauses: List[dict[str, Any]] = []
        self._variation: Optional[int] = None

    def _copy(self, flag_builder: FlagBuilder) -> "FlagRuleBuilder":
        other = FlagRuleBuilder(flag_builder)
        other._clauses = copy.deepcopy(self._clauses)
        other._variation = self._variation
        return other

    def and_match(self, attribute: str, *values: Any) -> "FlagRuleBuilder":
        """Add a clause: the user's ``attribute`` is one of ``values``."""
        return self.and_match_context(_USER_KIND, attribute, *values)

    def and_match_context(self, context_kind: str, attribute: str, *values: Any) -> "FlagRuleBuilder":
        """Add a clause: the ``context_kind`` context's ``attribute`` is one of ``values``."""
        return self._add_clause(context_kind, attribute, values, negate=False)

    def and_not_match(self, attribute: str, *values: Any) -> "FlagRuleBuilder":
        """Add a clause: the user's ``attribute`` is not one of ``values``."""
        return self.and_not_match_context(_USER_KIND, attribute, *values)

    def and_not_match_context(self, context_kind: str, attribute: str, *values: Any) -> "FlagRuleBuilder":
        """Add a clause: the ``context_kind`` context's ``attribute`` is not one of ``values``."""
        return self._add_clause(context_kind, attribute, values, negate=True)

    def _add_clause(self, context_kind: str, attribute: str, values: tuple[Any, ...],
                    negate: bool) -> "FlagRuleBuilder":
        self._clauses.append(
            {"contextKind": context_kind, "attribute": attribute, "op": "in", "values": list(values), "negate": negate}
        )
        return self

    def then_return(self, variation: Variation) -> FlagBuilder:
        """Finish the rule, serving ``variation`` (a bool also makes the flag boolean); returns the flag builder."""
        if isinstance(variation, bool):
            self._flag_builder.boolean_flag()
            return self.then_return(_variation_for_boolean(variation))
        self._variation = variation
        self._flag_builder._add_rule(self)
        return self._flag_builder

    def _build(self, rule_id: str) -> dict[str, Any]:
        return {"id": "rule" + rule_id, "variation": self._variation, "clauses": copy.deepcopy(self._clauses)}
