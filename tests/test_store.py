"""The in-memory store: version rules, tombstones, raw items out, preprocessed swaps."""
from ldfast.feature_store import InMemoryFeatureStore, dependency_order, dependency_order_steps
from ldfast.model import parse_flag
from ldfast.versioned_data_kind import FEATURES, SEGMENTS


def f(key, version, **kw):
    d = {"key": key, "version": version, "on": True, "variations": [1], "fallthrough": {"variation": 0}}
    d.update(kw)
    return d


def test_version_rules_and_tombstones():
    s = InMemoryFeatureStore()
    assert not s.initialized
    s.init({FEATURES: {"a": f("a", 2)}, SEGMENTS: {}})
    assert s.initialized and s.get(FEATURES, "a")["version"] == 2
    assert not s.upsert(FEATURES, f("a", 2, on=False))       # same version: kept
    assert not s.upsert(FEATURES, f("a", 1))
    assert s.upsert(FEATURES, f("a", 3)) and s.get(FEATURES, "a")["version"] == 3
    assert s.delete(FEATURES, "a", 4) and s.get(FEATURES, "a") is None
    assert not s.upsert(FEATURES, f("a", 4))                 # a tombstone blocks older/equal versions
    assert s.all(FEATURES) == {}
    assert s.upsert(FEATURES, f("a", 5)) and list(s.all(FEATURES)) == ["a"]


def test_malformed_item_is_kept_and_marked():
    s = InMemoryFeatureStore()
    s.init({FEATURES: {"bad": {"key": "bad", "version": 1, "rules": "nope"}, "ok": f("ok", 1)}})
    assert s._flags["bad"].error and s._flags["ok"].error is None
    assert s.get(FEATURES, "bad") == {"key": "bad", "version": 1, "rules": "nope"}


def test_init_preprocessed_swaps_in_parsed_items():
    s = InMemoryFeatureStore()
    flags = {"x": parse_flag(f("x", 7))}
    s.init_preprocessed(flags, {})
    flags.clear()  # the store keeps its own map
    assert s.initialized and s.get(FEATURES, "x")["version"] == 7 and s.all(SEGMENTS) == {}


def _chain_flags(n):
    """n flags where flag i has flag i+1 as prerequisite (listed first-to-last), plus a malformed one."""
    flags = {}
    for i in range(n):
        prereqs = [{"key": "f%d" % (i + 1), "variation": 0}] if i + 1 < n else []
        flags["f%d" % i] = parse_flag(f("f%d" % i, 1, prerequisites=prereqs))
    flags["bad"] = parse_flag({"key": "bad", "version": 1, "prerequisites": [{"key": "f0"}], "rules": "nope"})
    return flags


def test_dependency_order_puts_prerequisites_first_in_one_call_or_in_steps():
    flags = _chain_flags(1200)
    expected = ["f%d" % i for i in range(1199, -1, -1)] + ["bad"]  # the chain's end first
    assert list(dependency_order(flags)) == expected
    out = {}
    steps = list(dependency_order_steps(flags, out, step=100))
    assert len(steps) == len(flags) // 100  # it yields, so a reactor can run between slices
    assert list(out) == expected


def test_init_preprocessed_ordered_keeps_the_given_order():
    flags = _chain_flags(3)
    s = InMemoryFeatureStore()
    s.init_preprocessed(dict(flags), {})  # orders them itself
    assert list(s.all(FEATURES)) == ["f2", "f1", "f0", "bad"]
    s = InMemoryFeatureStore()
    s.init_preprocessed(dependency_order(flags), {}, ordered=True)
    assert list(s.all(FEATURES)) == ["f2", "f1", "f0", "bad"]
    s = InMemoryFeatureStore()
    s.init_preprocessed(dict(flags), {}, ordered=True)  # trusted as given
    assert list(s.all(FEATURES)) == ["f0", "f1", "f2", "bad"]
