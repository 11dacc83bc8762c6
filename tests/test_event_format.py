"""Analytics event inputs, output format, summary and context-key cache (ldfast.events).

The differential test runs random evaluation, identify, custom, index and debug events through the
official SDK's EventFactory, EventSummarizer and EventOutputFormatter and through ldfast's, and
requires the same JSON (same keys in the same order, same values, nothing masked; ldfast writes it
with orjson, so the bytes may spell strings and floats differently). The unit
tests pin down redaction (no private value ever reaches the payload), the summary's edge cases,
the factory's experiment rules and the LRU.
"""

import copy
import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ldclient.config import Config as OfficialConfig
from ldclient.context import Context as OfficialContext
from ldclient.evaluation import EvaluationDetail as OfficialDetail
from ldclient.impl.events.event_processor_common import DebugEvent as OfficialDebugEvent
from ldclient.impl.events.event_processor_common import EventOutputFormatter as OfficialFormatter
from ldclient.impl.events.event_processor_common import IndexEvent as OfficialIndexEvent
from ldclient.impl.events.event_summarizer import EventSummarizer as OfficialSummarizer
from ldclient.impl.events.types import EventFactory as OfficialFactory
from ldclient.impl.model import FeatureFlag as OfficialFlag

from ldfast import Config, Context
from ldfast.evaluation import EvaluationDetail
from ldfast.events import (
    ContextFormatter,
    ContextKeyLRU,
    DebugEvent,
    EventFactory,
    EventOutputFormatter,
    EventSummarizer,
    IndexEvent,
    format_context,
    is_experiment,
    serialize_events,
)
from ldfast.model import parse_flag

try:  # tests/ may or may not become a package
    from tests import strategies as S
except ImportError:  # pragma: no cover - depends on how pytest puts tests/ on sys.path
    import strategies as S

# Some generated "matches" patterns make re.compile emit a FutureWarning inside both SDKs' flag
# parsers (see test_differential.py); production only prints it.
pytestmark = pytest.mark.filterwarnings("ignore:Possible .*:FutureWarning")

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Private attribute references: names, paths (nested, escaped), ones naming built-ins that cannot be
# redacted, literal names containing "/" or "~", and invalid ones (ignored).
PRIVATE_REFS = ["email", "/nested/a", "name", "/nested/a/b", "age", "/name", "/nested/x~1y",
                "/nested/t~0", "nested/a", "/~1slash", "/slash", "a/b", "/a~1b", "t~1", "/t~01",
                "/tags/0", "/group", "/nested", "key", "/key", "kind", "anonymous", "/missing/x",
                "/nested/a/b/c", "/deep/x/y", "/deep/x", "", "/", "//x", "/a~2", "/nested/", "~"]
NESTED_REFS = ["/nested/a", "/nested/a/b", "/nested/x~1y", "/nested/t~0", "/nested/0", "/deep/x/y",
               "/deep/x", "/deep/w", "/deep/x/y/q", "/tags/0"]
ATTRS = S.CUSTOM_ATTRS + ["deep"]
DEEP_VALUES = [{"x": {"y": 1, "z": 2}, "w": 3}, {"x": {"y": {"q": 1}}}, {"x": 1}, {"x": {}}, {}]
TIMESTAMPS = [1700000000000, 1700000000001, 5, 1, 0, 1699999999999, 2 ** 53]
DEFAULTS = ["dflt", None, 0, False, {"d": 1}, [1], 1.5]


# ---------------------------------------------------------------------------------------------
# Generators
# ---------------------------------------------------------------------------------------------

