"""End to end: the synchronous ``ldfast.LDClient`` against the fake LaunchDarkly service over loopback.

The client runs its real networking (its private reactor thread, the streaming or polling data
source, the store); the fake serves real SSE and HTTP on 127.0.0.1 (tests/support/fake_ld.py).
Nothing sleeps: tests wait, with a bound, on the fake's condition (requests it received) or on the
client's store, which wakes waiters on every write.
"""
import queue
import random
import threading
import time
from collections import Counter

import pytest

from ldfast import Config, HTTPConfig, LDClient
from ldfast.context import Context
from ldfast.datasource import backoff
from ldfast.datasource.status import DataSourceState
from ldfast.feature_store import InMemoryFeatureStore
from ldfast import versioned_data_kind as kinds
from tests.support.fake_ld import FakeLaunchDarklyThread

SDK_KEY = "sdk-integration-key-1"
T = 5.0  # bound of every wait; far above what any step needs
CTX = Context.create("user-1")


def flag(key, version, value=True):
    return {"key": key, "version": version, "on": True, "variations": [value, not value],
            "fallthrough": {"variation": 0}, "offVariation": 1, "targets": [], "rules": [],
            "prerequisites": [], "salt": key, "trackEvents": False}


def segment(key, version, included=()):
    return {"key": key, "version": version, "included": list(included), "excluded": [], "rules": [], "salt": key}


def segment_flag(key, version, segment_key):
    """True for members of ``segment_key``, else False."""
    f = flag(key, version, False)
    f["rules"] = [{"id": "r0", "variation": 1, "trackEvents": False,
                   "clauses": [{"attribute": "", "op": "segmentMatch", "values": [segment_key], "negate": False}]}]
    return f


FLAGS = {"f1": flag("f1", 1, True), "f2": flag("f2", 3, False), "in-s1": segment_flag("in-s1", 1, "s1")}
SEGMENTS = {"s1": segment("s1", 2, ["someone-else"])}


class ObservedStore(InMemoryFeatureStore):
    """The client's real in-memory store, which also wakes tests waiting for a change."""

    def __init__(self):
        super().__init__()
        self._waiters_cond = threading.Condition()

    def _wake_waiters(self):
        with self._waiters_cond:
            self._waiters_cond.notify_all()

    def init(self, all_data):
        super().init(all_data)
        self._wake_waiters()

    def init_preprocessed(self, flags, segments, ordered=False):
        super().init_preprocessed(flags, segments, ordered)
        self._wake_waiters()

    def upsert(self, kind, item):
        stored = super().upsert(kind, item)
        self._wake_waiters()
        return stored

    def wait_for(self, predicate, timeout=T, what="condition"):
        with self._waiters_cond:
            if not self._waiters_cond.wait_for(predicate, timeout):
                raise TimeoutError("store: %s not reached within %ss" % (what, timeout))


@pytest.fixture
def fake():
    with FakeLaunchDarklyThread(FLAGS, SEGMENTS) as f:
        yield f


@pytest.fixture
def make_client(fake):
    """``make_client(start_wait=5, **config_options) -> (client, store)``; every client is closed at the end."""
    clients = []

    def make(start_wait=5, **options):
        options.setdefault("send_events", False)
        store = ObservedStore()
        config = Config(SDK_KEY, stream_uri=fake.uri, base_uri=fake.uri, events_uri=fake.uri,
                        feature_store=store, **options)
        client = LDClient(config, start_wait=start_wait)
        clients.append(client)
        return client, store

    yield make
    for client in clients:
        client.close()


def data_of(store):
    return {"flags": store.all(kinds.FEATURES), "segments": store.all(kinds.SEGMENTS)}


# -- streaming: the happy path --------------------------------------------------------------------

