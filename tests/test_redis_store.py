"""The Redis feature store against a real redis-server: LaunchDarkly's exact layout and commands
(compared with the official SDK's store), version rules, tombstones, the refresher and caching
modes, concurrent writers, outages and the status they report."""
import json
import math
import threading
import uuid

import pytest
import redis
from ldclient.feature_store import CacheConfig as OfficialCacheConfig
from ldclient.feature_store import _FeatureStoreDataSetSorter
from ldclient.integrations import Redis as OfficialRedis
from ldclient.versioned_data_kind import FEATURES as OFFICIAL_FEATURES
from ldclient.versioned_data_kind import SEGMENTS as OFFICIAL_SEGMENTS

from ldfast.feature_store import CacheConfig, InMemoryFeatureStore
from ldfast.integrations import Redis
from ldfast.integrations._redis import RedisFeatureStore
from ldfast.interfaces import DataStoreStatus, DataStoreUpdateSinkImpl
from ldfast.versioned_data_kind import FEATURES, SEGMENTS

try:
    from tests.support.redis_server import RedisServer
except ImportError:  # pragma: no cover
    from support.redis_server import RedisServer

WAIT = 10.0


@pytest.fixture(scope="module")
def server():
    with RedisServer() as srv:
        yield srv


@pytest.fixture
def prefix():
    return "t-%s" % uuid.uuid4().hex[:10]


@pytest.fixture
def raw(server):
    r = redis.Redis.from_url(server.url)
    yield r
    r.close()


@pytest.fixture
def stores():
    made = []

    def make(url, prefix, **kwargs):
        store = Redis.new_feature_store(url=url, prefix=prefix, **kwargs)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def flag(key, version, value=True, prereqs=()):
    return {"key": key, "version": version, "on": True, "variations": [value, "other"],
            "fallthrough": {"variation": 0}, "offVariation": 1, "salt": "s",
            "prerequisites": [{"key": p, "variation": 0} for p in prereqs]}


def segment(key, version):
    return {"key": key, "version": version, "included": ["u1"], "excluded": [], "rules": [], "salt": "x"}


DATA_FLAGS = {
    "top": flag("top", 3, prereqs=("mid",)),
    "mid": flag("mid", 2, prereqs=("base",)),
    "solo": flag("solo", 1, value="ü"),
    "base": flag("base", 5),
}
DATA_SEGMENTS = {"seg1": segment("seg1", 4), "seg2": segment("seg2", 1)}


class RecordingSink(DataStoreUpdateSinkImpl):
    def __init__(self):
        super().__init__()
        self.seen = []
        self.changed = threading.Condition()
        self.add_listener(self._record)

    def _record(self, status):
        with self.changed:
            self.seen.append(status)
            self.changed.notify_all()

    def wait_for(self, n):
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.seen) >= n, WAIT), "statuses: %r" % (self.seen,)
        return list(self.seen)


# -- CacheConfig --------------------------------------------------------------------------------

def test_cache_config_matches_the_official():
    for ours, theirs in ((CacheConfig(), OfficialCacheConfig()), (CacheConfig.default(), OfficialCacheConfig.default()),
                         (CacheConfig.disabled(), OfficialCacheConfig.disabled()),
                         (CacheConfig(expiration=2.5, capacity=7), OfficialCacheConfig(expiration=2.5, capacity=7)),
                         (CacheConfig(expiration=math.inf), OfficialCacheConfig(expiration=math.inf))):
        assert (ours.expiration, ours.capacity, ours.enabled) == (theirs.expiration, theirs.capacity, theirs.enabled)
    assert CacheConfig().expiration == 15 and CacheConfig().capacity == 1000


def test_the_store_is_a_mirror_the_client_accepts(server, prefix, stores):
    store = stores(server.url, prefix)
    assert isinstance(store, InMemoryFeatureStore) and isinstance(store, RedisFeatureStore)
    assert store.is_monitoring_enabled() and store.describe_configuration(None) == "Redis"


# -- layout and commands ------------------------------------------------------------------------

