"""Event delivery (ldfast.events.delivery): headers, one retry after 1 s, disabling, Date, timeouts.

A fake treq-style client on a MemoryReactorClock: every request waits until the test answers it.
"""
import gzip
import logging
import uuid

import orjson
import pytest
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.client import ResponseDone
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer

from ldfast.config import Config, HTTPConfig
from ldfast._headers import event_headers
from ldfast.events.delivery import RETRY_DELAY, EventSender, is_recoverable
from ldfast.version import VERSION

SDK_KEY = "sdk-secret-key-123"
BODY = b'[{"kind":"identify","creationDate":1,"context":{"key":"a","kind":"user"}}]'
SERVER_DATE = "Tue, 25 Nov 2025 10:00:00 GMT"
SERVER_DATE_MS = 1764064800000


# -- fakes ----------------------------------------------------------------------------------------

class FakeResponse:
    """An IResponse with an empty body."""

    def __init__(self, code, headers=None):
        self.code = code
        self.headers = Headers({k: [v] for k, v in (headers or {}).items()})
        self.length = 0

    def deliverBody(self, protocol):
        protocol.connectionLost(Failure(ResponseDone()))


class FakeRequest:
    def __init__(self, method, url, headers, data, kwargs):
        self.method = method
        self.url = url
        self.headers = headers
        self.producer = data
        self.data = _produce(data)
        self.kwargs = kwargs
        self.cancelled = False
        self.deferred = Deferred(self._cancel)

    def _cancel(self, d):
        self.cancelled = True

    def respond(self, code, headers=None):
        self.deferred.callback(FakeResponse(code, headers))

    def fail(self, exc):
        self.deferred.errback(Failure(exc))

    @property
    def json(self):
        return orjson.loads(self.data)


def _produce(producer):
    """What an IBodyProducer writes (synchronously, as a request body should be for us)."""
    assert IBodyProducer.providedBy(producer), "bytes would be written by the global reactor's cooperator"
    written = []

    class Consumer:
        def write(self, data):
            written.append(data)

    done = producer.startProducing(Consumer())
    assert done.called
    body = b"".join(written)
    assert len(body) == producer.length
    return body


class FakeHTTP:
    """The treq surface used: request(method, url, headers=, data=, allow_redirects=, reactor=)."""

    def __init__(self):
        self.requests = []

    def request(self, method, url, headers=None, data=None, **kwargs):
        req = FakeRequest(method, url, headers, data, kwargs)
        self.requests.append(req)
        return req.deferred


class Harness:
    def __init__(self, config=None):
        self.clock = MemoryReactorClock()
        self.http = FakeHTTP()
        self.config = config or Config(SDK_KEY)
        self.sender = EventSender(self.config, reactor=self.clock, http_client=self.http)

    @property
    def requests(self):
        return self.http.requests


_trial = SynchronousTestCase()


def result_of(d):
    """The result a Deferred has now (trial's successResultOf: fails if none or if it failed)."""
    return _trial.successResultOf(d)


def assert_no_result(d):
    _trial.assertNoResult(d)


# -- headers and body -----------------------------------------------------------------------------

def test_bulk_post_headers_body_and_options():
    h = Harness(Config(SDK_KEY, events_uri="https://events.example.com/", wrapper_name="Flask",
                       wrapper_version="2.1", application={"id": "my-app", "version": "1.0.0"}))
    d = h.sender.send_events(BODY, 1)
    [req] = h.requests
    assert req.method == "POST"
    assert req.url == "https://events.example.com/bulk"
    assert req.data == BODY
    assert req.kwargs["reactor"] is h.clock  # never treq's global reactor
    assert req.kwargs["allow_redirects"] is False
    assert "timeout" not in req.kwargs
    headers = dict(req.headers)
    payload_id = headers.pop("X-LaunchDarkly-Payload-ID")
    assert uuid.UUID(payload_id).version == 4
    assert headers == {
        "Authorization": SDK_KEY,
        "User-Agent": "PythonClient/" + VERSION,
        "Content-Type": "application/json",
        "X-LaunchDarkly-Event-Schema": "4",
        "X-LaunchDarkly-Wrapper": "Flask/2.1",
        "X-LaunchDarkly-Tags": "application-id/my-app application-version/1.0.0",
    }
    req.respond(202)
    assert result_of(d) is True


