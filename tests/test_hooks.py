"""Evaluation hooks (ldfast.hook) through both faces, against the official SDK as the oracle.

The same script of hooks (each call recorded: hook, stage, series context, data, detail) runs on
ldfast's sync and Twisted clients and on the official client over equivalent TestData; the records
must be equal. Then what the script cannot show: the fast path stays the compiled method without
hooks, a failing hook is logged once per stage, the X-LD-EnvID header reaches the series context
(stream and polling, through a real loopback server), Twisted evaluations that wait.
"""
from __future__ import annotations

import json
import logging
from typing import Any, List, Optional

import ldclient
import ldclient.hook
import ldclient.integrations.test_data
import pytest
from twisted.internet.task import Clock
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site

import ldfast
import ldfast.hook
from ldfast import Config, Context
from ldfast._reactor import ReactorThread
from ldfast.datasource.status import DataSourceStatusProvider, record_environment_id
from ldfast.integrations.test_data import TestData
from ldfast.twisted import TwistedLDClient
from tests.support.faces import FACES, Face

SDKS = FACES + ("official",)


# -- a recording hook, written once against either SDK's hook module -------------------------------

def _context_record(context: Any) -> Any:
    return context.to_dict() if context.valid else ("invalid", context.key)


def _detail_record(detail: Any) -> Any:
    return None if detail is None else (detail.value, detail.variation_index, detail.reason)


def recording_hook(hook_module: Any, name: str, record: List[Any], *, before_data: Any = None,
                   fail_before: bool = False, fail_after: bool = False) -> Any:
    """A hook (subclass of ``hook_module.Hook``) appending each call to ``record``."""

    class Recorder(hook_module.Hook):
        @property
        def metadata(self) -> Any:
            return hook_module.Metadata(name=name)

        def _note(self, stage: str, sc: Any, data: Any, detail: Any = None) -> None:
            record.append((name, stage, sc.key, _context_record(sc.context), sc.default_value, sc.method,
                           sc.environment_id, data, _detail_record(detail)))

        def before_evaluation(self, sc: Any, data: dict) -> dict:
            self._note("before", sc, data)
            if fail_before:
                raise RuntimeError("before failed in " + name)
            return {**data, **(before_data or {"from": name})}

        def after_evaluation(self, sc: Any, data: dict, detail: Any) -> dict:
            self._note("after", sc, data, detail)
            if fail_after:
                raise ValueError("after failed in " + name)
            return data

    return Recorder()


def _flags(td: Any) -> Any:
    td.update(td.flag("bool").variation_for_all(True))
    td.update(td.flag("str").variations("red", "green", "blue").fallthrough_variation(2)
              .if_match("group", "beta").then_return(1))
    td.update(td.flag("off").boolean_flag().on(False))
    td.update(td.flag("json").variations({"a": [1, 2]}, {"b": None}).variation_for_all(0))
    return td


class Runner:
    """One SDK's client over TestData, with calls made the way its face wants them."""

    def __init__(self, sdk: str, hooks: List[Any], plugins: Optional[List[Any]] = None, **config: Any):
        self.sdk = sdk
        self.face: Optional[Face] = None
        if sdk == "official":
            td = _flags(ldclient.integrations.test_data.TestData.data_source())
            cfg = ldclient.Config("sdk-key", update_processor_class=td, send_events=False, hooks=hooks,
                                  plugins=plugins or [], **config)
            self.client = ldclient.LDClient(cfg, start_wait=5)
            self.context = ldclient.Context
        else:
            td = _flags(TestData.data_source())
            self.face = Face(sdk)
            self.client = self.face.client(Config("sdk-key", update_processor_class=td, send_events=False,
                                                  hooks=hooks, plugins=plugins or [], **config))
            self.context = ldfast.Context
        self.td = td

    def call(self, method: str, *args: Any) -> Any:
        fn = getattr(self.client, method)
        return fn(*args) if self.face is None else self.face._run(fn, *args)

    def close(self) -> None:
        if self.face is None:
            self.client.close()
        else:
            self.face.close()


def _hook_module(sdk: str) -> Any:
    return ldclient.hook if sdk == "official" else ldfast.hook


