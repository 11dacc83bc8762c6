"""The Redis feature store against a real redis-server: LaunchDarkly's exact layout and commands
(compared with the official SDK's store), version rules, tombstones, the read-through cache and
its caching modes (LaunchDarkly's persistent-store contract), concurrent writers, outages and the
status they report."""
import json
import math
import threading
import time
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


@pytest.fixture
def prefix():
    return "t-%s" % uuid.uuid4().hex[:10]


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


def test_the_store_is_an_in_memory_store_the_client_accepts(server, prefix, stores):
    store = stores(server.url, prefix)
    assert isinstance(store, InMemoryFeatureStore) and isinstance(store, RedisFeatureStore)
    assert store.is_monitoring_enabled() and store.describe_configuration(None) == "Redis"
    assert store.reads_through and store.caches_reads


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


# -- reading: LaunchDarkly's persistent-store contract (a read-through cache over Redis) ---------
#
# (These replace the tests of the old local mirror, which loaded whole hashes on a timer: a key
# written to Redis after the first load went unseen until the next one, an infinite cache never saw
# a new key at all, and a flag deleted from Redis was written back when $inited went missing.)

def changed(store, key):
    """An Event set when the store's change listeners hear of flag ``key``."""
    event = threading.Event()
    store.add_change_listener(lambda keys: key in keys and event.set())
    return event


def seg_flag(key, version, segment_key):
    return dict(flag(key, version, "in"), rules=[{"id": "r", "variation": 0, "clauses": [
        {"attribute": "key", "op": "segmentMatch", "values": [segment_key]}]}], fallthrough={"variation": 1})


def test_a_key_not_cached_is_read_with_what_it_depends_on(server, prefix, stores, raw):
    nested = dict(segment("outer", 1), included=[], rules=[{"id": "r", "clauses": [
        {"attribute": "key", "op": "segmentMatch", "values": ["inner"]}]}])
    writer = stores(server.url, prefix)
    writer.init({FEATURES: dict(DATA_FLAGS, sf=seg_flag("sf", 1, "outer")),
                 SEGMENTS: dict(DATA_SEGMENTS, outer=nested, inner=segment("inner", 2))})
    assert writer.flush(WAIT)
    reader = stores(server.url, prefix)
    assert reader._flags == {} and reader.needs_read("top")
    reader.read("top")  # its prerequisites come with it, nothing else
    assert sorted(reader._flags) == ["base", "mid", "top"] and reader._segments == {}
    assert not reader.needs_read("top") and reader.get(FEATURES, "top") == DATA_FLAGS["top"]
    reader.read("sf")  # and the segments a flag's rules name, and theirs
    assert sorted(reader._segments) == ["inner", "outer"]
    assert reader.get(FEATURES, "solo") == DATA_FLAGS["solo"]  # get() reads through too
    assert reader.all(SEGMENTS)["seg1"] == DATA_SEGMENTS["seg1"]  # all() reads everything
    assert sorted(reader.all(FEATURES)) == sorted(list(DATA_FLAGS) + ["sf"])


def test_a_key_redis_lacks_is_cached_as_absent_until_it_expires(server, prefix, stores, raw):
    reader = stores(server.url, prefix, caching=CacheConfig(expiration=0.3))
    assert reader.get(FEATURES, "late") is None
    assert not reader.needs_read("late")  # the miss is cached: no Redis read per evaluation
    appeared = changed(reader, "late")
    raw.hset(prefix + ":features", "late", json.dumps(flag("late", 1)))
    assert reader.get(FEATURES, "late") is None  # until the entry expires
    assert appeared.wait(WAIT)
    assert reader.get(FEATURES, "late") == flag("late", 1)


def test_absent_keys_are_bounded_by_capacity(server, prefix, stores):
    reader = stores(server.url, prefix, caching=CacheConfig(expiration=3600, capacity=3))
    for i in range(5):
        reader.read("missing-%d" % i)
    assert sorted(reader._flags) == ["missing-2", "missing-3", "missing-4"]  # the oldest forgotten
    assert reader.needs_read("missing-0") and not reader.needs_read("missing-4")


