"""Evaluation outcomes and every error kind, through the client."""
import logging

import pytest

import ldfast
from ldfast import Context
from ldfast._ext.bucketing import bucket_prefix, bucket_value
from tests.helpers import local_client


def flag(key, **kw):
    f = {"key": key, "version": 1, "on": True, "variations": ["a", "b", "c"], "fallthrough": {"variation": 0},
         "offVariation": 1, "salt": "salt"}
    f.update(kw)
    return f


@pytest.fixture
def make():
    clients = []

    def _make(flags, segments=None, **cfg):
        c = local_client({f["key"]: f for f in flags}, {s["key"]: s for s in (segments or [])}, **cfg)
        clients.append(c)
        return c

    yield _make
    for c in clients:
        c.close()


def reason(c, key, ctx=None, default="dflt"):
    d = c.variation_detail(key, ctx or {"key": "u"}, default)
    return d.value, d.variation_index, d.reason


def test_bucketing_pinned_values():
    # LaunchDarkly's published check values
    assert bucket_value(bucket_prefix("hashKey", "saltyA", None), "userKeyA") == pytest.approx(0.42157587, abs=1e-8)
    assert bucket_value(bucket_prefix("hashKey", "saltyA", None), "userKeyB") == pytest.approx(0.67084849, abs=1e-8)
    assert bucket_value(bucket_prefix("hashKey", "saltyA", 61), "userKeyA") == pytest.approx(0.09801206, abs=1e-8)
    p = bucket_prefix("hashKey", "saltyA", None)
    assert bucket_value(p, 33333) == bucket_value(p, "33333")
    assert bucket_value(p, 33333.0) == 0.0 and bucket_value(p, True) == 0.0 and bucket_value(p, None) == 0.0


def test_off_prereq_target_rule_fallthrough(make):
    c = make([
        flag("off", on=False),
        flag("off-null", on=False, offVariation=None),
        flag("p", prerequisites=[{"key": "off", "variation": 1}, {"key": "target", "variation": 2}]),
        flag("target", targets=[{"variation": 2, "values": ["u"]}]),
        flag("rule", rules=[{"id": "r0", "variation": 2, "clauses": [{"attribute": "key", "op": "in", "values": ["u"]}]}]),
        flag("ft"),
    ])
    assert reason(c, "off") == ("b", 1, {"kind": "OFF"})
    assert reason(c, "off-null") == ("dflt", None, {"kind": "OFF"})
    assert reason(c, "p") == ("b", 1, {"kind": "PREREQUISITE_FAILED", "prerequisiteKey": "off"})
    assert reason(c, "target") == ("c", 2, {"kind": "TARGET_MATCH"})
    assert reason(c, "rule") == ("c", 2, {"kind": "RULE_MATCH", "ruleIndex": 0, "ruleId": "r0"})
    assert reason(c, "ft") == ("a", 0, {"kind": "FALLTHROUGH"})


@pytest.mark.parametrize("bad", [
    {"offVariation": 7, "on": False},
    {"fallthrough": {"variation": -1}},
    {"fallthrough": {}},
    {"fallthrough": {"rollout": {"variations": []}}},
    {"rules": [{"clauses": [{"attribute": "/", "op": "in", "values": ["x"], "contextKind": "user"}], "variation": 0}]},
    {"rules": [{"clauses": [], "rollout": {"bucketBy": "//", "contextKind": "user", "variations": [{"variation": 0, "weight": 1}]}}]},
    {"prerequisites": [{"key": "self", "variation": 0}]},
    {"variations": "not a list"},          # wrong JSON type: kept as malformed, not rejected
    {"rules": [{"clauses": [{"attribute": "a", "op": "in"}]}]},  # missing required values
    {"version": "1"},
])
def test_malformed_flag_gives_default_and_never_breaks_others(make, bad):
    c = make([flag("self", **bad), flag("good")])
    assert reason(c, "self") == ("dflt", None, {"kind": "ERROR", "errorKind": "MALFORMED_FLAG"})
    assert reason(c, "good") == ("a", 0, {"kind": "FALLTHROUGH"})
    state = c.all_flags_state({"key": "u"})
    assert state.valid and state.get_flag_value("good") == "a" and state.get_flag_value("self") is None


def test_prerequisite_cycle_and_segment_cycle(make):
    c = make([
        flag("a", prerequisites=[{"key": "b", "variation": 0}]),
        flag("b", prerequisites=[{"key": "a", "variation": 0}]),
        flag("s", rules=[{"variation": 2, "clauses": [{"attribute": "", "op": "segmentMatch", "values": ["s1"]}]}]),
    ], [
        {"key": "s1", "version": 1, "rules": [{"clauses": [{"attribute": "", "op": "segmentMatch", "values": ["s2"]}]}]},
        {"key": "s2", "version": 1, "rules": [{"clauses": [{"attribute": "", "op": "segmentMatch", "values": ["s1"]}]}]},
    ])
    malformed = ("dflt", None, {"kind": "ERROR", "errorKind": "MALFORMED_FLAG"})
    assert reason(c, "a") == malformed
    assert reason(c, "s") == malformed