def _script(sdk: str) -> List[Any]:
    """The scripted evaluations on one SDK: what every hook saw, in order, and what each call returned."""
    hm = _hook_module(sdk)
    record: List[Any] = []
    hooks = [
        recording_hook(hm, "first", record, before_data={"n": 1}),
        recording_hook(hm, "fails-before", record, fail_before=True),
        "not a hook",  # left out (the official SDK drops it silently; ldfast with a warning)
        recording_hook(hm, "fails-after", record, fail_after=True),
        recording_hook(hm, "last", record),
    ]
    run = Runner(sdk, hooks)
    C = run.context
    user = C.builder("u1").set("group", "beta").build()
    multi = C.create_multi(C.create("u2"), C.create("o1", "org"))
    results: List[Any] = []
    try:
        results.append(run.call("variation", "bool", user, False))
        results.append(_detail_record(run.call("variation_detail", "str", user, "dflt")))
        results.append(run.call("variation", "str", multi, "dflt"))
        results.append(run.call("variation", "off", user, "dflt"))
        results.append(run.call("variation", "json", user, {}))
        results.append(run.call("variation", "missing", user, 42))
        results.append(_detail_record(run.call("variation_detail", "missing", multi, [1])))
        results.append(_detail_record(run.call("variation_detail", "bool", C.create(""), None)))
        results.append(run.call("all_flags_state", user).valid)  # not an evaluation series
        run.call("add_hook", recording_hook(hm, "added", record))
        run.call("add_hook", object())  # not a hook: ignored
        results.append(run.call("variation", "bool", user, None))
    finally:
        run.close()
    return [results, record]


def test_hook_script_matches_the_official_sdk(caplog):
    caplog.set_level(logging.CRITICAL)
    official = _script("official")
    assert len(official[1]) == 8 * 8 + 10  # 8 series by 4 hooks (8 calls each), then 1 by 5 hooks
    for face in FACES:
        assert _script(face) == official, face


@pytest.mark.parametrize("face", FACES)
def test_series_order_data_and_detail(face):
    record: List[Any] = []
    hm = ldfast.hook
    run = Runner(face, [recording_hook(hm, "a", record), recording_hook(hm, "b", record, before_data={"x": 2})])
    try:
        assert run.call("variation_detail", "str", {"key": "u", "group": "beta"}, "d").value == "green"
    finally:
        run.close()
    ctx = {"kind": "user", "key": "u", "group": "beta"}
    detail = ("green", 1, {"kind": "RULE_MATCH", "ruleIndex": 0, "ruleId": "rule0"})
    assert record == [
        ("a", "before", "str", ctx, "d", "variation_detail", None, {}, None),
        ("b", "before", "str", ctx, "d", "variation_detail", None, {}, None),
        ("b", "after", "str", ctx, "d", "variation_detail", None, {"x": 2}, detail),
        ("a", "after", "str", ctx, "d", "variation_detail", None, {"from": "a"}, detail),
    ]


@pytest.mark.parametrize("face", FACES)
def test_failing_hook_is_logged_once_per_stage_and_never_changes_the_result(face, caplog):
    hm = ldfast.hook
    record: List[Any] = []
    run = Runner(face, [recording_hook(hm, "bad", record, fail_before=True, fail_after=True),
                        recording_hook(hm, "good", record)])
    try:
        for _ in range(3):
            assert run.call("variation", "bool", Context.create("u"), False) is True
            assert run.call("variation_detail", "missing", Context.create("u"), 7).value == 7
    finally:
        run.close()
    errors = [r for r in caplog.records if r.name == "ldfast.hook" and r.levelno >= logging.ERROR]
    assert [r.getMessage().split(" (")[0] for r in errors] == [
        "An error occurred in beforeEvaluation of the hook bad: before failed in bad",
        "An error occurred in afterEvaluation of the hook bad: after failed in bad",
    ]
    bad_after = [r for r in record if r[:2] == ("bad", "after")]
    assert len(bad_after) == 6 and all(r[7] == {} for r in bad_after)  # its data: {} after it raised
    assert all(r[7] == {"from": "good"} for r in record if r[:2] == ("good", "after"))


@pytest.mark.parametrize("face", FACES)
def test_config_default_and_not_ready_details_reach_after_hooks(face):
    record: List[Any] = []
    hm = ldfast.hook
    run = Runner(face, [recording_hook(hm, "h", record)])
    try:
        run.call("set_offline")
        assert run.call("variation", "bool", Context.create("u"), "dflt") == "dflt"
    finally:
        run.close()
    assert record[-1][-1] == ("dflt", None, {"kind": "ERROR", "errorKind": "CLIENT_NOT_READY"})


