"""Benchmark scenarios: flag/segment data, contexts and clients shared by test_bench.py and compare.py.

Both SDKs are fed the same raw JSON (deep-copied per client) through the same in-memory data
source, with analytics events off, so what is measured is evaluation alone.
"""
from __future__ import annotations

import copy
import functools
import logging
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

import ldclient.client
import ldclient.config
import ldclient.context
import ldclient.version
from ldclient.impl.evaluator_common import _bucket_context

import ldfast
from ldfast._ext.bucketing import bucket_prefix, bucket_value
from ldfast.versioned_data_kind import FEATURES as FAST_FEATURES, SEGMENTS as FAST_SEGMENTS
from ldclient.versioned_data_kind import FEATURES as OFFICIAL_FEATURES, SEGMENTS as OFFICIAL_SEGMENTS

IMPLEMENTATIONS = ("ldfast", "official")

SIMPLE_KEY = "simple-flag"
HEAVY_KEY = "heavy-flag"
PREREQ_KEY = "prereq-flag"
SEGMENT_KEY = "beta-segment"
ALL_FLAGS_COUNT = 60
MANY_FLAGS_COUNT = 1000

# The benchmark context: a user whose attributes fail every rule of the rule-heavy flag on its
# last clause except the last rule, which it matches (so every clause of every rule is evaluated).
USER: Dict[str, Any] = {
    "kind": "user",
    "key": "user-bench-0042",
    "name": "Alice Bench",
    "email": "alice@example.com",
    "version": "2.5.1",
    "plan": "enterprise",
    "seats": 120,
    "groups": ["beta", "qa", "admins"],
    "country": "NZ",
}


# -- flag data --------------------------------------------------------------------------------

def _flag(key: str, variations: List[Any], **props: Any) -> dict:
    raw = {
        "key": key,
        "version": 3,
        "on": True,
        "variations": variations,
        "offVariation": len(variations) - 1,
        "fallthrough": {"variation": 0},
        "prerequisites": [],
        "targets": [],
        "contextTargets": [],
        "rules": [],
        "salt": key + "-salt",
        "trackEvents": False,
        "trackEventsFallthrough": False,
        "clientSide": False,
        "deleted": False,
    }
    raw.update(props)
    return raw


def _clause(attribute: str, op: str, values: List[Any], negate: bool = False, kind: str = "user") -> dict:
    return {"contextKind": kind, "attribute": attribute, "op": op, "values": values, "negate": negate}


def simple_flag(key: str = SIMPLE_KEY, variations: Optional[List[Any]] = None, **props: Any) -> dict:
    """On, no targets or rules, serves the fallthrough variation."""
    return _flag(key, variations if variations is not None else [True, False], **props)


PLANS_50 = ["plan-%02d" % i for i in range(49)]  # "enterprise" is added where a clause must match


