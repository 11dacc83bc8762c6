"""Stored flag data stays out of the cyclic garbage collector's way, and the store still behaves.

The compiled model untracks every object and container it builds (they form trees: no cycles), and
a put keeps each item's JSON text instead of its decoded tree. Proved here: nothing reachable from a
stored item is tracked (compiled twin), the reachable graph is acyclic (both twins: what makes
untracking safe), dropping the store frees everything, a caller's own dicts are left alone, and the
store interface (get/all: the official raw dicts, fresh copies) and evaluation are unchanged.
"""
import gc
import json
import re
import sys
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings

import ldfast
from ldfast._ext import model as model_twin
from ldfast._ext.operators import InValues, NumBounds, RegexValues
from ldfast.datasource._payload import put_items
from ldfast.feature_store import InMemoryFeatureStore
from ldfast.model import parse_flag, parse_segment
from ldfast.versioned_data_kind import FEATURES, SEGMENTS
from tests import strategies as S



def compiled_only(test):
    """For the compiled twin (deselected by --no-c-extensions): the pure twin cannot untrack."""
    return pytest.mark.c_extension(test)


def assert_compiled():
    assert ldfast.extensions_enabled(), "the compiled twins are not in use"


def big_flag(i):
    """A rule-heavy flag exercising every preprocessed shape (targets, rollouts, each operator kind)."""
    key = "flag-%04d" % i
    clauses = [
        {"attribute": "email", "op": "endsWith", "values": ["@example.com", "@x.org"]},
        {"contextKind": "user", "attribute": "plan", "op": "in", "values": ["gold", 3, True, None, {"a": [1]}]},
        {"attribute": "seats", "op": "greaterThan", "values": [10, 2.5]},
        {"attribute": "version", "op": "semVerLessThan", "values": ["2.0.0-rc.1", "1.0.0"]},
        {"attribute": "version", "op": "semVerEqual", "values": ["1.2.3-beta.2"]},
        {"attribute": "email", "op": "matches", "values": ["^adm[0-9]+@"]},
        {"attribute": "born", "op": "before", "values": ["2020-01-01T00:00:00Z", 1]},
        {"attribute": "", "op": "segmentMatch", "values": ["seg-%d" % (i % 7)]},
        {"contextKind": "org", "attribute": "/a~1b/c", "op": "contains", "values": ["q"], "negate": True},
    ]
    return {
        "key": key, "version": i + 1, "on": True, "salt": key + "-salt",
        "variations": ["a", {"json": [1, {"b": None}]}, [2, 3]],
        "offVariation": 0,
        "prerequisites": [{"key": "flag-%04d" % (i - 1), "variation": 1}] if i else [],
        "targets": [{"values": ["user-%d" % k for k in range(20)], "variation": 1}],
        "contextTargets": [{"contextKind": "org", "values": ["o1", "o2"], "variation": 2},
                           {"contextKind": "user", "values": [], "variation": 1}],
        "rules": [
            {"id": "r0", "clauses": clauses[:5], "variation": 1, "trackEvents": True},
            {"id": "r1", "clauses": clauses[5:],
             "rollout": {"kind": "experiment", "seed": 7, "variations": [
                 {"variation": 0, "weight": 60000}, {"variation": 2, "weight": 40000, "untracked": True}]}},
        ],
        "fallthrough": {"rollout": {"bucketBy": "plan", "variations": [
            {"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}]}},
        "trackEventsFallthrough": True, "clientSide": True,
    }


def big_segment(i):
    return {"key": "seg-%d" % i, "version": 1, "salt": "s", "included": ["u1", "u2"], "excluded": ["u3"],
            "includedContexts": [{"contextKind": "org", "values": ["o1"]}],
            "excludedContexts": [{"contextKind": "org", "values": ["o9"]}],
            "rules": [{"id": "sr", "clauses": [{"attribute": "plan", "op": "in", "values": ["gold"]}],
                       "weight": 50000, "bucketBy": "email"}]}


def put_text(flags, segments):
    return json.dumps({"path": "/", "data": {"flags": flags, "segments": segments}}, separators=(",", ":"))


def stream_put(store, text):
    """What the streaming source does with a put (without the network): decode, preprocess, swap."""
    flags, segments = {}, {}
    for _ in put_items(text, flags, segments, parse_flag, parse_segment, keep_text=True):
        pass
    store.init_preprocessed(flags, segments)
    return store


def data(n_flags=60, n_segments=7):
    return ({"flag-%04d" % i: big_flag(i) for i in range(n_flags)},
            {"seg-%d" % i: big_segment(i) for i in range(n_segments)})


# -- the object graph ----------------------------------------------------------------------------

_SCALARS = (str, int, float, bool, type(None), bytes)
_PATTERN = type(re.compile(""))


def _model_types():
    m = model_twin.implementation
    return (m.Flag, m.Segment, m.Clause, m.AttrRef, m.Rollout, m.VariationOrRollout, m.Rule, m.Prerequisite,
            m.TargetCheck, m.SegmentRule, m.EvaluationDetail, InValues, RegexValues, NumBounds)


def reachable(roots):
    """Every object reachable from ``roots`` through model objects and containers (shared compiled
    patterns are leaves), and whether that graph has a cycle (iterative DFS, three colours)."""
    walk_types = _model_types() + (list, tuple, dict, frozenset, set)
    seen, on_path, has_cycle = {}, set(), False
    for root in roots:
        stack = [(root, iter(gc.get_referents(root)))]
        seen[id(root)] = root
        on_path.add(id(root))
        while stack:
            obj, children = stack[-1]
            for child in children:
                if child is type(obj):  # (an instance of a Python class refers to its class)
                    continue
                if isinstance(child, _SCALARS) or isinstance(child, _PATTERN):
                    seen.setdefault(id(child), child)
                    continue
                assert isinstance(child, walk_types), "unexpected %r in the model graph" % type(child)
                if id(child) in on_path:
                    has_cycle = True
                if id(child) not in seen:
                    seen[id(child)] = child
                    on_path.add(id(child))
                    stack.append((child, iter(gc.get_referents(child))))
                    break
            else:
                stack.pop()
                on_path.discard(id(obj))
    return list(seen.values()), has_cycle


def stored_items(store):
    return list(store._flags.values()) + list(store._segments.values())


def test_the_stored_model_graph_is_acyclic_and_holds_only_model_objects_and_json():
    store = stream_put(InMemoryFeatureStore(), put_text(*data()))
    objects, has_cycle = reachable(stored_items(store))
    assert not has_cycle
    kinds = {type(o) for o in objects}
    assert set(_model_types()[:11]) <= kinds | {model_twin.implementation.TargetCheck}  # every shape built
    assert {InValues, RegexValues, NumBounds, frozenset, tuple, list, dict} <= kinds


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(S.data_sets())
def test_generated_data_graphs_are_acyclic(data_set):
    flags, segments = data_set
    store = stream_put(InMemoryFeatureStore(), put_text(flags, segments))
    assert not reachable(stored_items(store))[1]


@compiled_only
def test_nothing_reachable_from_a_streamed_item_is_tracked():
    assert_compiled()
    store = stream_put(InMemoryFeatureStore(), put_text(*data()))
    objects, _ = reachable(stored_items(store))
    tracked = [o for o in objects if gc.is_tracked(o) and not isinstance(o, _PATTERN)]
    assert tracked == []
    assert all(type(f.raw_json) is str for f in stored_items(store))


@compiled_only
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(S.data_sets())
def test_nothing_reachable_from_generated_items_is_tracked(data_set):
    assert_compiled()
    store = stream_put(InMemoryFeatureStore(), put_text(*data_set))
    objects, _ = reachable(stored_items(store))
    assert [type(o) for o in objects if gc.is_tracked(o) and not isinstance(o, _PATTERN)] == []


@compiled_only
def test_a_put_adds_almost_nothing_for_the_collector_to_walk():
    assert_compiled()
    gc.collect()
    before = len(gc.get_objects())
    store = stream_put(InMemoryFeatureStore(), put_text(*data(n_flags=400)))
    gc.collect()
    added = len(gc.get_objects()) - before
    assert len(store._flags) == 400
    assert added < 40, added  # the store's dicts and a few shared patterns, not ~100 objects per flag


@compiled_only
def test_all_flags_state_leaves_its_per_flag_metadata_to_reference_counting():
    # 400 flags, each with a prerequisite: the metadata dicts and prerequisite lists of one call
    # are untracked (they were promoted through the generations during the call and set off full
    # collections of the application's heap); the result is the same JSON either way.
    assert_compiled()
    flags, segments = data(n_flags=400)
    store = InMemoryFeatureStore()
    store.init({FEATURES: flags, SEGMENTS: segments})
    client = ldfast.LDClient(config=ldfast.Config("k", send_events=False, feature_store=store, use_ldd=True))
    try:
        ctx = ldfast.Context.builder("user-3").set("email", "adm7@example.com").build()
        state = client.all_flags_state(ctx, with_reasons=True)
        metas = state._meta
        assert len(metas) == 400 and sum(1 for m in metas.values() if m.get("prerequisites")) == 399
        assert not any(gc.is_tracked(m) for m in metas.values())
        assert not any(gc.is_tracked(m["prerequisites"]) for m in metas.values() if "prerequisites" in m)
        before = json.dumps(state.to_json_dict())
        gc.collect()
        assert json.dumps(state.to_json_dict()) == before
        meta = next(iter(metas.values()))
        meta["extra"] = {"a container": []}  # CPython tracks a dict again once it holds a container
        assert gc.is_tracked(meta)
    finally:
        client.close()


def test_a_callers_dicts_are_left_to_the_collector():
    raw = big_flag(1)
    store = InMemoryFeatureStore()
    store.upsert(FEATURES, raw)
    assert gc.is_tracked(raw) and gc.is_tracked(raw["rules"]) and gc.is_tracked(raw["variations"])
    assert gc.is_tracked(raw["rules"][0]["clauses"][1]["values"])
    assert store.get(FEATURES, raw["key"]) is raw  # an item given as a dict is returned as given
    assert store._flags[raw["key"]].raw_json is None


# -- freeing ---------------------------------------------------------------------------------------

def test_dropping_the_store_frees_the_stored_data():
    text = put_text(*data(n_flags=200))
    stream_put(InMemoryFeatureStore(), text)  # warm up caches (regexes, semvers, interned strings)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        store = stream_put(InMemoryFeatureStore(), text)
        held = tracemalloc.get_traced_memory()[0] - base
        flag = store._flags["flag-0007"]
        leaf = flag.variations[1]  # a decoded JSON value deep in the model
        assert sys.getrefcount(leaf) > 2
        del store, flag
        freed_by_refcount = sys.getrefcount(leaf) == 2  # only ``leaf`` (and the argument) hold it now
        gc.collect()  # (also empties the interpreter's free lists, which tracemalloc counts as used)
        after = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert freed_by_refcount
    assert held > 1_000_000
    assert after < held / 50, (held, after)


# -- the store interface -----------------------------------------------------------------------

@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(S.data_sets())
def test_get_and_all_return_the_items_as_sent(data_set):
    flags, segments = data_set
    text = put_text(flags, segments)
    sent = json.loads(text)["data"]  # what the official SDK stores
    store = stream_put(InMemoryFeatureStore(), text)
    for kind, name in ((FEATURES, "flags"), (SEGMENTS, "segments")):
        expected = {k: v for k, v in sent[name].items() if v.get("deleted") is not True}
        assert store.all(kind) == expected
        for key, item in sent[name].items():
            assert store.get(kind, key) == (None if item.get("deleted") is True else item)


def test_deeply_nested_values_are_stored_and_read_back():
    deep = "leaf"
    for i in range(600):
        deep = [deep] if i % 2 else {"k": deep}
    flags = {"deep": {"key": "deep", "version": 1, "on": False, "offVariation": 0, "variations": [deep],
                      "fallthrough": {"variation": 0}}}
    store = stream_put(InMemoryFeatureStore(), put_text(flags, {}))
    assert store.get(FEATURES, "deep") == flags["deep"]
    assert store._flags["deep"].off_detail.value == deep


def test_get_returns_a_fresh_copy_each_time():
    store = stream_put(InMemoryFeatureStore(), put_text(*data(n_flags=3)))
    first = store.get(FEATURES, "flag-0001")
    first["variations"].append("changed")
    first["rules"].clear()
    again = store.get(FEATURES, "flag-0001")
    assert again == big_flag(1) and again is not first
    assert store.all(FEATURES)["flag-0001"] == big_flag(1)
    assert store.get(SEGMENTS, "seg-1", lambda item: item["key"]) == "seg-1"


class PutSource:
    """A data source that stores one put, decoded as the streaming source does."""

    def __init__(self, text, store, ready):
        self._text, self._store, self._ready = text, store, ready
        self._initialized = False

    def start(self):
        stream_put(self._store, self._text)
        self._initialized = True
        self._ready.set()

    def stop(self):
        pass

    def initialized(self):
        return self._initialized

    def is_alive(self):
        return False


def streamed_client(flags, segments):
    text = put_text(flags, segments)
    config = ldfast.Config("sdk-key", send_events=False,
                           update_processor_class=lambda config, store, ready: PutSource(text, store, ready))
    return ldfast.LDClient(config=config, start_wait=5)


def test_malformed_streamed_items_are_kept_evaluate_to_malformed_and_read_back_as_sent():
    flags, segments = data(n_flags=2)
    flags["bad"] = {"key": "bad", "version": 4, "variations": [1], "rules": [{"clauses": "nope"}], "on": True}
    segments["badseg"] = {"key": "badseg", "version": 2, "included": "nope"}
    store = stream_put(InMemoryFeatureStore(), put_text(flags, segments))
    assert store._flags["bad"].error and store._segments["badseg"].error
    assert store.get(FEATURES, "bad") == flags["bad"] and store.get(SEGMENTS, "badseg") == segments["badseg"]
    client = streamed_client(flags, segments)
    try:
        detail = client.variation_detail("bad", ldfast.Context.create("u"), "dflt")
        assert detail.value == "dflt" and detail.reason == {"kind": "ERROR", "errorKind": "MALFORMED_FLAG"}
    finally:
        client.close()


def test_evaluation_of_a_streamed_put_equals_the_official_sdk():
    import ldclient

    from tests.test_differential import official_client

    flags, segments = data(n_flags=40)
    ours = streamed_client(flags, segments)
    theirs = official_client(flags, segments)
    try:
        for ctx in ({"kind": "user", "key": "user-3", "email": "adm1@x", "plan": "gold", "seats": 11},
                    {"kind": "user", "key": "zed", "version": "1.5.0", "born": 0},
                    {"kind": "multi", "user": {"key": "u9"}, "org": {"key": "o2", "a/b": {"c": "q"}}}):
            state_a = ours.all_flags_state(ldfast.Context.from_dict(ctx), with_reasons=True).to_json_dict()
            state_b = theirs.all_flags_state(ldclient.Context.from_dict(ctx), with_reasons=True).to_json_dict()
            assert state_a["$valid"] and state_a == state_b
    finally:
        ours.close()
        theirs.close()