def test_expired_entries_are_read_again_parsing_only_changed_json(server, prefix, stores, raw):
    writer = stores(server.url, prefix)
    writer.init({FEATURES: DATA_FLAGS, SEGMENTS: DATA_SEGMENTS})
    assert writer.flush(WAIT)
    reader = stores(server.url, prefix, caching=CacheConfig(expiration=0.3))
    reader.read("top")
    reader.read("solo")
    before = dict(reader._flags)
    solo_changed, top_changed = changed(reader, "solo"), changed(reader, "top")
    writer.upsert(FEATURES, flag("solo", 2, "v2"))
    raw.hdel(prefix + ":features", "top")  # as a re-init without it would
    assert writer.flush(WAIT)
    assert reader.get(FEATURES, "solo")["variations"][0] == "ü"  # served from the cache until it expires
    assert solo_changed.wait(WAIT) and top_changed.wait(WAIT)
    assert reader.get(FEATURES, "solo")["variations"][0] == "v2"
    assert reader.get(FEATURES, "top") is None and reader._flags["top"].deleted  # gone from Redis: gone
    for key in ("base", "mid"):  # unchanged JSON: the very same parsed object
        assert reader._flags[key] is before[key]


def test_an_entry_is_not_read_again_before_it_expires(server, prefix, stores, raw):
    writer = stores(server.url, prefix)
    writer.init({FEATURES: {"f": flag("f", 1, "old")}, SEGMENTS: {}})
    assert writer.flush(WAIT)
    reader = stores(server.url, prefix, caching=CacheConfig(expiration=3600))
    assert reader.get(FEATURES, "f")["variations"][0] == "old"
    raw.hset(prefix + ":features", "f", json.dumps(flag("f", 2, "new")))
    assert reader.get(FEATURES, "f")["variations"][0] == "old"  # cached: no Redis read
    assert reader.refresh(WAIT)  # (read every entry again now)
    assert reader.get(FEATURES, "f")["variations"][0] == "new"


def test_an_expired_entry_shows_what_redis_holds_even_an_older_version(server, prefix, stores, raw):
    """The database is the truth, as for the official SDK (the old mirror kept the newer version)."""
    writer = stores(server.url, prefix)
    writer.init({FEATURES: {"f": flag("f", 5, "v5")}, SEGMENTS: {}})
    assert writer.flush(WAIT)
    raw.hset(prefix + ":features", "f", json.dumps(flag("f", 4, "v4")))
    assert writer.refresh(WAIT)
    assert writer.get(FEATURES, "f")["variations"][0] == "v4"


def test_a_read_never_undoes_a_write_of_ours_not_yet_in_redis(server, prefix, stores, raw):
    store = stores(server.url, prefix)
    store.init({FEATURES: {"f": flag("f", 1, "one")}, SEGMENTS: {}})
    assert store.flush(WAIT)
    old_json = raw.hget(prefix + ":features", "f")
    began = store._r_gen  # a read of Redis begins, and finds v1 ...
    store.upsert(FEATURES, flag("f", 2, "two"))  # ... while our v2 is queued
    store._apply([store._parse({"features": {"f": old_json}})], began)
    assert store.get(FEATURES, "f")["variations"][0] == "two"
    assert store.flush(WAIT)  # and once it is written, a read begun before the write still loses
    store._apply([store._parse({"features": {"f": old_json}})], began)
    assert store.get(FEATURES, "f")["variations"][0] == "two"


def test_infinite_cache_never_reads_a_cached_key_again_but_reads_a_new_one(server, prefix, stores, raw):
    writer = stores(server.url, prefix)
    writer.init({FEATURES: {"f": flag("f", 1, "old")}, SEGMENTS: {}})
    assert writer.flush(WAIT)
    forever = stores(server.url, prefix, caching=CacheConfig(expiration=float("inf")))
    quick = stores(server.url, prefix, caching=CacheConfig(expiration=0.05))
    assert forever.get(FEATURES, "f") == quick.get(FEATURES, "f") == flag("f", 1, "old")
    changed_forever, changed_quick = changed(forever, "f"), changed(quick, "f")
    raw.hset(prefix + ":features", "f", json.dumps(flag("f", 2, "new")))
    raw.hset(prefix + ":features", "g", json.dumps(flag("g", 1, "gee")))
    assert changed_quick.wait(WAIT)
    assert not changed_forever.wait(0.5)  # ten expiration periods of the other store
    assert forever.get(FEATURES, "f")["variations"][0] == "old"
    assert forever.get(FEATURES, "g")["variations"][0] == "gee"  # not cached: read


