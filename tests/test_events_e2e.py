"""Analytics events end to end: the same script through the official SDK and ldfast, each posting to
a real loopback capture server, must produce the same events (creation times masked)."""
import copy
import json
import time

import pytest

import ldclient
import ldfast
from tests.support.fake_ld import FakeLaunchDarklyThread

FLAGS = {
    "tracked": {"key": "tracked", "version": 3, "on": True, "variations": ["a", "b"], "fallthrough": {"variation": 1},
                "trackEvents": True, "salt": "s"},
    "plain": {"key": "plain", "version": 5, "on": True, "variations": [1, 2, 3], "fallthrough": {"variation": 2},
              "salt": "s"},
    "child": {"key": "child", "version": 2, "on": True, "variations": [False, True], "fallthrough": {"variation": 1},
              "prerequisites": [{"key": "plain", "variation": 2}], "salt": "s"},
    "exp": {"key": "exp", "version": 1, "on": True, "variations": ["x", "y"], "salt": "s",
            "fallthrough": {"rollout": {"kind": "experiment", "variations": [
                {"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}]}}},
}


def script(sdk, client):
    user = sdk.Context.builder("user-1").name("Ann").set("email", "ann@example.com").private("email").build()
    org = sdk.Context.builder("org-9").kind("org").set("plan", "pro").build()
    multi = sdk.Context.create_multi(user, org)
    client.identify(user)
    for ctx in (user, org, multi, user):
        client.variation("tracked", ctx, "dflt")
        client.variation("plain", ctx, 0)
        client.variation_detail("child", ctx, None)
        client.variation("exp", ctx, "none")
        client.variation("missing", ctx, "fallback")
    client.track("purchase", user, {"price": 320}, 99.5)
    client.track("signup", org)
    client.flush()


NOW_MS = int(time.time() * 1000)
MORE_FLAGS = dict(FLAGS, **{
    "debugged": {"key": "debugged", "version": 4, "on": True, "variations": ["d0", "d1"], "fallthrough": {"variation": 0},
                 "debugEventsUntilDate": NOW_MS + 3_600_000, "salt": "s"},
    "excluded": {"key": "excluded", "version": 1, "on": True, "variations": [10, 20], "fallthrough": {"variation": 1},
                 "excludeFromSummaries": True, "trackEvents": True, "salt": "s"},
    "ruled": {"key": "ruled", "version": 8, "on": True, "variations": ["r0", "r1", "r2"], "fallthrough": {"variation": 0},
              "rules": [{"id": "r", "variation": 2, "trackEvents": True,
                         "clauses": [{"attribute": "plan", "op": "in", "values": ["pro"]}]}], "salt": "s"},
    "off": {"key": "off", "version": 2, "on": False, "variations": ["x", "y"], "fallthrough": {"variation": 0},
            "salt": "s"},
})


def wide_script(sdk, client):
    """Every kind of evaluation event, for contexts old and new, anonymous or not, in an order that
    makes a small context-key cache evict."""
    b = sdk.Context.builder
    contexts = [
        b("u1").name("Ann").set("plan", "pro").set("email", "a@x.org").build(),
        b("anon").anonymous(True).set("plan", "free").build(),
        b("o1").kind("org").set("plan", "pro").build(),
        sdk.Context.create_multi(b("u2").build(), b("dev").kind("device").anonymous(True).build()),
        b("u3").set("plan", "pro").build(),
    ]
    client.identify(contexts[1])
    client.identify(contexts[3])
    for round_ in range(3):
        for i, ctx in enumerate(contexts):
            client.variation("plain", ctx, 0)
            client.variation_detail("plain", ctx, 0)
            client.variation("debugged", ctx, "dd")
            client.variation("excluded", ctx, 0)
            client.variation("ruled", ctx, "none")
            client.variation_detail("ruled", ctx, "none")
            client.variation("off", ctx, "default-%d" % round_)
            client.variation("child", ctx, None)
            client.variation("missing", ctx, "fallback-%d" % i)
            client.variation_detail("missing", ctx, "fallback")
            client.variation("exp", ctx, "none")
            if round_ == 1:
                client.track("clicked", ctx, {"n": i, "tags": ["a", "é"]}, i + 0.5)
        client.variation("plain", contexts[0], 1)
    client.flush()


def normalize(payloads):
    events = []
    for p in payloads:
        for e in p.json:
            e = copy.deepcopy(e)
            for k in ("creationDate", "startDate", "endDate"):
                if k in e:
                    e[k] = 0
            if e.get("kind") == "summary":
                for f in e["features"].values():
                    f["contextKinds"] = sorted(f["contextKinds"])
            events.append(e)
    return events


def run(sdk, config_cls, client_cls, the_script=script, flags=FLAGS, **options):
    with FakeLaunchDarklyThread(copy.deepcopy(flags)) as fake:
        config = config_cls("sdk-key", stream_uri=fake.uri, base_uri=fake.uri, events_uri=fake.uri,
                            diagnostic_opt_out=True, flush_interval=60, **options)
        client = client_cls(config=config, start_wait=10)
        try:
            assert client.is_initialized()
            the_script(sdk, client)
            payloads = fake.wait_for_event_payloads(1, "/bulk", timeout=10)
        finally:
            client.close()
        return payloads


def test_same_events_as_the_official_sdk():
    official = run(ldclient, ldclient.Config, ldclient.LDClient)
    ours = run(ldfast, ldfast.Config, ldfast.LDClient)
    assert normalize(ours) == normalize(official)
    kinds = [e["kind"] for e in normalize(ours)]
    assert "identify" in kinds and "feature" in kinds and "custom" in kinds and "summary" in kinds
    body = b"".join(p.body for p in ours)
    assert b"ann@example.com" not in body  # a private attribute never leaves the process
    headers = ours[0]
    assert headers.header("x-launchdarkly-event-schema") == "4" and headers.header("authorization") == "sdk-key"


@pytest.mark.parametrize("options", [
    {},
    {"context_keys_capacity": 2},
    {"omit_anonymous_contexts": True, "context_keys_capacity": 3},
    {"all_attributes_private": True},
    {"private_attributes": ["plan", "/email"]},
])
def test_same_events_as_the_official_sdk_for_every_kind_of_evaluation(options):
    official = run(ldclient, ldclient.Config, ldclient.LDClient, wide_script, MORE_FLAGS, **options)
    ours = run(ldfast, ldfast.Config, ldfast.LDClient, wide_script, MORE_FLAGS, **options)
    expected, actual = normalize(official), normalize(ours)
    assert [e["kind"] for e in actual] == [e["kind"] for e in expected]
    assert actual == expected
    assert {"index", "identify", "feature", "debug", "custom", "summary"} <= {e["kind"] for e in actual}
    # same JSON, keys in the same order (orjson only spells some strings and floats differently)
    pairs = [json.loads(p.body, object_pairs_hook=list) for p in ours]
    assert [[k for k, _ in e] for p in pairs for e in p] == [[k for k, _ in e] for p in (
        json.loads(p.body, object_pairs_hook=list) for p in official) for e in p]