def _commands(server, action):
    """The commands ``action()`` sends to Redis (MONITOR), from the first MULTI to its EXEC."""
    mon_client = redis.Redis.from_url(server.url, socket_timeout=WAIT)
    commands = []
    with mon_client.monitor() as mon:
        action()
        while True:
            cmd = mon.next_command()["command"]
            if cmd.startswith("MULTI") or commands:
                commands.append(cmd)
            if cmd == "EXEC" and commands:
                break
    mon_client.close()
    return commands


def test_init_sends_exactly_the_official_sdks_transaction(server, prefix, stores, raw):
    official = OfficialRedis.new_feature_store(url=server.url, prefix=prefix, caching=OfficialCacheConfig.disabled())
    data = _FeatureStoreDataSetSorter.sort_all_collections(
        {OFFICIAL_FEATURES: json.loads(json.dumps(DATA_FLAGS)), OFFICIAL_SEGMENTS: json.loads(json.dumps(DATA_SEGMENTS))})
    theirs = _commands(server, lambda: official.init(data))
    official_contents = {k: raw.dump(k) for k in raw.keys(prefix + ":*")}
    raw.delete(*raw.keys(prefix + ":*"))

    store = stores(server.url, prefix)
    ours = _commands(server, lambda: (store.init({FEATURES: DATA_FLAGS, SEGMENTS: DATA_SEGMENTS}), store.flush(WAIT)))
    assert ours == theirs
    # segments first, then flags with prerequisites first
    fields = [c.split()[2] for c in ours if c.startswith("HSET")]
    assert fields == ["seg1", "seg2", "base", "mid", "top", "solo"]
    assert {k: raw.dump(k) for k in raw.keys(prefix + ":*")} == official_contents


def test_layout_json_and_inited_key(server, prefix, stores, raw):
    store = stores(server.url, prefix)
    store.init({FEATURES: DATA_FLAGS, SEGMENTS: DATA_SEGMENTS})
    assert store.flush(WAIT)
    assert sorted(raw.keys(prefix + ":*")) == sorted(
        (prefix + k).encode() for k in (":features", ":segments", ":$inited"))
    assert raw.get(prefix + ":$inited") == (prefix + ":$inited").encode()
    assert raw.hgetall(prefix + ":features") == {k.encode(): json.dumps(v).encode() for k, v in DATA_FLAGS.items()}
    assert raw.hgetall(prefix + ":segments") == {k.encode(): json.dumps(v).encode() for k, v in DATA_SEGMENTS.items()}
    assert b'"version": 3' in raw.hget(prefix + ":features", "top")  # default separators
    # a new init replaces everything (DEL first)
    store.init({FEATURES: {"only": flag("only", 1)}, SEGMENTS: {}})
    assert store.flush(WAIT)
    assert raw.hkeys(prefix + ":features") == [b"only"] and not raw.exists(prefix + ":segments")


def test_default_prefix_and_empty_prefix(server, stores, raw):
    store = stores(server.url, "")
    store.init({FEATURES: {"f": flag("f", 1)}, SEGMENTS: {}})
    assert store.flush(WAIT)
    assert raw.get("launchdarkly:$inited") == b"launchdarkly:$inited"
    raw.delete("launchdarkly:features", "launchdarkly:$inited")


def test_upsert_delete_tombstones_and_version_rules(server, prefix, stores, raw):
    store = stores(server.url, prefix)
    store.init({FEATURES: {"f": flag("f", 2)}, SEGMENTS: {}})
    assert store.upsert(FEATURES, flag("f", 3, "new")) is True
    assert store.upsert(FEATURES, flag("f", 3, "same-version")) is False
    assert store.upsert(FEATURES, flag("f", 1, "older")) is False
    assert store.flush(WAIT)
    assert json.loads(raw.hget(prefix + ":features", "f"))["variations"][0] == "new"

    assert store.delete(FEATURES, "f", 4) is True
    assert store.flush(WAIT)
    assert raw.hget(prefix + ":features", "f") == json.dumps({"key": "f", "version": 4, "deleted": True}).encode()
    assert store.get(FEATURES, "f") is None and store.all(FEATURES) == {}
    # the tombstone stops an older update
    assert store.upsert(FEATURES, flag("f", 3, "resurrected")) is False
    store.upsert(SEGMENTS, segment("s", 1))
    assert store.flush(WAIT)
    assert json.loads(raw.hget(prefix + ":features", "f"))["deleted"] is True
    assert json.loads(raw.hget(prefix + ":segments", "s")) == segment("s", 1)


