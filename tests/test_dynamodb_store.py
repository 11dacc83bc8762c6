"""The DynamoDB feature store against a real DynamoDB-compatible server (moto in server mode, on
loopback): the table layout compared item by item with what the official SDK's DynamoDB store
writes, conditional writes (an older version never replaces a newer one, whoever writes it),
tombstones, the 400 KB item limit, the read-through cache and its caching modes, concurrent
writers, an outage (server stopped and restarted empty), and the options' errors."""
import json
import logging
import subprocess
import sys
import threading
import uuid

import pytest
from ldclient.feature_store import CacheConfig as OfficialCacheConfig
from ldclient.integrations import DynamoDB as OfficialDynamoDB
from ldclient.versioned_data_kind import FEATURES as OFFICIAL_FEATURES
from ldclient.versioned_data_kind import SEGMENTS as OFFICIAL_SEGMENTS

from ldfast.feature_store import CacheConfig, InMemoryFeatureStore
from ldfast.integrations import DynamoDB
from ldfast.integrations._dynamodb import DynamoDBFeatureStore
from ldfast.interfaces import DataStoreStatus
from ldfast.versioned_data_kind import FEATURES, SEGMENTS

from tests.support.moto_server import MotoServer
from tests.test_redis_store import DATA_FLAGS, DATA_SEGMENTS, RecordingSink, flag, segment

WAIT = 10.0


@pytest.fixture
def stores(moto):
    made = []

    def make(table, prefix=None, server=None, **kwargs):
        store = DynamoDB.new_feature_store(table, prefix=prefix, dynamodb_opts=(server or moto).dynamodb_opts,
                                           **kwargs)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def scan(server, table):
    """{(namespace, key): {attribute: value}} of every item in the table."""
    items = server.client().scan(TableName=table, ConsistentRead=True)["Items"]
    return {(i["namespace"]["S"], i["key"]["S"]): i for i in items}


def put_raw(server, table, namespace, item, text=None):
    server.client().put_item(TableName=table, Item={
        "namespace": {"S": namespace}, "key": {"S": item["key"]}, "version": {"N": str(item["version"])},
        "item": {"S": text if text is not None else json.dumps(item)}})


def stored_json(server, table, namespace, key):
    item = scan(server, table).get((namespace, key))
    return None if item is None else json.loads(item["item"]["S"])


def status_sink(store):
    """A sink recording the store's status changes."""
    sink = RecordingSink()
    store._attach_status_sink(sink)
    return sink


def changed(store, key):
    event = threading.Event()
    store.add_change_listener(lambda keys: key in keys and event.set())
    return event


# -- layout and writes ------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", [None, "", "pre"])
def test_the_table_holds_exactly_what_the_official_sdk_writes(moto, stores, prefix):
    theirs, ours = moto.create_table("o-%s" % uuid.uuid4().hex[:8]), moto.create_table("f-%s" % uuid.uuid4().hex[:8])
    official = OfficialDynamoDB.new_feature_store(theirs, prefix=prefix, dynamodb_opts=moto.dynamodb_opts,
                                                  caching=OfficialCacheConfig.disabled())
    official.init({OFFICIAL_FEATURES: json.loads(json.dumps(DATA_FLAGS)),
                   OFFICIAL_SEGMENTS: json.loads(json.dumps(DATA_SEGMENTS))})
    official.upsert(OFFICIAL_FEATURES, flag("solo", 9, "nine"))
    official.delete(OFFICIAL_SEGMENTS, "seg2", 3)
    store = stores(ours, prefix)
    store.init({FEATURES: DATA_FLAGS, SEGMENTS: DATA_SEGMENTS})
    store.upsert(FEATURES, flag("solo", 9, "nine"))
    store.delete(SEGMENTS, "seg2", 3)
    assert store.flush(WAIT)
    expected, got = scan(moto, theirs), scan(moto, ours)
    assert got == expected
    ns = (prefix + ":") if prefix else ""
    assert got[(ns + "$inited", ns + "$inited")] == {"namespace": {"S": ns + "$inited"}, "key": {"S": ns + "$inited"}}
    assert got[(ns + "features", "solo")]["version"] == {"N": "9"}
    assert json.loads(got[(ns + "segments", "seg2")]["item"]["S"]) == {"key": "seg2", "version": 3, "deleted": True}


