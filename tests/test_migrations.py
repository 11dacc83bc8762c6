"""Technology migrations (ldfast.migrations) through both faces, against the official SDK as the oracle.

The same scripts run on ldfast's sync and Twisted clients (each behind a blocking view, the Twisted
one on a real reactor thread) and on the official client over the same preconfigured TestData
flags: stages and evaluation details (seen by a recording hook, so the hooks series is compared
too), which origins a migrator calls per stage and operation, with which payload, and what it
returns; tracker misuse messages. Then what only ldfast promises: bad input never reaches the caller,
parallel reads really overlap, the module surface matches the official one.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, List

import ldclient
import ldclient.hook
import ldclient.migrations
import pytest

import ldfast
import ldfast.hook
import ldfast.migrations
from ldfast.integrations.test_data import TestData
from tests.support.faces import FACES, Face

SDKS = FACES + ("official",)
STAGES = ["off", "dualwrite", "shadow", "live", "rampdown", "complete"]


def mig(key: str, stage: Any, **extra: Any) -> dict:
    variations = STAGES if stage in STAGES else [stage]
    flag = {"key": key, "version": 3, "on": True, "variations": variations, "salt": key, "offVariation": 0,
            "fallthrough": {"variation": variations.index(stage)}}
    flag.update(extra)
    return flag


FLAGS = [mig("m-" + s, s) for s in STAGES] + [
    mig("m-number", 7), mig("m-bool", True), mig("m-upper", "LIVE"), mig("m-null", None),
    {"key": "m-off-none", "version": 2, "on": False, "variations": STAGES, "fallthrough": {"variation": 1}, "salt": "s"},
    {"key": "m-malformed", "version": 2, "on": True, "variations": STAGES, "fallthrough": {"variation": 9},
     "salt": "s"},
    {"key": "m-rule", "version": 4, "on": True, "variations": STAGES, "salt": "s", "fallthrough": {"variation": 0},
     "rules": [{"id": "r", "variation": 4, "clauses": [{"attribute": "plan", "op": "in", "values": ["pro"]}]}]},
]


# -- an SDK behind one blocking interface -------------------------------------------------------------

class Blocking:
    def __init__(self, run: Callable[..., Any], target: Any):
        self._run = run
        self.raw = target

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.raw, name)
        return lambda *args: self._run(method, *args)


class _OfficialSource:
    """The official client's data source of FLAGS (its TestData takes no preconfigured flag)."""

    def __init__(self, config: Any, store: Any, ready: Any):
        self._store, self._ready = store, ready

    def start(self) -> None:
        from ldclient.versioned_data_kind import FEATURES, SEGMENTS

        self._store.init({FEATURES: {f["key"]: dict(f) for f in FLAGS}, SEGMENTS: {}})
        self._ready.set()

    def stop(self) -> None:
        pass

    def initialized(self) -> bool:
        return True

    def is_alive(self) -> bool:
        return True


class Sdk:
    """One SDK (``kind``: sync, twisted, official) with a client over FLAGS; ``sdk`` is its module."""

    def __init__(self, kind: str, hooks: Callable[[Any], list] = lambda module: [], **config: Any):
        self.kind = kind
        self.sdk = ldclient if kind == "official" else ldfast
        self.m = self.sdk.migrations
        hook_module = ldclient.hook if kind == "official" else ldfast.hook
        if kind == "official":
            td: Any = _OfficialSource
        else:
            td = TestData.data_source()
            for flag in FLAGS:
                td.use_preconfigured_flag(flag)
        options = dict(update_processor_class=td, send_events=False, hooks=hooks(hook_module), **config)
        self._face = None
        if kind == "official":
            self.client = Blocking(lambda f, *a: f(*a), ldclient.LDClient(ldclient.Config("k", **options)))
        else:
            self._face = Face(kind)
            self.client = Blocking(self._face._run, self._face.client(ldfast.Config("k", **options)))

    def migrator(self, builder: Any) -> Any:
        built = builder.build()
        if isinstance(built, str):
            return built
        return Blocking(self.client._run, built)

    def close(self) -> None:
        if self._face is not None:
            self._face.close()
        else:
            self.client.close()


@pytest.fixture
def open_sdks():
    made: List[Sdk] = []

    def make(kind: str, **kwargs: Any) -> Sdk:
        s = Sdk(kind, **kwargs)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def recording_hook(module: Any, record: list) -> Any:
    class Recording(module.Hook):
        @property
        def metadata(self) -> Any:
            return module.Metadata(name="rec")

        def before_evaluation(self, sc: Any, data: dict) -> dict:
            record.append(("before", sc.key, sc.default_value, sc.method, sc.context.key, data))
            return {"seen": sc.key}

        def after_evaluation(self, sc: Any, data: dict, detail: Any) -> dict:
            record.append(("after", sc.key, sc.default_value, sc.method, data,
                           (detail.value, detail.variation_index, detail.reason)))
            return data

    return Recording()


