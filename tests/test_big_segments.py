"""Big Segments: the Redis store, the manager (cache, status, listeners), the clients' wiring.

Everything runs against a real ``redis-server``; evaluation results are compared with the official
SDK reading the same Redis data. The file runs in both passes (compiled and pure twins).
"""
from __future__ import annotations

import copy
import json
import logging
import os
import queue
import signal
import threading
import time
import uuid

import pytest
import redis
from ldclient.client import LDClient as OfficialLDClient
from ldclient.config import BigSegmentsConfig as OfficialBigSegmentsConfig
from ldclient.config import Config as OfficialConfig
from ldclient.context import Context as OfficialContext
from ldclient.impl.big_segments_common import _hash_for_user_key as official_hash
from ldclient.integrations import Redis as OfficialRedis

import ldfast
from ldfast.big_segments import BigSegmentStoreManager, BigSegmentStoreStatus, hash_for_context_key
from ldfast.config import BigSegmentsConfig
from ldfast.integrations._redis_big_segments import RedisBigSegmentStore
from tests.helpers import static_source
from tests.support.redis_server import RedisServer

NOW_MS = lambda: int(time.time() * 1000)  # noqa: E731


@pytest.fixture
def prefix():
    return "bs-" + uuid.uuid4().hex[:8]


@pytest.fixture
def r(server):
    client = redis.Redis.from_url(server.url)
    yield client
    client.close()


def put_membership(r, prefix, key, include=(), exclude=()):
    h = hash_for_context_key(key)
    if include:
        r.sadd("%s:big_segment_include:%s" % (prefix, h), *include)
    if exclude:
        r.sadd("%s:big_segment_exclude:%s" % (prefix, h), *exclude)


def set_synchronized(r, prefix, value):
    if value is None:
        r.delete(prefix + ":big_segments_synchronized_on")
    else:
        r.set(prefix + ":big_segments_synchronized_on", value)


# -- key hash, layout, membership ---------------------------------------------------------------

def test_key_hash_is_base64_sha256_of_the_utf8_key():
    assert hash_for_context_key("userkey") == "72cBpXPyn4N6TqqlS8Tti37jEcoNhFzL9ZdG1jXkILE="
    for key in ("", "a", "ünïcødé-ключ", "x" * 1000, "with space/and:colon"):
        assert hash_for_context_key(key) == official_hash(key)


def test_store_reads_the_relay_layout_and_include_wins(server, r, prefix):
    put_membership(r, prefix, "u1", include=["a.g1", "b.g1"], exclude=["b.g1", "c.g1"])
    put_membership(r, prefix, "u2", exclude=["a.g1"])
    store = RedisBigSegmentStore(url=server.url, prefix=prefix)
    official = OfficialRedis.new_big_segment_store(url=server.url, prefix=prefix)
    try:
        for key in ("u1", "u2", "nobody"):
            h = hash_for_context_key(key)
            assert store.get_membership(h) == official.get_membership(h)
        assert store.get_membership(hash_for_context_key("u1")) == {"a.g1": True, "b.g1": True, "c.g1": False}
        assert store.get_membership(hash_for_context_key("u2")) == {"a.g1": False}
        assert store.get_membership(hash_for_context_key("nobody")) is None
        assert store.get_metadata().last_up_to_date is None
        set_synchronized(r, prefix, 1700000000123)
        assert store.get_metadata().last_up_to_date == 1700000000123
        assert official.get_metadata().last_up_to_date == 1700000000123
        set_synchronized(r, prefix, "not a number")
        with pytest.raises(ValueError, match="synchronized_on"):
            store.get_metadata()
    finally:
        store.stop()
        official.stop()


def test_empty_prefix_means_launchdarkly(server, r):
    r.sadd("launchdarkly:big_segment_include:" + hash_for_context_key("p-user"), "s.g1")
    try:
        for prefix in (None, ""):
            store = RedisBigSegmentStore(url=server.url, prefix=prefix)
            assert store.prefix == "launchdarkly"
            assert store.get_membership(hash_for_context_key("p-user")) == {"s.g1": True}
            store.stop()
    finally:
        r.delete("launchdarkly:big_segment_include:" + hash_for_context_key("p-user"))


def test_bad_max_connections_is_refused(server):
    for bad in (0, -1, "8", True):
        with pytest.raises(ValueError):
            RedisBigSegmentStore(url=server.url, max_connections=bad)


# -- the oracle: same Redis data, same flags, official SDK vs ldfast ----------------------------

def _rule(rid, values, variation=1):
    return {"id": rid, "variation": variation, "trackEvents": False,
            "clauses": [{"attribute": "", "op": "segmentMatch", "values": values, "negate": False}]}