def test_an_older_write_never_overwrites_a_newer_one_in_redis(server, prefix, stores, raw):
    store = stores(server.url, prefix)
    store.init({FEATURES: {"f": flag("f", 1)}, SEGMENTS: {}})
    assert store.flush(WAIT)
    raw.hset(prefix + ":features", "f", json.dumps(flag("f", 9, "from-elsewhere")))
    store.upsert(FEATURES, flag("f", 5, "ours"))  # newer than our mirror, older than Redis
    assert store.flush(WAIT)
    assert json.loads(raw.hget(prefix + ":features", "f"))["version"] == 9
    assert store.refresh(WAIT)
    assert store.get(FEATURES, "f")["variations"][0] == "from-elsewhere"


# -- reading: refresher, caching modes ----------------------------------------------------------

def test_a_reader_loads_redis_and_sees_inited(server, prefix, stores):
    writer = stores(server.url, prefix)
    reader = stores(server.url, prefix)
    assert reader.refresh(WAIT)
    assert not reader.initialized and reader.all(FEATURES) == {}
    writer.init({FEATURES: DATA_FLAGS, SEGMENTS: DATA_SEGMENTS})
    assert writer.flush(WAIT)
    assert reader.refresh(WAIT)
    assert reader.initialized
    assert reader.all(FEATURES) == DATA_FLAGS and reader.all(SEGMENTS) == DATA_SEGMENTS
    assert reader.get(FEATURES, "top") == DATA_FLAGS["top"]


def test_refresher_applies_changes_parses_only_changed_items_and_drops_removed_ones(server, prefix, stores, raw):
    writer = stores(server.url, prefix)
    writer.init({FEATURES: DATA_FLAGS, SEGMENTS: DATA_SEGMENTS})
    assert writer.flush(WAIT)
    reader = stores(server.url, prefix, caching=CacheConfig(expiration=3600))
    assert reader.refresh(WAIT)
    before = dict(reader._flags)
    changes = []
    reader.add_change_listener(lambda keys: changes.append(sorted(keys)))
    writer.upsert(FEATURES, flag("solo", 2, "v2"))
    raw.hdel(prefix + ":features", "top")  # as a re-init without it would
    assert writer.flush(WAIT) and reader.refresh(WAIT)
    assert reader.get(FEATURES, "solo")["variations"][0] == "v2"
    assert reader.get(FEATURES, "top") is None and "top" not in reader._flags
    for key in ("base", "mid"):  # unchanged JSON: the very same parsed object
        assert reader._flags[key] is before[key]
    assert sorted(k for keys in changes for k in keys) == ["solo", "top"]


def test_refresher_never_applies_an_older_version(server, prefix, stores, raw):
    writer = stores(server.url, prefix)
    writer.init({FEATURES: {"f": flag("f", 5, "v5")}, SEGMENTS: {}})
    assert writer.flush(WAIT)
    raw.hset(prefix + ":features", "f", json.dumps(flag("f", 4, "v4")))
    assert writer.refresh(WAIT)
    assert writer.get(FEATURES, "f")["variations"][0] == "v5"


def test_short_expiration_refreshes_by_itself(server, prefix, stores, raw):
    writer = stores(server.url, prefix)
    writer.init({FEATURES: {"f": flag("f", 1, "old")}, SEGMENTS: {}})
    assert writer.flush(WAIT)
    reader = stores(server.url, prefix, caching=CacheConfig(expiration=0.2))
    assert reader.refresh(WAIT)
    seen = threading.Event()
    reader.add_change_listener(lambda keys: "f" in keys and seen.set())
    raw.hset(prefix + ":features", "f", json.dumps(flag("f", 2, "new")))
    assert seen.wait(WAIT), "the refresher did not pick up the change"
    assert reader.get(FEATURES, "f")["variations"][0] == "new"


