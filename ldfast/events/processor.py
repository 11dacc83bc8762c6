"""The event processor: analytics event inputs in from any thread, payloads out to LaunchDarkly, on the reactor.

The behaviour is launchdarkly-server-sdk 9.20.0's ``DefaultEventProcessor`` (PROTOCOL.md 8.3-8.7);
the threads and queues of the official SDK are replaced by the reactor:

- Its :attr:`~EventProcessor.recorder` (compiled, ``ldfast._ext.recorder``), called from any thread
  by the clients (or through ``send_event(input)``), counts summaries and keeps the context-key
  cache (cleared every ``context_keys_flush_interval``) in the caller's thread; it hands over only
  ``index`` events and inputs that may become full or debug events (:meth:`EventProcessor.queue`),
  which appends them to a deque (thread safe under the GIL) of at most ``events_max_pending``
  inputs and, when no wake-up is pending, asks the reactor (``callFromThread``) to process the
  queue. When the queue is full the input is dropped and counted, with one warning per flush
  interval at most (a flood drains and refills the queue many times a second).
- Everything else runs on the reactor thread: queued inputs are processed in batches of at most
  :data:`BATCH` per reactor turn (full and debug events, debug while the flag's
  ``debugEventsUntilDate`` is later than both the local clock and the last server ``Date``;
  sampling). Output events wait in a buffer of ``events_max_pending`` (overflow dropped, counted,
  warned once per episode).
- Every ``flush_interval`` (a timer on the given reactor) the buffer and the recorder's summary are
  handed to a delivery (formatted :data:`FORMAT_CHUNK` events per reactor turn, serialized with orjson, posted by
  :class:`~ldfast.events.delivery.EventSender`). At most :data:`MAX_DELIVERIES` run at once; when
  all are busy a periodic flush keeps the buffer for the next one.
- Diagnostic events (unless ``diagnostic_opt_out``): the init event at :meth:`start`, then one every
  ``diagnostic_recording_interval``.
- A payload refused for good (401, 403, other 4xx but 400/408/429) disables the processor: inputs
  are dropped from then on and nothing more is sent.

Construct anywhere (the constructor makes no reactor call), then call :meth:`start`, :meth:`flush`
and :meth:`stop` on the reactor thread.
"""
from __future__ import annotations

import logging
from collections import deque
from random import Random
from typing import Any, Callable, Deque, List, Optional, Set

import orjson
from twisted.internet.defer import Deferred, DeferredList, fail, succeed

from ldfast.events.delivery import EventSender
from ldfast.events.diagnostics import DiagnosticAccumulator, create_diagnostic_id, diagnostics_enabled
from ldfast._ext.recorder import Outbox, Recorder
from ldfast.events.formatter import EventOutputFormatter

log = logging.getLogger(__name__)

MAX_DELIVERIES = 5
"""Payloads delivered at once (the official SDK's flush thread pool size)."""
STOP_TIMEOUT = 5.0
"""Longest time, in seconds, that :meth:`EventProcessor.stop` waits for the last deliveries."""
BATCH = 1000
"""Inputs processed per reactor turn."""
FORMAT_CHUNK = 1000
"""Output events formatted and serialized per reactor turn."""


