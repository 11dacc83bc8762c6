"""The fake LaunchDarkly service itself, checked with plain HTTP clients (urllib, http.client,
raw sockets) from the test thread, so the integration tests built on it can be trusted."""
import gzip
import http.client
import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from tests.support.fake_ld import FakeLaunchDarkly, FakeLaunchDarklyThread

T = 5.0  # bound of every blocking read and wait; nothing here should come near it
SHORT = 0.3  # how long "nothing arrives" is watched for


def flag(key, version, value=True):
    return {"key": key, "version": version, "on": True, "variations": [value, not value],
            "fallthrough": {"variation": 0}, "offVariation": 1, "targets": [], "rules": [],
            "prerequisites": [], "salt": key, "trackEvents": False}


FLAGS = {"f1": flag("f1", 1), "f2": flag("f2", 3, False)}
SEGMENTS = {"s1": {"key": "s1", "version": 2, "included": ["u1"], "excluded": [], "rules": [], "salt": "s1"}}


@pytest.fixture
def fake():
    with FakeLaunchDarklyThread(FLAGS, SEGMENTS) as f:
        yield f


def open_stream(fake, headers=None, timeout=T):
    req = urllib.request.Request(fake.uri + "/all", headers=headers or {})
    return urllib.request.urlopen(req, timeout=timeout)


def read_event(resp):
    """The next SSE event as (name, data); comment lines are returned as (":", text)."""
    name, data = None, []
    while True:
        line = resp.readline()
        if not line:
            raise EOFError("stream ended")
        line = line.rstrip(b"\n").decode()
        if line.startswith(":"):
            return ":", line[1:]
        if line == "":
            return name, "\n".join(data)
        field, _, value = line.partition(": ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)


def raw_http10(fake, path, timeout=T):
    """GET ``path`` as HTTP/1.0 (no chunking: the body is raw) and read until the server closes."""
    with socket.create_connection(("127.0.0.1", fake.port), timeout=timeout) as s:
        s.sendall(b"GET " + path.encode() + b" HTTP/1.0\r\nHost: x\r\n\r\n")
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return head, body


def closed_by_peer(sock):
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True


def put_of(flags, segments):
    return {"path": "/", "data": {"flags": flags, "segments": segments}}


# -- streaming ------------------------------------------------------------------------------------

def test_put_on_connect_and_request_headers_recorded(fake):
    with open_stream(fake, {"Authorization": "sdk-key", "User-Agent": "PythonClient/9.20.0"}) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        name, data = read_event(resp)
        assert name == "put"
        assert json.loads(data) == put_of(FLAGS, SEGMENTS)
        (req,) = fake.wait_for_stream_connections(1, T)
        assert req.header("authorization") == "sdk-key"
        assert req.header("User-Agent") == "PythonClient/9.20.0"
        assert req.path == "/all" and req.fault is None
        assert fake.open_streams == 1 and fake.live_streams == 1
    fake.wait_for_open_streams(0, T)  # the server notices the client going away


def test_patch_delete_heartbeat_reach_every_open_stream_and_the_next_put(fake):
    with open_stream(fake) as a, open_stream(fake) as b:
        for resp in (a, b):
            assert read_event(resp)[0] == "put"
        fake.patch("flags", flag("f1", 2, False))
        fake.delete("flags", "f2", 4)
        fake.patch("segments", {**SEGMENTS["s1"], "version": 3, "included": []})
        fake.heartbeat()
        for resp in (a, b):
            assert read_event(resp) == ("patch", json.dumps({"path": "/flags/f1", "data": flag("f1", 2, False)},
                                                            separators=(",", ":")))
            name, data = read_event(resp)
            assert (name, json.loads(data)) == ("delete", {"path": "/flags/f2", "version": 4})
            name, data = read_event(resp)
            assert name == "patch" and json.loads(data)["path"] == "/segments/s1"
            assert read_event(resp) == (":", "")
    expected = {"flags": {"f1": flag("f1", 2, False)},
                "segments": {"s1": {**SEGMENTS["s1"], "version": 3, "included": []}}}
    assert fake.data() == expected
    with open_stream(fake) as c:
        name, data = read_event(c)
        assert json.loads(data) == {"path": "/", "data": expected}


def test_update_without_push_changes_only_later_puts(fake):
    with open_stream(fake, timeout=SHORT) as resp:
        read_event(resp)
        fake.patch("flags", flag("f1", 9), push=False)
        with pytest.raises(TimeoutError):
            resp.readline()
    with open_stream(fake) as resp:
        assert json.loads(read_event(resp)[1])["data"]["flags"]["f1"]["version"] == 9


def test_set_data_replaces_and_can_push_a_put(fake):
    with open_stream(fake) as resp:
        read_event(resp)
        fake.set_data({"x": flag("x", 1)}, {}, push=True)
        name, data = read_event(resp)
        assert (name, json.loads(data)) == ("put", put_of({"x": flag("x", 1)}, {}))
    assert fake.data() == {"flags": {"x": flag("x", 1)}, "segments": {}}


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500, 503])
def test_status_fault_then_normal_service(fake, status):
    fake.queue_stream_faults(status)
    with pytest.raises(urllib.error.HTTPError) as info:
        open_stream(fake)
    assert info.value.code == status
    info.value.close()
    with open_stream(fake) as resp:
        assert read_event(resp)[0] == "put"
    assert [r.fault for r in fake.stream_requests] == [status, None]


