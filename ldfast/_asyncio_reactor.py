"""A Twisted reactor bound to the application's running asyncio loop: the asyncio client's networking.

``loop_reactor(loop)`` returns an ``AsyncioSelectorReactor`` over ``loop`` that is started (its
"startup" triggers run: the thread pool for DNS and persistent-store reads exists) but never
*runs* the loop: the application does. It is never installed as the global reactor; ldfast's
library code takes it as an argument. Stopping it (``stop_reactor``) disconnects what it still
holds and fires its "shutdown" triggers without stopping the application's loop (the stock
reactor's ``crash`` stops the loop: here it does not), and its thread pool is joined off the loop.

Works on any loop with ``add_reader``/``add_writer`` on file descriptors and ``call_at``: the
stdlib selector loop and uvloop (``tests/test_async_client.py`` runs both). ``result_of(d, loop)``
awaits a Deferred: at once when it has already fired (no Future, no loop turn), else through
``Deferred.asFuture(loop)``.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Callable, List, TypeVar

from twisted.internet.asyncioreactor import AsyncioSelectorReactor
from twisted.internet.base import ReactorBase
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

log = logging.getLogger(__name__)

T = TypeVar("T")


class LoopReactor(AsyncioSelectorReactor):
    """An ``AsyncioSelectorReactor`` that shares the application's loop and never stops it."""

    # (the global "I/O thread" belongs to the application's own reactor, if it has one)
    _registerAsIOThread = False

    def crash(self) -> None:
        ReactorBase.crash(self)  # not AsyncioSelectorReactor.crash: that stops the asyncio loop

    def __init__(self, eventloop: asyncio.AbstractEventLoop) -> None:
        super().__init__(eventloop)
        self._loop_thread = threading.get_ident()  # (built on the loop: the thread that runs it)

    def callFromThread(self, f: Callable[..., Any], *args: object, **kwargs: object) -> None:  # type: ignore[override]
        """On the loop's own thread (the asyncio client records events there): ``loop.call_soon``,
        with no self-pipe write (a syscall per call, in the stock reactor) and no Twisted timer;
        from another thread, as the stock reactor does."""
        if threading.get_ident() == self._loop_thread:
            self._asyncioEventloop.call_soon(_logged, f, args, kwargs)
        else:
            super().callFromThread(f, *args, **kwargs)  # type: ignore[no-untyped-call]

    def _initThreadPool(self) -> None:
        super()._initThreadPool()
        # daemon threads: a client never closed must not hold the interpreter at exit (nor a
        # gunicorn master whose loop is gone), as no reactor shutdown will stop this pool
        self.threadpool.threadFactory = _daemon_thread  # type: ignore[union-attr]

    def run(self, installSignalHandlers: bool = True) -> None:
        raise RuntimeError("a LoopReactor runs on the application's asyncio loop; it is never run by itself")


def _logged(callable: Any, args: Any, kwargs: Any) -> None:
    try:
        callable(*args, **kwargs)
    except Exception:
        log.exception("Unhandled error in a call on the asyncio client's reactor")


def _daemon_thread(*args: Any, **kwargs: Any) -> threading.Thread:
    return threading.Thread(*args, daemon=True, **kwargs)


def loop_reactor(loop: asyncio.AbstractEventLoop) -> LoopReactor:
    """A started reactor over ``loop`` (which the application runs)."""
    reactor = LoopReactor(loop)
    reactor.startRunning(installSignalHandlers=False)
    return reactor


async def stop_reactor(reactor: LoopReactor, timeout: float = 1.0) -> None:
    """Disconnect what ``reactor`` still holds, fire its shutdown triggers, and join its thread
    pool in a thread (within ``timeout`` s: a thread blocked in a store read is left to end)."""
    pool = reactor.threadpool
    if pool is not None:  # the stock shutdown trigger would join the pool's threads on the loop
        for trigger in (reactor._threadpoolStartupID, reactor.threadpoolShutdownID):
            if trigger is not None:
                try:
                    reactor.removeSystemEventTrigger(trigger)
                except ValueError:
                    pass
        reactor._threadpoolStartupID = reactor.threadpoolShutdownID = None
        reactor.threadpool = None
    waits = []
    loop = asyncio.get_running_loop()
    if reactor.running:
        shut: Deferred[None] = Deferred()
        reactor.addSystemEventTrigger("after", "shutdown", shut.callback, None)
        reactor.stop()  # type: ignore[no-untyped-call]
        waits.append(shut.asFuture(loop))
    if pool is not None:
        waits.append(loop.run_in_executor(None, pool.stop))
    if waits:
        done, pending = await asyncio.wait(waits, timeout=timeout)
        if pending:
            log.warning("ldfast: the asyncio client's reactor did not stop within %s s (a thread blocked in "
                        "a store read?); going on", timeout)


async def result_of(d: "Deferred[T]", loop: asyncio.AbstractEventLoop) -> T:
    """Await ``d`` on ``loop``: its result at once if it has fired, else once it fires."""
    box: List[Any] = []
    d.addBoth(box.append)
    if not box:
        waiting: Deferred[None] = Deferred()
        d.addBoth(lambda _: waiting.callback(None))
        await waiting.asFuture(loop)
    result = box[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result  # type: ignore[no-any-return]
