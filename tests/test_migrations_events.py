"""Migration analytics end to end: one script of migration reads, writes, stage evaluations and
hand-made trackers runs through the official SDK and through each ldfast face (sync, Twisted), each
posting to a real loopback capture server; the events must be the same (creation times and
latencies masked; the origins inside ``invoked``/``error``, which the official SDK writes in the
order of a set, compared as sets). Then what a script cannot show deterministically: the
``samplingRatio`` fields of sampled flags and checks, through both SDKs' own formatters."""
from __future__ import annotations

import copy
import json
from typing import Any, Callable

import ldclient
import ldclient.migrations
import pytest

import ldfast
import ldfast.migrations
from tests.support.faces import Face
from tests.support.fake_ld import FakeLaunchDarklyThread

STAGES = ["off", "dualwrite", "shadow", "live", "rampdown", "complete"]


def mig(key: str, stage: str, version: int = 1, **extra: Any) -> dict:
    flag = {"key": key, "version": version, "on": True, "variations": STAGES, "salt": key,
            "fallthrough": {"variation": STAGES.index(stage)}, "offVariation": 0}
    flag.update(extra)
    return flag


FLAGS = {
    "m-off": mig("m-off", "off", 2),
    "m-dual": mig("m-dual", "dualwrite", 3, trackEvents=True),
    "m-shadow": mig("m-shadow", "shadow", 4, migration={"checkRatio": 1}),
    "m-live": mig("m-live", "live", 5),
    "m-ramp": mig("m-ramp", "rampdown", 6, excludeFromSummaries=True, trackEvents=True),
    "m-done": mig("m-done", "complete", 7),
    "m-nocheck": mig("m-nocheck", "shadow", 8, migration={"checkRatio": 0}),
    "m-unsampled": mig("m-unsampled", "live", 9, samplingRatio=0),
    "m-rule": {"key": "m-rule", "version": 10, "on": True, "variations": STAGES, "salt": "s", "offVariation": 0,
               "fallthrough": {"variation": 0},
               "rules": [{"id": "r1", "variation": 3, "trackEvents": True,
                          "clauses": [{"attribute": "plan", "op": "in", "values": ["pro"]}]}]},
    "m-bad": {"key": "m-bad", "version": 11, "on": True, "variations": [1, "nonsense"], "salt": "s",
              "fallthrough": {"variation": 1}, "trackEvents": True},
    "m-offflag": {"key": "m-offflag", "version": 12, "on": False, "variations": STAGES, "salt": "s",
                  "fallthrough": {"variation": 3}},
    "plain": {"key": "plain", "version": 1, "on": True, "variations": [1, 2], "fallthrough": {"variation": 1},
              "salt": "s"},
}


def contexts(sdk: Any) -> list:
    b = sdk.Context.builder
    return [
        b("u1").name("Ann").set("email", "a@x.org").set("plan", "pro").private("email").build(),
        b("anon").anonymous(True).name("Who").set("plan", "free").build(),
        b("o1").kind("org").set("address", {"city": "Oslo", "zip": "0150"}).build(),
        sdk.Context.create_multi(b("u2").set("plan", "pro").build(),
                                 b("dev").kind("device").anonymous(True).set("os", "x").build()),
    ]