def test_long_expiration_keeps_serving_the_mirror(server, prefix, stores, raw):
    writer = stores(server.url, prefix)
    writer.init({FEATURES: {"f": flag("f", 1, "old")}, SEGMENTS: {}})
    assert writer.flush(WAIT)
    reader = stores(server.url, prefix, caching=CacheConfig(expiration=3600))
    assert reader.refresh(WAIT)
    raw.hset(prefix + ":features", "f", json.dumps(flag("f", 2, "new")))
    assert reader.get(FEATURES, "f")["variations"][0] == "old"  # no Redis read on get
    assert reader.refresh(WAIT)
    assert reader.get(FEATURES, "f")["variations"][0] == "new"


def test_infinite_cache_loads_once_and_never_rereads(server, prefix, stores, raw):
    writer = stores(server.url, prefix)
    writer.init({FEATURES: {"f": flag("f", 1, "old")}, SEGMENTS: {}})
    assert writer.flush(WAIT)
    forever = stores(server.url, prefix, caching=CacheConfig(expiration=float("inf")))
    quick = stores(server.url, prefix, caching=CacheConfig(expiration=0.05))
    assert forever.refresh(WAIT) and quick.refresh(WAIT)
    changed_forever = threading.Event()
    changed_quick = threading.Event()
    forever.add_change_listener(lambda keys: changed_forever.set())
    quick.add_change_listener(lambda keys: changed_quick.set())
    raw.hset(prefix + ":features", "f", json.dumps(flag("f", 2, "new")))
    assert changed_quick.wait(WAIT)
    assert not changed_forever.wait(0.5)  # ten refresh periods of the other store
    assert forever.get(FEATURES, "f")["variations"][0] == "old"


def test_disabled_cache_still_refreshes(server, prefix, stores, raw):
    writer = stores(server.url, prefix)
    writer.init({FEATURES: {"f": flag("f", 1, "old")}, SEGMENTS: {}})
    assert writer.flush(WAIT)
    reader = stores(server.url, prefix, caching=CacheConfig.disabled())
    assert reader.refresh(WAIT)
    seen = threading.Event()
    reader.add_change_listener(lambda keys: seen.set())
    raw.hset(prefix + ":features", "f", json.dumps(flag("f", 2, "new")))
    assert seen.wait(WAIT)


def test_unparseable_json_is_one_malformed_item(server, prefix, stores, raw):
    raw.hset(prefix + ":features", mapping={"bad": b"{not json", "good": json.dumps(flag("good", 1)),
                                            "array": b"[1, 2]"})
    raw.set(prefix + ":$inited", prefix + ":$inited")
    reader = stores(server.url, prefix)
    assert reader.refresh(WAIT)
    assert reader._flags["bad"].error is not None and reader._flags["array"].error is not None
    assert reader._flags["good"].error is None
    # fixed in Redis: the item becomes good again (whatever its version)
    raw.hset(prefix + ":features", "bad", json.dumps(flag("bad", 1)))
    assert reader.refresh(WAIT)
    assert reader._flags["bad"].error is None


# -- concurrent writers -------------------------------------------------------------------------