class _Every:
    """Calls ``fn`` every ``interval`` seconds on ``reactor``, first after one interval. (Twisted's
    ``LoopingCall`` imports, and so installs, the global reactor in its constructor.)"""

    __slots__ = ("_reactor", "_interval", "_fn", "_next", "_call")

    def __init__(self, reactor: Any, interval: float, fn: Callable[[], Any]) -> None:
        self._reactor = reactor
        self._interval = interval
        self._fn = fn
        self._next = reactor.seconds() + interval
        self._call: Any = reactor.callLater(interval, self._run)

    def _run(self) -> None:
        now = self._reactor.seconds()
        self._next += self._interval
        if self._next <= now:  # the reactor was late by more than an interval: skip the missed runs
            self._next = now + self._interval
        self._call = self._reactor.callLater(self._next - now, self._run)
        try:
            self._fn()
        except Exception:
            log.exception("Unexpected error in the event processor")

    def stop(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None


class _Outcome:
    """A result (True/False) that any number of callers can wait for."""

    __slots__ = ("value", "_waiters")

    def __init__(self) -> None:
        self.value: Optional[bool] = None
        self._waiters: List[Deferred[bool]] = []

    def wait(self) -> "Deferred[bool]":
        if self.value is not None:
            return succeed(self.value)
        d: Deferred[bool] = Deferred()
        self._waiters.append(d)
        return d

    def fire(self, value: bool) -> None:
        if self.value is not None:
            return
        self.value = bool(value)
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(self.value)


def _all_ok(ds: List[Deferred[bool]]) -> "Deferred[bool]":
    """True when every Deferred fires True (none of ours fails)."""
    if not ds:
        return succeed(True)
    return DeferredList(ds, consumeErrors=True).addCallback(
        lambda results: all(ok and value for ok, value in results))


class EventProcessor:
    """Analytics events for one client (see the module docstring)."""

    def __init__(self, config: Any, *, reactor: Any, http_client: Any = None,
                 diagnostics: Optional[DiagnosticAccumulator] = None) -> None:
        self._config = config
        self._reactor = reactor
        self._capacity = config.events_max_pending
        if http_client is None:
            from ldfast._http import make_http_client

            http_client = make_http_client(reactor, config)
        self._sender = EventSender(config, reactor=reactor, http_client=http_client)
        self._formatter = EventOutputFormatter(config)
        self._random = Random().random
        # inputs, from any thread (through the recorder)
        self._inbox: Deque[Any] = deque()
        self.recorder = Recorder(self._inbox, self._capacity, self._wake, config.context_keys_capacity,
                                 config.omit_anonymous_contexts)
        """What the clients record evaluations, identify and custom events with (any thread)."""
        self._closed = False
        # reactor-only state
        self._outbox = Outbox(self._capacity)
        self._deliveries: Set[_Outcome] = set()
        self._slot_waiters: Deque[Deferred[bool]] = deque()
        self._giving_up = False
        self._stopped: Optional[_Outcome] = None
        self._started = False
        self.diagnostics: Optional[DiagnosticAccumulator] = None
        """The diagnostic accumulator (None when diagnostic events are off); data sources record
        stream inits into it."""
        if diagnostics_enabled(config):
            self.diagnostics = diagnostics if diagnostics is not None else DiagnosticAccumulator(
                create_diagnostic_id(config), now=self._now_millis)
        self._timers: List[_Every] = []

    # -- any thread -------------------------------------------------------------------------------

    def send_event(self, event: Any) -> None:
        """Record an event input (``ldfast.events.types``); callable from any thread, never blocks."""
        if self._closed or self._sender.disabled:
            return
        self.recorder.record(event)

    def _wake(self) -> None:
        """The recorder queued something: process the inbox on the reactor thread."""
        self._reactor.callFromThread(self._process)

    # -- reactor thread ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the periodic flush, the context-key cache clearing and diagnostic events."""
        if self._started or self._closed:
            return
        self._started = True
        config = self._config
        self._every(config.flush_interval, self._periodic_flush)
        self._every(config.context_keys_flush_interval, self.recorder.clear_context_keys)
        if self.diagnostics is not None:
            self._send_diagnostic(self.diagnostics.create_init_event(config))
            self._every(config.diagnostic_recording_interval, self._periodic_diagnostic)

    def flush(self) -> "Deferred[bool]":
        """Send what is pending now; fires True once it (and any payload already under way) was
        accepted, False if some of it was finally dropped or events are disabled. Never fails."""
        if self._closed or self._sender.disabled:
            return succeed(False)
        earlier = [o.wait() for o in self._deliveries]
        return self._drain().addCallback(lambda _: self._hand_off(wait_for_slot=True)).addCallback(
            lambda ok: _all_ok([succeed(ok)] + earlier))

    def stop(self) -> "Deferred[bool]":
        """Flush what is pending, then stop; fires within about :data:`STOP_TIMEOUT` seconds whatever
        the server does: True if everything was delivered. Later inputs are ignored."""
        if self._stopped is not None:
            return self._stopped.wait()
        self._stopped = stopped = _Outcome()
        self._closed = True
        self.recorder.enabled = False
        for timer in self._timers:
            timer.stop()
        self._timers = []
        deadline = self._reactor.callLater(STOP_TIMEOUT, self._give_up)

        def finish(result: Any) -> None:
            if deadline.active():
                deadline.cancel()
            self._sender.close()
            self._inbox.clear()
            stopped.fire(result is True)

        if self._sender.disabled:
            finish(False)
            return stopped.wait()
        earlier = [o.wait() for o in self._deliveries]
        handed = self._drain().addCallback(lambda _: self._hand_off(wait_for_slot=True))
        d = handed.addCallback(
            lambda ok: _all_ok([succeed(ok)] + earlier + [self._sender.idle().addCallback(lambda _: True)]))
        d.addErrback(lambda f: log.error("Unexpected error while stopping the event processor: %s", f.getErrorMessage()))
        d.addBoth(finish)
        return stopped.wait()

    @property
    def disabled(self) -> bool:
        """True once LaunchDarkly refused an analytics payload for good (e.g. an invalid SDK key)."""
        return self._sender.disabled

    @property
    def dropped_events(self) -> int:
        """Events dropped because a queue was full, since the last diagnostic event."""
        return self._outbox.dropped + self.recorder.inbox_dropped

    @property
    def deduplicated_contexts(self) -> int:
        """Contexts already in the key cache (no index event), since the last diagnostic event."""
        return self.recorder.deduplicated

    def _now_millis(self) -> int:
        return int(self._reactor.seconds() * 1000)

    def _every(self, interval: float, fn: Callable[[], Any]) -> None:
        self._timers.append(_Every(self._reactor, interval, fn))

    # -- processing -------------------------------------------------------------------------------

    def _process(self) -> None:
        """A wake-up: process one batch of inputs; another turn if more are queued."""
        recorder = self.recorder
        recorder.wake_pending = False
        self._process_some(BATCH)
        if self._inbox and not recorder.wake_pending:
            recorder.wake_pending = True
            self._reactor.callLater(0, self._process)

    def _process_some(self, n: int) -> None:
        inbox = self._inbox
        if self._closed and self._stopped is not None and self._stopped.value is not None:
            inbox.clear()
            return
        if self._sender.disabled:
            self._disable()
            return
        if inbox:
            self._outbox.process(inbox, n, self._now_millis(), self._sender.last_known_past_time, self._random)

    def _drain(self) -> "Deferred[None]":
        """Process every input queued now, :data:`BATCH` per reactor turn; fires when done (at once
        when they fit in one batch)."""
        d: Deferred[None] = Deferred()
        remaining = [len(self._inbox)]

        def step() -> None:
            n = min(remaining[0], BATCH)
            self._process_some(n)
            remaining[0] -= n
            if remaining[0] > 0 and self._inbox:
                self._reactor.callLater(0, step)
            else:
                d.callback(None)

        step()
        return d

    def _disable(self) -> None:
        """LaunchDarkly refused our events for good: drop everything, send nothing more."""
        self._inbox.clear()
        self._outbox.take()
        self.recorder.enabled = False
        self.recorder.clear_summary()
        for timer in self._timers:
            timer.stop()
        self._timers = []
        waiters, self._slot_waiters = self._slot_waiters, deque()
        for d in waiters:
            d.callback(False)

    # -- flushing ---------------------------------------------------------------------------------

    def _periodic_flush(self) -> None:
        if self._sender.disabled:
            self._disable()
            return
        self._drain().addCallback(lambda _: self._hand_off(wait_for_slot=False))

    def _hand_off(self, wait_for_slot: bool) -> "Deferred[bool]":
        """Start delivering the buffer and the summary. Fires with that delivery's outcome; when there
        is nothing to send, once every delivery under way has finished. When all delivery slots are
        busy: wait for one (``wait_for_slot``), or keep the buffer for the next flush (fires False)."""
        if self._sender.disabled or self._giving_up:
            if self._sender.disabled:
                self._disable()
            return succeed(False)
        events = self._outbox.events
        recorder = self.recorder
        if self.diagnostics is not None:
            self.diagnostics.record_events_in_batch(len(events))
        if not events and recorder.summary_is_empty():
            return _all_ok([o.wait() for o in self._deliveries])
        if len(self._deliveries) >= MAX_DELIVERIES:
            if not wait_for_slot:
                return succeed(False)
            waiter: Deferred[bool] = Deferred()
            self._slot_waiters.append(waiter)
            return waiter
        self._outbox.take()
        summary = recorder.take_summary()
        recorder.inbox_full = False  # warn again about an overflow of the input queue (once per flush)
        outcome = _Outcome()
        self._deliveries.add(outcome)
        count = len(events) + (0 if summary.is_empty() else 1)
        d = self._serialize(events, summary)
        d.addCallback(lambda body: self._sender.send_events(body, count))
        d.addErrback(self._delivery_error)
        d.addCallback(self._delivered, outcome)
        return outcome.wait()

    def _serialize(self, events: List[Any], summary: Any) -> "Deferred[bytes]":
        """The JSON body, :data:`FORMAT_CHUNK` events per reactor turn (at once for a small payload)."""
        serialize = self._formatter.serialize
        if len(events) <= FORMAT_CHUNK:
            try:
                return succeed(serialize(events, summary))
            except Exception:
                return fail()
        d: Deferred[bytes] = Deferred()
        parts: List[Any] = []
        contexts = self._formatter.new_context_cache()  # each context written once per payload
        position = [0]

        def step() -> None:
            try:
                start = position[0]
                chunk = events[start:start + FORMAT_CHUNK]
                position[0] = start + len(chunk)
                last = position[0] >= len(events)
                part = serialize(chunk, summary if last else None, contexts)
                if len(part) > 2:  # not "[]"
                    if parts:
                        parts.append(b",")
                    parts.append(memoryview(part)[1:-1])
            except Exception:
                d.errback()
                return
            if last:
                d.callback(b"".join([b"["] + parts + [b"]"]))
            else:
                self._reactor.callLater(0, step)

        step()
        return d

    @staticmethod
    def _delivery_error(failure: Any) -> bool:
        log.warning("Unexpected error while delivering analytics events; they were dropped: %s",
                    failure.getErrorMessage())
        return False

    def _delivered(self, ok: Any, outcome: _Outcome) -> None:
        self._deliveries.discard(outcome)
        outcome.fire(ok is True)
        if self._sender.disabled:
            self._disable()
            return
        if self._slot_waiters and len(self._deliveries) < MAX_DELIVERIES:
            waiter = self._slot_waiters.popleft()
            self._hand_off(wait_for_slot=True).chainDeferred(waiter)

    def _give_up(self) -> None:
        """The stop deadline: cancel every post, answer every waiter."""
        self._giving_up = True
        log.warning("Analytics events were not all delivered within %s s of closing; giving up", STOP_TIMEOUT)
        self._sender.close()
        waiters, self._slot_waiters = self._slot_waiters, deque()
        for d in waiters:
            d.callback(False)

    # -- diagnostics ------------------------------------------------------------------------------

    def _periodic_diagnostic(self) -> None:
        if self.diagnostics is None or self._sender.disabled:
            return
        dropped = self._outbox.take_dropped() + self.recorder.take_inbox_dropped()
        event = self.diagnostics.create_event_and_reset(dropped, self.recorder.take_deduplicated())
        self._send_diagnostic(event)

    def _send_diagnostic(self, event: Any) -> None:
        try:
            body = orjson.dumps(event)
        except TypeError as e:
            log.warning("Could not serialize a diagnostic event: %s", e)
            return
        self._sender.send_diagnostic(body)


class NullEventProcessor:
    """The event processor when events are off (``send_events=False`` or offline): ignores everything."""

    diagnostics = None
    disabled = False

    recorder = None

    def send_event(self, event: Any) -> None:
        pass

    def start(self) -> None:
        pass

    def flush(self) -> "Deferred[bool]":
        return succeed(True)

    def stop(self) -> "Deferred[bool]":
        return succeed(True)


__all__ = ("EventProcessor", "NullEventProcessor", "MAX_DELIVERIES", "STOP_TIMEOUT")