def script(sdk: Any, client: Any, build: Callable[[Any], Any]) -> None:
    """The same calls for every SDK and face. ``client`` answers at once (a face's blocking view);
    ``build(builder)`` builds a migrator and gives it back, also answering at once."""
    m = sdk.migrations
    R = sdk.Result
    calls = []

    def origin(name: str, value: Any = None, fail: bool = False, raises: bool = False) -> Callable[[Any], Any]:
        def fn(payload: Any) -> Any:
            calls.append((name, payload))
            if raises:
                raise RuntimeError("boom")
            return R.fail("%s failed" % name) if fail else R.success(value if value is not None else payload)
        return fn

    serial = build(m.MigratorBuilder(client.raw).read_execution_order(m.ExecutionOrder.SERIAL)
                   .read(origin("read-old", "same"), origin("read-new", "same"), lambda a, b: a == b)
                   .write(origin("write-old"), origin("write-new")))
    differing = build(m.MigratorBuilder(client.raw).read_execution_order(m.ExecutionOrder.SERIAL)
                      .read(origin("read-old", "a"), origin("read-new", "b"), lambda a, b: a == b)
                      .write(origin("write-old", fail=True), origin("write-new", raises=True))
                      .track_latency(False))
    no_errors = build(m.MigratorBuilder(client.raw).read_execution_order(m.ExecutionOrder.SERIAL)
                      .read(origin("read-old", raises=True), origin("read-new", fail=True))
                      .write(origin("write-old"), origin("write-new", fail=True))
                      .track_errors(False))
    broken_compare = build(m.MigratorBuilder(client.raw).read_execution_order(m.ExecutionOrder.SERIAL)
                           .read(origin("read-old"), origin("read-new"), lambda a, b: 1 / 0)
                           .write(origin("write-old"), origin("write-new")))
    parallel = build(m.MigratorBuilder(client.raw)
                     .read(origin("read-old", "same"), origin("read-new", "same"), lambda a, b: a == b)
                     .write(origin("write-old"), origin("write-new")))
    shuffled = build(m.MigratorBuilder(client.raw).read_execution_order(m.ExecutionOrder.RANDOM)
                     .read(origin("read-old", "x"), origin("read-new", "y"), lambda a, b: a == b)
                     .write(origin("write-old"), origin("write-new")))
    keys = ["m-off", "m-dual", "m-shadow", "m-live", "m-ramp", "m-done", "m-nocheck", "m-unsampled", "m-rule",
            "m-bad", "m-offflag", "missing"]
    for i, ctx in enumerate(contexts(sdk)):
        for key in keys:
            serial.read(key, ctx, m.Stage.DUALWRITE, "p-%d" % i)
            serial.write(key, ctx, m.Stage.LIVE, {"n": i})
        for key in ("m-shadow", "m-live", "m-dual", "m-ramp", "m-bad"):
            differing.read(key, ctx, m.Stage.OFF)
            differing.write(key, ctx, m.Stage.RAMPDOWN)
            no_errors.read(key, ctx, m.Stage.SHADOW)
            no_errors.write(key, ctx, m.Stage.SHADOW)
        broken_compare.read("m-shadow", ctx, m.Stage.OFF)
        for key in ("m-shadow", "m-live", "m-nocheck"):
            parallel.read(key, ctx, m.Stage.OFF, i)
            shuffled.read(key, ctx, m.Stage.OFF, i)
        client.variation("plain", ctx, 0)
        stage, tracker = client.migration_variation("m-live", ctx, m.Stage.OFF)
        tracker.operation(m.Operation.WRITE).invoked(m.Origin.NEW).error(m.Origin.NEW)
        client.track_migration_op(tracker)
        stage, tracker = client.migration_variation("m-rule", ctx, "not a stage")
        client.track_migration_op(tracker)  # no operation: no event
    assert calls  # (the origins ran)
    client.flush()


class Direct:
    """The official client as a blocking view of itself."""

    def __init__(self, client: Any):
        self.raw = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class Blocking:
    """A face's client with every call made the face's way and waited for."""

    def __init__(self, face: Face, client: Any):
        self._face = face
        self.raw = client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.raw, name)
        return lambda *args: self._face._run(method, *args)


def run_official(flags: dict = FLAGS, **options: Any) -> list:
    with FakeLaunchDarklyThread(copy.deepcopy(flags)) as fake:
        config = ldclient.Config("sdk-key", stream_uri=fake.uri, base_uri=fake.uri, events_uri=fake.uri,
                                 diagnostic_opt_out=True, flush_interval=60, **options)
        client = ldclient.LDClient(config=config, start_wait=10)
        try:
            assert client.is_initialized()
            script(ldclient, Direct(client), lambda b: b.build())
            return fake.wait_for_event_payloads(1, "/bulk", timeout=10)
        finally:
            client.close()


def run_ldfast(kind: str, flags: dict = FLAGS, **options: Any) -> list:
    face = Face(kind)
    with FakeLaunchDarklyThread(copy.deepcopy(flags)) as fake:
        config = ldfast.Config("sdk-key", stream_uri=fake.uri, base_uri=fake.uri, events_uri=fake.uri,
                               diagnostic_opt_out=True, flush_interval=60, **options)
        try:
            client = face.client(config)

            def build(builder: Any) -> Any:
                migrator = builder.build()
                assert not isinstance(migrator, str)
                return Blocking(face, migrator)

            script(ldfast, Blocking(face, client), build)
            return fake.wait_for_event_payloads(1, "/bulk", timeout=10)
        finally:
            face.close()


def normalize(payloads: list) -> list:
    """Events with creation dates and latencies masked, measurement origins as sorted lists."""
    events = []
    for p in payloads:
        for e in json.loads(p.body):
            for k in ("creationDate", "startDate", "endDate"):
                if k in e:
                    e[k] = 0
            if e["kind"] == "summary":
                for f in e["features"].values():
                    f["contextKinds"] = sorted(f["contextKinds"])
            for measurement in e.get("measurements", []):
                if "values" in measurement:
                    values = measurement["values"]
                    if measurement["key"] == "latency_ms":
                        assert all(isinstance(v, float) and 0 <= v < 5000 for v in values.values())
                        values = {k: "ms" for k in values}
                    measurement["values"] = sorted(values.items())
            events.append(e)
    return events


def key_orders(payloads: list) -> list:
    """Each event's keys, and its evaluation's keys, in the order written."""
    out = []
    for p in payloads:
        for e in json.loads(p.body, object_pairs_hook=list):
            keys = [k for k, _ in e]
            out.append(keys)
            for k, v in e:
                if k in ("evaluation", "context"):
                    out.append([kk for kk, _ in v])
                if k == "measurements":
                    out.extend([kk for kk, _ in item] for item in v)
    return out


