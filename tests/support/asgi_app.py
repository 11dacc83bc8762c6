"""A small ASGI app using ldfast's AsyncLDClient, for the gunicorn + ``uvicorn.workers.UvicornWorker`` tests.

Written the way an application would be: one client at import time (under ``--preload``, created in
the gunicorn master, before the workers are forked). Configured by the environment:
``LDFAST_TEST_URI`` (the fake LaunchDarkly service for streaming and events) and
``LDFAST_TEST_MODE``:

- ``lifespan``: each worker's ASGI lifespan startup awaits ``client.start()`` (the usual pattern);
- ``started-in-master``: the master also starts the client (``asyncio.run(client.start())`` at
  import, then that loop is gone) and the app does nothing after fork: each worker's client binds
  its networking to the worker's loop at its first evaluation by itself.

``GET /flag``: {"pid", "value" of flag "live" for the user "worker-<pid>", "initialized"}.
``GET /flush``: awaits an event flush.
"""
import asyncio
import json
import logging
import os
import sys

from ldfast.async_client import AsyncLDClient
from ldfast.async_config import AsyncConfig

logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                    format="[pid %(process)d] %(levelname)s %(name)s: %(message)s")

_uri = os.environ["LDFAST_TEST_URI"]
_mode = os.environ.get("LDFAST_TEST_MODE", "lifespan")
client = AsyncLDClient(AsyncConfig("sdk-key", base_uri=_uri, stream_uri=_uri, events_uri=_uri, flush_interval=1,
                                   diagnostic_opt_out=True, initial_reconnect_delay=0.1))
if _mode == "started-in-master":
    asyncio.run(client.start(5))


async def _lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if _mode == "lifespan":
                await client.start(5)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await client.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    pid = os.getpid()
    path = scope["path"]
    if path == "/flag":
        body = {"pid": pid, "value": await client.variation("live", {"key": "worker-%d" % pid}, "default"),
                "initialized": await client.is_initialized()}
    elif path == "/flush":
        body = {"pid": pid, "accepted": await client.flush()}
    else:
        body = {"pid": pid}
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": data})
