"""The DynamoDB stores end to end, through both client faces (sync and Twisted), against a real
DynamoDB-compatible server (moto in server mode, on loopback), with the official SDK as oracle:

- the persistent-store contract (sdk-test-harness ``server_side_persistence_base.go`` scenarios):
  daemon mode without a cache sees the table on every evaluation, TTL and infinite caching, a
  data source's writes, and beyond it: an outage keeps the last known flags;
- the Twisted face reads DynamoDB in the reactor's thread pool, never on the reactor;
- interop both ways: the official SDK's DynamoDB store writes generated flags and segments, ldfast
  in daemon mode evaluates every flag as the official daemon client does; ldfast streams from the
  fake LaunchDarkly and writes, the official daemon client evaluates every flag as ldfast does;
- Big Segments in DynamoDB: every flag x context as the official SDK evaluates it.
"""
import copy
import json
import socket
import threading
import uuid

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from ldclient.client import LDClient as OfficialLDClient
from ldclient.config import BigSegmentsConfig as OfficialBigSegmentsConfig
from ldclient.config import Config as OfficialConfig
from ldclient.context import Context as OfficialContext
from ldclient.feature_store import CacheConfig as OfficialCacheConfig
from ldclient.integrations import DynamoDB as OfficialDynamoDB
from ldclient.versioned_data_kind import FEATURES as OFFICIAL_FEATURES
from ldclient.versioned_data_kind import SEGMENTS as OFFICIAL_SEGMENTS

import ldfast
from ldfast import Config, LDClient
from ldfast.big_segments import hash_for_context_key
from ldfast.config import BigSegmentsConfig
from ldfast.feature_store import CacheConfig
from ldfast.integrations import DynamoDB
from ldfast.interfaces import DataStoreStatus
from ldfast.versioned_data_kind import FEATURES

from tests import helpers
from tests import strategies as S
from tests.support.faces import FACES, StoreFace
from tests.support.fake_ld import FakeLaunchDarklyThread
from tests.support.moto_server import MotoServer
from tests.test_big_segments import CONTEXTS as BIG_CONTEXTS
from tests.test_big_segments import FLAGS as BIG_FLAGS
from tests.test_big_segments import SEGMENTS as BIG_SEGMENTS
from tests.test_big_segments import NOW_MS
from tests.test_redis_contract import NOT_FOUND, flag
from tests.test_redis_store import RecordingSink
from tests.test_redis_daemon import _SETTINGS, CONTEXTS, DEFAULTS, compare_clients, official_accepts, \
    official_redis_can_read

pytestmark = pytest.mark.filterwarnings("ignore:Possible .*:FutureWarning")  # (generated regexes)

WAIT = 10.0
SDK_KEY = "sdk-dynamodb-test"
TTL = 1.0


@pytest.fixture(scope="module", autouse=True)
def quiet_sdk_logs():
    with helpers.quiet_sdk_logs():
        yield


@pytest.fixture(params=FACES)
def face(request):
    f = StoreFace(request.param)
    yield f
    f.close()


def put(server, table, *flags, prefix="p"):
    for f in flags:
        server.client().put_item(TableName=table, Item={
            "namespace": {"S": prefix + ":features"}, "key": {"S": f["key"]},
            "version": {"N": str(f["version"])}, "item": {"S": json.dumps(f)}})


def drop(server, table, key, prefix="p"):
    server.client().delete_item(TableName=table, Key={"namespace": {"S": prefix + ":features"}, "key": {"S": key}})


def changed(store, key):
    event = threading.Event()
    store.add_change_listener(lambda keys: key in keys and event.set())
    return event


def daemon(face, server, table, caching, prefix="p"):
    store = DynamoDB.new_feature_store(table, prefix=prefix, dynamodb_opts=server.dynamodb_opts, caching=caching)
    return face.client(Config(SDK_KEY, use_ldd=True, feature_store=store, send_events=False)), store


# -- the contract, through both faces -----------------------------------------------------------------

def test_daemon_mode_without_a_cache_sees_the_table_on_every_evaluation(face, moto, table):
    client, store = daemon(face, moto, table, CacheConfig.disabled())
    assert face.detail(client, "f") == ("dflt", NOT_FOUND)
    put(moto, table, flag("f", 1, "one"))
    assert face.value(client, "f") == "one"
    put(moto, table, flag("f", 2, "two"))
    assert face.value(client, "f") == "two"
    assert face.all_values(client) == {"f": "two"}
    drop(moto, table, "f")
    assert face.detail(client, "f") == ("dflt", NOT_FOUND)
    assert face.all_values(client) == {}


