"""The compiled event recorder (ldfast._ext.recorder) and payload writer (ldfast._ext.eventfmt).

- An evaluation that needs only a summary counter allocates nothing, and every one is counted, from
  many threads at once.
- The twins agree: the same calls give the same summary and the same queued inputs; the same
  events give the same payload bytes, also where orjson gives way to the json module.
- ``track``: bad input is logged once and never raises; a flood of a million calls keeps the
  queues at their capacity and memory bounded.
"""
import gc
import json
import logging
import math
import random
import sys
import threading
from collections import deque

import pytest

import ldfast
from ldfast import Context
from ldfast.model import parse_flag
from tests.helpers import static_source
from tests.support.fake_ld import FakeLaunchDarklyThread

FLAGS = {
    "simple": {"key": "simple", "version": 1, "on": True, "variations": [True, False], "fallthrough": {"variation": 0},
               "salt": "s"},
    "other": {"key": "other", "version": 3, "on": True, "variations": ["a", "b", "c"], "salt": "s",
              "fallthrough": {"rollout": {"variations": [{"variation": 0, "weight": 30000},
                                                         {"variation": 2, "weight": 70000}]}}},
    "child": {"key": "child", "version": 2, "on": True, "variations": [1, 2], "fallthrough": {"variation": 1},
              "prerequisites": [{"key": "simple", "variation": 0}], "salt": "s"},
}


@pytest.fixture(scope="module")
def fake():
    with FakeLaunchDarklyThread() as f:
        yield f


def events_client(fake, **options):
    """A sync client over in-memory flags, posting its events to the fake service."""
    options.setdefault("flush_interval", 3600)
    config = ldfast.Config("sdk-key", update_processor_class=static_source(FLAGS), events_uri=fake.uri,
                           diagnostic_opt_out=True, **options)
    return ldfast.LDClient(config=config, start_wait=5)


def flushed_events(fake, client, before):
    """The events of the payload that ``client.flush()`` posts (``before``: payloads seen so far)."""
    client.flush()
    payloads = fake.wait_for_event_payloads(before + 1, "/bulk", timeout=10)
    return payloads[before].json


def summary_of(events):
    [summary] = [e for e in events if e["kind"] == "summary"]
    return summary["features"]


# -- the fast path -----------------------------------------------------------------------------------

@pytest.mark.c_extension
def test_an_untracked_evaluation_of_a_known_context_allocates_nothing(fake):
    from tests.test_alloc import N, allocations_per_call

    client = events_client(fake)
    try:
        ctx = Context.builder("u1").set("plan", "pro").build()
        before = len(fake.event_payloads("/bulk"))
        assert client.variation("simple", ctx, None) is True  # the context's index event
        per_call = allocations_per_call(lambda: client.variation("simple", ctx, None))
        per_detail = allocations_per_call(lambda: client.variation_detail("simple", ctx, None))
        assert per_call < 0.001 and per_detail < 0.001
        events = flushed_events(fake, client, before)
    finally:
        client.close()
    assert [e["kind"] for e in events] == ["index", "summary"]
    # allocations_per_call warms up with 100 calls, then makes N
    assert summary_of(events)["simple"]["counters"] == [
        {"count": 1 + 2 * (100 + N), "value": True, "variation": 0, "version": 1}]