def heavy_flag(key: str = HEAVY_KEY, last_rule_matches: bool = True, prereq: str = PREREQ_KEY,
               segment: str = SEGMENT_KEY, n: int = 0) -> dict:
    """Targets, contextTargets, a prerequisite, 6 rules and a 3-way fallthrough rollout.

    For ``USER`` rules 0-4 each fail on their last clause; rule 5 matches if ``last_rule_matches``,
    else the context falls through to the rollout.
    """
    targeted = ["user-%05d" % (n * 1000 + i) for i in range(300)]
    rules = [
        {"id": "r0", "clauses": [  # fails on the `in` over 50 plans
            _clause("email", "endsWith", ["@example.com", "@example.org"]),
            _clause("plan", "in", PLANS_50 + ["trial"]),
        ], "variation": 1, "trackEvents": False},
        {"id": "r1", "clauses": [  # fails on the semver comparison
            _clause("seats", "greaterThan", [100]),
            _clause("version", "semVerGreaterThan", ["3.0.0"]),
        ], "variation": 1, "trackEvents": False},
        {"id": "r2", "clauses": [  # fails on the regex
            _clause("", "segmentMatch", [segment]),
            _clause("email", "matches", ["^admin[0-9]*@"]),
        ], "variation": 1, "trackEvents": False},
        {"id": "r3", "clauses": [  # fails on the numeric comparison
            _clause("groups", "in", ["qa", "ops"]),
            _clause("seats", "greaterThan", [500]),
        ], "variation": 1, "trackEvents": False},
        {"id": "r4", "clauses": [  # fails on the negated endsWith
            _clause("plan", "in", PLANS_50 + ["enterprise"]),
            _clause("email", "endsWith", ["@example.com"], negate=True),
        ], "variation": 1, "trackEvents": False},
        {"id": "r5", "clauses": [
            _clause("email", "endsWith", ["@competitor.com", "@example.com"]),
            _clause("plan", "in", PLANS_50 + ["enterprise"]),
            _clause("seats", "greaterThan", [100]),
            _clause("version", "semVerGreaterThan", ["2.0.0"]),
            _clause("", "segmentMatch", [segment]),
            _clause("email", "matches", ["^[a-z]+@example\\.com$" if last_rule_matches else "^nobody@"]),
        ], "variation": 2, "trackEvents": False},
    ]
    return _flag(
        key, ["control", "treatment-a", "treatment-b"],
        prerequisites=[{"key": prereq, "variation": 0}],
        targets=[{"values": targeted[:200], "variation": 0}, {"values": targeted[200:], "variation": 1}],
        contextTargets=[
            {"contextKind": "user", "values": [], "variation": 0},
            {"contextKind": "org", "values": ["org-%d" % i for i in range(50)], "variation": 1},
        ],
        rules=rules,
        fallthrough={"rollout": {"variations": [
            {"variation": 0, "weight": 33333},
            {"variation": 1, "weight": 33333},
            {"variation": 2, "weight": 33334},
        ]}},
        offVariation=0,
    )


def beta_segment(key: str = SEGMENT_KEY) -> dict:
    """Included keys (not the benchmark user's) and a rule that the benchmark user matches."""
    return {
        "key": key,
        "version": 2,
        "included": ["user-%05d" % i for i in range(5000, 5200)],
        "excluded": ["user-%05d" % i for i in range(6000, 6020)],
        "includedContexts": [],
        "excludedContexts": [],
        "rules": [{"id": "sr0", "clauses": [_clause("groups", "in", ["beta"])]}],
        "salt": key + "-salt",
        "deleted": False,
    }


def base_data() -> Tuple[Dict[str, dict], Dict[str, dict]]:
    """The simple flag, the rule-heavy flag, its prerequisite and its segment."""
    flags = {
        SIMPLE_KEY: simple_flag(),
        PREREQ_KEY: simple_flag(PREREQ_KEY, ["on", "off"]),
        HEAVY_KEY: heavy_flag(),
    }
    return flags, {SEGMENT_KEY: beta_segment()}


def all_flags_data(count: int = ALL_FLAGS_COUNT) -> Tuple[Dict[str, dict], Dict[str, dict]]:
    """``count`` flags of mixed shapes (including the base data's three), in a repeating cycle of six.

    Every key carries its own loop index, so keys stay unique at any count (and the first 60 are the
    same at every count).
    """
    flags, segments = base_data()
    i = 0
    while len(flags) < count:
        shape = i % 6
        if shape == 0:
            flags["bool-%02d" % i] = simple_flag("bool-%02d" % i, clientSide=i % 12 == 0)
        elif shape == 1:
            flags["string-%02d" % i] = simple_flag("string-%02d" % i, ["red", "green", "blue"],
                                                   fallthrough={"variation": 1}, trackEvents=True)
        elif shape == 2:
            flags["json-%02d" % i] = simple_flag("json-%02d" % i, [{"limit": 10, "tags": ["a"]}, {"limit": 0}],
                                                 on=i % 4 != 0)  # some off: serve offVariation
        elif shape == 3:
            flags["heavy-match-%02d" % i] = heavy_flag("heavy-match-%02d" % i, True, n=i)
        elif shape == 4:
            key = "heavy-rollout-%02d" % i
            flags[key] = dict(heavy_flag(key, False, n=i), trackEventsFallthrough=True)
        else:
            key = "targeted-%02d" % i
            flags[key] = simple_flag(key, [1, 2, 3], targets=[
                {"values": ["user-%05d" % j for j in range(100)] + [USER["key"]], "variation": 2}])
        i += 1
    return flags, segments


