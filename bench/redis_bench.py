"""The Redis store: evaluation cost and fleet convergence (``python bench/redis_bench.py``).

Starts its own throwaway ``redis-server`` on a free loopback port (tests/support/redis_server.py).

1. ``variation``: the same flags (bench/scenarios.py base data: a simple flag and a rule-heavy
   one with a prerequisite and a segment) evaluated by an ldfast client on the in-memory store and
   by an ldfast client in daemon mode on the Redis store (its local mirror), side by side, plus the
   official SDK in daemon mode on the same Redis (default 15 s cache) for reference. Each case first
   checks that all give the same answer. Best of ``--repeat`` timed loops of ``--loops`` calls.
2. Write cost: what ``init_preprocessed`` of ``--write-flags`` parsed flags and one ``upsert`` cost
   the calling thread (a data source's reactor), in-memory store vs Redis store (whose Redis I/O is
   on its worker thread, outside the measurement).
3. Fleet: ``--procs`` processes, each an ldfast ``LDClient`` in daemon mode with the Redis store
   (``CacheConfig(expiration=--expiration)``), while this process, as the writer, upserts a flag
   ``--updates`` times through its own Redis store. Each reader notes when its flag tracker saw each
   new version; convergence = that moment minus the writer's ``flush()`` returning (the update is in
   Redis). Expect about U(0, expiration) plus a refresh, i.e. at most ~expiration.

Numbers from a shared machine are indicative: quote the ratios of one run.
"""
from __future__ import annotations

import argparse
import copy
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
import uuid
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, ROOT]


def _flag(key: str, version: int, value: Any) -> dict:
    return {"key": key, "version": version, "on": True, "variations": [value, "other"],
            "fallthrough": {"variation": 0}, "offVariation": 1, "salt": key}


