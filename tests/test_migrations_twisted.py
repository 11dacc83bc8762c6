"""The Twisted face of migrators, without a running reactor: a Clock whose thread pool is a fake we
run by hand, origins that return Deferreds we fire by hand. Nothing an origin does may run on (and
so block) the reactor thread unless it is known not to block; ``read``/``write`` return Deferreds
that fire when the origins have, and never fail because of an origin."""
from __future__ import annotations

from typing import Any, Callable, List

import pytest
from twisted.internet.defer import Deferred, inlineCallbacks, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

import ldfast
from ldfast import Config, Context, ExecutionOrder, MigratorBuilder, Origin, Result, Stage
from ldfast.integrations.test_data import TestData
from ldfast.migrations import non_blocking
from ldfast.twisted import TwistedLDClient

STAGES = ["off", "dualwrite", "shadow", "live", "rampdown", "complete"]


class FakePool:
    """A thread pool whose jobs run when the test says so (``deferToThreadPool``'s side of it)."""

    def __init__(self) -> None:
        self.jobs: List[Any] = []

    def callInThreadWithCallback(self, on_result: Callable[[bool, Any], None], fn: Callable[..., Any],
                                 *args: Any, **kwargs: Any) -> None:
        self.jobs.append((on_result, fn, args, kwargs))

    def run_all(self) -> int:
        n = 0
        while self.jobs:
            on_result, fn, args, kwargs = self.jobs.pop(0)
            try:
                result = fn(*args, **kwargs)
            except BaseException as e:  # (deferToThreadPool's callback gets a Failure)
                from twisted.python.failure import Failure

                on_result(False, Failure(e))
            else:
                on_result(True, result)
            n += 1
        return n


