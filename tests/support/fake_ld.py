"""A fake LaunchDarkly service for tests: real SSE streaming, polling and event capture over loopback.

Two ways to use it:

- ``FakeLaunchDarkly(reactor)``: on a reactor you run (tests of Twisted code). Its mutators
  (``set_data``, ``patch``, ``delete``, ``queue_*``, ``heartbeat``, ``drop_*``, ``close``) must be
  called on the reactor thread; ``when_*`` return Deferreds.
- ``FakeLaunchDarklyThread()``: runs its own private reactor (never the global one) in a daemon
  thread; every method is safe to call from any other thread, and mutators wait (bounded) until
  the reactor has applied them. ``close()`` stops the server, its connections and the thread.

In both, read-only accessors (``stream_requests``, ``stream_connections``, ``data()``...) and the
blocking ``wait_*`` helpers are thread-safe: state is kept under one ``threading.Condition``, and
every ``wait_*`` takes a timeout and raises ``TimeoutError`` when it expires. They must not be
called on the reactor thread (they would block it).

Endpoints (PROTOCOL.md 9 and 12):

- ``GET /all``: ``text/event-stream``; a ``put`` of the current data on connect, then the
  connection stays open and receives ``patch``/``delete`` (and ``put`` from ``set_data(push=True)``)
  pushes, and ``:`` comments from ``heartbeat()``.
- ``GET /sdk/latest-all``: ``{"flags":..,"segments":..}`` with an ``ETag``; ``304`` when
  ``If-None-Match`` is the current ETag.
- ``POST /bulk``, ``POST /diagnostic``: each request's headers and decoded JSON body are kept;
  the answer is ``202`` unless a status was queued.

Faults are queued per endpoint and each is used by the next request (FIFO); see ``STREAM_FAULTS``
and ``POLL_FAULTS``. An ``int`` fault answers with that HTTP status.
"""
from __future__ import annotations

import copy
import gzip
import hashlib
import json
import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple, Union

from twisted.internet.defer import Deferred, DeferredList, maybeDeferred, succeed
from twisted.protocols.policies import WrappingFactory
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site

Fault = Union[int, str]

STREAM_FAULTS = (
    "stall",               # accept the request, never answer (no status line)
    "headers_then_stall",  # 200 text/event-stream headers, then nothing, forever
    "garbage",             # a put whose data is not JSON; the connection stays open
    "garbage_patch",       # a valid put, then a patch whose data is not JSON; stays open
    "truncated",           # half of a put event, then the TCP connection is closed
    "drop_after_put",      # a valid put, then the TCP connection is closed (no chunked terminator)
    "close_after_put",     # a valid put, then the response ends cleanly
    "wrong_content_type",  # 200 with Content-Type application/json (and a put as body); stays open
)
"""Named faults of ``GET /all`` (besides an ``int`` HTTP status)."""

POLL_FAULTS = (
    "stall",  # accept the request, never answer
    "garbage",  # 200 application/json whose body is not JSON
    "drop",  # close the TCP connection without answering
)
"""Named faults of ``GET /sdk/latest-all`` (besides an ``int`` HTTP status)."""

STREAM_PATH = "/all"
POLL_PATH = "/sdk/latest-all"
EVENT_PATHS = ("/bulk", "/diagnostic")

_KIND_PATHS = {"flags": "/flags/", "features": "/flags/", "segments": "/segments/"}
_SECTIONS = {"flags": "flags", "features": "flags", "segments": "segments"}
_GARBAGE_PUT = b'event: put\ndata: {"path":"/","data":{"flags":{"oops": not json}}\n\n'
_GARBAGE_PATCH = b'event: patch\ndata: {"path":"/flags/oops","data":{"key":\n\n'


