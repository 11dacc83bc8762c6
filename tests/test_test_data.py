"""Tests for ldfast.integrations.test_data: same flag JSON as the official TestData, and live updates."""
from __future__ import annotations

import json
import threading
from typing import Any, Callable, Dict, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ldclient.integrations import test_data as official

from ldfast.integrations import test_data as ours
from ldfast.versioned_data_kind import FEATURES, SEGMENTS


class RecordingStore:
    """A feature store stand-in that records what a data source writes, by namespace."""

    def __init__(self) -> None:
        self.inits: List[Dict[str, Dict[str, dict]]] = []
        self.upserts: List[Tuple[str, dict]] = []
        self.items: Dict[str, Dict[str, dict]] = {}

    def init(self, all_data: Any) -> None:
        data = {kind.namespace: dict(items) for kind, items in all_data.items()}
        self.inits.append(data)
        self.items = {ns: dict(items) for ns, items in data.items()}

    def upsert(self, kind: Any, item: dict) -> None:
        self.upserts.append((kind.namespace, item))
        current = self.items.setdefault(kind.namespace, {}).get(item["key"])
        if current is None or current["version"] < item["version"]:
            self.items[kind.namespace][item["key"]] = item


def as_json(value: Any) -> str:
    # json tells True from 1 and keeps key order, so equal strings mean identical flag JSON.
    return json.dumps(value)


Scenario = Callable[[Any], None]


def run_both(scenario: Scenario) -> Tuple[RecordingStore, RecordingStore, RecordingStore, RecordingStore]:
    """Run ``scenario`` against the official TestData and ours.

    Each gets one store attached before the scenario (it sees upserts) and one attached after
    (it sees the final data through init).
    """
    stores = []
    for module in (official, ours):
        td = module.TestData.data_source()
        early = RecordingStore()
        source = td(None, early, threading.Event())
        source.start()
        scenario(td)
        late = RecordingStore()
        late_source = td(None, late, threading.Event())
        late_source.start()
        source.stop()
        late_source.stop()
        stores.append((early, late))
    (off_early, off_late), (our_early, our_late) = stores
    return off_early, off_late, our_early, our_late


def assert_same(scenario: Scenario) -> List[Tuple[str, dict]]:
    off_early, off_late, our_early, our_late = run_both(scenario)
    assert as_json(our_early.upserts) == as_json(off_early.upserts)
    assert as_json(our_late.inits[-1]["features"]) == as_json(off_late.inits[-1]["features"])
    assert our_late.inits[-1]["segments"] == {}
    return our_early.upserts


# -- hand-written scenarios, one or more per builder method -------------------------------------


def s_default(td: Any) -> None:
    td.update(td.flag("f"))


def s_on_off(td: Any) -> None:
    td.update(td.flag("f").on(False))
    td.update(td.flag("f").on(True))


def s_fallthrough_and_off(td: Any) -> None:
    td.update(td.flag("a").fallthrough_variation(False).off_variation(True))
    td.update(td.flag("b").variations("x", "y", "z").fallthrough_variation(2).off_variation(1))
    # a bool turns a non-boolean flag back into a boolean one
    td.update(td.flag("b").fallthrough_variation(True))
    td.update(td.flag("c").variations("x", "y").off_variation(False))


def s_variations(td: Any) -> None:
    td.update(td.flag("s").variations("red", "green", "blue"))
    td.update(td.flag("j").variations({"a": [1, 2]}, [None], 1.5, 0, "").fallthrough_variation(3))
    td.update(td.flag("one").variations(True))
    td.update(td.flag("none").variations())


def s_boolean_flag(td: Any) -> None:
    td.update(td.flag("f").variations(1, 0).boolean_flag())
    td.update(td.flag("g").variations(True, False).fallthrough_variation(1).boolean_flag())
    td.update(td.flag("h").variations(False, True).boolean_flag())


def s_variation_for_all(td: Any) -> None:
    td.update(td.flag("t").variation_for_all(True))
    td.update(td.flag("f").variation_for_all(False))
    td.update(
        td.flag("i").variations("a", "b", "c").off_variation(0).on(False)
        .variation_for_user("u", 1).if_match("name", "x").then_return(2).variation_for_all(2)
    )