# -- migration_variation ----------------------------------------------------------------------------

def stage_script(s: Sdk) -> list:
    m, ctx = s.m, s.sdk.Context
    user = ctx.builder("u").set("plan", "pro").build()
    out = []
    cases = [(f["key"], stage) for f in FLAGS for stage in (m.Stage.OFF, m.Stage.LIVE)]
    cases += [("missing", m.Stage.SHADOW), ("defaulted", m.Stage.OFF), ("defaulted-bad", m.Stage.COMPLETE),
              ("m-live", "live"), ("m-live", None)]
    for key, default in cases:
        stage, tracker = s.client.migration_variation(key, user, default)
        out.append((key, stage.value, type(tracker).__name__))
    stage, _ = s.client.migration_variation("m-live", ctx.create(""), m.Stage.RAMPDOWN)  # invalid context
    out.append(("invalid", stage.value))
    return out


@pytest.mark.parametrize("kind", FACES)
def test_stages_details_and_hooks_as_the_official_sdk(kind: str, open_sdks: Any) -> None:
    records = {}
    results = {}
    for k in (kind, "official"):
        record: list = []
        records[k] = record
        s = open_sdks(k, hooks=lambda module, r=record: [recording_hook(module, r)],
                      defaults={"defaulted": "live", "defaulted-bad": 42})
        results[k] = stage_script(s)
    assert results[kind] == results["official"]
    assert records[kind] == records["official"]
    by_key = {r[1]: r for r in records[kind] if r[0] == "after"}
    assert by_key["m-number"][5] == ("live", None, {"kind": "ERROR", "errorKind": "WRONG_TYPE"})
    assert by_key["missing"][5] == ("shadow", None, {"kind": "ERROR", "errorKind": "FLAG_NOT_FOUND"})
    assert by_key["m-rule"][3] == "migration_variation"
    assert ("m-rule", "rampdown", "OpTracker") in results[kind]


@pytest.mark.parametrize("kind", FACES)
def test_offline_client_gives_the_default_stage(kind: str, open_sdks: Any) -> None:
    s = open_sdks(kind, offline=True)
    user = ldfast.Context.create("u")
    stage, tracker = s.client.migration_variation("m-live", user, ldfast.Stage.DUALWRITE)
    assert stage is ldfast.Stage.DUALWRITE
    s.client.track_migration_op(tracker.operation(ldfast.Operation.READ).invoked(ldfast.Origin.OLD))  # no events: fine


# -- the migrator ------------------------------------------------------------------------------------

def migrator_script(s: Sdk, order: Any, **builder_options: Any) -> list:
    m, R = s.m, s.sdk.Result
    calls: list = []
    lock = threading.Lock()

    def origin(name: str, outcome: str = "ok") -> Callable[[Any], Any]:
        def fn(payload: Any) -> Any:
            with lock:
                calls.append((name, payload))
            if outcome == "raise":
                raise ValueError("nope")
            if outcome == "fail":
                return R.fail(name + " failed")
            return R.success((name, payload))
        return fn

    def result_record(r: Any) -> Any:
        if r is None:
            return None
        return (r.origin.value, r.is_success(), r.value, r.error, type(r.exception).__name__)

    out = []
    for write_old, write_new in (("ok", "ok"), ("fail", "ok"), ("raise", "fail"), ("ok", "raise")):
        builder = (m.MigratorBuilder(s.client.raw).read_execution_order(order)
                   .read(origin("r-old"), origin("r-new", write_new), lambda a, b: a[1] == b[1])
                   .write(origin("w-old", write_old), origin("w-new", write_new)))
        for name, value in builder_options.items():
            getattr(builder, name)(value)
        migrator = s.migrator(builder)
        for f in FLAGS + [{"key": "missing"}]:
            for default in (m.Stage.OFF, m.Stage.LIVE):
                calls.clear()
                r = migrator.read(f["key"], s.sdk.Context.create("u"), default, {"p": f["key"]})
                read_calls = sorted(calls) if order is not m.ExecutionOrder.SERIAL else list(calls)
                calls.clear()
                w = migrator.write(f["key"], s.sdk.Context.create("u"), default, [f["key"]])
                out.append((f["key"], default.value, read_calls, result_record(r), list(calls),
                            result_record(w.authoritative), result_record(w.nonauthoritative)))
    return out


