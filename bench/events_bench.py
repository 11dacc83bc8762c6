"""Analytics events, side by side: ldfast (compiled and pure twins) and the official SDK (``python bench/events_bench.py``).

Cases (each checks first that the implementations agree):

- ``variation`` of an untracked flag for a known context, with events off and on: what recording
  adds to an evaluation (a summary counter increment in ldfast);
- ``track()`` in a tight loop (the event queues are bounded: most of a flood is dropped, as in both
  SDKs);
- 10,000 mixed events (feature with reasons, debug, index, identify, custom with data) formatted
  and serialized: ldfast's compiled formatter + orjson against the official
  ``EventOutputFormatter.make_output_events`` + ``json.dumps``; both payloads must parse to the
  same JSON, key order included.

Both SDKs get their flags from, and post their events to, one local fake LaunchDarkly service
(tests/support/fake_ld.py). Times are the best of ``--repeat`` runs, repeats alternating between
the implementations; the pure-Python column is measured in a child process with
LDFAST_NO_EXTENSIONS=1. Numbers from a shared machine are indicative: quote ratios from one run.
"""
from __future__ import annotations

import argparse
import copy
import gc
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import ldclient  # noqa: E402
import ldfast  # noqa: E402
from tests.support.fake_ld import FakeLaunchDarklyThread  # noqa: E402

FLAGS = {
    "plain": {"key": "plain", "version": 5, "on": True, "variations": [1, 2, 3], "fallthrough": {"variation": 2},
              "salt": "s"},
    "tracked": {"key": "tracked", "version": 3, "on": True, "variations": ["a", "b"], "fallthrough": {"variation": 1},
                "trackEvents": True, "salt": "s"},
}
N_EVENTS = 10_000
TRACK_CALLS = 20_000