class PoolClock(Clock):
    """A Clock with a thread pool (fake) and ``callFromThread`` (runs at once: the jobs run here)."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = FakePool()

    def getThreadPool(self) -> FakePool:
        return self.pool

    def callFromThread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        fn(*args, **kwargs)


def make_client(reactor: Any, **config: Any) -> TwistedLDClient:
    td = TestData.data_source()
    for i, stage in enumerate(STAGES):
        td.update(td.flag("m-" + stage).variations(*STAGES).variation_for_all(i))
    return TwistedLDClient("k", Config(update_processor_class=td, send_events=False, **config), reactor=reactor)


class TwistedMigratorTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = PoolClock()
        self.client = make_client(self.reactor)
        self.ctx = Context.create("u")
        self.calls: List[Any] = []

    def blocking(self, name: str, value: Any = "v") -> Callable[[Any], Any]:
        def fn(payload: Any) -> Any:
            self.calls.append((name, payload))
            return Result.success((name, value))
        return fn

    def deferred(self, name: str) -> "tuple[Callable[[Any], Any], List[Deferred]]":
        pending: List[Deferred] = []

        @non_blocking
        def fn(payload: Any) -> Deferred:
            self.calls.append((name, payload))
            d: Deferred = Deferred()
            pending.append(d)
            return d
        return fn, pending

    def test_migration_variation_returns_a_fired_deferred(self) -> None:
        stage, tracker = self.successResultOf(self.client.migration_variation("m-live", self.ctx, Stage.OFF))
        self.assertIs(stage, Stage.LIVE)
        self.assertIsInstance(tracker, ldfast.OpTracker)

    def test_blocking_origins_run_in_the_thread_pool(self) -> None:
        migrator = (MigratorBuilder(self.client).read_execution_order(ExecutionOrder.SERIAL)
                    .read(self.blocking("old"), self.blocking("new"), lambda a, b: a[1] == b[1])
                    .write(self.blocking("w-old"), self.blocking("w-new")).build())
        d = migrator.read("m-shadow", self.ctx, Stage.OFF, "p")
        self.assertNoResult(d)
        self.assertEqual(self.calls, [])  # nothing ran on the reactor thread
        self.assertEqual(len(self.reactor.pool.jobs), 1)  # serial: one at a time
        self.reactor.pool.run_all()
        result = self.successResultOf(d)
        self.assertEqual(self.calls, [("old", "p"), ("new", "p")])
        self.assertEqual((result.origin, result.value), (Origin.OLD, ("old", "v")))
        w = migrator.write("m-live", self.ctx, Stage.OFF, "q")
        self.assertNoResult(w)
        self.reactor.pool.run_all()
        written = self.successResultOf(w)
        self.assertEqual((written.authoritative.origin, written.nonauthoritative.origin), (Origin.NEW, Origin.OLD))

    def test_parallel_blocking_reads_are_both_queued_at_once(self) -> None:
        migrator = (MigratorBuilder(self.client).read(self.blocking("old"), self.blocking("new"))
                    .write(self.blocking("old"), self.blocking("new")).build())
        d = migrator.read("m-live", self.ctx, Stage.OFF)
        self.assertEqual(len(self.reactor.pool.jobs), 2)
        self.reactor.pool.run_all()
        self.assertEqual(self.successResultOf(d).value, ("new", "v"))

    def test_deferred_origins_run_on_the_reactor_and_are_waited_for(self) -> None:
        old, old_pending = self.deferred("old")
        new, new_pending = self.deferred("new")
        migrator = MigratorBuilder(self.client).read(old, new, lambda a, b: a == b).write(old, new).build()
        d = migrator.read("m-shadow", self.ctx, Stage.OFF, 5)  # parallel: both started at once
        self.assertEqual(self.calls, [("old", 5), ("new", 5)])
        self.assertEqual(self.reactor.pool.jobs, [])
        new_pending[0].callback(Result.success(1))
        self.assertNoResult(d)
        old_pending[0].errback(ValueError("db down"))
        result = self.successResultOf(d)  # an origin's failure is a failed result, not a failed Deferred
        self.assertFalse(result.is_success())
        self.assertIsInstance(result.exception, ValueError)
        self.assertEqual(result.origin, Origin.OLD)

    def test_a_failed_authoritative_write_skips_the_other_origin(self) -> None:
        old, old_pending = self.deferred("old")
        new, new_pending = self.deferred("new")
        migrator = MigratorBuilder(self.client).read(old, new).write(old, new).build()
        d = migrator.write("m-dualwrite", self.ctx, Stage.OFF, "x")
        self.assertEqual(self.calls, [("old", "x")])
        old_pending[0].callback(Result.fail("no"))
        written = self.successResultOf(d)
        self.assertEqual(written.authoritative.error, "no")
        self.assertIsNone(written.nonauthoritative)
        self.assertEqual(new_pending, [])

    def test_coroutine_and_inline_callbacks_origins_run_on_the_reactor(self) -> None:
        gates: List[Deferred] = []

        async def old(payload: Any) -> Result:
            gates.append(Deferred())
            value = await gates[-1]
            return Result.success(("old", payload, value))

        @inlineCallbacks
        def new(payload: Any) -> Any:
            value = yield succeed(payload)
            return Result.success(("new", value))

        migrator = MigratorBuilder(self.client).read(old, new).write(old, new).build()
        d = migrator.read("m-live", self.ctx, Stage.OFF, 1)
        self.assertEqual(self.reactor.pool.jobs, [])
        self.assertNoResult(d)  # the parallel read waits for the coroutine too
        gates[0].callback("g")
        self.assertEqual(self.successResultOf(d).value, ("new", 1))
        d = migrator.read("m-off", self.ctx, Stage.OFF, 2)
        self.assertNoResult(d)
        gates[1].callback("h")
        self.assertEqual(self.successResultOf(d).value, ("old", 2, "h"))

    def test_an_origin_that_raises_or_returns_junk_gives_a_failure(self) -> None:
        @non_blocking
        def raises(payload: Any) -> Any:
            raise KeyError(payload)

        migrator = MigratorBuilder(self.client).read(raises, lambda p: "junk").write(raises, raises).build()
        r = self.successResultOf(migrator.read("m-off", self.ctx, Stage.OFF, "k"))
        self.assertEqual(r.error, "'old operation raised an exception")
        self.assertIsInstance(r.exception, KeyError)
        d = migrator.read("m-complete", self.ctx, Stage.OFF)
        self.reactor.pool.run_all()
        self.assertIn("not a Result", self.successResultOf(d).error)

    def test_a_deferred_returned_from_the_thread_pool_is_still_waited_for(self) -> None:
        pending: List[Deferred] = []

        def unmarked(payload: Any) -> Deferred:
            d: Deferred = Deferred()
            pending.append(d)
            return d

        migrator = MigratorBuilder(self.client).read(unmarked, unmarked).write(unmarked, unmarked).build()
        d = migrator.read("m-off", self.ctx, Stage.OFF)
        self.reactor.pool.run_all()
        self.assertNoResult(d)
        pending[0].callback(Result.success("late"))
        self.assertEqual(self.successResultOf(d).value, "late")

    def test_without_a_thread_pool_blocking_origins_run_inline(self) -> None:
        client = make_client(Clock())
        migrator = MigratorBuilder(client).read(self.blocking("old"), self.blocking("new")).write(
            self.blocking("old"), self.blocking("new")).build()
        self.assertEqual(self.successResultOf(migrator.read("m-off", self.ctx, Stage.OFF)).value, ("old", "v"))

    def test_hooks_wait_for_the_evaluation(self) -> None:
        record: List[Any] = []

        class Hook(ldfast.hook.Hook):
            @property
            def metadata(self) -> Any:
                return ldfast.hook.Metadata(name="h")

            def before_evaluation(self, sc: Any, data: dict) -> dict:
                record.append(("before", sc.method, sc.default_value))
                return {"b": 1}

            def after_evaluation(self, sc: Any, data: dict, detail: Any) -> dict:
                record.append(("after", data, detail.value, detail.reason))
                return data

        client = make_client(self.reactor, hooks=[Hook()])
        gate: Deferred = Deferred()
        client._evaluated = lambda key, context, evaluate: gate.addCallback(lambda _: evaluate(context))
        d = client.migration_variation("m-rampdown", self.ctx, Stage.SHADOW)
        self.assertEqual(record, [("before", "migration_variation", "shadow")])
        self.assertNoResult(d)
        gate.callback(None)
        self.assertEqual(self.successResultOf(d)[0], Stage.RAMPDOWN)
        self.assertEqual(record[1], ("after", {"b": 1}, "rampdown", {"kind": "FALLTHROUGH"}))


@pytest.mark.parametrize("stage", list(Stage))
def test_every_stage_resolves_on_a_clock(stage: Stage) -> None:
    client = make_client(Clock())
    out: List[Any] = []
    client.migration_variation("m-" + stage.value, Context.create("u"), Stage.OFF).addCallback(out.append)
    assert out[0][0] is stage