def _flag(key, rules, prerequisites=()):
    return {"key": key, "version": 1, "on": True, "variations": ["off", "on", "other"], "offVariation": 0,
            "fallthrough": {"variation": 0}, "targets": [], "contextTargets": [], "salt": key,
            "prerequisites": list(prerequisites), "rules": rules, "trackEvents": False}


SEGMENTS = {
    # user kind (default), generation 2; its included list must be ignored; its rule applies
    # when the membership has no ref for it
    "big-user": {"key": "big-user", "version": 1, "unbounded": True, "generation": 2, "salt": "s1",
                 "included": ["u-listed"], "excluded": [], "rules": [
                     {"id": "vip", "clauses": [{"attribute": "vip", "op": "in", "values": [True], "negate": False}]}]},
    "big-org": {"key": "big-org", "version": 1, "unbounded": True, "unboundedContextKind": "org", "generation": 7,
                "salt": "s2", "included": [], "excluded": [], "rules": []},
    "big-nogen": {"key": "big-nogen", "version": 1, "unbounded": True, "salt": "s3", "included": [], "excluded": [],
                  "rules": []},
    "plain": {"key": "plain", "version": 1, "salt": "s4", "included": ["u-in"], "excluded": [], "rules": []},
}

FLAGS = {
    "f-user": _flag("f-user", [_rule("r1", ["big-user"])]),
    "f-org": _flag("f-org", [_rule("r1", ["big-org"])]),
    "f-both": _flag("f-both", [_rule("r1", ["big-user"]), _rule("r2", ["big-org"], 2)]),
    "f-any": _flag("f-any", [_rule("r1", ["big-org", "big-user"])]),
    "f-nogen": _flag("f-nogen", [_rule("r1", ["big-nogen"])]),
    "f-plain": _flag("f-plain", [_rule("r1", ["plain"])]),
    "f-prereq": _flag("f-prereq", [], prerequisites=[{"key": "f-user", "variation": 1}]),
    "f-static": _flag("f-static", []),
}

CONTEXTS = [
    {"kind": "user", "key": "u-in"},
    {"kind": "user", "key": "u-ex"},
    {"kind": "user", "key": "u-both"},
    {"kind": "user", "key": "u-none"},
    {"kind": "user", "key": "u-none", "vip": True},
    {"kind": "user", "key": "u-listed"},
    {"kind": "user", "key": "u-oldgen"},
    {"kind": "org", "key": "o-in"},
    {"kind": "org", "key": "u-in"},  # membership is looked up by key only, not kind
    {"kind": "device", "key": "d-1"},
    {"kind": "multi", "user": {"key": "u-ex"}, "org": {"key": "o-in"}},
    {"kind": "multi", "user": {"key": "u-none", "vip": True}, "org": {"key": "o-out"}},
]


def seed_memberships(r, prefix):
    put_membership(r, prefix, "u-in", include=["big-user.g2"])
    put_membership(r, prefix, "u-ex", exclude=["big-user.g2"])
    put_membership(r, prefix, "u-both", include=["big-user.g2"], exclude=["big-user.g2"])
    put_membership(r, prefix, "u-oldgen", include=["big-user.g1"])
    put_membership(r, prefix, "o-in", include=["big-org.g7"])
    put_membership(r, prefix, "o-out", exclude=["big-org.g7"])


def official_client(url, prefix, big_segments=True):
    from ldclient.interfaces import UpdateProcessor
    from ldclient.versioned_data_kind import FEATURES, SEGMENTS as SEGMENTS_KIND

    class Source(UpdateProcessor):
        def __init__(self, config, store, ready):
            self._store, self._ready = store, ready

        def start(self):
            self._store.init({FEATURES: copy.deepcopy(FLAGS), SEGMENTS_KIND: copy.deepcopy(SEGMENTS)})
            self._ready.set()

        def stop(self):
            pass

        def is_alive(self):
            return True

        def initialized(self):
            return True

    kwargs = {}
    if big_segments:
        kwargs["big_segments"] = OfficialBigSegmentsConfig(
            store=OfficialRedis.new_big_segment_store(url=url, prefix=prefix, redis_opts={"socket_timeout": 2}))
    config = OfficialConfig("sdk-key", update_processor_class=Source, send_events=False, diagnostic_opt_out=True,
                            **kwargs)
    return OfficialLDClient(config=config, start_wait=5)


def fast_client(url, prefix, big_segments=True, **bs_kwargs):
    kwargs = {}
    if big_segments:
        kwargs["big_segments"] = BigSegmentsConfig(
            store=RedisBigSegmentStore(url=url, prefix=prefix, redis_opts={"socket_timeout": 2}), **bs_kwargs)
    config = ldfast.Config("sdk-key", update_processor_class=static_source(copy.deepcopy(FLAGS),
                                                                           copy.deepcopy(SEGMENTS)),
                           send_events=False, **kwargs)
    return ldfast.LDClient(config=config, start_wait=5)


