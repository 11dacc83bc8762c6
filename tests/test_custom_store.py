"""Stores and data sources of your own, as in the official SDK, compared with it.

The same store class (a plain FeatureStore over dicts; a FeatureStoreCore in each SDK's
CachingStoreWrapper) and the same data source class run under ldfast (through both faces) and
under the official ``launchdarkly-server-sdk``, and must give the same answers.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Dict

import ldclient
import ldclient.feature_store
import ldclient.feature_store_helpers
import pytest

import ldfast
from ldfast import Context
from ldfast.feature_store import CacheConfig
from ldfast.feature_store_helpers import CachingStoreWrapper
from ldfast.interfaces import DataSourceErrorInfo, DataSourceErrorKind, DataSourceState

FLAGS = {
    "base": {"key": "base", "version": 1, "on": True, "variations": [False, True], "fallthrough": {"variation": 1},
             "offVariation": 0, "salt": "s", "targets": [], "rules": [], "prerequisites": []},
    "gated": {"key": "gated", "version": 3, "on": True, "variations": ["off", "beta", "general"],
              "offVariation": 0, "fallthrough": {"variation": 2}, "salt": "s", "targets": [],
              "prerequisites": [{"key": "base", "variation": 1}],
              "rules": [{"id": "r1", "variation": 1, "clauses": [
                  {"attribute": "key", "op": "segmentMatch", "values": ["testers"], "negate": False}]}]},
}
SEGMENTS = {
    "testers": {"key": "testers", "version": 2, "included": ["alice"], "excluded": [], "rules": [], "salt": "t"},
}
CONTEXTS = [Context.create("alice"), Context.create("bob")]


def _data(kinds: Any) -> Dict[Any, Dict[str, dict]]:
    features, segments = kinds[:2]
    return {features: {k: dict(v) for k, v in FLAGS.items()}, segments: {k: dict(v) for k, v in SEGMENTS.items()}}


class DictStore:
    """A FeatureStore of one's own (duck-typed, as users write them for the official SDK)."""

    def __init__(self) -> None:
        self.items: Dict[str, Dict[str, dict]] = {"features": {}, "segments": {}}
        self.inited = False
        self.gets = 0

    def get(self, kind, key, callback=lambda x: x):
        self.gets += 1
        item = self.items[kind.namespace].get(key)
        return callback(None if item is None or item.get("deleted") else item)

    def all(self, kind, callback=lambda x: x):
        return callback({k: v for k, v in self.items[kind.namespace].items() if not v.get("deleted")})

    def init(self, all_data):
        self.items = {"features": {}, "segments": {}}
        for kind, items in all_data.items():
            self.items[kind.namespace] = {k: dict(v) for k, v in items.items()}
        self.inited = True

    def upsert(self, kind, item):
        old = self.items[kind.namespace].get(item["key"])
        if old is None or old["version"] < item["version"]:
            self.items[kind.namespace][item["key"]] = dict(item)

    def delete(self, kind, key, version):
        self.upsert(kind, {"key": key, "version": version, "deleted": True})

    @property
    def initialized(self):
        return self.inited


class DictCore:
    """A FeatureStoreCore of one's own (the database half of a persistent store)."""

    def __init__(self) -> None:
        self.items: Dict[str, Dict[str, dict]] = {"features": {}, "segments": {}}
        self.reads = 0
        self.inited = False

    def get_internal(self, kind, key):
        self.reads += 1
        return self.items[kind.namespace].get(key)

    def get_all_internal(self, kind):
        self.reads += 1
        return dict(self.items[kind.namespace])

    def init_internal(self, all_data):
        self.items = {"features": {}, "segments": {}}
        for kind, items in all_data.items():
            self.items[kind.namespace] = {k: _plain(v) for k, v in items.items()}
        self.inited = True

    def upsert_internal(self, kind, item):
        item = _plain(item)
        old = self.items[kind.namespace].get(item["key"])
        if old is None or old["version"] < item["version"]:
            self.items[kind.namespace][item["key"]] = item
            return item
        return old

    def initialized_internal(self):
        return self.inited


def _plain(item: Any) -> dict:
    to_json = getattr(item, "to_json_dict", None)
    return to_json() if to_json is not None else dict(item)


