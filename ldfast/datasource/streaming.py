"""The streaming data source: LaunchDarkly's flag stream (SSE) into the feature store, on the reactor.

Behaviour follows ldclient/impl/datasource/streaming.py (launchdarkly-server-sdk 9.20.0) and
PROTOCOL.md 9.1; everything runs on the reactor thread and nothing blocks it:

- ``GET {stream_uri}/all[?filter=KEY]``; the TCP/TLS connection must be made within
  ``http.connect_timeout`` and the response headers must arrive within ``http.read_timeout`` after
  that (one deadline of connect + read timeout for both); then 300 s without a byte (heartbeat
  comments count) drops the connection.
- ``put`` replaces the whole data set. It is decoded one flag/segment at a time and each item is
  preprocessed at once (keeping its JSON text for ``store.get``/``all``), in reactor-sized slices
  (``Cooperator``, ~4 ms each; see ``_payload``), and the flags are put in dependency order
  (prerequisites first, the official SDK's order) in slices too;
  the result is swapped in whole with ``store.init_preprocessed(flags, segments)`` (or
  ``store.init(raw)`` for a store without that method). The first put into an empty store that
  ``accepts_pending`` (the in-memory store) is stored sooner: its flags object is only validated
  and split (``ldfast._ext.jsonscan``), each flag kept as a placeholder holding its text
  (``ldfast.model.pending_flag``), parsed by the first reader that meets it and, after the swap,
  by a background task in slices (``flags_parsed()`` tells when that is done).
  Events that arrive meanwhile are queued and applied, in order, after the swap.
- ``patch``/``delete`` go to ``store.upsert``/``store.delete`` (the store applies the version rule).
  One whose path names no known kind (``/flags/``, ``/segments/``) is ignored with a warning, as
  long as it has a ``path`` and a ``data`` object (patch) or a ``version`` (delete): the stream goes on.
- A malformed message (bad JSON; a put without ``data.flags``/``data.segments`` objects; a patch
  without ``path`` or object ``data``, or whose item of a known kind lacks a string ``key`` or an
  int ``version``; a delete without ``path`` or ``version``, or with a non-int ``version`` for a
  known kind) is logged (never its payload) and drops the connection; the store never sees part
  of it, and later events of that connection are discarded.
- Failures reconnect after :class:`~ldfast.datasource.backoff.Backoff`'s delay with status
  INTERRUPTED. An HTTP status that is not recoverable (401, 403, 404, 405, any 4xx but 400, 408,
  429) stops the source for good: status OFF with the error, one error log, then ``on_failure``
  (how the client stops waiting for initialization). ``stop_on_unrecoverable=False`` gives
  9.20.0's behaviour instead: keep retrying, 5 minutes doubling to an hour.
- ``retry:`` fields are ignored, as in the official SDK (its SSE client is given no retry setter).
"""
from __future__ import annotations

import gc
import logging
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple
from urllib.parse import urlencode

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Cooperator, TaskDone, TaskFailed, TaskStopped
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss

from ldfast._failure import exc_info
from ldfast._headers import stream_headers
from ldfast._http import make_http_client
from ldfast.datasource._payload import (
    BackgroundParse,
    InvalidData,
    field,
    loads_object,
    put_items,
    slice_cooperator,
    without_gc_pass,
)
from ldfast.datasource._stream_parts import (
    _abort_body,
    _Connection,
    _describe,
    _Failed,
    _StreamProtocol,
)
from ldfast.datasource.backoff import Backoff
from ldfast.datasource.sse import Event
from ldfast.datasource.status import (
    DataSourceErrorInfo,
    DataSourceErrorKind,
    DataSourceState,
    DataSourceStatusProvider,
    record_environment_id,
)
from ldfast.feature_store import dependency_order_steps
from ldfast.model import parse_flag, parse_segment, pending_flag
from ldfast.versioned_data_kind import FEATURES, SEGMENTS, VersionedDataKind

log = logging.getLogger(__name__)

READ_TIMEOUT = 300.0
"""Seconds without any byte from the stream before the connection is dropped."""
STOP_TIMEOUT = 5.0
"""Longest wait, in seconds, for a dropped connection to report it is closed before stop() fires."""
_RECOVERABLE_4XX = frozenset((400, 408, 429))


