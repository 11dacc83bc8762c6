"""LaunchDarkly's persistent-store contract, through both client faces (sync and Twisted), against a
real redis-server: the scenarios of the contract tests' persistence suite (sdk-test-harness
``server_side_persistence_base.go``), plus what ldfast does beyond it during an outage.

- read-through: a flag the cache lacks is read from Redis (daemon mode and with a data source);
- TTL: a cached flag (or a cached miss) is served until it expires, then Redis shows;
- infinite: a cached flag never changes, a flag not cached is still read;
- off: every evaluation sees Redis;
- daemon mode serves what Redis holds, ``$inited`` or not;
- a flag deleted from Redis is gone once its entry expires (never written back);
- an outage: the last known flags keep serving, a flag not cached is not found at once;
- bad JSON in Redis: that flag is MALFORMED_FLAG, the others evaluate;
- the Twisted face reads Redis in the reactor's thread pool, never on the reactor.
"""
import json
import threading
import time
import uuid

import pytest
import redis

import ldfast
from ldfast import Config
from ldfast.feature_store import CacheConfig
from ldfast.integrations import Redis
from ldfast.versioned_data_kind import FEATURES

from tests.support.faces import FACES, StoreFace
from tests.support.fake_ld import FakeLaunchDarklyThread
from tests.support.redis_server import RedisServer

WAIT = 10.0
SDK_KEY = "sdk-redis-contract"
TTL = 0.3
NOT_FOUND = {"kind": "ERROR", "errorKind": "FLAG_NOT_FOUND"}


@pytest.fixture(params=FACES)
def face(request):
    f = StoreFace(request.param)
    yield f
    f.close()


@pytest.fixture
def prefix():
    return "c-%s" % uuid.uuid4().hex[:10]


def flag(key, version, value):
    return {"key": key, "version": version, "on": True, "variations": [value, "other"],
            "fallthrough": {"variation": 0}, "offVariation": 1, "salt": "s"}


def put(raw, prefix, *flags):
    raw.hset(prefix + ":features", mapping={f["key"]: json.dumps(f) for f in flags})


def drop_all(raw, prefix):
    raw.delete(*(prefix + k for k in (":features", ":segments", ":$inited")))


def changed(store, key):
    """An Event set when the store's change listeners hear of flag ``key``."""
    event = threading.Event()
    store.add_change_listener(lambda keys: key in keys and event.set())
    return event


def daemon(face, url, prefix, caching, **store_opts):
    store = Redis.new_feature_store(url=url, prefix=prefix, caching=caching, **store_opts)
    return face.client(Config(SDK_KEY, use_ldd=True, feature_store=store, send_events=False)), store


def streaming(face, fake, url, prefix, caching):
    store = Redis.new_feature_store(url=url, prefix=prefix, caching=caching)
    client = face.client(Config(SDK_KEY, stream_uri=fake.uri, base_uri=fake.uri, feature_store=store,
                                send_events=False))
    assert store.flush(WAIT)
    return client, store


# -- daemon mode ----------------------------------------------------------------------------------

def test_daemon_mode_without_a_cache_sees_redis_on_every_evaluation(face, server, prefix, raw):
    client, store = daemon(face, server.url, prefix, CacheConfig.disabled())  # initialized: no $inited needed
    assert face.detail(client, "f") == ("dflt", NOT_FOUND)
    put(raw, prefix, flag("f", 1, "one"))
    assert face.value(client, "f") == "one"
    put(raw, prefix, flag("f", 2, "two"))
    assert face.value(client, "f") == "two"
    assert face.all_values(client) == {"f": "two"}
    drop_all(raw, prefix)
    assert face.detail(client, "f") == ("dflt", NOT_FOUND)
    assert face.all_values(client) == {}


def test_ttl_cache_hit_is_served_until_it_expires(face, server, prefix, raw):
    put(raw, prefix, flag("f", 1, "one"))
    client, store = daemon(face, server.url, prefix, CacheConfig(expiration=TTL))
    assert face.value(client, "f") == "one"
    now_two = changed(store, "f")
    put(raw, prefix, flag("f", 2, "two"))
    assert face.value(client, "f") == "one"  # cached
    assert now_two.wait(WAIT)
    assert face.value(client, "f") == "two"
    gone = changed(store, "f")
    drop_all(raw, prefix)  # a flag deleted from Redis is gone once its entry expires
    assert face.value(client, "f") == "two"
    assert gone.wait(WAIT)
    assert face.detail(client, "f") == ("dflt", NOT_FOUND)


def test_ttl_cache_miss_is_served_until_it_expires(face, server, prefix, raw):
    client, store = daemon(face, server.url, prefix, CacheConfig(expiration=TTL))
    assert face.detail(client, "f") == ("dflt", NOT_FOUND)
    appeared = changed(store, "f")
    put(raw, prefix, flag("f", 1, "one"))
    assert face.detail(client, "f") == ("dflt", NOT_FOUND)  # the miss is cached
    assert appeared.wait(WAIT)
    assert face.value(client, "f") == "one"


def test_infinite_cache_never_changes_a_cached_flag_and_reads_one_it_lacks(face, server, prefix, raw):
    put(raw, prefix, flag("f", 1, "one"), flag("uncached", 1, "unc"))
    client, store = daemon(face, server.url, prefix, CacheConfig(expiration=float("inf")))
    assert face.value(client, "f") == "one"
    any_change = changed(store, "f")
    drop_all(raw, prefix)
    assert face.detail(client, "uncached") == ("dflt", NOT_FOUND)  # never cached: read, and gone
    assert not any_change.wait(3 * TTL)
    assert face.value(client, "f") == "one"  # cached forever


