"""Daemon mode (``use_ldd=True``) and the Redis store end to end, with the official SDK as oracle:
its Redis store writes -> ldfast reads, ldfast (streaming from the fake LaunchDarkly) writes -> the
official daemon-mode client reads; outages, status, initialization, bad data, close()."""
import copy
import json
import socket
import threading
import time
import uuid

import pytest
import redis
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from ldclient.client import LDClient as OfficialLDClient
from ldclient.config import Config as OfficialConfig
from ldclient.context import Context as OfficialContext
from ldclient.feature_store import CacheConfig as OfficialCacheConfig
from ldclient.feature_store import _FeatureStoreDataSetSorter
from ldclient.integrations import Redis as OfficialRedis
from ldclient.versioned_data_kind import FEATURES as OFFICIAL_FEATURES
from ldclient.versioned_data_kind import SEGMENTS as OFFICIAL_SEGMENTS

import ldfast
from ldfast import Config, LDClient
from ldfast.feature_store import CacheConfig
from ldfast.integrations import Redis
from ldfast.interfaces import DataStoreStatus
from ldfast.versioned_data_kind import FEATURES

from tests import strategies as S
from tests.support.fake_ld import FakeLaunchDarklyThread
from tests.support.redis_server import RedisServer
from tests import helpers

# see tests/test_differential.py: generated regexes may warn inside both SDKs' parsers
pytestmark = pytest.mark.filterwarnings("ignore:Possible .*:FutureWarning")

WAIT = 10.0
SDK_KEY = "sdk-redis-test"
CONTEXTS = 6
DEFAULTS = ["dflt", None, 0]


@pytest.fixture(scope="module", autouse=True)
def quiet_sdk_logs():
    with helpers.quiet_sdk_logs():
        yield


from ldclient.versioned_data_kind import FEATURES as OFFICIAL_FEATURES  # noqa: E402
from ldclient.versioned_data_kind import SEGMENTS as OFFICIAL_SEGMENTS  # noqa: E402


def new_prefix():
    return "d-%s" % uuid.uuid4().hex[:10]


def flag(key, version, value=True):
    return {"key": key, "version": version, "on": True, "variations": [value, "other"],
            "fallthrough": {"variation": 0}, "offVariation": 1, "salt": "s"}


def official_daemon(url, prefix):
    store = OfficialRedis.new_feature_store(url=url, prefix=prefix, caching=OfficialCacheConfig.disabled())
    return OfficialLDClient(OfficialConfig(SDK_KEY, use_ldd=True, feature_store=store, send_events=False))


def fast_daemon(url, prefix, caching=None):
    store = Redis.new_feature_store(url=url, prefix=prefix, caching=caching or CacheConfig.default())
    return LDClient(Config(SDK_KEY, use_ldd=True, feature_store=store, send_events=False)), store


def canon(x):
    return json.dumps(x, sort_keys=True, default=repr)


def compare_clients(official, fast, flags, contexts, default):
    for ctx_dict in contexts:
        octx = OfficialContext.from_dict(copy.deepcopy(ctx_dict))
        fctx = ldfast.Context.from_dict(copy.deepcopy(ctx_dict))
        for key in list(flags) + ["no-such-flag"]:
            o = official.variation_detail(key, octx, default)
            f = fast.variation_detail(key, fctx, default)
            assert canon((f.value, f.variation_index, f.reason)) == canon((o.value, o.variation_index, o.reason)), \
                "flag %r context %s" % (key, canon(ctx_dict))
        for kwargs in ({}, {"with_reasons": True}, {"client_side_only": True}):
            o_state = official.all_flags_state(octx, **kwargs).to_json_dict()
            f_state = fast.all_flags_state(fctx, **kwargs).to_json_dict()
            assert canon(f_state) == canon(o_state), "all_flags_state(%s) for %s" % (kwargs, canon(ctx_dict))


def official_accepts(flags, segments):
    try:
        for item in flags.values():
            OFFICIAL_FEATURES.decode(copy.deepcopy(item))
        for item in segments.values():
            OFFICIAL_SEGMENTS.decode(copy.deepcopy(item))
    except Exception:
        return False
    return True