def test_init_replaces_its_prefix_data_and_leaves_other_prefixes(moto, table, stores):
    other = stores(table, "other")
    other.init({FEATURES: {"keep": flag("keep", 1)}, SEGMENTS: {}})
    store = stores(table, "p")
    store.init({FEATURES: {"a": flag("a", 1), "b": flag("b", 1)}, SEGMENTS: {"s": segment("s", 1)}})
    store.upsert(FEATURES, flag("c", 1))
    assert other.flush(WAIT) and store.flush(WAIT)
    store.init({FEATURES: {"b": flag("b", 2)}, SEGMENTS: {}})
    assert store.flush(WAIT)
    keys = set(scan(moto, table))
    assert keys == {("p:features", "b"), ("p:$inited", "p:$inited"),
                    ("other:features", "keep"), ("other:$inited", "other:$inited")}
    assert stored_json(moto, table, "p:features", "b")["version"] == 2


def test_an_older_version_never_replaces_a_newer_one_whoever_writes_it(moto, table, stores):
    store = stores(table, "p")
    store.init({FEATURES: {"f": flag("f", 1, "one")}, SEGMENTS: {}})
    assert store.flush(WAIT)
    other_process = stores(table, "p")
    assert other_process.upsert(FEATURES, flag("f", 5, "five"))
    assert other_process.flush(WAIT)
    assert store.upsert(FEATURES, flag("f", 3, "three"))  # (its cache holds v1: accepted, not written)
    assert store.flush(WAIT)
    assert stored_json(moto, table, "p:features", "f")["version"] == 5
    official = OfficialDynamoDB.new_feature_store(table, prefix="p", dynamodb_opts=moto.dynamodb_opts,
                                                  caching=OfficialCacheConfig.disabled())
    official.upsert(OFFICIAL_FEATURES, flag("f", 4, "four"))  # the official SDK's condition, the same rule
    assert stored_json(moto, table, "p:features", "f")["version"] == 5
    assert store.delete(FEATURES, "f", 6)
    assert store.flush(WAIT)
    assert stored_json(moto, table, "p:features", "f") == {"key": "f", "version": 6, "deleted": True}
    assert official.get(OFFICIAL_FEATURES, "f") is None
    assert store.upsert(FEATURES, flag("f", 7, "back"))
    assert store.flush(WAIT)
    assert official.get(OFFICIAL_FEATURES, "f")["variations"][0] == "back"


