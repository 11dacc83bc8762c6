"""Big Segment evaluation timing: ldfast (compiled and pure twins) vs the official SDK, real Redis.

    .venv/bin/python bench/big_segments_bench.py [--target 0.2]

One flag whose rule matches a Big Segment, one context whose membership is cached (the steady
state: the store is read once per context per ``context_cache_time``), and a cold case where every
call misses the cache (``context_cache_time=0``: one Redis round trip per evaluation). Each case
first checks that both SDKs give the same detail. The Twisted rows time ``TwistedLDClient.variation``
with the membership cached, and the same client without a Big Segment store (the hot path the
check must leave alone). Prints µs/call (best of 5 repeats) and ratios; quote ratios, not times.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import time
import timeit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

FLAG = {"key": "f", "version": 1, "on": True, "variations": ["off", "on"], "offVariation": 0, "salt": "f",
        "fallthrough": {"variation": 0}, "targets": [], "prerequisites": [],
        "rules": [{"id": "r", "variation": 1, "clauses": [{"attribute": "", "op": "segmentMatch",
                                                           "values": ["big"], "negate": False}]}]}
SEGMENT = {"key": "big", "version": 1, "unbounded": True, "generation": 3, "salt": "s", "included": [],
           "excluded": [], "rules": []}
PREFIX = "bench"


def _time(fn, target):
    n = 1
    while True:
        t = timeit.timeit(fn, number=n)
        if t >= target / 5 or n >= 1 << 22:
            break
        n *= 4
    per_repeat = max(1, int(n * target / max(t, 1e-9)))
    return min(timeit.repeat(fn, number=per_repeat, repeat=5)) / per_repeat * 1e6


def measure_ldfast(url, target):
    import ldfast
    from ldfast.config import BigSegmentsConfig
    from ldfast.integrations._redis_big_segments import RedisBigSegmentStore
    from ldfast.twisted import TwistedLDClient
    from tests.helpers import static_source
    from twisted.internet.task import Clock

    out = {}
    ctx = ldfast.Context.create("member")
    for case, cache_time in (("cached", 5), ("cold", 0)):
        store = RedisBigSegmentStore(url=url, prefix=PREFIX)
        config = ldfast.Config("k", update_processor_class=static_source({"f": copy.deepcopy(FLAG)},
                                                                         {"big": copy.deepcopy(SEGMENT)}),
                               send_events=False,
                               big_segments=BigSegmentsConfig(store=store, context_cache_time=cache_time))
        client = ldfast.LDClient(config, start_wait=5)
        detail = client.variation_detail("f", ctx, None)
        out["answer_" + case] = [detail.value, detail.reason]
        out["sync_" + case] = _time(lambda: client.variation("f", ctx, None), target)
        client.close()
    # Twisted: membership cached (filled outside the reactor), and the same client without a store
    store = RedisBigSegmentStore(url=url, prefix=PREFIX)
    for case, bs in (("twisted_cached", BigSegmentsConfig(store=store)), ("twisted_no_store", None)):
        kwargs = {"big_segments": bs} if bs is not None else {}
        config = ldfast.Config(update_processor_class=static_source({"f": copy.deepcopy(FLAG)},
                                                                    {"big": copy.deepcopy(SEGMENT)}),
                               send_events=False, **kwargs)
        client = TwistedLDClient("k", config, reactor=Clock())
        if bs is not None:
            client._big_segment_manager.lookup("member")  # fills the cache and the status
        user = {"key": "member"}
        d = client.variation("f", user, None)
        assert d.called
        out["answer_" + case] = d.result
        out[case] = _time(lambda: client.variation("f", user, None), target)
        if bs is not None:
            client._big_segment_manager.stop()
    return out


def measure_official(url, target):
    from ldclient.client import LDClient
    from ldclient.config import BigSegmentsConfig, Config
    from ldclient.context import Context
    from ldclient.integrations import Redis
    from ldclient.versioned_data_kind import FEATURES, SEGMENTS

    class Source:
        def __init__(self, config, store, ready):
            self._store, self._ready = store, ready

        def start(self):
            self._store.init({FEATURES: {"f": copy.deepcopy(FLAG)}, SEGMENTS: {"big": copy.deepcopy(SEGMENT)}})
            self._ready.set()

        def stop(self):
            pass

        def is_alive(self):
            return True

        def initialized(self):
            return True

    out = {}
    ctx = Context.create("member")
    for case, cache_time in (("cached", 5), ("cold", 0)):
        bs = BigSegmentsConfig(store=Redis.new_big_segment_store(url=url, prefix=PREFIX), context_cache_time=cache_time)
        client = LDClient(Config("k", update_processor_class=Source, send_events=False, diagnostic_opt_out=True,
                                 big_segments=bs), start_wait=5)
        detail = client.variation_detail("f", ctx, None)
        out["answer_" + case] = [detail.value, detail.reason]
        out["sync_" + case] = _time(lambda: client.variation("f", ctx, None), target)
        client.close()
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", type=float, default=0.2, help="seconds per repeat")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_ldfast(args.child, args.target)))
        return
    import redis

    from ldfast._ext import evaluator
    from ldfast.big_segments import hash_for_context_key
    from tests.support.redis_server import RedisServer

    with RedisServer() as server:
        r = redis.Redis.from_url(server.url)
        r.sadd("%s:big_segment_include:%s" % (PREFIX, hash_for_context_key("member")), "big.g3")
        r.set(PREFIX + ":big_segments_synchronized_on", int(time.time() * 1000))
        official = measure_official(server.url, args.target)
        compiled = measure_ldfast(server.url, args.target)
        env = dict(os.environ, LDFAST_NO_EXTENSIONS="1")
        pure = json.loads(subprocess.run([sys.executable, __file__, "--child", server.url, "--target",
                                          str(args.target)], env=env, capture_output=True, text=True,
                                         check=True).stdout)
    for case in ("cached", "cold"):
        for name, res in (("compiled", compiled), ("pure", pure)):
            assert res["answer_" + case] == official["answer_" + case], (name, case, res, official)
    print("ldfast ClientCore from %s; Python %s" % (evaluator.ClientCore.__module__, sys.version.split()[0]))
    print("%-34s %10s %10s %10s %9s %9s" % ("case (us/call)", "official", "compiled", "pure", "x comp", "x pure"))
    for case in ("cached", "cold"):
        o, c, p = official["sync_" + case], compiled["sync_" + case], pure["sync_" + case]
        print("%-34s %10.2f %10.2f %10.2f %8.1fx %8.1fx" % ("LDClient.variation, " + case, o, c, p, o / c, o / p))
    for case in ("twisted_cached", "twisted_no_store"):
        print("%-34s %10s %10.2f %10.2f" % ("TwistedLDClient.variation, " + case[8:], "-", compiled[case], pure[case]))


if __name__ == "__main__":
    main()