def test_no_hooks_keeps_the_compiled_bound_method_and_add_hook_switches():
    td = _flags(TestData.data_source())
    client = ldfast.LDClient(Config("k", update_processor_class=td, send_events=False), start_wait=5)
    try:
        assert client.variation == client._core.variation and client.variation.__self__ is client._core
        assert client.variation_detail.__self__ is client._core
        record: List[Any] = []
        client.add_hook(recording_hook(ldfast.hook, "h", record))
        assert getattr(client.variation, "__self__", None) is not client._core  # the hook path
        assert client.variation("bool", Context.create("u"), False) is True
        assert [r[1] for r in record] == ["before", "after"]
    finally:
        client.close()
    hooked = ldfast.LDClient(Config("k", offline=True, hooks=[recording_hook(ldfast.hook, "h", [])]))
    assert getattr(hooked.variation, "__self__", None) is not hooked._core
    assert getattr(hooked.variation_detail, "__self__", None) is not hooked._core
    hooked.close()


def test_config_hook_list_is_copied_at_start():
    hooks: List[Any] = []
    client = ldfast.LDClient(Config("k", offline=True, hooks=hooks))
    hooks.append(recording_hook(ldfast.hook, "late", []))  # after the client started: not its hook
    assert client._hooks.hooks == () and client.variation.__self__ is client._core
    client.close()


def test_hook_must_implement_every_stage():
    class Partial(ldfast.hook.Hook):
        @property
        def metadata(self) -> Any:
            return ldfast.hook.Metadata("p")

        def before_evaluation(self, series_context: Any, data: dict) -> dict:
            return data

    with pytest.raises(TypeError):
        Partial()  # type: ignore[abstract]
    sc = ldfast.hook.EvaluationSeriesContext("k", Context.create("u"), 1, "variation")
    assert sc.environment_id is None
    assert sc == ldfast.hook.EvaluationSeriesContext(key="k", context=Context.create("u"), default_value=1,
                                                     method="variation", environment_id=None)


def test_flag_value_change_listener_evaluations_run_the_hooks():
    """The official tracker evaluates through variation(key, context, None), hooks included."""
    record: List[Any] = []
    td = _flags(TestData.data_source())
    client = ldfast.LDClient(Config("k", update_processor_class=td, send_events=False,
                                    hooks=[recording_hook(ldfast.hook, "h", record)]), start_wait=5)
    try:
        changes: List[Any] = []
        client.flag_tracker.add_flag_value_change_listener("bool", Context.create("u"), changes.append)
        td.update(td.flag("bool").variation_for_all(False))
        assert [(c.old_value, c.new_value) for c in changes] == [(True, False)]
    finally:
        client.close()
    assert [(r[1], r[2], r[4], r[5], r[8]) for r in record] == [
        ("before", "bool", None, "variation", None), ("after", "bool", None, "variation", (True, 0, {"kind": "FALLTHROUGH"})),
        ("before", "bool", None, "variation", None), ("after", "bool", None, "variation", (False, 1, {"kind": "FALLTHROUGH"})),
    ]


# -- Twisted: a hooked evaluation that has to wait ----------------------------------------------------

def test_twisted_after_stage_runs_when_the_deferred_fires():
    record: List[Any] = []
    td = _flags(TestData.data_source())
    client = TwistedLDClient("k", Config(update_processor_class=td, send_events=False,
                                         hooks=[recording_hook(ldfast.hook, "h", record)]), reactor=Clock())
    gate: Any = None

    def waits(key: str, context: Any, evaluate: Any) -> Any:  # as a store read or Big Segment fetch would
        from twisted.internet.defer import Deferred

        nonlocal gate
        gate = Deferred()
        return gate.addCallback(lambda _: evaluate(context))

    client._evaluated = waits  # type: ignore[method-assign]
    d = client.variation("bool", {"key": "u"}, False)
    assert [r[1] for r in record] == ["before"] and not d.called
    gate.callback(None)
    assert [r[1] for r in record] == ["before", "after"] and d.result is True
    client.close()


# -- the environment id (X-LD-EnvID) -----------------------------------------------------------------

ENV_ID = "6071f33ba9e64b5e8f4b1b4d"
DATA = {"flags": {"bool": {"key": "bool", "version": 1, "on": True, "variations": [True, False],
                           "fallthrough": {"variation": 0}, "offVariation": 1, "salt": "s"}},
        "segments": {}}


