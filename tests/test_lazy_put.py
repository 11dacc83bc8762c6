"""A first streamed put stored as placeholder flags (``pending_flag``), parsed on first use and in
the background: the same answers as parsing at once, for every reader, on any thread.

The differential part builds an ldfast client whose store holds a random data set as
placeholders (split from the put's text exactly as the streaming source does) and compares every
evaluation and all_flags_state with the official SDK, as tests/test_differential.py does for
parsed data.
"""
import json
import threading

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

import ldfast
from ldfast.datasource._payload import BackgroundParse, InvalidData, put_items
from ldfast.feature_store import InMemoryFeatureStore, dependency_order
from ldfast.model import parse_flag, parse_segment, pending_flag
from ldfast.versioned_data_kind import FEATURES, SEGMENTS

from tests import helpers
from tests import strategies as S
from tests import test_differential as D


def put_text(flags, segments):
    return json.dumps({"path": "/", "data": {"flags": flags, "segments": segments}})


def split_put(text):
    """The streaming source's first-put path: flags as placeholders, in dependency order."""
    flags, segments = {}, {}
    for _ in put_items(text, flags, segments, parse_flag, parse_segment, keep_text=True, pending_flag=pending_flag):
        pass
    return dependency_order(flags), segments


class PendingSource(helpers.StaticDataSource):
    """Stores the data set as the streaming source stores a first put."""

    def start(self):
        flags, segments = split_put(put_text(self._data[FEATURES], self._data[SEGMENTS]))
        assert all(f.pending for f in flags.values())
        self._store.init_preprocessed(flags, segments, ordered=True)
        self._initialized = True
        self._ready.set()


def pending_client(flags, segments):
    def factory(config, store, ready):
        return PendingSource(store, ready, flags, segments)

    return ldfast.LDClient(config=ldfast.Config("sdk-key", update_processor_class=factory, send_events=False),
                           start_wait=5)


FLAG = {"key": "f", "version": 3, "on": True, "variations": ["a", "b", "c"], "offVariation": 0,
        "fallthrough": {"variation": 1}, "salt": "s", "trackEvents": True,
        "prerequisites": [{"key": "p", "variation": 0}],
        "targets": [{"values": ["u1", "u2"], "variation": 2}],
        "rules": [{"id": "r", "variation": 0,
                   "clauses": [{"attribute": "email", "op": "endsWith", "values": ["@x.com"]}]}]}
PREREQ = {"key": "p", "version": 1, "on": True, "variations": [True, False], "fallthrough": {"variation": 0}}


@pytest.mark.parametrize("text", [
    json.dumps(FLAG), json.dumps(PREREQ),
    json.dumps(dict(FLAG, version="7")),          # malformed: version is not an int
    json.dumps({"key": "gone", "version": 9, "deleted": True}),
    "5", "[1, 2]", "null", '{"key": "k"}',
])
def test_a_placeholder_parses_into_the_flag_a_direct_parse_gives(text, caplog):
    direct = parse_flag(json.loads(text), text)
    placeholder = pending_flag("stored-key", text, ())
    assert placeholder.pending and placeholder.raw_json == text
    placeholder.materialize()
    assert not placeholder.pending
    for name in ("key", "version", "deleted", "on", "variations", "off_variation", "salt", "track_events",
                 "track_events_fallthrough", "debug_events_until_date", "exclude_from_summaries",
                 "sampling_ratio", "client_side", "error", "uses_state", "segment_keys"):
        assert getattr(placeholder, name) == getattr(direct, name), name
    assert [p.key for p in placeholder.prerequisites] == [p.key for p in direct.prerequisites]
    assert placeholder.raw == direct.raw
    placeholder.materialize()  # a second call does nothing
    assert not placeholder.pending


def test_every_store_reader_parses_a_placeholder_it_meets():
    text = put_text({"f": FLAG, "p": PREREQ, "gone": {"key": "gone", "version": 9, "deleted": True}}, {})
    flags, segments = split_put(text)
    assert list(flags) == ["p", "f", "gone"]  # prerequisites first, from the placeholders' texts alone
    store = InMemoryFeatureStore()
    store.init_preprocessed(flags, segments, ordered=True)
    assert store.get(FEATURES, "gone") is None  # deleted: known only once parsed
    assert store.get(FEATURES, "f") == FLAG
    assert store.all(FEATURES) == {"f": FLAG, "p": PREREQ}
    assert not store.upsert(FEATURES, dict(PREREQ, version=1))  # the version rule reads the placeholder
    assert store.upsert(FEATURES, dict(PREREQ, version=2, on=False))
    assert not any(f.pending for f in store._flags.values())