def test_concurrent_writers_leave_the_highest_versions(server, prefix, stores, raw):
    a = stores(server.url, prefix)
    b = stores(server.url, prefix)
    official = OfficialRedis.new_feature_store(url=server.url, prefix=prefix, caching=OfficialCacheConfig.disabled())
    keys = ["k%d" % i for i in range(5)]
    a.init({FEATURES: {k: flag(k, 0) for k in keys}, SEGMENTS: {}})
    assert a.flush(WAIT)
    top = 60

    def write(store, versions):
        for v in versions:
            for k in keys:
                store.upsert(FEATURES, flag(k, v, "v%d" % v))

    def write_official(versions):
        for v in versions:
            for k in keys:
                official.upsert(OFFICIAL_FEATURES, flag(k, v, "v%d" % v))

    threads = [threading.Thread(target=write, args=(a, range(1, top + 1, 3))),
               threading.Thread(target=write, args=(b, range(top, 0, -2))),
               threading.Thread(target=write_official, args=(range(2, top, 3),))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert a.flush(WAIT) and b.flush(WAIT)
    for k in keys:
        stored = json.loads(raw.hget(prefix + ":features", k))
        assert stored["version"] == top and stored["variations"][0] == "v%d" % top
    assert a.refresh(WAIT)
    assert all(a.get(FEATURES, k)["version"] == top for k in keys)


def test_watch_conflicts_are_retried(server, prefix, stores, raw, monkeypatch):
    store = stores(server.url, prefix)
    store.init({FEATURES: {"f": flag("f", 1)}, SEGMENTS: {}})
    assert store.flush(WAIT)
    # another client changes the key between our WATCH and EXEC, twice
    interfering = redis.Redis.from_url(server.url)
    real_hget = redis.client.Pipeline.hget
    calls = []

    def hget(pipe, name, key):
        result = real_hget(pipe, name, key)
        if pipe.watching and len(calls) < 2:
            calls.append(1)
            interfering.hset(name, key, json.dumps(flag("f", 2 + len(calls), "theirs")))
        return result

    monkeypatch.setattr(redis.client.Pipeline, "hget", hget)
    store.upsert(FEATURES, flag("f", 10, "ours"))
    assert store.flush(WAIT)
    assert len(calls) == 2
    assert json.loads(raw.hget(prefix + ":features", "f"))["variations"][0] == "ours"
    interfering.close()


# -- outages ------------------------------------------------------------------------------------

def test_outage_queues_writes_reports_status_and_recovers(prefix, stores, caplog):
    with RedisServer(keep_data=True) as srv:
        store = stores(srv.url, prefix, caching=CacheConfig(expiration=0.2))
        sink = RecordingSink()
        store._attach_status_sink(sink)
        store.init({FEATURES: {"f": flag("f", 1, "one"), "g": flag("g", 1)}, SEGMENTS: {}})
        assert store.flush(WAIT)
        srv.stop()
        store.upsert(FEATURES, flag("f", 2, "two"))
        store.upsert(FEATURES, flag("f", 3, "three"))  # supersedes the queued v2
        store.delete(FEATURES, "g", 2)
        assert sink.wait_for(1) == [DataStoreStatus(False, False)]
        assert not store.is_available()
        assert not store.flush(1.0)
        assert store.get(FEATURES, "f")["variations"][0] == "three"  # the mirror serves
        srv.start()
        statuses = sink.wait_for(3)
        assert statuses == [DataStoreStatus(False, False), DataStoreStatus(True, True), DataStoreStatus(True, False)]
        assert store.flush(WAIT)
        r = redis.Redis.from_url(srv.url)
        assert json.loads(r.hget(prefix + ":features", "f"))["variations"][0] == "three"
        assert json.loads(r.hget(prefix + ":features", "g"))["deleted"] is True
        r.close()
    warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warnings) == 1, "one warning per outage, not one per retry"


def test_redis_that_lost_its_data_gets_the_whole_mirror_again(prefix, stores):
    with RedisServer() as srv:  # no persistence: a restart comes back empty
        store = stores(srv.url, prefix)
        sink = RecordingSink()
        store._attach_status_sink(sink)
        store.init({FEATURES: DATA_FLAGS, SEGMENTS: DATA_SEGMENTS})
        assert store.flush(WAIT)
        srv.stop()
        store.upsert(FEATURES, flag("solo", 7, "patched"))
        sink.wait_for(1)
        srv.start()
        sink.wait_for(3)
        assert store.flush(WAIT)
        r = redis.Redis.from_url(srv.url)
        assert r.get(prefix + ":$inited") == (prefix + ":$inited").encode()
        assert set(r.hkeys(prefix + ":features")) == {k.encode() for k in DATA_FLAGS}
        assert json.loads(r.hget(prefix + ":features", "solo"))["version"] == 7
        assert set(r.hkeys(prefix + ":segments")) == {k.encode() for k in DATA_SEGMENTS}
        r.close()


def test_a_reader_started_during_an_outage_loads_when_redis_comes_back(prefix, stores):
    srv = RedisServer(keep_data=True)
    srv.start()
    try:
        writer = stores(srv.url, prefix)
        writer.init({FEATURES: {"f": flag("f", 1)}, SEGMENTS: {}})
        assert writer.flush(WAIT)
        srv.stop()
        reader = stores(srv.url, prefix, caching=CacheConfig(expiration=float("inf")))
        assert not reader.refresh(1.0) and not reader.initialized
        srv.start()
        assert reader.refresh(WAIT) and reader.initialized
        assert reader.get(FEATURES, "f") == flag("f", 1)
    finally:
        srv.close()
