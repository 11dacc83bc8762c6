"""A private Twisted reactor in a daemon thread: the synchronous client's networking.

The reactor is an instance of its own (never the global ``twisted.internet.reactor``), so an
application with a reactor of its own is unaffected. ``call(fn)`` runs ``fn`` on the reactor
thread and returns its result (waiting on a Deferred it returns) within a timeout; ``stop()``
stops the reactor and joins the thread within a bound, whatever the network is doing.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Optional

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.python.failure import Failure

log = logging.getLogger(__name__)


def _new_reactor() -> Any:
    try:
        from twisted.internet.epollreactor import EPollReactor

        return EPollReactor()
    except ImportError:  # not Linux
        from twisted.internet.selectreactor import SelectReactor

        return SelectReactor()


_SYNCHRONOUS_SIGNALS = ("SIGKILL", "SIGSTOP", "SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGABRT", "SIGTRAP", "SIGSYS")


def _block_process_signals() -> None:
    """Leave process signals (SIGTERM, SIGINT, SIGCHLD, ...) to the application's main thread.

    A signal sent to the process may be handled by any thread that does not block it; a server's
    C-level handler (uWSGI's master, seen here) run on ldfast's thread instead of its main thread
    did not shut the server down. Threads this thread starts (the DNS pool) inherit the mask.
    """
    import signal

    if not hasattr(signal, "pthread_sigmask"):
        return
    keep = {getattr(signal, name) for name in _SYNCHRONOUS_SIGNALS if hasattr(signal, name)}
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.valid_signals()) - keep)
    except (OSError, ValueError):  # never fail to start the networking over this
        pass


class ReactorThread:
    """One reactor, running in one daemon thread, until ``stop()``."""

    def __init__(self, name: str = "ldfast-reactor", wait: bool = True) -> None:
        """``wait=False``: return without waiting for the thread to run (``call_soon`` works at
        once; its calls run when the reactor starts)."""
        self.reactor = _new_reactor()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        if wait and not self._started.wait(10):
            raise RuntimeError("ldfast: the networking reactor did not start")

    def _run(self) -> None:
        _block_process_signals()
        self.reactor.callWhenRunning(self._started.set)
        self.reactor.run(installSignalHandlers=False)

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and self.reactor.running

    def in_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn`` on the reactor thread, without waiting (queued if the reactor has not started yet)."""
        if self._thread.is_alive():
            self.reactor.callFromThread(fn, *args)

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 10.0) -> Any:
        """Run ``fn`` on the reactor thread and wait (at most ``timeout`` s) for its result.

        A Deferred result is waited for too. On timeout, ``TimeoutError``.
        """
        if self.in_thread():
            raise RuntimeError("ReactorThread.call from the reactor thread would deadlock")
        done = threading.Event()
        box: list[Any] = []

        def run() -> None:
            d: Deferred[Any] = maybeDeferred(fn, *args)

            def finish(result: Any) -> None:
                box.append(result)
                done.set()

            d.addBoth(finish)

        if not self._thread.is_alive():
            raise RuntimeError("the networking reactor is not running")
        self.reactor.callFromThread(run)
        if not done.wait(timeout):
            raise TimeoutError("no answer from the networking reactor within %s s" % timeout)
        result = box[0]
        if isinstance(result, Failure):
            result.raiseException()
        return result

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the reactor and join its thread; False if it did not end within ``timeout``."""
        if self._thread.is_alive():
            try:
                self.reactor.callFromThread(self._stop)
            except Exception:  # the reactor may be shutting down already
                pass
            self._thread.join(timeout)
        alive = self._thread.is_alive()
        if alive:
            log.warning("ldfast: the networking thread did not stop within %s s; it is a daemon thread "
                        "and will not keep the process alive", timeout)
        return not alive

    def _stop(self) -> None:
        if self.reactor.running:
            self.reactor.stop()
