"""The three client faces (``LDClient``, ``TwistedLDClient``, ``AsyncLDClient``) behind one blocking
test interface.

``Face("sync")`` drives ``ldfast.LDClient`` as an application would; ``Face("twisted")`` drives
``ldfast.TwistedLDClient`` on a real reactor in a thread (``ReactorThread``, as ``twistd`` would
run it), each call made on that reactor and its Deferred waited for, with a bound;
``Face("asyncio")`` drives ``ldfast.async_client.AsyncLDClient`` on an asyncio loop running in a
thread (``LoopThread``, as an asyncio server would run it), each call made on that loop and its
awaitable awaited, with a bound. Used by tests
that check one behaviour through every face against the fake LaunchDarkly
(``tests/support/fake_ld.py``).
"""
from __future__ import annotations

import asyncio
import inspect
import threading
from typing import Any, Dict, List, Optional, Tuple

from ldfast import Config, LDClient
from ldfast._reactor import ReactorThread
from ldfast.async_client import AsyncLDClient
from ldfast.twisted import TwistedLDClient

FACES = ("sync", "twisted", "asyncio")
T = 10.0  # bound of every wait


class LoopThread:
    """An asyncio loop running in a daemon thread; ``call(fn, *args)`` runs ``fn`` on it and waits
    (bounded) for its result, awaiting it when it is awaitable."""

    def __init__(self, name: str = "test-asyncio-app", new_loop: Any = asyncio.new_event_loop) -> None:
        self.loop = new_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def call(self, fn: Any, *args: Any, timeout: float = T) -> Any:
        async def run() -> Any:
            result = fn(*args)
            return await result if inspect.isawaitable(result) else result

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(T)
        if not self._thread.is_alive():
            self.loop.close()


class Face:
    def __init__(self, kind: str):
        self.kind = kind
        self._clients: List[Any] = []
        self._app: Any = (ReactorThread("test-app") if kind == "twisted" else LoopThread() if kind == "asyncio"
                          else None)

    def client(self, config: Config, wait: bool = True) -> Any:
        """A started client for ``config``; with ``wait``, initialized (or failing the test)."""
        if self._app is None:
            client = LDClient(config, start_wait=T if wait else 0)
            self._clients.append(client)
            if wait:
                assert client.is_initialized()
            return client
        app = self._app
        if self.kind == "asyncio":
            async def started() -> AsyncLDClient:
                client = AsyncLDClient(config)
                self._clients.append(client)
                await client.start(T if wait else 0)
                return client

            client = app.call(started, timeout=T + 2)
            if wait:
                assert app.call(client.is_initialized)
            return client
        client = app.call(lambda: TwistedLDClient(None, config, reactor=app.reactor))
        self._clients.append(client)
        if wait:
            app.call(client.wait_for_initialization, T, timeout=T + 2)
        return client

    def _run(self, fn: Any, *args: Any) -> Any:
        if self._app is None:
            return fn(*args)
        return self._app.call(fn, *args, timeout=T)

    def variation(self, client: Any, key: str, context: Any, default: Any) -> Any:
        return self._run(client.variation, key, context, default)

    def track(self, client: Any, name: str, context: Any) -> None:
        self._run(client.track, name, context)

    def flush(self, client: Any) -> None:
        self._run(client.flush)

    def set_offline(self, client: Any) -> None:
        self._run(client.set_offline)

    def set_online(self, client: Any) -> None:
        self._run(client.set_online)

    def close(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            self._run(client.close)
        if self._app is not None:
            self._app.stop()


class StoreFace(Face):
    """A face with what the persistent-store tests ask a client: a value, a detail (value,
    reason), all_flags_state's values, for the context "u"; and where the store's reads run."""

    def detail(self, client: Any, key: str, default: Any = "dflt") -> Tuple[Any, Any]:
        import ldfast

        detail = self._run(client.variation_detail, key, ldfast.Context.create("u"), default)
        return detail.value, detail.reason

    def value(self, client: Any, key: str, default: Any = "dflt") -> Any:
        import ldfast

        return self.variation(client, key, ldfast.Context.create("u"), default)

    def all_values(self, client: Any) -> Optional[Dict[str, Any]]:
        import ldfast

        state = self._run(lambda: client.all_flags_state(ldfast.Context.create("u")))
        return state.to_values_map() if state.valid else None

    def check_reads_off_the_reactor(self, store: Any, sdk_key: str) -> None:
        """With flag "f" = "one" in the store's database: a daemon-mode client on ``store`` reads
        it (``read``, then ``read_all``) once each, on the calling thread for the sync face, in
        the reactor's thread pool for the Twisted face (never on the reactor)."""
        threads: List[threading.Thread] = []
        for name in ("read", "read_all"):  # (before the client binds them)
            method = getattr(store, name)
            setattr(store, name, lambda *a, _m=method: (threads.append(threading.current_thread()), _m(*a))[1])
        client = self.client(Config(sdk_key, use_ldd=True, feature_store=store, send_events=False))
        assert self.value(client, "f") == "one"
        assert self.all_values(client) == {"f": "one"}
        assert self.value(client, "f") == "one"  # cached: no read
        assert len(threads) == 2
        if self.kind == "sync":
            assert threads == [threading.current_thread()] * 2
        else:
            assert self._app is not None
            reactor_thread = self._app._thread
            assert all(t is not reactor_thread and t is not threading.current_thread() for t in threads)