def gen_body(draw):
    body = {"key": S.pick(draw, S.CONTEXT_KEYS)}
    S.put(body, "name", S.pick(draw, [S.ABSENT, "Ann", None, "é", "\ud800"]))
    S.put(body, "anonymous", S.pick(draw, [S.ABSENT, True, False]))
    names = S.pick_many(draw, ATTRS, 0, 4, unique=True)
    if S.coin(draw):  # objects, for nested redaction, more often
        names.append(S.pick(draw, ["nested", "deep"]))
    for name in names:
        if name == "deep" or (name == "nested" and S.coin(draw)):
            body[name] = copy.deepcopy(S.pick(draw, DEEP_VALUES if name == "deep" else S.NESTED_OBJECTS))
        else:
            body[name] = S._attr_value(draw, name)
    if S.coin(draw):
        body["_meta"] = {"privateAttributes": S.pick_many(draw, PRIVATE_REFS, 0, 3)
                         + S.pick_many(draw, NESTED_REFS, 0, 2)}
    return body


def gen_context_dict(draw):
    if S.coin(draw):
        return dict(gen_body(draw), kind=S.pick(draw, S.CONTEXT_KINDS))
    ctx = {"kind": "multi"}
    for kind in S.pick_many(draw, S.CONTEXT_KINDS, 1, 3, unique=True):
        ctx[kind] = gen_body(draw)
    return ctx


def both_contexts(d):
    ours, theirs = Context.from_dict(d), OfficialContext.from_dict(d)
    assert ours.valid and theirs.valid, (d, ours.error, theirs.error)
    assert ours.to_dict() == theirs.to_dict()
    return ours, theirs


def both_flags(raw):
    """(ldfast Flag, official FeatureFlag) for a raw flag both accept as a live flag, else None."""
    if raw.get("deleted"):
        return None
    ours = parse_flag(raw)
    if ours.error is not None:
        return None
    try:
        theirs = OfficialFlag(raw)
    except Exception:
        return None
    return ours, theirs


def prebuilt_details(flag):
    """The details the ldfast model built in advance for ``flag`` (they know if they are experiments)."""
    out = [flag.off_detail] + [p.failed for p in flag.prerequisites] + [t.detail for t in flag.targets]
    outcomes = [r.outcome for r in flag.rules] + ([flag.fallthrough] if flag.fallthrough else [])
    for o in outcomes:
        if o.rollout is not None:
            out.extend(o.rollout.details + o.rollout.exp_details)
        elif o.detail is not None:
            out.append(o.detail)
    return out


REASON_SHAPES = [
    lambda draw, n: {"kind": "FALLTHROUGH"},
    lambda draw, n: {"kind": "RULE_MATCH", "ruleIndex": draw(st.integers(-1, n)), "ruleId": "r"},
    lambda draw, n: {"kind": "FALLTHROUGH", "inExperiment": True},
    lambda draw, n: {"kind": "RULE_MATCH", "ruleIndex": draw(st.integers(-1, n)), "ruleId": "r",
                     "inExperiment": True},
    lambda draw, n: {"kind": "OFF"},
    lambda draw, n: {"kind": "TARGET_MATCH"},
    lambda draw, n: {"kind": "PREREQUISITE_FAILED", "prerequisiteKey": "f1"},
    lambda draw, n: {"kind": "ERROR", "errorKind": "EXCEPTION"},
]


def gen_detail(draw, flag):
    details = prebuilt_details(flag)
    if details and S.coin(draw):
        return S.pick(draw, details)
    reason = S.pick(draw, REASON_SHAPES)(draw, len(flag.rules))
    variation = S.pick(draw, [0, None, 1, 2])
    value = flag.variations[variation] if variation is not None and variation < len(flag.variations) else None
    return EvaluationDetail(value, variation, reason)