def s_value_for_all(td: Any) -> None:
    td.update(td.flag("s").value_for_all("hello"))
    td.update(td.flag("d").value_for_all({"nested": {"list": [1, "two", None]}}))
    td.update(td.flag("b").value_for_all(True))
    td.update(td.flag("n").on(False).off_variation(1).value_for_all(None))


def s_user_targets(td: Any) -> None:
    td.update(td.flag("f").variation_for_user("b", True).variation_for_user("a", True).variation_for_user("c", False))
    # moving a user between variations leaves an empty target behind, as the official does
    td.update(td.flag("f").variation_for_user("c", True))
    td.update(td.flag("m").variations("x", "y", "z").variation_for_user("u", 2).variation_for_user("v", 0))


def s_key_targets(td: Any) -> None:
    td.update(
        td.flag("f")
        .variation_for_key("org", "o2", True)
        .variation_for_user("u1", False)
        .variation_for_key("org", "o1", False)
        .variation_for_key("device", "d1", 1)
        .variation_for_key("user", "u2", 0)
    )
    td.update(td.flag("out").variations("a", "b").variation_for_key("org", "o", 7).variation_for_user("u", 5))
    td.update(td.flag("f").variation_for_key("org", "o2", False))


def s_rules(td: Any) -> None:
    td.update(
        td.flag("f")
        .if_match("name", "Patsy", "Edina").then_return(True)
        .if_not_match("country", "gb").and_match("plan", "gold").and_not_match("age", 1, 2).then_return(False)
        .if_match_context("org", "tier", "a").and_match_context("device", "os", "ios", "android").then_return(0)
        .if_not_match_context("org", "name", "x").and_not_match_context("user", "email").then_return(1)
    )
    td.update(td.flag("m").variations("a", "b", "c").if_match("k", "v").then_return(2))
    # a bool result turns a non-boolean flag into a boolean one
    td.update(td.flag("n").variations("a", "b", "c").if_match("k", "v").then_return(True))


def s_clear(td: Any) -> None:
    td.update(td.flag("f").variation_for_user("u", True).if_match("a", "b").then_return(False))
    td.update(td.flag("f").clear_rules())
    td.update(td.flag("f").if_match("c", "d").then_return(True).clear_targets())
    td.update(td.flag("f").clear_rules().clear_targets())


def s_versions(td: Any) -> None:
    builder = td.flag("f").variation_for_user("u", False)
    td.update(builder)
    td.update(td.flag("g"))
    # changing a builder after update does nothing until it is updated again
    td.update(td.flag("f").on(False))
    td.update(builder)
    builder.variation_for_user("w", False)
    td.update(builder)
    td.update(td.flag("f").on(True))


def s_flag_copies_previous(td: Any) -> None:
    td.update(td.flag("f").variations("a", "b", "c").fallthrough_variation(2).variation_for_key("org", "o", 1)
              .if_match("x", "y").then_return(0))
    td.update(td.flag("f").off_variation(0))
    td.update(td.flag("f").if_match("z", 1).then_return(1))


SCENARIOS = [
    s_default, s_on_off, s_fallthrough_and_off, s_variations, s_boolean_flag, s_variation_for_all,
    s_value_for_all, s_user_targets, s_key_targets, s_rules, s_clear, s_versions, s_flag_copies_previous,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__[2:])
def test_same_flag_json_as_official(scenario: Scenario) -> None:
    upserts = assert_same(scenario)
    assert upserts, "the scenario must produce flags"


def test_versions_start_at_one_and_increment_per_key() -> None:
    upserts = assert_same(s_versions)
    assert [(item["key"], item["version"]) for _, item in upserts] == [
        ("f", 1), ("g", 1), ("f", 2), ("f", 3), ("f", 4), ("f", 5)
    ]
    assert upserts[2][1]["on"] is False
    assert upserts[3][1]["targets"] == [{"variation": 1, "values": ["u"]}]
    assert upserts[3][1]["on"] is True
    assert upserts[4][1]["targets"] == [{"variation": 1, "values": ["u", "w"]}]