def canon(detail):
    return json.dumps([detail.value, detail.variation_index, detail.reason], sort_keys=True)


def compare_with_official(url, prefix, big_segments=True):
    """Every flag x context evaluated by both SDKs; returns the set of bigSegmentsStatus values seen."""
    official = official_client(url, prefix, big_segments)
    fast = fast_client(url, prefix, big_segments)
    statuses = set()
    try:
        for ctx in CONTEXTS:
            oc = OfficialContext.from_dict(copy.deepcopy(ctx))
            fc = ldfast.Context.from_dict(copy.deepcopy(ctx))
            for key in FLAGS:
                expected = official.variation_detail(key, oc, "default")
                got = fast.variation_detail(key, fc, "default")
                assert canon(got) == canon(expected), (key, ctx)
                assert fast.variation(key, fc, "default") == expected.value
                statuses.add(expected.reason.get("bigSegmentsStatus"))
            expected_all = official.all_flags_state(oc, with_reasons=True).to_json_dict()
            got_all = fast.all_flags_state(fc, with_reasons=True).to_json_dict()
            assert json.dumps(got_all, sort_keys=True) == json.dumps(expected_all, sort_keys=True), ctx
    finally:
        official.close()
        fast.close()
    return statuses


@pytest.mark.parametrize("synchronized, status", [
    (lambda: NOW_MS(), "HEALTHY"),
    (lambda: NOW_MS() - 200_000, "STALE"),  # stale_after defaults to 120 s
    (lambda: None, "STALE"),  # never synchronized
    (lambda: "garbage", "STORE_ERROR"),  # unreadable metadata: the store is unavailable
], ids=["fresh", "old", "missing", "garbage"])
def test_same_results_as_the_official_sdk(server, r, prefix, synchronized, status):
    seed_memberships(r, prefix)
    set_synchronized(r, prefix, synchronized())
    statuses = compare_with_official(server.url, prefix)
    assert statuses == {None, "NOT_CONFIGURED", status}


def test_same_results_as_the_official_sdk_when_redis_is_down(prefix):
    down = RedisServer()  # a free port where nothing listens
    statuses = compare_with_official(down.url, prefix)
    assert statuses == {None, "NOT_CONFIGURED", "STORE_ERROR"}
    down.close()


def test_same_results_as_the_official_sdk_without_a_store(server, r, prefix):
    seed_memberships(r, prefix)
    set_synchronized(r, prefix, NOW_MS())
    assert compare_with_official(server.url, prefix, big_segments=False) == {None, "NOT_CONFIGURED"}


def test_expected_answers_are_what_the_layout_says(server, r, prefix):
    """Not only equal to the official SDK: the answers a user relies on."""
    seed_memberships(r, prefix)
    set_synchronized(r, prefix, NOW_MS())
    client = fast_client(server.url, prefix)
    try:
        def detail(ctx, key="f-user"):
            return client.variation_detail(key, ldfast.Context.from_dict(ctx), "default")

        d = detail({"kind": "user", "key": "u-in"})
        assert (d.value, d.reason) == ("on", {"kind": "RULE_MATCH", "ruleIndex": 0, "ruleId": "r1",
                                               "bigSegmentsStatus": "HEALTHY"})
        assert detail({"kind": "user", "key": "u-ex", "vip": True}).value == "off"  # excluded beats the rule
        assert detail({"kind": "user", "key": "u-both"}).value == "on"  # include wins
        assert detail({"kind": "user", "key": "u-none", "vip": True}).value == "on"  # rules still apply
        assert detail({"kind": "user", "key": "u-listed"}).value == "off"  # lists do not
        assert detail({"kind": "user", "key": "u-oldgen"}).value == "off"  # other generation
        assert detail({"kind": "org", "key": "o-in"}, "f-org").value == "on"
        d = detail({"kind": "device", "key": "d-1"}, "f-both")
        assert d.value == "off" and "bigSegmentsStatus" not in d.reason  # no context of that kind: no lookup
        assert client.variation_detail("f-plain", ldfast.Context.create("u-in"), None).reason == {
            "kind": "RULE_MATCH", "ruleIndex": 0, "ruleId": "r1"}
    finally:
        client.close()


# -- the manager: cache and status ----------------------------------------------------------------