def test_concurrent_writers_leave_the_highest_versions(moto, table, stores):
    writers = [stores(table, "p") for _ in range(4)]
    keys = ["k%d" % i for i in range(5)]
    versions = list(range(1, 9))

    flushed = []

    def write(index, store):
        order = versions[index % 2::2] + versions[(index + 1) % 2::2]  # each writer in its own order
        for version in order:
            for key in keys:
                store.upsert(FEATURES, flag(key, version + 10 * index, "w%d" % index))
        flushed.append(store.flush(WAIT))

    threads = [threading.Thread(target=write, args=(i, w)) for i, w in enumerate(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 3)
    assert flushed == [True] * 4
    for key in keys:
        assert stored_json(moto, table, "p:features", key)["version"] == 38  # 8 + 10 * 3


def test_an_item_over_400_kb_is_dropped_with_an_error_and_the_rest_is_stored(moto, table, stores, caplog):
    big = flag("big", 1)
    big["targets"] = [{"variation": 0, "values": ["user-%07d" % i for i in range(40_000)]}]  # ~560 KB of JSON
    store = stores(table, "p")
    with caplog.at_level(logging.ERROR, logger="ldfast"):
        store.init({FEATURES: {"big": big, "small": flag("small", 1)}, SEGMENTS: {"s": segment("s", 1)}})
        assert store.flush(WAIT)
        bigger = dict(big, version=2)
        store.upsert(FEATURES, bigger)
        store.upsert(FEATURES, flag("small", 2))
        assert store.flush(WAIT)
    keys = set(scan(moto, table))
    assert ("p:features", "small") in keys and ("p:segments", "s") in keys and ("p:$inited", "p:$inited") in keys
    assert ("p:features", "big") not in keys
    assert stored_json(moto, table, "p:features", "small")["version"] == 2
    dropped = [r.getMessage() for r in caplog.records if "too large to store in DynamoDB" in r.getMessage()]
    assert dropped == ['The item "big" in "features" was too large to store in DynamoDB and was dropped'] * 2
    assert store.get(FEATURES, "big")["version"] == 2  # the cache still serves it
    assert store.is_available()


# -- the read-through cache --------------------------------------------------------------------------

def test_a_key_not_cached_is_read_with_what_it_depends_on(moto, table, stores):
    official = OfficialDynamoDB.new_feature_store(table, prefix="p", dynamodb_opts=moto.dynamodb_opts)
    top = dict(DATA_FLAGS["top"], rules=[{"id": "r", "variation": 0, "clauses": [
        {"attribute": "", "op": "segmentMatch", "values": ["seg1"], "negate": False}]}])
    official.init({OFFICIAL_FEATURES: json.loads(json.dumps(dict(DATA_FLAGS, top=top))),
                   OFFICIAL_SEGMENTS: json.loads(json.dumps(DATA_SEGMENTS))})
    reader = stores(table, "p")
    assert isinstance(reader, InMemoryFeatureStore) and isinstance(reader, DynamoDBFeatureStore)
    assert reader.reads_through and reader.wait_started(WAIT)
    assert reader.initialized and reader.needs_read("top")
    reader.read("top")
    assert set(reader._flags) == {"top", "mid", "base"} and set(reader._segments) == {"seg1"}
    assert not reader.needs_read("top") and reader.get(FEATURES, "top")["version"] == 3
    assert reader.get(FEATURES, "missing") is None
    assert not reader.needs_read("missing")  # the miss is cached
    assert set(reader.all(FEATURES)) == set(DATA_FLAGS)


def test_ttl_reads_changes_again_once_expired(moto, table, stores):
    put_raw(moto, table, "p:features", flag("f", 1, "one"))
    reader = stores(table, "p", caching=CacheConfig(expiration=0.2))
    assert reader.get(FEATURES, "f")["variations"][0] == "one"
    now_two = changed(reader, "f")
    put_raw(moto, table, "p:features", flag("f", 2, "two"))
    assert now_two.wait(WAIT)
    assert reader.get(FEATURES, "f")["variations"][0] == "two"
    gone = changed(reader, "f")
    moto.client().delete_item(TableName=table, Key={"namespace": {"S": "p:features"}, "key": {"S": "f"}})
    assert gone.wait(WAIT)
    assert reader.get(FEATURES, "f") is None


def test_infinite_cache_never_reads_a_cached_key_again_and_disabled_reads_every_time(moto, table, stores):
    put_raw(moto, table, "p:features", flag("f", 1, "one"))
    forever = stores(table, "p", caching=CacheConfig(expiration=float("inf")))
    uncached = stores(table, "p", caching=CacheConfig.disabled())
    assert forever.get(FEATURES, "f")["variations"][0] == uncached.get(FEATURES, "f")["variations"][0] == "one"
    put_raw(moto, table, "p:features", flag("f", 2, "two"))
    put_raw(moto, table, "p:features", flag("g", 1, "gee"))
    assert uncached.get(FEATURES, "f")["variations"][0] == "two"
    assert not forever.needs_read("f") and forever.get(FEATURES, "f")["variations"][0] == "one"
    assert forever.get(FEATURES, "g")["variations"][0] == "gee"  # a key it lacks is still read
    assert forever.refresh(WAIT)  # (an explicit refresh reads everything, whatever the mode)
    assert forever.get(FEATURES, "f")["variations"][0] == "two"


def test_unparseable_json_is_one_malformed_item(moto, table, stores):
    put_raw(moto, table, "p:features", {"key": "bad", "version": 1}, text='{"key": "bad", "version": 1, "on": tr')
    put_raw(moto, table, "p:features", flag("good", 1, "fine"))
    reader = stores(table, "p")
    assert reader.get(FEATURES, "good")["variations"][0] == "fine"
    reader.read("bad")
    assert reader._flags["bad"].error is not None
    assert reader.is_available()


# -- daemon-mode initialization, outages -----------------------------------------------------------

def test_initialized_once_inited_is_seen(moto, table, stores):
    reader = stores(table, "p", caching=CacheConfig(expiration=0.2))
    assert reader.wait_started(WAIT) and not reader.initialized
    writer = stores(table, "p")
    writer.init({FEATURES: {}, SEGMENTS: {}})
    assert writer.flush(WAIT)
    assert reader.refresh(WAIT) and reader.initialized


def test_an_outage_keeps_the_last_known_data_queues_writes_and_rewrites_a_table_that_lost_it(stores):
    with MotoServer() as srv:
        table = srv.create_table("outage")
        store = stores(table, "p", server=srv, caching=CacheConfig(expiration=0.2))
        sink = status_sink(store)
        store.init({FEATURES: DATA_FLAGS, SEGMENTS: DATA_SEGMENTS})
        assert store.flush(WAIT)
        srv.stop()
        store.upsert(FEATURES, flag("solo", 7, "patched"))
        assert sink.wait_for(1) == [DataStoreStatus(False, False)]
        assert not store.is_available() and not store.flush(0.5)
        assert store.get(FEATURES, "solo")["variations"][0] == "patched"  # the cache serves
        assert store.get(FEATURES, "top")["version"] == 3
        assert store.get(FEATURES, "other") is None and store.needs_read("other") is False  # nothing waits
        srv.start()  # empty, the table created again: $inited is missing, the writer writes it all
        assert sink.wait_for(3) == [DataStoreStatus(False, False), DataStoreStatus(True, True),
                                    DataStoreStatus(True, False)]
        assert store.flush(WAIT)
        keys = set(scan(srv, table))
        assert {k for ns, k in keys if ns == "p:features"} == set(DATA_FLAGS)
        assert {k for ns, k in keys if ns == "p:segments"} == set(DATA_SEGMENTS)
        assert stored_json(srv, table, "p:features", "solo")["version"] == 7


# -- options ---------------------------------------------------------------------------------------

def test_bad_options_raise_clear_errors(moto, table):
    with pytest.raises(ValueError, match="table_name"):
        DynamoDB.new_feature_store("", dynamodb_opts=moto.dynamodb_opts)
    with pytest.raises(TypeError, match="prefix"):
        DynamoDB.new_feature_store(table, prefix=5, dynamodb_opts=moto.dynamodb_opts)
    with pytest.raises(TypeError, match="config"):
        DynamoDB.new_feature_store(table, dynamodb_opts=dict(moto.dynamodb_opts, config={"read_timeout": 1}))
    with pytest.raises(TypeError, match="no_such_option"):
        DynamoDB.new_feature_store(table, dynamodb_opts=dict(moto.dynamodb_opts, no_such_option=1))
    with pytest.raises(ValueError, match="table_name"):
        DynamoDB.new_big_segment_store(None, dynamodb_opts=moto.dynamodb_opts)


def test_a_config_of_yours_is_merged_over_the_short_timeouts(moto, table, stores):
    from botocore.config import Config as BotoConfig

    store = stores(table, "p")
    assert (store._d_client.meta.config.connect_timeout, store._d_client.meta.config.read_timeout) == (5, 5)
    mine = DynamoDB.new_feature_store(table, dynamodb_opts=dict(moto.dynamodb_opts,
                                                                config=BotoConfig(read_timeout=1.5)))
    assert (mine._d_client.meta.config.connect_timeout, mine._d_client.meta.config.read_timeout) == (5, 1.5)
    mine.close()


def test_without_boto3_the_error_names_the_extra():
    script = ("import sys; sys.modules['boto3'] = None\n"
              "from ldfast.integrations import DynamoDB\n"
              "for make in (DynamoDB.new_feature_store, DynamoDB.new_big_segment_store):\n"
              "    try:\n        make('t')\n    except ImportError as e:\n        print(e)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and all("pip install 'ldfast[dynamodb]'" in line for line in lines)
