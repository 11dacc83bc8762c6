"""A small WSGI app using the synchronous LDClient, for the gunicorn and uWSGI tests.

Written the way an application would be: one client at import time (so under ``--preload`` or
uWSGI without ``--lazy-apps`` it is created in the master, before the workers are forked), no
post-fork code of its own, ``close()`` at exit. Configured by the environment: ``LDFAST_TEST_URI``
(the fake LaunchDarkly service for streaming and events); with ``LDFAST_TEST_REDIS`` (a Redis URL)
and ``LDFAST_TEST_PREFIX``, daemon mode instead: flags from that Redis (cache expiration 0.5 s).

``GET /flag``: {"pid", "value" of flag "live" for the user "worker-<pid>", "initialized"}.
``GET /flush``: schedules an event flush.
"""
import atexit
import json
import logging
import os
import sys

import ldfast as ldclient  # the migration line: the rest is the official SDK's API
from ldfast import Config

logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                    format="[pid %(process)d] %(levelname)s %(name)s: %(message)s")

_uri = os.environ["LDFAST_TEST_URI"]
_store = {}
if os.environ.get("LDFAST_TEST_REDIS"):
    from ldfast.feature_store import CacheConfig
    from ldfast.integrations import Redis

    _store = {"use_ldd": True, "feature_store": Redis.new_feature_store(
        url=os.environ["LDFAST_TEST_REDIS"], prefix=os.environ["LDFAST_TEST_PREFIX"],
        caching=CacheConfig(expiration=0.5))}
ldclient.set_config(Config("sdk-key", base_uri=_uri, stream_uri=_uri, events_uri=_uri, flush_interval=1,
                           diagnostic_opt_out=True, initial_reconnect_delay=0.1, **_store))
client = ldclient.get()
atexit.register(client.close)


def application(environ, start_response):
    pid = os.getpid()
    path = environ.get("PATH_INFO", "/")
    if path == "/flag":
        body = {"pid": pid, "value": client.variation("live", {"key": "worker-%d" % pid}, "default"),
                "initialized": client.is_initialized()}
    elif path == "/flush":
        client.flush()
        body = {"pid": pid}
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    data = json.dumps(body).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                              ("Connection", "close")])
    return [data]
