"""Plugins (ldfast.plugin) through every face (the asyncio one with AsyncPlugin), against the official SDK as the oracle: when
get_hooks and register are called and with what, hook order, failing and ill-typed plugins."""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, List

import ldclient
import ldclient.hook
import ldclient.plugin
import pytest

import ldfast
import ldfast.hook
import ldfast.plugin
import ldfast.async_client
from ldfast import Config, Context
from tests.support.faces import FACES
from tests.test_hooks import Runner, recording_hook


def _modules(sdk: str) -> Any:
    return (ldclient.hook, ldclient.plugin) if sdk == "official" else (ldfast.hook, ldfast.plugin)


def recording_plugin(sdk: str, name: str, calls: List[Any], record: List[Any], *, hooks: int = 1,
                     fail_hooks: bool = False, fail_register: bool = False, add_hook: bool = False) -> Any:
    """A plugin appending its calls to ``calls``; its hooks (and one it adds in register) record to ``record``."""
    hm, pm = _modules(sdk)

    class Recorder(pm.Plugin):
        @property
        def metadata(self) -> Any:
            return pm.PluginMetadata(name=name)

        def get_hooks(self, metadata: Any) -> List[Any]:
            calls.append((name, "get_hooks", _metadata_record(metadata)))
            if fail_hooks:
                raise RuntimeError("no hooks from " + name)
            return [recording_hook(hm, "%s-hook%d" % (name, i), record) for i in range(hooks)]

        def register(self, client: Any, metadata: Any) -> None:
            calls.append((name, "register", _metadata_record(metadata), client.is_initialized()))
            if add_hook:
                client.add_hook(recording_hook(hm, name + "-added", record))
            if fail_register:
                raise RuntimeError("cannot register " + name)

    if sdk != "asyncio":
        return Recorder()

    class AsyncRecorder(pm.AsyncPlugin):  # the asyncio client's plugins: register is awaited
        metadata = Recorder.metadata
        get_hooks = Recorder.get_hooks

        async def register(self, client: Any, metadata: Any) -> None:
            calls.append((name, "register", _metadata_record(metadata), await client.is_initialized()))
            if add_hook:
                client.add_hook(recording_hook(hm, name + "-added", record))
            if fail_register:
                raise RuntimeError("cannot register " + name)

    return AsyncRecorder()


def _metadata_record(metadata: Any) -> Any:
    sdk = dataclasses.asdict(metadata.sdk)
    sdk.pop("version")  # each SDK's own
    application = None if metadata.application is None else dataclasses.asdict(metadata.application)
    return (type(metadata).__name__, sdk, metadata.sdk_key, application)


def _run(sdk: str) -> Any:
    hm, _pm = _modules(sdk)
    calls: List[Any] = []
    record: List[Any] = []
    plugins = [
        recording_plugin(sdk, "p1", calls, record, hooks=2),
        recording_plugin(sdk, "fails-get-hooks", calls, record, fail_hooks=True),
        "not a plugin",
        recording_plugin(sdk, "fails-register", calls, record, fail_register=True),
        recording_plugin(sdk, "adds", calls, record, hooks=0, add_hook=True),
    ]
    run = Runner(sdk, [recording_hook(hm, "config-hook", record)], plugins, wrapper_name="wrap",
                 wrapper_version="1.2", application={"id": "app", "version": "3"})
    try:
        value = run.call("variation", "bool", run.context.create("u"), False)
    finally:
        run.close()
    return value, calls, [(r[0], r[1]) for r in record]


def test_plugins_match_the_official_sdk(caplog):
    caplog.set_level(logging.CRITICAL)
    official = _run("official")
    value, calls, order = official
    assert value is True
    # get_hooks of every plugin, then register of every plugin, before the data source started
    assert [c[:2] for c in calls] == [("p1", "get_hooks"), ("fails-get-hooks", "get_hooks"),
                                      ("fails-register", "get_hooks"), ("adds", "get_hooks"),
                                      ("p1", "register"), ("fails-get-hooks", "register"),
                                      ("fails-register", "register"), ("adds", "register")]
    assert all(c[3] is False for c in calls if c[1] == "register")
    assert calls[0][2] == ("EnvironmentMetadata", {"name": "python-server-sdk", "wrapper_name": "wrap",
                                                   "wrapper_version": "1.2"}, "sdk-key", {"id": "app", "version": "3"})
    # config hooks first, then the plugins' in plugin order, then what register added
    assert [o[0] for o in order if o[1] == "before"] == ["config-hook", "p1-hook0", "p1-hook1",
                                                          "fails-register-hook0", "adds-added"]
    for face in FACES:
        assert _run(face) == official, face