@st.composite
def scenarios(draw):
    """(config, context dicts, flags, operations)."""
    config = {"private_attributes": S.pick_many(draw, PRIVATE_REFS, 0, 3) + S.pick_many(draw, NESTED_REFS, 0, 2),
              "all_attributes_private": S.rare(draw, 6)}
    contexts = [gen_context_dict(draw) for _ in range(draw(st.integers(1, 4)))]
    flags = {}
    for key in S.FLAG_KEYS[:3]:
        pair = both_flags(S.gen_flag(draw, key))
        if pair is not None:
            flags[key] = pair
    keys = sorted(flags)
    ops = []
    for _ in range(draw(st.integers(1, 12))):
        ts = S.pick(draw, TIMESTAMPS)
        ctx = draw(st.integers(0, len(contexts) - 1))
        what = S.pick(draw, ["eval", "eval", "identify", "custom", "unknown", "default", "index"])
        if what in ("eval", "default") and not keys:
            what = "unknown"
        if what == "eval":
            key = S.pick(draw, keys)
            prereq_of = S.pick(draw, keys) if S.rare(draw, 4) else None
            ops.append(("eval", ts, ctx, key, gen_detail(draw, flags[key][0]), S.pick(draw, DEFAULTS),
                        S.coin(draw), prereq_of, S.coin(draw), S.rare(draw, 4)))
        elif what == "default":
            reason = {"kind": "ERROR", "errorKind": S.pick(draw, ["EXCEPTION", "WRONG_TYPE"])}
            ops.append(("default", ts, ctx, S.pick(draw, keys), S.pick(draw, DEFAULTS), reason, S.coin(draw)))
        elif what == "unknown":
            reason = {"kind": "ERROR", "errorKind": "FLAG_NOT_FOUND"}
            ops.append(("unknown", ts, ctx, S.pick(draw, [S.MISSING_FLAG_KEY, "other"] + S.FLAG_KEYS[:3]),
                        S.pick(draw, DEFAULTS), reason, S.coin(draw)))
        elif what == "custom":
            data = S.pick(draw, [None, {"a": 1}, "é", [1, {"b": None}], 0])
            metric = S.pick(draw, [None, 1, 2.5, 0, -1e300])
            ops.append(("custom", ts, ctx, S.pick(draw, ["ev", "purchase", "é"]), data, metric))
        else:
            ops.append((what, ts, ctx))
    return config, contexts, flags, ops


# ---------------------------------------------------------------------------------------------
# The differential test
# ---------------------------------------------------------------------------------------------

class Side:
    """One SDK's factories, summarizer, event list and formatter."""

    def __init__(self, official, config):
        self.clock = [0]
        now = lambda: self.clock[0]  # noqa: E731
        if official:
            cfg = OfficialConfig("sdk-key", **config)
            self.factories = {w: OfficialFactory(w, now) for w in (False, True)}
            self.summarizer = OfficialSummarizer()
            self.formatter = OfficialFormatter(cfg)
            self.index, self.debug = OfficialIndexEvent, OfficialDebugEvent
        else:
            cfg = Config("sdk-key", **config)
            self.factories = {w: EventFactory(w, now) for w in (False, True)}
            self.summarizer = EventSummarizer()
            self.formatter = EventOutputFormatter(cfg)
            self.index, self.debug = IndexEvent, DebugEvent
        self.official = official
        self.events = []
        self.inputs = []

    def summarize(self, e):
        if self.official:  # the official processor checks this; ours is in the summarizer
            if not e.exclude_from_summaries:
                self.summarizer.summarize_event(e)
        else:
            self.summarizer.summarize_event(e)

    def output(self):
        return self.formatter.make_output_events(self.events, self.summarizer.snapshot())


