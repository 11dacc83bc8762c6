"""Analytics events end to end: the same script through the official SDK and ldfast, each posting to
a real loopback capture server, must produce the same events (creation times masked)."""
import copy

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


def run(sdk, config_cls, client_cls):
    with FakeLaunchDarklyThread(copy.deepcopy(FLAGS)) as fake:
        config = config_cls("sdk-key", stream_uri=fake.uri, base_uri=fake.uri, events_uri=fake.uri,
                            diagnostic_opt_out=True, flush_interval=60)
        client = client_cls(config=config, start_wait=10)
        try:
            assert client.is_initialized()
            script(sdk, client)
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