def test_ttl_cache_hit_is_served_until_it_expires_and_infinite_never_changes(face, moto, table):
    put(moto, table, flag("f", 1, "one"))
    forever, forever_store = daemon(face, moto, table, CacheConfig(expiration=float("inf")))
    client, store = daemon(face, moto, table, CacheConfig(expiration=TTL))
    assert face.value(client, "f") == face.value(forever, "f") == "one"
    now_two = changed(store, "f")
    put(moto, table, flag("f", 2, "two"), flag("g", 1, "gee"))
    assert face.value(client, "f") == "one" or now_two.is_set()  # cached until it expires (and is read)
    assert now_two.wait(WAIT)
    assert face.value(client, "f") == "two"
    assert face.value(forever, "g") == "gee"  # a flag it lacks is read
    assert face.value(forever, "f") == "one"  # a cached one never again


def test_a_data_source_writes_through_and_its_updates_show_at_once(face, moto, table):
    with FakeLaunchDarklyThread({"f": flag("f", 1, "one")}) as fake:
        store = DynamoDB.new_feature_store(table, prefix="p", dynamodb_opts=moto.dynamodb_opts)
        client = face.client(Config(SDK_KEY, stream_uri=fake.uri, base_uri=fake.uri, feature_store=store,
                                    send_events=False))
        assert face.value(client, "f") == "one"
        seen = changed(store, "g")
        fake.patch(FEATURES, flag("g", 2, "gee"))
        assert seen.wait(WAIT)
        assert face.value(client, "g") == "gee"
        assert store.flush(WAIT)
        reader, _ = daemon(face, moto, table, CacheConfig.default())
        assert face.all_values(reader) == {"f": "one", "g": "gee"}


def test_unparseable_json_is_malformed_flag_and_the_rest_evaluates(face, moto, table):
    moto.client().put_item(TableName=table, Item={
        "namespace": {"S": "p:features"}, "key": {"S": "bad"}, "version": {"N": "1"},
        "item": {"S": '{"key": "bad", "version": 1, "on": tr'}})
    put(moto, table, flag("good", 1, "fine"))
    client, store = daemon(face, moto, table, CacheConfig.default())
    assert face.detail(client, "bad") == ("dflt", {"kind": "ERROR", "errorKind": "MALFORMED_FLAG"})
    assert face.value(client, "good") == "fine"


def test_an_outage_keeps_the_last_known_flags_and_a_flag_not_cached_is_not_found(face):
    with MotoServer() as srv:
        table = srv.create_table("outage")
        put(srv, table, flag("f", 1, "one"))
        client, store = daemon(face, srv, table, CacheConfig(expiration=0.2))
        statuses = RecordingSink()  # (the client's status provider calls it)
        client.data_store_status_provider.add_listener(statuses._record)
        assert face.value(client, "f") == "one"
        srv.stop()
        assert not statuses.wait_for(1)[0].available
        assert not store.refresh(0.5)  # (meanwhile its entry expires again and again)
        assert face.value(client, "f") == "one"
        assert face.detail(client, "other") == ("dflt", NOT_FOUND)
        srv.start()  # (empty: the table is created again)
        assert statuses.wait_for(3)[1:] == [DataStoreStatus(True, True), DataStoreStatus(True, False)]
        now_two = changed(store, "f")
        put(srv, table, flag("f", 2, "two"))
        assert now_two.wait(WAIT)
        assert face.value(client, "f") == "two"


def test_reads_run_on_the_calling_thread_or_the_reactors_thread_pool(face, moto, table):
    put(moto, table, flag("f", 1, "one"))
    face.check_reads_off_the_reactor(DynamoDB.new_feature_store(table, prefix="p", dynamodb_opts=moto.dynamodb_opts),
                                     SDK_KEY)


# -- interop with the official SDK's DynamoDB store ------------------------------------------------

def storable(flags, segments):
    """False where DynamoDB cannot hold an item: its ``version`` attribute is a number, so a version
    that is not an integer (e.g. ``true``) fails the official SDK's whole init and is left out
    (logged) by ldfast; a writer still serves it from its cache, readers of the table do not."""
    versions = [item.get("version") for item in list(flags.values()) + list(segments.values())]
    return all(isinstance(v, int) and not isinstance(v, bool) for v in versions)


