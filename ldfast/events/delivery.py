"""Event delivery: POST analytics and diagnostic payloads to LaunchDarkly on the reactor, with one retry.

As the official SDK (``_post_events_with_retry``, PROTOCOL.md 8.6):

- ``POST {events_uri}/bulk`` (analytics) or ``{events_uri}/diagnostic``, a JSON body; the headers
  of every LaunchDarkly request (``ldfast._headers``: ``Authorization``, ``User-Agent``, the
  client's instance id, tags, wrapper) plus ``Content-Type: application/json``; analytics payloads also carry
  ``X-LaunchDarkly-Event-Schema: 4`` and ``X-LaunchDarkly-Payload-ID`` (a uuid4, the same on the
  retry). With ``enable_event_compression`` the body is gzipped (``Content-Encoding: gzip``).
- A status below 300 is success. A network error, a timeout, a 3xx (redirects are not followed),
  a 5xx, 400, 408 or 429 is recoverable: one retry after :data:`RETRY_DELAY` seconds, then the
  payload is dropped (logged). Any other 4xx (401, 403, 404, 413...) is not retried; on an
  analytics payload it disables event delivery for good (:attr:`EventSender.disabled`), on a
  diagnostic one it stops diagnostic events only.
- After a successful analytics post, the ``Date`` response header becomes
  :attr:`EventSender.last_known_past_time` (ms), the debug-event cutoff.
- Each exchange (response and body) must complete within ``connect_timeout + read_timeout``; the
  deadline is a ``callLater`` on this sender's reactor that cancels the request.

Every method runs on the reactor thread.
"""
from __future__ import annotations

import gzip
import logging
import uuid
from calendar import timegm
from email.utils import parsedate
from typing import Any, Dict, List, Optional, Set

import treq
from twisted.internet.defer import CancelledError, Deferred
from twisted.python.failure import Failure
from twisted.web.iweb import IBodyProducer
from zope.interface import implementer

from ldfast._failure import type_name
from ldfast._headers import event_headers
from ldfast.events.diagnostics import DIAGNOSTIC_PATH

log = logging.getLogger(__name__)

BULK_PATH = "/bulk"
EVENT_SCHEMA = "4"
RETRY_DELAY = 1.0
"""Seconds between a recoverable failure and the one retry."""
_RECOVERABLE_4XX = frozenset((400, 408, 429))


def is_recoverable(status: int) -> bool:
    """Whether an HTTP error status may succeed later: anything but a 4xx, or 400, 408, 429."""
    return not 400 <= status < 500 or status in _RECOVERABLE_4XX


def _describe(status: int) -> str:
    return "HTTP error %d%s" % (status, " (invalid SDK key)" if status in (401, 403) else "")


