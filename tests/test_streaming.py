"""The streaming data source, driven by a fake treq-style client on a MemoryReactorClock.

Also: the reconnect backoff, the status provider, and the put decoder. No real reactor, no sleeps.
"""
import gc
import json
import logging
import math
import sys
import time

import pytest
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import ConnectionAborted, ConnectionLost, ConnectionRefusedError
from twisted.internet.task import Cooperator
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone, ResponseFailed
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH

from ldfast.config import Config, HTTPConfig
from ldfast.datasource import (
    Backoff,
    DataSourceErrorInfo,
    DataSourceErrorKind,
    DataSourceState,
    DataSourceStatus,
    DataSourceStatusProvider,
    StreamingDataSource,
)
from ldfast.datasource._payload import InvalidData, all_data_items, put_items
from ldfast.datasource.streaming import READ_TIMEOUT, STOP_TIMEOUT
from ldfast.feature_store import InMemoryFeatureStore
from ldfast.version import VERSION
from ldfast.versioned_data_kind import FEATURES, SEGMENTS

SDK_KEY = "sdk-secret-key-123"
ERR = DataSourceErrorKind
ST = DataSourceState


# -- fakes ----------------------------------------------------------------------------------------

class FakeBodyTransport:
    """What a response body protocol gets from Twisted: an IPushProducer."""

    def __init__(self, response):
        self.response = response
        self.stopped = 0

    def stopProducing(self):
        self.stopped += 1
        r = self.response
        if r.on_stop == "now":
            r.lose(Failure(ResponseFailed([Failure(ConnectionAborted())])))
        elif r.on_stop == "later":
            r.clock.callLater(0, r.lose, Failure(ResponseFailed([Failure(ConnectionAborted())])))

    def pauseProducing(self):
        pass

    def resumeProducing(self):
        pass


class FakeResponse:
    def __init__(self, clock, code=200, content_type=b"text/event-stream; charset=utf-8", on_stop="later"):
        self.clock = clock
        self.code = code
        self.headers = Headers({b"content-type": [content_type]} if content_type is not None else {})
        self.length = UNKNOWN_LENGTH
        self.protocol = None
        self.transport = FakeBodyTransport(self)
        self.on_stop = on_stop  # what stopProducing does: "later" (next turn), "now", or "never"
        self.closed = False

    def deliverBody(self, protocol):
        assert self.protocol is None, "deliverBody called twice"
        self.protocol = protocol
        protocol.makeConnection(self.transport)

    @property
    def aborted(self):
        return self.transport.stopped > 0

    def push(self, *chunks):
        for chunk in chunks:
            assert not self.closed
            self.protocol.dataReceived(chunk)

    def lose(self, reason):
        if not self.closed:
            self.closed = True
            self.protocol.connectionLost(reason)

    def end(self):
        self.lose(Failure(ResponseDone()))


class FakeRequest:
    def __init__(self, url, headers, kwargs):
        self.url = url
        self.headers = headers
        self.kwargs = kwargs
        self.cancelled = False
        self.deferred = Deferred(self._cancel)

    def _cancel(self, d):
        self.cancelled = True


class FakeClient:
    """The treq surface the data source uses: get(url, headers=..., unbuffered=True)."""

    def __init__(self):
        self.requests = []

    def get(self, url, headers=None, **kwargs):
        req = FakeRequest(url, headers, kwargs)
        self.requests.append(req)
        return req.deferred


class ManualCooperator(Cooperator):
    """One work unit per tick, ticks run by hand: lets a test act in the middle of a put."""

    def __init__(self, time_sliced=False):
        self.pending = []
        if time_sliced:  # Twisted's default: each tick works for about 10 ms of wall time
            super().__init__(scheduler=self._schedule)
        else:
            super().__init__(terminationPredicateFactory=lambda: (lambda: True), scheduler=self._schedule)

    def _schedule(self, fn):
        call = _ManualCall(fn)
        self.pending.append(call)
        return call

    def step(self):
        calls, self.pending = self.pending, []
        for c in calls:
            if c.active():
                c.fn()
        return bool(self.pending)

    def run(self):
        while self.step():
            pass


class _ManualCall:
    def __init__(self, fn):
        self.fn = fn
        self.cancelled = False

    def active(self):
        return not self.cancelled

    def cancel(self):
        self.cancelled = True


# -- helpers --------------------------------------------------------------------------------------

def flag(key, version, **kw):
    d = {"key": key, "version": version, "on": True, "variations": [True, False], "fallthrough": {"variation": 0},
         "offVariation": 1, "salt": "s"}
    d.update(kw)
    return d


def segment(key, version, **kw):
    d = {"key": key, "version": version, "included": [], "excluded": [], "rules": [], "salt": "s"}
    d.update(kw)
    return d


def sse(event, data):
    body = data if isinstance(data, (str, bytes)) else json.dumps(data)
    if isinstance(body, str):
        body = body.encode()
    return b"event: " + event.encode() + b"\ndata: " + body + b"\n\n"


def put(flags=(), segments=()):
    return sse("put", {"path": "/", "data": {"flags": {f["key"]: f for f in flags},
                                              "segments": {s["key"]: s for s in segments}}})


def patch(kind, item):
    return sse("patch", {"path": "/%s/%s" % (kind, item["key"]), "data": item})


def delete(kind, key, version):
    return sse("delete", {"path": "/%s/%s" % (kind, key), "version": version})


class Harness:
    def __init__(self, config=None, store=None, random=lambda: 0.5, cooperator=None, start=True, **kw):
        self.clock = MemoryReactorClock()
        self.client = FakeClient()
        self.store = InMemoryFeatureStore() if store is None else store
        self.status = DataSourceStatusProvider(now=self.clock.seconds)
        self.statuses = []
        self.status.add_listener(self.statuses.append)
        self.inits = []
        self.failures = []
        self.source = StreamingDataSource(
            config or Config(SDK_KEY), self.store, reactor=self.clock, http_client=self.client,
            status=self.status, on_initialized=lambda: self.inits.append(self.clock.seconds()),
            on_failure=self.failures.append, random=random, cooperator=cooperator, **kw)
        if start:
            self.source.start()

    @property
    def requests(self):
        return self.client.requests

    def respond(self, **kw):
        response = FakeResponse(self.clock, **kw)
        self.requests[-1].deferred.callback(response)
        return response

    def connect_with_put(self, flags=(), segments=()):
        response = self.respond()
        response.push(put(flags, segments))
        self.clock.advance(0)  # the put is decoded in cooperative slices
        return response

    def states(self):
        return [s.state for s in self.statuses]

    def pending_calls(self):
        return [c for c in self.clock.getDelayedCalls() if c.active()]

    def reconnect_delay(self):
        calls = [c for c in self.pending_calls() if getattr(c.func, "__name__", "") == "_connect"]
        assert len(calls) == 1, self.pending_calls()
        return calls[0].getTime() - self.clock.seconds()


