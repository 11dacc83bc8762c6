"""Allocation discipline of the compiled evaluation path, counted at the object allocator."""
import gc
import itertools

import pytest

from ldfast import Context
from tests.helpers import local_client

pytestmark = pytest.mark.c_extension

N = 10_000

FLAGS = {
    "simple": {"key": "simple", "version": 1, "on": True, "variations": [True, False], "fallthrough": {"variation": 0}},
    "prereq": {"key": "prereq", "version": 1, "on": True, "variations": [True, False], "fallthrough": {"variation": 0}},
    "heavy": {
        "key": "heavy", "version": 1, "on": True, "salt": "s", "variations": ["a", "b", "c"], "offVariation": 0,
        "prerequisites": [{"key": "prereq", "variation": 0}],
        "targets": [{"variation": 0, "values": ["t%d" % i for i in range(100)]}],
        "rules": [
            {"id": "r0", "variation": 1, "clauses": [
                {"attribute": "email", "op": "endsWith", "values": ["@example.org"]}]},
            {"id": "r1", "variation": 1, "clauses": [
                {"attribute": "plan", "op": "in", "values": ["p%d" % i for i in range(50)]}]},
            {"id": "r2", "variation": 1, "clauses": [
                {"attribute": "version", "op": "semVerGreaterThan", "values": ["3.0.0"]}]},
            {"id": "r3", "variation": 1, "clauses": [
                {"attribute": "email", "op": "matches", "values": ["^admin@"]}]},
            {"id": "r4", "variation": 1, "clauses": [
                {"attribute": "seats", "op": "greaterThan", "values": [500]}]},
            {"id": "r5", "variation": 2, "clauses": [
                {"attribute": "groups", "op": "in", "values": ["beta"]},
                {"attribute": "", "op": "segmentMatch", "values": ["seg"]},
                {"attribute": "seats", "op": "greaterThan", "values": [100]}]},
        ],
        "fallthrough": {"rollout": {"variations": [{"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}]}},
    },
}
SEGMENTS = {"seg": {"key": "seg", "version": 1, "rules": [{"clauses": [
    {"attribute": "plan", "op": "in", "values": ["enterprise"]}]}]}}
USER = {"kind": "user", "key": "u1", "email": "alice@example.com", "plan": "enterprise", "version": "2.5.1",
        "seats": 120, "groups": ["qa", "beta"]}


def allocations_per_call(fn):
    from tests.support import alloc_count

    for _ in range(100):  # warm the memo caches
        fn()
    gc.collect()
    gc.disable()
    try:
        alloc_count.start()
        for _ in itertools.repeat(None, N):  # range() would allocate an int per step
            fn()
        count = alloc_count.stop()
    finally:
        gc.enable()
    return count / N


@pytest.fixture(scope="module")
def client():
    c = local_client(FLAGS, SEGMENTS)
    yield c
    c.close()


def test_simple_flag_allocates_nothing(client):
    ctx = Context.from_dict(USER)
    assert client.variation("simple", ctx, None) is True
    # (a handful of allocations in 10,000 calls come from the interpreter itself, not the call)
    assert allocations_per_call(lambda: client.variation("simple", ctx, None)) < 0.001
    assert allocations_per_call(lambda: client.variation_detail("simple", ctx, None)) < 0.001


def test_rule_heavy_flag_allocates_only_its_evaluation_state(client):
    ctx = Context.from_dict(USER)
    assert client.variation_detail("heavy", ctx, None).reason == {"kind": "RULE_MATCH", "ruleIndex": 5, "ruleId": "r5"}
    # one object: the per-evaluation state that prerequisites and segments need; no dicts, no lists
    assert allocations_per_call(lambda: client.variation("heavy", ctx, None)) < 1.001
    assert allocations_per_call(lambda: client.variation_detail("heavy", ctx, None)) < 1.001


def test_rollout_allocates_nothing(client):
    ctx = Context.from_dict({"kind": "user", "key": "nobody"})
    assert client.variation_detail("heavy", ctx, None).reason == {"kind": "FALLTHROUGH"}
    assert allocations_per_call(lambda: client.variation("heavy", ctx, None)) < 1.001


def test_the_counter_counts():
    assert allocations_per_call(lambda: None) < 0.001
    assert allocations_per_call(lambda: object()) >= 1