class PushSource:
    """A data source of one's own: pushes data through ``config.data_source_update_sink`` when
    ``report`` (else straight into the store it was given), and reports VALID when ``report``."""

    def __init__(self, config, store, ready, kinds, report):
        self._sink = config.data_source_update_sink
        self._store, self._ready, self._kinds, self._report = store, ready, kinds, report

    def start(self):
        target = self._sink if self._report else self._store
        target.init(_data(self._kinds))
        if self._report:
            self._sink.update_status(self._kinds[2].VALID, None)
        self._ready.set()

    def initialized(self):
        return True

    def stop(self):
        pass

    def is_alive(self):
        return True


OFFICIAL_KINDS = (ldclient.versioned_data_kind.FEATURES, ldclient.versioned_data_kind.SEGMENTS,
                  ldclient.interfaces.DataSourceState)
OUR_KINDS = (ldfast.versioned_data_kind.FEATURES, ldfast.versioned_data_kind.SEGMENTS, DataSourceState)


def source_of(kinds: Any, report: bool) -> Any:
    return lambda config, store, ready: PushSource(config, store, ready, kinds, report)


def official_client(store: Any, report: bool = False) -> Any:
    config = ldclient.Config("sdk-key", feature_store=store, send_events=False,
                             update_processor_class=source_of(OFFICIAL_KINDS, report))
    return ldclient.LDClient(config, start_wait=5)


def ours(face: Face, store: Any, report: bool = False) -> Any:
    return face.client(ldfast.Config("sdk-key", feature_store=store, send_events=False,
                                     update_processor_class=source_of(OUR_KINDS, report)))


def answers(run: Any, client: Any, to_ldclient: bool) -> list:
    out = []
    for ctx in CONTEXTS:
        c = ldclient.Context.create(ctx.key) if to_ldclient else ctx
        for key in ("base", "gated", "missing"):
            out.append(run(client.variation, key, c, "default"))
    return out


def test_a_store_of_ones_own_evaluates_as_the_official_sdk(face):
    official_store, our_store = DictStore(), DictStore()
    official = official_client(official_store)
    try:
        client = ours(face, our_store)
        expected = answers(lambda f, *a: f(*a), official, True)
        assert expected == [True, "beta", "default", True, "general", "default"]
        assert answers(face._run, client, False) == expected
        # the data went into the store of one's own, as there
        assert our_store.items == official_store.items and our_store.inited
        # another writer changes the database behind the client: read through at once, as there
        for store in (official_store, our_store):
            store.items["features"]["base"] = dict(FLAGS["base"], version=2, fallthrough={"variation": 0})
        expected = answers(lambda f, *a: f(*a), official, True)
        assert expected == [False, "off", "default", False, "off", "default"]
        assert answers(face._run, client, False) == expected
    finally:
        official.close()


def test_all_flags_state_reads_the_store_as_the_official_sdk(face):
    official_store, our_store = DictStore(), DictStore()
    official = official_client(official_store)
    try:
        client = ours(face, our_store)
        for store in (official_store, our_store):
            del store.items["features"]["gated"]
        theirs = official.all_flags_state(ldclient.Context.create("alice")).to_values_map()
        mine = face._run(client.all_flags_state, Context.create("alice")).to_values_map()
        assert mine == theirs == {"base": True}
    finally:
        official.close()


def test_a_source_that_reports_nothing_stays_initializing_as_the_official_sdk():
    official = official_client(DictStore())
    client = ldfast.LDClient(ldfast.Config("sdk-key", feature_store=DictStore(), send_events=False,
                                           update_processor_class=source_of(OUR_KINDS, False)), start_wait=5)
    try:
        assert official.data_source_status_provider.status.state.name == "INITIALIZING"
        assert client.data_source_status_provider.status.state is DataSourceState.INITIALIZING
        assert client.is_initialized() and official.is_initialized()
    finally:
        official.close()
        client.close()