@pytest.fixture(autouse=True)
def no_unhandled_deferred_errors():
    """Fail a test that leaves a Deferred with an unhandled error (or logs any Twisted error)."""
    errors = []

    def observer(event):
        if event.get("isError") or event.get("log_failure") is not None:
            errors.append(event)

    globalLogPublisher.addObserver(observer)
    try:
        yield
        gc.collect()
    finally:
        globalLogPublisher.removeObserver(observer)
    assert errors == []


# -- request --------------------------------------------------------------------------------------

def test_first_request_is_immediate_with_the_official_headers():
    config = Config(SDK_KEY, stream_uri="https://stream.example.com/", wrapper_name="Flask",
                    wrapper_version="2.1", application={"id": "my-app", "version": "1.0"},
                    payload_filter_key="mobile & web")
    h = Harness(config)
    assert len(h.requests) == 1
    req = h.requests[0]
    assert req.url == "https://stream.example.com/all?filter=mobile+%26+web"
    assert req.kwargs == {"unbuffered": True}
    assert req.headers == {
        "Authorization": SDK_KEY,
        "User-Agent": "PythonClient/" + VERSION,
        "Accept": "text/event-stream",
        "Cache-Control": "no-cache",
        "X-LaunchDarkly-Wrapper": "Flask/2.1",
        "X-LaunchDarkly-Tags": "application-id/my-app application-version/1.0",
    }
    assert h.states() == [] and h.status.status.state is ST.INITIALIZING


def test_minimal_headers_and_no_filter():
    h = Harness(Config(SDK_KEY, wrapper_name="W"))
    req = h.requests[0]
    assert req.url == "https://stream.launchdarkly.com/all"
    assert req.headers["X-LaunchDarkly-Wrapper"] == "W"
    assert "X-LaunchDarkly-Tags" not in req.headers and "Last-Event-ID" not in req.headers


def test_last_event_id_is_sent_on_reconnect_once_known():
    h = Harness()
    r = h.respond()
    r.push(b"id: ev-1\n" + put([flag("a", 1)]))
    h.clock.advance(0)
    r.end()
    h.clock.advance(h.reconnect_delay())
    assert h.requests[1].headers["Last-Event-ID"] == "ev-1"


# -- messages -------------------------------------------------------------------------------------

def test_put_in_chunks_initializes_the_store_and_reports_valid():
    h = Harness()
    r = h.respond()
    data = put([flag("a", 1), flag("b", 2)], [segment("s", 3)])
    for i in range(0, len(data), 7):  # split anywhere, inside the JSON too
        r.push(data[i:i + 7])
    assert not h.source.initialized() and not h.store.initialized  # decoded in slices, swapped at the end
    h.clock.advance(0)
    assert h.source.initialized() and h.store.initialized
    assert h.store.get(FEATURES, "a")["version"] == 1 and h.store.get(SEGMENTS, "s")["version"] == 3
    assert sorted(h.store.all(FEATURES)) == ["a", "b"]
    assert h.inits == [0] and h.states() == [ST.VALID]
    assert h.status.status.error is None


def test_second_put_replaces_everything_and_initialization_callback_fires_once():
    h = Harness()
    r = h.connect_with_put([flag("a", 5), flag("b", 1)])
    r.push(put([flag("c", 1)]))
    h.clock.advance(0)
    assert list(h.store.all(FEATURES)) == ["c"]
    assert h.store.get(FEATURES, "a") is None  # replaced, not merged: even a lower version wins
    assert h.inits == [0] and h.states() == [ST.VALID]


def test_empty_put_initializes():
    h = Harness()
    h.connect_with_put()
    assert h.source.initialized() and h.store.all(FEATURES) == {}


def test_patch_and_delete_follow_the_store_version_rules():
    h = Harness()
    r = h.connect_with_put([flag("a", 1)], [segment("s", 1)])
    r.push(patch("flags", flag("a", 2, on=False)))
    assert h.store.get(FEATURES, "a")["on"] is False
    r.push(patch("flags", flag("a", 1)))  # older: ignored
    r.push(patch("flags", flag("a", 2)))  # same version: ignored
    assert h.store.get(FEATURES, "a")["on"] is False
    r.push(delete("flags", "a", 3))
    assert h.store.get(FEATURES, "a") is None
    r.push(patch("flags", flag("a", 3)))  # the tombstone blocks equal versions
    assert h.store.get(FEATURES, "a") is None
    r.push(patch("flags", flag("a", 4)))
    assert h.store.get(FEATURES, "a")["version"] == 4
    r.push(patch("segments", segment("s", 2, included=["u"])), delete("segments", "s", 1))
    assert h.store.get(SEGMENTS, "s")["included"] == ["u"]
    r.push(patch("flags", flag("new", 1)), delete("flags", "never-seen", 7))
    assert h.store.get(FEATURES, "new")["version"] == 1
    assert h.store._flags["never-seen"].deleted and h.store._flags["never-seen"].version == 7
    assert not r.aborted and h.states() == [ST.VALID]


def test_patch_before_any_put_is_stored_but_does_not_initialize():
    h = Harness()
    r = h.respond()
    r.push(patch("flags", flag("a", 1)))
    assert h.store.get(FEATURES, "a")["version"] == 1
    assert not h.source.initialized() and h.states() == []


def test_unknown_events_and_paths_are_ignored_with_a_warning(caplog):
    h = Harness()
    r = h.connect_with_put([flag("a", 1)])
    with caplog.at_level(logging.WARNING, logger="ldfast.datasource.streaming"):
        r.push(sse("indirect/patch", {"path": "/flags/a"}),
               sse("patch", {"path": "/other/a", "data": flag("a", 9)}),
               sse("delete", {"path": "/other/a", "version": 9}),
               b"data: no event name\n\n")
    assert h.store.get(FEATURES, "a")["version"] == 1 and not r.aborted
    messages = [rec.getMessage() for rec in caplog.records]
    assert messages == ["Unhandled event in stream processor: indirect/patch", "Patch for unknown path",
                        "Delete for unknown path", "Unhandled event in stream processor: message"]


def test_patch_or_delete_of_an_unknown_kind_is_ignored_whatever_its_item(caplog):
    """The contract's "patch event with unrecognized path kind": only the item of a known kind must
    be valid; the stream goes on and the next patch is applied."""
    h = Harness()
    r = h.connect_with_put([flag("a", 1)])
    with caplog.at_level(logging.WARNING, logger="ldfast.datasource.streaming"):
        r.push(sse("patch", {"path": "/cats/Jack", "data": {}}),
               sse("patch", {"path": "/cats/Jack", "data": {"key": 1, "version": "x"}}),
               sse("delete", {"path": "/cats/Jack", "version": "no"}),
               sse("delete", {"path": "/cats/Jack", "version": None}),
               sse("patch", {"path": "flags/a", "data": {}}),  # no leading slash: no known kind
               patch("flags", flag("a", 2)))
    assert h.store.get(FEATURES, "a")["version"] == 2
    assert not r.aborted and len(h.requests) == 1 and h.states() == [ST.VALID]
    assert [rec.getMessage() for rec in caplog.records] == ["Patch for unknown path"] * 2 + [
        "Delete for unknown path"] * 2 + ["Patch for unknown path"]