def test_initializes_from_the_stream_with_sdk_headers(fake, make_client):
    start = time.monotonic()
    client, store = make_client()
    assert time.monotonic() - start < 2
    assert client.is_initialized()
    assert client.variation("f1", CTX, "default") is True
    assert client.variation("f2", CTX, "default") is False
    assert data_of(store) == {"flags": FLAGS, "segments": SEGMENTS}
    (request,) = fake.stream_requests
    assert request.path == "/all" and request.query == ""
    assert request.header("Authorization") == SDK_KEY
    assert request.header("User-Agent").startswith("PythonClient/")
    assert request.header("Accept") == "text/event-stream"
    assert client.data_source_status_provider.status.state == DataSourceState.VALID


def test_optional_headers_and_payload_filter(fake, make_client):
    client, _ = make_client(wrapper_name="Flask", wrapper_version="2.0",
                            application={"id": "my-app", "version": "1.2"}, payload_filter_key="mobile")
    assert client.is_initialized()
    (request,) = fake.stream_requests
    assert request.query == "filter=mobile"
    assert request.header("X-LaunchDarkly-Wrapper") == "Flask/2.0"
    assert request.header("X-LaunchDarkly-Tags") == "application-id/my-app application-version/1.2"


def test_follows_pushed_patches_and_deletes(fake, make_client):
    client, store = make_client()
    fake.patch("flags", flag("f1", 2, False))
    store.wait_for(lambda: client.variation("f1", CTX, "default") is False, what="patched f1")

    fake.delete("flags", "f1", 3)
    store.wait_for(lambda: client.variation("f1", CTX, "default") == "default", what="deleted f1")
    assert client.variation_detail("f1", CTX, "default").reason == {"kind": "ERROR", "errorKind": "FLAG_NOT_FOUND"}

    # A patch older than the tombstone is ignored; a later marker patch proves it was processed.
    fake.patch("flags", flag("f1", 2, True))
    fake.patch("flags", flag("f2", 4, True))
    store.wait_for(lambda: client.variation("f2", CTX, "default") is True, what="marker patch")
    assert client.variation("f1", CTX, "default") == "default"

    # Segments: the rule of "in-s1" starts matching once the segment includes the context.
    assert client.variation("in-s1", CTX, "default") is False
    fake.patch("segments", segment("s1", 3, ["user-1"]))
    store.wait_for(lambda: client.variation("in-s1", CTX, "default") is True, what="patched segment")

    fake.heartbeat()  # comments do not disturb the stream
    fake.patch("flags", flag("f2", 5, False))
    store.wait_for(lambda: client.variation("f2", CTX, "default") is False, what="patch after heartbeat")
    assert fake.stream_connections == 1


def test_flag_change_listeners_hear_streamed_updates(fake, make_client):
    client, _ = make_client(initial_reconnect_delay=0.01)
    changes, values = queue.Queue(), queue.Queue()
    client.flag_tracker.add_listener(lambda change: changes.put(change.key))
    client.flag_tracker.add_flag_value_change_listener("in-s1", CTX, lambda c: values.put((c.old_value, c.new_value)))
    fake.patch("flags", flag("f1", 2, False))
    assert changes.get(timeout=T) == "f1"
    fake.patch("segments", segment("s1", 3, ["user-1"]))  # "in-s1" depends on it
    assert changes.get(timeout=T) == "in-s1"
    assert values.get(timeout=T) == (False, True)
    data = fake.data()
    del data["flags"]["f2"]
    fake.set_data(data["flags"], data["segments"])
    fake.drop_streams()  # the put of the next connection lacks f2
    assert changes.get(timeout=T) == "f2"
    assert changes.empty() and values.empty()


def test_put_replaces_everything_after_a_reconnect(fake, make_client):
    client, store = make_client(initial_reconnect_delay=0.01)
    new = {"flags": {"f9": flag("f9", 1)}, "segments": {}}
    fake.set_data(new["flags"], new["segments"])  # not pushed: only a new connection sees it
    fake.drop_streams()
    store.wait_for(lambda: data_of(store) == new, what="the new put")
    assert client.variation("f1", CTX, "default") == "default"
    assert client.variation("f9", CTX, "default") is True
    assert fake.stream_connections == 2