def test_evaluation_parses_the_flag_and_its_prerequisites_only():
    flags, segments = split_put(put_text({"f": FLAG, "p": PREREQ, "other": dict(PREREQ, key="other")}, {}))
    client = pending_client_from(flags, segments)
    try:
        user = {"kind": "user", "key": "u9", "email": "a@x.com"}
        detail = client.variation_detail("f", user, "default")
        assert (detail.value, detail.reason) == ("a", {"kind": "RULE_MATCH", "ruleIndex": 0, "ruleId": "r"})
        assert [k for k, f in client._store._flags.items() if f.pending] == ["other"]
        assert client.variation("u-target", user, "dflt") == "dflt"
        assert client.variation_detail("f", {"kind": "user", "key": "u2"}, None).value == "c"
    finally:
        client.close()


def pending_client_from(flags, segments):
    class Source(helpers.StaticDataSource):
        def start(self):
            self._store.init_preprocessed(flags, segments, ordered=True)
            self._initialized = True
            self._ready.set()

    return ldfast.LDClient(config=ldfast.Config(
        "sdk-key", update_processor_class=lambda c, store, ready: Source(store, ready, {}, {}), send_events=False),
        start_wait=5)


def test_threads_racing_to_parse_the_same_placeholders_agree():
    raw = {"f%d" % i: dict(FLAG, key="f%d" % i, prerequisites=[]) for i in range(300)}
    flags, segments = split_put(put_text(raw, {}))
    client = pending_client_from(flags, segments)
    user = {"kind": "user", "key": "u1"}
    results, errors = [], []
    start = threading.Barrier(4)

    def worker():
        try:
            start.wait()
            results.append(client.all_flags_state(user, with_reasons=True).to_json_dict())
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == [] and len(results) == 4
        assert all(r == results[0] for r in results)
        assert results[0]["f7"] == "c"
        assert not any(f.pending for f in client._store._flags.values())
    finally:
        client.close()


def test_an_invalid_flags_object_rejects_the_whole_put():
    for bad in ('{"path": "/", "data": {"flags": {"a": {"key": "a",}}, "segments": {}}}',
                '{"path": "/", "data": {"flags": {"a": [1 2]}, "segments": {}}}',
                '{"path": "/", "data": {"flags": {"a": "\x01"}, "segments": {}}}',
                '{"path": "/", "data": {"flags": {"a": 01}, "segments": {}}}'):
        with pytest.raises(InvalidData):
            split_put(bad)


def test_background_parse_parses_everything_in_steps_and_tells_waiters():
    from twisted.internet.task import Cooperator

    steps = []
    coop = Cooperator(terminationPredicateFactory=lambda: (lambda: True), scheduler=lambda f: steps.append(f))
    parse = BackgroundParse(coop)
    assert parse.waiter() is None
    flags, _ = split_put(put_text({"f": FLAG, "p": PREREQ}, {}))
    parse.start(flags)
    waited = []
    parse.waiter().addCallback(waited.append)
    while steps:
        steps.pop(0)()
    assert waited == [None] and parse.waiter() is None
    assert not any(f.pending for f in flags.values())
    flags, _ = split_put(put_text({"f": FLAG}, {}))
    parse.start(flags)
    parse.waiter().addCallback(waited.append)
    parse.stop()  # stopping tells waiters too (readers parse what they meet)
    assert waited == [None, None] and flags["f"].pending


_SETTINGS = dict(deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.filter_too_much, HealthCheck.large_base_example])