class CountingStore:
    """The real Redis store, counting membership queries."""

    def __init__(self, store):
        self.store = store
        self.queries = []

    def get_metadata(self):
        return self.store.get_metadata()

    def get_membership(self, context_hash):
        self.queries.append(context_hash)
        return self.store.get_membership(context_hash)

    def stop(self):
        self.store.stop()


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def manager_for(url, prefix, clock=None, **kwargs):
    store = CountingStore(RedisBigSegmentStore(url=url, prefix=prefix))
    config = BigSegmentsConfig(store=store, **kwargs)
    extra = {"clock": clock} if clock is not None else {}
    return BigSegmentStoreManager(config, **extra), store


def test_membership_is_cached_for_context_cache_time(server, r, prefix):
    set_synchronized(r, prefix, NOW_MS())
    put_membership(r, prefix, "u", include=["s.g1"])
    clock = FakeClock()
    manager, store = manager_for(server.url, prefix, clock, context_cache_time=5)
    try:
        assert manager.lookup("u") == ({"s.g1": True}, "HEALTHY")
        r.delete("%s:big_segment_include:%s" % (prefix, hash_for_context_key("u")))
        put_membership(r, prefix, "u", exclude=["s.g1"])
        clock.now += 4.9
        assert manager.lookup("u") == ({"s.g1": True}, "HEALTHY")  # still cached
        assert manager.cached("u") == ({"s.g1": True}, "HEALTHY")
        assert len(store.queries) == 1
        clock.now += 0.2
        assert manager.cached("u") is None
        assert manager.lookup("u") == ({"s.g1": False}, "HEALTHY")  # the change is seen
        assert len(store.queries) == 2
        # "no membership" is cached too
        assert manager.lookup("nobody") == ({}, "HEALTHY")
        assert manager.lookup("nobody") == ({}, "HEALTHY")
        assert len(store.queries) == 3
    finally:
        manager.stop()


def test_membership_cache_capacity_evicts_least_recently_used(server, r, prefix):
    set_synchronized(r, prefix, NOW_MS())
    manager, store = manager_for(server.url, prefix, FakeClock(), context_cache_size=2)
    try:
        for key in ("a", "b", "a", "c"):  # "a" was used after "b": "b" is evicted by "c"
            manager.lookup(key)
        assert len(store.queries) == 3
        manager.lookup("a")
        assert len(store.queries) == 3
        manager.lookup("b")
        assert store.queries[-1] == hash_for_context_key("b") and len(store.queries) == 4
    finally:
        manager.stop()


def test_zero_cache_time_queries_every_time(server, r, prefix):
    set_synchronized(r, prefix, NOW_MS())
    manager, store = manager_for(server.url, prefix, context_cache_time=0)
    try:
        manager.lookup("a")
        manager.lookup("a")
        assert len(store.queries) == 2
        assert manager.cached("a") is None
    finally:
        manager.stop()


def test_client_sees_a_membership_change_after_context_cache_time(server, r, prefix):
    seed_memberships(r, prefix)
    set_synchronized(r, prefix, NOW_MS())
    client = fast_client(server.url, prefix, context_cache_time=1.0)
    try:
        user = ldfast.Context.create("u-in")
        assert client.variation("f-user", user, None) == "on"
        r.delete("%s:big_segment_include:%s" % (prefix, hash_for_context_key("u-in")))
        assert client.variation("f-user", user, None) == "on"  # cached
        time.sleep(1.05)
        assert client.variation("f-user", user, None) == "off"
    finally:
        client.close()


