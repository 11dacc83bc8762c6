"""ldfast demo: a twisted.web app that shows flag values per user, live.

    make demo                   # or: .venv/bin/python examples/demo.py [--port 8080] [--flags FILE]
    LD_SDK_KEY=sdk-... make demo   # the same app on your LaunchDarkly project's flags

Without LD_SDK_KEY the flags come from examples/flags.json, served by a local stand-in for
LaunchDarkly's stream (examples/local_stream.py): edit the file and the page changes within a
second. ``--once`` renders the page once to stdout and exits (used by the tests).
"""
import argparse
import html
import os
import sys

from twisted.internet import defer, task
from twisted.web import resource, server

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import ldfast  # noqa: E402
from ldfast.twisted import TwistedConfig, TwistedLDClient  # noqa: E402

USERS = [
    {"key": "aa0ceb", "firstName": "Ernestina", "email": "ernestina@example.org"},
    {"key": "b7f1e2", "email": "sam@corp.test", "custom": {"groups": ["beta"]}},
    {"key": "c0ffee", "email": "kim@example.com", "custom": {"plan": "pro"}},
    {"key": "d00d", "anonymous": True},
]
FLAGS = [("new-checkout", False), ("banner-text", "?"), ("max-upload-mb", 10)]


@defer.inlineCallbacks
def render_table(client):
    rows = []
    for user in USERS:
        cells = []
        for key, default in FLAGS:
            detail = yield client.variation_detail(key, user, default)
            cells.append("<td>%s<br><small>%s</small></td>" % (html.escape(str(detail.value)),
                                                               html.escape(detail.reason["kind"])))
        rows.append("<tr><th>%s</th>%s</tr>" % (html.escape(user["key"]), "".join(cells)))
    head = "".join("<th>%s</th>" % html.escape(k) for k, _ in FLAGS)
    return ("<!doctype html><html><head><meta http-equiv='refresh' content='2'><title>ldfast demo</title></head>"
            "<body><h1>ldfast %s (compiled: %s)</h1><table border=1><tr><th>user</th>%s</tr>%s</table>"
            "</body></html>" % (ldfast.VERSION, ldfast.extensions_enabled(), head, "".join(rows)))


class Page(resource.Resource):
    isLeaf = True

    def __init__(self, client):
        super().__init__()
        self._client = client

    def render_GET(self, request):
        def done(page):
            request.setHeader(b"content-type", b"text/html; charset=utf-8")
            request.write(page.encode())
            request.finish()

        render_table(self._client).addCallback(done)
        return server.NOT_DONE_YET


@defer.inlineCallbacks
def main(reactor, argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--flags", default=os.path.join(HERE, "flags.json"))
    parser.add_argument("--once", action="store_true", help="print the page once and exit")
    args = parser.parse_args(argv)
    sdk_key = os.environ.get("LD_SDK_KEY")
    stream = None
    if sdk_key:
        config = TwistedConfig(send_events=False)
    else:
        from local_stream import FlagFileStream

        stream = FlagFileStream(args.flags, reactor)
        port = reactor.listenTCP(0, server.Site(stream), interface="127.0.0.1")
        local = "http://127.0.0.1:%d" % port.getHost().port
        config = TwistedConfig(local, stream_uri=local, events_uri=local, send_events=False)
        sdk_key = "demo-sdk-key"
        print("flags from %s (served on %s)" % (args.flags, local))
    client = TwistedLDClient(sdk_key, config, reactor=reactor)
    yield client.wait_for_initialization(timeout=10)
    if args.once:
        page = yield render_table(client)
        print(page)
        yield client.close()
        if stream is not None:
            stream.stop()
        return
    reactor.listenTCP(args.port, server.Site(Page(client)), interface="127.0.0.1")
    print("open http://127.0.0.1:%d/ (Ctrl-C to stop); edit %s and watch the page change" % (args.port, args.flags))
    yield defer.Deferred()  # serve until interrupted


if __name__ == "__main__":
    task.react(main, [sys.argv[1:]])