def test_faults_are_used_in_order_one_per_connection(fake):
    fake.queue_stream_faults(500, 503)
    assert fake.pending_stream_faults == 2
    for status in (500, 503):
        with pytest.raises(urllib.error.HTTPError) as info:
            open_stream(fake)
        assert info.value.code == status
        info.value.close()
    fake.wait_for_stream_faults_used(T)
    assert fake.pending_stream_faults == 0


def test_unknown_faults_are_refused(fake):
    with pytest.raises(ValueError):
        fake.queue_stream_faults("explode")
    with pytest.raises(ValueError):
        fake.queue_poll_faults("headers_then_stall")
    assert fake.pending_stream_faults == 0


def test_stall_accepts_and_never_answers_until_dropped(fake):
    fake.queue_stream_faults("stall")
    with socket.create_connection(("127.0.0.1", fake.port), timeout=SHORT) as s:
        s.sendall(b"GET /all HTTP/1.1\r\nHost: x\r\n\r\n")
        fake.wait_for_stream_connections(1, T)
        with pytest.raises(socket.timeout):
            s.recv(1024)
        assert fake.open_streams == 1 and fake.live_streams == 0
        s.settimeout(T)
        fake.drop_streams()
        assert s.recv(1024) == b""  # closed without a byte
    fake.wait_for_open_streams(0, T)


def test_headers_then_stall(fake):
    fake.queue_stream_faults("headers_then_stall")
    with open_stream(fake, timeout=SHORT) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        with pytest.raises(TimeoutError):
            resp.readline()
        assert fake.open_streams == 1 and fake.live_streams == 0


def test_stalled_streams_get_no_pushes(fake):
    fake.queue_stream_faults("headers_then_stall")
    with open_stream(fake, timeout=SHORT) as resp:
        fake.patch("flags", flag("f1", 5))
        fake.heartbeat()
        with pytest.raises(TimeoutError):
            resp.readline()


def test_garbage_put_and_connection_stays_open(fake):
    fake.queue_stream_faults("garbage")
    with open_stream(fake) as resp:
        name, data = read_event(resp)
        assert name == "put"
        with pytest.raises(ValueError):
            json.loads(data)
        assert fake.open_streams == 1 and fake.live_streams == 0


def test_garbage_patch_after_a_valid_put(fake):
    fake.queue_stream_faults("garbage_patch")
    with open_stream(fake) as resp:
        name, data = read_event(resp)
        assert (name, json.loads(data)) == ("put", put_of(FLAGS, SEGMENTS))
        name, data = read_event(resp)
        assert name == "patch"
        with pytest.raises(ValueError):
            json.loads(data)


def test_truncated_event_then_drop(fake):
    fake.queue_stream_faults("truncated")
    head, body = raw_http10(fake, "/all")
    assert head.startswith(b"HTTP/1.0 200")
    full = b"event: put\ndata: " + json.dumps(put_of(FLAGS, SEGMENTS), separators=(",", ":")).encode() + b"\n\n"
    assert body and full.startswith(body) and len(body) < len(full)
    assert b"\n\n" not in body  # no complete event