def test_status_provider_listeners_on_stale_and_outage_transitions(prefix, caplog):
    server = RedisServer().start()
    rr = redis.Redis.from_url(server.url)
    set_synchronized(rr, prefix, NOW_MS())
    seed_memberships(rr, prefix)
    client = fast_client(server.url, prefix, status_poll_interval=0.05, stale_after=30)
    changes: "queue.Queue[BigSegmentStoreStatus]" = queue.Queue()
    provider = client.big_segment_store_status_provider
    try:
        assert provider.status == BigSegmentStoreStatus(True, False)
        provider.add_listener(changes.put)
        user = ldfast.Context.create("u-in")
        assert client.variation_detail("f-user", user, None).reason["bigSegmentsStatus"] == "HEALTHY"

        set_synchronized(rr, prefix, NOW_MS() - 31_000)
        assert changes.get(timeout=5) == BigSegmentStoreStatus(True, True)
        assert client.variation_detail("f-user", user, None).reason["bigSegmentsStatus"] == "STALE"

        with caplog.at_level(logging.WARNING, logger="ldfast.big_segments"):
            server.stop()
            assert changes.get(timeout=5) == BigSegmentStoreStatus(False, False)
            assert provider.status.available is False
            # cached membership, unavailable store: STORE_ERROR (as the official SDK)
            d = client.variation_detail("f-user", user, None)
            assert (d.value, d.reason["bigSegmentsStatus"]) == ("on", "STORE_ERROR")
            # not cached: no membership, STORE_ERROR, and no exception
            d = client.variation_detail("f-user", ldfast.Context.create("u-ex"), None)
            assert (d.value, d.reason["bigSegmentsStatus"]) == ("off", "STORE_ERROR")
        assert any("status query failed" in rec.getMessage() for rec in caplog.records)
        assert any("membership query failed" in rec.getMessage() for rec in caplog.records)

        server.start()  # comes back empty: never synchronized, so stale
        assert changes.get(timeout=5) == BigSegmentStoreStatus(True, True)
        rr = redis.Redis.from_url(server.url)
        set_synchronized(rr, prefix, NOW_MS())
        seed_memberships(rr, prefix)
        assert changes.get(timeout=5) == BigSegmentStoreStatus(True, False)
        d = client.variation_detail("f-user", ldfast.Context.create("u-ex", ), None)
        assert (d.value, d.reason["bigSegmentsStatus"]) == ("off", "HEALTHY")
        d = client.variation_detail("f-user", ldfast.Context.create("u-both"), None)
        assert (d.value, d.reason["bigSegmentsStatus"]) == ("on", "HEALTHY")

        provider.remove_listener(changes.put)
        set_synchronized(rr, prefix, None)
        deadline = time.monotonic() + 5
        while provider.status.stale is False and time.monotonic() < deadline:
            time.sleep(0.02)
        assert provider.status == BigSegmentStoreStatus(True, True)
        assert changes.empty()  # removed listeners are not called
    finally:
        client.close()
        rr.close()
        server.close()


def test_without_a_store_the_provider_reports_unavailable():
    client = ldfast.LDClient(ldfast.Config("k", offline=True))
    try:
        assert client.big_segment_store_status_provider.status == BigSegmentStoreStatus(False, False)
    finally:
        client.close()


def test_a_listener_that_raises_does_not_stop_the_poll(server, r, prefix):
    set_synchronized(r, prefix, NOW_MS())
    manager, _ = manager_for(server.url, prefix)
    got = []
    manager.status_provider.add_listener(lambda s: 1 / 0)
    manager.status_provider.add_listener(got.append)
    try:
        manager.poll_store_and_update_status()
        set_synchronized(r, prefix, None)
        manager.poll_store_and_update_status()
        assert got == [BigSegmentStoreStatus(True, True)]
    finally:
        manager.stop()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_polls_and_queries_by_itself(server, r, prefix):
    seed_memberships(r, prefix)
    set_synchronized(r, prefix, NOW_MS())
    client = fast_client(server.url, prefix, status_poll_interval=0.05)
    try:
        assert client.variation("f-user", ldfast.Context.create("u-in"), None) == "on"
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: its own poll thread and Redis connections
            try:
                os.close(read_end)
                changes: "queue.Queue" = queue.Queue()
                client.big_segment_store_status_provider.add_listener(changes.put)
                first = client.variation_detail("f-user", ldfast.Context.create("u-both"), None)
                os.write(write_end, b"ready")
                try:
                    status = changes.get(timeout=10)
                except queue.Empty:
                    status = None
                out = "%s %s %s" % (first.value, first.reason["bigSegmentsStatus"], status)
                os.write(write_end, out.encode())
            finally:
                os._exit(0)
        os.close(write_end)
        try:
            assert os.read(read_end, 5) == b"ready"
            set_synchronized(r, prefix, None)
            result = b""
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                chunk = os.read(read_end, 200)
                if not chunk:
                    break
                result += chunk
            assert result.decode() == "on HEALTHY BigSegmentStoreStatus(available=True, stale=True)"
        finally:
            os.close(read_end)
            os.waitpid(pid, 0)
    finally:
        client.close()


# -- a hung Redis: bounded calls, close() bounded ------------------------------------------------

def _pause(server):
    os.kill(server._proc.pid, signal.SIGSTOP)


def _resume(server):
    os.kill(server._proc.pid, signal.SIGCONT)


def test_sync_client_close_is_bounded_when_redis_hangs(prefix):
    server = RedisServer().start()
    rr = redis.Redis.from_url(server.url)
    set_synchronized(rr, prefix, NOW_MS())
    rr.close()
    store = RedisBigSegmentStore(url=server.url, prefix=prefix, redis_opts={"socket_timeout": 1})
    config = ldfast.Config("sdk-key", update_processor_class=static_source(FLAGS, SEGMENTS), send_events=False,
                           big_segments=BigSegmentsConfig(store=store, status_poll_interval=0.05))
    client = ldfast.LDClient(config=config, start_wait=5)
    try:
        _pause(server)
        started = time.monotonic()
        d = client.variation_detail("f-user", ldfast.Context.create("u-in"), None)
        assert d.reason["bigSegmentsStatus"] == "STORE_ERROR"
        assert time.monotonic() - started < 3  # the socket timeout bounds the caller's wait
        started = time.monotonic()
        client.close()
        assert time.monotonic() - started < 3
    finally:
        _resume(server)
        server.close()