def run_side(side, flags, contexts, ops):
    pick = 1 if side.official else 0
    for op in ops:
        what, ts, ctx = op[0], op[1], contexts[op[2]][pick]
        side.clock[0] = ts
        if what == "eval":
            _, _, _, key, detail, default, with_reasons, prereq_of, full, debug = op
            if side.official:
                detail = OfficialDetail(detail.value, detail.variation_index, detail.reason)
            parent = None if prereq_of is None else flags[prereq_of][pick]
            e = side.factories[with_reasons].new_eval_event(
                flags[key][pick], ctx, detail, None if parent is not None else default, parent)
        elif what == "default":
            _, _, _, key, default, reason, with_reasons = op
            e = side.factories[with_reasons].new_default_event(flags[key][pick], ctx, default, reason)
        elif what == "unknown":
            _, _, _, key, default, reason, with_reasons = op
            e = side.factories[with_reasons].new_unknown_flag_event(key, ctx, default, reason)
        elif what == "identify":
            side.events.append(side.factories[False].new_identify_event(ctx))
            continue
        elif what == "custom":
            _, _, _, key, data, metric = op
            side.events.append(side.factories[False].new_custom_event(key, ctx, data, metric))
            continue
        else:
            side.events.append(side.index(ts, ctx))
            continue
        side.inputs.append(e)
        side.summarize(e)
        full, debug = (op[8], op[9]) if what == "eval" else (True, False)
        if full or e.track_events:
            side.events.append(e)
        if debug:
            side.events.append(side.debug(e))


def parse_ordered(body):
    """JSON with every object as a list of (key, value) pairs, so that key order counts."""
    return json.loads(body, object_pairs_hook=list)


