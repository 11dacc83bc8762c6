"""AsyncLDClient (ldfast.async_client) beyond what the face tests cover: the stdlib loop and uvloop,
several clients in one loop, the file data source and TestData, users as dicts, flush's answer,
the loop it shares (never stopped, no global reactor), start/close rules, the official API's shape,
and gunicorn with uvicorn workers forking after the client was made.

Everything runs against real parts over loopback: the fake LaunchDarkly service
(tests/support/fake_ld.py) serving real SSE and capturing real event posts, real gunicorn.
"""
import asyncio
import inspect
import json
import os
import subprocess
import sys

import ldclient.async_client
import pytest
import uvloop

from ldfast import Context
from ldfast.async_client import AsyncLDClient
from ldfast.async_config import AsyncConfig
from ldfast.integrations import Files
from ldfast.integrations.test_data import TestData
from tests.support.fake_ld import FakeLaunchDarklyThread
from tests.test_prefork import BIN, Server, _flag, serve_and_stop

T = 10.0
USER = {"key": "u-1", "email": "u@example.com"}


def flag(key, value, version=1, track=False):
    return {"key": key, "version": version, "on": True, "variations": ["off", value], "fallthrough": {"variation": 1},
            "offVariation": 0, "salt": "s", "trackEvents": track}


@pytest.fixture
def fake():
    with FakeLaunchDarklyThread({"f": flag("f", "one", track=True), "g": flag("g", "gee")}) as f:
        yield f


def config_for(fake, **kwargs):
    options = dict(stream_uri=fake.uri, base_uri=fake.uri, events_uri=fake.uri, flush_interval=60,
                   diagnostic_opt_out=True)
    options.update(kwargs)
    return AsyncConfig("sdk-key", **options)


LOOPS = {"asyncio": asyncio.run, "uvloop": uvloop.run}


@pytest.fixture(params=sorted(LOOPS))
def run(request):
    """Run a coroutine to its end on a new loop of each kind (the stdlib's, uvloop's)."""
    return lambda coro: LOOPS[request.param](asyncio.wait_for(coro, 30))


def test_streams_evaluates_user_dicts_and_delivers_events_on_each_loop(fake, run):
    async def main():
        async with AsyncLDClient(config_for(fake)) as client:
            assert await client.is_initialized()
            assert await client.variation("f", USER, "dflt") == "one"
            detail = await client.variation_detail("g", Context.create("u-2"), "dflt")
            assert (detail.value, detail.variation_index, detail.reason) == ("gee", 1, {"kind": "FALLTHROUGH"})
            assert await client.variation("missing", USER, "dflt") == "dflt"
            state = await client.all_flags_state(USER)
            assert state.valid and state.to_values_map() == {"f": "one", "g": "gee"}
            client.track("clicked", USER, {"n": 1}, 2.5)
            client.identify({"key": "u-3"})
            assert await client.flush() is True  # LaunchDarkly (the fake) accepted the payload
            changed = asyncio.Event()  # (listeners run on the loop: the stream is read there)
            client.flag_tracker.add_listener(lambda change: changed.set())
            fake.patch("flags", flag("f", "two", version=2))  # a streamed update reaches evaluation
            await asyncio.wait_for(changed.wait(), T)
            assert await client.variation("f", USER, "dflt") == "two"
        return asyncio.get_running_loop()

    loop = run(main())
    assert loop.is_closed()  # (asyncio.run/uvloop.run ended normally: the client never stopped the loop)
    events = [e for p in fake.event_payloads("/bulk") for e in p.json]
    kinds = sorted({e["kind"] for e in events})
    assert kinds == ["custom", "feature", "identify", "index", "summary"]
    custom = next(e for e in events if e["kind"] == "custom")
    assert (custom["key"], custom["data"], custom["metricValue"], custom["context"]["key"]) == ("clicked", {"n": 1}, 2.5, "u-1")


def test_several_clients_in_one_loop(run):
    with FakeLaunchDarklyThread({"f": flag("f", "a")}) as a, FakeLaunchDarklyThread({"f": flag("f", "b")}) as b:
        async def main():
            clients = [AsyncLDClient(config_for(a)), AsyncLDClient(config_for(b)), AsyncLDClient(config_for(a))]
            await asyncio.gather(*(c.start(T) for c in clients))
            values = [await c.variation("f", USER, None) for c in clients]
            flushed = await asyncio.gather(*(c.flush() for c in clients))
            await asyncio.gather(*(c.close() for c in clients))
            return values, flushed

        values, flushed = run(main())
        assert values == ["a", "b", "a"]
        assert flushed == [True, True, True]
        assert len(a.stream_requests) == 2 and len(b.stream_requests) == 1
        ids = {r.header("X-LaunchDarkly-Instance-Id") for r in a.stream_requests}
        assert len(ids) == 2  # two clients, two instance ids


def test_file_data_source(tmp_path, run):
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"flags": {"f": flag("f", "from-file")}, "flagValues": {"simple": 42}}))

    async def main():
        config = AsyncConfig("sdk-key", send_events=False, update_processor_class=Files.new_data_source(paths=[str(path)]))
        async with AsyncLDClient(config) as client:
            assert await client.is_initialized()
            return await client.variation("f", USER, None), await client.variation("simple", USER, None)

    assert run(main()) == ("from-file", 42)


