"""Every snippet of LaunchDarkly's Python Twisted SDK reference (../shared/twisted-sdk-reference.txt),
as written but for the import names, against a fake LaunchDarkly service on loopback.

The Twisted client runs on a real reactor (``ReactorThread``, the way an application's reactor
runs it); ``app.call`` runs a call on that reactor and waits for the Deferred it returns.
"""
import hashlib
import hmac
import json
import logging
import socket
import subprocess
import sys
import textwrap
import threading
import time
from importlib import metadata

import pytest

from ldfast import Config, LDClient
from ldfast._reactor import ReactorThread
from ldfast.twisted import TwistedConfig, TwistedLDClient
from tests.support.fake_ld import FakeLaunchDarklyThread

# -- the reference's users ---------------------------------------------------------------------

user = {
    "key": "aa0ceb",
    "firstName": "Ernestina",
    "lastName": "Evans",
    "email": "ernestina@example.com",
    "custom": {
        "groups": ["Google", "Microsoft"]
    }
}
anonymous_user = {"key": "aa0ceb", "anonymous": True}

BUILT_INS = {"key": "k-1", "ip": "10.0.0.1", "firstName": "Ada", "lastName": "Lovelace", "country": "UK",
             "email": "ada@example.com", "avatar": "https://example.com/a.png", "name": "Ada L"}


def _clause(attribute, value):
    return {"attribute": attribute, "op": "in", "values": [value], "negate": False}


def _flags():
    """'your.feature.key' (on for all), 'by-attribute' (a rule per built-in, groups, anonymous)."""
    rules = []
    variations = ["none"]
    for attribute, value in list(BUILT_INS.items()) + [("groups", "Google"), ("anonymous", True)]:
        variations.append(attribute)
        rules.append({"id": attribute, "clauses": [_clause(attribute, value)], "variation": len(variations) - 1})
    return {
        "your.feature.key": {"key": "your.feature.key", "version": 1, "on": True, "variations": [False, True],
                             "fallthrough": {"variation": 1}, "offVariation": 0, "trackEvents": True},
        "by-attribute": {"key": "by-attribute", "version": 1, "on": True, "variations": variations, "rules": rules,
                         "fallthrough": {"variation": 0}, "offVariation": 0},
    }


@pytest.fixture
def fake():
    with FakeLaunchDarklyThread(_flags()) as fake:
        yield fake


@pytest.fixture
def app():
    """The application's reactor, in a thread (as ``twistd`` would run it)."""
    net = ReactorThread("app")
    yield net
    net.stop()


def _config(fake, *timeouts, **kwargs):
    kwargs.setdefault("diagnostic_opt_out", True)
    return TwistedConfig(fake.uri, *(timeouts or (1, 2)), stream_uri=fake.uri, events_uri=fake.uri, **kwargs)


def _events(fake):
    return [e for p in fake.event_payloads("/bulk") for e in p.json]


def _ready_client(app, fake, **kwargs):
    ld_client = app.call(lambda: TwistedLDClient("YOUR_SDK_KEY", _config(fake, **kwargs), reactor=app.reactor))
    app.call(ld_client.wait_for_initialization, 10, timeout=12)
    return ld_client


# -- getting started ---------------------------------------------------------------------------

def test_pip_install_ldfast_twisted_is_an_extra_that_pulls_nothing_new():
    """``pip install ldfast[twisted]``: the extra exists, and Twisted is a core dependency already."""
    meta = metadata.metadata("ldfast")
    assert "twisted" in meta.get_all("Provides-Extra")
    requires = meta.get_all("Requires-Dist")
    assert not [r for r in requires if 'extra == "twisted"' in r]
    assert any(r.lower().startswith("twisted") and "extra" not in r for r in requires)


