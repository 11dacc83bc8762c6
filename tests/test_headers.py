"""The headers of every request to LaunchDarkly (``ldfast._headers``), the application tags'
validation, and the per-client ``X-LaunchDarkly-Instance-Id``.

Unit tests compare with the official SDK (``ldclient``, installed as the oracle); the rest run
through both client faces against the fake LaunchDarkly over loopback: the instance id is on
stream, poll, analytics and diagnostic requests, the same on all of a client's requests (also
after ``set_offline``/``set_online``), and different for two clients.
"""
import logging
import uuid

import pytest
from ldclient.config import Config as OfficialConfig
from ldclient.impl.http import _base_headers as official_base_headers

from ldfast import Config
from ldfast._headers import USER_AGENT, base_headers, event_headers, poll_headers, stream_headers
from ldfast.context import Context
from ldfast.version import VERSION
from tests.support.fake_ld import FakeLaunchDarklyThread

SDK_KEY = "sdk-headers-key-1"
CTX = Context.create("user-1")
T = 5.0
FLAG = {"key": "f", "version": 1, "on": True, "variations": [True, False], "fallthrough": {"variation": 0},
        "offVariation": 1, "salt": "f"}


def is_uuid4(value):
    return value is not None and uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value


# -- one place builds them -------------------------------------------------------------------------

def test_each_kind_of_request_has_the_common_headers_plus_its_own():
    config = Config(SDK_KEY, wrapper_name="Flask", wrapper_version="2.1",
                    application={"id": "my-app", "version": "1.0"})._with_instance_id("id-1")
    common = {
        "Authorization": SDK_KEY,
        "User-Agent": "PythonClient/" + VERSION,
        "X-LaunchDarkly-Instance-Id": "id-1",
        "X-LaunchDarkly-Tags": "application-id/my-app application-version/1.0",
        "X-LaunchDarkly-Wrapper": "Flask/2.1",
    }
    assert USER_AGENT == "PythonClient/" + VERSION
    assert base_headers(config) == common
    assert stream_headers(config) == dict(common, **{"Accept": "text/event-stream", "Cache-Control": "no-cache"})
    assert poll_headers(config) == dict(common, **{"Content-Type": "application/json", "Accept-Encoding": "gzip"})
    assert event_headers(config) == dict(common, **{"Content-Type": "application/json"})
    gzipped = Config(SDK_KEY, enable_event_compression=True)
    assert event_headers(gzipped)["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in event_headers(config)


def test_minimal_headers_have_no_optional_header():
    assert base_headers(Config(SDK_KEY)) == {"Authorization": SDK_KEY, "User-Agent": "PythonClient/" + VERSION}
    assert base_headers(Config(offline=True))["Authorization"] == ""
    assert "X-LaunchDarkly-Wrapper" not in base_headers(Config(SDK_KEY, wrapper_name=""))
    assert base_headers(Config(SDK_KEY, wrapper_name="W", wrapper_version=""))["X-LaunchDarkly-Wrapper"] == "W"


def test_each_call_returns_a_new_dict():
    config = Config(SDK_KEY)
    stream_headers(config)["Last-Event-ID"] = "x"
    assert "Last-Event-ID" not in stream_headers(config)


def test_the_old_copies_are_gone():
    import ldfast.datasource._stream_parts as parts
    import ldfast.datasource.streaming as streaming
    import ldfast.events.delivery as delivery

    assert not hasattr(parts, "stream_headers")
    assert "stream_headers" not in streaming.__all__ and "event_headers" not in delivery.__all__
    assert streaming.stream_headers is stream_headers and delivery.event_headers is event_headers


# -- application tags, as the official SDK ---------------------------------------------------------

APPLICATIONS = [
    None, {}, {"id": "my-app"}, {"version": "1.0"}, {"id": "._-azAZ09", "version": "v"},
    {"id": "bad-\n", "version": "1.0"},  # "$" matched before a final newline
    {"id": "ok", "version": "1.0\n"}, {"id": "\nok"}, {"id": "a b", "version": "1"}, {"id": "é"},
    {"id": "x" * 64, "version": "y" * 65}, {"id": "", "version": ""}, {"id": None, "version": "1"},
    {"id": 2, "version": "1"}, {"id": "ok", "version": 1.5}, {"id": "a/b"}, {"id": "a\r"},
]


@pytest.mark.parametrize("application", APPLICATIONS)
def test_application_and_headers_are_the_official_sdks(application):
    ours = Config(SDK_KEY, application=application, wrapper_name="W", wrapper_version="1")._with_instance_id("i")
    official = OfficialConfig(SDK_KEY, application=application, wrapper_name="W", wrapper_version="1")
    official._instance_id = "i"
    assert ours.application == official.application
    expected = official_base_headers(official)
    expected["User-Agent"] = "PythonClient/" + VERSION  # ldfast's own version
    assert base_headers(ours) == expected


def test_an_invalid_value_is_kept_empty_with_the_official_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="ldfast.config"):
        config = Config(SDK_KEY, application={"id": "my-app\n", "version": "v" * 65})
    assert config.application == {"id": "", "version": ""}
    assert "X-LaunchDarkly-Tags" not in base_headers(config)
    assert [r.getMessage() for r in caplog.records] == [
        "Value of application[id] contained invalid characters and was discarded",
        "Value of application[version] was longer than 64 characters and was discarded",
    ]


