"""Migrators (``ldclient.migrations.migrator`` of launchdarkly-server-sdk 9.x): reads and writes
that follow a migration flag's stage, with the measurements LaunchDarkly shows for a migration.

``MigratorBuilder(client)...build()`` gives a :class:`Migrator` whose ``read``/``write`` evaluate
the flag (``client.migration_variation``), call the old and/or new origin as the stage says, and
send the measurements (``client.track_migration_op``). One core, two thin faces:

- the core (:func:`_read_steps`, :func:`_write_steps`, :class:`Executor`) decides which origins
  run, in which order, what is compared and what is measured; it is a generator that asks its
  face to run one origin, or two at once, and is handed back their results;
- the sync face (:class:`MigratorImpl`, for ``LDClient``) runs origins in the calling thread, and a
  parallel read's non-authoritative origin in a second thread; the Twisted face
  (``ldfast.migrations._twisted``, built for a ``TwistedLDClient``) runs them without blocking the
  reactor, and its ``read``/``write`` return Deferreds.

An origin that raises, or returns something other than a ``Result``, gives a failed result (and an
``error`` measurement when errors are tracked); it never reaches the caller.
"""
from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from datetime import timedelta
from random import random as _random
from typing import TYPE_CHECKING, Any, Callable, Generator, Optional, Tuple, Union

from ldfast.migrations.tracker import OpTracker
from ldfast.migrations.types import (
    ExecutionOrder,
    MigrationConfig,
    MigratorCompareFn,
    MigratorFn,
    Operation,
    OperationResult,
    Origin,
    Result,
    Stage,
    WriteResult,
)

if TYPE_CHECKING:
    from ldfast.context import Context

log = logging.getLogger(__name__)


class Migrator(ABC):
    """Runs migration-backed reads and writes (built by :class:`MigratorBuilder`).

    With a ``TwistedLDClient``, ``read`` and ``write`` return Deferreds of these results.
    """

    @abstractmethod
    def read(self, key: str, context: "Context", default_stage: Stage, payload: Optional[Any] = None) -> OperationResult:
        """A read, as the stage of flag ``key`` for ``context`` says (``default_stage`` when the
        flag cannot be evaluated); ``payload`` is passed to the read functions."""

    @abstractmethod
    def write(self, key: str, context: "Context", default_stage: Stage, payload: Optional[Any] = None) -> WriteResult:
        """A write, as the stage of flag ``key`` for ``context`` says (``default_stage`` when the
        flag cannot be evaluated); ``payload`` is passed to the write functions."""