class RecordedRequest:
    """One request the fake received: ``method``, ``path``, ``query``, ``headers`` (lower-cased
    names), ``body`` (bytes, gunzipped), ``json`` (the decoded body, or None), ``time``
    (``time.monotonic()`` at arrival) and the ``fault`` it was answered with (None if none)."""

    __slots__ = ("method", "path", "query", "headers", "body", "json", "time", "fault")

    def __init__(self, method: str, path: str, query: str, headers: Dict[str, str], body: bytes,
                 json_body: Any, fault: Optional[Fault]):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.json = json_body
        self.time = time.monotonic()
        self.fault = fault

    def header(self, name: str) -> Optional[str]:
        """A request header by case-insensitive name (several values joined with ", "), or None."""
        return self.headers.get(name.lower())

    def __repr__(self) -> str:
        return "<RecordedRequest %s %s fault=%r>" % (self.method, self.path, self.fault)


def _sse(event: str, payload: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def _kind(kind: Any) -> str:
    name = getattr(kind, "namespace", kind)  # a VersionedDataKind works too
    if name not in _KIND_PATHS:
        raise ValueError("kind must be 'flags' or 'segments', not %r" % (kind,))
    return name


class _TrackingFactory(WrappingFactory):
    """Knows every open connection, so close() can end them and wait until they are gone."""

    def __init__(self, wrapped: Any):
        WrappingFactory.__init__(self, wrapped)
        self._empty_waiters: List[Deferred] = []

    def unregisterProtocol(self, p: Any) -> None:
        WrappingFactory.unregisterProtocol(self, p)
        if not self.protocols:
            waiters, self._empty_waiters = self._empty_waiters, []
            for d in waiters:
                d.callback(None)

    def abort_all(self) -> "Deferred[None]":
        if not self.protocols:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._empty_waiters.append(d)
        for p in list(self.protocols):
            p.transport.abortConnection()
        return d


class _QuietSite(Site):
    def log(self, request: Any) -> None:  # no access log
        pass


class _Root(Resource):
    isLeaf = True

    def __init__(self, fake: "FakeLaunchDarkly"):
        Resource.__init__(self)
        self._fake = fake

    def render(self, request: Any) -> Any:
        path = request.path.decode("latin-1").rstrip("/") or "/"
        method = request.method.decode("latin-1")
        if path == STREAM_PATH and method == "GET":
            return self._fake._serve_stream(request)
        if path == POLL_PATH and method == "GET":
            return self._fake._serve_poll(request)
        if path in EVENT_PATHS and method == "POST":
            return self._fake._serve_events(request, path)
        known = path == STREAM_PATH or path == POLL_PATH or path in EVENT_PATHS
        request.setResponseCode(405 if known else 404)
        request.setHeader(b"content-type", b"text/plain")
        return b"not here\n"


class FakeLaunchDarkly:
    """The fake service on ``reactor``, listening on ``interface`` (127.0.0.1) at ``port`` (0: a free one).

    ``flags``/``segments`` are the initial data (deep-copied). See the module docstring for which
    methods belong to which thread.
    """

    def __init__(self, reactor: Any, flags: Optional[Dict[str, Any]] = None,
                 segments: Optional[Dict[str, Any]] = None, *, port: int = 0, interface: str = "127.0.0.1"):
        self._reactor = reactor
        self._cond = threading.Condition()
        self._data: Dict[str, Dict[str, Any]] = {"flags": copy.deepcopy(dict(flags or {})),
                                                 "segments": copy.deepcopy(dict(segments or {}))}
        self._stream_requests: List[RecordedRequest] = []
        self._poll_requests: List[RecordedRequest] = []
        self._event_requests: List[RecordedRequest] = []
        self._stream_faults: Deque[Fault] = deque()
        self._poll_faults: Deque[Fault] = deque()
        self._event_statuses: Deque[int] = deque()
        self._open_streams: Dict[Any, str] = {}  # request -> "live" (gets pushes) or "other"
        self._open_polls: set = set()
        self._waiters: List[Tuple[Callable[[], bool], Deferred]] = []
        self._closing: Optional[Deferred] = None
        self._factory = _TrackingFactory(_QuietSite(_Root(self), reactor=reactor))
        self._port = reactor.listenTCP(port, self._factory, interface=interface)
        host = self._port.getHost()
        self.port: int = host.port
        self.uri: str = "http://%s:%d" % (host.host, host.port)

    # -- thread-safe reads ------------------------------------------------------------------------

    def data(self) -> Dict[str, Dict[str, Any]]:
        """A deep copy of the current data: ``{"flags": {...}, "segments": {...}}``."""
        with self._cond:
            return copy.deepcopy(self._data)

    def etag(self) -> str:
        """The ETag ``/sdk/latest-all`` currently answers with."""
        with self._cond:
            return self._etag_of(self._body())

    @property
    def stream_requests(self) -> List[RecordedRequest]:
        with self._cond:
            return list(self._stream_requests)

    @property
    def stream_connections(self) -> int:
        """How many ``GET /all`` requests have arrived (whatever they were answered with)."""
        with self._cond:
            return len(self._stream_requests)

    @property
    def open_streams(self) -> int:
        """Stream connections open now (live, stalled or faulty, until closed by either side)."""
        with self._cond:
            return len(self._open_streams)

    @property
    def live_streams(self) -> int:
        """Open stream connections that got a valid put and receive pushes."""
        with self._cond:
            return sum(1 for state in self._open_streams.values() if state == "live")

    @property
    def pending_stream_faults(self) -> int:
        with self._cond:
            return len(self._stream_faults)

    @property
    def poll_requests(self) -> List[RecordedRequest]:
        with self._cond:
            return list(self._poll_requests)

    @property
    def open_polls(self) -> int:
        """Polling connections left open by a ``stall`` fault, until closed by either side."""
        with self._cond:
            return len(self._open_polls)

    def event_payloads(self, path: Optional[str] = None) -> List[RecordedRequest]:
        """Requests to ``/bulk`` and ``/diagnostic`` (or only to ``path``), oldest first; ``.json`` is the body."""
        with self._cond:
            return [r for r in self._event_requests if path is None or r.path == path]

    # -- thread-safe blocking waits (never on the reactor thread) ---------------------------------

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str = "condition") -> None:
        """Block until ``predicate()`` (called with the state lock held) is true; TimeoutError after ``timeout`` s."""
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                raise TimeoutError("fake LaunchDarkly: %s not reached within %ss" % (what, timeout))

    def wait_for_stream_connections(self, n: int, timeout: float = 5.0) -> List[RecordedRequest]:
        """Block until ``n`` stream requests have arrived; returns them all."""
        self.wait_for(lambda: len(self._stream_requests) >= n, timeout, "%d stream connection(s)" % n)
        return self.stream_requests

    def wait_for_open_streams(self, n: int, timeout: float = 5.0) -> None:
        """Block until exactly ``n`` stream connections are open."""
        self.wait_for(lambda: len(self._open_streams) == n, timeout, "%d open stream(s)" % n)

    def wait_for_stream_faults_used(self, timeout: float = 5.0) -> None:
        """Block until every queued stream fault has been used by a connection."""
        self.wait_for(lambda: not self._stream_faults, timeout, "all queued stream faults used")

    def wait_for_polls(self, n: int, timeout: float = 5.0) -> List[RecordedRequest]:
        self.wait_for(lambda: len(self._poll_requests) >= n, timeout, "%d poll request(s)" % n)
        return self.poll_requests

    def wait_for_event_payloads(self, n: int, path: Optional[str] = None, timeout: float = 5.0) -> List[RecordedRequest]:
        """Block until ``n`` event requests (to ``path``, or to either endpoint) have arrived."""
        self.wait_for(lambda: len([r for r in self._event_requests if path is None or r.path == path]) >= n,
                      timeout, "%d event payload(s)" % n)
        return self.event_payloads(path)

    # -- Deferred waits (reactor thread) ----------------------------------------------------------

    def when(self, predicate: Callable[[], bool]) -> "Deferred[None]":
        """A Deferred that fires once ``predicate()`` is true (checked after every change)."""
        if predicate():
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._waiters.append((predicate, d))
        return d

    def when_stream_connections(self, n: int) -> "Deferred[None]":
        return self.when(lambda: len(self._stream_requests) >= n)

    def when_polls(self, n: int) -> "Deferred[None]":
        return self.when(lambda: len(self._poll_requests) >= n)

    def when_event_payloads(self, n: int, path: Optional[str] = None) -> "Deferred[None]":
        return self.when(lambda: len([r for r in self._event_requests if path is None or r.path == path]) >= n)

    def when_open_streams(self, n: int) -> "Deferred[None]":
        return self.when(lambda: len(self._open_streams) == n)

    # -- controls (reactor thread) ----------------------------------------------------------------

    def set_data(self, flags: Dict[str, Any], segments: Optional[Dict[str, Any]] = None, *, push: bool = False) -> None:
        """Replace the data; with ``push``, send a put of it to every live stream."""
        with self._cond:
            self._data = {"flags": copy.deepcopy(dict(flags)), "segments": copy.deepcopy(dict(segments or {}))}
            put = self._put_event()
        if push:
            self._push(put)
        self._changed()

    def patch(self, kind: Any, item: Dict[str, Any], *, push: bool = True) -> None:
        """Store ``item`` (a flag or segment dict with ``key``) and push a patch event to live streams."""
        name = _kind(kind)
        item = copy.deepcopy(item)
        with self._cond:
            self._data[_SECTIONS[name]][item["key"]] = item
        if push:
            self._push(_sse("patch", {"path": _KIND_PATHS[name] + item["key"], "data": item}))
        self._changed()

    def delete(self, kind: Any, key: str, version: int, *, push: bool = True) -> None:
        """Remove ``key`` from the data and push a delete event (with ``version``) to live streams."""
        name = _kind(kind)
        with self._cond:
            self._data[_SECTIONS[name]].pop(key, None)
        if push:
            self._push(_sse("delete", {"path": _KIND_PATHS[name] + key, "version": version}))
        self._changed()

    def heartbeat(self) -> None:
        """Send a ``:`` comment line to every live stream."""
        self._push(b":\n")

    def push_raw(self, data: bytes) -> None:
        """Send raw bytes to every live stream (for events of your own making)."""
        self._push(data)

    def queue_stream_faults(self, *faults: Fault) -> None:
        """Faults for the next ``GET /all`` requests, one each, in order."""
        for f in faults:
            if not isinstance(f, int) and f not in STREAM_FAULTS:
                raise ValueError("unknown stream fault %r" % (f,))
        with self._cond:
            self._stream_faults.extend(faults)

    def queue_poll_faults(self, *faults: Fault) -> None:
        """Faults for the next ``GET /sdk/latest-all`` requests, one each, in order."""
        for f in faults:
            if not isinstance(f, int) and f not in POLL_FAULTS:
                raise ValueError("unknown poll fault %r" % (f,))
        with self._cond:
            self._poll_faults.extend(faults)

    def queue_event_statuses(self, *statuses: int) -> None:
        """HTTP statuses for the next event requests (the default is 202)."""
        with self._cond:
            self._event_statuses.extend(statuses)

    def drop_streams(self, *, abort: bool = False) -> None:
        """Close every open stream connection now (live, stalled or faulty).

        By default what was already written is flushed first, then the TCP connection is closed
        (no chunked terminator: the client sees the stream cut); ``abort=True`` discards it.
        """
        with self._cond:
            requests = list(self._open_streams)
        for request in requests:
            self._close_connection(request, abort)

    def drop_polls(self) -> None:
        """Close every open (stalled) polling connection now."""
        with self._cond:
            requests = list(self._open_polls)
        for request in requests:
            self._close_connection(request, True)

    def close(self) -> "Deferred[None]":
        """Stop listening and abort every connection; fires once all are closed. Idempotent."""
        if self._closing is None:
            # consumeErrors and no fireOnOneErrback: always fires, with every outcome listed.
            self._closing = DeferredList([maybeDeferred(self._port.stopListening), self._factory.abort_all()],
                                         consumeErrors=True)
        d: Deferred[None] = Deferred()

        def fire(result: Any) -> Any:
            d.callback(None)
            return result

        self._closing.addCallback(fire)
        return d

    # -- internals (reactor thread) ---------------------------------------------------------------

    def _changed(self) -> None:
        with self._cond:
            self._cond.notify_all()
        ready = [(p, d) for p, d in self._waiters if p()]
        if ready:
            self._waiters = [(p, d) for p, d in self._waiters if (p, d) not in ready]
            for _, d in ready:
                d.callback(None)

    def _record(self, into: List[RecordedRequest], request: Any, fault: Optional[Fault],
                body: bytes = b"", json_body: Any = None) -> None:
        headers = {name.decode("latin-1").lower(): ", ".join(v.decode("latin-1") for v in values)
                   for name, values in request.requestHeaders.getAllRawHeaders()}
        uri = request.uri.decode("latin-1")
        query = uri.split("?", 1)[1] if "?" in uri else ""
        rec = RecordedRequest(request.method.decode("latin-1"), request.path.decode("latin-1"), query, headers,
                              body, json_body, fault)
        with self._cond:
            into.append(rec)

    def _put_event(self) -> bytes:
        return _sse("put", {"path": "/", "data": self._data})

    def _body(self) -> bytes:
        return json.dumps(self._data, separators=(",", ":"), sort_keys=True).encode()

    @staticmethod
    def _etag_of(body: bytes) -> str:
        return '"%s"' % hashlib.sha1(body).hexdigest()[:20]

    def _track(self, request: Any, registry: Any, state: str = "other") -> None:
        with self._cond:
            if isinstance(registry, dict):
                registry[request] = state
            else:
                registry.add(request)

        def forget(result: Any) -> None:
            with self._cond:
                if isinstance(registry, dict):
                    registry.pop(request, None)
                else:
                    registry.discard(request)
            self._changed()

        request.notifyFinish().addBoth(forget)

    def _close_connection(self, request: Any, abort: bool) -> None:
        transport = request.channel.transport if request.channel is not None else None
        if transport is None:
            return
        if abort:
            transport.abortConnection()
        else:
            transport.loseConnection()

    def _push(self, data: bytes) -> None:
        with self._cond:
            live = [r for r, state in self._open_streams.items() if state == "live"]
        for request in live:
            request.write(data)

    def _serve_stream(self, request: Any) -> Any:
        with self._cond:
            fault = self._stream_faults.popleft() if self._stream_faults else None
            put = self._put_event()
        self._record(self._stream_requests, request, fault)
        try:
            return self._stream_response(request, fault, put)
        finally:
            self._changed()

    def _stream_response(self, request: Any, fault: Optional[Fault], put: bytes) -> Any:
        if isinstance(fault, int):
            request.setResponseCode(fault)
            request.setHeader(b"content-type", b"text/plain")
            return b"fault %d\n" % fault
        self._track(request, self._open_streams, "live" if fault is None else "other")
        if fault == "stall":
            return NOT_DONE_YET
        request.setHeader(b"cache-control", b"no-cache")
        if fault == "wrong_content_type":
            request.setHeader(b"content-type", b"application/json")
            request.write(put)
            return NOT_DONE_YET
        request.setHeader(b"content-type", b"text/event-stream; charset=utf-8")
        if fault == "headers_then_stall":
            request.write(b"")
        elif fault == "garbage":
            request.write(_GARBAGE_PUT)
        elif fault == "truncated":
            request.write(put[: len(put) // 2])
            self._close_connection(request, abort=False)
        else:
            request.write(put)
            if fault == "garbage_patch":
                request.write(_GARBAGE_PATCH)
            elif fault == "drop_after_put":
                self._close_connection(request, abort=False)
            elif fault == "close_after_put":
                request.finish()
        return NOT_DONE_YET

    def _serve_poll(self, request: Any) -> Any:
        with self._cond:
            fault = self._poll_faults.popleft() if self._poll_faults else None
            body = self._body()
        self._record(self._poll_requests, request, fault)
        try:
            if isinstance(fault, int):
                request.setResponseCode(fault)
                request.setHeader(b"content-type", b"text/plain")
                return b"fault %d\n" % fault
            if fault in ("stall", "drop"):
                self._track(request, self._open_polls)
                if fault == "drop":
                    self._close_connection(request, abort=True)
                return NOT_DONE_YET
            request.setHeader(b"content-type", b"application/json")
            if fault == "garbage":
                return b'{"flags": {oops'
            etag = self._etag_of(body)
            request.setHeader(b"etag", etag.encode())
            if request.getHeader(b"if-none-match") == etag.encode():
                request.setResponseCode(304)
                return b""
            return body
        finally:
            self._changed()

    def _serve_events(self, request: Any, path: str) -> Any:
        body = request.content.read() if request.content is not None else b""
        if (request.getHeader(b"content-encoding") or b"").lower() == b"gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError):
                pass
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        with self._cond:
            status = self._event_statuses.popleft() if self._event_statuses else 202
        self._record(self._event_requests, request, status if status != 202 else None, body, parsed)
        self._changed()
        request.setResponseCode(status)
        return b""


class FakeLaunchDarklyThread:
    """``FakeLaunchDarkly`` on a private reactor in a daemon thread; every method is thread-safe.

    Use as a context manager, or call ``close()``. Mutators return once the reactor has applied
    them, within ``timeout`` seconds (else ``TimeoutError``).
    """

    def __init__(self, flags: Optional[Dict[str, Any]] = None, segments: Optional[Dict[str, Any]] = None, *,
                 timeout: float = 10.0):
        from twisted.internet.selectreactor import SelectReactor

        self._timeout = timeout
        self._closed = False
        self.reactor = SelectReactor()
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name="fake-launchdarkly", daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            raise RuntimeError("the fake LaunchDarkly reactor did not start")
        try:
            self._fake: FakeLaunchDarkly = self.call(lambda: FakeLaunchDarkly(self.reactor, flags, segments))
        except BaseException:
            self._stop_reactor()
            raise
        self.uri = self._fake.uri
        self.port = self._fake.port

    def _run(self, started: threading.Event) -> None:
        self.reactor.callWhenRunning(started.set)
        self.reactor.run(installSignalHandlers=False)

    def call(self, fn: Callable[..., Any], *args: Any, timeout: Optional[float] = None) -> Any:
        """Run ``fn(*args)`` on the fake's reactor; wait (bounded) for its result, a Deferred's too."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("FakeLaunchDarklyThread.call from its own reactor thread would deadlock")
        if not self._thread.is_alive():
            raise RuntimeError("the fake LaunchDarkly reactor is not running")
        timeout = self._timeout if timeout is None else timeout
        done = threading.Event()
        box: List[Any] = []

        def run() -> None:
            def finish(result: Any) -> None:
                box.append(result)
                done.set()

            maybeDeferred(fn, *args).addBoth(finish)

        self.reactor.callFromThread(run)
        if not done.wait(timeout):
            raise TimeoutError("the fake LaunchDarkly reactor did not answer within %ss" % timeout)
        result = box[0]
        if isinstance(result, Failure):
            result.raiseException()
        return result

    # -- the fake itself, for Deferred waits run through call() -----------------------------------

    @property
    def server(self) -> FakeLaunchDarkly:
        """The underlying ``FakeLaunchDarkly`` (its mutators only via ``call``)."""
        return self._fake

    # -- controls ---------------------------------------------------------------------------------

    def set_data(self, flags: Dict[str, Any], segments: Optional[Dict[str, Any]] = None, *, push: bool = False) -> None:
        self.call(lambda: self._fake.set_data(flags, segments, push=push))

    def patch(self, kind: Any, item: Dict[str, Any], *, push: bool = True) -> None:
        self.call(lambda: self._fake.patch(kind, item, push=push))

    def delete(self, kind: Any, key: str, version: int, *, push: bool = True) -> None:
        self.call(lambda: self._fake.delete(kind, key, version, push=push))

    def heartbeat(self) -> None:
        self.call(self._fake.heartbeat)

    def push_raw(self, data: bytes) -> None:
        self.call(self._fake.push_raw, data)

    def queue_stream_faults(self, *faults: Fault) -> None:
        self.call(self._fake.queue_stream_faults, *faults)

    def queue_poll_faults(self, *faults: Fault) -> None:
        self.call(self._fake.queue_poll_faults, *faults)

    def queue_event_statuses(self, *statuses: int) -> None:
        self.call(self._fake.queue_event_statuses, *statuses)

    def drop_streams(self, *, abort: bool = False) -> None:
        self.call(lambda: self._fake.drop_streams(abort=abort))

    def drop_polls(self) -> None:
        self.call(self._fake.drop_polls)

    # -- reads and waits (thread-safe on the fake itself) -----------------------------------------

    def data(self) -> Dict[str, Dict[str, Any]]:
        return self._fake.data()

    def etag(self) -> str:
        return self._fake.etag()

    @property
    def stream_requests(self) -> List[RecordedRequest]:
        return self._fake.stream_requests

    @property
    def stream_connections(self) -> int:
        return self._fake.stream_connections

    @property
    def open_streams(self) -> int:
        return self._fake.open_streams

    @property
    def live_streams(self) -> int:
        return self._fake.live_streams

    @property
    def pending_stream_faults(self) -> int:
        return self._fake.pending_stream_faults

    @property
    def poll_requests(self) -> List[RecordedRequest]:
        return self._fake.poll_requests

    @property
    def open_polls(self) -> int:
        return self._fake.open_polls

    def event_payloads(self, path: Optional[str] = None) -> List[RecordedRequest]:
        return self._fake.event_payloads(path)

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str = "condition") -> None:
        self._fake.wait_for(predicate, timeout, what)

    def wait_for_stream_connections(self, n: int, timeout: float = 5.0) -> List[RecordedRequest]:
        return self._fake.wait_for_stream_connections(n, timeout)

    def wait_for_open_streams(self, n: int, timeout: float = 5.0) -> None:
        self._fake.wait_for_open_streams(n, timeout)

    def wait_for_stream_faults_used(self, timeout: float = 5.0) -> None:
        self._fake.wait_for_stream_faults_used(timeout)

    def wait_for_polls(self, n: int, timeout: float = 5.0) -> List[RecordedRequest]:
        return self._fake.wait_for_polls(n, timeout)

    def wait_for_event_payloads(self, n: int, path: Optional[str] = None, timeout: float = 5.0) -> List[RecordedRequest]:
        return self._fake.wait_for_event_payloads(n, path, timeout)

    # -- lifetime ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the server and every connection, stop the reactor and join its thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._thread.is_alive():
                self.call(self._fake.close)
        finally:
            self._stop_reactor()

    def _stop_reactor(self) -> None:
        if self._thread.is_alive():
            self.reactor.callFromThread(self.reactor.stop)
            self._thread.join(self._timeout)
            if self._thread.is_alive():
                raise RuntimeError("the fake LaunchDarkly reactor thread did not stop within %ss" % self._timeout)
        waker = getattr(self.reactor, "waker", None)  # the reactor's self-pipe: close its descriptors
        if waker is not None:
            self.reactor.removeReader(waker)
            waker.connectionLost(None)
            self.reactor.waker = None

    def __enter__(self) -> "FakeLaunchDarklyThread":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


__all__ = ("FakeLaunchDarkly", "FakeLaunchDarklyThread", "RecordedRequest", "STREAM_FAULTS", "POLL_FAULTS")