# -- TwistedLDClient: fetched in a thread pool, never on the reactor -----------------------------

@pytest.fixture
def net():
    from ldfast._reactor import ReactorThread

    thread = ReactorThread("app")
    yield thread
    thread.stop()


def twisted_client(net, url, prefix, **bs_kwargs):
    from ldfast.twisted import TwistedLDClient

    opts = bs_kwargs.pop("redis_opts", {"socket_timeout": 2})
    store = RedisBigSegmentStore(url=url, prefix=prefix, redis_opts=opts)
    config = ldfast.Config(update_processor_class=static_source(copy.deepcopy(FLAGS), copy.deepcopy(SEGMENTS)),
                           send_events=False, big_segments=BigSegmentsConfig(store=store, **bs_kwargs))
    return net.call(lambda: TwistedLDClient("sdk-key", config, reactor=net.reactor))


def test_twisted_deferred_fires_with_the_membership_after_a_cache_miss(server, r, prefix, net):
    seed_memberships(r, prefix)
    set_synchronized(r, prefix, NOW_MS())
    client = twisted_client(net, server.url, prefix)
    official = official_client(server.url, prefix)
    try:
        net.call(lambda: client.big_segment_store_status_provider.status)  # never blocks
        user = {"key": "u-in"}

        def first_call():
            d = client.variation_detail("f-user", user, "default")
            return d.called, d

        called, d = net.call(first_call)
        assert called is False  # a miss: the store is read in a thread, not on the reactor
        detail = net.call(lambda: d, timeout=10)
        assert (detail.value, detail.reason["bigSegmentsStatus"]) == ("on", "HEALTHY")

        def second_call():
            d = client.variation("f-user", user, "default")
            return d.called, d

        called, d = net.call(second_call)
        assert called is True  # cached now: fired at once
        assert net.call(lambda: d) == "on"
        # a flag that reads no segment and no prerequisite never waits
        assert net.call(lambda: client.variation("f-static", {"key": "u-zzz"}, None).called) is True
        # every flag x context equals the official SDK's answer, through the Deferred API
        for ctx in CONTEXTS:
            oc = OfficialContext.from_dict(copy.deepcopy(ctx))
            fc = ldfast.Context.from_dict(copy.deepcopy(ctx))
            for key in FLAGS:
                got = net.call(client.variation_detail, key, fc, "default", timeout=10)
                assert canon(got) == canon(official.variation_detail(key, oc, "default")), (key, ctx)
            got_all = net.call(lambda: client.all_flags_state(fc, with_reasons=True), timeout=10).to_json_dict()
            expected_all = official.all_flags_state(oc, with_reasons=True).to_json_dict()
            assert json.dumps(got_all, sort_keys=True) == json.dumps(expected_all, sort_keys=True)
        assert net.call(client.all_flags, {"key": "u-both"}, timeout=10)["f-user"] == "on"
    finally:
        official.close()
        net.call(client.close, timeout=10)


def test_twisted_reactor_keeps_ticking_while_redis_hangs(prefix, net):
    from twisted.internet.task import LoopingCall

    server = RedisServer().start()
    rr = redis.Redis.from_url(server.url)
    seed_memberships(rr, prefix)
    set_synchronized(rr, prefix, NOW_MS())
    rr.close()
    client = twisted_client(net, server.url, prefix, redis_opts={"socket_timeout": 1.5}, status_poll_interval=0.05)
    ticks = []
    loop = LoopingCall(lambda: ticks.append(time.monotonic()))
    loop.clock = net.reactor
    try:
        # warm: the status is known and u-in is cached
        assert net.call(client.variation, "f-user", {"key": "u-in"}, None, timeout=10) == "on"
        net.call(lambda: loop.start(0.01) and None)
        _pause(server)
        started = time.monotonic()
        results = [net.call(client.variation_detail, "f-user", {"key": k}, None, timeout=10)
                   for k in ("u-both", "u-none")]
        elapsed = time.monotonic() - started
        assert all(d.reason["bigSegmentsStatus"] == "STORE_ERROR" for d in results)
        assert elapsed >= 1.0  # the lookups really waited on the hung Redis ...
        net.call(loop.stop)
        gaps = [b - a for a, b in zip(ticks, ticks[1:])]
        assert len(ticks) > 50 and max(gaps) < 0.5  # ... while the reactor kept ticking
        started = time.monotonic()
        net.call(client.close, timeout=10)  # bounded too
        assert time.monotonic() - started < 3
    finally:
        _resume(server)
        server.close()