def test_store_without_init_preprocessed_gets_raw_init():
    class RawStore:
        initialized = False

        def __init__(self):
            self.calls = []

        def init(self, data):
            self.calls.append(("init", {k.namespace: dict(v) for k, v in data.items()}))

        def upsert(self, kind, item):
            self.calls.append(("upsert", kind.namespace, item["key"]))

        def delete(self, kind, key, version):
            self.calls.append(("delete", kind.namespace, key, version))

    store = RawStore()
    h = Harness(store=store)
    r = h.connect_with_put([flag("a", 1)], [segment("s", 1)])
    r.push(patch("flags", flag("a", 2)), delete("segments", "s", 2))
    assert store.calls == [("init", {"features": {"a": flag("a", 1)}, "segments": {"s": segment("s", 1)}}),
                           ("upsert", "features", "a"), ("delete", "segments", "s", 2)]
    assert h.source.initialized()


# -- a put in progress ----------------------------------------------------------------------------

def test_patch_and_delete_during_a_chunked_put_are_applied_after_the_swap():
    coop = ManualCooperator()
    h = Harness(cooperator=coop)
    r = h.respond()
    fillers = [flag("x%03d" % i, 1) for i in range(300)]  # (a first put is split 64 flags a step)
    r.push(put([flag("a", 1), flag("b", 1), flag("c", 1), flag("d", 5)] + fillers))
    coop.step()
    coop.step()  # half-way through the put
    assert not h.store.initialized
    r.push(patch("flags", flag("a", 2)), delete("flags", "b", 2), patch("flags", flag("d", 4)),
           patch("flags", flag("e", 1)))
    assert h.store.get(FEATURES, "a") is None  # queued, not applied to the old data
    coop.run()
    assert h.store.get(FEATURES, "a")["version"] == 2
    assert h.store.get(FEATURES, "b") is None
    assert h.store.get(FEATURES, "d")["version"] == 5  # older than the put's: the version rule holds
    assert h.store.get(FEATURES, "e")["version"] == 1
    assert h.store.get(FEATURES, "c")["version"] == 1


def test_a_put_queued_behind_a_put_runs_next_in_order():
    coop = ManualCooperator()
    h = Harness(cooperator=coop)
    r = h.respond()
    r.push(put([flag("a", 1)]), patch("flags", flag("a", 2)), put([flag("z", 1)]), patch("flags", flag("z", 3)))
    coop.run()
    assert h.store.all(FEATURES) == {"z": flag("z", 3)}
    assert h.inits == [0]


def test_events_after_a_server_close_during_a_put_are_still_applied():
    coop = ManualCooperator()
    h = Harness(cooperator=coop)
    r = h.respond()
    r.push(put([flag("a", 1)]), patch("flags", flag("a", 2)))
    r.end()  # the server closes while the put is still being decoded
    assert h.pending_calls() == [] and h.states() == []  # the close is reported after the put, in order
    coop.run()
    assert h.store.get(FEATURES, "a")["version"] == 2
    assert h.states() == [ST.VALID, ST.INTERRUPTED] and h.status.status.error.kind is ERR.NETWORK_ERROR
    h.clock.advance(h.reconnect_delay())
    assert len(h.requests) == 2


def test_bad_put_then_server_close_reports_the_bad_data_once():
    coop = ManualCooperator()
    h = Harness(cooperator=coop)
    r = h.connect_with_put([flag("a", 1)])
    r.push(sse("put", '{"data": {"flags": {"b": {}}}}'), patch("flags", flag("a", 2)))
    r.end()
    coop.run()
    assert h.states() == [ST.VALID, ST.INTERRUPTED] and h.status.status.error.kind is ERR.INVALID_DATA
    assert h.store.get(FEATURES, "a")["version"] == 1
    assert h.reconnect_delay() == pytest.approx(0.75)


def test_big_put_is_decoded_in_slices():
    coop = ManualCooperator()
    h = Harness(cooperator=coop)
    r = h.respond()
    big = put([flag("f%04d" % i, 1) for i in range(1000)], [segment("s%03d" % i, 1) for i in range(100)])
    r.push(big)
    # The first put: the flags split 64 a step, each segment a step, the ordering; then the swap;
    # then the background parse, a flag a step.
    steps = 0
    while not h.store.initialized:
        assert coop.step()
        steps += 1
    assert 100 + 1000 // 64 <= steps < 200
    assert all(f.pending for f in h.store._flags.values())
    while coop.step():
        steps += 1
        assert h.source.flags_parsed() is not None or not coop.pending
    assert steps >= 1100 + 1000 // 64 and not any(f.pending for f in h.store._flags.values())
    # A later put: every item decoded and parsed a step at a time, then swapped in at the end.
    r.push(big.replace(b'"version": 1', b'"version": 2'))
    steps = 0
    while coop.step():
        steps += 1
        assert {f.version for f in h.store._flags.values()} in ({1}, {2})  # swapped in whole
    assert steps >= 1100 and len(h.store.all(FEATURES)) == 1000 and len(h.store.all(SEGMENTS)) == 100
    assert h.store._flags["f0999"].version == 2


def test_big_put_is_sliced_by_time_with_the_default_predicate():
    coop = ManualCooperator(time_sliced=True)
    h = Harness(cooperator=coop)
    r = h.connect_with_put([flag("first", 1)])  # (a later put is decoded and parsed before the swap)
    coop.run()
    targets = [{"values": ["user-%05d" % i for i in range(200)], "variation": 0}]
    rules = [{"id": "r%d" % j, "variation": 1, "clauses": [
        {"attribute": "email", "op": "endsWith", "values": ["@example.com", "@example.org"]},
        {"attribute": "plan", "op": "in", "values": ["plan-%02d" % i for i in range(50)]}]} for j in range(5)]
    r.push(put([flag("f%04d" % i, 1, targets=targets, rules=rules) for i in range(3000)]))
    ticks = 0
    while coop.step():
        ticks += 1
        assert len(h.store._flags) in (1, 3000)  # swapped in whole, at the end
    assert ticks >= 3 and len(h.store.all(FEATURES)) == 3000


def test_a_replaced_data_set_is_released_in_slices_after_the_swap():
    coop = ManualCooperator()  # one work unit per tick
    h = Harness(cooperator=coop)
    r = h.respond()
    r.push(put([flag("f%d" % i, 1) for i in range(5)], [segment("s", 1)]))
    coop.run()
    old = h.store._flags["f3"]
    assert sys.getrefcount(old) == 3  # the store's dict, ``old``, the argument
    r.push(put([flag("f%d" % i, 2) for i in range(5)], [segment("s", 2)]))
    while h.store._flags["f3"] is old:
        coop.step()
    assert h.store.get(FEATURES, "f3")["version"] == 2
    assert sys.getrefcount(old) == 3  # swapped out, but not freed yet: released a few items per tick
    steps = 0
    while coop.step():
        steps += 1
    assert steps >= 5 and sys.getrefcount(old) == 2