def test_an_absent_or_none_value_is_empty_without_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="ldfast.config"):
        assert Config(SDK_KEY, application={"id": None}).application == {"id": "", "version": ""}
        assert Config(SDK_KEY).application == {"id": "", "version": ""}
    assert caplog.records == []


def test_application_must_be_a_dict():
    with pytest.raises(TypeError, match="application"):
        Config(SDK_KEY, application="my-app")


# -- instance id ------------------------------------------------------------------------------------

def test_with_instance_id_is_a_copy_with_a_new_uuid4():
    config = Config(SDK_KEY, application={"id": "a"})
    first, second = config._with_instance_id(), config._with_instance_id()
    assert config._instance_id is None and "X-LaunchDarkly-Instance-Id" not in base_headers(config)
    assert is_uuid4(first._instance_id) and is_uuid4(second._instance_id)
    assert first._instance_id != second._instance_id
    assert base_headers(first)["X-LaunchDarkly-Instance-Id"] == first._instance_id
    assert first.sdk_key == SDK_KEY and first.application == {"id": "a", "version": ""}
    assert first.copy_with_new_sdk_key("other")._instance_id == first._instance_id


@pytest.fixture
def fake():
    with FakeLaunchDarklyThread({"f": FLAG}) as f:
        yield f


def config_for(fake, **options):
    return Config(SDK_KEY, stream_uri=fake.uri, base_uri=fake.uri, events_uri=fake.uri, **options)


def test_instance_id_on_stream_analytics_and_diagnostic_requests(fake, face):
    client = face.client(config_for(fake))
    face.track(client, "my-event", CTX)
    face.flush(client)
    (stream,) = fake.wait_for_stream_connections(1, T)
    bulk = fake.wait_for_event_payloads(1, "/bulk", T)[0]
    diagnostic = fake.wait_for_event_payloads(1, "/diagnostic", T)[0]
    ids = {r.header("X-LaunchDarkly-Instance-Id") for r in (stream, bulk, diagnostic)}
    (instance_id,) = ids
    assert is_uuid4(instance_id)
    assert client._config._instance_id == instance_id


def test_instance_id_on_poll_requests(fake, face):
    client = face.client(config_for(fake, stream=False, send_events=False))
    (poll,) = fake.wait_for_polls(1, T)
    assert is_uuid4(poll.header("X-LaunchDarkly-Instance-Id"))
    assert poll.header("X-LaunchDarkly-Instance-Id") == client._config._instance_id
    assert fake.stream_requests == []


def test_two_clients_from_one_config_have_different_ids(fake, face):
    config = config_for(fake, send_events=False)
    face.client(config)
    face.client(config)
    first, second = fake.wait_for_stream_connections(2, T)
    ids = [r.header("X-LaunchDarkly-Instance-Id") for r in (first, second)]
    assert all(is_uuid4(i) for i in ids) and ids[0] != ids[1]
    assert config._instance_id is None  # the application's config is left as it was


def test_set_offline_and_set_online_keep_the_instance_id(fake, face):
    client = face.client(config_for(fake))
    face.set_offline(client)
    face.set_online(client)
    first, second = fake.wait_for_stream_connections(2, T)
    face.track(client, "my-event", CTX)
    face.flush(client)
    bulk = fake.wait_for_event_payloads(1, "/bulk", T)[0]
    ids = {r.header("X-LaunchDarkly-Instance-Id") for r in (first, second, bulk)}
    assert len(ids) == 1 and is_uuid4(ids.pop())


def test_invalid_application_values_are_left_out_of_the_tags(fake, face):
    client = face.client(config_for(fake, application={"id": "my-app\n", "version": "1.0"}))
    face.track(client, "my-event", CTX)
    face.flush(client)
    (stream,) = fake.wait_for_stream_connections(1, T)
    bulk = fake.wait_for_event_payloads(1, "/bulk", T)[0]
    assert stream.header("X-LaunchDarkly-Tags") == bulk.header("X-LaunchDarkly-Tags") == "application-version/1.0"


def test_an_sdk_key_with_a_final_newline_is_discarded_as_the_official_sdk_does():
    for key in ("sdk-key\n", "sdk-key\r\n", "sdk key", "sdk-key"):
        assert Config(key).sdk_key == OfficialConfig(key).sdk_key, repr(key)