@settings(max_examples=max(D.MAX_EXAMPLES // 10, 20), **_SETTINGS)
@given(example=S.examples(6), default=st.sampled_from(D.DEFAULTS))
def test_placeholder_data_evaluates_as_the_official_sdk(example, default):
    flags, segments, contexts = example
    assume(D.official_accepts(flags, segments))
    official = D.official_client(flags, segments)
    fast = pending_client(flags, segments)
    try:
        with helpers.quiet_sdk_logs():
            # all_flags_state first (it parses every placeholder), then each flag on fresh placeholders
            for ctx_dict in contexts[:2]:
                D.compare_all_flags(ctx_dict, D._contexts(ctx_dict), official, fast, flags, segments,
                                    with_reasons=True)
            fast.close()
            fast = pending_client(flags, segments)
            for ctx_dict in contexts:
                both = D._contexts(ctx_dict)
                for key in sorted(flags) + [S.MISSING_FLAG_KEY]:
                    D.compare_detail(key, ctx_dict, both, default, official, fast, flags, segments)
    finally:
        official.close()
        fast.close()


# -- the streaming source -------------------------------------------------------------------------

def test_first_streamed_put_is_stored_as_placeholders_then_parsed_in_the_background():
    from tests.test_streaming import Harness, ManualCooperator, put

    coop = ManualCooperator()
    h = Harness(cooperator=coop)
    h.respond().push(put([FLAG, PREREQ]))
    coop.run()  # the split, the ordering, the swap, then the background parse, one step a tick
    assert h.inits and h.store.get(FEATURES, "f") == FLAG
    assert not any(f.pending for f in h.store._flags.values()) and h.source.flags_parsed() is None

    h2 = Harness(cooperator=coop)
    response = h2.respond()
    response.push(put([FLAG, PREREQ]))
    while not h2.inits:
        assert coop.step()
    assert [k for k, f in h2.store._flags.items() if f.pending] == ["p", "f"]  # initialized, not yet parsed
    waited = []
    h2.source.flags_parsed().addCallback(waited.append)
    coop.run()
    assert waited == [None] and not any(f.pending for f in h2.store._flags.values())

    # a later put replaces data that is serving: parsed before the swap, as always
    response.push(put([dict(FLAG, version=4), PREREQ]))
    coop.run()
    assert h2.store._flags["f"].version == 4 and not any(f.pending for f in h2.store._flags.values())
    h.source.stop(), h2.source.stop()


def test_stopping_the_source_tells_waiters_and_readers_still_parse():
    from tests.test_streaming import Harness, ManualCooperator, put

    coop = ManualCooperator()
    h = Harness(cooperator=coop)
    h.respond().push(put([FLAG, PREREQ]))
    while not h.inits:
        assert coop.step()
    waited = []
    h.source.flags_parsed().addCallback(waited.append)
    h.source.stop()
    assert waited == [None]
    assert h.store.get(FEATURES, "p") == PREREQ


def test_twisted_client_all_flags_state_waits_for_the_background_parse():
    from twisted.internet.task import Clock

    from ldfast.twisted import TwistedLDClient
    from tests.test_streaming import ManualCooperator, put

    coop = ManualCooperator()

    class Source:
        """The streaming source's contract, as the Twisted client sees it."""

        def __init__(self, config, store, ready):
            self.store = store
            self.parse = BackgroundParse(coop)

        def start(self):
            flags, segments = split_put(put([FLAG, PREREQ]).split(b"data: ", 1)[1].decode())
            self.store.init_preprocessed(flags, segments, ordered=True)
            self.parse.start(flags)

        def initialized(self):
            return True

        def is_alive(self):
            return True

        def flags_parsed(self):
            return self.parse.waiter()

        def stop(self):
            self.parse.stop()

    client = TwistedLDClient("sdk-key", ldfast.Config("sdk-key", update_processor_class=Source, send_events=False),
                             reactor=Clock())
    results = []
    client.all_flags_state({"key": "u1"}).addCallback(results.append)
    client.all_flags({"key": "u1"}).addCallback(results.append)
    assert results == []  # waiting for the background parse, which the reactor runs in slices
    value = []
    client.variation("f", {"key": "u1"}, "default").addCallback(value.append)
    assert value == ["c"]  # an evaluation parses what it needs at once
    coop.run()
    assert results[0].valid and results[0].to_json_dict()["f"] == "c" and results[1] == {"f": "c", "p": True}
    client.all_flags({"key": "u1"}).addCallback(results.append)
    assert results[2] == results[1]  # nothing pending: fired at once
    client.close()


def test_placeholders_are_ordered_as_parsed_flags_even_with_odd_prerequisites():
    raw = {
        "a": dict(PREREQ, key="a", prerequisites=[{"key": "b", "variation": 0}, 5, {"key": 7}]),
        "b": dict(PREREQ, key="b", prerequisites="x"),
        "c": dict(PREREQ, key="c", version="bad", prerequisites=[{"key": "a"}, {"key": "d"}]),
        "d": dict(PREREQ, key="d", prerequisites=[{"key": "e", "variation": 0}]),
        "e": dict(PREREQ, key="e"),
        "f": 5,
    }
    text = put_text(raw, {})
    eager_flags, segments = {}, {}
    for _ in put_items(text, eager_flags, segments, parse_flag, parse_segment, keep_text=True):
        pass
    lazy, _ = split_put(text)
    assert list(lazy) == list(dependency_order(eager_flags))
    for key, flag in lazy.items():
        flag.materialize()
        assert (flag.key, flag.version, flag.error) == (eager_flags[key].key, eager_flags[key].version,
                                                        eager_flags[key].error)


def test_a_fork_while_another_thread_parses_leaves_the_child_able_to_parse():
    import os
    import time

    from ldfast._ext import model

    impl = model.implementation
    held, release = threading.Event(), threading.Event()

    def parser_thread():  # as a sync client's networking thread, caught mid-parse by the fork
        with impl._MATERIALIZING:
            held.set()
            release.wait(10)

    t = threading.Thread(target=parser_thread)
    t.start()
    held.wait(10)
    flag = pending_flag("p", json.dumps(PREREQ), ())
    pid = os.fork()
    if pid == 0:  # the child: its fork handlers gave it a new lock
        try:
            flag.materialize()
            os._exit(0 if not flag.pending and flag.version == 1 else 1)
        finally:
            os._exit(2)
    release.set()
    t.join(10)
    deadline = time.monotonic() + 20
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung on the placeholder lock")
        time.sleep(0.01)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