class non_blocking:  # noqa: N801 (used as a decorator)
    """Marks a migration origin function as non-blocking, for a ``TwistedLDClient``'s migrator: it
    is then called on the reactor thread and may return a Deferred (or a coroutine) of its
    ``Result``. Other plain functions are taken to block and run in the reactor's thread pool;
    ``async def`` functions and ``@inlineCallbacks`` functions are known to be non-blocking without
    the mark. The sync client calls a marked function as it is."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Optional[Any]], Any]):
        self.fn = fn

    def __call__(self, payload: Optional[Any] = None) -> Any:
        return self.fn(payload)

    def __repr__(self) -> str:
        return "non_blocking(%r)" % (self.fn,)


# -- the core --------------------------------------------------------------------------------------

class Executor:
    """One origin of one operation: its function and the measurements of its call (the official
    module's ``Executor``; ``run()`` calls it and records latency, error and invocation)."""

    __slots__ = ("_origin", "fn", "tracker", "measure_latency", "measure_errors", "payload")

    def __init__(self, origin: Origin, fn: Any, tracker: OpTracker, measure_latency: bool, measure_errors: bool,
                 payload: Any):
        self._origin = origin
        self.fn = fn
        self.tracker = tracker
        self.measure_latency = measure_latency
        self.measure_errors = measure_errors
        self.payload = payload

    @property
    def origin(self) -> Origin:
        return self._origin

    def run(self) -> OperationResult:
        """Execute the operation and record its measurements (the sync face, any thread)."""
        return self.done(*self.timed_call())

    def timed_call(self) -> Tuple[Any, float]:
        """Call the function: ``(what it returned or raised, seconds)`` (any thread)."""
        start = time.monotonic()
        try:
            outcome = self.fn(self.payload)
        except Exception as e:
            outcome = e
        return outcome, time.monotonic() - start

    def done(self, outcome: Any, seconds: float) -> OperationResult:
        """The call's result, its measurements recorded: latency (if tracked), error (if tracked and
        it failed), invoked."""
        origin = self.origin
        if isinstance(outcome, BaseException):
            result = Result.fail("'%s operation raised an exception" % origin.value, outcome)
        elif isinstance(outcome, Result):
            result = outcome
        else:
            log.error("The %s origin of a migration returned %r, not a Result; taken as a failure",
                      origin.value, type(outcome).__name__)
            result = Result.fail("'%s' operation returned %s, not a Result" % (origin.value, type(outcome).__name__))
        tracker = self.tracker
        if self.measure_latency:
            tracker.latency(origin, timedelta(seconds=seconds))
        if self.measure_errors and not result.is_success():
            tracker.error(origin)
        tracker.invoked(origin)
        return OperationResult(origin, result)


# What a core generator yields: one origin to run, or two (authoritative, other) to run at once; it
# is sent the OperationResult, or the pair of them, and returns the operation's result.
_Steps = Generator[Union[Executor, Tuple[Executor, Executor]], Any, Any]


def _read_steps(stage: Stage, old: Executor, new: Executor, order: ExecutionOrder,
                comparison: Optional[MigratorCompareFn], tracker: OpTracker, coin: Callable[[], bool]) -> _Steps:
    """A read: OLD alone (off, dualwrite), NEW alone (rampdown, complete), or both (shadow: OLD
    authoritative; live: NEW), in ``order``, compared (if ``comparison``, both succeeded and the
    check is sampled). Returns the authoritative OperationResult."""
    if stage is Stage.OFF or stage is Stage.DUALWRITE:
        return (yield old)
    if stage is not Stage.SHADOW and stage is not Stage.LIVE:
        return (yield new)
    authoritative, other = (old, new) if stage is Stage.SHADOW else (new, old)
    if order is ExecutionOrder.PARALLEL:
        result, other_result = yield (authoritative, other)
    elif order is ExecutionOrder.RANDOM and coin():
        other_result = yield other
        result = yield authoritative
    else:
        result = yield authoritative
        other_result = yield other
    if comparison is not None and result.is_success() and other_result.is_success():
        tracker.consistent(lambda: comparison(result.value, other_result.value))
    return result


def _write_steps(stage: Stage, old: Executor, new: Executor, tracker: OpTracker) -> _Steps:
    """A write: OLD alone (off), NEW alone (complete), or the authoritative origin (OLD for
    dualwrite and shadow, NEW for live and rampdown) then, if it succeeded, the other one.
    Returns a WriteResult."""
    if stage is Stage.OFF:
        return WriteResult((yield old))
    if stage is Stage.DUALWRITE or stage is Stage.SHADOW:
        authoritative, other = old, new
    elif stage is Stage.LIVE or stage is Stage.RAMPDOWN:
        authoritative, other = new, old
    else:
        return WriteResult((yield new))
    result = yield authoritative
    tracker.invoked(authoritative.origin)
    if not result.is_success():
        return WriteResult(result, None)
    other_result = yield other
    tracker.invoked(other.origin)
    return WriteResult(result, other_result)


class _Settings:
    """What a builder configured, shared by the faces. ``sampler`` (an object with ``sample(ratio)``,
    as the official SDK's): the coin of the random read order (None: ``random.random() < 0.5``)."""

    __slots__ = ("order", "read_config", "write_config", "measure_latency", "measure_errors", "coin")

    def __init__(self, order: ExecutionOrder, read_config: MigrationConfig, write_config: MigrationConfig,
                 measure_latency: bool, measure_errors: bool, sampler: Any = None):
        self.order = order
        self.read_config = read_config
        self.write_config = write_config
        self.measure_latency = measure_latency
        self.measure_errors = measure_errors
        self.coin: Callable[[], bool] = (lambda: _random() < 0.5) if sampler is None else (lambda: bool(sampler.sample(2)))

    def steps(self, operation: Operation, stage: Stage, tracker: OpTracker, payload: Any) -> _Steps:
        """The core generator of one operation at ``stage``."""
        config = self.read_config if operation is Operation.READ else self.write_config
        old = Executor(Origin.OLD, config.old, tracker, self.measure_latency, self.measure_errors, payload)
        new = Executor(Origin.NEW, config.new, tracker, self.measure_latency, self.measure_errors, payload)
        if operation is Operation.READ:
            return _read_steps(stage, old, new, self.order, config.comparison, tracker, self.coin)
        return _write_steps(stage, old, new, tracker)


# -- the sync face ---------------------------------------------------------------------------------

class MigratorImpl(Migrator):
    """The migrator of a sync ``LDClient``: origins run in the calling thread; a parallel read runs
    its non-authoritative origin in a second thread meanwhile."""

    def __init__(self, sampler: Any, client: Any, read_execution_order: ExecutionOrder, read_config: MigrationConfig,
                 write_config: MigrationConfig, measure_latency: bool, measure_errors: bool):
        self._client = client
        self._settings = _Settings(read_execution_order, read_config, write_config, measure_latency, measure_errors,
                                   sampler)

    def read(self, key: str, context: "Context", default_stage: Stage, payload: Optional[Any] = None) -> OperationResult:
        result: OperationResult = self._operation(Operation.READ, key, context, default_stage, payload)
        return result

    def write(self, key: str, context: "Context", default_stage: Stage, payload: Optional[Any] = None) -> WriteResult:
        result: WriteResult = self._operation(Operation.WRITE, key, context, default_stage, payload)
        return result

    def _operation(self, operation: Operation, key: str, context: Any, default_stage: Stage, payload: Any) -> Any:
        stage, tracker = self._client.migration_variation(key, context, default_stage)
        tracker.operation(operation)
        steps = self._settings.steps(operation, stage, tracker, payload)
        try:
            request = next(steps)
            while True:
                request = steps.send(_run(request))
        except StopIteration as done:
            result = done.value
        self._client.track_migration_op(tracker)
        return result


def _run(request: Any) -> Any:
    if isinstance(request, Executor):
        return request.run()
    first, second = request
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(second.run()), name="ldfast-migration-read", daemon=True)
    thread.start()
    try:
        first_result = first.run()
    finally:
        thread.join()
    return first_result, box[0]