# -- clients ----------------------------------------------------------------------------------

class _StaticSource:
    """An update processor for either SDK: stores a fixed data set when started."""

    def __init__(self, store: Any, ready: threading.Event, data: dict):
        self._store = store
        self._ready = ready
        self._data = data
        self._initialized = False

    def start(self) -> None:
        try:
            self._store.init(self._data)
            self._initialized = True
        finally:
            self._ready.set()

    def stop(self) -> None:
        pass

    def initialized(self) -> bool:
        return self._initialized

    def is_alive(self) -> bool:
        return True


def _source(features: Any, segments_kind: Any, flags: dict, segments: dict) -> Callable[..., _StaticSource]:
    data = {features: copy.deepcopy(flags), segments_kind: copy.deepcopy(segments)}

    def factory(config: Any, store: Any, ready: threading.Event) -> _StaticSource:
        return _StaticSource(store, ready, data)

    return factory


def fast_client(flags: dict, segments: dict) -> ldfast.LDClient:
    cfg = ldfast.Config("sdk-key", update_processor_class=_source(FAST_FEATURES, FAST_SEGMENTS, flags, segments),
                        send_events=False)
    client = ldfast.LDClient(config=cfg, start_wait=5)
    assert client.is_initialized(), "ldfast client did not initialize"
    return client


def official_client(flags: dict, segments: dict) -> ldclient.client.LDClient:
    cfg = ldclient.config.Config(
        "sdk-key", update_processor_class=_source(OFFICIAL_FEATURES, OFFICIAL_SEGMENTS, flags, segments),
        send_events=False, diagnostic_opt_out=True)
    client = ldclient.client.LDClient(config=cfg, start_wait=5)
    assert client.is_initialized(), "official client did not initialize"
    return client


def make_client(impl: str, flags: dict, segments: dict) -> Any:
    return fast_client(flags, segments) if impl == "ldfast" else official_client(flags, segments)


def context_class(impl: str) -> Any:
    return ldfast.Context if impl == "ldfast" else ldclient.context.Context


def quiet_logs() -> None:
    """Keep the SDKs' informational start-up logging out of the measurements and the output."""
    for name in ("ldclient", "ldfast"):
        logging.getLogger(name).setLevel(logging.WARNING)


# -- cases ------------------------------------------------------------------------------------

class Case:
    """One benchmark case: ``setup(impl)`` returns ``(call, answer, client)``: ``call()`` performs one
    operation, ``answer(result)`` turns its result into something comparable across SDKs, and
    ``client`` (or None) is to be closed when done."""

    def __init__(self, id: str, name: str, evaluation: bool,
                 setup: Callable[[str], Tuple[Callable[[], Any], Callable[[Any], Any], Any]],
                 max_repeat: Optional[int] = None):
        self.id = id
        self.name = name
        self.evaluation = evaluation
        self.setup = setup
        self.max_repeat = max_repeat  # caps compare.py's --repeat for a slow case


def _same(value: Any) -> Any:
    return value


def _detail(d: Any) -> Tuple[Any, Any, Any]:
    return (d.value, d.variation_index, d.reason)


# ``call`` is a functools.partial over the SDK's own bound method: calling it adds no Python frame,
# so the loop measures the SDK, not a wrapper.

def _variation_case(key: str):
    def setup(impl: str):
        client = make_client(impl, *base_data())
        ctx = context_class(impl).from_dict(copy.deepcopy(USER))
        return functools.partial(client.variation, key, ctx, "default"), _same, client
    return setup


def _detail_case(key: str):
    def setup(impl: str):
        client = make_client(impl, *base_data())
        ctx = context_class(impl).from_dict(copy.deepcopy(USER))
        return functools.partial(client.variation_detail, key, ctx, "default"), _detail, client
    return setup


def _all_flags_case(count: int):
    def setup(impl: str):
        flags, segments = all_flags_data(count)
        assert len(flags) == count
        client = make_client(impl, flags, segments)
        ctx = context_class(impl).from_dict(copy.deepcopy(USER))

        def answer(state: Any) -> Any:
            assert state.valid
            assert len(state.to_values_map()) == count
            return state.to_json_dict()

        return functools.partial(client.all_flags_state, ctx, with_reasons=True), answer, client
    return setup