@pytest.mark.parametrize("order", ["serial", "random", "parallel"])
@pytest.mark.parametrize("kind", FACES)
def test_migrator_calls_and_results_as_the_official_sdk(kind: str, order: str, open_sdks: Any) -> None:
    ours = open_sdks(kind)
    official = open_sdks("official")
    mine = migrator_script(ours, ldfast.ExecutionOrder.from_str(order))
    theirs = migrator_script(official, ldclient.migrations.ExecutionOrder.from_str(order))
    assert mine == theirs
    by_flag = {(row[0], row[1]): row for row in mine[:2 * (len(FLAGS) + 1)]}
    shadow = by_flag[("m-shadow", "off")]
    assert shadow[3][:3] == ("old", True, ("r-old", {"p": "m-shadow"}))
    assert sorted(c[0] for c in shadow[2]) == ["r-new", "r-old"]
    assert by_flag[("m-live", "off")][4] == [("w-new", ["m-live"]), ("w-old", ["m-live"])]  # NEW first


def test_migrator_options_as_the_official_sdk(open_sdks: Any) -> None:
    mine = migrator_script(open_sdks("sync"), ldfast.ExecutionOrder.SERIAL, track_latency=False, track_errors=False)
    theirs = migrator_script(open_sdks("official"), ldclient.migrations.ExecutionOrder.SERIAL,
                             track_latency=False, track_errors=False)
    assert mine == theirs


@pytest.mark.parametrize("kind", FACES)
def test_parallel_reads_overlap(kind: str, open_sdks: Any) -> None:
    s = open_sdks(kind)
    both_running = threading.Barrier(2, timeout=5)

    def origin(name: str) -> Callable[[Any], Any]:
        def fn(payload: Any) -> Any:
            both_running.wait()  # each origin returns only once the other one has started
            return ldfast.Result.success((name, threading.get_ident()))
        return fn

    migrator = s.migrator(ldfast.MigratorBuilder(s.client.raw).read(origin("old"), origin("new"), lambda a, b: True)
                          .write(origin("old"), origin("new")))
    result = migrator.read("m-live", ldfast.Context.create("u"), ldfast.Stage.OFF)
    assert result.is_success() and result.origin is ldfast.Origin.NEW
    assert not both_running.broken


def test_builder_and_module_surface_match_the_official_sdk() -> None:
    for m in (ldfast.migrations, ldclient.migrations):
        assert m.MigratorBuilder(None).build() == "read configuration not provided"
        assert m.MigratorBuilder(None).read(print, print).build() == "write configuration not provided"
    official_names = {n for n in ldclient.migrations.__all__ if not n.startswith("Async")}
    assert official_names <= set(ldfast.migrations.__all__)
    for name in official_names | {"Result"}:
        assert getattr(ldfast, name) is getattr(ldfast.migrations, name)
    assert ldfast.Result is ldfast.migrations.types.Result is ldfast.migrations.migrator.Result
    assert ldfast.migrations.WriteResult is ldfast.migrations.types.WriteResult
    assert ldfast.migrations.tracker.MigrationOpEvent is ldfast.migrations.MigrationOpEvent
    for a, b in ((ldfast.migrations.Stage, ldclient.migrations.Stage),
                 (ldfast.migrations.ExecutionOrder, ldclient.migrations.ExecutionOrder),
                 (ldfast.migrations.Operation, ldclient.migrations.Operation),
                 (ldfast.migrations.Origin, ldclient.migrations.Origin)):
        assert [(e.name, e.value) for e in a] == [(e.name, e.value) for e in b]
    for value in ("off", "live", "LIVE", "", None, 3, [1]):
        official = ldclient.migrations.Stage.from_str(value)
        ours = ldfast.Stage.from_str(value)
        assert (ours and ours.value) == (official and official.value)
    assert ldfast.ExecutionOrder.from_str("concurrent") is None
    r = ldfast.Result.fail("bad", KeyError("k"))
    assert (r.is_success(), r.value, r.error, type(r.exception)) == (False, None, "bad", KeyError)
    assert ldfast.Result.success(None).is_success()


# -- the tracker -------------------------------------------------------------------------------------

