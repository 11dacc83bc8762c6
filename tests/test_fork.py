"""A process forked after the client was made keeps live flags without any call from the user."""
import json
import os
import threading
import time

import pytest
from twisted.web import resource, server

import ldfast
from ldfast._reactor import ReactorThread

FLAG = {"key": "f", "version": 1, "on": True, "variations": ["before", "after"], "fallthrough": {"variation": 0}}


class Stream(resource.Resource):
    isLeaf = True

    def __init__(self):
        super().__init__()
        self.open = []
        self.connections = 0
        self.connected = threading.Condition()

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/event-stream")
        put = {"path": "/", "data": {"flags": {"f": FLAG}, "segments": {}}}
        request.write(b"event: put\ndata: " + json.dumps(put).encode() + b"\n\n")
        self.open.append(request)
        request.notifyFinish().addBoth(lambda _: self.open.remove(request))
        with self.connected:
            self.connections += 1
            self.connected.notify_all()
        return server.NOT_DONE_YET

    def patch(self):
        item = dict(FLAG, version=2, fallthrough={"variation": 1})
        for request in list(self.open):
            request.write(b"event: patch\ndata: " + json.dumps({"path": "/flags/f", "data": item}).encode() + b"\n\n")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("call_postfork", [False, True], ids=["no-call", "official-postfork-call"])
def test_forked_child_reconnects_and_follows_updates(call_postfork):
    """Also: code migrated from the official SDK calls ``postfork()`` in the child; that is accepted
    and does not start a second connection (the restart already happened, once per process)."""
    net = ReactorThread("fake-ld")
    stream = Stream()
    port = net.call(lambda: net.reactor.listenTCP(0, server.Site(stream), interface="127.0.0.1"))
    uri = "http://127.0.0.1:%d" % port.getHost().port
    client = ldfast.LDClient(ldfast.Config("sdk-key", stream_uri=uri, send_events=False), start_wait=10)
    assert client.variation("f", {"key": "u"}, None) == "before"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no call to ldfast; wait for the patch to arrive through its own stream
        try:
            os.close(read_end)
            if call_postfork:
                client.postfork()
                client.postfork()
            deadline = time.monotonic() + 10
            value = client.variation("f", {"key": "u"}, None)
            while value != "after" and time.monotonic() < deadline:
                time.sleep(0.02)
                value = client.variation("f", {"key": "u"}, None)
            os.write(write_end, str(value).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        with stream.connected:  # the child's networking connects by itself
            assert stream.connected.wait_for(lambda: stream.connections >= 2, timeout=10)
        net.call(stream.patch)
        result = b""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            chunk = os.read(read_end, 100)
            if not chunk:
                break
            result += chunk
        assert result == b"after"
        assert client.variation("f", {"key": "u"}, None) == "after"  # the parent follows too
        assert stream.connections == 2  # the parent's and the child's: one restart in the child
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
        client.close()
        net.call(port.stopListening)
        net.stop()