def test_builder_public_api_matches_official() -> None:
    for name in ("TestData", "FlagBuilder", "FlagRuleBuilder"):
        off_cls = getattr(official, name)
        our_cls = getattr(ours, name)
        off_public = {n for n in dir(off_cls) if not n.startswith("_")}
        our_public = {n for n in dir(our_cls) if not n.startswith("_")}
        assert off_public <= our_public, name


# -- random builder programs, run on both ---------------------------------------------------

_values = st.one_of(st.booleans(), st.integers(-2, 2), st.sampled_from(["", "a", "b"]), st.none(),
                    st.just({"k": [1]}))
_variation = st.one_of(st.booleans(), st.integers(0, 4))
_kind = st.sampled_from(["user", "org", "device"])
_ckey = st.sampled_from(["a", "b", "c"])
_clause = st.tuples(st.booleans(), st.one_of(st.none(), _kind), st.sampled_from(["name", "key", "x"]),
                    st.lists(_values, max_size=3))
_op = st.one_of(
    st.tuples(st.just("on"), st.booleans()),
    st.tuples(st.just("fallthrough_variation"), _variation),
    st.tuples(st.just("off_variation"), _variation),
    st.tuples(st.just("boolean_flag")),
    st.tuples(st.just("variations"), st.lists(_values, max_size=4)),
    st.tuples(st.just("variation_for_all"), _variation),
    st.tuples(st.just("value_for_all"), _values),
    st.tuples(st.just("variation_for_user"), _ckey, _variation),
    st.tuples(st.just("variation_for_key"), _kind, _ckey, _variation),
    st.tuples(st.just("rule"), st.lists(_clause, min_size=1, max_size=3), _variation),
    st.tuples(st.just("clear_rules")),
    st.tuples(st.just("clear_targets")),
)
_program = st.lists(st.tuples(st.sampled_from(["f1", "f2"]), st.lists(_op, max_size=6)), min_size=1, max_size=5)


def _apply(builder: Any, op: tuple) -> Any:
    name = op[0]
    if name == "variations":
        return builder.variations(*op[1])
    if name == "rule":
        clauses, result = op[1], op[2]
        rule = None
        for i, (negate, kind, attr, values) in enumerate(clauses):
            if i == 0:
                target = builder
                method = ("if_not_match" if negate else "if_match")
            else:
                target = rule
                method = ("and_not_match" if negate else "and_match")
            if kind is None:
                rule = getattr(target, method)(attr, *values)
            else:
                rule = getattr(target, method + "_context")(kind, attr, *values)
        return rule.then_return(result)
    return getattr(builder, name)(*op[1:])


@settings(max_examples=300, deadline=None)
@given(_program)
def test_random_builder_programs_match_official(program: list) -> None:
    def scenario(td: Any) -> None:
        for key, ops in program:
            builder = td.flag(key)
            for op in ops:
                builder = _apply(builder, op)
            td.update(builder)

    assert_same(scenario)


# -- the data source itself -----------------------------------------------------------------


def test_source_inits_store_signals_ready_and_is_initialized() -> None:
    td = ours.TestData.data_source()
    td.update(td.flag("f").variation_for_all(False))
    store, ready = RecordingStore(), threading.Event()
    source = td(None, store, ready)
    assert not ready.is_set()
    source.start()
    assert ready.is_set()
    assert source.initialized() and source.is_alive()
    assert set(store.items["features"]) == {"f"}
    source.stop()
    assert not source.is_alive()


def test_updates_reach_every_running_source_but_not_stopped_ones() -> None:
    td = ours.TestData.data_source()
    a, b = RecordingStore(), RecordingStore()
    source_a = td(None, a, threading.Event())
    source_b = td(None, b, threading.Event())
    source_a.start()
    source_b.start()
    td.update(td.flag("f").variation_for_all(False))
    assert a.items["features"]["f"]["version"] == 1
    assert b.items["features"]["f"]["version"] == 1
    source_a.stop()
    source_a.stop()  # stopping twice is harmless
    td.update(td.flag("f").variation_for_all(True))
    assert a.items["features"]["f"]["version"] == 1
    assert b.items["features"]["f"]["version"] == 2
    source_b.stop()