def test_twisted_listeners_run_on_the_reactor(server, r, prefix, net):
    set_synchronized(r, prefix, NOW_MS())
    client = twisted_client(net, server.url, prefix, status_poll_interval=0.05)
    seen: "queue.Queue" = queue.Queue()
    try:
        net.call(lambda: client.big_segment_store_status_provider.add_listener(
            lambda s: seen.put((s, net.in_thread()))))
        deadline = time.monotonic() + 5
        while net.call(lambda: client.big_segment_store_status_provider.status.available) is False:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        set_synchronized(r, prefix, None)
        status, on_reactor = seen.get(timeout=5)
        assert status == BigSegmentStoreStatus(True, True) and on_reactor is True
    finally:
        net.call(client.close, timeout=10)


def test_twisted_without_big_segments_fires_at_once():
    from twisted.internet.task import Clock

    from ldfast.twisted import TwistedLDClient

    config = ldfast.Config(update_processor_class=static_source(FLAGS, SEGMENTS), send_events=False)
    client = TwistedLDClient("sdk-key", config, reactor=Clock())
    d = client.variation_detail("f-user", {"key": "u-in"}, None)
    assert d.called and d.result.reason["bigSegmentsStatus"] == "NOT_CONFIGURED"
    assert client._core.big_segments.__name__ == "_no_big_segment_store"  # the plain path
    client.close()


def test_non_blocking_status_before_the_first_poll_does_not_query(server, r, prefix):
    set_synchronized(r, prefix, NOW_MS())

    class MetadataCounter(CountingStore):
        metadata_queries = 0

        def get_metadata(self):
            self.metadata_queries += 1
            return self.store.get_metadata()

    store = MetadataCounter(RedisBigSegmentStore(url=server.url, prefix=prefix))
    manager = BigSegmentStoreManager(BigSegmentsConfig(store=store), blocking_status=False)
    try:
        assert manager.status_provider.status == BigSegmentStoreStatus(False, False)
        assert manager.cached("u") is None and store.metadata_queries == 0
        manager.poll_store_and_update_status()
        assert manager.status_provider.status == BigSegmentStoreStatus(True, False)
        assert store.metadata_queries == 1
    finally:
        manager.stop()
    blocking = BigSegmentStoreManager(BigSegmentsConfig(store=store))  # the sync client's: queries at once
    try:
        assert blocking.status_provider.status == BigSegmentStoreStatus(True, False)
        assert store.metadata_queries == 2
    finally:
        blocking.stop()


def test_twisted_on_a_reactor_without_threads_reports_store_error(server, r, prefix, caplog):
    from twisted.internet.task import Clock

    from ldfast.twisted import TwistedLDClient

    seed_memberships(r, prefix)
    set_synchronized(r, prefix, NOW_MS())
    store = RedisBigSegmentStore(url=server.url, prefix=prefix)
    config = ldfast.Config(update_processor_class=static_source(FLAGS, SEGMENTS), send_events=False,
                           big_segments=BigSegmentsConfig(store=store))
    client = TwistedLDClient("sdk-key", config, reactor=Clock())
    with caplog.at_level(logging.WARNING, logger="ldfast.twisted"):
        d = client.variation_detail("f-user", {"key": "u-in"}, "default")
    assert d.called
    assert (d.result.value, d.result.reason["bigSegmentsStatus"]) == ("off", "STORE_ERROR")
    assert any("membership fetch failed" in rec.getMessage() for rec in caplog.records)
    assert client.close().called


def test_twisted_evaluation_outside_the_deferred_api_never_queries_on_the_reactor(server, r, prefix, net):
    """E.g. the flag tracker evaluates with the core directly: a miss reports STORE_ERROR at once and
    fetches the membership in the thread pool for the next evaluation."""
    seed_memberships(r, prefix)
    set_synchronized(r, prefix, NOW_MS())
    client = twisted_client(net, server.url, prefix)
    try:
        assert net.call(client.variation, "f-static", {"key": "x"}, None, timeout=10) == "off"
        deadline = time.monotonic() + 5
        while client._big_segment_manager.last_status is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        ctx = ldfast.Context.create("u-in")
        d = net.call(lambda: client._core.variation_detail("f-user", ctx, None))
        assert (d.value, d.reason["bigSegmentsStatus"]) == ("off", "STORE_ERROR")
        while client._big_segment_manager.cached("u-in") is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        d = net.call(lambda: client._core.variation_detail("f-user", ctx, None))
        assert (d.value, d.reason["bigSegmentsStatus"]) == ("on", "HEALTHY")
    finally:
        net.call(client.close, timeout=10)