def test_each_payload_has_its_own_id():
    h = Harness()
    h.sender.send_events(BODY, 1)
    h.sender.send_events(BODY, 1)
    ids = {r.headers["X-LaunchDarkly-Payload-ID"] for r in h.requests}
    assert len(ids) == 2


def test_diagnostic_post_has_no_schema_or_payload_id():
    h = Harness(Config(SDK_KEY, events_uri="http://localhost:9999"))
    d = h.sender.send_diagnostic(b'{"kind":"diagnostic"}')
    [req] = h.requests
    assert req.url == "http://localhost:9999/diagnostic"
    assert req.headers == {"Authorization": SDK_KEY, "User-Agent": "PythonClient/" + VERSION,
                           "Content-Type": "application/json"}
    req.respond(202)
    assert result_of(d) is True


def test_gzip_only_with_enable_event_compression():
    assert "Content-Encoding" not in event_headers(Config(SDK_KEY))
    h = Harness(Config(SDK_KEY, enable_event_compression=True))
    h.sender.send_events(BODY, 1)
    [req] = h.requests
    assert req.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(req.data) == BODY


# -- outcomes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [200, 202, 204, 299])
def test_2xx_is_success_and_the_server_date_is_kept(code):
    h = Harness()
    assert h.sender.last_known_past_time == 0
    d = h.sender.send_events(BODY, 1)
    h.requests[0].respond(code, {"date": SERVER_DATE})
    assert result_of(d) is True
    assert h.sender.last_known_past_time == SERVER_DATE_MS
    assert len(h.requests) == 1


def test_an_unparsable_or_missing_date_is_ignored():
    h = Harness()
    h.sender.send_events(BODY, 1)
    h.requests[0].respond(202, {"date": SERVER_DATE})
    h.sender.send_events(BODY, 1)
    h.requests[1].respond(202, {"date": "yesterday-ish"})
    h.sender.send_events(BODY, 1)
    h.requests[2].respond(202)
    assert h.sender.last_known_past_time == SERVER_DATE_MS


def test_the_date_of_a_diagnostic_response_is_not_used():
    h = Harness()
    h.sender.send_diagnostic(b"{}")
    h.requests[0].respond(202, {"date": SERVER_DATE})
    assert h.sender.last_known_past_time == 0


@pytest.mark.parametrize("code", [400, 408, 429, 500, 502, 503, 301, 302, 307])
def test_recoverable_status_is_retried_once_after_one_second_with_the_same_payload(code):
    h = Harness()
    d = h.sender.send_events(BODY, 1)
    first = h.requests[0]
    first.respond(code)
    assert_no_result(d)
    h.clock.advance(RETRY_DELAY - 0.01)
    assert len(h.requests) == 1
    h.clock.advance(0.01)
    assert len(h.requests) == 2
    second = h.requests[1]
    assert second.data == first.data
    assert second.headers == first.headers  # the same X-LaunchDarkly-Payload-ID
    assert h.sender.in_flight == 1
    second.respond(202)
    assert result_of(d) is True
    assert h.sender.in_flight == 0
    assert not h.sender.disabled


def test_two_failures_drop_the_payload_without_a_third_attempt(caplog):
    h = Harness()
    d = h.sender.send_events(BODY, 3)
    h.requests[0].respond(503)
    h.clock.advance(RETRY_DELAY)
    with caplog.at_level(logging.WARNING, "ldfast.events.delivery"):
        h.requests[1].respond(503)
    assert result_of(d) is False
    h.clock.advance(60)
    assert len(h.requests) == 2
    assert "some events were dropped" in caplog.text
    assert "3 events" in caplog.text
    assert not h.sender.disabled


