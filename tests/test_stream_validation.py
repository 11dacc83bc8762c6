"""Stream messages the contract says to ignore or to restart on, through both client faces against
the fake LaunchDarkly over loopback (the harness's ``streaming/validation`` tests).

A patch or delete whose path names an unknown kind is ignored and the stream goes on: the next
patch is applied on the same connection. A message of a known kind that does not match the schema
drops the connection, and the data comes back from the next connection's put.
"""
import threading

import pytest

from ldfast import Config
from ldfast.context import Context
from ldfast.feature_store import InMemoryFeatureStore
from tests.support.fake_ld import FakeLaunchDarklyThread

SDK_KEY = "sdk-validation-key-1"
CTX = Context.create("user-1")
T = 5.0


def flag(key, version, value):
    return {"key": key, "version": version, "on": False, "variations": [value, "other"], "offVariation": 0,
            "fallthrough": {"variation": 0}, "salt": key}


class ObservedStore(InMemoryFeatureStore):
    """The client's in-memory store, which also lets a test wait (bounded) for a write."""

    def __init__(self):
        super().__init__()
        self._cond = threading.Condition()

    def upsert(self, kind, item):
        stored = super().upsert(kind, item)
        with self._cond:
            self._cond.notify_all()
        return stored

    def init_preprocessed(self, flags, segments, ordered=False):
        result = super().init_preprocessed(flags, segments, ordered)
        with self._cond:
            self._cond.notify_all()
        return result

    def wait_for_version(self, key, version):
        def reached():
            item = self._flags.get(key)
            return item is not None and item.version == version

        with self._cond:
            if not self._cond.wait_for(reached, T):
                raise TimeoutError("flag %s version %s not stored within %ss" % (key, version, T))


@pytest.fixture
def fake():
    with FakeLaunchDarklyThread({"flag": flag("flag", 1, "v1")}) as f:
        yield f


def start(face, fake):
    store = ObservedStore()
    config = Config(SDK_KEY, stream_uri=fake.uri, base_uri=fake.uri, events_uri=fake.uri, send_events=False,
                    feature_store=store, initial_reconnect_delay=0.01)
    client = face.client(config)
    assert face.variation(client, "flag", CTX, "default") == "v1"
    fake.wait_for_stream_connections(1, T)
    return client, store


@pytest.mark.parametrize("message", [
    b'event: patch\ndata: {"path": "/cats/Jack", "data": {}}\n\n',
    b'event: delete\ndata: {"path": "/cats/Jack", "version": "no"}\n\n',
    b"event: whatever\ndata: not JSON\n\n",
])
def test_unknown_kind_or_event_is_ignored_and_the_stream_goes_on(fake, face, message):
    client, store = start(face, fake)
    fake.push_raw(message)
    fake.patch("flags", flag("flag", 2, "v2"))  # on the same connection, after the ignored message
    store.wait_for_version("flag", 2)
    assert face.variation(client, "flag", CTX, "default") == "v2"
    assert len(fake.stream_requests) == 1  # applied from the first connection: no reconnect


@pytest.mark.parametrize("message", [
    b'event: patch\ndata: {"path": "/flags/x", "data": true}\n\n',
    b'event: patch\ndata: {"path": "/flags/flag", "data": {}}\n\n',
    b"event: patch\ndata: {sorry\n\n",
])
def test_a_known_kind_not_matching_the_schema_restarts_the_stream(fake, face, message):
    client, store = start(face, fake)
    fake.set_data({"flag": flag("flag", 2, "v2")})  # what the next connection's put serves
    fake.push_raw(message)
    store.wait_for_version("flag", 2)
    assert face.variation(client, "flag", CTX, "default") == "v2"
    assert len(fake.stream_requests) == 2