def interop_table(server, example, name):
    """(flags, segments, contexts, a new table) for an example both SDKs can store and read."""
    flags, segments, contexts = example
    assume(official_accepts(flags, segments) and official_redis_can_read(flags, segments)
           and storable(flags, segments))
    return flags, segments, contexts, server.create_table("%s-%s" % (name, uuid.uuid4().hex[:10]))


def official_daemon(server, table, prefix):
    store = OfficialDynamoDB.new_feature_store(table, prefix=prefix, dynamodb_opts=server.dynamodb_opts,
                                               caching=OfficialCacheConfig.disabled())
    return OfficialLDClient(OfficialConfig(SDK_KEY, use_ldd=True, feature_store=store, send_events=False))


def fast_daemon(server, table, prefix):
    store = DynamoDB.new_feature_store(table, prefix=prefix, dynamodb_opts=server.dynamodb_opts)
    return LDClient(Config(SDK_KEY, use_ldd=True, feature_store=store, send_events=False))


@settings(max_examples=15, **_SETTINGS)
@given(example=S.examples(CONTEXTS), default=st.sampled_from(DEFAULTS))
def test_official_dynamodb_data_evaluates_identically_in_ldfast_daemon_mode(moto, example, default):
    flags, segments, contexts, table = interop_table(moto, example, "i")
    prefix = "o"
    writer = OfficialDynamoDB.new_feature_store(table, prefix=prefix, dynamodb_opts=moto.dynamodb_opts)
    writer.init({OFFICIAL_FEATURES: copy.deepcopy(flags), OFFICIAL_SEGMENTS: copy.deepcopy(segments)})
    official, fast = official_daemon(moto, table, prefix), fast_daemon(moto, table, prefix)
    try:
        assert fast.is_initialized()
        compare_clients(official, fast, flags, contexts, default)  # every flag read through on first use
    finally:
        fast.close()
        official.close()


@settings(max_examples=8, **_SETTINGS)
@given(example=S.examples(CONTEXTS), default=st.sampled_from(DEFAULTS))
def test_ldfast_writes_what_an_official_daemon_client_evaluates_identically(moto, example, default):
    flags, segments, contexts, table = interop_table(moto, example, "w")
    prefix = "w"
    with FakeLaunchDarklyThread(copy.deepcopy(flags), copy.deepcopy(segments)) as fake:
        store = DynamoDB.new_feature_store(table, prefix=prefix, dynamodb_opts=moto.dynamodb_opts)
        writer = LDClient(Config(SDK_KEY, stream_uri=fake.uri, base_uri=fake.uri, feature_store=store,
                                 send_events=False), start_wait=WAIT)
        official, reader = official_daemon(moto, table, prefix), fast_daemon(moto, table, prefix)
        try:
            assert writer.is_initialized() and store.flush(WAIT)
            assert official.is_initialized()
            compare_clients(official, writer, flags, contexts, default)
            compare_clients(official, reader, flags, contexts, default)
            key = sorted(flags)[0]  # a patch through the stream reaches the table, and so the official client
            version = flags[key].get("version")
            version = version + 1 if isinstance(version, int) and not isinstance(version, bool) else 10**6
            patched = changed(store, key)
            fake.patch(FEATURES, flag(key, version, "patched"))
            assert patched.wait(WAIT) and store.flush(WAIT)
            assert official.variation(key, OfficialContext.create("someone"), None) == "patched"
        finally:
            writer.close()
            reader.close()
            official.close()


# -- Big Segments ----------------------------------------------------------------------------------

def prefixed(prefix, name):
    return (prefix + ":" if prefix else "") + name


def put_membership(server, table, prefix, key, include=(), exclude=()):
    item = {"namespace": {"S": prefixed(prefix, "big_segments_user")}, "key": {"S": hash_for_context_key(key)}}
    if include:
        item["included"] = {"SS": list(include)}
    if exclude:
        item["excluded"] = {"SS": list(exclude)}
    server.client().put_item(TableName=table, Item=item)


def set_synchronized(server, table, prefix, value):
    key = {"S": prefixed(prefix, "big_segments_metadata")}
    item = {"namespace": key, "key": key}
    if value is not None:
        item["synchronizedOn"] = {"N": str(value)}
    server.client().put_item(TableName=table, Item=item)