@pytest.mark.parametrize("face", FACES)
def test_failing_and_ill_typed_plugins_are_logged_and_skipped(face, caplog):
    caplog.set_level(logging.WARNING)
    _run(face)
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("ldfast")]
    assert "Error getting hooks from plugin fails-get-hooks: no hooks from fails-get-hooks" in messages
    assert "Error registering plugin fails-register: cannot register fails-register" in messages
    assert any("Ignoring 'not a plugin'" in m for m in messages)


@pytest.mark.parametrize("face", FACES)
def test_plugin_hook_list_items_that_are_not_hooks_are_left_out(face, caplog):
    record: List[Any] = []

    class Mixed(ldfast.plugin.Plugin):
        metadata = property(lambda self: ldfast.plugin.PluginMetadata("mixed"))

        def get_hooks(self, metadata: Any) -> List[Any]:
            return [42, recording_hook(ldfast.hook, "real", record)]

        def register(self, client: Any, metadata: Any) -> None:
            pass

    run = Runner(face, [], [Mixed()])
    try:
        assert run.call("variation", "bool", Context.create("u"), False) is True
    finally:
        run.close()
    assert [(r[0], r[1]) for r in record] == [("real", "before"), ("real", "after")]
    assert any("Ignoring 42 from the hooks of plugin mixed" in r.getMessage() for r in caplog.records)


def test_register_gets_the_client_being_started_on_each_face():
    seen: List[Any] = []

    class Keeps(ldfast.plugin.Plugin):
        metadata = property(lambda self: ldfast.plugin.PluginMetadata("keeps"))

        def get_hooks(self, metadata: Any) -> List[Any]:
            return []

        def register(self, client: Any, metadata: Any) -> None:
            seen.append(client)

    for face in FACES:
        run = Runner(face, [], [Keeps()])
        try:
            assert seen[-1] is run.client
        finally:
            run.close()
    assert type(seen[0]) is ldfast.LDClient and type(seen[1]) is ldfast.TwistedLDClient
    assert type(seen[2]) is ldfast.async_client.AsyncLDClient  # (a Plugin's register, called, not awaited)


def test_offline_client_registers_plugins_too():
    calls: List[Any] = []
    client = ldfast.LDClient(Config("k", offline=True, plugins=[recording_plugin("sync", "p", calls, [])]))
    client.close()
    assert [c[1] for c in calls] == ["get_hooks", "register"]


def test_public_names_match_the_official_module():
    for name in ("Plugin", "AsyncPlugin", "PluginMetadata", "EnvironmentMetadata", "SdkMetadata", "ApplicationMetadata"):
        ours, theirs = getattr(ldfast.plugin, name), getattr(ldclient.plugin, name)
        if dataclasses.is_dataclass(theirs):
            assert [(f.name, f.default) for f in dataclasses.fields(ours)] == \
                   [(f.name, f.default) for f in dataclasses.fields(theirs)], name
        assert sorted(getattr(ours, "__abstractmethods__", ())) == sorted(getattr(theirs, "__abstractmethods__", ())), name
    for name in ("Hook", "Metadata", "EvaluationSeriesContext"):
        ours, theirs = getattr(ldfast.hook, name), getattr(ldclient.hook, name)
        if dataclasses.is_dataclass(theirs):
            assert [(f.name, f.default) for f in dataclasses.fields(ours)] == \
                   [(f.name, f.default) for f in dataclasses.fields(theirs)], name
        assert sorted(getattr(ours, "__abstractmethods__", ())) == sorted(getattr(theirs, "__abstractmethods__", ())), name
