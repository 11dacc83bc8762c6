"""Client surface: all_flags_state options, legacy forms, secure mode hash, shared client, config checks."""
import json
import time

import pytest

import ldfast
from ldfast import Config, Context, LDClient
from tests.helpers import local_client, static_source

FLAGS = {
    "f1": {"key": "f1", "version": 2, "on": True, "variations": [True, False], "fallthrough": {"variation": 0}},
    "f2": {"key": "f2", "version": 3, "on": False, "variations": ["x", "y"], "offVariation": 1, "trackEvents": True,
           "debugEventsUntilDate": 1, "clientSide": True},
    "f3": {"key": "f3", "version": 4, "on": True, "variations": [1, 2], "fallthrough": {"variation": 0},
           "prerequisites": [{"key": "f2", "variation": 0}]},
    "f4": {"key": "f4", "version": 5, "on": True, "variations": [1, 2], "trackEventsFallthrough": True,
           "fallthrough": {"variation": 1}, "debugEventsUntilDate": int(time.time() * 1000) + 3600_000},
}


@pytest.fixture
def client():
    c = local_client(FLAGS)
    yield c
    c.close()


def test_all_flags_state_matches_protocol_example(client):
    state = client.all_flags_state({"key": "u"})
    d = state.to_json_dict()
    assert d["f1"] is True and d["f2"] == "y" and d["f3"] is None and d["$valid"] is True
    meta = d["$flagsState"]
    assert meta["f1"] == {"version": 2, "variation": 0}
    assert meta["f2"] == {"version": 3, "variation": 1, "trackEvents": True, "debugEventsUntilDate": 1}
    assert meta["f3"] == {"version": 4, "prerequisites": ["f2"]}
    assert meta["f4"]["trackReason"] is True and meta["f4"]["reason"] == {"kind": "FALLTHROUGH"}


def test_all_flags_state_options(client):
    ctx = Context.create("u")
    with_reasons = client.all_flags_state(ctx, with_reasons=True)
    assert with_reasons.get_flag_reason("f1") == {"kind": "FALLTHROUGH"}
    assert with_reasons.get_flag_reason("f3") == {"kind": "PREREQUISITE_FAILED", "prerequisiteKey": "f2"}
    assert list(client.all_flags_state(ctx, client_side_only=True).to_values_map()) == ["f2"]
    tracked = client.all_flags_state(ctx, with_reasons=True, details_only_for_tracked_flags=True).to_json_dict()["$flagsState"]
    assert tracked["f1"] == {"variation": 0}                      # untracked: no version, no reason
    assert "version" in tracked["f2"] and "version" in tracked["f4"]
    state = client.all_flags_state(ctx, with_reasons=True)
    text = state.to_json_string()  # compact JSON (orjson) of the same data as the official json.dumps
    assert text.startswith('{"f1":true') and json.loads(text) == json.loads(json.dumps(state.to_json_dict()))
    assert not client.all_flags_state({"nokey": 1}).valid


def test_legacy_all_flags(client, caplog):
    assert client.all_flags({"key": "u"}) == {"f1": True, "f2": "y", "f3": None, "f4": 2}
    assert client.all_flags() is None
    assert "without a user" in caplog.text


def test_secure_mode_hash():
    c = LDClient(Config("sdk-key", offline=True))
    assert c.secure_mode_hash({"key": "Message"}) == "7442ab8ed0c7cf3eab964220ee11038b5f9ace3c25441fda9f42ebf45cbb15cb"
    assert c.secure_mode_hash(Context.create("Message", "org")) == "69a7a2e080d102985728a703eb22d2c831548d620f9de43d60f85433d758afa1"
    assert c.secure_mode_hash({"nokey": 1}) == ""
    c.close()


def test_positional_sdk_key_form():
    c = LDClient("sdk-key", Config(update_processor_class=static_source(FLAGS), send_events=False))
    assert c.get_sdk_key() == "sdk-key" and c.is_initialized() and c.variation("f1", {"key": "u"}, None) is True
    c.close()


def test_shared_client():
    ldfast.set_config(Config("k", update_processor_class=static_source(FLAGS), send_events=False))
    c = ldfast.get()
    assert ldfast.get() is c and c.variation("f2", {"key": "u"}, None) == "y"
    ldfast.set_config(Config(offline=True))
    assert ldfast.get() is not c and ldfast.get().is_offline()
    ldfast.get().close()


def test_drop_in_import_names():
    import ldfast as ldclient

    for name in ("LDClient", "Config", "Context", "HTTPConfig", "set_config", "get"):
        assert hasattr(ldclient, name)
    from ldfast.evaluation import EvaluationDetail, FeatureFlagsState  # noqa: F401
    from ldfast.integrations.test_data import TestData  # noqa: F401
    from ldfast.versioned_data_kind import FEATURES, SEGMENTS  # noqa: F401


@pytest.mark.parametrize("kwargs,exc,word", [
    ({"sdk_key": 5}, TypeError, "sdk_key"),
    ({"poll_interval": -1}, ValueError, "poll_interval"),
    ({"flush_interval": "5"}, TypeError, "flush_interval"),
    ({"events_max_pending": 0}, ValueError, "events_max_pending"),
    ({"stream": "yes"}, TypeError, "stream"),
    ({"base_uri": ""}, ValueError, "base_uri"),
    ({"private_attributes": "email"}, TypeError, "private_attributes"),
    ({"update_processor_class": 3}, TypeError, "update_processor_class"),
    ({"http": {"connect_timeout": 1}}, TypeError, "http"),
])
def test_bad_config_raises_naming_the_argument(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        Config(**kwargs)


def test_bad_client_arguments():
    with pytest.raises(ValueError, match="start_wait"):
        LDClient(Config(offline=True), start_wait=-1)
    with pytest.raises(TypeError, match="config"):
        LDClient({"sdk_key": "x"})
    with pytest.raises(ValueError):
        ldfast.HTTPConfig(connect_timeout=0)


def test_poll_interval_minimum_and_uri_normalisation():
    c = Config("k", poll_interval=5, base_uri="http://x/")
    assert c.poll_interval == 30 and c.base_uri == "http://x" and c.stream_uri == "https://stream.launchdarkly.com/all"
    assert Config("bad key!").sdk_key == ""
    assert Config(offline=True, send_events=True).send_events is False


def test_flags_state_json_writes_any_value_the_official_sdk_writes():
    from ldfast.evaluation import FeatureFlagsState

    state = FeatureFlagsState(True)
    state.add_flag({"key": "big", "value": 2 ** 70, "variation": 0, "reason": None, "version": 1}, False, False)
    state.add_flag({"key": "ü", "value": "ñ", "variation": 1, "reason": {"kind": "OFF"}, "version": 2}, True, False)
    assert json.loads(state.to_json_string()) == json.loads(json.dumps(state.to_json_dict()))  # 2**70: json.dumps
    state = FeatureFlagsState(True)
    state.add_flag({"key": "ü", "value": "ñ", "variation": 1, "reason": {"kind": "OFF"}, "version": 2}, True, False)
    assert state.to_json_string() == '{"ü":"ñ","$flagsState":{"ü":{"reason":{"kind":"OFF"},"version":2,"variation":1}},"$valid":true}'
