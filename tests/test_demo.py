"""The demo: renders from the bundled flag file, and the local stream pushes file changes live."""
import json
import os
import shutil
import subprocess
import sys
import time

import ldfast
from ldfast._reactor import ReactorThread

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))

from local_stream import FlagFileStream  # noqa: E402


def test_demo_renders_once():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "demo.py"), "--once"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert "<th>aa0ceb</th><td>True<br><small>TARGET_MATCH</small>" in out
    assert "Welcome back, valued customer!" in out


def test_flag_file_changes_reach_the_client_live(tmp_path):
    from twisted.web import server

    path = tmp_path / "flags.json"
    shutil.copy(os.path.join(ROOT, "examples", "flags.json"), path)
    net = ReactorThread("demo-stream")
    stream = net.call(lambda: FlagFileStream(str(path), net.reactor))
    port = net.call(lambda: net.reactor.listenTCP(0, server.Site(stream), interface="127.0.0.1"))
    uri = "http://127.0.0.1:%d" % port.getHost().port
    client = ldfast.LDClient(ldfast.Config("sdk-key", stream_uri=uri, send_events=False), start_wait=10)
    try:
        assert client.variation("max-upload-mb", {"key": "u"}, 0) == 25
        data = json.loads(path.read_text())
        data["flagValues"]["max-upload-mb"] = 100
        time.sleep(0.01)  # a distinct mtime
        path.write_text(json.dumps(data))
        deadline = time.monotonic() + 10
        while client.variation("max-upload-mb", {"key": "u"}, 0) != 100 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.variation("max-upload-mb", {"key": "u"}, 0) == 100
    finally:
        client.close()
        net.call(stream.stop)
        net.call(port.stopListening)
        assert net.stop()