@pytest.mark.parametrize("fault", ["close_after_put", "drop_after_put"])
def test_reconnects_when_the_server_ends_the_stream(fake, make_client, fault):
    client, store = make_client(initial_reconnect_delay=0.01)
    fake.queue_stream_faults(fault)
    fake.drop_streams()
    fake.wait_for_stream_connections(3)  # 1, the faulty 2, and 3 after the server ended 2
    fake.patch("flags", flag("f1", 7, False))  # reaches the third, live connection
    store.wait_for(lambda: client.variation("f1", CTX, "default") is False, what="patch on the new stream")
    assert fake.live_streams == 1


# -- streaming: errors ----------------------------------------------------------------------------

@pytest.mark.parametrize("status", [401, 404])
def test_unrecoverable_status_at_start_gives_up_at_once(fake, make_client, status):
    fake.queue_stream_faults(status)
    start = time.monotonic()
    client, _ = make_client(start_wait=5)
    assert time.monotonic() - start < 2.5  # released by the failure, not by start_wait
    assert not client.is_initialized()
    assert client.variation("f1", CTX, "default") == "default"
    with pytest.raises(TimeoutError):
        fake.wait_for_stream_connections(2, timeout=1.5)  # never retried
    status_now = client.data_source_status_provider.status
    assert status_now.state == DataSourceState.OFF
    assert status_now.error.status_code == status


def test_recoverable_status_retries_after_the_first_backoff_delay(fake, make_client):
    fake.queue_stream_faults(500)
    client, _ = make_client(start_wait=5)  # initial_reconnect_delay: the default 1 s
    assert client.is_initialized()
    first, second = fake.stream_requests
    assert first.fault == 500 and second.fault is None
    assert 0.45 <= second.time - first.time <= 1.5  # base 1 s less up to 50% jitter


def test_recoverable_failures_in_a_row_then_initializes(fake, make_client):
    faults = [500, 503, 400, 429, "wrong_content_type", "garbage", "truncated"]
    fake.queue_stream_faults(*faults)
    client, store = make_client(start_wait=5, initial_reconnect_delay=0.01)
    assert client.is_initialized()
    assert [r.fault for r in fake.stream_requests] == faults + [None]
    assert data_of(store) == {"flags": FLAGS, "segments": SEGMENTS}


def test_stall_before_headers_is_given_up_after_connect_plus_read_timeout(fake, make_client):
    fake.queue_stream_faults("stall")
    start = time.monotonic()
    client, _ = make_client(start_wait=5, initial_reconnect_delay=0.01,
                            http=HTTPConfig(connect_timeout=0.3, read_timeout=0.4))
    assert client.is_initialized()
    assert 0.65 <= time.monotonic() - start < 3
    assert [r.fault for r in fake.stream_requests] == ["stall", None]
    fake.wait_for_open_streams(1)  # the stalled connection was closed by the client


@pytest.mark.parametrize("fault, stored_after", [
    ("garbage", "old"),          # a put that is not JSON: nothing stored
    ("truncated", "old"),        # half a put: nothing stored
    ("garbage_patch", "new"),    # a valid put (stored), then a bad patch: the put stays
])
def test_bad_data_keeps_the_previous_data_and_reconnects(fake, make_client, fault, stored_after):
    client, store = make_client(initial_reconnect_delay=0.01)
    new = {"flags": {"f1": flag("f1", 5, False)}, "segments": {}}
    fake.set_data(new["flags"], new["segments"])
    fake.queue_stream_faults(fault, "stall")
    fake.drop_streams()
    # A third connection (the stall) proves the client gave up on the bad one and reconnected.
    fake.wait_for_stream_connections(3)
    expected = {"flags": FLAGS, "segments": SEGMENTS} if stored_after == "old" else new
    store.wait_for(lambda: data_of(store) == expected, what="the data after the bad stream")
    assert client.is_initialized()
    assert client.variation("f1", CTX, "default") is (stored_after == "old")
    fake.drop_streams()  # end the stall: a clean connection brings the server's data
    store.wait_for(lambda: data_of(store) == new, what="the server's data")


