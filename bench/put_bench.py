"""Storing a large streaming ``put``: ldfast's TwistedLDClient against the official SDK (``make bench``).

A local twisted.web SSE server (a private reactor in a thread of this process) serves one
``event: put`` holding ``scenarios.all_flags_data(5000)`` (mixed shapes, a third of them
rule-heavy; about 17 MB of JSON), then keeps the stream open. Every measurement runs in a fresh
subprocess, so no SDK shares a process, a reactor or a heap with the server or with the other SDK:

- ldfast: a ``TwistedLDClient`` on the worker's reactor, where a ``LoopingCall`` ticks every 1 ms
  and records the longest gap between ticks from the client's start until
  ``wait_for_initialization`` fires (the reactor stall), and the wall time from start to
  initialized.
- official: ``ldclient.client.LDClient(config=Config('sdk-key', stream_uri=..., send_events=False),
  start_wait=60)``: the wall time of the constructor, which returns once initialized. Its put is
  processed on its own thread, so it has no reactor stall to report.

Timed runs alternate between the SDKs, ``--repeat`` times each (best time, longest stall over the
runs). Peak Python memory is measured in separate runs (tracemalloc slows allocation, so it is never
on in a timed run): ``tracemalloc.start()`` just before the client starts, the traced peak once it is
initialized (the memory still held then is recorded as ``retained``). Each timed run finally
evaluates every flag for ``scenarios.USER`` (``all_flags_state(with_reasons=True)``) and the SDKs'
answers must be equal. The table, the targets (judged on this run alone) and
bench/results/put.json follow. ``--profile`` instead profiles one ldfast put (see ``profile``).
"""
from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import scenarios as S  # noqa: E402

RESULTS = os.path.join(HERE, "results", "put.json")
FLAG_COUNT = 5000
REPEAT = 3
STALL_LIMIT_MS = 50.0  # longest reactor stall while ldfast stores the put
SPEED_RATIO = 5.0  # ldfast time to initialized vs the official SDK's
TICK = 0.001  # the LoopingCall's interval, seconds
INIT_TIMEOUT = 60.0
WORKER_TIMEOUT = 120.0
SAMPLE_KEYS = (S.SIMPLE_KEY, S.HEAVY_KEY, S.PREREQ_KEY, "string-01", "json-02", "heavy-match-03",
               "heavy-rollout-04", "targeted-05", "json-08")


# -- the put and its server ----------------------------------------------------------------------

def put_event(count: int) -> bytes:
    """The stream's ``put`` event for ``count`` flags of ``scenarios.all_flags_data`` and its segment."""
    flags, segments = S.all_flags_data(count)
    assert len(flags) == count
    put = {"path": "/", "data": {"flags": flags, "segments": segments}}
    return b"event: put\ndata: " + json.dumps(put, separators=(",", ":")).encode() + b"\n\n"


class PutServer:
    """Serves ``GET /all`` as an event stream: the put, then nothing (the stream stays open).

    It runs on a private reactor in a daemon thread of this process (ldfast's ReactorThread), never
    in a measured process. ``close()`` drops open streams, stops listening and joins the thread.
    """

    def __init__(self, body: bytes):
        from twisted.web import resource, server

        from ldfast._reactor import ReactorThread

        owner = self
        self.body = body
        self.requests = 0
        self._open: List[Any] = []

        class Stream(resource.Resource):
            isLeaf = True

            def render_GET(self, request: Any) -> Any:
                if request.path != b"/all":
                    request.setResponseCode(404)
                    return b""
                owner.requests += 1
                request.setHeader(b"content-type", b"text/event-stream")
                request.setHeader(b"cache-control", b"no-cache")
                request.write(owner.body)
                owner._open.append(request)
                request.notifyFinish().addBoth(lambda _: owner._open.remove(request))
                return server.NOT_DONE_YET

        self._net = ReactorThread("put-bench-server")
        try:
            site = server.Site(Stream())
            site.noisy = False
            self._port = self._net.call(lambda: self._net.reactor.listenTCP(0, site, interface="127.0.0.1"))
        except BaseException:
            self._net.stop()
            raise
        self.uri = "http://127.0.0.1:%d" % self._port.getHost().port

    def close(self) -> None:
        def shut() -> Any:
            for request in list(self._open):
                request.transport.abortConnection()
            return self._port.stopListening()

        try:
            if self._net.running:
                self._net.call(shut)
        finally:
            self._net.stop()

    def __enter__(self) -> "PutServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# -- workers (each in a fresh process) -----------------------------------------------------------

def _state(state: Any) -> Dict[str, Any]:
    assert state.valid
    return state.to_json_dict()


