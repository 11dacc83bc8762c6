"""asyncio serving benchmark: an aiohttp app evaluating 10 flags per request, under wrk.

Three apps, each in its own subprocess (single process, one asyncio loop, 127.0.0.1, a free port):

- ldfast:   ``ldfast.async_client.AsyncLDClient``; the handler awaits 10 ``variation`` calls with
            the request's user as a plain dict.
- official: ``ldclient.async_client.AsyncLDClient`` (launchdarkly-server-sdk 9.20); the handler
            awaits 10 ``variation`` calls with a prebuilt ``Context`` (one per distinct user, built
            at start-up: no conversion cost on its side).
- baseline: the same aiohttp handler with no SDK at all: it builds the user dict and answers the
            same JSON object the SDK apps answer, its values constants (the SDK apps' answer for
            u=00000, fetched by the driver before the baseline starts): the same body to encode and
            send, so the difference is the SDK's.

Both SDKs stream the same data (``scenarios.all_flags_data(60)``, the 10 keys of serve_bench) from
a local server (a twisted.web subprocess answering ``GET /all`` with an SSE ``put``), and
analytics events are ON, posted to that same server (202 to every post, counted per app).

The user comes from ``?u=NNNNN`` -> key ``user-NNNNN`` with the other attributes of
``scenarios.USER``; wrk's Lua script draws u from 1000 distinct values. Before loading, both SDK
apps must answer the same values for a few users.

Each app is loaded ``--rounds`` times (default 3), the three apps taking turns, and the median round
is reported: on a shared machine a load change then hits every app alike.

Run:  .venv/bin/python bench/async_serve_bench.py [--duration 10] [--connections 32] [--loop asyncio|uvloop]
Writes bench/results/async_serve.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from typing import Any, Dict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from serve_bench import (DISTINCT_USERS, FLAG_COUNT, KEYS, LUA, Child, load, print_per_round, run_capture,  # noqa: E402
                         start_apps, write_results)

RESULTS = os.path.join(HERE, "results", "async_serve.json")
APPS = ("baseline", "ldfast", "official")


# -- subprocess side: the data + capture server, and the apps -------------------------------------

def run_server() -> None:
    """serve_bench's capture server, plus ``GET /all``: an SSE put of the benchmark's data."""
    from twisted.web import resource

    import scenarios

    flags, segments = scenarios.all_flags_data(FLAG_COUNT)
    put = ("event: put\ndata: %s\n\n" % json.dumps({"path": "/", "data": {"flags": flags, "segments": segments}})
           ).encode()

    class Stream(resource.Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> Any:
            from twisted.web.server import NOT_DONE_YET

            request.setHeader(b"content-type", b"text/event-stream")
            request.write(put)
            return NOT_DONE_YET  # open until the client goes

    run_capture(extra={b"all": Stream()})


def _user(query: Any) -> Dict[str, Any]:
    import scenarios

    return dict(scenarios.USER, key="user-" + query.get("u", "0"))


def run_app(kind: str, uri: str, events_uri: str, loop_kind: str, body: str = "{}") -> None:
    import logging

    from aiohttp import web

    import scenarios

    scenarios.quiet_logs()
    logging.getLogger("aiohttp").setLevel(logging.WARNING)
    app = web.Application()
    if kind == "ldfast":
        from ldfast.async_client import AsyncLDClient
        from ldfast.async_config import AsyncConfig

        client = AsyncLDClient(AsyncConfig("sdk-key", stream_uri=uri, base_uri=uri, events_uri=events_uri))

        async def handle(request: web.Request) -> web.Response:
            user = _user(request.query)
            variation = client.variation
            values = [await variation(k, user, None) for k in KEYS]
            return web.json_response(dict(zip(KEYS, values)))
    elif kind == "official":
        from ldclient.async_client import AsyncLDClient as OfficialClient
        from ldclient.async_config import AsyncConfig as OfficialConfig
        from ldclient.context import Context

        client = OfficialClient(OfficialConfig("sdk-key", stream_uri=uri, base_uri=uri, events_uri=events_uri))
        contexts = {"%05d" % i: Context.from_dict(dict(scenarios.USER, key="user-%05d" % i))
                    for i in range(DISTINCT_USERS)}

        async def handle(request: web.Request) -> web.Response:
            u = request.query.get("u", "0")
            context = contexts.get(u) or Context.from_dict(_user(request.query))
            values = [await client.variation(k, context, None) for k in KEYS]
            return web.json_response(dict(zip(KEYS, values)))
    else:
        client = None

        constants = json.loads(body)  # what the app answers without an SDK: the same values, as constants

        async def handle(request: web.Request) -> web.Response:
            _user(request.query)
            return web.json_response(dict(constants))

    async def lifecycle(app: web.Application) -> Any:
        if client is not None:
            await client.start(10)
            if not await client.is_initialized():
                print("ERROR %s client did not initialize" % kind, flush=True)
        yield
        if client is not None:
            await client.close()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/", handle)

    async def main() -> None:
        profile = os.environ.get("ASYNC_BENCH_PROFILE")  # a path: cProfile the app, written on SIGUSR1
        if profile:
            import cProfile
            import signal

            profiler = cProfile.Profile()
            profiler.enable()
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGUSR1, lambda: (profiler.disable(), profiler.dump_stats(profile)))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=512)
        await site.start()
        print("PORT %d" % site._server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
        await asyncio.Event().wait()

    if loop_kind == "uvloop":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


# -- driver -----------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="wrk seconds per app (default 10)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: leaves a core to the app)")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio", help="every app's loop")
    parser.add_argument("--rounds", type=int, default=3,
                        help="wrk runs per app, the apps taking turns; the median is reported (default 3)")
    parser.add_argument("--server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--app", choices=APPS, help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    parser.add_argument("--events-uri", help=argparse.SUPPRESS)
    parser.add_argument("--body", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.server:
        run_server()
        return 0
    if args.app:
        run_app(args.app, args.uri, args.events_uri, args.loop, args.body)
        return 0

    wrk = shutil.which("wrk")
    if wrk is None:
        print("async_serve_bench: `wrk` not found on PATH (Debian: apt-get install -y wrk)", file=sys.stderr)
        return 2
    started = time.monotonic()
    server = Child("--server", script=__file__)
    uri = server.url.rstrip("/")
    children: Dict[str, Child] = {}
    results: Dict[str, Dict[str, Any]] = {}
    lua_dir = tempfile.mkdtemp(prefix="async_serve_bench")
    lua = os.path.join(lua_dir, "users.lua")
    with open(lua, "w") as f:
        f.write(LUA)
    try:
        start_apps(children, lambda app, *extra: Child("--app", app, "--uri", uri, "--events-uri", uri + "/" + app,
                                                       "--loop", args.loop, *extra, script=__file__))
        loaded = load(children, server.url, wrk, lua, args)
        if loaded is None:
            return 1
        samples, results, events = loaded
    finally:
        for child in children.values():
            child.stop()
        server.stop()
        shutil.rmtree(lua_dir, ignore_errors=True)
    elapsed = time.monotonic() - started

    print()
    print("%-10s | %10s | %8s" % ("app (%s)" % args.loop, "req/s", "p99 ms"))
    print("%s-+-%s-+-%s" % ("-" * 10, "-" * 10, "-" * 8))
    for app in APPS:
        r = results[app]
        print("%-10s | %10.0f | %8.2f   (rounds: %s)" % (app, r["req_per_s"], r["p99_ms"],
                                                    " ".join("%.0f" % x for x in r.get("rounds_req_per_s", []))))
        if r["non_2xx"] or r["socket_errors"]:
            print("  (%s: non-2xx %s, socket errors %s)" % (app, r["non_2xx"], r["socket_errors"]))
    fast, official, base = results["ldfast"], results["official"], results["baseline"]
    ratio = fast["req_per_s"] / official["req_per_s"]
    of_baseline = fast["req_per_s"] / base["req_per_s"]
    official_of_baseline = official["req_per_s"] / base["req_per_s"]
    met = ratio >= 5 and fast["p99_ms"] <= official["p99_ms"] and of_baseline >= 0.6
    print_per_round(results)
    print()
    print("ldfast / official req/s: %.2fx; p99 %.2f ms vs %.2f ms" % (ratio, fast["p99_ms"], official["p99_ms"]))
    print("of the no-SDK app's req/s: ldfast %.0f%%, official %.0f%%" % (100 * of_baseline, 100 * official_of_baseline))
    print("ldfast >= 5x the official async client at no worse p99, and >= 60%% of the no-SDK app: %s"
          % ("MET" if met else "NOT MET"))
    print("events captured: %d posts, %d events; by path: %s" % (
        events["posts"], events["events"],
        ", ".join("%s %d posts/%d events" % (p, e["posts"], e["events"]) for p, e in sorted(events["paths"].items()))))
    print("total runtime %.1f s" % elapsed)

    import aiohttp

    write_results(RESULTS, wrk, args, results, events, samples, elapsed,
                  apps="aiohttp, each a single subprocess, one under load at a time, stopped after its run",
                  versions={"aiohttp": aiohttp.__version__, "loop": args.loop},
                  method={"users": "ldfast: a plain dict per request; official: prebuilt Contexts"},
                  target={"ratio": round(ratio, 3), "of_baseline": round(of_baseline, 3),
                          "official_of_baseline": round(official_of_baseline, 3), "met": met,
                          "line": "ldfast >= 5x the official async client's req/s at no worse p99, "
                                  ">= 60% of the no-SDK app"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