def test_data_source_update_sink_as_the_official_sdk():
    official_store, our_store = DictStore(), DictStore()
    official = official_client(official_store, report=True)
    client = ldfast.LDClient(ldfast.Config("sdk-key", feature_store=our_store, send_events=False,
                                           update_processor_class=source_of(OUR_KINDS, True)), start_wait=5)
    try:
        assert official.data_source_status_provider.status.state.name == "VALID"
        assert client.data_source_status_provider.status.state is DataSourceState.VALID
        assert our_store.items == official_store.items
        # an update through the sink reaches the flag tracker
        changed = []
        client.flag_tracker.add_listener(lambda change: changed.append(change.key))
        sink = client._config.data_source_update_sink
        sink.upsert(ldfast.versioned_data_kind.FEATURES, dict(FLAGS["base"], version=9, on=False))
        assert sorted(changed) == ["base", "gated"]
        assert our_store.items["features"]["base"]["version"] == 9
        assert client.variation("base", Context.create("x"), None) is False
        error = DataSourceErrorInfo(DataSourceErrorKind.NETWORK_ERROR, 0, time.time(), "down")
        sink.update_status(DataSourceState.INTERRUPTED, error)
        status = client.data_source_status_provider.status
        assert status.state is DataSourceState.INTERRUPTED and status.error.message == "down"
    finally:
        official.close()
        client.close()


def test_config_data_source_update_sink_is_none_without_a_client():
    assert ldfast.Config("sdk-key").data_source_update_sink is None
    assert ldclient.Config("sdk-key").data_source_update_sink is None


@pytest.mark.parametrize("expiration", [30.0, 0])
def test_feature_store_core_in_a_caching_wrapper_as_the_official_sdk(face, expiration):
    official_core, our_core = DictCore(), DictCore()
    official_store = ldclient.feature_store_helpers.CachingStoreWrapper(
        official_core, ldclient.feature_store.CacheConfig(expiration=expiration))
    our_store = CachingStoreWrapper(our_core, CacheConfig(expiration=expiration))
    official = official_client(official_store)
    try:
        client = ours(face, our_store)
        expected = answers(lambda f, *a: f(*a), official, True)
        assert answers(face._run, client, False) == expected
        assert our_core.items == official_core.items
        # a change made in the database by someone else: seen once the cache expires (at once without a cache)
        for core in (official_core, our_core):
            core.items["features"]["base"] = dict(FLAGS["base"], version=2, fallthrough={"variation": 0})
        expected = answers(lambda f, *a: f(*a), official, True)
        assert answers(face._run, client, False) == expected
        assert expected[0] is (True if expiration else False)
        # the cache spares the database, as there
        official_reads, our_reads = official_core.reads, our_core.reads
        answers(lambda f, *a: f(*a), official, True)
        answers(face._run, client, False)
        if expiration:
            assert official_core.reads == official_reads and our_core.reads == our_reads
        else:
            assert our_core.reads - our_reads > 0 and official_core.reads - official_reads > 0
    finally:
        official.close()


def test_caching_wrapper_ttl_and_initialized():
    core = DictCore()
    store = CachingStoreWrapper(core, CacheConfig(expiration=0.05))
    assert store.initialized is False and core.reads == 0
    core.inited = True
    assert store.initialized is False  # "not initialized" is cached for the expiration period
    time.sleep(0.06)
    assert store.initialized is True
    kind = ldfast.versioned_data_kind.FEATURES
    store.upsert(kind, {"key": "a", "version": 1})
    store.delete(kind, "a", 2)
    assert store.get(kind, "a") is None and core.items["features"]["a"]["deleted"] is True
    store.upsert(kind, {"key": "a", "version": 1})  # older: the deletion stays
    assert store.get(kind, "a") is None and store.all(kind) == {}


def test_a_non_store_is_rejected():
    with pytest.raises(TypeError, match="FeatureStore"):
        ldfast.LDClient(ldfast.Config("sdk-key", offline=True, feature_store=object()))


def test_a_failing_store_does_not_break_evaluation(caplog):
    class Broken(DictStore):
        def get(self, kind, key, callback=lambda x: x):
            raise RuntimeError("database down")

    client = ldfast.LDClient(ldfast.Config("sdk-key", feature_store=Broken(), send_events=False,
                                           update_processor_class=source_of(OUR_KINDS, False)), start_wait=5)
    try:
        # the last data read (here: what the data source wrote) is used; the error is logged
        assert client.variation("base", Context.create("x"), "default") is True
        assert "database down" in caplog.text
    finally:
        client.close()
