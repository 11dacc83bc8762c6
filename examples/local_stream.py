"""A tiny local stand-in for LaunchDarkly's streaming service: serves a flag file as an SSE stream.

``GET /all`` sends a ``put`` with the file's flags, flagValues and segments, and another whenever
the file changes (its mtime is checked twice a second). Used by the demo so that it runs with no
LaunchDarkly account.
"""
import json
import os

from twisted.internet.task import LoopingCall
from twisted.web import resource, server


def load_flag_file(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    flags = {}
    for key, flag in (data.get("flags") or {}).items():
        flags[key] = dict(flag, key=flag.get("key", key), version=flag.get("version", 1))
    for key, value in (data.get("flagValues") or {}).items():
        flags[key] = {"key": key, "version": 1, "on": True, "fallthrough": {"variation": 0}, "variations": [value]}
    segments = {k: dict(s, key=s.get("key", k), version=s.get("version", 1))
                for k, s in (data.get("segments") or {}).items()}
    return flags, segments


class FlagFileStream(resource.Resource):
    isLeaf = True

    def __init__(self, path, reactor):
        super().__init__()
        self._path = path
        self._streams = []
        self._mtime = None
        self._version = 0
        self._payload = b""
        self._reload()
        self._watch = LoopingCall(self._check)
        self._watch.clock = reactor
        self._watch.start(0.5, now=False)

    def _reload(self):
        flags, segments = load_flag_file(self._path)
        self._version += 1
        for item in list(flags.values()) + list(segments.values()):
            item["version"] = item["version"] * 1000 + self._version  # newer file, newer versions
        self._mtime = os.stat(self._path).st_mtime_ns
        body = json.dumps({"path": "/", "data": {"flags": flags, "segments": segments}})
        self._payload = b"event: put\ndata: " + body.encode() + b"\n\n"

    def _check(self):
        try:
            if os.stat(self._path).st_mtime_ns == self._mtime:
                return
            self._reload()
        except (OSError, ValueError) as e:
            print("flag file not reloaded: %s" % e)
            return
        print("flag file changed: pushing new flags to %d stream(s)" % len(self._streams))
        for request in list(self._streams):
            request.write(self._payload)

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/event-stream")
        request.write(self._payload)
        self._streams.append(request)
        request.notifyFinish().addBoth(lambda _: self._streams.remove(request))
        return server.NOT_DONE_YET

    def stop(self):
        if self._watch.running:
            self._watch.stop()