def test_the_public_factory_and_interfaces_are_the_official_names(server, r, prefix):
    """``ldfast.integrations.Redis.new_big_segment_store`` (what users call) returns the Redis big
    segment store, and the interfaces are importable from ``ldfast.interfaces`` as from ``ldclient``."""
    from ldfast.integrations import Redis
    from ldfast.interfaces import BigSegmentStoreMetadata, BigSegmentStoreStatus  # noqa: F401

    put_membership(r, prefix, "u1", include=["a.g1"])
    set_synchronized(r, prefix, 1700000000123)
    store = Redis.new_big_segment_store(url=server.url, prefix=prefix)
    try:
        assert isinstance(store, RedisBigSegmentStore)
        assert store.get_membership(hash_for_context_key("u1")) == {"a.g1": True}
        assert isinstance(store.get_metadata(), BigSegmentStoreMetadata)
    finally:
        store.stop()


def test_twisted_big_segment_kinds_follow_a_change_to_segments_alone(server, r, prefix):
    """The kinds whose keys the Twisted client looks up follow the stored segments, also when a
    segment changes that no flag uses (no flag changed, so no change listener would hear of it)."""
    from twisted.internet.task import Clock

    from ldfast.twisted import TwistedLDClient
    from ldfast.versioned_data_kind import SEGMENTS as SEGMENT_KIND

    store = RedisBigSegmentStore(url=server.url, prefix=prefix)
    config = ldfast.Config(update_processor_class=static_source(FLAGS, {}), send_events=False,
                           big_segments=BigSegmentsConfig(store=store))
    client = TwistedLDClient("sdk-key", config, reactor=Clock())
    try:
        ctx = ldfast.Context.from_dict({"kind": "multi", "user": {"key": "u"}, "org": {"key": "o"}})
        assert client._big_segment_keys(ctx) == []
        unused = dict(copy.deepcopy(SEGMENTS["big-org"]), key="big-org-no-flag-uses")
        client._store.upsert(SEGMENT_KIND, unused)
        assert client._big_segment_keys(ctx) == ["o"]
        client._store.upsert(SEGMENT_KIND, dict(unused, version=2, deleted=True))
        assert client._big_segment_keys(ctx) == []
    finally:
        client.close()


def test_twisted_queries_only_the_big_segments_the_flag_can_reach_in_evaluation_order(server, r, prefix):
    """A flag's evaluation looks up only the keys of the Big Segments it can reach (its rules, its
    segments' rules, its prerequisites), in the order the evaluation meets them; the contract
    tests' "no query is done if context kind does not match" and "queries may be done for
    multiple context kinds" check the same."""
    from twisted.internet.task import Clock

    from ldfast.twisted import TwistedLDClient

    segments = dict(copy.deepcopy(SEGMENTS))
    # a plain segment whose rule refers to a Big Segment of the org kind
    segments["refers-org"] = {"key": "refers-org", "version": 1, "salt": "s5", "included": [], "excluded": [],
                              "rules": [{"id": "x", "clauses": [{"attribute": "", "op": "segmentMatch",
                                                                 "values": ["big-org"], "negate": False}]}]}
    flags = dict(copy.deepcopy(FLAGS))
    flags["f-nested"] = _flag("f-nested", [_rule("r1", ["refers-org"])])
    flags["f-order"] = _flag("f-order", [_rule("r1", ["big-user"])], prerequisites=[{"key": "f-org", "variation": 1}])
    store = RedisBigSegmentStore(url=server.url, prefix=prefix)
    config = ldfast.Config(update_processor_class=static_source(flags, segments), send_events=False,
                           big_segments=BigSegmentsConfig(store=store))
    client = TwistedLDClient("sdk-key", config, reactor=Clock())
    try:
        ctx = ldfast.Context.from_dict({"kind": "multi", "user": {"key": "u"}, "org": {"key": "o"}})
        keys = lambda key: client._big_segment_keys(ctx, client._store._flags[key])  # noqa: E731
        assert keys("f-org") == ["o"]        # the store's user-kind Big Segment is not reachable
        assert keys("f-user") == ["u"]
        assert keys("f-plain") == []
        assert keys("f-nogen") == []         # no generation: not a queryable Big Segment
        assert keys("f-nested") == ["o"]     # through a segment's rule
        assert keys("f-prereq") == ["u"]     # through a prerequisite
        assert keys("f-order") == ["o", "u"]  # the prerequisite is evaluated before the rules
        assert keys("f-both") == ["u", "o"]
        user_only = ldfast.Context.from_dict({"kind": "user", "key": "u"})
        assert client._big_segment_keys(user_only, client._store._flags["f-org"]) == []
        assert client._big_segment_keys(ctx) == ["u", "o"]  # all flags: every Big Segment's kind
    finally:
        client.close()