def best_us(call: Callable[[], Any], number: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        loop = itertools.repeat(None, number)
        start = time.perf_counter()
        for _ in loop:
            call()
        best = min(best, (time.perf_counter() - start) / number)
    return best * 1e6


def calibrated(call: Callable[[], Any], target: float) -> int:
    number = 1
    while True:
        start = time.perf_counter()
        for _ in itertools.repeat(None, number):
            call()
        elapsed = time.perf_counter() - start
        if elapsed >= target / 10:
            return max(1, int(number * target / elapsed))
        number *= 10


# -- clients ------------------------------------------------------------------------------------------

def make_client(sdk: Any, fake: FakeLaunchDarklyThread, send_events: bool, capacity: int = 10000) -> Any:
    config = sdk.Config("sdk-key", stream_uri=fake.uri, base_uri=fake.uri, events_uri=fake.uri,
                        diagnostic_opt_out=True, flush_interval=3600, send_events=send_events,
                        events_max_pending=capacity)
    client = sdk.LDClient(config=config, start_wait=10)
    assert client.is_initialized()
    return client


def client_cases(fake: FakeLaunchDarklyThread, repeat: int, target: float, official: bool) -> Dict[str, Dict[str, float]]:
    """{case: {impl: µs}} for this process's ldfast (and the official SDK when ``official``)."""
    sdks = [("ldfast", ldfast)] + ([("official", ldclient)] if official else [])
    clients = {}
    for name, sdk in sdks:
        ctx = sdk.Context.builder("user-1").name("Ann").set("plan", "pro").build()
        clients[name] = (sdk, ctx, make_client(sdk, fake, False), make_client(sdk, fake, True),
                         make_client(sdk, fake, True, capacity=TRACK_CALLS * repeat + 10))
    results: Dict[str, Dict[str, float]] = {"variation, events off": {}, "variation, events on": {},
                                            "track(), every event queued": {}, "track(), flood (200k)": {}}
    try:
        answers = set()
        for name, (sdk, ctx, off, on, roomy) in clients.items():
            answers.add((off.variation("plain", ctx, 0), on.variation("plain", ctx, 0)))
            on.track("warm-up", ctx)  # the context is known from now on
            roomy.track("warm-up", ctx)
        assert answers == {(3, 3)}, answers
        for _ in range(repeat):  # alternate the implementations
            for name, (sdk, ctx, off, on, roomy) in clients.items():
                for case, call, number in (
                        ("variation, events off", lambda: off.variation("plain", ctx, 0), 0),
                        ("variation, events on", lambda: on.variation("plain", ctx, 0), 0),
                        # a queue with room for every event: each one is made, queued and processed
                        ("track(), every event queued", lambda: roomy.track("purchase", ctx, None, 9.5), TRACK_CALLS),
                        # the default capacity (10,000): most of a flood is dropped, in both SDKs
                        ("track(), flood (200k)", lambda: on.track("purchase", ctx, None, 9.5), 200_000)):
                    number = number or max(1000, calibrated(call, target))
                    time.sleep(0.3)  # let the SDKs' background threads finish with the previous case
                    us = best_us(call, number, 1)
                    results[case][name] = min(results[case].get(name, float("inf")), us)
    finally:
        for name, (sdk, ctx, off, on, roomy) in clients.items():
            off.close()
            on.close()
            roomy.close()
    return results


# -- payload formatting ---------------------------------------------------------------------------------

def mixed_inputs(side: str) -> Any:
    """10,000 mixed event inputs and a summary, built with either SDK's own event classes."""
    if side == "official":
        from ldclient.evaluation import EvaluationDetail
        from ldclient.impl.events.event_processor_common import DebugEvent, IndexEvent
        from ldclient.impl.events.event_summarizer import EventSummarizer
        from ldclient.impl.events.types import EventFactory
        from ldclient.impl.model import FeatureFlag
        Context = ldclient.Context
        flags = {k: FeatureFlag(copy.deepcopy(v)) for k, v in FLAGS.items()}
    else:
        from ldfast.evaluation import EvaluationDetail
        from ldfast.events import DebugEvent, EventFactory, EventSummarizer, IndexEvent
        from ldfast.model import parse_flag
        Context = ldfast.Context
        flags = {k: parse_flag(copy.deepcopy(v)) for k, v in FLAGS.items()}
    clock = [1_700_000_000_000]
    factories = {w: EventFactory(w, lambda: clock[0]) for w in (False, True)}
    summarizer = EventSummarizer()
    contexts = []
    for i in range(200):
        b = Context.builder("user-%d" % i).name("User %d" % i).set("email", "u%d@example.com" % i)
        b.set("plan", ["free", "pro"][i % 2]).set("address", {"city": "Paris", "street": "rue %d" % i})
        if i % 3 == 0:
            b.private("email")
        if i % 7 == 0:
            b.anonymous(True)
        user = b.build()
        if i % 5 == 0:
            user = Context.create_multi(user, Context.builder("org-%d" % (i % 10)).kind("org").set("tier", 2).build())
        contexts.append(user)
    events: List[Any] = []
    i = 0
    while len(events) < N_EVENTS:
        clock[0] += 1
        ctx = contexts[i % len(contexts)]
        which = i % 6
        if which in (0, 1):
            key = "tracked" if which == 0 else "plain"
            variation = 1 if key == "tracked" else 2
            detail = EvaluationDetail(FLAGS[key]["variations"][variation], variation, {"kind": "FALLTHROUGH"})
            e = factories[which == 0].new_eval_event(flags[key], ctx, detail, "dflt")
            summarizer.summarize_event(e)
            events.append(e)
        elif which == 2:
            events.append(IndexEvent(clock[0], ctx))
        elif which == 3:
            events.append(factories[False].new_identify_event(ctx))
        elif which == 4:
            events.append(factories[False].new_custom_event("purchase", ctx, {"price": i, "items": ["a", "b"],
                                                                             "note": "café"}, i * 0.5))
        else:
            e = factories[True].new_eval_event(flags["plain"], ctx, EvaluationDetail(
                3, 2, {"kind": "FALLTHROUGH"}), 0)
            summarizer.summarize_event(e)
            events.append(DebugEvent(e))
        i += 1
    return events, summarizer.snapshot()


def format_case(repeat: int, official: bool) -> Dict[str, float]:
    """µs to format and serialize the 10,000 events, per implementation."""
    from ldfast.events.formatter import EventOutputFormatter
    from ldfast.events.processor import FORMAT_CHUNK

    private = ["plan", "/address/street"]
    ours_events, ours_summary = mixed_inputs("ldfast")
    ours_fmt = EventOutputFormatter(ldfast.Config("sdk-key", private_attributes=private))

    def ours() -> bytes:  # as the event processor writes a payload: FORMAT_CHUNK events per reactor turn
        n = len(ours_events)
        contexts = ours_fmt.new_context_cache()
        parts: List[Any] = []
        for i in range(0, n, FORMAT_CHUNK):
            part = ours_fmt.serialize(ours_events[i:i + FORMAT_CHUNK], ours_summary if i + FORMAT_CHUNK >= n else None,
                                      contexts)
            if len(part) > 2:
                if parts:
                    parts.append(b",")
                parts.append(memoryview(part)[1:-1])
        return b"".join([b"["] + parts + [b"]"])

    calls = {"ldfast": ours}
    if official:
        from ldclient.impl.events.event_processor_common import EventOutputFormatter as OfficialFormatter

        theirs_events, theirs_summary = mixed_inputs("official")
        theirs_fmt = OfficialFormatter(ldclient.Config("sdk-key", private_attributes=private))
        calls["official"] = lambda: json.dumps(theirs_fmt.make_output_events(theirs_events, theirs_summary),
                                               separators=(",", ":")).encode()

        def ordered(body: bytes) -> Any:
            return json.loads(body, object_pairs_hook=list)  # objects as (key, value) lists: order counts

        a, b = ordered(calls["ldfast"]()), ordered(calls["official"]())
        assert len(a) == len(b) == N_EVENTS + 1
        assert a == b, "the payloads differ"
    results = {name: float("inf") for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            gc.collect()
            results[name] = min(results[name], best_us(call, 1, 1))
    return results


# -- main ----------------------------------------------------------------------------------------------

def measure(repeat: int, target: float, official: bool) -> Dict[str, Dict[str, float]]:
    with FakeLaunchDarklyThread(copy.deepcopy(FLAGS)) as fake:
        results = client_cases(fake, repeat, target, official)
    results["format+serialize 10k events"] = format_case(repeat, official)
    return results


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--target", type=float, default=0.2, help="seconds per timed variation loop")
    parser.add_argument("--child", action="store_true", help="measure this process's ldfast only, print JSON")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.repeat, args.target, official=False)))
        return 0
    compiled = ldfast.extensions_enabled()
    results = measure(args.repeat, args.target, official=True)
    columns = ["ldfast" if compiled else "ldfast (pure)", "official"]
    if compiled:
        env = dict(os.environ, LDFAST_NO_EXTENSIONS="1")
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--repeat", str(args.repeat),
                              "--target", str(args.target)], env=env, capture_output=True, text=True, check=True)
        pure = json.loads(out.stdout.strip().splitlines()[-1])
        for case, values in pure.items():
            results[case]["ldfast (pure)"] = values["ldfast"]
        columns = ["ldfast", "ldfast (pure)", "official"]
    else:
        for values in results.values():
            values["ldfast (pure)"] = values.pop("ldfast")

    from importlib.metadata import version

    print("events benchmark: %s, %s %s, ldfast %s, launchdarkly-server-sdk %s; µs per call, best of %d" % (
        platform.processor() or platform.machine(), platform.python_implementation(), platform.python_version(),
        ldfast.__version__ if hasattr(ldfast, "__version__") else "?", version("launchdarkly-server-sdk"),
        args.repeat))
    print("(a shared machine: indicative numbers; compare ratios within this run)")
    head = "%-30s" % "case" + "".join("%16s" % c for c in columns) + "%16s" % "official/ldfast"
    print(head)
    print("-" * len(head))
    for case, values in results.items():
        cells = "".join("%16.3f" % values[c] if c in values else "%16s" % "-" for c in columns)
        ratio = values["official"] / values[columns[0]]
        print("%-30s%s%15.1fx" % (case, cells, ratio))
    first = columns[0]
    added = results["variation, events on"][first] - results["variation, events off"][first]
    added_official = results["variation, events on"]["official"] - results["variation, events off"]["official"]
    print("\nevents add to a variation: %s %.3f µs, official %.3f µs" % (first, added, added_official))
    if compiled:
        added_pure = results["variation, events on"]["ldfast (pure)"] - results["variation, events off"]["ldfast (pure)"]
        print("                            ldfast (pure) %.3f µs" % added_pure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