# -- the builder -----------------------------------------------------------------------------------

class MigratorBuilder:
    """Configures a :class:`Migrator` for ``client`` (an ``LDClient``, a ``TwistedLDClient`` or an
    ``AsyncLDClient``, whose migrator's ``read``/``write`` are coroutines).

    Defaults: parallel reads, latency and errors tracked. ``read(...)`` and ``write(...)`` are required.
    """

    def __init__(self, client: Any):
        self._client = client
        self._order = ExecutionOrder.PARALLEL
        self._measure_latency = True
        self._measure_errors = True
        self._read_config: Optional[MigrationConfig] = None
        self._write_config: Optional[MigrationConfig] = None

    def read_execution_order(self, order: ExecutionOrder) -> "MigratorBuilder":
        """How reads that use both origins run them (anything but an ExecutionOrder is ignored)."""
        if isinstance(order, ExecutionOrder):
            self._order = order
        return self

    def track_latency(self, enabled: bool) -> "MigratorBuilder":
        """Whether to measure each origin's latency (default: yes)."""
        self._measure_latency = enabled
        return self

    def track_errors(self, enabled: bool) -> "MigratorBuilder":
        """Whether to report failed origin calls (default: yes)."""
        self._measure_errors = enabled
        return self

    def read(self, old: MigratorFn, new: MigratorFn, comparison: Optional[MigratorCompareFn] = None) -> "MigratorBuilder":
        """The read functions of each origin (each takes the payload and returns a ``Result``) and,
        to check consistency, a function comparing two successful reads' values."""
        self._read_config = MigrationConfig(old, new, comparison)
        return self

    def write(self, old: MigratorFn, new: MigratorFn) -> "MigratorBuilder":
        """The write functions of each origin (each takes the payload and returns a ``Result``)."""
        self._write_config = MigrationConfig(old, new)
        return self

    def build(self) -> Union[Migrator, str]:
        """The migrator, or a string saying what is missing."""
        if self._read_config is None:
            return "read configuration not provided"
        if self._write_config is None:
            return "write configuration not provided"
        from ldfast.twisted import TwistedLDClient

        new_migrator = getattr(self._client, "_new_migrator", None)  # the asyncio client's
        if new_migrator is not None:
            return new_migrator(_Settings(self._order, self._read_config, self._write_config,  # type: ignore[no-any-return]
                                          self._measure_latency, self._measure_errors))
        if isinstance(self._client, TwistedLDClient):
            from ldfast.migrations._twisted import TwistedMigrator

            return TwistedMigrator(self._client, _Settings(self._order, self._read_config, self._write_config,
                                                           self._measure_latency, self._measure_errors))
        return MigratorImpl(None, self._client, self._order, self._read_config, self._write_config,
                            self._measure_latency, self._measure_errors)


__all__ = ("Executor", "Migrator", "MigratorBuilder", "MigratorImpl", "non_blocking")