def test_test_data_updates_reach_evaluation_and_the_flag_tracker(run):
    td = TestData.data_source()
    td.update(td.flag("f").variation_for_all(True))

    async def main():
        async with AsyncLDClient(AsyncConfig("sdk-key", send_events=False, update_processor_class=td)) as client:
            changes = []
            client.flag_tracker.add_listener(lambda change: changes.append(change.key))
            before = await client.variation("f", USER, None)
            td.update(td.flag("f").variation_for_all(False))
            after = await client.variation("f", USER, None)
            return before, after, changes

    assert run(main()) == (True, False, ["f"])


def test_evaluation_before_start_serves_the_default_and_start_after_close_does_nothing(fake):
    async def main():
        client = AsyncLDClient(config_for(fake))
        assert await client.variation("f", USER, "dflt") == "dflt"  # nothing in the store yet
        assert not await client.is_initialized()
        await client.close()
        await client.start(T)  # logged, ignored
        assert not await client.is_initialized()
        assert await client.flush() is False

    asyncio.run(main())
    assert fake.stream_requests == []  # never connected


def test_close_is_idempotent_and_concurrent_closes_wait_for_the_first(fake):
    async def main():
        client = AsyncLDClient(config_for(fake))
        await client.start(T)
        client.track("e", USER)
        await asyncio.gather(client.close(), client.close())
        await client.close()
        return client

    asyncio.run(main())
    assert fake.wait_for_event_payloads(1, "/bulk", T)  # pending events delivered by close


def test_no_global_reactor_is_installed():
    code = ("import asyncio, sys\n"
            "from ldfast.async_client import AsyncLDClient\n"
            "from ldfast.async_config import AsyncConfig\n"
            "async def main():\n"
            "    async with AsyncLDClient(AsyncConfig('k', offline=True)) as c:\n"
            "        assert await c.variation('f', {'key': 'u'}, 7) == 7\n"
            "asyncio.run(main())\n"
            "print('twisted.internet.reactor' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_evaluation_with_memory_data_does_not_suspend(fake):
    """``await variation(...)`` with flags in memory completes without yielding to the loop."""
    async def main():
        async with AsyncLDClient(config_for(fake)) as client:
            coro = client.variation("f", USER, None)
            try:
                coro.send(None)
            except StopIteration as done:
                return done.value
            coro.close()
            return "suspended"

    assert asyncio.run(main()) == "one"


def test_an_async_store_is_refused_with_a_clear_error():
    class AsyncStore:
        async def get(self, kind, key):
            return None

    with pytest.raises(TypeError, match="synchronous store"):
        AsyncConfig("k", feature_store=AsyncStore())
    with pytest.raises(NotImplementedError, match="datasystem_config"):
        AsyncConfig("k", datasystem_config=object())
    with pytest.raises(TypeError, match="AsyncConfig"):
        AsyncLDClient("sdk-key")


def test_the_official_async_methods_are_coroutines_here_too():
    official = ldclient.async_client.AsyncLDClient
    for name, member in vars(official).items():
        if name.startswith("_") and name not in ("__aenter__", "__aexit__"):
            continue
        ours = getattr(AsyncLDClient, name, None)
        assert ours is not None, name
        if inspect.iscoroutinefunction(member):
            assert inspect.iscoroutinefunction(ours), name
        elif callable(member) and not isinstance(member, property):
            assert not inspect.iscoroutinefunction(ours), name


@pytest.mark.parametrize("mode", ["lifespan", "started-in-master"])
def test_gunicorn_uvicorn_workers_fork_after_the_client_was_made(tmp_path, mode):
    with FakeLaunchDarklyThread({"live": _flag(1, "v1")}) as fake:
        server = Server([os.path.join(BIN, "gunicorn"), "--preload", "-w", "2", "-k", "uvicorn.workers.UvicornWorker",
                         "-b", "127.0.0.1:{port}", "--graceful-timeout", "30", "tests.support.asgi_app:application"],
                        fake, tmp_path, "gunicorn-" + mode, LDFAST_TEST_MODE=mode)
        serve_and_stop(server, fake)


def test_migrator_read_and_write_are_coroutines_with_async_and_blocking_origins():
    import threading

    from ldfast import MigratorBuilder, Result, Stage

    td = TestData.data_source()
    td.update(td.flag("m").variations("off", "dualwrite", "shadow", "live", "rampdown", "complete")
              .variation_for_all(2))  # shadow: old authoritative, both read
    calls = []

    async def new_read(payload):
        await asyncio.sleep(0)  # an asyncio await: the origin runs as a task on the loop
        calls.append(("new", payload, threading.current_thread() is loop_thread))
        return Result.success("new:%s" % payload)

    def old_read(payload):  # a plain function: taken to block, run in the client's thread pool
        calls.append(("old", payload, threading.current_thread() is loop_thread))
        return Result.success("old:%s" % payload)

    async def main():
        async with AsyncLDClient(AsyncConfig("sdk-key", send_events=False, update_processor_class=td)) as client:
            builder = MigratorBuilder(client)
            builder.read(old_read, new_read, lambda a, b: a == b)
            builder.write(old_read, new_read)
            migrator = builder.build()
            assert inspect.iscoroutinefunction(migrator.read) and inspect.iscoroutinefunction(migrator.write)
            read = await migrator.read("m", Context.create("u"), Stage.OFF, "p")
            written = await migrator.write("m", Context.create("u"), Stage.OFF, "w")
            return read.value, written.authoritative.value

    loop_thread = threading.current_thread()  # (asyncio.run runs the loop here)
    assert asyncio.run(main()) == ("old:p", "old:w")
    assert sorted(calls) == [("new", "p", True), ("new", "w", True), ("old", "p", False), ("old", "w", False)]