OPTIONS = [
    {},
    {"all_attributes_private": True},
    {"private_attributes": ["name", "/address/city"]},
    {"omit_anonymous_contexts": True, "context_keys_capacity": 2},
]


@pytest.fixture(scope="module")
def official_runs() -> dict:
    return {}


@pytest.mark.parametrize("options", OPTIONS, ids=["default", "all-private", "private", "omit-anonymous"])
@pytest.mark.parametrize("kind", ["sync", "twisted"])
def test_same_migration_events_as_the_official_sdk(kind: str, options: dict, official_runs: dict) -> None:
    key = json.dumps(options, sort_keys=True)
    if key not in official_runs:
        official_runs[key] = run_official(**options)
    official = official_runs[key]
    ours = run_ldfast(kind, **options)
    expected, actual = normalize(official), normalize(ours)
    assert [e["kind"] for e in actual] == [e["kind"] for e in expected]
    assert actual == expected
    assert key_orders(ours) == key_orders(official)
    kinds = {e["kind"] for e in actual}
    assert {"migration_op", "feature", "summary"} <= kinds
    ops = [e for e in actual if e["kind"] == "migration_op"]
    assert any(m["key"] == "consistent" and m["value"] is False for e in ops for m in e["measurements"])
    assert any(m["key"] == "error" for e in ops for m in e["measurements"])
    assert not any(e["evaluation"]["key"] == "m-unsampled" for e in ops)  # samplingRatio 0: never sent
    assert b"a@x.org" not in b"".join(p.body for p in ours)  # a private attribute never leaves


# -- sampling ratios, through both SDKs' formatters ---------------------------------------------------

def official_event(flag: dict, consistent_ratio: Any) -> dict:
    from ldclient.impl.events.event_processor_common import EventOutputFormatter as OfficialFormatter
    from ldclient.impl.model import FeatureFlag

    ctx = ldclient.Context.builder("k").anonymous(True).name("n").build()
    tracker = ldclient.migrations.OpTracker(flag["key"], FeatureFlag(flag), ctx,
                                            ldclient.evaluation.EvaluationDetail("live", 3, {"kind": "FALLTHROUGH"}),
                                            ldclient.migrations.Stage.OFF)
    return _measure(ldclient, tracker, consistent_ratio, OfficialFormatter(ldclient.Config("k")))


def ldfast_event(flag: dict, consistent_ratio: Any) -> dict:
    from ldfast._ext.model import Flag
    from ldfast.events.formatter import EventOutputFormatter

    ctx = ldfast.Context.builder("k").anonymous(True).name("n").build()
    tracker = ldfast.migrations.OpTracker(flag["key"], Flag(flag), ctx,
                                          ldfast.EvaluationDetail("live", 3, {"kind": "FALLTHROUGH"}),
                                          ldfast.migrations.Stage.OFF)
    return _measure(ldfast, tracker, consistent_ratio, EventOutputFormatter(ldfast.Config("k")))


def _measure(sdk: Any, tracker: Any, consistent_ratio: Any, formatter: Any) -> dict:
    from datetime import timedelta

    m = sdk.migrations
    tracker.operation(m.Operation.READ).invoked(m.Origin.OLD).invoked(m.Origin.NEW)
    tracker.latency(m.Origin.NEW, timedelta(milliseconds=2.5)).latency(m.Origin.OLD, timedelta(seconds=1))
    tracker.error(m.Origin.OLD)
    for _ in range(200):  # a check sampled one in N: one of 200 tries gets through (N <= 3 here)
        tracker.consistent(lambda: True)
    event = tracker.build()
    assert not isinstance(event, str), event
    out = formatter.make_output_event(event)
    out["creationDate"] = 0
    for measurement in out["measurements"]:
        if measurement["key"] in ("invoked", "error"):
            measurement["values"] = sorted(measurement["values"].items())
    return out


@pytest.mark.parametrize("extra", [
    {}, {"samplingRatio": 1}, {"samplingRatio": 3}, {"migration": {"checkRatio": 2}},
    {"migration": {"checkRatio": 3}, "samplingRatio": 7}, {"migration": {}}, {"migration": {"checkRatio": 1}},
])
def test_migration_op_output_matches_the_official_formatter(extra: dict) -> None:
    flag = mig("f", "live", 4, **extra)
    ours = ldfast_event(flag, None)
    assert ours == official_event(flag, None)
    assert list(ours) == list(official_event(flag, None))
    ratio = extra.get("migration", {}).get("checkRatio")
    consistent = [m for m in ours["measurements"] if m["key"] == "consistent"][0]
    assert consistent.get("samplingRatio") == (ratio if ratio not in (None, 1) else None)
    assert ours.get("samplingRatio") == (extra["samplingRatio"] if extra.get("samplingRatio", 1) != 1 else None)
    assert ours["context"] == {"key": "k", "kind": "user", "anonymous": True, "_meta": {"redactedAttributes": ["name"]}}