# -- with a data source (the store's writer) --------------------------------------------------------

def test_ttl_writer_reads_direct_changes_once_expired_and_flags_it_lacks_at_once(face, server, prefix, raw):
    with FakeLaunchDarklyThread({"f": flag("f", 1, "one")}) as fake:
        client, store = streaming(face, fake, server.url, prefix, CacheConfig(expiration=TTL))
        direct = changed(store, "f")
        put(raw, prefix, flag("f", 100, "direct"), flag("g", 100, "gee"))
        assert face.value(client, "g") == "gee"  # not cached: read through
        assert face.value(client, "f") == "one"  # cached until it expires
        assert direct.wait(WAIT)
        assert face.value(client, "f") == "direct"


def test_ttl_writer_loses_flags_dropped_from_redis_once_expired_and_writes_nothing_back(face, server, prefix, raw):
    with FakeLaunchDarklyThread({"f": flag("f", 1, "one")}) as fake:
        client, store = streaming(face, fake, server.url, prefix, CacheConfig(expiration=TTL))
        assert face.value(client, "f") == "one"
        gone = changed(store, "f")
        raw.flushdb()
        assert face.value(client, "f") == "one"
        assert gone.wait(WAIT)
        assert face.detail(client, "f") == ("dflt", NOT_FOUND)
        assert store.flush(WAIT) and raw.keys(prefix + ":*") == []


def test_infinite_writer_ignores_direct_changes_but_reads_flags_it_lacks(face, server, prefix, raw):
    with FakeLaunchDarklyThread({"f": flag("f", 1, "one")}) as fake:
        client, store = streaming(face, fake, server.url, prefix, CacheConfig(expiration=float("inf")))
        any_change = changed(store, "f")
        put(raw, prefix, flag("f", 100, "direct"), flag("g", 100, "gee"))
        assert face.value(client, "g") == "gee"
        assert not any_change.wait(3 * TTL)
        assert face.value(client, "f") == "one"
        raw.flushdb()
        assert face.value(client, "f") == "one"


@pytest.mark.parametrize("caching", [CacheConfig(expiration=float("inf")), CacheConfig(expiration=60),
                                     CacheConfig.disabled()], ids=["infinite", "ttl", "off"])
def test_data_source_updates_show_at_once_whatever_the_cache(face, server, prefix, raw, caching):
    with FakeLaunchDarklyThread({"f": flag("f", 1, "one")}) as fake:
        client, store = streaming(face, fake, server.url, prefix, caching)
        assert face.detail(client, "g") == ("dflt", NOT_FOUND)  # (a miss, cached unless off)
        for key, value in (("f", "two"), ("g", "gee")):
            seen = changed(store, key)
            fake.patch(FEATURES, flag(key, 2, value))
            assert seen.wait(WAIT)
            assert face.value(client, key) == value
        assert store.flush(WAIT)
        assert json.loads(raw.hget(prefix + ":features", "g"))["variations"][0] == "gee"


# -- beyond the contract, and what must never happen -----------------------------------------------

def test_an_outage_keeps_the_last_known_flags_and_a_flag_not_cached_is_not_found_at_once(face, prefix):
    with RedisServer(keep_data=True) as srv:
        r = redis.Redis.from_url(srv.url)
        put(r, prefix, flag("f", 1, "one"))
        client, store = daemon(face, srv.url, prefix, CacheConfig(expiration=0.2))
        provider = client.data_store_status_provider
        statuses = []
        cond = threading.Condition()

        def on_status(status):
            with cond:
                statuses.append(status)
                cond.notify_all()

        provider.add_listener(on_status)
        assert face.value(client, "f") == "one"
        srv.stop()
        with cond:
            assert cond.wait_for(lambda: statuses, WAIT)
        assert not statuses[0].available
        assert not store.refresh(0.5)  # (meanwhile, its entry expires again and again)
        assert face.value(client, "f") == "one"
        started = time.monotonic()
        assert face.detail(client, "other") == ("dflt", NOT_FOUND)
        assert time.monotonic() - started < 0.5
        srv.start()
        with cond:
            assert cond.wait_for(lambda: statuses[-1:] and statuses[-1].available and not statuses[-1].stale, WAIT)
        now_two = changed(store, "f")
        put(r, prefix, flag("f", 2, "two"))
        assert now_two.wait(WAIT)
        assert face.value(client, "f") == "two"
        r.close()


def test_unparseable_json_is_malformed_flag_and_the_rest_evaluates(face, server, prefix, raw):
    raw.hset(prefix + ":features", mapping={"bad": b'{"key": "bad", "version": 1, "on": tr',
                                            "good": json.dumps(flag("good", 1, "fine"))})
    client, store = daemon(face, server.url, prefix, CacheConfig.default())
    assert face.detail(client, "bad") == ("dflt", {"kind": "ERROR", "errorKind": "MALFORMED_FLAG"})
    assert face.value(client, "good") == "fine"
    values = face.all_values(client)
    assert values["good"] == "fine" and values["bad"] is None
    assert store.is_available()


def test_reads_run_on_the_calling_thread_or_the_reactors_thread_pool(face, server, prefix, raw):
    put(raw, prefix, flag("f", 1, "one"))
    face.check_reads_off_the_reactor(Redis.new_feature_store(url=server.url, prefix=prefix), SDK_KEY)