def worker_ldfast(uri: str, memory: bool) -> Dict[str, Any]:
    """A TwistedLDClient on this process's reactor, with a 1 ms LoopingCall measuring stalls."""
    import tracemalloc

    from twisted.internet import reactor
    from twisted.internet.task import LoopingCall

    import ldfast
    from ldfast.twisted import TwistedLDClient

    config = ldfast.Config("sdk-key", stream_uri=uri, send_events=False)
    ctx = ldfast.Context.from_dict(dict(S.USER))
    out: Dict[str, Any] = {"sdk": "ldfast", "extensions": ldfast.extensions_enabled()}
    ticks = {"last": 0.0, "max_gap": 0.0, "count": 0}
    clock = time.perf_counter

    def tick() -> None:
        now = clock()
        gap = now - ticks["last"]
        if gap > ticks["max_gap"]:
            ticks["max_gap"] = gap
        ticks["last"] = now
        ticks["count"] += 1

    loop = LoopingCall(tick)
    client: Any = None
    started = 0.0

    def start() -> None:
        nonlocal client, started
        if not memory:
            ticks["last"] = clock()
            loop.start(TICK, now=False)
        else:
            tracemalloc.start()
        started = clock()
        client = TwistedLDClient("sdk-key", config, reactor=reactor)
        client.wait_for_initialization(timeout=INIT_TIMEOUT).addCallbacks(initialized, failed)

    def initialized(_: Any) -> Any:
        done = clock()
        if memory:
            current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            out.update(peak_bytes=peak, retained_bytes=current)
        else:
            tick()  # the gap up to this moment counts too
            loop.stop()
            out.update(seconds=done - started, max_stall_seconds=ticks["max_gap"], ticks=ticks["count"])
            out["answer"] = _state(_fired(client.all_flags_state(ctx, with_reasons=True)))
            out["samples"] = {key: _fired(client.variation(key, ctx, "default")) for key in SAMPLE_KEYS}
        return client.close().addBoth(lambda _: reactor.stop())

    def failed(failure: Any) -> None:
        out["error"] = failure.getErrorMessage()
        if loop.running:
            loop.stop()
        reactor.stop()

    reactor.callWhenRunning(start)
    reactor.run(installSignalHandlers=False)
    return out


def _fired(d: Any) -> Any:
    box: List[Any] = []
    d.addBoth(box.append)
    assert box, "the Deferred has not fired"
    if hasattr(box[0], "raiseException"):
        box[0].raiseException()
    return box[0]


def worker_official(uri: str, memory: bool) -> Dict[str, Any]:
    """The official client: its constructor returns once the put is stored (or start_wait passed)."""
    import tracemalloc

    import ldclient.client
    import ldclient.config
    import ldclient.context

    config = ldclient.config.Config("sdk-key", stream_uri=uri, send_events=False)
    ctx = ldclient.context.Context.from_dict(dict(S.USER))
    out: Dict[str, Any] = {"sdk": "official"}
    if memory:
        tracemalloc.start()
    started = time.perf_counter()
    client = ldclient.client.LDClient(config=config, start_wait=INIT_TIMEOUT)
    done = time.perf_counter()
    try:
        if memory:
            current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            out.update(peak_bytes=peak, retained_bytes=current)
        if not client.is_initialized():
            out["error"] = "not initialized within %s s" % INIT_TIMEOUT
        elif not memory:
            out["seconds"] = done - started
            out["answer"] = _state(client.all_flags_state(ctx, with_reasons=True))
            out["samples"] = {key: client.variation(key, ctx, "default") for key in SAMPLE_KEYS}
    finally:
        client.close()
    return out


def run_worker(sdk: str, uri: str, memory: bool) -> Dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", sdk, "--uri", uri] + (["--memory"] if memory else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit("the %s %s worker failed (exit %d)" % (sdk, "memory" if memory else "timing", proc.returncode))
    result = json.loads(proc.stdout)
    if "error" in result:
        raise SystemExit("the %s worker: %s" % (sdk, result["error"]))
    return result


# -- measuring and reporting ---------------------------------------------------------------------

def differences(a: Dict[str, Any], b: Dict[str, Any], limit: int = 5) -> List[str]:
    """Up to ``limit`` flag keys whose all_flags_state entries differ between two answers."""
    keys = set(a.get("$flagsState", {})) | set(b.get("$flagsState", {}))
    keys |= {k for k in set(a) | set(b) if not k.startswith("$")}
    diff = sorted(k for k in keys if a.get(k) != b.get(k)
                  or a.get("$flagsState", {}).get(k) != b.get("$flagsState", {}).get(k))
    if a.get("$valid") != b.get("$valid"):
        diff.insert(0, "$valid")
    return diff[:limit]