def test_network_error_is_retried():
    h = Harness()
    d = h.sender.send_events(BODY, 1)
    h.requests[0].fail(ConnectionRefusedError("nope"))
    h.clock.advance(RETRY_DELAY)
    h.requests[1].respond(202)
    assert result_of(d) is True


def test_no_answer_within_connect_plus_read_timeout_is_cancelled_and_retried():
    h = Harness(Config(SDK_KEY, http=HTTPConfig(connect_timeout=2, read_timeout=3)))
    d = h.sender.send_events(BODY, 1)
    h.clock.advance(4.9)
    assert not h.requests[0].cancelled
    h.clock.advance(0.1)
    assert h.requests[0].cancelled
    assert_no_result(d)
    h.clock.advance(RETRY_DELAY)
    assert len(h.requests) == 2
    h.clock.advance(5)
    assert h.requests[1].cancelled
    assert result_of(d) is False
    assert not h.clock.getDelayedCalls()


@pytest.mark.parametrize("code", [401, 403, 404, 405, 413])
def test_unrecoverable_status_disables_events_for_good(code, caplog):
    h = Harness()
    with caplog.at_level(logging.ERROR, "ldfast.events.delivery"):
        d = h.sender.send_events(BODY, 1)
        h.requests[0].respond(code)
    assert result_of(d) is False
    assert h.sender.disabled
    assert "giving up permanently" in caplog.text
    h.clock.advance(10)
    assert len(h.requests) == 1  # no retry
    assert result_of(h.sender.send_events(BODY, 1)) is False
    assert result_of(h.sender.send_diagnostic(b"{}")) is False
    assert len(h.requests) == 1


def test_unrecoverable_diagnostic_status_stops_diagnostics_only():
    h = Harness()
    d = h.sender.send_diagnostic(b"{}")
    h.requests[0].respond(401)
    assert result_of(d) is False
    assert h.sender.diagnostics_disabled and not h.sender.disabled
    assert result_of(h.sender.send_diagnostic(b"{}")) is False
    h.sender.send_events(BODY, 1)
    assert len(h.requests) == 2


def test_is_recoverable():
    assert [c for c in (300, 400, 401, 403, 404, 408, 413, 429, 500) if is_recoverable(c)] == [300, 400, 408, 429, 500]


# -- cancelling -----------------------------------------------------------------------------------

def test_close_cancels_requests_and_retries_and_refuses_new_posts():
    h = Harness()
    waiting = h.sender.send_events(BODY, 1)
    retrying = h.sender.send_events(BODY, 1)
    h.requests[1].respond(500)
    idle = h.sender.idle()
    assert_no_result(idle)
    h.sender.close()
    assert h.requests[0].cancelled
    assert result_of(waiting) is False
    assert result_of(retrying) is False
    assert result_of(idle) is None
    h.clock.advance(RETRY_DELAY)
    assert len(h.requests) == 2
    assert not h.clock.getDelayedCalls()
    assert result_of(h.sender.send_events(BODY, 1)) is False
    assert len(h.requests) == 2


def test_a_client_that_raises_is_a_network_error():
    class Raising:
        def request(self, *a, **kw):
            raise ValueError("bad url")

    clock = MemoryReactorClock()
    sender = EventSender(Config(SDK_KEY), reactor=clock, http_client=Raising())
    d = sender.send_events(BODY, 1)
    clock.advance(RETRY_DELAY)
    assert result_of(d) is False


def test_cancelled_error_from_the_client_is_retried():
    h = Harness()
    d = h.sender.send_events(BODY, 1)
    h.requests[0].fail(CancelledError())
    h.clock.advance(RETRY_DELAY)
    h.requests[1].respond(202)
    assert result_of(d) is True