def test_each_store_gets_its_own_copy_of_the_data() -> None:
    td = ours.TestData.data_source()
    a, b = RecordingStore(), RecordingStore()
    td(None, a, threading.Event()).start()
    td(None, b, threading.Event()).start()
    td.update(td.flag("f").variations("x", "y"))
    a.items["features"]["f"]["variations"].append("mutated")
    assert b.items["features"]["f"]["variations"] == ["x", "y"]
    c = RecordingStore()
    td(None, c, threading.Event()).start()
    assert c.items["features"]["f"]["variations"] == ["x", "y"]


def test_builders_do_not_share_state_after_update() -> None:
    # As documented for the official SDK ("subsequent changes to this FlagBuilder do not affect
    # the test data"); the official 9.20 in fact lets a later variation_for_user on the builder
    # leak into td.flag(key), because its copies share the target sets. ldfast does not.
    td = ours.TestData.data_source()
    first = td.flag("f").variation_for_user("a", True)
    td.update(first)
    first.variation_for_user("z", True)
    second = td.flag("f").variation_for_user("b", True)
    second.if_match("n", "v").then_return(False)
    # neither "b" nor the rule leaked into the stored builder or into ``first``
    third = td.flag("f")
    assert third._build(9)["targets"] == [{"variation": 0, "values": ["a"]}]
    assert third._build(9)["rules"] == []
    assert first._build(9)["targets"] == [{"variation": 0, "values": ["a", "z"]}]


def test_a_store_that_raises_does_not_stop_other_sources() -> None:
    class BrokenStore(RecordingStore):
        def upsert(self, kind: Any, item: dict) -> None:
            raise RuntimeError("boom")

    td = ours.TestData.data_source()
    good = RecordingStore()
    td(None, BrokenStore(), threading.Event()).start()
    td(None, good, threading.Event()).start()
    td.update(td.flag("f"))
    assert good.items["features"]["f"]["version"] == 1


def test_preconfigured_flag_and_segment_versions() -> None:
    td = ours.TestData.data_source()
    store = RecordingStore()
    td(None, store, threading.Event()).start()
    flag = {"key": "p", "on": True, "variations": ["a", "b"], "fallthrough": {"variation": 1}}
    td.use_preconfigured_flag(flag)
    assert store.items["features"]["p"]["version"] == 1
    assert "version" not in flag  # the caller's dict is not changed
    td.use_preconfigured_flag(dict(flag, version=10))
    assert store.items["features"]["p"]["version"] == 10
    td.use_preconfigured_flag(dict(flag, version=3))
    assert store.items["features"]["p"]["version"] == 11
    # the builder starts from the defaults, and keeps counting versions
    td.update(td.flag("p"))
    assert store.items["features"]["p"]["version"] == 12
    assert store.items["features"]["p"]["variations"] == [True, False]

    td.use_preconfigured_segment({"key": "s", "included": ["u"]})
    td.use_preconfigured_segment({"key": "s", "included": ["u", "v"]})
    assert store.items["segments"]["s"] == {"key": "s", "included": ["u", "v"], "version": 2}
    late = RecordingStore()
    td(None, late, threading.Event()).start()
    assert late.inits[-1]["segments"]["s"]["version"] == 2
    with pytest.raises(ValueError):
        td.use_preconfigured_flag({"on": True})


def test_kinds_passed_to_store_are_ldfast_kinds() -> None:
    td = ours.TestData.data_source()
    seen: List[Any] = []

    class KindStore(RecordingStore):
        def init(self, all_data: Any) -> None:
            seen.extend(all_data)
            super().init(all_data)

        def upsert(self, kind: Any, item: dict) -> None:
            seen.append(kind)
            super().upsert(kind, item)

    td(None, KindStore(), threading.Event()).start()
    td.update(td.flag("f"))
    td.use_preconfigured_segment({"key": "s"})
    assert seen == [FEATURES, SEGMENTS, FEATURES, SEGMENTS]


# -- end to end, through ldfast.LDClient ----------------------------------------------------


def _client(td: Any) -> Any:
    import ldfast

    return ldfast.LDClient(config=ldfast.Config("sdk-key", update_processor_class=td, send_events=False), start_wait=5)