def official_redis_can_read(flags, segments):
    """False where the official SDK's Redis store itself fails: it looks up a non-string segment
    key (segmentMatch value) or prerequisite key with HGET, redis-py raises DataError and the
    evaluation ends in ERROR/EXCEPTION; its in-memory store just misses, and so does ldfast."""
    for item in list(flags.values()) + list(segments.values()):
        for p in item.get("prerequisites") or []:
            if isinstance(p, dict) and not isinstance(p.get("key"), str):
                return False
        for rule in item.get("rules") or []:
            for clause in (rule or {}).get("clauses") or []:
                if isinstance(clause, dict) and clause.get("op") == "segmentMatch":
                    if not all(isinstance(v, str) for v in clause.get("values") or []):
                        return False
    return True


_SETTINGS = dict(deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.filter_too_much, HealthCheck.large_base_example,
                                        HealthCheck.function_scoped_fixture])


# -- interop: the official SDK writes, ldfast reads ------------------------------------------------

@settings(max_examples=100, **_SETTINGS)
@given(example=S.examples(CONTEXTS), default=st.sampled_from(DEFAULTS))
def test_official_redis_data_evaluates_identically_in_ldfast_daemon_mode(server, example, default):
    flags, segments, contexts = example
    assume(official_accepts(flags, segments) and official_redis_can_read(flags, segments))
    prefix = new_prefix()
    writer = OfficialRedis.new_feature_store(url=server.url, prefix=prefix, caching=OfficialCacheConfig.disabled())
    writer.init(_FeatureStoreDataSetSorter.sort_all_collections(
        {OFFICIAL_FEATURES: copy.deepcopy(flags), OFFICIAL_SEGMENTS: copy.deepcopy(segments)}))
    official = official_daemon(server.url, prefix)
    fast, store = fast_daemon(server.url, prefix)
    try:
        assert fast.is_initialized()
        compare_clients(official, fast, flags, contexts, default)  # every flag read through on first use
    finally:
        fast.close()
        official.close()
        r = redis.Redis.from_url(server.url)
        r.delete(*(prefix + k for k in (":features", ":segments", ":$inited")))
        r.close()


# -- interop: ldfast streams and writes, the official SDK reads ------------------------------------

@settings(max_examples=25, **_SETTINGS)
@given(example=S.examples(CONTEXTS), default=st.sampled_from(DEFAULTS))
def test_ldfast_writes_what_an_official_daemon_client_evaluates_identically(server, example, default):
    flags, segments, contexts = example
    assume(official_accepts(flags, segments) and official_redis_can_read(flags, segments))
    prefix = new_prefix()
    with FakeLaunchDarklyThread(copy.deepcopy(flags), copy.deepcopy(segments)) as fake:
        store = Redis.new_feature_store(url=server.url, prefix=prefix)
        writer = LDClient(Config(SDK_KEY, stream_uri=fake.uri, base_uri=fake.uri, feature_store=store,
                                 send_events=False), start_wait=WAIT)
        official = official_daemon(server.url, prefix)
        reader, _ = fast_daemon(server.url, prefix)
        try:
            assert writer.is_initialized()
            assert store.flush(WAIT)
            assert official.is_initialized()
            compare_clients(official, writer, flags, contexts, default)
            # a patch through the stream reaches Redis, and so the official client
            key = sorted(flags)[0]
            version = flags[key].get("version")
            version = version + 1 if isinstance(version, int) and not isinstance(version, bool) else 10**6
            changed = threading.Event()
            store.add_change_listener(lambda keys: key in keys and changed.set())
            fake.patch(FEATURES, flag(key, version, "patched"))
            assert changed.wait(WAIT) and store.flush(WAIT)
            ctx = OfficialContext.create("someone")
            assert official.variation(key, ctx, None) == "patched"
            # (the ldfast daemon client never evaluated it: read from Redis on first use)
            assert reader.variation(key, ldfast.Context.create("someone"), None) == "patched"
        finally:
            writer.close()
            reader.close()
            official.close()


# -- daemon mode --------------------------------------------------------------------------------