def test_missing_prerequisite_and_segment(make):
    c = make([
        flag("p", prerequisites=[{"key": "nope", "variation": 0}]),
        flag("s", rules=[{"variation": 2, "clauses": [{"attribute": "", "op": "segmentMatch", "values": ["nope"]}]}]),
    ])
    assert reason(c, "p") == ("b", 1, {"kind": "PREREQUISITE_FAILED", "prerequisiteKey": "nope"})
    assert reason(c, "s") == ("a", 0, {"kind": "FALLTHROUGH"})


def test_big_segment_without_store_is_not_configured(make):
    c = make([flag("f", rules=[{"id": "r", "variation": 2, "clauses": [{"attribute": "", "op": "segmentMatch", "values": ["big"]}]}])],
             [{"key": "big", "version": 1, "unbounded": True, "generation": 2, "included": ["u"]}])
    assert reason(c, "f") == ("a", 0, {"kind": "FALLTHROUGH", "bigSegmentsStatus": "NOT_CONFIGURED"})


def test_experiment_reason(make):
    c = make([flag("e", fallthrough={"rollout": {"kind": "experiment", "seed": 61,
                                                 "variations": [{"variation": 0, "weight": 50000},
                                                                {"variation": 1, "weight": 50000, "untracked": True}]}})])
    assert reason(c, "e", {"key": "userKeyA"}) == ("a", 0, {"kind": "FALLTHROUGH", "inExperiment": True})
    assert reason(c, "e", {"key": "userKeyB"})[2] in ({"kind": "FALLTHROUGH"}, {"kind": "FALLTHROUGH", "inExperiment": True})
    # context kind missing: first bucket, not in the experiment
    assert reason(c, "e", Context.create("x", "org")) == ("a", 0, {"kind": "FALLTHROUGH"})


def test_flag_not_found_and_invalid_context(make, caplog):
    c = make([flag("f")])
    assert reason(c, "nope") == ("dflt", None, {"kind": "ERROR", "errorKind": "FLAG_NOT_FOUND"})
    with caplog.at_level(logging.WARNING, logger="ldfast"):
        assert reason(c, "f", {"name": "no key"}) == ("dflt", None, {"kind": "ERROR", "errorKind": "USER_NOT_SPECIFIED"})
        assert reason(c, "f", 42) == ("dflt", None, {"kind": "ERROR", "errorKind": "USER_NOT_SPECIFIED"})
    assert sum("invalid" in r.getMessage() for r in caplog.records) == 2
    assert c.variation("f", None, 7) == 7


def test_unexpected_exception_gives_exception_reason(make, caplog):
    class Weird:
        def __eq__(self, other):
            raise RuntimeError("boom")
        __hash__ = object.__hash__

    c = make([flag("f", rules=[{"variation": 1, "clauses": [{"attribute": "w", "op": "in", "values": [{"a": 1}]}]}])])
    ctx = Context.builder("u").set("w", Weird()).build()
    with caplog.at_level(logging.ERROR, logger="ldfast"):
        assert reason(c, "f", ctx) == ("dflt", None, {"kind": "ERROR", "errorKind": "EXCEPTION"})
    assert any("boom" in r.getMessage() for r in caplog.records)


def test_offline_and_not_ready():
    off = ldfast.LDClient(ldfast.Config(offline=True))
    d = off.variation_detail("f", {"key": "u"}, 1)
    assert (d.value, d.reason) == (1, {"kind": "ERROR", "errorKind": "CLIENT_NOT_READY"})
    assert not off.all_flags_state({"key": "u"}).valid and off.is_offline() and off.is_initialized()
    off.close()

    class NeverReady:
        def __init__(self, *a):
            pass

        def start(self):
            pass

        def stop(self):
            pass

        def initialized(self):
            return False

    c = ldfast.LDClient(ldfast.Config("k", update_processor_class=NeverReady, send_events=False), start_wait=0)
    assert c.variation_detail("f", {"key": "u"}, 1).reason == {"kind": "ERROR", "errorKind": "CLIENT_NOT_READY"}
    assert not c.is_initialized()
    c.close()
    c.close()  # idempotent


def test_config_defaults_override(make):
    c = make([flag("f", on=False, offVariation=None)], defaults={"f": "from-config"})
    assert c.variation("f", {"key": "u"}, "arg") == "from-config"