def _official_client(td: Any) -> Any:
    import ldclient

    return ldclient.LDClient(config=ldclient.Config("sdk-key", update_processor_class=td, send_events=False),
                             start_wait=5)


def _contexts() -> List[Tuple[Any, Any]]:
    import ldclient

    import ldfast

    specs = [
        {"kind": "user", "key": "u1", "name": "Patsy"},
        {"kind": "user", "key": "u2", "name": "Bob", "country": "gb"},
        {"kind": "user", "key": "u3", "country": "us"},
        {"kind": "org", "key": "o1", "tier": "gold"},
        {"kind": "multi", "user": {"key": "u4", "name": "Edina"}, "org": {"key": "o2", "tier": "silver"}},
    ]
    return [(ldfast.Context.from_dict(s), ldclient.Context.from_dict(s)) for s in specs]


def _configure(td: Any, step: int) -> None:
    if step == 0:
        td.update(td.flag("bool").variation_for_all(True))
        td.update(td.flag("str").variations("red", "green", "blue").fallthrough_variation(1).off_variation(0))
    elif step == 1:
        td.update(td.flag("bool").fallthrough_variation(False).variation_for_user("u1", True)
                  .variation_for_key("org", "o1", True)
                  .if_match("name", "Edina").then_return(True))
        td.update(td.flag("str").if_not_match("country", "gb").and_match_context("user", "name", "Bob", "Patsy")
                  .then_return(2).if_match_context("org", "tier", "silver").then_return(0))
    elif step == 2:
        td.update(td.flag("bool").on(False))
        td.update(td.flag("str").value_for_all({"obj": [1, 2]}))


def test_client_evaluates_like_official_client_and_updates_live() -> None:
    our_td = ours.TestData.data_source()
    off_td = official.TestData.data_source()
    _configure(our_td, 0)
    _configure(off_td, 0)
    client = _client(our_td)
    off_client = _official_client(off_td)
    try:
        assert client.is_initialized()
        for step in range(3):
            if step:
                _configure(our_td, step)
                _configure(off_td, step)
            for ctx, off_ctx in _contexts():
                for key in ("bool", "str", "missing"):
                    got = client.variation_detail(key, ctx, "default")
                    want = off_client.variation_detail(key, off_ctx, "default")
                    assert (as_json(got.value), got.variation_index, got.reason) == (
                        as_json(want.value), want.variation_index, want.reason
                    ), (step, key, ctx)
    finally:
        client.close()
        off_client.close()


def test_update_changes_value_live_in_every_client() -> None:
    import ldfast

    td = ours.TestData.data_source()
    td.update(td.flag("f").variation_for_all(True))
    first = _client(td)
    second = _client(td)
    ctx = ldfast.Context.create("someone")
    try:
        assert first.variation("f", ctx, None) is True
        assert second.variation("f", ctx, None) is True
        td.update(td.flag("f").variation_for_all(False))
        assert first.variation("f", ctx, None) is False
        assert second.variation("f", ctx, None) is False
        first.close()
        td.update(td.flag("f").value_for_all("after close"))
        assert second.variation("f", ctx, None) == "after close"
        state = second.all_flags_state(ctx)
        assert state.to_json_dict()["f"] == "after close"
    finally:
        first.close()
        second.close()


def test_client_uses_preconfigured_segment_and_flag() -> None:
    import ldfast

    td = ours.TestData.data_source()
    client = _client(td)
    try:
        td.use_preconfigured_segment({"key": "beta", "included": ["u1"], "salt": "x"})
        td.use_preconfigured_flag({
            "key": "seg-flag", "on": True, "variations": ["out", "in"], "offVariation": 0,
            "fallthrough": {"variation": 0}, "salt": "s",
            "rules": [{"id": "r", "variation": 1,
                       "clauses": [{"attribute": "", "op": "segmentMatch", "values": ["beta"], "negate": False}]}],
        })
        assert client.variation("seg-flag", ldfast.Context.create("u1"), None) == "in"
        assert client.variation("seg-flag", ldfast.Context.create("u2"), None) == "out"
    finally:
        client.close()