def test_daemon_mode_is_initialized_and_serves_redis_with_or_without_inited(server):
    """As the official client: daemon mode serves whatever Redis holds and says it is initialized
    ``$inited`` or not (ldfast used to report not initialized until ``$inited`` appeared)."""
    prefix = new_prefix()
    r = redis.Redis.from_url(server.url)
    client, store = fast_daemon(server.url, prefix, CacheConfig.disabled())
    official = official_daemon(server.url, prefix)
    try:
        assert client.is_initialized() and official.is_initialized()
        ctx = ldfast.Context.create("u")
        detail = client.variation_detail("f", ctx, "dflt")
        assert (detail.value, detail.reason) == ("dflt", {"kind": "ERROR", "errorKind": "FLAG_NOT_FOUND"})
        r.hset(prefix + ":features", "f", json.dumps(flag("f", 1, "on-value")))
        assert client.variation("f", ctx, "dflt") == "on-value"  # no cache: read at once
        assert official.variation("f", OfficialContext.create("u"), "dflt") == "on-value"
        assert not store.initialized and client.is_initialized()
        r.set(prefix + ":$inited", prefix + ":$inited")
        assert store.refresh(WAIT) and store.initialized
        # no stream, no polling: the daemon never asks LaunchDarkly for anything
        assert client._data_source.is_alive() is False
    finally:
        client.close()
        official.close()
        r.close()


def test_daemon_mode_evaluates_the_redis_data_right_after_construction(server):
    """As the official daemon client, ldfast reads a flag from Redis on its first use."""
    prefix = new_prefix()
    writer = OfficialRedis.new_feature_store(url=server.url, prefix=prefix, caching=OfficialCacheConfig.disabled())
    writer.init({OFFICIAL_FEATURES: {"f": flag("f", 1, "on-value")}, OFFICIAL_SEGMENTS: {}})
    client, store = fast_daemon(server.url, prefix)
    try:
        assert client.is_initialized()
        assert client.variation("f", ldfast.Context.create("u"), "dflt") == "on-value"
    finally:
        client.close()


def test_daemon_mode_flag_change_listeners_fire_for_redis_changes(server):
    prefix = new_prefix()
    r = redis.Redis.from_url(server.url)
    r.hset(prefix + ":features", "f", json.dumps(flag("f", 1, "a")))
    r.set(prefix + ":$inited", prefix + ":$inited")
    client, store = fast_daemon(server.url, prefix, CacheConfig(expiration=0.1))
    try:
        assert client.variation("f", ldfast.Context.create("u"), None) == "a"  # (now cached)
        changes = []
        got = threading.Event()
        client.flag_tracker.add_listener(lambda change: (changes.append(change.key), got.set()))
        r.hset(prefix + ":features", "f", json.dumps(flag("f", 2, "b")))
        assert got.wait(WAIT)
        assert changes == ["f"]
        assert client.variation("f", ldfast.Context.create("u"), None) == "b"
    finally:
        client.close()
        r.close()


def test_unparseable_json_is_malformed_flag_and_the_rest_evaluates(server):
    prefix = new_prefix()
    r = redis.Redis.from_url(server.url)
    r.hset(prefix + ":features", mapping={"bad": b'{"key": "bad", "version": 1, "on": tr', "good": json.dumps(flag("good", 1))})
    r.set(prefix + ":$inited", prefix + ":$inited")
    client, store = fast_daemon(server.url, prefix)
    try:
        ctx = ldfast.Context.create("u")
        bad = client.variation_detail("bad", ctx, "dflt")
        assert (bad.value, bad.reason) == ("dflt", {"kind": "ERROR", "errorKind": "MALFORMED_FLAG"})
        assert client.variation("good", ctx, "dflt") is True
        state = client.all_flags_state(ctx)
        assert state.valid and state.get_flag_value("good") is True
        assert store.is_available()
    finally:
        client.close()
        r.close()


def test_twisted_client_in_daemon_mode(server):
    """Initialized at once, ``$inited`` or not; a flag it does not cache is read from Redis in the
    reactor's thread pool, then evaluated on the reactor."""
    from ldfast._reactor import ReactorThread
    from ldfast.twisted import TwistedLDClient

    prefix = new_prefix()
    r = redis.Redis.from_url(server.url)
    store = Redis.new_feature_store(url=server.url, prefix=prefix, caching=CacheConfig(expiration=0.1))
    net = ReactorThread("app")
    read_on = []
    read = store.read
    store.read = lambda key: (read_on.append(net.in_thread()), read(key))[1]
    try:
        client = net.call(lambda: TwistedLDClient(SDK_KEY, Config(use_ldd=True, feature_store=store,
                                                                  send_events=False), reactor=net.reactor))
        assert net.call(client.is_initialized)
        assert net.call(lambda: client.wait_for_initialization(WAIT).addCallback(lambda _: "ready")) == "ready"
        r.hset(prefix + ":features", "f", json.dumps(flag("f", 1, "tw")))
        assert net.call(client.variation, "f", {"key": "u"}, None) == "tw"
        assert read_on == [False]  # read once, and not on the reactor
        assert net.call(client.variation, "f", {"key": "u"}, None) == "tw"
        assert read_on == [False]  # cached
        net.call(client.close)
    finally:
        net.stop()
        store.close()
        r.close()


