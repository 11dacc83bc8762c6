"""close() is bounded through every face: against servers that accept connections and never
answer (the stream and the events endpoint), with analytics events pending, each client's close
returns in under 5 s, and a second close returns at once."""
import socket
import threading
import time

import pytest

import ldfast
from ldfast._reactor import ReactorThread
from ldfast.twisted import CLOSE_TIMEOUT, TwistedLDClient

BOUND = 5.0


class HungServer:
    """Accepts TCP connections on loopback, reads what comes, never writes a byte."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.uri = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.connections = []
        self.accepted = threading.Event()
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)
            self.accepted.set()

    def close(self):
        self._stop = True
        self.sock.close()
        for c in self.connections:
            c.close()


@pytest.fixture
def hung():
    server = HungServer()
    yield server
    server.close()


def _config(uri):
    return ldfast.Config("sdk-key", stream_uri=uri, base_uri=uri, events_uri=uri, flush_interval=60)


@pytest.fixture
def app_reactor():
    thread = ReactorThread("app")
    yield thread
    thread.stop()


def test_close_time_bound_is_under_five_seconds():
    assert CLOSE_TIMEOUT < BOUND


def test_sync_client_close_is_bounded_against_a_hung_server(hung):
    client = ldfast.LDClient(_config(hung.uri), start_wait=0)
    assert hung.accepted.wait(5), "the client never connected to the stream"
    client.track("an-event", {"key": "u"})  # pending: close tries to deliver it to the hung server
    start = time.monotonic()
    client.close()
    assert time.monotonic() - start < BOUND
    start = time.monotonic()
    client.close()  # idempotent, at once
    assert time.monotonic() - start < 0.1


def test_twisted_client_close_is_bounded_against_a_hung_server(hung, app_reactor):
    client = app_reactor.call(lambda: TwistedLDClient(None, _config(hung.uri), reactor=app_reactor.reactor))
    assert hung.accepted.wait(5), "the client never connected to the stream"
    app_reactor.call(lambda: client.track("an-event", {"key": "u"}))
    start = time.monotonic()
    app_reactor.call(client.close, timeout=10)  # waits for the Deferred to fire
    assert time.monotonic() - start < BOUND
    start = time.monotonic()
    app_reactor.call(client.close, timeout=10)
    assert time.monotonic() - start < 0.1


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_asyncio_client_close_is_bounded_against_a_hung_server(hung, loop):
    import asyncio

    import uvloop

    from ldfast.async_client import REACTOR_STOP_TIMEOUT, AsyncLDClient

    assert CLOSE_TIMEOUT + REACTOR_STOP_TIMEOUT < BOUND

    async def main():
        client = AsyncLDClient(_config(hung.uri))
        await client.start(0)
        # (the connection is made on this loop: wait in a thread, bounded, while the loop runs)
        assert await asyncio.get_running_loop().run_in_executor(None, hung.accepted.wait, 5)
        client.track("an-event", {"key": "u"})
        start = time.monotonic()
        await client.close()
        first = time.monotonic() - start
        start = time.monotonic()
        await client.close()
        return first, time.monotonic() - start

    run = asyncio.run if loop == "asyncio" else uvloop.run
    first, second = run(asyncio.wait_for(main(), 20))
    assert first < BOUND
    assert second < 0.1