@implementer(IBodyProducer)
class _BytesProducer:
    """A request body written at once. (treq would wrap bytes in a ``FileBodyProducer`` driven by the
    global reactor's cooperator: on a reactor of our own, the body would never be written.)"""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.length = len(body)

    def startProducing(self, consumer: Any) -> "Deferred[None]":
        consumer.write(self.body)
        return _fired(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


def _server_time_millis(response: Any) -> Optional[int]:
    values = response.headers.getRawHeaders("date")
    if not values:
        return None
    parsed = parsedate(values[-1])
    if parsed is None:
        return None
    return int(timegm(parsed) * 1000)


class EventSender:
    """Posts payloads for one client; counts and cancels what it has under way."""

    def __init__(self, config: Any, *, reactor: Any, http_client: Any) -> None:
        self._config = config
        self._reactor = reactor
        self._http = http_client
        base = config.events_base_uri
        self._bulk_uri = base + BULK_PATH
        self._diagnostic_uri = base + DIAGNOSTIC_PATH
        self._headers = event_headers(config)
        self._timeout = config.http.connect_timeout + config.http.read_timeout
        self._posts: Set[_Post] = set()
        self._idle_waiters: List[Deferred[None]] = []
        self._closed = False
        self.disabled = False
        """True once LaunchDarkly refused an analytics payload for good (e.g. 401): stop sending."""
        self.diagnostics_disabled = False
        """True once LaunchDarkly refused a diagnostic event for good."""
        self.last_known_past_time = 0
        """The ``Date`` of the last successful analytics response, in ms since the epoch (0: none yet)."""

    @property
    def in_flight(self) -> int:
        """Analytics payloads being posted or waiting for their retry."""
        return sum(1 for p in self._posts if p.bulk)

    def send_events(self, body: bytes, count: int) -> "Deferred[bool]":
        """Post an analytics payload (a JSON array of ``count`` events); True when accepted.

        The Deferred never fails: False when the payload was dropped or delivery is disabled.
        """
        if self.disabled or self._closed:
            return _fired(False)
        headers = dict(self._headers)
        headers["X-LaunchDarkly-Event-Schema"] = EVENT_SCHEMA
        headers["X-LaunchDarkly-Payload-ID"] = str(uuid.uuid4())
        return self._start(_Post(self, self._bulk_uri, headers, body, "%d events" % count, bulk=True))

    def send_diagnostic(self, body: bytes) -> "Deferred[bool]":
        """Post a diagnostic event (a JSON object); True when accepted, never fails."""
        if self.disabled or self.diagnostics_disabled or self._closed:
            return _fired(False)
        return self._start(_Post(self, self._diagnostic_uri, dict(self._headers), body, "diagnostic event",
                                 bulk=False))

    def cancel_all(self) -> None:
        """Give up every post under way (requests are cancelled, retries not made); each fires False."""
        for post in list(self._posts):
            post.cancel()

    def close(self) -> None:
        """Cancel every post under way; later sends fire False at once."""
        self._closed = True
        self.cancel_all()

    def idle(self) -> "Deferred[None]":
        """Fires once no post is under way (at once if none is)."""
        if not self._posts:
            return _fired(None)
        d: Deferred[None] = Deferred()
        self._idle_waiters.append(d)
        return d

    def _start(self, post: "_Post") -> "Deferred[bool]":
        self._posts.add(post)
        post.result.addBoth(self._forget, post)
        post.send()
        return post.result

    def _forget(self, result: Any, post: "_Post") -> Any:
        self._posts.discard(post)
        if not self._posts and self._idle_waiters:
            waiters, self._idle_waiters = self._idle_waiters, []
            for d in waiters:
                d.callback(None)
        return result


def _fired(value: Any) -> Deferred[Any]:
    d: Deferred[Any] = Deferred()
    d.callback(value)
    return d


class _Post:
    """One payload: its request, then at most one retry."""

    def __init__(self, sender: EventSender, uri: str, headers: Dict[str, str], body: bytes, what: str,
                 bulk: bool) -> None:
        self.sender = sender
        self.bulk = bulk
        self.result: Deferred[bool] = Deferred()
        self._uri = uri
        self._headers = headers
        self._body = gzip.compress(body) if sender._config.enable_event_compression else body
        self._what = what
        self._attempts = 0
        self._request: Optional[Deferred[Any]] = None
        self._retry: Any = None
        self._cancelled = False

    def send(self) -> None:
        self._retry = None
        self._attempts += 1
        sender = self.sender
        reactor = sender._reactor
        try:
            d = sender._http.request("POST", self._uri, headers=self._headers, data=_BytesProducer(self._body),
                                     allow_redirects=False, reactor=reactor)
        except Exception:
            d = Deferred()
            d.errback(Failure())
        d.addCallback(self._read_body)
        self._request = d
        timed_out: list[bool] = []
        deadline = reactor.callLater(sender._timeout, self._time_out, d, timed_out)
        d.addBoth(self._answered, deadline, timed_out)
        d.addErrback(self._unexpected)

    @staticmethod
    def _read_body(response: Any) -> Any:
        # Read (and discard) the body, so that a persistent connection can be reused.
        d = treq.content(response)
        d.addErrback(lambda _: None)
        d.addCallback(lambda _: response)
        return d

    @staticmethod
    def _time_out(d: Deferred[Any], timed_out: list[Any]) -> None:
        timed_out.append(True)
        d.cancel()

    def _answered(self, result: Any, deadline: Any, timed_out: list[Any]) -> None:
        self._request = None
        if deadline.active():
            deadline.cancel()
        if self._cancelled:
            self._finish(False)
            return
        sender = self.sender
        if isinstance(result, Failure):
            if timed_out:
                error = "no response within %s s" % sender._timeout
            elif result.check(CancelledError):
                error = "cancelled"
            else:
                error = result.getErrorMessage() or type_name(result)
        else:
            status = result.code
            if status < 300:
                if self.bulk:
                    server_time = _server_time_millis(result)
                    if server_time is not None:
                        sender.last_known_past_time = server_time
                self._finish(True)
                return
            error = _describe(status)
            if not is_recoverable(status):
                if self.bulk:
                    sender.disabled = True
                    log.error("Error posting %s (giving up permanently): %s; analytics events are disabled",
                              self._what, error)
                else:
                    sender.diagnostics_disabled = True
                    log.error("Error posting %s (giving up permanently): %s; diagnostic events are disabled",
                              self._what, error)
                self._finish(False)
                return
        if self._attempts < 2:
            log.warning("Error posting %s (will retry): %s", self._what, error)
            self._retry = sender._reactor.callLater(RETRY_DELAY, self.send)
        else:
            log.warning("Error posting %s (some events were dropped): %s", self._what, error)
            self._finish(False)

    def _unexpected(self, failure: Failure) -> None:
        log.error("Unexpected error posting %s: %s", self._what, failure.getErrorMessage())
        self._finish(False)

    def cancel(self) -> None:
        if self.result.called:
            return
        self._cancelled = True
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
            self._retry = None
            self._finish(False)
        elif self._request is not None:
            self._request.cancel()  # _answered finishes
        else:
            self._finish(False)

    def _finish(self, ok: bool) -> None:
        if not self.result.called:
            self.result.callback(ok)


__all__ = ("EventSender", "is_recoverable", "BULK_PATH", "RETRY_DELAY")