def _bootstrap_case(impl: str):
    """The bootstrap for LaunchDarkly's JavaScript SDK: the client-side flags with reasons, as JSON."""
    flags, segments = all_flags_data(ALL_FLAGS_COUNT)
    for i, key in enumerate(sorted(flags)):  # half of them client-side, as a typical bootstrap
        flags[key]["clientSide"] = i % 2 == 0
    client = make_client(impl, flags, segments)
    ctx = context_class(impl).from_dict(copy.deepcopy(USER))

    def call() -> str:
        return client.all_flags_state(ctx, client_side_only=True, with_reasons=True).to_json_string()

    def answer(text: str) -> Any:
        import json
        return json.loads(text)

    return call, answer, client


def _dict_user_case(impl: str):
    """The rule-heavy variation with a plain user dict per call, as a server gets it from a request:
    ldfast takes the dict itself; the official SDK needs ``Context.from_dict`` first."""
    client = make_client(impl, *base_data())
    user = copy.deepcopy(USER)
    if impl == "ldfast":
        return functools.partial(client.variation, HEAVY_KEY, user, "default"), _same, client
    from_dict = ldclient.context.Context.from_dict
    variation = client.variation

    def call() -> Any:
        return variation(HEAVY_KEY, from_dict(user), "default")

    return call, _same, client


def _bucketing_case(impl: str):
    """One rollout bucket of the benchmark user for the rule-heavy flag, straight from each SDK's
    bucketing function. ldfast encodes the ``key.salt.`` prefix once, when a flag is stored, so it is
    computed here in setup; the official SDK formats it inside every call, as it does per evaluation."""
    flag_key, salt = HEAVY_KEY, HEAVY_KEY + "-salt"
    if impl == "ldfast":
        return functools.partial(bucket_value, bucket_prefix(flag_key, salt, None), USER["key"]), _same, None
    ctx = ldclient.context.Context.from_dict(copy.deepcopy(USER))
    return functools.partial(_bucket_context, None, ctx, None, flag_key, salt, None), _same, None


def _context_case(impl: str):
    def answer(ctx: Any) -> Any:
        assert ctx.valid, ctx.error
        return (ctx.to_dict(), ctx.fully_qualified_key, ctx.kind, ctx.key)

    return functools.partial(context_class(impl).from_dict, copy.deepcopy(USER)), answer, None


CASES: Tuple[Case, ...] = (
    Case("simple_variation", "simple variation", True, _variation_case(SIMPLE_KEY)),
    Case("heavy_variation", "rule-heavy variation", True, _variation_case(HEAVY_KEY)),
    Case("heavy_variation_detail", "rule-heavy variation_detail", True, _detail_case(HEAVY_KEY)),
    Case("all_flags_state", "all_flags_state (60 flags, with_reasons)", True, _all_flags_case(ALL_FLAGS_COUNT)),
    Case("all_flags_state_1000", "all_flags_state (1,000 flags, with_reasons)", True,
         _all_flags_case(MANY_FLAGS_COUNT), max_repeat=9),
    Case("bootstrap_json", "bootstrap JSON (30 client-side flags of 60, with reasons)", True, _bootstrap_case),
    Case("dict_user_variation", "rule-heavy variation, a user dict per call", True, _dict_user_case),
    Case("context_from_dict", "Context.from_dict", False, _context_case),
    Case("bucketing", "bucketing (one computation)", False, _bucketing_case),
)
CASES_BY_ID: Dict[str, Case] = {case.id: case for case in CASES}


def expected_heavy_reason() -> dict:
    """What the rule-heavy flag must return for USER: its last rule (guards the scenario itself)."""
    return {"kind": "RULE_MATCH", "ruleIndex": 5, "ruleId": "r5"}


def versions() -> Dict[str, Any]:
    return {
        "ldfast": ldfast.VERSION,
        "ldfast_extensions": ldfast.extensions_enabled() if hasattr(ldfast, "extensions_enabled") else False,
        "launchdarkly-server-sdk": ldclient.version.VERSION,
    }