def _time(call: Any, loops: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(loops):
            call()
        best = min(best, time.perf_counter() - start)
    return best / loops


def bench_variation(url: str, loops: int, repeat: int) -> List[Dict[str, Any]]:
    import ldclient
    from ldclient.feature_store import _FeatureStoreDataSetSorter
    from ldclient.integrations import Redis as OfficialRedis
    from ldclient.versioned_data_kind import FEATURES as OF, SEGMENTS as OS

    import ldfast
    from ldfast.feature_store import CacheConfig
    from ldfast.integrations import Redis

    import scenarios

    scenarios.quiet_logs()
    flags, segments = scenarios.base_data()
    prefix = "bench-%s" % uuid.uuid4().hex[:8]
    writer = OfficialRedis.new_feature_store(url=url, prefix=prefix)
    writer.init(_FeatureStoreDataSetSorter.sort_all_collections({OF: copy.deepcopy(flags), OS: copy.deepcopy(segments)}))

    # The in-memory client gets the data through JSON too, as a stream delivers it: strings parsed
    # from JSON are not interned, and the evaluator's string compares are measurably slower on them
    # (about 15-20% on the rule-heavy flag) than on the interned literals of scenarios.py.
    memory = scenarios.fast_client(json.loads(json.dumps(flags)), json.loads(json.dumps(segments)))
    store = Redis.new_feature_store(url=url, prefix=prefix, caching=CacheConfig.default())
    redis_client = ldfast.LDClient(ldfast.Config("sdk-key", use_ldd=True, feature_store=store, send_events=False))
    assert store.refresh(10) and redis_client.is_initialized()
    official = ldclient.client.LDClient(ldclient.config.Config(
        "sdk-key", use_ldd=True, send_events=False, diagnostic_opt_out=True,
        feature_store=OfficialRedis.new_feature_store(url=url, prefix=prefix)))
    fctx = ldfast.Context.from_dict(copy.deepcopy(scenarios.USER))
    octx = ldclient.context.Context.from_dict(copy.deepcopy(scenarios.USER))
    rows = []
    try:
        for key in (scenarios.SIMPLE_KEY, scenarios.HEAVY_KEY):
            answers = {memory.variation(key, fctx, "d"), redis_client.variation(key, fctx, "d"),
                       official.variation(key, octx, "d")}
            assert len(answers) == 1, "the clients disagree on %s: %r" % (key, answers)
            t_mem = t_redis = float("inf")
            for _ in range(repeat):  # interleaved, so drift on a shared machine hits both alike
                t_mem = min(t_mem, _time(lambda: memory.variation(key, fctx, "d"), loops, 1))
                t_redis = min(t_redis, _time(lambda: redis_client.variation(key, fctx, "d"), loops, 1))
            t_off = _time(lambda: official.variation(key, octx, "d"), max(1000, loops // 20), repeat)
            rows.append({"flag": key, "memory_ns": t_mem * 1e9, "redis_ns": t_redis * 1e9,
                         "official_redis_ns": t_off * 1e9, "redis_vs_memory": t_redis / t_mem})
    finally:
        memory.close()
        redis_client.close()
        official.close()
    return rows


def bench_write_cost(url: str, count: int, repeat: int) -> List[Dict[str, Any]]:
    """What a data source's write costs the calling (reactor) thread: in-memory vs Redis store."""
    from ldfast.feature_store import InMemoryFeatureStore
    from ldfast.integrations import Redis
    from ldfast.model import parse_flag, parse_segment
    from ldfast.versioned_data_kind import FEATURES

    import scenarios

    flags, segments = scenarios.all_flags_data(count)
    flags = json.loads(json.dumps(flags))
    parsed_flags = {k: parse_flag(v) for k, v in flags.items()}
    parsed_segments = {k: parse_segment(v) for k, v in segments.items()}
    redis_store = Redis.new_feature_store(url=url, prefix="bench-w-%s" % uuid.uuid4().hex[:8])
    memory_store = InMemoryFeatureStore()
    rows = []
    try:
        for name, store in (("memory", memory_store), ("redis", redis_store)):
            best_init = best_upsert = float("inf")
            for r in range(repeat):
                start = time.perf_counter()
                store.init_preprocessed(parsed_flags, parsed_segments)
                best_init = min(best_init, time.perf_counter() - start)
                item = dict(flags[scenarios.SIMPLE_KEY], version=1000 + r)
                start = time.perf_counter()
                store.upsert(FEATURES, item)
                best_upsert = min(best_upsert, time.perf_counter() - start)
                if store is redis_store:
                    assert redis_store.flush(60)  # measured apart from the Redis I/O, which is on the worker
            rows.append({"store": name, "init_preprocessed_ms": best_init * 1e3, "upsert_us": best_upsert * 1e6})
    finally:
        redis_store.close()
    return rows


def _reader(url: str, prefix: str, expiration: float, updates: int, ready: Any, out: Any) -> None:
    import logging

    logging.getLogger("ldfast").setLevel(logging.WARNING)
    import ldfast
    from ldfast.feature_store import CacheConfig
    from ldfast.integrations import Redis

    store = Redis.new_feature_store(url=url, prefix=prefix, caching=CacheConfig(expiration=expiration))
    client = ldfast.LDClient(ldfast.Config("sdk-key", use_ldd=True, feature_store=store, send_events=False))
    ctx = ldfast.Context.create("u")
    # a read-through cache: the process's first evaluation reads the flag from Redis; from then on
    # the store's worker re-reads it every `expiration` s and the listener hears of each change
    client.variation("fleet-flag", ctx, None)
    seen: Dict[int, float] = {}

    def on_change(change: Any) -> None:
        value = client.variation("fleet-flag", ctx, None)
        if isinstance(value, str) and value.startswith("v"):
            seen.setdefault(int(value[1:]), time.time())

    client.flag_tracker.add_listener(on_change)
    ready.set()
    deadline = time.monotonic() + updates * (expiration + 1.0) + 15
    while len(seen) < updates and time.monotonic() < deadline:
        time.sleep(0.05)
    out.put((os.getpid(), seen))
    client.close()


def bench_fleet(url: str, procs: int, updates: int, expiration: float) -> Dict[str, Any]:
    from ldfast.integrations import Redis
    from ldfast.versioned_data_kind import FEATURES, SEGMENTS

    prefix = "fleet-%s" % uuid.uuid4().hex[:8]
    writer = Redis.new_feature_store(url=url, prefix=prefix)
    writer.init({FEATURES: {"fleet-flag": _flag("fleet-flag", 0, "v0")}, SEGMENTS: {}})
    assert writer.flush(10)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    readies = [ctx.Event() for _ in range(procs)]
    workers = [ctx.Process(target=_reader, args=(url, prefix, expiration, updates, readies[i], out))
               for i in range(procs)]
    for w in workers:
        w.start()
    for r in readies:
        assert r.wait(60), "a reader did not start"
    written: Dict[int, float] = {}
    for n in range(1, updates + 1):
        writer.upsert(FEATURES, _flag("fleet-flag", n, "v%d" % n))
        assert writer.flush(10)
        written[n] = time.time()
        time.sleep(expiration * 1.3)  # let every reader converge before the next update
    results = [out.get(timeout=updates * (expiration + 1.0) + 60) for _ in workers]
    for w in workers:
        w.join(10)
    writer.close()
    per_proc = []
    for pid, seen in sorted(results):
        lags = [seen[n] - written[n] for n in range(1, updates + 1) if n in seen]
        per_proc.append({"pid": pid, "seen": len(lags), "of": updates,
                         "mean_s": statistics.mean(lags) if lags else None, "max_s": max(lags) if lags else None})
    return {"procs": procs, "updates": updates, "expiration_s": expiration, "per_process": per_proc}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loops", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--updates", type=int, default=5)
    parser.add_argument("--expiration", type=float, default=1.0)
    parser.add_argument("--write-flags", type=int, default=5000)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    from tests.support.redis_server import RedisServer

    import ldfast
    import ldclient

    with RedisServer() as srv:
        rows = bench_variation(srv.url, args.loops, args.repeat)
        writes = bench_write_cost(srv.url, args.write_flags, args.repeat)
        fleet = bench_fleet(srv.url, args.procs, args.updates, args.expiration)

    print("ldfast %s (extensions: %s), launchdarkly-server-sdk %s, Python %s, %s" % (
        ldfast.VERSION, ldfast.extensions_enabled() if hasattr(ldfast, "extensions_enabled") else "?",
        ldclient.version.VERSION, platform.python_version(), platform.node()))
    print("\nvariation (ns/call; best of %d x %d calls)" % (args.repeat, args.loops))
    print("%-14s %12s %12s %10s %18s" % ("flag", "in-memory", "redis", "ratio", "official+redis"))
    for r in rows:
        print("%-14s %12.0f %12.0f %9.3fx %18.0f" % (r["flag"], r["memory_ns"], r["redis_ns"], r["redis_vs_memory"],
                                                    r["official_redis_ns"]))
    print("\nwhat a data source's write costs its (reactor) thread, %d flags (best of %d)" % (
        args.write_flags, args.repeat))
    print("%-8s %22s %12s" % ("store", "init_preprocessed (ms)", "upsert (us)"))
    for w in writes:
        print("%-8s %22.2f %12.1f" % (w["store"], w["init_preprocessed_ms"], w["upsert_us"]))
    print("\nfleet: %d daemon-mode processes, %d updates, cache expiration %.2f s" % (
        fleet["procs"], fleet["updates"], fleet["expiration_s"]))
    print("%-8s %6s %10s %10s" % ("process", "seen", "mean (s)", "max (s)"))
    for i, p in enumerate(fleet["per_process"]):
        fmt = lambda v: "%10.3f" % v if v is not None else "%10s" % "-"  # noqa: E731
        print("%-8d %3d/%-2d %s %s" % (i, p["seen"], p["of"], fmt(p["mean_s"]), fmt(p["max_s"])))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"variation": rows, "writes": writes, "fleet": fleet}, f, indent=2)


if __name__ == "__main__":
    main()
