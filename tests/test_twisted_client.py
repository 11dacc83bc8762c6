"""TwistedLDClient on an injected reactor: the seed API with Deferreds, offline, set_online, waits."""
import logging

import pytest
from twisted.internet.task import Clock

from ldfast import Config
from ldfast.integrations.test_data import TestData
from ldfast.twisted import InitializationError, TwistedConfig, TwistedLDClient

USER = {"key": "aa0ceb", "firstName": "Ernestina", "lastName": "Evans", "email": "ernestina@example.com",
        "custom": {"groups": ["Google", "Microsoft"]}}


def fired(d):
    """The result of a Deferred that has already fired (fails the test otherwise)."""
    results = []
    d.addBoth(results.append)
    assert results, "the Deferred has not fired"
    if hasattr(results[0], "raiseException"):
        results[0].raiseException()
    return results[0]


@pytest.fixture
def td():
    td = TestData.data_source()
    td.update(td.flag("your.feature.key").variation_for_all(True))
    td.update(td.flag("groups").if_match("groups", "Google").then_return(True).fallthrough_variation(False))
    return td


def test_twisted_config_positional_form():
    config = TwistedConfig("https://app.launchdarkly.com", 1, 2)
    assert config.base_uri == "https://app.launchdarkly.com"
    assert config.http.connect_timeout == 1 and config.http.read_timeout == 2
    assert TwistedConfig(stream_uri="http://x", offline=True).stream_base_uri == "http://x"
    with pytest.raises(ValueError):
        TwistedConfig("https://x", -1, 2)


def test_seed_api_returns_fired_deferreds(td):
    client = TwistedLDClient("YOUR_SDK_KEY", Config(update_processor_class=td, send_events=False), reactor=Clock())
    assert client.is_initialized() and not client.is_offline()
    assert fired(client.variation("your.feature.key", USER, False)) is True
    assert fired(client.variation("groups", USER, None)) is True
    assert fired(client.variation("groups", {"key": "x", "anonymous": True}, None)) is False
    assert fired(client.variation_detail("missing", USER, 3)).reason == {"kind": "ERROR", "errorKind": "FLAG_NOT_FOUND"}
    assert fired(client.all_flags(USER)) == {"your.feature.key": True, "groups": True}
    assert fired(client.all_flags_state(USER)).valid
    assert len(client.secure_mode_hash(USER)) == 64
    client.track("Signed up", USER)
    client.track("Completed purchase", USER, {"price": 320})
    client.identify(USER)
    assert fired(client.flush()) is False  # events are off in this config: nothing was delivered
    assert fired(client.close()) is None
    assert fired(client.close()) is None


def test_track_without_user_and_all_flags_without_user_warn(td, caplog):
    client = TwistedLDClient("k", Config(update_processor_class=td, send_events=False), reactor=Clock())
    with caplog.at_level(logging.WARNING):
        client.track("Completed purchase", {"price": 320})
        assert fired(client.all_flags()) is None
    assert "without a user" in caplog.text
    fired(client.close())


def test_offline_and_set_online(td):
    client = TwistedLDClient("k", Config(offline=True, send_events=False, update_processor_class=td), reactor=Clock())
    assert client.is_offline()
    assert fired(client.variation("your.feature.key", USER, "dflt")) == "dflt"
    fired(client.set_online())
    assert not client.is_offline()
    assert fired(client.variation("your.feature.key", USER, "dflt")) is True
    fired(client.set_offline())
    assert fired(client.variation("your.feature.key", USER, "dflt")) == "dflt"
    fired(client.close())


def test_wait_for_initialization_times_out_with_a_clear_failure():
    clock = Clock()

    class Never:
        def __init__(self, *a):
            pass

        def start(self):
            pass

        def stop(self):
            pass

        def initialized(self):
            return False

    client = TwistedLDClient("k", Config(update_processor_class=Never, send_events=False), reactor=clock)
    d = client.wait_for_initialization(timeout=2)
    results = []
    d.addBoth(results.append)
    clock.advance(1.9)
    assert not results
    clock.advance(0.2)
    assert results and results[0].check(InitializationError)
    fired(client.close())


def test_flush_fires_when_the_events_were_delivered():
    """On a real reactor: flush() fires True once the capture server accepted the payload."""
    from ldfast._reactor import ReactorThread
    from tests.support.fake_ld import FakeLaunchDarklyThread

    flags = {"f": {"key": "f", "version": 1, "on": True, "variations": [1, 2], "fallthrough": {"variation": 0},
                   "trackEvents": True}}
    with FakeLaunchDarklyThread(flags) as fake:
        net = ReactorThread("app")
        try:
            config = TwistedConfig(fake.uri, 2, 5, stream_uri=fake.uri, events_uri=fake.uri, diagnostic_opt_out=True)
            client = net.call(lambda: TwistedLDClient("sdk-key", config, reactor=net.reactor))
            net.call(client.wait_for_initialization, 10, timeout=12)
            assert net.call(client.variation, "f", USER, 0) == 1
            net.call(client.track, "Completed purchase", USER, {"price": 320})
            assert net.call(client.flush, timeout=10) is True
            kinds = [e["kind"] for p in fake.event_payloads("/bulk") for e in p.json]
            assert "feature" in kinds and "custom" in kinds and "summary" in kinds
            fake.queue_event_statuses(500, 500)  # recoverable twice: retried once, then dropped
            net.call(client.track, "again", USER)
            assert net.call(client.flush, timeout=10) is False
            net.call(client.close, timeout=10)
        finally:
            net.stop()