# -- outage, end to end -------------------------------------------------------------------------

def test_outage_while_streaming_serves_data_reports_status_and_writes_the_patch_later():
    prefix = new_prefix()
    flags = {"f": flag("f", 1, "one"), "g": flag("g", 1, "gee")}
    with RedisServer(keep_data=True) as srv, FakeLaunchDarklyThread(flags) as fake:
        store = Redis.new_feature_store(url=srv.url, prefix=prefix, caching=CacheConfig(expiration=0.2))
        client = LDClient(Config(SDK_KEY, stream_uri=fake.uri, base_uri=fake.uri, feature_store=store,
                                 send_events=False), start_wait=WAIT)
        statuses = []
        cond = threading.Condition()

        def on_status(status):
            with cond:
                statuses.append(status)
                cond.notify_all()

        provider = client.data_store_status_provider
        assert provider.is_monitoring_enabled() and provider.status == DataStoreStatus(True, False)
        provider.add_listener(on_status)
        try:
            assert client.is_initialized() and store.flush(WAIT)
            ctx = ldfast.Context.create("u")
            srv.stop()
            with cond:
                assert cond.wait_for(lambda: len(statuses) >= 1, WAIT), "no unavailable status"
            assert provider.status == DataStoreStatus(False, False)
            assert client.variation("f", ctx, None) == "one"  # last data still served
            changed = threading.Event()
            store.add_change_listener(lambda keys: "f" in keys and changed.set())
            fake.patch(FEATURES, flag("f", 2, "two"))
            assert changed.wait(WAIT)
            assert client.variation("f", ctx, None) == "two"  # the mirror took the patch at once
            srv.start()
            with cond:
                assert cond.wait_for(lambda: len(statuses) >= 3, WAIT), statuses
            assert statuses == [DataStoreStatus(False, False), DataStoreStatus(True, True), DataStoreStatus(True, False)]
            assert store.flush(WAIT)
            r = redis.Redis.from_url(srv.url)
            assert json.loads(r.hget(prefix + ":features", "f"))["variations"][0] == "two"
            r.close()
            official = official_daemon(srv.url, prefix)
            assert official.variation("f", OfficialContext.create("u"), None) == "two"
            official.close()
        finally:
            client.close()


def test_in_memory_store_status_is_always_available():
    client = LDClient(Config(SDK_KEY, offline=True))
    provider = client.data_store_status_provider
    assert provider.status == DataStoreStatus(True, False) and not provider.is_monitoring_enabled()
    client.close()
    # daemon mode over the in-memory store: initialized, as the official client says
    daemon = LDClient(Config(SDK_KEY, use_ldd=True, send_events=False))
    assert daemon.is_initialized() and daemon.data_store_status_provider.status.available
    daemon.close()