def big_segment_clients(server, table, prefix):
    from tests.helpers import static_source

    source = static_source(copy.deepcopy(BIG_FLAGS), copy.deepcopy(BIG_SEGMENTS))
    fast = LDClient(Config(SDK_KEY, update_processor_class=source, send_events=False, big_segments=BigSegmentsConfig(
        store=DynamoDB.new_big_segment_store(table, prefix=prefix, dynamodb_opts=server.dynamodb_opts))),
        start_wait=5)
    official_store = OfficialDynamoDB.new_feature_store(table, prefix="flags", dynamodb_opts=server.dynamodb_opts)
    official_store.init({OFFICIAL_FEATURES: copy.deepcopy(BIG_FLAGS), OFFICIAL_SEGMENTS: copy.deepcopy(BIG_SEGMENTS)})
    official = OfficialLDClient(OfficialConfig(SDK_KEY, use_ldd=True, feature_store=official_store, send_events=False,
                                               big_segments=OfficialBigSegmentsConfig(store=OfficialDynamoDB.new_big_segment_store(
                                                   table, prefix=prefix, dynamodb_opts=server.dynamodb_opts))))
    return fast, official


@pytest.mark.parametrize("synchronized, status", [
    (lambda: NOW_MS(), "HEALTHY"),
    (lambda: NOW_MS() - 200_000, "STALE"),  # stale_after defaults to 120 s
    (lambda: None, "STALE"),  # never synchronized
], ids=["fresh", "old", "missing"])
def test_big_segments_evaluate_as_the_official_sdk(moto, table, synchronized, status):
    prefix = "bs"
    put_membership(moto, table, prefix, "u-in", include=["big-user.g2"])
    put_membership(moto, table, prefix, "u-ex", exclude=["big-user.g2"])
    put_membership(moto, table, prefix, "u-both", include=["big-user.g2"], exclude=["big-user.g2"])
    put_membership(moto, table, prefix, "u-oldgen", include=["big-user.g1"])
    put_membership(moto, table, prefix, "o-in", include=["big-org.g7"])
    put_membership(moto, table, prefix, "o-out", exclude=["big-org.g7"])
    set_synchronized(moto, table, prefix, synchronized())
    fast, official = big_segment_clients(moto, table, prefix)
    statuses = set()
    try:
        for ctx in BIG_CONTEXTS:
            oc, fc = OfficialContext.from_dict(copy.deepcopy(ctx)), ldfast.Context.from_dict(copy.deepcopy(ctx))
            for key in BIG_FLAGS:
                expected = official.variation_detail(key, oc, "default")
                got = fast.variation_detail(key, fc, "default")
                assert json.dumps([got.value, got.variation_index, got.reason], sort_keys=True) == \
                    json.dumps([expected.value, expected.variation_index, expected.reason], sort_keys=True), (key, ctx)
                statuses.add(expected.reason.get("bigSegmentsStatus"))
    finally:
        fast.close()
        official.close()
    assert statuses == {None, "NOT_CONFIGURED", status}
    assert fast.big_segment_store_status_provider.status.available


def test_big_segment_store_reads_the_layout_and_include_wins(moto, table):
    store = DynamoDB.new_big_segment_store(table, dynamodb_opts=moto.dynamodb_opts)  # no prefix
    official = OfficialDynamoDB.new_big_segment_store(table, dynamodb_opts=moto.dynamodb_opts)
    assert store.get_metadata().last_up_to_date is None
    put_membership(moto, table, None, "k", include=["a.g1", "b.g1"], exclude=["b.g1", "c.g1"])
    set_synchronized(moto, table, None, 123)
    h = hash_for_context_key("k")
    assert store.get_metadata().last_up_to_date == official.get_metadata().last_up_to_date == 123
    assert store.get_membership(h) == official.get_membership(h) == {"a.g1": True, "b.g1": True, "c.g1": False}
    assert store.get_membership("nobody") is None and official.get_membership("nobody") is None
    store.stop()


# -- diagnostics, fork, a server that never answers --------------------------------------------------