def _target(path: str) -> Tuple[Optional[VersionedDataKind], str]:
    for kind in (FEATURES, SEGMENTS):
        if path.startswith(kind.stream_api_path):
            return kind, path[len(kind.stream_api_path):]
    return None, ""


def _raw(item: Any) -> Any:
    return item


def _swap(init_preprocessed: Callable[..., Any], flags: dict[str, Any], segments: dict[str, Any],
          replaced: List[Any]) -> None:
    replaced.append(init_preprocessed(flags, segments, ordered=True))


class StreamingDataSource:
    """Reads flag data from LaunchDarkly's streaming endpoint; a reactor-only component.

    ``start()``, ``stop()`` and every callback run on the reactor thread. ``on_initialized()`` is
    called once, after the first put is stored; ``on_failure(error_info)`` once, if the source
    gives up for good (an unrecoverable HTTP status). ``random`` (``() -> float`` in [0, 1)) and
    ``cooperator`` are for tests; ``status`` defaults to a provider of its own.

    The stored data adds almost nothing to CPython's cyclic garbage collector's work: each item
    keeps its JSON text rather than the decoded tree, and the compiled model untracks the objects
    it builds (see ``ldfast._ext.model_py``), so a full collection during or after a large put
    stays short. (With the pure-Python twins the model objects stay tracked.)

    ``freeze_gc=True`` additionally pauses the collector while a put is decoded and, once the new
    data set is stored, moves every live object into the permanent generation (``gc.freeze()``).
    It is opt-in because it freezes the application's objects too: a reference cycle that is alive
    at that moment is never collected if it later becomes garbage.
    """

    def __init__(self, config: Any, store: Any, *, reactor: Any = None, http_client: Any = None,
                 status: Optional[DataSourceStatusProvider] = None,
                 on_initialized: Optional[Callable[[], Any]] = None,
                 on_failure: Optional[Callable[[DataSourceErrorInfo], Any]] = None,
                 random: Optional[Callable[[], float]] = None,
                 cooperator: Optional[Cooperator] = None,
                 stop_on_unrecoverable: bool = True,
                 freeze_gc: bool = False) -> None:
        if reactor is None:
            from twisted.internet import reactor as _global_reactor

            reactor = _global_reactor
        self._reactor = reactor
        self._config = config
        self._store = store
        self._http = http_client if http_client is not None else make_http_client(reactor, config, persistent=False)
        self._status = status if status is not None else DataSourceStatusProvider(now=reactor.seconds)
        self._on_initialized = on_initialized
        self._on_failure = on_failure
        self._stop_on_unrecoverable = stop_on_unrecoverable
        self._freeze_gc = freeze_gc
        self._gc_was_enabled: Optional[bool] = None  # set while freeze_gc has paused the collector
        self._backoff = Backoff(config.initial_reconnect_delay, clock=reactor.seconds, random=random)
        self._own_cooperator = cooperator is None
        self._cooperator = cooperator if cooperator is not None else slice_cooperator(reactor)
        uri: str = config.stream_base_uri + "/all"
        if config.payload_filter_key is not None:
            uri += "?" + urlencode({"filter": config.payload_filter_key})
        self._uri = uri
        self._headers = stream_headers(config)
        self._started = False
        self._running = False
        self._stopped = False
        self._initialized = False
        self._conn: Optional[_Connection] = None
        self._reconnect_call: Any = None
        self._last_event_id: Optional[str] = None
        self._put_task: Any = None  # the CooperativeTask preprocessing a put
        self._parsing = BackgroundParse(self._cooperator)  # a first put's flags, after it is stored
        # Events (and failures) that arrived while a put was decoding, applied in order after it.
        self._queue: Deque[Tuple[_Connection, Any]] = deque()

    # -- public ------------------------------------------------------------------------------------

    @property
    def status_provider(self) -> DataSourceStatusProvider:
        return self._status

    @property
    def uri(self) -> str:
        return self._uri

    def start(self) -> None:
        """Connect (at once: the first connection has no delay). Idempotent."""
        if self._started:
            return
        self._started = True
        if self._stopped:
            return
        self._running = True
        log.info("Starting StreamingUpdateProcessor connecting to uri: %s", self._uri)
        self._connect()

    def stop(self) -> "Deferred[None]":
        """Stop for good and close the connection; fires once it is closed (at most STOP_TIMEOUT s)."""
        if not self._stopped:
            log.info("Stopping StreamingUpdateProcessor")
            self._status.update_status(DataSourceState.OFF, None)
            self._halt()
        conn = self._conn
        if conn is None or conn.lost or conn.transport is None:
            return succeed(None)
        d: Deferred[None] = Deferred()
        conn.waiters.append(d)
        if conn.stop_timer is None:
            conn.stop_timer = self._reactor.callLater(STOP_TIMEOUT, self._stop_timed_out, conn)
        return d

    def initialized(self) -> bool:
        """True once a put has been stored, until the source stops."""
        return self._initialized and self._running

    def is_alive(self) -> bool:
        return self._running

    def flags_parsed(self) -> "Optional[Deferred[None]]":
        """None if every stored flag is parsed; else a Deferred that fires once they are (the first
        put is stored with its flags as placeholders, parsed afterwards in the background)."""
        return self._parsing.waiter()

    # -- connection --------------------------------------------------------------------------------

    def _connect(self) -> None:
        self._reconnect_call = None
        if not self._running:
            return
        conn = self._conn = _Connection(self._last_event_id)
        headers = dict(self._headers)
        if self._last_event_id:
            headers["Last-Event-ID"] = self._last_event_id
        log.debug("Connecting to stream at %s", self._uri)
        try:
            d = self._http.get(self._uri, headers=headers, unbuffered=True)
        except Exception:
            d = fail()
        conn.request = d
        http = self._config.http
        conn.connect_timer = self._reactor.callLater(http.connect_timeout + http.read_timeout,
                                                     self._connect_timed_out, conn)
        d.addCallbacks(self._on_response, self._on_request_failed, callbackArgs=(conn,), errbackArgs=(conn,))
        d.addErrback(self._on_internal_error, conn)

    def _connect_timed_out(self, conn: _Connection) -> None:
        conn.connect_timer = None
        conn.timed_out = True
        if conn.request is not None:
            conn.request.cancel()

    def _on_response(self, response: Any, conn: _Connection) -> None:
        conn.request = None
        conn.cancel_timers()
        if conn is not self._conn or not self._running:
            _abort_body(response)
            return
        code = response.code
        if code >= 400 or code == 204:
            _abort_body(response)
            self._http_error(conn, code)
            return
        content_types = response.headers.getRawHeaders(b"content-type") or [b""]
        content_type = content_types[-1].decode("latin-1")
        if not content_type.lower().startswith("text/event-stream"):
            _abort_body(response)
            self._fail(conn, DataSourceErrorKind.UNKNOWN, 0, "Unexpected Content-Type %r" % content_type,
                       "Unexpected Content-Type %r on stream connection" % content_type)
            return
        record_environment_id(self._status, response.headers)  # X-LD-EnvID, for hooks
        conn.last_data = self._reactor.seconds()
        conn.read_timer = self._reactor.callLater(READ_TIMEOUT, self._check_read, conn)
        response.deliverBody(_StreamProtocol(self, conn))

    def _on_request_failed(self, failure: Failure, conn: _Connection) -> None:
        conn.request = None
        conn.cancel_timers()
        if conn is not self._conn or not self._running:
            return
        if conn.timed_out:
            http = self._config.http
            message = "no response within %ss (connect timeout %ss + read timeout %ss)" % (
                http.connect_timeout + http.read_timeout, http.connect_timeout, http.read_timeout)
        else:
            message = _describe(failure)
        self._fail(conn, DataSourceErrorKind.NETWORK_ERROR, 0, message, "Error on stream connection: %s" % message)

    def _on_internal_error(self, failure: Failure, conn: _Connection) -> None:
        log.error("Unexpected error in the stream connection: %s", failure.getErrorMessage(),
                  exc_info=exc_info(failure))
        self._fail(conn, DataSourceErrorKind.UNKNOWN, 0, failure.getErrorMessage(), "Unexpected error")

    def _check_read(self, conn: _Connection) -> None:
        conn.read_timer = None
        remaining = conn.last_data + READ_TIMEOUT - self._reactor.seconds()
        if remaining > 0:
            conn.read_timer = self._reactor.callLater(remaining, self._check_read, conn)
            return
        message = "no data for %ss" % READ_TIMEOUT
        self._fail(conn, DataSourceErrorKind.NETWORK_ERROR, 0, message, "Stream read timed out (%s)" % message)

    def _on_data(self, conn: _Connection, data: bytes) -> None:
        if conn.failed:
            return
        conn.last_data = self._reactor.seconds()
        try:
            events = without_gc_pass(conn.parser.feed, data)  # (the chunk ending a large put joins megabytes)
            self._last_event_id = conn.parser.last_event_id
            for event in events:
                if conn.poisoned or not self._running:
                    break
                if self._put_task is not None or self._queue:
                    self._queue.append((conn, event))
                else:
                    self._handle(conn, event)
        except Exception as e:  # a bug must not escape into Twisted's HTTP machinery
            log.exception("Unexpected error handling stream data")
            self._bad_message(conn, DataSourceErrorKind.UNKNOWN, str(e), "Unexpected error handling stream data")

    def _on_lost(self, conn: _Connection, reason: Failure) -> None:
        conn.transport = None
        conn.closed()
        if conn.failed or conn is not self._conn or not self._running:
            conn.cancel_timers()
            return
        if reason.check(ResponseDone, PotentialDataLoss):
            message = "the server closed the stream connection"
            description = "The server closed the stream connection"
        else:
            message = _describe(reason)
            description = "Error on stream connection: %s" % message
        self._fail(conn, DataSourceErrorKind.NETWORK_ERROR, 0, message, description)

    def _stop_timed_out(self, conn: _Connection) -> None:
        conn.stop_timer = None
        log.debug("The stream connection did not report closing within %ss", STOP_TIMEOUT)
        conn.closed()

    def _drop(self, conn: _Connection) -> None:
        conn.failed = True
        conn.cancel_timers()
        if conn.request is not None:
            request, conn.request = conn.request, None
            request.cancel()
        if conn.transport is not None and not conn.lost:
            try:
                conn.transport.stopProducing()
            except Exception:
                log.debug("Error closing the stream connection", exc_info=True)

    # -- failures ----------------------------------------------------------------------------------

    def _http_error(self, conn: _Connection, code: int) -> None:
        description = "HTTP error %d%s" % (code, " (invalid SDK key)" if code in (401, 403) else "")
        info = DataSourceErrorInfo(DataSourceErrorKind.ERROR_RESPONSE, code, self._reactor.seconds(), description)
        if 400 <= code < 500 and code not in _RECOVERABLE_4XX:
            if self._stop_on_unrecoverable:
                self._give_up(conn, info, "Received %s for stream connection - giving up permanently" % description)
                return
            self._fail_with(conn, info, "Received %s for stream connection" % description, unexpected=True)
            return
        self._fail_with(conn, info, "Received %s for stream connection" % description)

    def _fail(self, conn: _Connection, kind: DataSourceErrorKind, status_code: int, message: str,
              description: str, level: int = logging.WARNING) -> None:
        info = DataSourceErrorInfo(kind, status_code, self._reactor.seconds(), message)
        self._fail_with(conn, info, description, level=level)

    def _fail_with(self, conn: _Connection, info: DataSourceErrorInfo, description: str,
                   unexpected: bool = False, level: int = logging.WARNING) -> None:
        """Drop ``conn`` (once) and, while running, reconnect after the backoff delay."""
        if conn.failed:
            return
        self._drop(conn)
        if conn is not self._conn or not self._running:
            return
        if self._put_task is not None or self._queue:
            # Events received before the failure are still waiting for a put: report the failure
            # (and reconnect) after them, in order, as a sequential reader would.
            conn.pending_failure = _Failed(info, description, unexpected, level)
            self._queue.append((conn, conn.pending_failure))
            return
        self._retry_later(info, description, unexpected, level)

    def _retry_later(self, info: DataSourceErrorInfo, description: str, unexpected: bool, level: int) -> None:
        delay = self._backoff.record_failure(unexpected)
        log.log(logging.ERROR if unexpected else level, "%s - will retry in %.1fs", description, delay)
        self._status.update_status(DataSourceState.INTERRUPTED, info)
        self._reconnect_call = self._reactor.callLater(delay, self._connect)

    def _bad_message(self, conn: _Connection, kind: DataSourceErrorKind, message: str, description: str) -> None:
        """A message could not be applied: discard the rest of its connection, drop it, reconnect."""
        conn.poisoned = True
        info = DataSourceErrorInfo(kind, 0, self._reactor.seconds(), message)
        description += "; will restart stream"
        if conn is self._conn and not conn.failed:
            self._fail_with(conn, info, description, level=logging.ERROR)
        elif conn.pending_failure is not None:  # the close queued behind this message: report this instead
            failed = conn.pending_failure
            failed.info, failed.description, failed.level = info, description, logging.ERROR
        elif self._running:  # from a connection already gone and reported: report only
            log.error("%s", description)
            self._status.update_status(DataSourceState.INTERRUPTED, info)

    def _give_up(self, conn: _Connection, info: DataSourceErrorInfo, description: str) -> None:
        log.error("%s", description)
        self._stopped = True
        self._status.update_status(DataSourceState.OFF, info)
        self._drop(conn)
        self._halt()
        if self._on_failure is not None:
            try:
                self._on_failure(info)
            except Exception:
                log.exception("Error in the data source's on_failure callback")

    def _halt(self) -> None:
        """Stop everything: reconnects, put preprocessing, queued events, the connection."""
        self._stopped = True
        self._running = False
        if self._reconnect_call is not None:
            call, self._reconnect_call = self._reconnect_call, None
            if call.active():
                call.cancel()
        task, self._put_task = self._put_task, None
        self._resume_gc(freeze=False)
        self._parsing.stop()
        if task is not None:
            try:
                task.stop()
            except (TaskDone, TaskFailed):
                pass
        if self._own_cooperator:
            self._cooperator.stop()
        self._queue.clear()
        if self._conn is not None and not self._conn.failed:
            self._drop(self._conn)

    # -- messages ----------------------------------------------------------------------------------

    def _handle(self, conn: _Connection, event: Event) -> None:
        name = event.event
        if name == "put":
            self._put(conn, event.data)
        elif name == "patch":
            self._patch(conn, event.data)
        elif name == "delete":
            self._delete(conn, event.data)
        else:
            log.warning("Unhandled event in stream processor: %s", name)
            self._backoff.record_success()

    def _put(self, conn: _Connection, data: str) -> None:
        """Decode and preprocess a put in slices; the store sees it only once it is whole and valid."""
        out_flags: Dict[str, Any] = {}
        out_segments: Dict[str, Any] = {}
        ordered: Dict[str, Any] = {}
        if getattr(self._store, "init_preprocessed", None) is None:
            steps = put_items(data, out_flags, out_segments, _raw, _raw)
            ordered = out_flags
        else:
            # The first put (nothing to serve yet) is stored fastest: its flags as placeholders.
            # Later puts replace data that is serving meanwhile, and a change set needs them parsed.
            lazy = getattr(self._store, "accepts_pending", False) and not self._store.initialized
            steps = self._preprocess(data, out_flags, out_segments, ordered, lazy)
        self._pause_gc()
        task = self._put_task = self._cooperator.cooperate(steps)
        task.whenDone().addCallbacks(self._put_decoded, self._put_failed,
                                     callbackArgs=(task, conn, ordered, out_segments), errbackArgs=(task, conn))

    @staticmethod
    def _preprocess(data: str, flags: dict[str, Any], segments: dict[str, Any], ordered: dict[str, Any],
                    lazy: bool) -> Any:
        """Steps: decode and parse each item (``lazy``: each flag split off as a placeholder),
        then put the flags in dependency order (into ``ordered``)."""
        yield from put_items(data, flags, segments, parse_flag, parse_segment, keep_text=True,
                             pending_flag=pending_flag if lazy else None)
        yield from dependency_order_steps(flags, ordered)

    def _put_decoded(self, _: Any, task: Any, conn: _Connection, flags: dict[str, Any], segments: dict[str,
                     Any]) -> None:
        if task is not self._put_task or not self._running:
            return
        self._put_task = None
        log.debug("Received put event with %d flags and %d segments", len(flags), len(segments))
        init_preprocessed = getattr(self._store, "init_preprocessed", None)
        replaced: List[Any] = []
        if init_preprocessed is not None:
            stored = self._store_call(conn, _swap, init_preprocessed, flags, segments, replaced)
            if stored:
                self._parsing.start(flags)
        else:
            stored = self._store_call(conn, self._store.init, {FEATURES: flags, SEGMENTS: segments})
        del flags, segments
        if replaced:
            self._release(replaced.pop())
        self._resume_gc(freeze=stored)
        if stored:
            self._put_stored()
        self._drain()

    def _put_failed(self, failure: Failure, task: Any, conn: _Connection) -> None:
        if failure.check(TaskStopped) or task is not self._put_task or not self._running:
            return
        self._put_task = None
        self._resume_gc(freeze=False)
        message = failure.getErrorMessage()
        if failure.check(InvalidData):
            self._bad_message(conn, DataSourceErrorKind.INVALID_DATA, message, "Invalid put event: %s" % message)
        else:
            log.error("Unexpected error processing a put event",
                      exc_info=exc_info(failure))
            self._bad_message(conn, DataSourceErrorKind.UNKNOWN, message, "Could not process put event")
        self._drain()

    def _release(self, old: Any) -> None:
        """Free a replaced data set (``init_preprocessed``'s result) a few items per slice."""
        if not isinstance(old, tuple) or not any(isinstance(items, dict) and items for items in old):
            return

        def steps() -> Any:
            for items in old:
                if isinstance(items, dict):
                    while items:
                        items.popitem()
                        yield None

        self._cooperator.cooperate(steps())

    def _pause_gc(self) -> None:
        if self._freeze_gc and self._gc_was_enabled is None:
            self._gc_was_enabled = gc.isenabled()
            gc.disable()

    def _resume_gc(self, freeze: bool) -> None:
        was_enabled, self._gc_was_enabled = self._gc_was_enabled, None
        if was_enabled is None:
            return
        if freeze:
            gc.freeze()
        if was_enabled:
            gc.enable()

    def _put_stored(self) -> None:
        self._backoff.record_success()
        first = not self._initialized
        self._initialized = True
        self._status.update_status(DataSourceState.VALID, None)
        if first:
            log.info("StreamingUpdateProcessor initialized ok.")
            if self._on_initialized is not None:
                try:
                    self._on_initialized()
                except Exception:
                    log.exception("Error in the data source's on_initialized callback")

    def _drain(self) -> None:
        while self._queue and self._put_task is None and self._running:
            conn, event = self._queue.popleft()
            if isinstance(event, _Failed):
                conn.pending_failure = None
                self._retry_later(event.info, event.description, event.unexpected, event.level)
            elif not conn.poisoned:
                self._handle(conn, event)

    def _patch(self, conn: _Connection, data: str) -> None:
        # The official SDK's order: the message needs a "path" and an object "data" whatever the
        # path; an unknown kind in the path is then ignored (room for new kinds), and only an item
        # of a known kind must be a valid item (its key and version checked here, the rest by the store).
        try:
            payload = loads_object(data)
            path = field(payload, "path", str)
            item = field(payload, "data", dict)
            kind, _ = _target(path)
            if kind is not None:
                field(item, "key", str)
                field(item, "version", int)
        except InvalidData as e:
            self._bad_message(conn, DataSourceErrorKind.INVALID_DATA, str(e), "Invalid patch event: %s" % e)
            return
        if kind is None:
            log.warning("Patch for unknown path")
        elif not self._store_call(conn, self._store.upsert, kind, item):
            return
        self._backoff.record_success()

    def _delete(self, conn: _Connection, data: str) -> None:
        # As _patch: "path" and "version" are required; the version must be an int only for a known kind.
        try:
            payload = loads_object(data)
            path = field(payload, "path", str)
            if "version" not in payload:
                raise InvalidData('"version" is missing')
            kind, key = _target(path)
            if kind is not None:
                version = field(payload, "version", int)
        except InvalidData as e:
            self._bad_message(conn, DataSourceErrorKind.INVALID_DATA, str(e), "Invalid delete event: %s" % e)
            return
        if kind is None:
            log.warning("Delete for unknown path")
        elif not self._store_call(conn, self._store.delete, kind, key, version):
            return
        self._backoff.record_success()

    def _store_call(self, conn: _Connection, method: Callable[..., Any], *args: Any) -> bool:
        try:
            method(*args)
            return True
        except Exception as e:
            message = "%s: %s" % (type(e).__name__, e)
            self._bad_message(conn, DataSourceErrorKind.STORE_ERROR, message,
                              "Error storing data from the stream (%s)" % message)
            return False


__all__ = ("StreamingDataSource", "READ_TIMEOUT", "STOP_TIMEOUT")