CHAOS_SELF_ENDING = (400, 429, 500, 503, "garbage", "garbage_patch", "truncated", "drop_after_put",
                     "close_after_put", "wrong_content_type")
"""Faults after which the client reconnects by itself."""
CHAOS_HELD = (None, "stall", "headers_then_stall")
"""Connections that stay open until the fake drops them (None: a clean, live stream)."""


def test_chaos_ends_with_the_servers_data(fake, make_client, monkeypatch):
    # The real reconnect delay doubles up to 30 s and only resets after 60 s of health, so 200
    # failures in a row would take over an hour; the ceiling is lowered for this test only (the
    # backoff itself is unit-tested in test_streaming.py).
    monkeypatch.setattr(backoff, "MAX_DELAY", 0.02)
    rng = random.Random(1234)
    flag_keys = ["c%d" % i for i in range(8)]
    segment_keys = ["cs%d" % i for i in range(3)]
    users = ["user-%d" % i for i in range(5)]
    fake.set_data({k: flag(k, 1) for k in flag_keys}, {k: segment(k, 1) for k in segment_keys}, push=True)
    client, store = make_client(initial_reconnect_delay=0.01)
    store.wait_for(lambda: data_of(store) == fake.data(), what="the chaos data set")
    versions = {key: 1 for key in flag_keys + segment_keys}

    def mutate():
        kind = rng.choice(("flags", "flags", "segments"))
        key = rng.choice(flag_keys if kind == "flags" else segment_keys)
        versions[key] += rng.choice((1, 1, 2))
        if rng.random() < 0.25:
            fake.delete(kind, key, versions[key])
        elif kind == "flags":
            fake.patch(kind, flag(key, versions[key], rng.choice((True, False))))
        else:
            fake.patch(kind, segment(key, versions[key], rng.sample(users, rng.randint(0, 3))))

    start = time.monotonic()
    expected_connections = fake.stream_connections
    for _ in range(200):
        for _ in range(rng.choice((0, 0, 1, 2, 3))):
            mutate()  # pushed to the live stream, if the current connection is one
        fault = rng.choice(CHAOS_SELF_ENDING + CHAOS_HELD)
        n = fake.stream_connections
        if fault is not None:
            fake.queue_stream_faults(fault)
        fake.drop_streams()  # ends the current connection: live or stalled, never one mid-fault
        fake.wait_for_stream_connections(n + 1)
        expected_connections += 1
        if fault in CHAOS_SELF_ENDING:
            fake.wait_for_stream_connections(n + 2)  # the client left the faulty one and came back
            expected_connections += 1
    n = fake.stream_connections
    fake.drop_streams()
    fake.wait_for_stream_connections(n + 1)  # a clean connection: its put is the server's data
    expected_connections += 1
    expected = fake.data()
    store.wait_for(lambda: data_of(store) == expected, what="the server's data after the chaos")

    assert time.monotonic() - start < 30
    assert client.is_initialized()
    assert fake.stream_connections == expected_connections  # no stray or duplicate connections
    fake.wait_for_open_streams(1)  # every abandoned connection was closed by the client
    used = Counter(r.fault for r in fake.stream_requests)
    assert set(used) == set(CHAOS_SELF_ENDING + CHAOS_HELD)
    for key in flag_keys:
        want = expected["flags"][key]["variations"][0] if key in expected["flags"] else "default"
        assert client.variation(key, CTX, "default") == want


