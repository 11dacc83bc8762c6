"""Where a request's time goes in the serving benchmark's ldfast handler, without HTTP.

``bench/serve_bench.py`` measures requests/s under wrk; this splits the handler's own CPU time per
request (10 flags for one user dict, as there) into steps, each step adding one thing to the last:

- json:      the response body from 10 constant values (what the no-SDK app does per request)
- contexts:  + the user dict given for each flag call converted as the client does (``DictContexts``)
- evaluate:  + ``LDClient``'s compiled ``variation`` for each flag, a user dict per call, events off
- events:    + analytics events on (summaries, index events, tracked flags' feature events)
- deferreds: ``TwistedLDClient.variation`` instead (events on): a fired Deferred per call
- gathered:  + ``defer.gatherResults`` over the 10 Deferreds and the body written in its callback
             (the serving benchmark's handler)
- awaited:   ``AsyncLDClient.variation`` awaited for each flag in a coroutine per request (events
             on), on an asyncio loop (``bench/async_serve_bench.py``'s handler without aiohttp);
             its "added" column is over the json step: all the asyncio client adds per request

Run:  .venv/bin/python bench/serve_profile.py [--requests 20000]
Best of 5 runs per step, µs per request; quote differences from one run.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any, Callable, Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenarios  # noqa: E402
from serve_bench import KEYS, FLAG_COUNT  # noqa: E402


def _clients(events_uri: str) -> Any:
    import ldfast
    from ldfast.twisted import TwistedLDClient
    from twisted.internet import reactor

    flags, segments = scenarios.all_flags_data(FLAG_COUNT)

    def config(events: bool) -> Any:
        return ldfast.Config("sdk-key", events_uri=events_uri, send_events=events, flush_interval=3600,
                             diagnostic_opt_out=True, events_max_pending=10 ** 7,
                             update_processor_class=scenarios._source(scenarios.FAST_FEATURES,
                                                                      scenarios.FAST_SEGMENTS, flags, segments))

    quiet = ldfast.LDClient(config=config(False), start_wait=5)
    loud = ldfast.LDClient(config=config(True), start_wait=5)
    twisted_client = TwistedLDClient(config=config(True), reactor=reactor)
    return quiet, loud, twisted_client


def steps(quiet: Any, loud: Any, twisted_client: Any, out: List[bytes]) -> Dict[str, Callable[[dict], None]]:
    from twisted.internet import defer

    from ldfast._ext.context import DictContexts

    contexts = DictContexts()  # converts as the client's core does

    def body(values: List[Any]) -> None:
        out.append(json.dumps(dict(zip(KEYS, values))).encode())

    return {
        "json": lambda user: body(KEYS),
        "contexts": lambda user: body([contexts.convert(user) and k for k in KEYS]),
        "evaluate": lambda user: body([quiet.variation(k, user, None) for k in KEYS]),
        "events": lambda user: body([loud.variation(k, user, None) for k in KEYS]),
        "deferreds": lambda user: body([twisted_client.variation(k, user, None).result for k in KEYS]),
        "gathered": lambda user: defer.gatherResults(
            [twisted_client.variation(k, user, None) for k in KEYS]).addCallback(body),
    }


async def _awaited(events_uri: str, users: List[dict]) -> float:
    """The ``awaited`` step: best of 5, µs per request."""
    from ldfast.async_client import AsyncLDClient
    from ldfast.async_config import AsyncConfig

    flags, segments = scenarios.all_flags_data(FLAG_COUNT)
    client = AsyncLDClient(AsyncConfig(
        "sdk-key", events_uri=events_uri, flush_interval=3600, diagnostic_opt_out=True, events_max_pending=10 ** 7,
        update_processor_class=scenarios._source(scenarios.FAST_FEATURES, scenarios.FAST_SEGMENTS, flags, segments)))
    await client.start(5)
    out: List[bytes] = []
    variation = client.variation

    async def handle(user: dict) -> None:
        values = [await variation(k, user, None) for k in KEYS]
        out.append(json.dumps(dict(zip(KEYS, values))).encode())

    best = float("inf")
    try:
        for _ in range(5):
            del out[:]
            start = time.perf_counter()
            for user in users:
                await handle(user)
            best = min(best, (time.perf_counter() - start) / len(users) * 1e6)
            await asyncio.sleep(0)  # (the event processor's turn, as between requests)
        assert len(out) == len(users)
    finally:
        await client.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args()
    scenarios.quiet_logs()
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from tests.support.fake_ld import FakeLaunchDarklyThread
    from twisted.internet import reactor

    fake = FakeLaunchDarklyThread()
    quiet, loud, twisted_client = _clients(fake.uri)
    users = [dict(scenarios.USER, key="user-%05d" % (i % 1000)) for i in range(args.requests)]
    results: Dict[str, float] = {}

    def run() -> None:
        try:
            out: List[bytes] = []
            for name, handler in steps(quiet, loud, twisted_client, out).items():
                best = float("inf")
                for _ in range(5):
                    del out[:]
                    start = time.perf_counter()
                    for user in users:
                        handler(user)
                    best = min(best, (time.perf_counter() - start) / len(users) * 1e6)
                assert len(out) == len(users), name
                results[name] = best
        finally:
            if reactor.running:
                reactor.stop()

    # started once the reactor runs: the client may already be initialized, and run() stops the reactor
    reactor.callWhenRunning(lambda: twisted_client.wait_for_initialization(5).addCallback(lambda _: run()))
    reactor.run()
    for c in (quiet, loud):
        c.close()
    results["awaited"] = asyncio.run(_awaited(fake.uri, users))
    fake.close()
    previous = 0.0
    print("| step | µs per request | added by the step |")
    print("|---|---:|---:|")
    for name, us in results.items():
        added = {"gathered": us - results["deferreds"], "awaited": us - results["json"]}.get(name, us - previous)
        print("| %s | %.1f | %+.1f |" % (name, us, added))
        previous = us


if __name__ == "__main__":
    main()