def test_close_is_bounded_when_redis_hangs():
    """A server that accepts connections and never answers: a flag not cached is read on the
    calling thread as by the official SDK, so the first such evaluation waits for the socket
    timeout; then the store is unavailable and the next ones do not wait; close() returns promptly."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    url = "redis://127.0.0.1:%d/0" % listener.getsockname()[1]
    try:
        store = Redis.new_feature_store(url=url, prefix=new_prefix(),
                                        redis_opts={"socket_timeout": 0.5, "socket_connect_timeout": 0.5})
        client = LDClient(Config(SDK_KEY, use_ldd=True, feature_store=store, send_events=False))
        ctx = ldfast.Context.create("u")
        started = time.monotonic()
        detail = client.variation_detail("f", ctx, "dflt")
        assert detail.reason == {"kind": "ERROR", "errorKind": "FLAG_NOT_FOUND"}
        assert time.monotonic() - started < 2.0
        assert not store.is_available()
        started = time.monotonic()
        assert client.variation_detail("g", ctx, "dflt").reason == {"kind": "ERROR", "errorKind": "FLAG_NOT_FOUND"}
        assert time.monotonic() - started < 0.1
        started = time.monotonic()
        client.close()
        assert time.monotonic() - started < 4.0  # close waits 2 s at most for the worker
    finally:
        listener.close()


def test_diagnostics_name_the_redis_store(server):
    from ldclient.impl.events.diagnostics import create_diagnostic_init as official_init

    from ldfast.events.diagnostics import create_diagnostic_init

    store = Redis.new_feature_store(url=server.url, prefix=new_prefix())
    try:
        ours = create_diagnostic_init(0, {}, Config(SDK_KEY, feature_store=store))["configuration"]
        official_store = OfficialRedis.new_feature_store(url=server.url)
        theirs = official_init(0, {}, OfficialConfig(SDK_KEY, feature_store=official_store))["configuration"]
        assert ours["dataStoreType"] == theirs["dataStoreType"] == "Redis"
    finally:
        store.close()


def test_a_forked_child_keeps_refreshing_from_redis(server):
    prefix = new_prefix()
    r = redis.Redis.from_url(server.url)
    r.hset(prefix + ":features", "f", json.dumps(flag("f", 1, "before")))
    r.set(prefix + ":$inited", prefix + ":$inited")
    client, store = fast_daemon(server.url, prefix, CacheConfig(expiration=0.1))
    try:
        assert client.variation("f", ldfast.Context.create("u"), None) == "before"  # (now cached)
        def child():  # its worker thread was not forked; the store restarts it by itself
            changed = threading.Event()
            store.add_change_listener(lambda keys: changed.set())
            child_redis = redis.Redis.from_url(server.url)
            child_redis.hset(prefix + ":features", "f", json.dumps(flag("f", 2, "after")))
            return client.variation("f", ldfast.Context.create("u"), None) if changed.wait(WAIT) else None

        assert helpers.in_forked_child(child) == (0, "after")
    finally:
        client.close()
        r.close()


def test_a_hung_redis_never_blocks_the_reactor():
    """Redis accepts connections and never answers (2 s socket timeouts): a TwistedLDClient
    streaming from the fake LaunchDarkly still initializes, applies patches and evaluates (a flag
    it does not cache, once its read in the thread pool has failed), and its reactor never stalls
    for anything like a Redis timeout."""
    from twisted.internet.task import LoopingCall

    from ldfast._reactor import ReactorThread
    from ldfast.twisted import TwistedLDClient

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    url = "redis://127.0.0.1:%d/0" % listener.getsockname()[1]
    store = Redis.new_feature_store(url=url, prefix=new_prefix(),
                                    redis_opts={"socket_timeout": 2.0, "socket_connect_timeout": 2.0})
    net = ReactorThread("app")
    gaps = []
    last = [time.monotonic()]

    def tick():
        now = time.monotonic()
        gaps.append(now - last[0])
        last[0] = now

    try:
        with FakeLaunchDarklyThread({"f": flag("f", 1, "one")}) as fake:
            ticker = net.call(lambda: [LoopingCall(tick)])[0]
            net.call(lambda: [ticker.start(0.01)])
            config = Config(SDK_KEY, stream_uri=fake.uri, base_uri=fake.uri, feature_store=store, send_events=False)
            client = net.call(lambda: TwistedLDClient(config=config, reactor=net.reactor))
            net.call(client.wait_for_initialization, WAIT, timeout=WAIT + 2)
            assert net.call(client.variation, "f", {"key": "u"}, None) == "one"
            missing = net.call(lambda: [client.variation_detail("missing", {"key": "u"}, "dflt")])[0]
            assert not net.call(lambda: missing.called)  # its read of Redis hangs, in the thread pool
            detail = net.call(lambda: missing, timeout=WAIT)
            assert (detail.value, detail.reason) == ("dflt", {"kind": "ERROR", "errorKind": "FLAG_NOT_FOUND"})
            changed = threading.Event()
            store.add_change_listener(lambda keys: changed.set())
            fake.patch(FEATURES, flag("f", 2, "two"))
            assert changed.wait(WAIT)
            assert net.call(client.variation, "f", {"key": "u"}, None) == "two"
            assert not store.flush(0.5)  # the writes are indeed stuck behind the hung server
            net.call(ticker.stop)
            net.call(client.close)
        assert gaps and max(gaps) < 1.0, "the reactor stalled %.2f s" % max(gaps)
    finally:
        net.stop()
        store.close(timeout=0)
        listener.close()