def test_diagnostics_name_the_dynamodb_store(moto, table):
    from ldclient.impl.events.diagnostics import create_diagnostic_init as official_init

    from ldfast.events.diagnostics import create_diagnostic_init

    store = DynamoDB.new_feature_store(table, dynamodb_opts=moto.dynamodb_opts)
    try:
        ours = create_diagnostic_init(0, {}, Config(SDK_KEY, feature_store=store))["configuration"]
        official_store = OfficialDynamoDB.new_feature_store(table, dynamodb_opts=moto.dynamodb_opts)
        theirs = official_init(0, {}, OfficialConfig(SDK_KEY, feature_store=official_store))["configuration"]
        assert ours["dataStoreType"] == theirs["dataStoreType"] == "DynamoDB"
    finally:
        store.close()


def test_a_forked_child_keeps_refreshing_from_dynamodb(moto, table):
    put(moto, table, flag("f", 1, "before"))
    store = DynamoDB.new_feature_store(table, prefix="p", dynamodb_opts=moto.dynamodb_opts,
                                       caching=CacheConfig(expiration=0.1))
    client = LDClient(Config(SDK_KEY, use_ldd=True, feature_store=store, send_events=False))
    try:
        assert client.variation("f", ldfast.Context.create("u"), None) == "before"  # (now cached)
        def child():  # a worker and a boto3 client of its own, made by the store itself
            changed_event = threading.Event()
            store.add_change_listener(lambda keys: changed_event.set())
            put(moto, table, flag("f", 2, "after"))
            return client.variation("f", ldfast.Context.create("u"), None) if changed_event.wait(WAIT) else None

        assert helpers.in_forked_child(child) == (0, "after")
    finally:
        client.close()


def test_a_server_that_never_answers_makes_the_store_unavailable_and_close_returns(face):
    """A socket that accepts connections and never answers (1 s read timeouts): the first read of
    a flag not cached fails (FLAG_NOT_FOUND), the store is unavailable, the next flag is not read
    at all, and close() returns (waiting at most 2 s for the worker)."""
    from botocore.config import Config as BotoConfig

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    opts = dict(MotoServer(port=listener.getsockname()[1]).dynamodb_opts,
                config=BotoConfig(connect_timeout=1, read_timeout=1, retries={"max_attempts": 1}))
    try:
        store = DynamoDB.new_feature_store("t", dynamodb_opts=opts)
        client = face.client(Config(SDK_KEY, use_ldd=True, feature_store=store, send_events=False))
        assert face.detail(client, "f") == ("dflt", NOT_FOUND)
        assert not store.is_available() and not store.needs_read("g")
        assert face.detail(client, "g") == ("dflt", NOT_FOUND)
        face._run(client.close)
        store.close()
    finally:
        listener.close()


def test_big_segments_through_each_face(face, moto, table):
    """The Big Segment store's queries run off the reactor (the manager's thread pool) for the
    Twisted client, on the calling thread for the sync client; the membership decides the rule."""
    from tests.helpers import static_source

    put_membership(moto, table, "bs", "u-in", include=["big-user.g2"])
    set_synchronized(moto, table, "bs", NOW_MS())
    store = DynamoDB.new_big_segment_store(table, prefix="bs", dynamodb_opts=moto.dynamodb_opts)
    client = face.client(Config(SDK_KEY, send_events=False, big_segments=BigSegmentsConfig(store=store),
                                update_processor_class=static_source(copy.deepcopy(BIG_FLAGS),
                                                                     copy.deepcopy(BIG_SEGMENTS))))
    for key, value in (("u-in", "on"), ("u-none", "off")):
        detail = face._run(client.variation_detail, "f-user", ldfast.Context.create(key), "default")
        assert (detail.value, detail.reason.get("bigSegmentsStatus")) == (value, "HEALTHY")


def test_big_segments_when_dynamodb_is_down_report_store_error():
    from tests.helpers import static_source
    from tests.support.processes import free_port

    opts = MotoServer(port=free_port()).dynamodb_opts  # (nothing listens there)
    store = DynamoDB.new_big_segment_store("t", prefix="bs", dynamodb_opts=opts)
    client = LDClient(Config(SDK_KEY, send_events=False, big_segments=BigSegmentsConfig(store=store),
                             update_processor_class=static_source(copy.deepcopy(BIG_FLAGS), copy.deepcopy(BIG_SEGMENTS))),
                      start_wait=5)
    try:
        detail = client.variation_detail("f-user", ldfast.Context.create("u-in"), "default")
        assert (detail.value, detail.reason.get("bigSegmentsStatus")) == ("off", "STORE_ERROR")
        assert not client.big_segment_store_status_provider.status.available
    finally:
        client.close()