class _EnvIdServer(Resource):
    """Stream (``/all``) and poll (``/sdk/latest-all``) answers carrying ``X-LD-EnvID``."""

    isLeaf = True

    def __init__(self) -> None:
        Resource.__init__(self)
        self.streams: List[Any] = []

    def render_GET(self, request: Any) -> Any:
        request.setHeader(b"x-ld-envid", ENV_ID.encode())
        if request.path == b"/all":
            request.setHeader(b"content-type", b"text/event-stream")
            request.write(b"event: put\ndata: " + json.dumps({"path": "/", "data": DATA}).encode() + b"\n\n")
            self.streams.append(request)
            request.notifyFinish().addErrback(lambda _: None)
            return NOT_DONE_YET
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(DATA).encode()


@pytest.fixture
def env_id_server():
    server = ReactorThread("envid-server")
    resource = _EnvIdServer()
    port = server.call(lambda: server.reactor.listenTCP(0, Site(resource), interface="127.0.0.1"))
    yield "http://127.0.0.1:%d" % port.getHost().port
    server.call(port.stopListening)
    server.stop()


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "polling"])
@pytest.mark.parametrize("face", FACES)
def test_environment_id_from_the_response_header_reaches_the_hooks(face, stream, env_id_server):
    record: List[Any] = []
    config = Config("sdk-key", base_uri=env_id_server, stream_uri=env_id_server, stream=stream,
                    send_events=False, hooks=[recording_hook(ldfast.hook, "h", record)])
    f = Face(face)
    try:
        client = f.client(config)
        assert f.variation(client, "bool", Context.create("u"), False) is True
    finally:
        f.close()
    assert [(r[1], r[6]) for r in record] == [("before", ENV_ID), ("after", ENV_ID)]


def test_record_environment_id_keeps_the_last_non_empty_header():
    from twisted.web.http_headers import Headers

    status = DataSourceStatusProvider()
    record_environment_id(status, Headers({}))
    assert status.environment_id is None
    record_environment_id(status, Headers({b"X-LD-EnvID": [b"env-a"]}))
    record_environment_id(status, Headers({b"x-ld-envid": [b""]}))  # empty: kept as it was
    assert status.environment_id == "env-a"


def test_environment_id_is_none_without_a_header():
    record: List[Any] = []
    td = _flags(TestData.data_source())
    client = ldfast.LDClient(Config("k", update_processor_class=td, send_events=False,
                                    hooks=[recording_hook(ldfast.hook, "h", record)]), start_wait=5)
    client.variation("bool", Context.create("u"), False)
    client.close()
    assert [r[6] for r in record] == [None, None]


# -- over a persistent store that reads through (the flag is read before the evaluation) -----------

@pytest.fixture(scope="module")
def redis_url():
    from tests.support.redis_server import RedisServer

    with RedisServer() as server:
        yield "redis://127.0.0.1:%d" % server.port


@pytest.mark.parametrize("face", FACES)
def test_hooks_wrap_an_evaluation_that_reads_the_store_first(face, redis_url):
    import uuid

    import redis

    from ldfast.feature_store import CacheConfig
    from ldfast.integrations import Redis

    prefix = "hooks-%s" % uuid.uuid4().hex[:8]
    db = redis.Redis.from_url(redis_url)
    flag = dict(DATA["flags"]["bool"])
    db.hset(prefix + ":features", "bool", json.dumps(flag))
    db.set(prefix + ":$inited", "")
    record: List[Any] = []
    store = Redis.new_feature_store(url=redis_url, prefix=prefix, caching=CacheConfig.disabled())
    f = Face(face)
    try:
        client = f.client(Config("k", use_ldd=True, feature_store=store, send_events=False,
                                 hooks=[recording_hook(ldfast.hook, "h", record)]))
        assert f.variation(client, "bool", Context.create("u"), None) is True
        db.hset(prefix + ":features", "bool", json.dumps(dict(flag, version=2, fallthrough={"variation": 1})))
        assert f.variation(client, "bool", Context.create("u"), None) is False  # read again: no cache
    finally:
        f.close()
        db.close()
    assert [(r[1], r[8]) for r in record] == [
        ("before", None), ("after", (True, 0, {"kind": "FALLTHROUGH"})),
        ("before", None), ("after", (False, 1, {"kind": "FALLTHROUGH"})),
    ]