def test_twisted_ld_client_with_no_config_uses_launchdarkly_default_uris():
    """``TwistedLDClient("YOUR_SDK_KEY")`` literally, in a fresh interpreter (global reactor)."""
    script = textwrap.dedent("""
        from ldfast.twisted import TwistedLDClient
        ld_client = TwistedLDClient("YOUR_SDK_KEY")
        c = ld_client._config
        print(c.sdk_key, c.base_uri, c.stream_base_uri, c.events_base_uri)
        ld_client.close()
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["YOUR_SDK_KEY", "https://app.launchdarkly.com", "https://stream.launchdarkly.com",
                                  "https://events.launchdarkly.com"]


class _RecordingHTTP:
    """A treq-shaped client that records each request and never answers."""

    def __init__(self):
        self.requests = []

    def _record(self, method, url, **kwargs):
        from twisted.internet.defer import Deferred

        self.requests.append((method, url, kwargs.get("headers")))
        return Deferred()

    def get(self, url, **kwargs):
        return self._record("GET", url, **kwargs)

    def post(self, url, **kwargs):
        return self._record("POST", url, **kwargs)

    def request(self, method, url, **kwargs):
        return self._record(method, url, **kwargs)


def test_default_uris_are_where_the_requests_go():
    from twisted.internet.task import Clock

    http = _RecordingHTTP()
    ld_client = TwistedLDClient("YOUR_SDK_KEY", reactor=Clock(), http_client=http)
    gets = [(m, u, h) for m, u, h in http.requests if m == "GET"]
    assert [(m, u) for m, u, _ in gets] == [("GET", "https://stream.launchdarkly.com/all")]
    posts = [u for m, u, _ in http.requests if m == "POST"]
    assert posts == ["https://events.launchdarkly.com/diagnostic"]  # the diagnostic init event
    headers = gets[0][2]
    assert headers["Authorization"] == "YOUR_SDK_KEY"


# -- customizing your client -------------------------------------------------------------------

def test_twisted_config_positional_base_uri_and_timeouts():
    config = TwistedConfig('https://app.launchdarkly.com', 1, 2)
    ld_client = TwistedLDClient("YOUR_SDK_KEY", config, reactor=_clock(), http_client=_RecordingHTTP())
    assert config.base_uri == "https://app.launchdarkly.com"
    assert (config.http.connect_timeout, config.http.read_timeout) == (1, 2)
    assert ld_client.get_sdk_key() == "YOUR_SDK_KEY"


def _clock():
    from twisted.internet.task import Clock

    return Clock()


def test_read_timeout_applies_a_server_that_never_answers_is_given_up_and_retried(app, fake):
    """TwistedConfig(.., 1, 2): a stream request with no answer is given up on after the read
    timeout (never before it) and retried with backoff; the retry gets the data."""
    fake.queue_stream_faults("stall")
    start = time.monotonic()
    ld_client = app.call(lambda: TwistedLDClient("YOUR_SDK_KEY", _config(fake, 1, 2), reactor=app.reactor))
    app.call(ld_client.wait_for_initialization, 15, timeout=17)
    first, second = fake.stream_requests[:2]
    assert first.fault == "stall" and second.fault is None
    gap = second.time - first.time
    # given up between read timeout (2 s) and connect + read (3 s), then a backoff of at most 1 s
    assert 2.0 <= gap <= 3.0 + 1.0 + 0.5, gap
    assert app.call(ld_client.variation, "your.feature.key", user, False) is True
    app.call(ld_client.close)
    assert time.monotonic() - start < 10


def test_connect_timeout_applies_to_a_server_that_never_accepts(app, fake):
    """A listener whose accept queue is full never completes the TCP handshake: the client gives
    up after the 1 s connect timeout (well before connect + read) and keeps retrying with backoff."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fillers = []
    try:
        for _ in range(3):  # fill the accept queue; later SYNs are dropped
            s = socket.socket()
            s.settimeout(0.3)
            try:
                s.connect(("127.0.0.1", port))
            except OSError:
                pass
            fillers.append(s)
        config = TwistedConfig("http://127.0.0.1:%d" % port, 1, 2, stream_uri="http://127.0.0.1:%d" % port,
                               events_uri=fake.uri, diagnostic_opt_out=True)
        errors = []
        done = threading.Event()

        def make():
            c = TwistedLDClient("YOUR_SDK_KEY", config, reactor=app.reactor)

            def on_status(status):
                if status.error is not None:
                    errors.append((time.monotonic(), status.error.message))
                    if len(errors) >= 2:
                        done.set()
            c.data_source_status_provider.add_listener(on_status)
            return c

        start = time.monotonic()
        ld_client = app.call(make)
        assert done.wait(10), errors
        first_at, message = errors[0]
        assert 0.9 <= first_at - start < 2.9, (first_at - start, message)  # 1 s, not connect + read (3 s)
        assert "time" in message.lower(), message
        assert errors[1][0] - first_at >= 0.9  # retried (after backoff, again 1 s to connect)
        assert app.call(ld_client.is_initialized) is False
        app.call(ld_client.close)
    finally:
        for s in fillers:
            s.close()
        srv.close()


# -- users -------------------------------------------------------------------------------------

def test_users_as_dicts_target_by_every_built_in_custom_list_and_anonymous(app, fake):
    ld_client = _ready_client(app, fake)
    for attribute, value in BUILT_INS.items():
        one = {"key": "someone"} if attribute != "key" else {}
        one[attribute] = value
        assert app.call(ld_client.variation, "by-attribute", one, "default") == attribute
    assert app.call(ld_client.variation, "by-attribute", user, "default") == "groups"  # the reference user
    assert app.call(ld_client.variation, "by-attribute", {"key": "g", "custom": {"groups": ["Microsoft", "Google"]}},
                    "default") == "groups"
    assert app.call(ld_client.variation, "by-attribute", anonymous_user, "default") == "anonymous"
    assert app.call(ld_client.variation, "by-attribute", {"key": "nobody"}, "default") == "none"
    app.call(ld_client.close)


# -- variation, track, identify, all flags, secure mode hash, flush, close ------------------------

def test_variation_returns_a_deferred(app, fake):
    from twisted.internet.defer import Deferred

    ld_client = _ready_client(app, fake)
    d = app.call(lambda: [ld_client.variation("your.feature.key", user, False)])[0]
    assert isinstance(d, Deferred)
    results = []
    d.addCallback(results.append)
    assert results == [True]  # flag data is in memory: the Deferred has fired already
    app.call(ld_client.close)


def test_track_identify_and_flush_deliver_the_reference_events(app, fake):
    from twisted.internet.defer import Deferred

    ld_client = _ready_client(app, fake)
    app.call(ld_client.variation, "your.feature.key", user, False)
    app.call(ld_client.track, "Signed up", user)
    app.call(ld_client.track, "Completed purchase", user, {"price": 320})
    app.call(ld_client.identify, user)
    flushed = app.call(lambda: [ld_client.flush()])[0]
    assert isinstance(flushed, Deferred)
    assert app.call(lambda: flushed, timeout=10) is True  # fires once LaunchDarkly accepted the payload
    events = _events(fake)
    custom = [e for e in events if e["kind"] == "custom"]
    assert [(e["key"], e.get("data")) for e in custom] == [("Signed up", None), ("Completed purchase", {"price": 320})]
    assert all(e["context"]["key"] == "aa0ceb" and e["context"]["kind"] == "user" for e in custom)
    identify = [e for e in events if e["kind"] == "identify"]
    assert len(identify) == 1 and identify[0]["context"]["key"] == "aa0ceb"
    assert identify[0]["context"]["groups"] == ["Google", "Microsoft"]
    assert identify[0]["context"]["firstName"] == "Ernestina"
    feature = [e for e in events if e["kind"] == "feature"]
    assert [(e["key"], e["value"]) for e in feature] == [("your.feature.key", True)]
    app.call(ld_client.close)


def test_track_as_printed_without_a_user_warns_once_sends_nothing_and_does_not_raise(app, fake, caplog):
    ld_client = _ready_client(app, fake)
    with caplog.at_level(logging.WARNING):
        result = app.call(ld_client.track, "Completed purchase", {"price": 320})
    assert result is None
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "without a user" in warnings[0].getMessage()
    app.call(ld_client.identify, user)  # something to deliver, so that the flush posts a payload
    assert app.call(ld_client.flush, timeout=10) is True
    assert [e for e in _events(fake) if e["kind"] == "custom"] == []
    app.call(ld_client.close)


def test_all_flags_with_a_user_and_as_printed_without_one(app, fake, caplog):
    ld_client = _ready_client(app, fake)
    assert app.call(ld_client.all_flags, user) == {"your.feature.key": True, "by-attribute": "groups"}
    with caplog.at_level(logging.WARNING):
        assert app.call(ld_client.all_flags) is None
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "all_flags() called without a user/context; returning None"]
    app.call(ld_client.close)