def test_stopping_while_releasing_a_replaced_data_set_frees_it():
    coop = ManualCooperator()
    h = Harness(cooperator=coop)
    r = h.respond()
    r.push(put([flag("f%d" % i, 1) for i in range(3)]))
    coop.run()
    old = h.store._flags["f1"]
    r.push(put([flag("f%d" % i, 2) for i in range(3)]))
    while h.store._flags["f1"] is old:
        coop.step()
    h.source.stop()
    coop.run()
    gc.collect()
    assert sys.getrefcount(old) == 2


# -- malformed messages ---------------------------------------------------------------------------

BAD_MESSAGES = [
    pytest.param(sse("put", '{"path": "/", "data": {"flags": {"SECRETPAYLOAD": {}}'), id="truncated-put"),
    pytest.param(sse("put", {"path": "/", "data": {"flags": {"SECRETPAYLOAD": flag("x", 1)}}}), id="put-no-segments"),
    pytest.param(sse("put", {"path": "/", "data": {"segments": {}, "SECRETPAYLOAD": 1}}), id="put-no-flags"),
    pytest.param(sse("put", {"path": "/", "data": {"flags": [], "segments": {}, "SECRETPAYLOAD": 1}}),
                 id="put-flags-not-object"),
    pytest.param(sse("put", '{"data": {"flags": {}, "segments": {}}} "SECRETPAYLOAD"'), id="put-extra-data"),
    pytest.param(sse("put", {"SECRETPAYLOAD": 1}), id="put-no-data"),
    pytest.param(sse("patch", "{SECRETPAYLOAD"), id="patch-bad-json"),
    pytest.param(sse("patch", {"path": "/flags/a", "data": "SECRETPAYLOAD"}), id="patch-data-not-object"),
    pytest.param(sse("patch", {"path": "/flags/a", "data": {"key": "a", "SECRETPAYLOAD": 1}}), id="patch-no-version"),
    pytest.param(sse("patch", {"data": flag("a", 9, SECRETPAYLOAD=1)}), id="patch-no-path"),
    pytest.param(sse("delete", {"path": "/flags/a", "version": "9", "x": "SECRETPAYLOAD"}), id="delete-bad-version"),
    pytest.param(sse("delete", '["SECRETPAYLOAD"]'), id="delete-not-object"),
    # the contract's "well-formed JSON not matching schema" for a known kind
    pytest.param(sse("patch", {"path": "/flags/x", "data": True, "x": "SECRETPAYLOAD"}), id="patch-data-true"),
    pytest.param(sse("patch", {"path": "/flags/x", "data": {}, "x": "SECRETPAYLOAD"}), id="patch-empty-item"),
    pytest.param(sse("patch", {"path": "/segments/x", "data": {"key": "x", "version": 1.0, "SECRETPAYLOAD": 1}}),
                 id="patch-float-version"),
    pytest.param(sse("delete", {"path": "/segments/x", "version": None, "x": "SECRETPAYLOAD"}), id="delete-null-version"),
    # what every message needs, whatever its path (as the official SDK: path, and data or version)
    pytest.param(sse("patch", {"path": 7, "data": flag("a", 9, SECRETPAYLOAD=1)}), id="patch-path-not-string"),
    pytest.param(sse("patch", {"path": "/cats/x", "data": "SECRETPAYLOAD"}), id="patch-unknown-kind-data-not-object"),
    pytest.param(sse("patch", {"path": "/cats/x", "SECRETPAYLOAD": 1}), id="patch-unknown-kind-no-data"),
    pytest.param(sse("delete", {"path": "/cats/x", "SECRETPAYLOAD": 1}), id="delete-unknown-kind-no-version"),
    pytest.param(sse("delete", {"version": 3, "SECRETPAYLOAD": 1}), id="delete-no-path"),
]


@pytest.mark.parametrize("message", BAD_MESSAGES)
def test_malformed_message_reconnects_and_leaves_the_store_unchanged(message, caplog):
    h = Harness()
    r = h.connect_with_put([flag("a", 1)], [segment("s", 1)])
    before = (h.store.all(FEATURES), h.store.all(SEGMENTS))
    with caplog.at_level(logging.DEBUG):
        r.push(message + patch("flags", flag("a", 5)))  # the event after the bad one is discarded
        h.clock.advance(0)
    assert (h.store.all(FEATURES), h.store.all(SEGMENTS)) == before
    assert r.aborted
    assert h.status.status.state is ST.INTERRUPTED
    assert h.status.status.error.kind is ERR.INVALID_DATA and h.status.status.error.status_code == 0
    text = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "SECRETPAYLOAD" not in text and SDK_KEY not in text
    assert any(rec.levelno == logging.ERROR for rec in caplog.records)
    h.clock.advance(h.reconnect_delay())
    assert len(h.requests) == 2
    h.connect_with_put([flag("b", 1)])
    assert list(h.store.all(FEATURES)) == ["b"] and h.status.status.state is ST.VALID


def test_malformed_first_put_keeps_initializing_with_the_error():
    h = Harness()
    r = h.respond()
    r.push(sse("put", "not json"))
    h.clock.advance(0)
    assert not h.store.initialized and not h.source.initialized() and h.inits == []
    assert h.status.status.state is ST.INITIALIZING and h.status.status.error.kind is ERR.INVALID_DATA
    assert len(h.statuses) == 1 and r.aborted


def test_store_error_reconnects_with_store_error_status():
    class FailingStore(InMemoryFeatureStore):
        def upsert(self, kind, item):
            raise RuntimeError("disk full")

    h = Harness(store=FailingStore())
    r = h.connect_with_put([flag("a", 1)])
    r.push(patch("flags", flag("a", 2)))
    assert r.aborted
    err = h.status.status.error
    assert h.status.status.state is ST.INTERRUPTED and err.kind is ERR.STORE_ERROR and "disk full" in err.message
    h.clock.advance(h.reconnect_delay())
    assert len(h.requests) == 2


def test_json_is_decoded_like_the_official_sdk():
    # json.loads accepts NaN and integers beyond 64 bits; the official SDK stores such items.
    h = Harness()
    r = h.respond()
    big = 2 ** 70
    r.push(sse("put", '{"path":"/","data":{"flags":{"a":{"key":"a","version":1,"variations":[NaN,%d]}},'
                      '"segments":{}}}' % big))
    h.clock.advance(0)
    variations = h.store.get(FEATURES, "a")["variations"]
    assert math.isnan(variations[0]) and variations[1] == big


# -- HTTP errors and network failures -------------------------------------------------------------

