"""The polling data source: ``GET {base_uri}/sdk/latest-all`` every ``poll_interval``, on the reactor.

As the official SDK (PROTOCOL.md 9.2): the first poll at once, then every ``max(poll_interval, 30)``
seconds; each successful answer replaces the whole data set; ``ETag``/``If-None-Match`` with the
previous body reused on 304; 401/403/404/405 and other 4xx but 400/408/429 stop polling for good;
other failures are logged and retried at the next interval. The response body is decoded with
orjson and preprocessed in reactor-sized slices, like a stream ``put``.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Optional
from urllib.parse import urlencode

import treq
from twisted.internet.defer import CancelledError, Deferred, inlineCallbacks, succeed

from ldfast._headers import poll_headers
from ldfast.datasource._payload import InvalidData, loads_object, slice_cooperator
from ldfast.datasource.status import (
    DataSourceErrorInfo,
    DataSourceErrorKind,
    DataSourceState,
    DataSourceStatusProvider,
    record_environment_id,
)
from ldfast._http import make_http_client
from ldfast.model import parse_flag, parse_segment

log = logging.getLogger(__name__)

_RECOVERABLE_4XX = frozenset((400, 408, 429))
_SLICE = 200  # items preprocessed per reactor turn


class PollingDataSource:
    """Polls LaunchDarkly for the whole data set; a reactor-only component (see module docstring)."""

    def __init__(self, config: Any, store: Any, *, reactor: Any, http_client: Any = None,
                 status: Optional[DataSourceStatusProvider] = None,
                 on_initialized: Optional[Callable[[], Any]] = None,
                 on_failure: Optional[Callable[[DataSourceErrorInfo], Any]] = None) -> None:
        self._reactor = reactor
        self._config = config
        self._store = store
        self._http = http_client if http_client is not None else make_http_client(reactor, config)
        self._status = status if status is not None else DataSourceStatusProvider(now=reactor.seconds)
        self._on_initialized = on_initialized
        self._on_failure = on_failure
        uri = config.base_uri + "/sdk/latest-all"
        if config.payload_filter_key is not None:
            uri += "?" + urlencode({"filter": config.payload_filter_key})
        self._uri = uri
        self._headers = poll_headers(config)
        self._etag: Optional[str] = None
        self._running = False
        self._initialized = False
        self._call: Any = None
        self._request: Optional[Deferred[Any]] = None
        self._cooperator = slice_cooperator(reactor)

    def start(self) -> None:
        if self._running:
            return
        self._running = True
        log.info("Starting PollingUpdateProcessor with request interval: %s", self._config.poll_interval)
        self._poll()

    def stop(self) -> "Deferred[None]":
        self._running = False
        self._status.update_status(DataSourceState.OFF, None)
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        if self._request is not None:
            self._request.cancel()
        self._cooperator.stop()
        return succeed(None)

    def initialized(self) -> bool:
        return self._initialized and self._running

    def is_alive(self) -> bool:
        return self._running

    def _schedule(self) -> None:
        if self._running:
            self._call = self._reactor.callLater(self._config.poll_interval, self._poll)

    def _poll(self) -> None:
        self._call = None
        if not self._running:
            return
        d = self._poll_once()
        d.addErrback(lambda f: log.error("Unexpected error while polling: %s", f.getErrorMessage()))
        d.addBoth(lambda _: self._schedule())

    @inlineCallbacks
    def _poll_once(self) -> Any:
        headers = dict(self._headers)
        if self._etag:
            headers["If-None-Match"] = self._etag
        # One deadline for the whole exchange (headers and body), on this reactor (treq's own
        # timeout would use the global reactor's clock).
        timeout = self._config.http.connect_timeout + self._config.http.read_timeout
        self._request = self._http.get(self._uri, headers=headers)
        deadline = self._reactor.callLater(timeout, self._give_up_request)
        try:
            response = yield self._request
            self._request = treq.content(response)
            body = yield self._request
        except Exception as e:
            if self._running:
                problem: object = e
                if isinstance(e, CancelledError):
                    problem = "no complete answer within %s s" % timeout
                self._error(DataSourceErrorKind.NETWORK_ERROR, 0, "network error: %s" % (problem,))
            return
        finally:
            self._request = None
            if deadline.active():
                deadline.cancel()
        if not self._running:
            return
        code = response.code
        if code < 400 and code != 204:
            record_environment_id(self._status, response.headers)  # X-LD-EnvID, for hooks
        if code == 304:
            self._status.update_status(DataSourceState.VALID, None)
            return
        if code >= 400 or code == 204:
            if 400 <= code < 500 and code not in _RECOVERABLE_4XX:
                info = DataSourceErrorInfo(DataSourceErrorKind.ERROR_RESPONSE, code, self._reactor.seconds(),
                                           "HTTP error %d%s" % (code, " (invalid SDK key)" if code in (401, 403) else ""))
                log.error("Received %s from LaunchDarkly polling; polling stops for good", info.message)
                self._running = False
                self._status.update_status(DataSourceState.OFF, info)
                if self._on_failure is not None:
                    self._on_failure(info)
                return
            self._error(DataSourceErrorKind.ERROR_RESPONSE, code, "HTTP error %d" % code)
            return
        try:
            data = loads_object(body.decode("utf-8", "replace"))
            flags_raw = data.get("flags")
            segments_raw = data.get("segments")
            if not isinstance(flags_raw, dict) or not isinstance(segments_raw, dict):
                raise InvalidData('"flags" or "segments" is missing or not an object')
        except InvalidData as e:
            self._error(DataSourceErrorKind.INVALID_DATA, 0, "invalid poll response: %s" % e)
            return
        flags: Dict[str, Any] = {}
        segments: Dict[str, Any] = {}

        def preprocess() -> Any:
            for i, (key, item) in enumerate(segments_raw.items()):
                segments[key] = parse_segment(item)
                if i % _SLICE == _SLICE - 1:
                    yield None
            for i, (key, item) in enumerate(flags_raw.items()):
                flags[key] = parse_flag(item)
                if i % _SLICE == _SLICE - 1:
                    yield None

        yield self._cooperator.cooperate(preprocess()).whenDone()
        if not self._running:
            return
        self._store.init_preprocessed(flags, segments)
        self._etag = response.headers.getRawHeaders("etag", [None])[0]
        self._status.update_status(DataSourceState.VALID, None)
        if not self._initialized:
            self._initialized = True
            log.info("PollingUpdateProcessor initialized ok")
            if self._on_initialized is not None:
                self._on_initialized()

    def _give_up_request(self) -> None:
        if self._request is not None:
            self._request.cancel()

    def _error(self, kind: DataSourceErrorKind, code: int, message: str) -> None:
        log.warning("Polling for flag data failed (%s); will retry in %s s", message, self._config.poll_interval)
        self._status.update_status(DataSourceState.INTERRUPTED,
                                   DataSourceErrorInfo(kind, code, self._reactor.seconds(), message))