def measure(count: int, repeat: int, log: Any = None) -> Dict[str, Any]:
    """Serve a ``count``-flag put; time both SDKs ``repeat`` times each, then measure memory once each.

    Raises SystemExit if an SDK fails or the SDKs end with different data.
    """
    say = log or (lambda message: None)
    body = put_event(count)
    runs: Dict[str, List[Dict[str, Any]]] = {"ldfast": [], "official": []}
    memory: Dict[str, Dict[str, Any]] = {}
    with PutServer(body) as server:
        for i in range(repeat):
            for sdk in ("ldfast", "official"):  # alternate, so drift on a shared machine hits both alike
                say("timed run %d/%d: %s" % (i + 1, repeat, sdk))
                runs[sdk].append(run_worker(sdk, server.uri, memory=False))
        for sdk in ("ldfast", "official"):
            say("memory run: %s" % sdk)
            memory[sdk] = run_worker(sdk, server.uri, memory=True)
        requests = server.requests

    reference = runs["official"][0]
    for sdk, results in runs.items():
        for n, result in enumerate(results):
            if result["answer"] != reference["answer"] or result["samples"] != reference["samples"]:
                raise SystemExit("%s (timed run %d) ends with different data than the official SDK; flags: %s"
                                 % (sdk, n + 1, ", ".join(differences(result["answer"], reference["answer"]))))
    flags_state = reference["answer"].get("$flagsState", {})
    if len(flags_state) != count:
        raise SystemExit("expected %d flags after the put, got %d" % (count, len(flags_state)))

    summary: Dict[str, Any] = {"flags": count, "put_bytes": len(body), "repeat": repeat,
                               "stream_connections": requests, "same_data": True,
                               "sample_values": reference["samples"]}
    for sdk, results in runs.items():
        times = [r["seconds"] * 1000 for r in results]
        entry: Dict[str, Any] = {"time_to_initialized_ms": min(times), "times_ms": times,
                                 "peak_memory_mb": memory[sdk]["peak_bytes"] / 1e6,
                                 "retained_memory_mb": memory[sdk]["retained_bytes"] / 1e6}
        if sdk == "ldfast":
            stalls = [r["max_stall_seconds"] * 1000 for r in results]
            entry.update(longest_reactor_stall_ms=max(stalls), stalls_ms=stalls,
                         ticks=[r["ticks"] for r in results], extensions=results[0]["extensions"])
        summary[sdk] = entry
    return summary


def judge(summary: Dict[str, Any]) -> List[Dict[str, Any]]:
    fast, official = summary["ldfast"], summary["official"]
    ratio = official["time_to_initialized_ms"] / fast["time_to_initialized_ms"]
    return [
        {"id": "reactor_stall", "line": "longest reactor stall <= %g ms" % STALL_LIMIT_MS,
         "met": fast["longest_reactor_stall_ms"] <= STALL_LIMIT_MS,
         "detail": "%.1f ms (max over %d runs)" % (fast["longest_reactor_stall_ms"], summary["repeat"])},
        {"id": "speed", "line": "ldfast >= %gx faster than official" % SPEED_RATIO, "met": ratio >= SPEED_RATIO,
         "ratio": ratio, "detail": "%.2fx" % ratio},
        {"id": "memory", "line": "ldfast peak memory <= official",
         "met": fast["peak_memory_mb"] <= official["peak_memory_mb"],
         "detail": "%.1f MB vs %.1f MB" % (fast["peak_memory_mb"], official["peak_memory_mb"])},
    ]


