"""The in-memory store: version rules, tombstones, raw items out, preprocessed swaps."""
from ldfast.feature_store import InMemoryFeatureStore
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