def check_inputs_agree(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert (a.timestamp, a.key, a.variation, a.value, a.default_value) == \
               (b.timestamp, b.key, b.variation, b.value, b.default_value)
        assert json.dumps(a.reason) == json.dumps(b.reason)
        assert bool(a.track_events) == bool(b.track_events)
        assert (a.sampling_ratio, a.exclude_from_summaries) == (b.sampling_ratio, b.exclude_from_summaries)
        assert (a.prereq_of is None) == (b.prereq_of is None)
        if b.flag is None:
            assert (a.flag, a.version, a.debug_until) == (None, None, None)
        else:
            assert a.version == b.flag.version and a.debug_until == b.flag.debug_events_until_date


@settings(max_examples=600, **SETTINGS)
@given(scenarios())
def test_differential_output_events(scenario):
    config, context_dicts, flags, ops = scenario
    contexts = [both_contexts(d) for d in context_dicts]
    ours, theirs = Side(False, config), Side(True, config)
    run_side(ours, flags, contexts, ops)
    run_side(theirs, flags, contexts, ops)
    check_inputs_agree(ours.inputs, theirs.inputs)
    expected = theirs.output()
    actual = ours.output()
    assert json.dumps(actual) == json.dumps(expected)
    # the payload ldfast sends (orjson) parses to the official one: same events, keys in the same order
    assert parse_ordered(serialize_events(actual)) == parse_ordered(json.dumps(expected, separators=(",", ":")))


@pytest.mark.c_extension
@settings(max_examples=300, **SETTINGS)
@given(scenarios())
def test_the_payload_twins_write_the_same_bytes(scenario):
    from ldfast._ext import eventfmt_c, eventfmt_py

    config, context_dicts, flags, ops = scenario
    contexts = [both_contexts(d) for d in context_dicts]
    ours = Side(False, config)
    run_side(ours, flags, contexts, ops)
    summary = ours.summarizer.snapshot()
    cfg = Config("sdk-key", **config)
    compiled, pure = eventfmt_c.EventOutputFormatter(cfg), eventfmt_py.EventOutputFormatter(cfg)
    body = compiled.serialize(ours.events, summary)
    assert body == pure.serialize(ours.events, summary)
    assert body == eventfmt_c.serialize_events(compiled.make_output_events(ours.events, summary)) \
        == eventfmt_py.serialize_events(pure.make_output_events(ours.events, summary))
    assert parse_ordered(body) == parse_ordered(json.dumps(compiled.make_output_events(ours.events, summary)))


@settings(max_examples=300, **SETTINGS)
@given(st.data())
def test_prebuilt_experiment_flags_match_the_rule(data):
    """The model's per-detail experiment flag (the factory's fast path) equals is_experiment()."""
    raw = S.gen_flag(data.draw, "f0")
    pair = both_flags(raw)
    assume(pair is not None)
    flag = pair[0]
    for detail in prebuilt_details(flag):
        if detail._experiment is not None:
            assert detail._experiment == is_experiment(flag, detail.reason), (raw, detail)


# ---------------------------------------------------------------------------------------------
# Redaction
# ---------------------------------------------------------------------------------------------

SECRET_ATTRS = ["email", "age", "/slash", "t~1", "group"]


def _ref_to(attr, draw):
    """A reference to a top-level attribute: its name, or a path to it."""
    if attr.startswith("/") or S.coin(draw):
        return "/" + attr.replace("~", "~0").replace("/", "~1")
    return attr


@st.composite
def secret_cases(draw):
    """A context (dict) whose private values all contain "SECRET", and the configured private
    attributes; public values contain "PUBLIC"."""
    hidden_by_config = S.pick_many(draw, SECRET_ATTRS + ["name", "nested"], 0, 2, unique=True)
    config_private = [("/nested/a/b" if a == "nested" else _ref_to(a, draw)) for a in hidden_by_config]
    bodies = {}
    for kind in S.pick_many(draw, S.CONTEXT_KINDS, 1, 3, unique=True):
        body = {"key": "k-" + kind}
        own = []
        for attr in ["name"] + S.pick_many(draw, SECRET_ATTRS, 0, 4, unique=True):
            private = attr in hidden_by_config or S.coin(draw)
            body[attr] = ("SECRET-" if private else "PUBLIC-") + attr
            if private and attr not in hidden_by_config:
                own.append(_ref_to(attr, draw))
        if S.coin(draw):
            private = "nested" in hidden_by_config or S.coin(draw)
            body["nested"] = {"a": {"b": "SECRET-b" if private else "PUBLIC-b", "c": "PUBLIC-c"},
                              "d": {"b": "PUBLIC-db"}}
            if private and "nested" not in hidden_by_config:
                own.append("/nested/a/b")
        if own:
            body["_meta"] = {"privateAttributes": own}
        bodies[kind] = body
    if len(bodies) == 1:
        (kind, body), = bodies.items()
        return dict(body, kind=kind), config_private
    return dict(bodies, kind="multi"), config_private


def _public_strings(value):
    if isinstance(value, dict):
        return [s for v in value.values() for s in _public_strings(v)]
    return [value] if isinstance(value, str) and value.startswith("PUBLIC") else []


@settings(max_examples=300, **SETTINGS)
@given(secret_cases())
def test_no_private_value_in_any_event(case):
    ctx_dict, config_private = case
    ctx, _ = both_contexts(ctx_dict)
    formatter = EventOutputFormatter(Config("k", private_attributes=config_private))
    factory = EventFactory(True, lambda: 1)
    flag = parse_flag({"key": "f", "version": 1, "on": True, "variations": [1], "fallthrough": {"variation": 0}})
    feature = factory.new_eval_event(flag, ctx, EvaluationDetail(1, 0, {"kind": "FALLTHROUGH"}), 0)
    events = [feature, DebugEvent(feature), IndexEvent(1, ctx), factory.new_identify_event(ctx),
              factory.new_custom_event("e", ctx, None, None)]
    body = serialize_events(formatter.make_output_events(events, None)).decode()
    assert "SECRET" not in body
    public = _public_strings(ctx_dict)
    for value in set(public):  # and every public value is there, in each of the five events
        assert body.count('"%s"' % value) == 5 * public.count(value)


def test_redaction_examples():
    ctx = Context.from_dict({
        "kind": "user", "key": "u", "name": "N", "email": "e", "/slash": 1, "t~1": 2,
        "nested": {"a": {"b": 1, "c": 2}, "x/y": 3, "t~": 4, "a2": {"b": 5}}, "arr": [{"a": 1}],
        "_meta": {"privateAttributes": ["/nested/a/b", "/nested/x~1y", "/arr/0/a", "/~1slash", "bad~"]}})
    out = format_context(ctx, ["email", "/nested/t~0", "/nested/a/b", "key", "kind", "//", "/t~01"])
    assert out == {
        "key": "u", "kind": "user", "name": "N",
        "nested": {"a": {"c": 2}, "a2": {"b": 5}}, "arr": [{"a": 1}],
        "_meta": {"redactedAttributes": ["email", "/~1slash", "t~1", "/nested/a/b", "/nested/x~1y",
                                         "/nested/t~0"]},
    }
    assert list(out) == ["key", "kind", "name", "nested", "arr", "_meta"]
    # the context's own list applies to it only; the config's is not changed by it
    plain = Context.from_dict({"kind": "user", "key": "v", "nested": {"a": {"b": 1}}, "/slash": 1})
    formatter = ContextFormatter(["email"])
    formatter.format(ctx, False)
    assert formatter.format(plain, False) == {"key": "v", "kind": "user", "nested": {"a": {"b": 1}}, "/slash": 1}


def test_all_attributes_private_and_anonymous():
    user = Context.from_dict({"kind": "user", "key": "u", "name": "N", "anonymous": True, "/a": 1, "b": {"c": 1},
                              "_meta": {"privateAttributes": ["/b/c"]}})
    org = Context.from_dict({"kind": "org", "key": "o", "name": "O", "x": 1})
    multi = Context.create_multi(user, org)
    redacted_user = {"key": "u", "anonymous": True, "_meta": {"redactedAttributes": ["name", "/~1a", "b"]}}
    assert format_context(multi, (), False, True) == {"kind": "multi", "user": redacted_user,
                                                       "org": {"key": "o", "name": "O", "x": 1}}
    assert format_context(multi, (), False, False)["user"] == {
        "key": "u", "anonymous": True, "name": "N", "/a": 1, "b": {}, "_meta": {"redactedAttributes": ["/b/c"]}}
    assert format_context(org, (), True, False) == {"key": "o", "kind": "org",
                                                    "_meta": {"redactedAttributes": ["name", "x"]}}
    assert format_context(Context.create("k"), (), True, True) == {"key": "k", "kind": "user"}


def test_anonymous_redaction_by_event_kind():
    ctx = Context.from_dict({"kind": "user", "key": "u", "anonymous": True, "email": "e"})
    flag = parse_flag({"key": "f", "version": 3, "on": True, "variations": [1], "fallthrough": {"variation": 0}})
    factory = EventFactory(False, lambda: 9)
    feature = factory.new_eval_event(flag, ctx, EvaluationDetail(1, 0, {"kind": "FALLTHROUGH"}), 0)
    events = [feature, DebugEvent(feature), IndexEvent(9, ctx), factory.new_identify_event(ctx),
              factory.new_custom_event("e", ctx, {"d": 1}, 2.5)]
    out = EventOutputFormatter(Config("k")).make_output_events(events, None)
    hidden = {"key": "u", "kind": "user", "anonymous": True, "_meta": {"redactedAttributes": ["email"]}}
    shown = {"key": "u", "kind": "user", "anonymous": True, "email": "e"}
    assert [e["kind"] for e in out] == ["feature", "debug", "index", "identify", "custom"]
    assert [e["context"] for e in out] == [hidden, shown, shown, shown, hidden]
    assert out[0] == {"kind": "feature", "creationDate": 9, "key": "f", "value": 1, "default": 0, "version": 3,
                      "variation": 0, "context": hidden}
    assert out[4] == {"kind": "custom", "creationDate": 9, "key": "e", "context": hidden, "data": {"d": 1},
                      "metricValue": 2.5}


def test_unknown_object_is_rejected():
    with pytest.raises(TypeError):
        EventOutputFormatter(Config("k")).make_output_event(object())


# ---------------------------------------------------------------------------------------------
# Factory
# ---------------------------------------------------------------------------------------------

def _flag(**props):
    raw = {"key": "f", "version": 7, "on": True, "variations": ["a", "b"], "fallthrough": {"variation": 0},
           "rules": [{"id": "r0", "clauses": [], "variation": 1},
                     {"id": "r1", "clauses": [], "variation": 1, "trackEvents": True}]}
    raw.update(props)
    return parse_flag(raw)


@pytest.mark.parametrize("reason, flag_props, expected", [
    ({"kind": "FALLTHROUGH"}, {}, False),
    ({"kind": "FALLTHROUGH"}, {"trackEventsFallthrough": True}, True),
    ({"kind": "FALLTHROUGH", "inExperiment": True}, {}, True),
    ({"kind": "RULE_MATCH", "ruleIndex": 0, "ruleId": "r0"}, {}, False),
    ({"kind": "RULE_MATCH", "ruleIndex": 1, "ruleId": "r1"}, {}, True),
    ({"kind": "RULE_MATCH", "ruleIndex": 2, "ruleId": "x"}, {}, False),
    ({"kind": "RULE_MATCH", "ruleIndex": -1, "ruleId": "x"}, {}, False),
    ({"kind": "TARGET_MATCH"}, {"trackEventsFallthrough": True}, False),
    ({"kind": "OFF", "inExperiment": True}, {}, True),
    (None, {"trackEventsFallthrough": True}, False),
])
def test_is_experiment(reason, flag_props, expected):
    flag = _flag(**flag_props)
    assert is_experiment(flag, reason) is expected
    e = EventFactory(False).new_eval_event(flag, Context.create("u"), EvaluationDetail("a", 0, reason), "d")
    assert e.track_events is expected
    assert e.reason is (reason if expected else None)


def test_factory_events():
    ctx = Context.create("u")
    flag = _flag(trackEvents=True, samplingRatio=3, debugEventsUntilDate=123, excludeFromSummaries=True)
    plain, detailed = EventFactory(False, lambda: 5), EventFactory(True, lambda: 6)
    reason = {"kind": "ERROR", "errorKind": "WRONG_TYPE"}
    e = plain.new_default_event(flag, ctx, "d", reason)
    assert (e.timestamp, e.value, e.variation, e.reason, e.track_events, e.version) == (5, "d", None, None, True, 7)
    assert (e.sampling_ratio, e.debug_until, e.exclude_from_summaries) == (3, 123, True)
    assert detailed.new_default_event(_flag(trackEventsFallthrough=True), ctx, "d", reason).track_events is False
    u = detailed.new_unknown_flag_event("nope", ctx, "d", reason)
    assert (u.flag, u.version, u.value, u.reason, u.track_events, u.sampling_ratio) == (None, None, "d", reason, False, 1)
    assert plain.new_unknown_flag_event("nope", ctx, "d", reason).reason is None
    prereq = detailed.new_eval_event(flag, ctx, EvaluationDetail("a", 0, {"kind": "OFF"}), "ignored", _flag())
    assert (prereq.default_value, prereq.prereq_of.key, prereq.reason) == (None, "f", {"kind": "OFF"})
    c = plain.new_custom_event("k", ctx, None, 1.5)
    assert (c.key, c.data, c.metric_value, c.sampling_ratio) == ("k", None, 1.5, None)
    assert plain.new_identify_event(ctx).context is ctx


# ---------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------

def _summary(summarizer):
    return EventOutputFormatter(Config("k")).make_output_events([], summarizer.snapshot())


def _eval(factory, flag, ctx, variation, default="d", prereq_of=None):
    return factory.new_eval_event(flag, ctx, EvaluationDetail("v%d" % variation, variation, {"kind": "OFF"}),
                                  default, prereq_of)


def test_summary_counters_defaults_kinds_and_dates():
    clock = [100]
    factory = EventFactory(False, lambda: clock[0])
    s = EventSummarizer()
    f1, f2 = _flag(), _flag(key="g", version=2)
    user, multi = Context.create("u"), Context.from_dict({"kind": "multi", "org": {"key": "o"}, "device": {"key": "d"}})
    s.summarize_event(_eval(factory, f2, user, 1, prereq_of=f1))  # first seen as a prerequisite
    clock[0] = 50
    s.summarize_event(_eval(factory, f1, multi, 1, default="first"))
    clock[0] = 200
    s.summarize_event(_eval(factory, f1, user, 0, default="second"))
    s.summarize_event(_eval(factory, f1, user, 1))
    s.summarize_event(_eval(factory, f2, user, 1, default="later"))
    s.summarize_event(factory.new_unknown_flag_event("missing", user, "dd", None))
    s.summarize_event(factory.new_unknown_flag_event("missing", user, "dd", None))
    out, = _summary(s)
    assert out["kind"] == "summary" and (out["startDate"], out["endDate"]) == (50, 200)
    assert list(out["features"]) == ["g", "f", "missing"]
    f = out["features"]["f"]
    assert f["default"] == "first" and sorted(f["contextKinds"]) == ["device", "org", "user"]
    assert f["counters"] == [{"count": 2, "value": "v1", "variation": 1, "version": 7},
                             {"count": 1, "value": "v0", "variation": 0, "version": 7}]
    assert out["features"]["g"] == {"default": None, "contextKinds": ["user"],
                                    "counters": [{"count": 2, "value": "v1", "variation": 1, "version": 2}]}
    assert out["features"]["missing"] == {"default": "dd", "contextKinds": ["user"],
                                          "counters": [{"count": 2, "value": "dd", "unknown": True}]}


def test_summary_versions_of_one_variation():
    factory = EventFactory(False, lambda: 1)
    s = EventSummarizer()
    ctx = Context.create("u")
    v1, v2, v3 = _flag(version=1), _flag(version=2), _flag(version=3)
    for flag in (v1, v2, v1, v3, v1, v2, v2):
        s.summarize_event(_eval(factory, flag, ctx, 0))
    s.summarize_event(factory.new_default_event(v1, ctx, "x", None))
    counters = _summary(s)[0]["features"]["f"]["counters"]
    assert [(c["version"], c["count"], c.get("variation")) for c in counters] == \
           [(1, 3, 0), (2, 3, 0), (3, 1, 0), (1, 1, None)]


def test_summary_excluded_flags_and_clear():
    factory = EventFactory(False, lambda: 7)
    s = EventSummarizer()
    ctx = Context.create("u")
    s.summarize_event(_eval(factory, _flag(excludeFromSummaries=True), ctx, 0))
    assert s.is_empty() and _summary(s) == []
    s.summarize_event(_eval(factory, _flag(), ctx, 0))
    snap = s.snapshot()
    s.clear()
    assert s.is_empty() and s.snapshot().start_date == 0 and s.snapshot().end_date == 0
    s.summarize_event(_eval(factory, _flag(key="other"), ctx, 0))
    out, = EventOutputFormatter(Config("k")).make_output_events([], snap)
    assert list(out["features"]) == ["f"] and (out["startDate"], out["endDate"]) == (7, 7)


# ---------------------------------------------------------------------------------------------
# Context-key LRU
# ---------------------------------------------------------------------------------------------

def test_lru_put_evicts_oldest_and_refreshes():
    lru = ContextKeyLRU(2)
    assert lru.put("a") is False and lru.put("a") is True
    assert lru.put("b") is False
    assert lru.put("a") is True  # "a" is now the newest
    assert lru.put("c") is False  # evicts "b"
    assert "b" not in lru and "a" in lru and len(lru) == 2
    assert lru.put("b") is False  # evicts "a"
    assert lru.put("c") is True and lru.put("a") is False
    lru.clear()
    assert len(lru) == 0 and lru.put("c") is False


def test_lru_capacity_must_be_positive():
    with pytest.raises(ValueError):
        ContextKeyLRU(0)