def test_disabled_cache_reads_redis_on_every_read(server, prefix, stores, raw):
    writer = stores(server.url, prefix)
    writer.init({FEATURES: {"f": flag("f", 1, "old")}, SEGMENTS: {}})
    assert writer.flush(WAIT)
    reader = stores(server.url, prefix, caching=CacheConfig.disabled())
    assert not reader.caches_reads and reader.needs_read("f")
    assert reader.get(FEATURES, "f")["variations"][0] == "old"
    assert reader.needs_read("f")  # always
    raw.hset(prefix + ":features", "f", json.dumps(flag("f", 2, "new")))
    assert reader.get(FEATURES, "f")["variations"][0] == "new"
    raw.hdel(prefix + ":features", "f")
    assert reader.get(FEATURES, "f") is None
    # flag change listeners still hear of changes (the worker reads the entries every second)
    back = changed(reader, "f")
    raw.hset(prefix + ":features", "f", json.dumps(flag("f", 3, "back")))
    assert back.wait(WAIT)


def test_data_dropped_from_redis_is_not_written_back_and_expires(server, prefix, stores, raw):
    """Without an outage, a writer never puts back what vanished from Redis (the old mirror wrote
    everything again when $inited went missing, and kept serving the vanished flags)."""
    store = stores(server.url, prefix, caching=CacheConfig(expiration=0.3))
    store.init({FEATURES: {"f": flag("f", 1)}, SEGMENTS: {}})
    assert store.flush(WAIT)
    gone = changed(store, "f")
    raw.delete(prefix + ":features", prefix + ":$inited")
    assert gone.wait(WAIT)
    assert store.get(FEATURES, "f") is None
    assert store.refresh(WAIT) and store.flush(WAIT)
    assert raw.keys(prefix + ":*") == [] and store.initialized  # (initialized stays true)


def test_initialized_once_inited_is_seen(server, prefix, stores, raw):
    reader = stores(server.url, prefix)
    assert reader.refresh(WAIT)
    assert not reader.initialized and reader.all(FEATURES) == {}
    raw.set(prefix + ":$inited", prefix + ":$inited")
    assert reader.refresh(WAIT)
    assert reader.initialized


def test_unparseable_json_is_one_malformed_item(server, prefix, stores, raw):
    raw.hset(prefix + ":features", mapping={"bad": b"{not json", "good": json.dumps(flag("good", 1)),
                                            "array": b"[1, 2]", "binary": b"\xff\xfe"})
    raw.set(prefix + ":$inited", prefix + ":$inited")
    reader = stores(server.url, prefix)
    for key in ("bad", "good", "array", "binary"):
        reader.read(key)
    assert all(reader._flags[k].error is not None for k in ("bad", "array", "binary"))
    assert reader._flags["good"].error is None and reader.is_available()
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


def test_during_an_outage_expired_entries_keep_serving_and_a_miss_does_not_wait(prefix, stores):
    """Beyond the contract: the official SDK serves defaults once its cache expires during an
    outage; ldfast keeps serving the last known flags, and a key it does not cache is not found at
    once (Redis is not asked until it is back)."""
    with RedisServer(keep_data=True) as srv:
        writer = stores(srv.url, prefix)
        writer.init({FEATURES: {"f": flag("f", 1, "one")}, SEGMENTS: {}})
        assert writer.flush(WAIT)
        reader = stores(srv.url, prefix, caching=CacheConfig(expiration=0.2))
        sink = RecordingSink()
        reader._attach_status_sink(sink)
        assert reader.get(FEATURES, "f")["variations"][0] == "one"
        srv.stop()
        assert sink.wait_for(1) == [DataStoreStatus(False, False)]  # its next read of f failed
        assert not reader.refresh(0.5)  # (meanwhile, more expiration periods pass)
        assert reader.get(FEATURES, "f")["variations"][0] == "one"
        started = time.monotonic()
        assert reader.get(FEATURES, "other") is None
        assert time.monotonic() - started < 0.1
        assert reader.needs_read("other") is False  # (nothing is read during an outage ...)
        srv.start()
        assert sink.wait_for(3)[1:] == [DataStoreStatus(True, True), DataStoreStatus(True, False)]
        assert reader.needs_read("other")  # (... and "other" was not cached as absent)
        now_two = changed(reader, "f")
        r = redis.Redis.from_url(srv.url)
        r.hset(prefix + ":features", "f", json.dumps(flag("f", 2, "two")))
        r.close()
        assert now_two.wait(WAIT)
        assert reader.get(FEATURES, "f")["variations"][0] == "two"


def test_redis_that_lost_its_data_gets_the_whole_cache_again(prefix, stores):
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
