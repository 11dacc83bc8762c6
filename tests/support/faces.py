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
from typing import Any, List

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
