"""The Twisted face of migrators: ``MigratorBuilder(twisted_client).build()``.

The same core as the sync face (``ldfast.migrations.migrator``); here nothing blocks the reactor.
``read``/``write`` return Deferreds (of an ``OperationResult`` / a ``WriteResult``) that never
fail because of an origin. Each origin function runs:

- on the reactor thread when it is known not to block: an ``async def`` function, an
  ``@inlineCallbacks`` function, or one marked with ``ldfast.migrations.non_blocking``; it may
  return a ``Result``, a Deferred of one, or a coroutine of one (its latency runs until that fires);
- otherwise in the reactor's thread pool, as a blocking call (its latency is that call's).

The comparison function runs on the reactor thread. The tracker's measurements are recorded on the
reactor thread.
"""
from __future__ import annotations

import inspect
import logging
import time
from typing import Any, Optional

from twisted.internet.defer import Deferred, gatherResults, maybeDeferred, succeed
from twisted.python.failure import Failure

from ldfast.migrations.migrator import Migrator, Executor, _Settings, non_blocking
from ldfast.migrations.types import Operation, OperationResult, Stage, WriteResult

log = logging.getLogger(__name__)

_warned_no_pool = False


class TwistedMigrator(Migrator):
    """The migrator of a ``TwistedLDClient`` (see the module docstring)."""

    # how a coroutine an origin returns is run (the asyncio client's migrator: as an asyncio task)
    _from_coroutine = staticmethod(Deferred.fromCoroutine)

    def __init__(self, client: Any, settings: _Settings):
        self._client = client
        self._settings = settings
        self._reactor = client._reactor

    def read(self, key: str, context: Any, default_stage: Stage,  # type: ignore[override]
             payload: Optional[Any] = None) -> "Deferred[OperationResult]":
        return self._operation(Operation.READ, key, context, default_stage, payload)

    def write(self, key: str, context: Any, default_stage: Stage,  # type: ignore[override]
              payload: Optional[Any] = None) -> "Deferred[WriteResult]":
        return self._operation(Operation.WRITE, key, context, default_stage, payload)

    def _operation(self, operation: Operation, key: str, context: Any, default_stage: Stage,
                   payload: Any) -> "Deferred[Any]":
        client = self._client

        def evaluated(stage_and_tracker: Any) -> "Deferred[Any]":
            stage, tracker = stage_and_tracker
            tracker.operation(operation)

            def track(outcome: Any) -> Any:
                client.track_migration_op(tracker)
                return outcome

            return self._drive(self._settings.steps(operation, stage, tracker, payload)).addBoth(track)

        return maybeDeferred(client.migration_variation, key, context, default_stage).addCallback(evaluated)

    def _drive(self, steps: Any) -> "Deferred[Any]":
        """Run the core generator: each request's origins started, the generator resumed with
        their results when they are in; fires with what it returns."""
        done: Deferred[Any] = Deferred()

        def resume(value: Any) -> None:
            try:
                request = steps.send(value)
            except StopIteration as stop:
                done.callback(stop.value)
                return
            except Exception:
                done.errback(Failure())
                return
            running: Deferred[Any]
            if isinstance(request, Executor):
                running = self._call(request)
            else:
                running = gatherResults([self._call(o) for o in request], consumeErrors=True).addCallback(
                    lambda results: tuple(results))
            running.addCallbacks(resume, done.errback)

        resume(None)
        return done

    def _call(self, origin: Executor) -> "Deferred[OperationResult]":
        """``origin``'s call, on the reactor or in the thread pool (see the module docstring); fires
        with its result, its measurements recorded (never fails)."""
        if _runs_on_reactor(origin.fn):
            start = time.monotonic()
            outcome, seconds = origin.timed_call()
            return _settled(origin, outcome, seconds, start, from_coroutine=self._from_coroutine)
        try:
            pool = self._reactor.getThreadPool()
        except Exception:  # e.g. a test Clock: no threads
            global _warned_no_pool
            if not _warned_no_pool:
                _warned_no_pool = True
                log.warning("The reactor has no thread pool: blocking migration origins run on the reactor thread")
            return succeed(origin.done(*origin.timed_call()))
        from twisted.internet.threads import deferToThreadPool

        start = time.monotonic()
        d = deferToThreadPool(self._reactor, pool, origin.timed_call)
        return d.addCallbacks(lambda timed: _settled(origin, timed[0], timed[1], start, in_thread=True,
                                                     from_coroutine=self._from_coroutine),
                              lambda f: origin.done(f.value, time.monotonic() - start))


def _settled(origin: Executor, outcome: Any, seconds: float, start: float, in_thread: bool = False,
             from_coroutine: Any = Deferred.fromCoroutine) -> "Deferred[OperationResult]":
    """The OperationResult of an outcome, once a Deferred or coroutine outcome has fired (its
    latency then runs from ``start`` until it fires)."""
    if inspect.iscoroutine(outcome):
        outcome = from_coroutine(outcome)
    if not isinstance(outcome, Deferred):
        return succeed(origin.done(outcome, seconds))
    if in_thread:
        log.warning("The %s origin of a migration returned a Deferred from the reactor's thread pool; mark a "
                    "function that returns a Deferred with ldfast.migrations.non_blocking", origin.origin.value)

    def fired(result: Any) -> OperationResult:
        value = result.value if isinstance(result, Failure) else result
        return origin.done(value, time.monotonic() - start)

    return outcome.addBoth(fired)


def _runs_on_reactor(fn: Any) -> bool:
    """Whether an origin function is known not to block (see the module docstring)."""
    if isinstance(fn, non_blocking):
        return True
    if inspect.iscoroutinefunction(fn):
        return True
    wrapped = getattr(fn, "__wrapped__", None)  # @inlineCallbacks wraps a generator function
    return wrapped is not None and inspect.isgeneratorfunction(wrapped)


__all__ = ("TwistedMigrator",)