def tracker_cases(sdk: Any) -> list:
    from datetime import timedelta

    m = sdk.migrations
    detail = sdk.evaluation.EvaluationDetail("off", 0, {"kind": "FALLTHROUGH"})
    good = sdk.Context.create("u")

    def t(key: str = "k", context: Any = good) -> Any:
        return m.OpTracker(key, None, context, detail, m.Stage.OFF)

    cases = [
        t(),
        t().operation(m.Operation.READ),
        t("").operation(m.Operation.READ).invoked(m.Origin.OLD),
        t(context=sdk.Context.create("")).operation(m.Operation.READ).invoked(m.Origin.OLD),
        t().operation(m.Operation.READ).invoked(m.Origin.OLD).latency(m.Origin.NEW, timedelta(seconds=1)),
        t().operation(m.Operation.READ).invoked(m.Origin.NEW).error(m.Origin.OLD),
        t().operation(m.Operation.READ).invoked(m.Origin.OLD).consistent(lambda: True),
        t().operation(m.Operation.WRITE).invoked(m.Origin.OLD).invoked(m.Origin.NEW).consistent(lambda: False),
        t().operation("read").invoked("old"),
    ]
    out = []
    for tracker in cases:
        built = tracker.build()
        out.append(built if isinstance(built, str) else (built.operation.value, sorted(o.value for o in built.invoked),
                                                         built.consistent, built.consistent_ratio))
    return out


def test_tracker_build_as_the_official_sdk() -> None:
    assert tracker_cases(ldfast) == tracker_cases(ldclient)
    assert "no origins were invoked" in tracker_cases(ldfast)


def test_consistency_checks_are_sampled_by_check_ratio(monkeypatch: Any) -> None:
    import ldfast.migrations.tracker as tracker_module
    from ldfast._ext.model import Flag

    draws = iter([0.6, 0.2])
    monkeypatch.setattr(tracker_module, "_random", lambda: next(draws))
    flag = Flag(mig("m", "live", migration={"checkRatio": 3}))
    detail = ldfast.EvaluationDetail("live", 3, {"kind": "FALLTHROUGH"})
    t = ldfast.migrations.OpTracker("m", flag, ldfast.Context.create("u"), detail, ldfast.Stage.OFF)
    checked = []
    t.consistent(lambda: checked.append(1) or True)  # 0.6 >= 1/3: not sampled, not called
    assert checked == [] and t._consistent is None
    t.consistent(lambda: checked.append(2) or False)  # 0.2 < 1/3: sampled
    assert checked == [2] and t._consistent is False
    never = ldfast.migrations.OpTracker("m", Flag(mig("m", "live", migration={"checkRatio": 0})),
                                        ldfast.Context.create("u"), detail, ldfast.Stage.OFF)
    never.consistent(lambda: pytest.fail("checkRatio 0: never checked"))


# -- bad input never crashes the caller ----------------------------------------------------------------

@pytest.mark.parametrize("kind", FACES)
def test_bad_input_never_reaches_the_caller(kind: str, open_sdks: Any, caplog: Any) -> None:
    s = open_sdks(kind, hooks=lambda module: [])
    m = ldfast.migrations
    ctx = ldfast.Context.create("u")
    returns_junk = s.migrator(m.MigratorBuilder(s.client.raw)
                              .read(lambda p: "not a Result", lambda p: None, lambda a, b: 1 / 0)
                              .write(lambda p: 42, 7)  # (7 is not even callable)
                              .read_execution_order(None).read_execution_order("serial"))
    with caplog.at_level(logging.ERROR, logger="ldfast"):
        r = returns_junk.read("m-shadow", ctx, m.Stage.OFF)
        assert (r.is_success(), r.origin) == (False, m.Origin.OLD)
        assert "not a Result" in r.error
        w = returns_junk.write("m-complete", ctx, m.Stage.OFF)
        assert not w.authoritative.is_success() and w.authoritative.origin is m.Origin.NEW
        assert isinstance(w.authoritative.exception, TypeError) and w.nonauthoritative is None
        assert s.client.migration_variation("m-bool", ctx, m.Stage.LIVE)[0] is m.Stage.LIVE
        assert s.client.migration_variation("m-live", ctx, "shadow")[0] is m.Stage.LIVE
        assert s.client.migration_variation(["unhashable"], ctx, m.Stage.SHADOW)[0] is m.Stage.SHADOW
        assert s.client.migration_variation("m-live", {"key": "legacy-user"}, m.Stage.OFF)[0] is m.Stage.LIVE
        s.client.track_migration_op(None)
        s.client.track_migration_op("tracker")
        stage, tracker = s.client.migration_variation("m-live", ctx, m.Stage.OFF)
        s.client.track_migration_op(tracker)  # no operation: logged, no event
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "not a valid stage" in messages and "operation not provided" in messages
    assert "track_migration_op() takes the OpTracker" in messages


# -- the tracker's arguments ---------------------------------------------------------------------------

def test_tracker_latency_needs_a_timedelta(caplog: Any) -> None:
    t = ldfast.migrations.OpTracker("k", None, ldfast.Context.create("u"),
                                    ldfast.EvaluationDetail("off", 0, None), ldfast.Stage.OFF)
    assert t.latency(ldfast.Origin.OLD, 12.5) is t and t.error("old") is t and t.invoked(None) is t
    assert "must be a timedelta" in caplog.text