def test_drop_after_put_cuts_the_chunked_stream(fake):
    fake.queue_stream_faults("drop_after_put")
    conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=T)
    try:
        conn.request("GET", "/all")
        resp = conn.getresponse()
        with pytest.raises(http.client.IncompleteRead) as info:
            resp.read()
        assert info.value.partial.startswith(b"event: put\ndata: ")
        assert info.value.partial.endswith(b"\n\n")
    finally:
        conn.close()


def test_close_after_put_ends_the_response_cleanly(fake):
    fake.queue_stream_faults("close_after_put")
    with open_stream(fake) as resp:
        body = resp.read()  # a clean end: no IncompleteRead
    assert body.startswith(b"event: put\ndata: ") and body.endswith(b"\n\n")
    fake.wait_for_open_streams(0, T)


def test_wrong_content_type(fake):
    fake.queue_stream_faults("wrong_content_type")
    with open_stream(fake) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json"


def test_drop_streams_ends_live_streams_after_what_was_sent(fake):
    with open_stream(fake) as resp:
        read_event(resp)
        fake.patch("flags", flag("f1", 2))
        fake.drop_streams()
        assert read_event(resp)[0] == "patch"  # flushed before the close
        with pytest.raises(http.client.IncompleteRead):
            resp.read()
    fake.wait_for_open_streams(0, T)
    assert fake.stream_connections == 1


def test_waits_raise_on_timeout(fake):
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        fake.wait_for_stream_connections(1, timeout=0.1)
    with pytest.raises(TimeoutError):
        fake.wait_for_event_payloads(1, timeout=0.1)
    with pytest.raises(TimeoutError):
        fake.wait_for_polls(1, timeout=0.1)
    assert 0.3 <= time.monotonic() - start < 3


def test_unknown_path_and_method(fake):
    for path, method, code in (("/nope", "GET", 404), ("/all", "POST", 405), ("/bulk", "GET", 405)):
        req = urllib.request.Request(fake.uri + path, method=method, data=b"{}" if method == "POST" else None)
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=T)
        assert info.value.code == code
        info.value.close()
    assert fake.stream_connections == 0


# -- polling --------------------------------------------------------------------------------------

def poll(fake, etag=None, timeout=T):
    headers = {"Authorization": "sdk-key"}
    if etag:
        headers["If-None-Match"] = etag
    return urllib.request.urlopen(urllib.request.Request(fake.uri + "/sdk/latest-all", headers=headers),
                                  timeout=timeout)


def test_polling_data_etag_and_304(fake):
    with poll(fake) as resp:
        assert resp.headers["Content-Type"] == "application/json"
        etag = resp.headers["ETag"]
        assert json.loads(resp.read()) == {"flags": FLAGS, "segments": SEGMENTS}
    assert etag == fake.etag()
    with pytest.raises(urllib.error.HTTPError) as info:  # urllib reports 304 as an error
        poll(fake, etag)
    assert info.value.code == 304
    info.value.close()
    fake.patch("flags", flag("f1", 2, False))
    with poll(fake, etag) as resp:  # changed: a full answer with a new ETag
        assert resp.status == 200
        assert resp.headers["ETag"] != etag
        assert json.loads(resp.read())["flags"]["f1"] == flag("f1", 2, False)
    reqs = fake.wait_for_polls(3, T)
    assert [r.header("if-none-match") for r in reqs] == [None, etag, etag]
    assert reqs[0].header("authorization") == "sdk-key"


def test_polling_faults(fake):
    fake.queue_poll_faults(500, "garbage", "drop", "stall", 401)
    with pytest.raises(urllib.error.HTTPError) as info:
        poll(fake)
    assert info.value.code == 500
    info.value.close()
    with poll(fake) as resp:
        with pytest.raises(ValueError):
            json.loads(resp.read())
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
        poll(fake)
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        poll(fake, timeout=SHORT)
    fake.drop_polls()
    fake.wait_for(lambda: fake.open_polls == 0, T, "no open polls")
    with pytest.raises(urllib.error.HTTPError) as info:
        poll(fake)
    assert info.value.code == 401
    info.value.close()
    with poll(fake) as resp:
        assert json.loads(resp.read())["flags"] == FLAGS
    assert [r.fault for r in fake.poll_requests] == [500, "garbage", "drop", "stall", 401, None]


# -- events ---------------------------------------------------------------------------------------

def post(fake, path, body, headers=None):
    req = urllib.request.Request(fake.uri + path, data=body, method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=T) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        e.close()
        return e.code