def test_secure_mode_hash_is_the_hmac_of_the_user_key_with_the_sdk_key(app, fake):
    import ldclient

    ld_client = _ready_client(app, fake)
    expected = hmac.new(b"YOUR_SDK_KEY", b"aa0ceb", hashlib.sha256).hexdigest()
    assert app.call(ld_client.secure_mode_hash, user) == expected
    official = ldclient.LDClient(ldclient.Config("YOUR_SDK_KEY", offline=True))
    try:
        assert official.secure_mode_hash(ldclient.Context.from_dict({"kind": "user", "key": "aa0ceb"})) == expected
    finally:
        official.close()
    app.call(ld_client.close)


def test_close_returns_a_deferred_and_stops_the_stream(app, fake):
    from twisted.internet.defer import Deferred

    ld_client = _ready_client(app, fake)
    fake.wait_for_open_streams(1)
    closed = app.call(lambda: [ld_client.close()])[0]
    assert isinstance(closed, Deferred)
    app.call(lambda: closed, timeout=10)
    fake.wait_for_open_streams(0)


# -- offline mode ------------------------------------------------------------------------------

def _offline_config(fake):
    return Config(offline=True, base_uri=fake.uri, stream_uri=fake.uri, events_uri=fake.uri, diagnostic_opt_out=True)