def table(summary: Dict[str, Any]) -> List[str]:
    fast, official = summary["ldfast"], summary["official"]
    headers = ["SDK", "time to initialized (ms)", "peak memory (MB)", "longest reactor stall (ms)"]
    label = "ldfast (%s)" % ("compiled" if fast["extensions"] else "pure")
    rows = [[label, "%.0f" % fast["time_to_initialized_ms"], "%.1f" % fast["peak_memory_mb"],
             "%.1f" % fast["longest_reactor_stall_ms"]],
            ["official %s" % S.versions()["launchdarkly-server-sdk"], "%.0f" % official["time_to_initialized_ms"],
             "%.1f" % official["peak_memory_mb"], "n/a (own thread)"]]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: List[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    return [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows]


# -- profiling (ldfast only) ---------------------------------------------------------------------

def profile(count: int, top: int) -> None:
    """Where ldfast's time goes on one put, without the network: phase timings, then cProfile.

    Phases, run back to back in this process with GC on as in the client: the SSE parse of the
    event, the whole ``put_items`` walk (JSON decode + preprocessing, as the data source's slices
    run it), the JSON decode alone (``put_items`` with identity parsers), the store swap
    (``init_preprocessed``), and full GC passes over the stored data set.
    """
    import cProfile
    import gc
    import pstats

    from ldfast.datasource._payload import put_items
    from ldfast.datasource.sse import SSEParser
    from ldfast.feature_store import InMemoryFeatureStore
    from ldfast.model import parse_flag, parse_segment

    body = put_event(count)
    clock = time.perf_counter

    def sse() -> str:
        parser = SSEParser()
        events = []
        for i in range(0, len(body), 65536):
            events.extend(parser.feed(body[i:i + 65536]))
        return events[0].data

    def walk(data: str, pf: Any, ps: Any) -> tuple:
        flags: Dict[str, Any] = {}
        segments: Dict[str, Any] = {}
        steps = 0
        for _ in put_items(data, flags, segments, pf, ps):
            steps += 1
        return flags, segments, steps

    t = clock()
    data = sse()
    sse_s = clock() - t
    t = clock()
    walk(data, lambda x: x, lambda x: x)
    decode_s = clock() - t
    gc.collect()
    collections = [s["collections"] for s in gc.get_stats()]
    t = clock()
    flags, segments, steps = walk(data, parse_flag, parse_segment)
    full_s = clock() - t
    gc_during = [s["collections"] - c for s, c in zip(gc.get_stats(), collections)]
    store = InMemoryFeatureStore()
    t = clock()
    store.init_preprocessed(flags, segments)
    swap_s = clock() - t
    del flags, segments
    t = clock()
    gc.collect()
    gc_s = clock() - t
    print("ldfast put of %d flags (%.1f MB), extensions %s" % (count, len(body) / 1e6,
                                                                "enabled" if _extensions() else "disabled"))
    print("  SSE parse (64 KB chunks):        %7.1f ms" % (sse_s * 1000))
    print("  put_items decode only:           %7.1f ms" % (decode_s * 1000))
    print("  put_items decode + preprocess:   %7.1f ms  (%d steps; preprocessing ~%.1f ms)"
          % (full_s * 1000, steps, (full_s - decode_s) * 1000))
    print("    GC collections during it (gen 0/1/2): %s" % gc_during)
    print("  store.init_preprocessed (swap):  %7.1f ms" % (swap_s * 1000))
    print("  one full gc.collect() after:     %7.1f ms" % (gc_s * 1000))
    print()
    profiler = cProfile.Profile()
    profiler.enable()
    walk(data, parse_flag, parse_segment)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def _extensions() -> bool:
    import ldfast

    return bool(ldfast.extensions_enabled())


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, default=FLAG_COUNT, help="flags in the put (default %d)" % FLAG_COUNT)
    parser.add_argument("--repeat", type=int, default=REPEAT, help="timed runs per SDK (default %d)" % REPEAT)
    parser.add_argument("--output", default=RESULTS, help="JSON results file (default bench/results/put.json)")
    parser.add_argument("--profile", action="store_true", help="profile one ldfast put instead (no network)")
    parser.add_argument("--worker", choices=("ldfast", "official"), help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    S.quiet_logs()

    if args.worker:
        logging.basicConfig(level=logging.WARNING)
        work = worker_ldfast if args.worker == "ldfast" else worker_official
        json.dump(work(args.uri, args.memory), sys.stdout)
        return 0
    if args.profile:
        profile(args.flags, 25)
        return 0

    started = time.perf_counter()
    summary = measure(args.flags, args.repeat, log=lambda m: print("  " + m, file=sys.stderr, flush=True))
    targets = judge(summary)
    elapsed = round(time.perf_counter() - started, 1)

    from compare import machine, shown

    info = machine()
    print("machine:  %s | %s | %s CPUs" % (info["platform"], info["cpu"], info["cpus"]))
    print("python:   %s" % info["python"])
    print("put:      %d flags, %.1f MB (scenarios.all_flags_data), from a local twisted.web SSE server"
          % (summary["flags"], summary["put_bytes"] / 1e6))
    print("method:   each run in a fresh process; best of %d timed runs per SDK (stall: max over them); "
          "peak memory from one tracemalloc run per SDK; both SDKs end with equal all_flags_state"
          % summary["repeat"])
    print()
    for row in table(summary):
        print(row)
    print()
    for target in targets:
        print("%s: %s (%s)" % (target["line"], "MET" if target["met"] else "NOT MET", target["detail"]))
    print()
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump({
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": info,
            "versions": S.versions(),
            "method": {"repeat": summary["repeat"], "statistic": "best time; max stall", "tick_seconds": TICK,
                       "memory": "tracemalloc peak from client start to initialized, separate run"},
            "results": summary,
            "targets": targets,
            "elapsed_seconds": elapsed,
        }, f, indent=2)
        f.write("\n")
    print("results:  %s" % shown(args.output))
    print("elapsed:  %.1f s" % elapsed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