def test_event_payloads_recorded_with_headers_and_statuses(fake):
    events = [{"kind": "identify", "creationDate": 1, "context": {"kind": "user", "key": "u"}}]
    fake.queue_event_statuses(503)
    assert post(fake, "/bulk", json.dumps(events).encode(), {"Authorization": "k1"}) == 503
    assert post(fake, "/bulk", gzip.compress(json.dumps(events).encode()), {"Content-Encoding": "gzip"}) == 202
    assert post(fake, "/diagnostic", b'{"kind": "diagnostic-init"}') == 202
    assert post(fake, "/bulk", b"not json") == 202
    payloads = fake.wait_for_event_payloads(4, timeout=T)
    assert [(p.path, p.json) for p in payloads] == [
        ("/bulk", events), ("/bulk", events), ("/diagnostic", {"kind": "diagnostic-init"}), ("/bulk", None)]
    assert payloads[0].header("Authorization") == "k1" and payloads[0].fault == 503
    assert payloads[1].header("content-encoding") == "gzip" and payloads[1].fault is None
    assert payloads[3].body == b"not json"
    assert len(fake.wait_for_event_payloads(1, path="/diagnostic", timeout=T)) == 1
    assert fake.stream_connections == 0 and fake.poll_requests == []


# -- lifetime -------------------------------------------------------------------------------------

def test_close_ends_open_connections_and_stops_listening():
    fake = FakeLaunchDarklyThread(FLAGS)
    try:
        fake.queue_stream_faults("stall")
        with socket.create_connection(("127.0.0.1", fake.port), timeout=T) as stalled:
            stalled.sendall(b"GET /all HTTP/1.1\r\nHost: x\r\n\r\n")
            fake.wait_for_stream_connections(1, T)  # the stall is used by this one
            live = open_stream(fake)
            read_event(live)
            fake.close()
            assert closed_by_peer(stalled)  # close() aborts: EOF or a reset
            with live, pytest.raises((http.client.IncompleteRead, ConnectionError)):
                live.read()
        assert not fake._thread.is_alive()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", fake.port), timeout=T).close()
    finally:
        fake.close()
    fake.close()  # idempotent


def test_deferred_waits_through_call(fake):
    d = fake.call(lambda: [fake.server.when_stream_connections(1)])[0]  # (in a list: not waited for)
    assert not d.called
    with open_stream(fake) as resp:
        read_event(resp)
        assert fake.call(lambda: d) is None  # fired (call waits for it, bounded)


def test_on_a_reactor_you_run():
    """FakeLaunchDarkly on a reactor the test runs itself, read by treq on that reactor."""
    from twisted.internet.defer import ensureDeferred
    from twisted.internet.selectreactor import SelectReactor
    from twisted.web.client import Agent, HTTPConnectionPool
    import treq
    from treq.client import HTTPClient

    reactor = SelectReactor()
    fake = FakeLaunchDarkly(reactor, FLAGS, SEGMENTS)
    client = HTTPClient(Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False)))
    outcome = {}

    async def main():
        try:
            connected = fake.when_stream_connections(1)
            response = await client.get(fake.uri + "/all", unbuffered=True, reactor=reactor)
            await connected
            chunks = []

            def got(data):
                chunks.append(data)
                if b"\n\n" in b"".join(chunks):
                    fake.drop_streams()

            try:
                await treq.collect(response, got)
            except Exception as e:  # the cut stream
                outcome["stream_end"] = type(e).__name__
            outcome["first"] = b"".join(chunks)
            response = await client.get(fake.uri + "/sdk/latest-all", reactor=reactor)
            outcome["poll"] = await response.json()
            await fake.when_open_streams(0)
        finally:
            await fake.close()
            reactor.stop()

    reactor.callWhenRunning(lambda: ensureDeferred(main()).addErrback(lambda f: outcome.setdefault("error", f)))
    guard = reactor.callLater(T, reactor.stop)
    try:
        reactor.run(installSignalHandlers=False)
    finally:
        if guard.active():
            guard.cancel()
        reactor.removeReader(reactor.waker)
        reactor.waker.connectionLost(None)
    assert "error" not in outcome, outcome["error"].getTraceback()
    assert outcome["first"].startswith(b"event: put\ndata: ")
    assert outcome["stream_end"] == "ResponseFailed"
    assert outcome["poll"] == {"flags": FLAGS, "segments": SEGMENTS}