# -- shutdown -------------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", ["stall", "headers_then_stall", None])
def test_close_is_bounded_and_closes_the_connection(fake, make_client, fault):
    if fault is not None:
        fake.queue_stream_faults(fault)
    client, _ = make_client(start_wait=0)
    fake.wait_for_stream_connections(1)
    fake.wait_for_open_streams(1)
    start = time.monotonic()
    client.close()
    assert time.monotonic() - start < 6
    fake.wait_for_open_streams(0)  # the client's socket is closed, not left to the garbage collector
    client.close()  # idempotent
    with pytest.raises(TimeoutError):
        fake.wait_for_stream_connections(2, timeout=0.5)  # and it stays closed


# -- polling --------------------------------------------------------------------------------------

def test_polling_initializes_from_latest_all(fake, make_client):
    client, store = make_client(stream=False, payload_filter_key="web")
    assert client.is_initialized()
    assert client.variation("f1", CTX, "default") is True
    assert data_of(store) == {"flags": FLAGS, "segments": SEGMENTS}
    assert fake.stream_connections == 0
    (request,) = fake.poll_requests
    assert request.path == "/sdk/latest-all" and request.query == "filter=web"
    assert request.header("Authorization") == SDK_KEY
    assert request.header("User-Agent").startswith("PythonClient/")
    assert request.header("If-None-Match") is None


def test_polling_unrecoverable_status_gives_up_at_once(fake, make_client):
    fake.queue_poll_faults(401)
    start = time.monotonic()
    client, _ = make_client(start_wait=5, stream=False)
    assert time.monotonic() - start < 2.5
    assert not client.is_initialized()
    assert client.data_source_status_provider.status.state == DataSourceState.OFF


def test_polling_a_stalled_response_times_out(fake, make_client):
    fake.queue_poll_faults("stall")
    errors = threading.Event()
    client, _ = make_client(start_wait=0, stream=False, http=HTTPConfig(connect_timeout=0.2, read_timeout=0.3))
    client.data_source_status_provider.add_listener(lambda status: status.error is not None and errors.set())
    fake.wait_for_polls(1)
    assert errors.wait(T), "a poll with no answer was never given up (connect_timeout + read_timeout = 0.5 s)"
    assert not client.is_initialized()
    fake.wait_for(lambda: fake.open_polls == 0, T, "the stalled poll closed by the client")


def test_close_is_bounded_while_a_poll_stalls(fake, make_client):
    fake.queue_poll_faults("stall")
    client, _ = make_client(start_wait=0, stream=False)
    fake.wait_for_polls(1)
    start = time.monotonic()
    client.close()
    assert time.monotonic() - start < 6


def test_the_sync_client_never_installs_the_global_reactor():
    """Streaming, polling and events by host name (resolved, connected) on the private reactor:
    ``twisted.internet.reactor`` is never imported, so an application can still install the
    reactor it wants afterwards (Twisted's HostnameEndpoint would have installed the default one)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import sys, time
        from tests.support.fake_ld import FakeLaunchDarklyThread
        import ldfast
        flags = {"f": {"key": "f", "version": 1, "on": True, "variations": [1, 2], "fallthrough": {"variation": 0},
                       "trackEvents": True}}
        with FakeLaunchDarklyThread(flags) as fake:
            uri = fake.uri.replace("127.0.0.1", "localhost")
            for stream in (True, False):
                c = ldfast.LDClient(ldfast.Config("k", stream=stream, base_uri=uri, stream_uri=uri, events_uri=uri),
                                    start_wait=10)
                assert c.is_initialized() and c.variation("f", {"key": "u"}, 0) == 1
                c.close()
            fake.wait_for_event_payloads(2, "/bulk", timeout=10)  # close() delivered them
        assert "twisted.internet.reactor" not in sys.modules, "the global reactor was installed"
        from twisted.internet import asyncioreactor
        asyncioreactor.install()  # what an application might do next: still possible
        print("ok")
    """)
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stdout + out.stderr