@pytest.mark.parametrize("code", [401, 403, 404, 405, 418])
def test_unrecoverable_status_stops_for_good(code, caplog):
    h = Harness()
    with caplog.at_level(logging.ERROR, logger="ldfast.datasource.streaming"):
        r = h.respond(code=code)
    assert r.aborted  # the error body is not read
    status = h.status.status
    assert status.state is ST.OFF
    assert status.error.kind is ERR.ERROR_RESPONSE and status.error.status_code == code
    assert h.failures == [status.error] and h.inits == []
    errors = [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert len(errors) == 1 and ("invalid SDK key" in errors[0]) == (code in (401, 403))
    assert "giving up permanently" in errors[0]
    h.clock.advance(24 * 3600)
    assert len(h.requests) == 1 and h.pending_calls() == []
    assert not h.source.initialized() and not h.source.is_alive()
    d = h.source.stop()
    assert d.called and h.status.status == status and len(h.statuses) == 1


def test_unrecoverable_status_after_initialization_also_stops():
    h = Harness()
    r = h.connect_with_put([flag("a", 1)])
    r.end()
    h.clock.advance(h.reconnect_delay())
    h.respond(code=401)
    assert h.status.status.state is ST.OFF and not h.source.initialized()
    assert h.store.get(FEATURES, "a")["version"] == 1  # the data already stored stays


@pytest.mark.parametrize("code", [400, 408, 429, 500, 502, 503, 204])
def test_recoverable_status_is_retried_with_backoff(code):
    h = Harness()
    r = h.respond(code=code)
    assert r.aborted
    status = h.status.status
    assert status.state is ST.INITIALIZING  # INTERRUPTED while initializing stays INITIALIZING
    assert status.error.kind is ERR.ERROR_RESPONSE and status.error.status_code == code
    assert h.failures == []
    assert h.reconnect_delay() == pytest.approx(0.75)
    h.clock.advance(0.75)
    assert len(h.requests) == 2
    h.connect_with_put([flag("a", 1)])
    assert h.status.status.state is ST.VALID and h.status.status.error.status_code == code


def test_error_after_initialization_reports_interrupted_then_valid():
    h = Harness()
    r = h.connect_with_put([flag("a", 1)])
    h.clock.advance(10)
    r.end()
    assert h.status.status.state is ST.INTERRUPTED and h.status.status.since == 10
    assert h.status.status.error.kind is ERR.NETWORK_ERROR
    h.clock.advance(h.reconnect_delay())
    h.respond(code=503)
    assert h.status.status.state is ST.INTERRUPTED and h.status.status.error.status_code == 503
    assert h.status.status.since == 10  # the state did not change
    h.clock.advance(h.reconnect_delay())
    h.connect_with_put([flag("a", 2)])
    assert h.states() == [ST.VALID, ST.INTERRUPTED, ST.INTERRUPTED, ST.VALID]
    assert h.source.initialized()


@pytest.mark.parametrize("content_type", [b"text/html", b"application/json", None])
def test_wrong_content_type_reconnects(content_type):
    h = Harness()
    r = h.respond(content_type=content_type)
    assert r.aborted and h.status.status.error.kind is ERR.UNKNOWN
    h.clock.advance(h.reconnect_delay())
    assert len(h.requests) == 2


def test_network_error_reconnects():
    h = Harness()
    h.requests[0].deferred.errback(ConnectionRefusedError("refused"))
    assert h.status.status.error.kind is ERR.NETWORK_ERROR
    h.clock.advance(h.reconnect_delay())
    assert len(h.requests) == 2


def test_stream_failure_mid_body_reconnects():
    h = Harness()
    r = h.connect_with_put([flag("a", 1)])
    r.push(b"event: patch\ndata: {\"pa")  # a partial event is discarded with the connection
    r.lose(Failure(ResponseFailed([Failure(ConnectionLost("reset"))])))
    err = h.status.status.error
    assert h.status.status.state is ST.INTERRUPTED and err.kind is ERR.NETWORK_ERROR and "reset" in err.message
    h.clock.advance(h.reconnect_delay())
    assert len(h.requests) == 2 and h.store.get(FEATURES, "a")["version"] == 1


def test_client_raising_synchronously_is_a_network_error():
    class Broken(FakeClient):
        def get(self, url, headers=None, **kwargs):
            raise ValueError("bad url")

    h = Harness(start=False)
    h.source._http = Broken()
    h.source.start()
    assert h.status.status.error.kind is ERR.NETWORK_ERROR and "bad url" in h.status.status.error.message
    assert len(h.pending_calls()) == 1


def test_connect_and_read_timeout_cancel_the_request_and_reconnect():
    """No response headers within connect_timeout + read_timeout: given up, then a reconnect."""
    h = Harness(Config(SDK_KEY, http=HTTPConfig(connect_timeout=4, read_timeout=2)))
    h.clock.advance(5.9)
    assert not h.requests[0].cancelled
    h.clock.advance(0.1)
    assert h.requests[0].cancelled
    assert h.status.status.error.kind is ERR.NETWORK_ERROR and "6" in h.status.status.error.message
    h.clock.advance(h.reconnect_delay())
    assert len(h.requests) == 2


def test_read_timeout_after_300s_without_bytes_heartbeats_count():
    h = Harness()
    r = h.connect_with_put([flag("a", 1)])
    h.clock.advance(READ_TIMEOUT - 1)
    r.push(b":\n")  # a heartbeat comment
    h.clock.advance(READ_TIMEOUT - 1)
    assert not r.aborted and len(h.requests) == 1
    h.clock.advance(1)
    assert r.aborted
    assert h.status.status.state is ST.INTERRUPTED and h.status.status.error.kind is ERR.NETWORK_ERROR
    h.clock.advance(0)  # the transport reports the close: nothing more happens
    h.clock.advance(h.reconnect_delay())
    assert len(h.requests) == 2


def test_read_timeout_counts_from_the_response_headers():
    h = Harness()
    r = h.respond()
    h.clock.advance(READ_TIMEOUT)
    assert r.aborted and h.status.status.state is ST.INITIALIZING
    assert h.status.status.error.kind is ERR.NETWORK_ERROR


def test_retry_field_is_ignored():
    h = Harness()
    r = h.connect_with_put([flag("a", 1)])
    r.push(b"retry: 60000\n\n")
    r.end()
    assert h.reconnect_delay() == pytest.approx(0.75)


# -- backoff timing -------------------------------------------------------------------------------

def test_backoff_doubles_to_30s_with_exact_jitter():
    h = Harness(random=lambda: 0.5)
    expected = [0.75, 1.5, 3, 6, 12, 22.5, 22.5, 22.5]  # base - 0.5 * 0.5 * base, base capped at 30
    for i, delay in enumerate(expected):
        h.respond(code=503)
        assert h.reconnect_delay() == pytest.approx(delay, abs=1e-9)
        h.clock.advance(delay * 0.999)
        assert len(h.requests) == i + 1
        h.clock.advance(delay * 0.001 + 1e-9)
        assert len(h.requests) == i + 2


@pytest.mark.parametrize("r,expected", [(0.0, 1.0), (0.999, 0.5005)])
def test_jitter_bounds(r, expected):
    h = Harness(random=lambda: r)
    h.respond(code=500)
    assert h.reconnect_delay() == pytest.approx(expected)


def test_backoff_uses_initial_reconnect_delay():
    h = Harness(Config(SDK_KEY, initial_reconnect_delay=2), random=lambda: 0.0)
    h.respond(code=500)
    assert h.reconnect_delay() == pytest.approx(2)
    h.clock.advance(2)
    h.respond(code=500)
    assert h.reconnect_delay() == pytest.approx(4)


@pytest.mark.parametrize("healthy_for,expected", [(60, 0.75), (59, 6)])
def test_backoff_resets_after_60s_of_healthy_stream(healthy_for, expected):
    h = Harness()
    for _ in range(3):  # delays 0.75, 1.5, 3
        h.respond(code=503)
        h.clock.advance(h.reconnect_delay())
    r = h.connect_with_put([flag("a", 1)])
    h.clock.advance(healthy_for)
    r.end()
    assert h.reconnect_delay() == pytest.approx(expected)


def test_stream_closed_by_server_backs_off():
    h = Harness()
    r = h.connect_with_put([flag("a", 1)])
    r.end()
    assert h.reconnect_delay() == pytest.approx(0.75)
    assert h.status.status.error.message == "the server closed the stream connection"


def test_extended_backoff_when_not_stopping_on_unrecoverable():
    h = Harness(stop_on_unrecoverable=False)
    h.respond(code=401)
    assert h.status.status.state is ST.INITIALIZING and h.status.status.error.status_code == 401
    assert h.reconnect_delay() == pytest.approx(225)  # 5 minutes less the jitter
    h.clock.advance(225)
    h.respond(code=503)  # a normal failure does not lower the raised bounds
    assert h.reconnect_delay() == pytest.approx(450)
    assert h.failures == []


# -- stop -----------------------------------------------------------------------------------------

def test_stop_while_connecting_cancels_the_request():
    h = Harness()
    d = h.source.stop()
    assert d.called and d.result is None
    assert h.requests[0].cancelled
    assert h.status.status.state is ST.OFF and h.status.status.error is None
    assert h.pending_calls() == []
    h.clock.advance(3600)
    assert len(h.requests) == 1


def test_stop_while_streaming_closes_and_waits_for_the_connection():
    h = Harness()
    r = h.connect_with_put([flag("a", 1)])
    assert h.source.initialized()
    d = h.source.stop()
    assert r.aborted and not d.called
    assert not h.source.initialized()
    h.clock.advance(0)  # the connection reports it is closed
    assert d.called and d.result is None
    assert h.states() == [ST.VALID, ST.OFF]
    assert h.pending_calls() == [] and len(h.requests) == 1
    d2 = h.source.stop()  # idempotent
    assert d2.called and r.transport.stopped == 1 and h.states() == [ST.VALID, ST.OFF]


def test_stop_never_hangs_on_a_connection_that_does_not_close():
    h = Harness()
    r = h.respond(on_stop="never")
    d = h.source.stop()
    d2 = h.source.stop()
    assert r.aborted and not d.called and not d2.called
    h.clock.advance(STOP_TIMEOUT)
    assert d.called and d2.called and h.pending_calls() == []


def test_stop_during_backoff_cancels_the_reconnect():
    h = Harness()
    h.respond(code=500)
    h.clock.advance(0)  # the unread error response reports its close
    assert len(h.pending_calls()) == 1
    d = h.source.stop()
    assert d.called and h.pending_calls() == []
    h.clock.advance(60)
    assert len(h.requests) == 1


def test_stop_during_put_decoding_leaves_the_store_alone():
    coop = ManualCooperator()
    h = Harness(cooperator=coop)
    r = h.respond()
    r.push(put([flag("a", 1), flag("b", 1), flag("c", 1)]), patch("flags", flag("a", 2)))
    coop.step()
    d = h.source.stop()
    h.clock.advance(0)
    coop.run()
    assert d.called and not h.store.initialized and h.store.all(FEATURES) == {}
    assert h.inits == [] and h.status.status.state is ST.OFF


def test_events_after_stop_are_ignored():
    h = Harness()
    r = h.connect_with_put([flag("a", 1)])
    r.on_stop = "never"
    h.source.stop()
    r.push(patch("flags", flag("a", 2)))
    assert h.store.get(FEATURES, "a")["version"] == 1


def test_start_is_idempotent_and_start_after_stop_does_nothing():
    h = Harness()
    h.source.start()
    assert len(h.requests) == 1
    h2 = Harness(start=False)
    h2.source.stop()
    h2.source.start()
    assert h2.requests == [] and h2.status.status.state is ST.OFF


def test_callback_errors_are_logged_not_raised(caplog):
    h = Harness(start=False)

    def boom(*args):
        raise RuntimeError("callback bug")

    h.source._on_initialized = boom
    h.status.add_listener(boom)
    h.source.start()
    with caplog.at_level(logging.ERROR):
        h.connect_with_put([flag("a", 1)])
    assert h.source.initialized() and h.states() == [ST.VALID]
    logged = [rec for rec in caplog.records if rec.exc_info and rec.exc_info[1].args == ("callback bug",)]
    assert len(logged) == 2  # the listener's and on_initialized's


def test_freeze_gc_restores_the_collector():
    assert gc.isenabled()
    try:
        coop = ManualCooperator()
        h = Harness(cooperator=coop, freeze_gc=True)
        r = h.respond()
        r.push(put([flag("a", 1), flag("b", 1)]))
        coop.step()
        assert not gc.isenabled()  # paused while the put is decoded
        coop.run()
        assert gc.isenabled() and h.store.initialized and gc.get_freeze_count() > 0
        gc.unfreeze()
        r.push(put([flag("a", 1)]))  # and stopping half-way re-enables it too
        coop.step()
        assert not gc.isenabled()
        h.source.stop()
        assert gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()
        gc.unfreeze()


# -- status provider ------------------------------------------------------------------------------

def test_status_provider_transition_rules(caplog):
    now = [100.0]
    p = DataSourceStatusProvider(now=lambda: now[0])
    seen = []
    p.add_listener(seen.append)
    assert p.status == DataSourceStatus(ST.INITIALIZING, 100.0, None)
    err = DataSourceErrorInfo(ERR.NETWORK_ERROR, 0, 101.0, "x")
    now[0] = 101.0
    p.update_status(ST.INTERRUPTED, err)
    assert p.status == DataSourceStatus(ST.INITIALIZING, 100.0, err) and len(seen) == 1
    p.update_status(ST.INTERRUPTED, None)  # no change: no notification
    p.update_status(ST.INITIALIZING, None)
    assert len(seen) == 1
    now[0] = 102.0
    p.update_status(ST.VALID, None)
    assert p.status == DataSourceStatus(ST.VALID, 102.0, err)  # the last error is kept
    now[0] = 103.0
    err2 = DataSourceErrorInfo(ERR.ERROR_RESPONSE, 503, 103.0, "y")
    p.update_status(ST.INTERRUPTED, err2)
    p.update_status(ST.INTERRUPTED, err2)  # a new error report notifies even in the same state
    assert p.status == DataSourceStatus(ST.INTERRUPTED, 103.0, err2) and len(seen) == 4
    p.remove_listener(seen.append)
    p.remove_listener(seen.append)  # not registered: ignored
    p.update_status(ST.OFF, None)
    assert len(seen) == 4 and p.status.state is ST.OFF
    p.update_status(ST.VALID, None)  # OFF is final
    assert p.status.state is ST.OFF


def test_status_listener_exception_is_logged_and_others_still_run(caplog):
    p = DataSourceStatusProvider()
    seen = []

    def bad(status):
        raise RuntimeError("listener bug")

    p.add_listener(bad)
    p.add_listener(seen.append)
    with caplog.at_level(logging.ERROR, logger="ldfast.datasource.status"):
        p.update_status(ST.VALID, None)
    assert [s.state for s in seen] == [ST.VALID]
    assert len(caplog.records) == 1 and caplog.records[0].exc_info[1].args == ("listener bug",)


def test_enum_values_match_the_official_names():
    import ldclient.interfaces as official

    assert {s.name: s.value for s in DataSourceState} == {s.name: s.value for s in official.DataSourceState}
    assert {k.name: k.value for k in DataSourceErrorKind} == {k.name: k.value for k in official.DataSourceErrorKind}


# -- backoff unit -----------------------------------------------------------------------------------

def test_backoff_unit_sequence_cap_and_reset():
    now = [0.0]
    b = Backoff(1, clock=lambda: now[0], random=lambda: 0.0)
    assert [b.record_failure() for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    b.record_success()
    now[0] = 59.0
    b.record_success()  # does not move the start of the healthy stretch
    now[0] = 60.0
    assert b.record_failure() == 1
    assert b.record_failure() == 2


def test_backoff_initial_above_ceiling_and_invalid(caplog):
    b = Backoff(45, clock=lambda: 0.0, random=lambda: 0.0)
    assert [b.record_failure() for _ in range(3)] == [45, 45, 45]
    with caplog.at_level(logging.WARNING, logger="ldfast.datasource.backoff"):
        b0 = Backoff(0, clock=lambda: 0.0, random=lambda: 0.0)
    assert b0.initial_delay == 1.0 and len(caplog.records) == 1


def test_backoff_extended_regime():
    now = [0.0]
    b = Backoff(1, clock=lambda: now[0], random=lambda: 0.0)
    assert b.record_failure() == 1
    assert b.record_failure(unexpected=True) == 300 and b.extended
    assert [b.record_failure(unexpected=True) for _ in range(5)] == [600, 1200, 2400, 3600, 3600]
    b.record_success()
    now[0] = 60.0
    assert b.record_failure() == 1 and not b.extended


# -- put decoder ----------------------------------------------------------------------------------

def decode_put(text):
    flags, segments = {}, {}
    for _ in put_items(text, flags, segments, lambda x: x, lambda x: x):
        pass
    return flags, segments


def test_put_decoder_matches_json_loads_on_valid_payloads():
    text = ' \n{ "data" : { "segments" : {"s": {"k": [1, 2]}}, "other": [1, {"flags": 1}], ' \
           '"flags" : {"a" : {"key": "a", "x": "}{\\"\\u00e9"}, "b": {}} } , "path": "/"} \r\n'
    loaded = json.loads(text)["data"]
    assert decode_put(text) == (loaded["flags"], loaded["segments"])


def test_put_decoder_keep_text_gives_each_items_own_json_text():
    text = ' {"data": {"flags": {"a": {"key": "a", "x": [1, "]}"]} , "b":{}}, "segments": {"s": 2.5}}}'
    seen = []
    flags, segments = {}, {}
    for _ in put_items(text, flags, segments, lambda v, t: seen.append((v, t)) or ("f", t),
                       lambda v, t: ("s", t), keep_text=True):
        pass
    assert flags == {"a": ("f", '{"key": "a", "x": [1, "]}"]}'), "b": ("f", "{}")} and segments == {"s": ("s", "2.5")}
    assert all(json.loads(t) == v for v, t in seen)


def test_a_streamed_put_keeps_item_text_and_store_reads_it_back():
    h = Harness()
    a = flag("a", 3, rules=[{"id": "r", "clauses": [{"attribute": "k", "op": "in", "values": ["x", 1]}],
                             "variation": 0}])
    h.connect_with_put([a], [segment("s", 1)])
    assert h.store._flags["a"].raw_json is not None and json.loads(h.store._flags["a"].raw_json) == a
    assert h.store.get(FEATURES, "a") == a and h.store.all(SEGMENTS) == {"s": segment("s", 1)}


def test_change_listeners_fire_for_streamed_puts_and_patches_with_dependents():
    h = Harness()
    seen = []
    h.store.add_change_listener(lambda keys: seen.append(sorted(keys)))
    a = flag("a", 1, prerequisites=[{"key": "b", "variation": 0}])
    bad = {"key": "bad", "version": 1, "prerequisites": [{"key": "b", "variation": 0}], "rules": "x"}
    r = h.connect_with_put([bad, a, flag("b", 1), flag("c", 1)])
    assert seen == [["a", "b", "bad", "c"]]
    assert list(h.store._flags) == ["b", "bad", "a", "c"]  # prerequisites first, a malformed flag's too
    seen.clear()
    r.push(put([bad, a, flag("b", 2), flag("c", 1)]))
    h.clock.advance(0)
    assert seen == [["a", "b"]]
    seen.clear()
    r.push(patch("flags", flag("b", 3)))
    assert seen == [["a", "b"]] and h.store.get(FEATURES, "b")["version"] == 3


def test_put_decoder_last_duplicate_wins_like_json_loads():
    text = '{"data": {"flags": {"a": {"v": 1}}, "segments": {}, "flags": {"b": {"v": 2}}}}'
    assert decode_put(text) == ({"b": {"v": 2}}, {})
    text = '{"data": {"flags": {}, "segments": {}}, "data": {"flags": {"c": {}}, "segments": {}}}'
    assert decode_put(text) == ({"c": {}}, {})


@pytest.mark.parametrize("text", ["", "[]", "{", '{"data": 1}', '{"data": {"flags": {}}}', '{"data": {"flags": {},'
                                  ' "segments": []}}', '{"data": {"flags": {}, "segments": {}}} x',
                                  '{"data": {"flags": {"a": }, "segments": {}}}', '{"data": {"flags": {"a\x01": {}},'
                                  ' "segments": {}}}', '{"data": {"flags": {"a": {}} "segments": {}}}',
                                  '{"data": {"flags": {}, "segments": {}}, "data": []}', "\ufeff{}"])
def test_put_decoder_rejects_what_the_official_sdk_rejects(text):
    with pytest.raises(InvalidData):
        decode_put(text)
    try:
        loaded = json.loads(text)
        loaded["data"]["flags"].items()
        loaded["data"]["segments"].items()
    except Exception:
        pass
    else:  # pragma: no cover - the official SDK would accept it, so must we
        pytest.fail("json.loads accepts %r" % text)


# -- through real treq and Twisted's HTTP/1.1 client parser ------------------------------------------

class StringTransportAgent:
    """An IAgent whose connections are Twisted's real HTTP/1.1 client protocol over StringTransports."""

    def __init__(self):
        self.connections = []

    def request(self, method, uri, headers=None, bodyProducer=None):
        from twisted.internet.testing import StringTransport
        from twisted.web._newclient import HTTP11ClientProtocol, Request
        from twisted.web.client import URI

        transport = StringTransport()
        protocol = HTTP11ClientProtocol()
        protocol.makeConnection(transport)
        parsed = URI.fromBytes(uri)
        headers = headers.copy() if headers is not None else Headers()
        headers.setRawHeaders(b"host", [parsed.host])
        self.connections.append((transport, protocol))
        return protocol.request(Request._construct(method, parsed.originForm, headers, bodyProducer,
                                                   persistent=False, parsedURI=parsed))


def chunked(*parts):
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts)


def test_real_treq_client_streams_chunked_sse_and_stop_closes_the_socket():
    from treq.client import HTTPClient

    agent = StringTransportAgent()
    h = Harness(start=False)
    h.source._http = HTTPClient(agent)
    h.source.start()
    transport, protocol = agent.connections[0]
    request = transport.value()
    assert request.startswith(b"GET /all HTTP/1.1\r\n")
    assert b"\r\nAuthorization: " + SDK_KEY.encode() + b"\r\n" in request
    assert b"\r\nAccept: text/event-stream\r\n" in request
    body = put([flag("a", 1)]) + b":heartbeat\n" + patch("flags", flag("a", 2))
    protocol.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n")
    protocol.dataReceived(chunked(body[:10], body[10:50]))
    protocol.dataReceived(chunked(body[50:]))
    h.clock.advance(0)
    assert h.store.get(FEATURES, "a")["version"] == 2 and h.source.initialized()
    d = h.source.stop()
    assert transport.producerState == "stopped"  # the socket is told to close
    assert not d.called
    protocol.connectionLost(Failure(ConnectionAborted()))
    assert d.called and h.pending_calls() == []


def test_real_treq_client_error_status_and_server_close():
    from treq.client import HTTPClient

    agent = StringTransportAgent()
    h = Harness(start=False)
    h.source._http = HTTPClient(agent)
    h.source.start()
    transport, protocol = agent.connections[0]
    protocol.dataReceived(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\n")
    assert h.status.status.error.status_code == 503
    protocol.dataReceived(b"oops!")
    h.clock.advance(h.reconnect_delay())
    transport, protocol = agent.connections[1]
    protocol.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n\r\n"
                          % len(put()) + put())  # a complete body: the server ended the stream
    h.clock.advance(0)
    assert h.source.initialized()
    assert h.status.status.state is ST.INTERRUPTED
    assert h.status.status.error.message == "the server closed the stream connection"
    h.clock.advance(h.reconnect_delay())
    assert len(agent.connections) == 3
    h.source.stop()


def test_polling_body_decoder():
    flags, segments = {}, {}
    steps = list(all_data_items(' {"segments": {"s": {"v": 1}}, "flags": {"a": {}, "b": {"x": [1]}}} ',
                                flags, segments, lambda x: ("F", x), lambda x: ("S", x)))
    assert len(steps) == 3
    assert flags == {"a": ("F", {}), "b": ("F", {"x": [1]})} and segments == {"s": ("S", {"v": 1})}
    for bad in ['{"flags": {}}', '{"flags": {}, "segments": {}} []', '{"data": {"flags": {}, "segments": {}}}']:
        with pytest.raises(InvalidData):
            list(all_data_items(bad, {}, {}, lambda x: x, lambda x: x))


def test_default_http_client_passes_our_reactor_to_treq():
    from treq.client import HTTPClient

    clock = MemoryReactorClock()
    source = StreamingDataSource(Config(SDK_KEY), InMemoryFeatureStore(), reactor=clock)
    client = source._http
    assert isinstance(client._client, HTTPClient)

    class Spy:
        def __init__(self):
            self.calls = []

        def get(self, url, **kwargs):
            self.calls.append(kwargs)
            return Deferred()

    client._client = spy = Spy()
    source.start()
    assert [(kw["unbuffered"], kw["reactor"]) for kw in spy.calls] == [(True, clock)]
    source.stop()


def test_default_client_times_tls_with_our_reactor_not_the_global_one():
    # Twisted's Agent wraps TLS without a clock, so TLS schedules its writes on the global reactor,
    # which never runs beside a private reactor: the handshake would hang.
    from twisted.internet.protocol import Factory
    from twisted.web.client import URI

    clock = MemoryReactorClock()
    agent = StreamingDataSource(Config(SDK_KEY), InMemoryFeatureStore(), reactor=clock)._http._client._agent
    factory = agent._direct_endpoints
    tls = factory.endpointForURI(URI.fromBytes(b"https://stream.example.com/all"))
    assert tls._wrapperFactory(Factory())._clock is clock


class _FakePolicy:
    def creatorForNetloc(self, host, port):
        from twisted.internet import ssl

        return ssl.optionsForClientTLS(host.decode())


# -- reactor health around a large put ------------------------------------------------------------

def test_without_gc_pass_pauses_the_collector_only_for_the_step():
    from ldfast.datasource._payload import without_gc_pass

    seen = []
    assert gc.isenabled()
    assert without_gc_pass(lambda x: seen.append(gc.isenabled()) or x, 5) == 5
    assert seen == [False] and gc.isenabled()
    with pytest.raises(ZeroDivisionError):
        without_gc_pass(lambda: 1 / 0)
    assert gc.isenabled()  # back on after a failing step too
    gc.disable()
    try:
        without_gc_pass(lambda: seen.append(gc.isenabled()))
        assert seen[-1] is False and not gc.isenabled()  # an application's "off" is left alone
    finally:
        gc.enable()


def test_slice_cooperator_runs_short_slices_on_the_given_reactor():
    from ldfast.datasource._payload import SLICE_SECONDS, slice_cooperator

    clock = MemoryReactorClock()
    coop = slice_cooperator(clock)
    state = []

    def steps():
        for i in range(3):
            state.append(gc.isenabled())
            time.sleep(SLICE_SECONDS)  # each step uses up a whole slice
            yield None

    done = []
    coop.cooperate(steps()).whenDone().addCallback(done.append)
    for _ in range(5):
        clock.advance(0)
    assert done and state == [False, False, False] and gc.isenabled()
    assert not clock.getDelayedCalls()


def test_importing_ldfast_twisted_loads_what_a_client_needs(tmp_path):
    # A TwistedLDClient is built in a reactor callback: its constructor must not import modules
    # (~45 ms on the reactor the first time); importing ldfast.twisted must not install a reactor.
    import subprocess

    script = (
        "import sys\n"
        "import ldfast, ldfast.twisted\n"
        "assert 'twisted.internet.reactor' not in sys.modules\n"
        "from twisted.internet.testing import MemoryReactorClock\n"
        "before = set(sys.modules)\n"
        "c = ldfast.twisted.TwistedLDClient('sdk-key', ldfast.Config('sdk-key', stream_uri='http://127.0.0.1:9',"
        " events_uri='http://127.0.0.1:9', diagnostic_opt_out=True), reactor=MemoryReactorClock())\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