def test_offline_sync_client_as_printed_then_set_online(fake):
    config = _offline_config(fake)  # the reference: config = Config(offline = True)
    ld_client = LDClient("YOUR_SDK_KEY", config)
    assert ld_client.variation("any.feature.flag", user, False) is False  # always the default
    assert ld_client.variation("your.feature.key", user, "default") == "default"
    ld_client.flush()
    time.sleep(0.3)
    assert fake.stream_requests == [] and fake.event_payloads() == [] and fake.poll_requests == []
    ld_client.set_online()
    deadline = time.monotonic() + 10
    while not ld_client.is_initialized() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ld_client.variation("your.feature.key", user, "default") is True
    assert not ld_client.is_offline()
    ld_client.flush()
    fake.wait_for_event_payloads(1, "/bulk", timeout=10)  # events are on once online
    ld_client.set_offline()
    assert ld_client.variation("your.feature.key", user, "default") == "default"
    fake.wait_for_open_streams(0)
    ld_client.close()


def test_offline_twisted_client_then_set_online(app, fake):
    ld_client = app.call(lambda: TwistedLDClient("YOUR_SDK_KEY", _offline_config(fake), reactor=app.reactor))
    assert app.call(ld_client.variation, "your.feature.key", user, "default") == "default"
    assert app.call(ld_client.flush) is False
    time.sleep(0.3)
    assert fake.stream_requests == [] and fake.event_payloads() == []
    app.call(ld_client.set_online)
    app.call(ld_client.wait_for_initialization, 10, timeout=12)
    assert app.call(ld_client.variation, "your.feature.key", user, "default") is True
    assert app.call(ld_client.flush, timeout=10) is True
    app.call(ld_client.close)


# -- bad input (issue #8) ----------------------------------------------------------------------

BAD_USERS = [
    None, 42, "aa0ceb", ["aa0ceb"],               # not dicts or Contexts
    {}, {"firstName": "Ernestina"},               # no key
    {"key": 42}, {"key": None}, {"key": ["a"]},   # keys that are not strings
    {"key": "aa0ceb", "custom": "groups"},        # custom that is not a dict
    {"key": "aa0ceb", "custom": ["Google"]},
]


@pytest.mark.parametrize("bad", BAD_USERS, ids=repr)
def test_bad_users_get_the_default_one_log_line_no_exception_no_event(app, fake, caplog, bad):
    ld_client = _ready_client(app, fake)
    with caplog.at_level(logging.WARNING):
        assert app.call(ld_client.variation, "your.feature.key", bad, "default") == "default"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        detail = app.call(ld_client.variation_detail, "your.feature.key", bad, "default")
        app.call(ld_client.identify, bad)
        app.call(ld_client.track, "Signed up", bad)
        assert app.call(ld_client.all_flags, bad) is None
        assert app.call(ld_client.secure_mode_hash, bad) == ""
    assert detail.value == "default" and detail.reason["kind"] == "ERROR"
    assert all(r.levelno == logging.WARNING for r in caplog.records)
    app.call(ld_client.identify, user)  # a good event, so that the flush posts a payload
    assert app.call(ld_client.flush, timeout=10) is True
    events = _events(fake)
    assert [e["kind"] for e in events] == ["identify"]  # nothing from the bad user, not even a summary
    app.call(ld_client.close)
