"""The DynamoDB store: evaluation cost, cached and read through (``python bench/dynamodb_bench.py``).

Starts its own throwaway DynamoDB-compatible server (moto in server mode, on a free loopback
port: tests/support/moto_server.py), and writes bench/scenarios.py's base data (a simple flag and
a rule-heavy one with a prerequisite and a segment) with the official SDK's DynamoDB store.

1. ``variation`` of a cached flag: an ldfast client on the in-memory store, an ldfast client in
   daemon mode on the DynamoDB store, and the official SDK in daemon mode on the same table
   (default 15 s cache), side by side. Each case first checks that all give the same answer.
2. A flag not cached (``CacheConfig.disabled()``: every evaluation reads the table first): ldfast
   (one consistent ``BatchGetItem`` per round of dependencies) vs the official SDK (a ``GetItem``
   per flag and segment it meets). moto answers over loopback HTTP, so this measures round trips
   and request handling, not AWS latency.

Numbers from a shared machine are indicative: quote the ratios of one run.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, ROOT]


def _interleaved(calls: List[Any], loops: int, repeat: int) -> List[float]:
    """The best time per call of each of ``calls``, timed in turns (so drift on a shared machine
    hits them alike)."""
    from redis_bench import _time

    best = [float("inf")] * len(calls)
    for _ in range(repeat):
        for i, call in enumerate(calls):
            best[i] = min(best[i], _time(call, loops, 1))
    return best


def bench(server: Any, loops: int, repeat: int) -> List[Dict[str, Any]]:
    import ldclient
    from ldclient.feature_store import CacheConfig as OfficialCacheConfig
    from ldclient.integrations import DynamoDB as OfficialDynamoDB
    from ldclient.versioned_data_kind import FEATURES as OF, SEGMENTS as OS

    import ldfast
    from ldfast.feature_store import CacheConfig
    from ldfast.integrations import DynamoDB

    import scenarios
    from redis_bench import _time

    scenarios.quiet_logs()
    flags, segments = scenarios.base_data()
    table = server.create_table("bench")
    opts = server.dynamodb_opts
    OfficialDynamoDB.new_feature_store(table, dynamodb_opts=opts).init(
        {OF: copy.deepcopy(flags), OS: copy.deepcopy(segments)})

    def fast(caching: Any) -> Any:
        store = DynamoDB.new_feature_store(table, dynamodb_opts=opts, caching=caching)
        return ldfast.LDClient(ldfast.Config("sdk-key", use_ldd=True, feature_store=store, send_events=False))

    def official(caching: Any) -> Any:
        return ldclient.client.LDClient(ldclient.config.Config(
            "sdk-key", use_ldd=True, send_events=False, diagnostic_opt_out=True,
            feature_store=OfficialDynamoDB.new_feature_store(table, dynamodb_opts=opts, caching=caching)))

    memory = scenarios.fast_client(json.loads(json.dumps(flags)), json.loads(json.dumps(segments)))
    cached, official_cached = fast(CacheConfig.default()), official(OfficialCacheConfig.default())
    uncached, official_uncached = fast(CacheConfig.disabled()), official(OfficialCacheConfig.disabled())
    fctx = ldfast.Context.from_dict(copy.deepcopy(scenarios.USER))
    octx = ldclient.context.Context.from_dict(copy.deepcopy(scenarios.USER))
    rows = []
    try:
        for key in (scenarios.SIMPLE_KEY, scenarios.HEAVY_KEY):
            answers = {memory.variation(key, fctx, "d"), cached.variation(key, fctx, "d"),
                       official_cached.variation(key, octx, "d"), uncached.variation(key, fctx, "d"),
                       official_uncached.variation(key, octx, "d")}
            assert len(answers) == 1, "the clients disagree on %s: %r" % (key, answers)
            t_mem, t_ddb = _interleaved([lambda: memory.variation(key, fctx, "d"),
                                         lambda: cached.variation(key, fctx, "d")], loops, repeat)
            t_off = _time(lambda: official_cached.variation(key, octx, "d"), max(1000, loops // 20), repeat)
            t_read, t_off_read = _interleaved([lambda: uncached.variation(key, fctx, "d"),
                                               lambda: official_uncached.variation(key, octx, "d")],
                                              max(20, loops // 5000), repeat)
            rows.append({"flag": key, "memory_ns": t_mem * 1e9, "dynamodb_cached_ns": t_ddb * 1e9,
                         "official_cached_ns": t_off * 1e9, "cached_vs_memory": t_ddb / t_mem,
                         "read_through_ms": t_read * 1e3, "official_read_through_ms": t_off_read * 1e3,
                         "official_vs_ldfast_read_through": t_off_read / t_read})
    finally:
        for client in (memory, cached, official_cached, uncached, official_uncached):
            client.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from tests.support.moto_server import MotoServer

    import boto3
    import ldclient

    import ldfast

    print("%s, Python %s, ldfast %s, launchdarkly-server-sdk %s, boto3 %s" % (
        platform.machine(), platform.python_version(), ldfast.__version__, ldclient.VERSION, boto3.__version__))
    with MotoServer() as server:
        for row in bench(server, args.loops, args.repeat):
            print("%-14s variation cached: in-memory %7.0f ns, DynamoDB %7.0f ns (%.2fx), official %8.0f ns | "
                  "read through: ldfast %6.2f ms, official %6.2f ms (%.1fx)" % (
                      row["flag"], row["memory_ns"], row["dynamodb_cached_ns"], row["cached_vs_memory"],
                      row["official_cached_ns"], row["read_through_ms"], row["official_read_through_ms"],
                      row["official_vs_ldfast_read_through"]))


if __name__ == "__main__":
    main()