def test_every_evaluation_from_many_threads_is_counted(fake):
    client = events_client(fake)
    threads, per_thread = 8, 5000
    barrier = threading.Barrier(threads)

    def evaluate(n):
        ctx = Context.create("t%d" % n)
        barrier.wait()
        for i in range(per_thread):
            client.variation("simple", ctx, None)
            client.variation("child", ctx, 0)
            client.variation("missing", ctx, "x")

    try:
        before = len(fake.event_payloads("/bulk"))
        workers = [threading.Thread(target=evaluate, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
        events = flushed_events(fake, client, before)
    finally:
        client.close()
    total = threads * per_thread
    features = summary_of(events)
    # "simple" is evaluated directly and as the prerequisite of "child"
    assert features["simple"]["counters"] == [{"count": 2 * total, "value": True, "variation": 0, "version": 1}]
    assert features["child"]["counters"] == [{"count": total, "value": 2, "variation": 1, "version": 2}]
    assert features["missing"]["counters"] == [{"count": total, "value": "x", "unknown": True}]
    assert sorted(e["context"]["key"] for e in events if e["kind"] == "index") == ["t%d" % n for n in range(threads)]


# -- the twins agree -------------------------------------------------------------------------------

def record_script(recorder_module, seed):
    """A random sequence of evaluations through one recorder twin: its summary and queued inputs."""
    from ldfast._ext.evaluator import evaluate

    rng = random.Random(seed)
    raw = dict(FLAGS)
    raw["tracked"] = {"key": "tracked", "version": 9, "on": True, "variations": ["x", "y"], "trackEvents": True,
                      "fallthrough": {"variation": 1}, "salt": "s"}
    raw["debug"] = {"key": "debug", "version": 1, "on": True, "variations": [0, 1], "fallthrough": {"variation": 0},
                    "debugEventsUntilDate": 2 ** 50, "salt": "s"}
    raw["excluded"] = {"key": "excluded", "version": 1, "on": True, "variations": [0, 1], "salt": "s",
                       "fallthrough": {"variation": 1}, "excludeFromSummaries": True}
    flags = {k: parse_flag(v) for k, v in raw.items()}
    contexts = [Context.create("c%d" % i) for i in range(6)] + [
        Context.builder("anon").anonymous(True).build(),
        Context.create_multi(Context.create("m"), Context.builder("d").kind("device").anonymous(True).build())]
    inbox = deque()
    recorder = recorder_module.Recorder(inbox, 100000, lambda: None, 3, rng.random() < 0.5)
    for _ in range(400):
        ctx = rng.choice(contexts)
        what = rng.random()
        detailed = rng.random() < 0.3
        if what < 0.7:
            flag = flags[rng.choice(sorted(flags))]
            prerequisites = [] if flag.prerequisites else None
            detail = evaluate(flag, ctx, flags, {}, None, prerequisites)
            recorder.evaluated(flag, ctx, detail, rng.choice([None, 0, "d"]), detailed, prerequisites)
        elif what < 0.8:
            recorder.unknown(rng.choice(["nope", "gone"]), ctx, rng.choice([None, "d"]),
                             {"kind": "ERROR", "errorKind": "FLAG_NOT_FOUND"}, detailed)
        elif what < 0.85:
            flag = flags[rng.choice(sorted(flags))]
            recorder.failed(flag, ctx, "d", {"kind": "ERROR", "errorKind": "EXCEPTION"}, detailed)
        elif what < 0.9:
            recorder.identify(ctx)
        elif what < 0.95:
            recorder.track("ev", ctx, {"n": 1}, rng.choice([None, 1, 2.5, "x", math.nan]))
        else:
            recorder.clear_context_keys()
    summary = recorder_module.make_summary_event(recorder.take_summary())
    summary["startDate"] = summary["endDate"] = 0
    queued = [(type(e).__name__, getattr(e, "key", None), e.context.fully_qualified_key,
               getattr(e, "variation", None), getattr(e, "value", None), getattr(e, "default_value", None),
               getattr(e, "reason", None), getattr(e, "metric_value", None),
               getattr(getattr(e, "prereq_of", None), "key", None)) for e in inbox]
    return summary, queued, recorder.deduplicated


@pytest.mark.c_extension
@pytest.mark.parametrize("seed", range(6))
def test_the_recorder_twins_count_and_queue_the_same(seed, caplog):
    from ldfast._ext import recorder_c, recorder_py

    compiled = record_script(recorder_c, seed)
    pure = record_script(recorder_py, seed)
    assert json.dumps(compiled[0]) == json.dumps(pure[0])  # same keys, same order
    assert compiled[1] == pure[1] and compiled[2] == pure[2]
    assert compiled[1] and compiled[0]["features"]


def awkward_events(fmt_module, recorder_module):
    """Inputs whose JSON orjson refuses (an int over 64 bits, a lone surrogate, an int key) or that no
    JSON writer accepts, among ordinary ones."""
    ctx = Context.builder("u").name("Ann").set("big", 2 ** 70).build()
    plain = Context.builder("v").set("city", "Zürich").build()
    custom = recorder_module.EventInputCustom
    return [
        custom(1, plain, "ok", {"price": 1.5, "tags": ["é", "ü"]}, 2.5),
        custom(2, plain, "big", {"n": 2 ** 70, 3: "int key"}, None),
        custom(3, plain, "surrogate", {"s": "\ud800"}, None),
        custom(4, ctx, "big context", None, 1),
        custom(5, plain, "unwritable", {"x": object()}, None),
        custom(6, plain, "nan", {"x": math.nan}, None),
        recorder_module.IndexEvent(7, ctx),
        recorder_module.EventInputIdentify(8, plain),
    ]


@pytest.mark.c_extension
def test_the_payload_twins_write_the_same_bytes_even_through_the_fallback(caplog):
    from ldfast._ext import eventfmt_c, eventfmt_py, recorder

    bodies = []
    config = ldfast.Config("k", private_attributes=["name"])
    with caplog.at_level(logging.WARNING):
        for module in (eventfmt_c, eventfmt_py):
            fmt = module.EventOutputFormatter(config)
            events = awkward_events(module, recorder)
            bodies.append((fmt.serialize(events, None), module.serialize_events(fmt.make_output_events(events, None))))
    (c_fast, c_plain), (py_fast, py_plain) = bodies
    assert c_fast == py_fast == c_plain == py_plain
    parsed = json.loads(c_fast)
    assert [e.get("key") for e in parsed] == ["ok", "big", "surrogate", "big context", "nan", None, None]
    assert parsed[1]["data"] == {"n": 2 ** 70, "3": "int key"}
    assert parsed[2]["data"] == {"s": "\ud800"}
    assert parsed[3]["context"]["big"] == 2 ** 70
    assert parsed[4]["data"] == {"x": None}  # orjson writes NaN as null (the json module would not write it)
    assert sum("cannot be serialized" in r.getMessage() for r in caplog.records) == 4  # one per payload


# -- track() -------------------------------------------------------------------------------------------

def test_bad_track_input_is_logged_once_and_never_raises(fake, caplog):
    client = events_client(fake)
    ctx = Context.create("buyer")
    try:
        before = len(fake.event_payloads("/bulk"))
        with caplog.at_level(logging.WARNING):
            client.track("no-context", None)
            client.track("invalid", Context.create(""))
            client.track("not-a-context", 42)
            client.track("text-metric", ctx, None, "12")
            client.track("nan-metric", ctx, None, math.nan)
            client.track("bool-metric", ctx, None, True)
            client.track("unwritable", ctx, {"f": object()}, 1)
            client.track("good", ctx, {"big": 2 ** 70}, 3)
            client.identify(Context.create(""))
            messages = [r.getMessage() for r in caplog.records]
            events = flushed_events(fake, client, before)
            messages = [r.getMessage() for r in caplog.records]
    finally:
        client.close()
    customs = [(e["key"], e.get("metricValue"), e.get("data")) for e in events if e["kind"] == "custom"]
    assert customs == [("text-metric", None, None), ("nan-metric", None, None), ("bool-metric", None, None),
                       ("good", 3, {"big": 2 ** 70})]
    assert sum("called without a user/context" in m for m in messages) == 1
    assert sum(m.startswith("Invalid context for track") for m in messages) == 2
    assert sum("metric_value must be a finite number" in m for m in messages) == 3
    assert sum("cannot be serialized" in m for m in messages) == 1
    assert sum(m.startswith("Invalid context for identify") for m in messages) == 1


def test_track_with_events_off_logs_the_same_warnings(caplog):
    config = ldfast.Config("sdk-key", update_processor_class=static_source(FLAGS), send_events=False)
    client = ldfast.LDClient(config=config, start_wait=5)
    try:
        with caplog.at_level(logging.WARNING):
            client.track("e", None)
            client.track("e", Context.create("u"), None, "x")
            client.track("e", Context.create("u"), None, 1.5)
    finally:
        client.close()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and "without a user/context" in messages[0] and "finite number" in messages[1]


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_a_flood_of_a_million_tracks_keeps_the_queues_at_capacity_and_memory_bounded(fake, caplog):
    capacity = 10_000
    client = events_client(fake, events_max_pending=capacity)
    ctx = Context.builder("flood").set("plan", "pro").build()
    processor = client._networking._events
    try:
        before = len(fake.event_payloads("/bulk"))
        with caplog.at_level(logging.WARNING):
            for _ in range(100_000):  # the queues fill up
                client.track("click", ctx, {"n": 1}, 1.0)
            gc.collect()
            rss = _rss_bytes()
            for _ in range(900_000):
                client.track("click", ctx, {"n": 1}, 1.0)
            gc.collect()
            grown = _rss_bytes() - rss
            assert len(processor._inbox) <= capacity + 1
            events = flushed_events(fake, client, before)
    finally:
        client.close()
    assert grown < 32 * 1024 * 1024, "memory grew by %d bytes during the flood" % grown
    assert 0 < len(events) <= capacity + 1
    assert processor.dropped_events >= 1_000_000 - 2 * capacity - 1
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) <= 4  # once per flush interval at most, not per event


def test_the_event_dispatchers_use_the_twins_in_use():
    """A compiled build records and writes events with the compiled twins; a pure one with the pure."""
    import ldfast._ext as ext
    from ldfast._ext import eventfmt, recorder
    from ldfast.events.processor import EventProcessor

    for mod in (recorder, eventfmt):
        name = mod.implementation.__name__
        if ldfast.extensions_enabled():
            assert name.endswith("_c") and not mod.implementation.__file__.endswith(".py")
        else:
            assert name.endswith("_py")
    assert {"recorder", "eventfmt"} <= set(ext.TWINS)
    processor = EventProcessor(ldfast.Config("sdk-key", diagnostic_opt_out=True), reactor=None, http_client=object())
    assert type(processor.recorder) is recorder.Recorder
