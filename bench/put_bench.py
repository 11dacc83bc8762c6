"""Storing a large streaming ``put``: ldfast's TwistedLDClient against the official SDK (``make bench``).

A local twisted.web SSE server (a private reactor in a thread of this process) serves one
``event: put`` holding ``scenarios.all_flags_data(5000)`` (mixed shapes, a third of them
rule-heavy; about 17 MB of JSON), then keeps the stream open. Every measurement runs in a fresh
subprocess, so no SDK shares a process, a reactor or a heap with the server or with the other SDK:

- ldfast: a ``TwistedLDClient`` on the worker's reactor, where a ``LoopingCall`` ticks every 1 ms
  and records the longest gap between ticks from the client's start until every flag is parsed
  (the reactor stall; ``stall_ends_ms`` says when, after the start, each run's longest gap ended;
  the garbage collector's pauses are timed too, and the longest gap not counting them is reported);
  the wall time from start to initialized (``wait_for_initialization`` fires: the first put is
  stored, its flags as placeholders that evaluations parse on first use), and to every flag
  parsed (the background parse done: ``all_flags_state`` fires, it waits for that).
- official: ``ldclient.client.LDClient(config=Config('sdk-key', stream_uri=..., send_events=False),
  start_wait=60)``: the wall time of the constructor, which returns once initialized. Its put is
  processed on its own thread, so it has no reactor stall to report.

Each worker settles before its SDK starts: one full garbage collection after its imports, as a
server that has finished starting up. A fresh process's first full collection of its import-time
objects (~50,000 objects, 10-19 ms on a small VM) otherwise comes due within the put's first few
hundred thousand allocations and lands in the window, whatever the put's own share of the heap.
The judged stall is from settled runs; ``--repeat`` more ldfast runs in unsettled processes are
reported beside it (``results.ldfast.fresh``), with the full collections counted in each window.

Timed runs alternate between the SDKs, ``--repeat`` times each (best time, longest stall over the
runs). Peak Python memory is measured in separate runs (tracemalloc slows allocation, so it is never
on in a timed run): ``tracemalloc.start()`` just before the client starts, the traced peak once it is
initialized (ldfast: once every flag is parsed; the memory still held then is recorded as ``retained``). Each timed run finally
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
import time
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

RESULTS = os.path.join(HERE, "results", "put.json")
FLAG_COUNT = 5000
REPEAT = 3
# Issue 15's targets for the put:
STALL_LIMIT_MS = 10.0  # longest reactor stall while ldfast stores the put
SPEED_RATIO = 10.0  # ldfast time to initialized vs the official SDK's
MEMORY_SHARE = 0.5  # ldfast's peak memory growth vs the official SDK's
TICK = 0.001  # the LoopingCall's interval, seconds
INIT_TIMEOUT = 60.0
WORKER_TIMEOUT = 120.0
# Flags evaluated with variation() too (all_flags_state covers every flag); see scenarios.all_flags_data.
SAMPLE_KEYS = ("simple-flag", "heavy-flag", "prereq-flag", "string-01", "json-02", "heavy-match-03",
               "heavy-rollout-04", "targeted-05", "json-08")


# -- the put and its server ----------------------------------------------------------------------

def put_event(count: int) -> bytes:
    """The stream's ``put`` event for ``count`` flags of ``scenarios.all_flags_data`` and its segment."""
    import scenarios as S

    flags, segments = S.all_flags_data(count)
    assert len(flags) == count and all(key in flags for key in SAMPLE_KEYS)
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


def _settle(settled: bool) -> None:
    """A settled worker (the default) runs one full collection after its imports, before its SDK
    starts: a server that has finished starting up. Otherwise the process's first full collection of
    its import-time objects (~50,000 objects for Twisted, treq and ldfast; 10-19 ms here) comes due
    within the put's first few hundred thousand allocations, whatever those are for."""
    if settled:
        import gc

        gc.collect()


def worker_ldfast(uri: str, context: Dict[str, Any], memory: bool, settled: bool = True) -> Dict[str, Any]:
    """A TwistedLDClient on this process's reactor, with a 1 ms LoopingCall measuring stalls."""
    import tracemalloc

    from twisted.internet import reactor
    from twisted.internet.task import LoopingCall

    import ldfast
    from ldfast.twisted import TwistedLDClient

    config = ldfast.Config("sdk-key", stream_uri=uri, send_events=False)
    ctx = ldfast.Context.from_dict(context)
    out: Dict[str, Any] = {"sdk": "ldfast", "extensions": ldfast.extensions_enabled(), "settled": settled}
    _settle(settled)
    ticks = {"last": 0.0, "max_gap": 0.0, "max_gap_end": 0.0, "max_outside_gc": 0.0, "count": 0}
    clock = time.perf_counter
    collections = _GCTimer()  # the collector's pauses, so each gap's share of them is known

    def tick() -> None:
        now = clock()
        gap = now - ticks["last"]
        if gap > ticks["max_gap"]:
            ticks["max_gap"] = gap
            ticks["max_gap_end"] = now
        ticks["max_outside_gc"] = max(ticks["max_outside_gc"], gap - collections.take())
        ticks["last"] = now
        ticks["count"] += 1

    loop = LoopingCall(tick)
    client: Any = None
    started = 0.0

    def start() -> None:
        nonlocal client, started
        if not memory:
            ticks["last"] = clock()
            collections.take()
            loop.start(TICK, now=False)
        else:
            tracemalloc.start()
        started = clock()
        client = TwistedLDClient("sdk-key", config, reactor=reactor)
        client.wait_for_initialization(timeout=INIT_TIMEOUT).addCallback(initialized).addErrback(failed)

    def initialized(_: Any) -> Any:
        out["seconds"] = clock() - started
        # all_flags_state waits for the flags still held as text to be parsed (in the background)
        return client.all_flags_state(ctx, with_reasons=True).addCallback(parsed)

    def parsed(state: Any) -> Any:
        done = clock()
        if memory:
            current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            out.update(peak_bytes=peak, retained_bytes=current)
        else:
            tick()  # the gap up to this moment counts too
            loop.stop()
            out.update(parsed_seconds=done - started, max_stall_seconds=ticks["max_gap"], ticks=ticks["count"],
                       max_stall_end_seconds=ticks["max_gap_end"] - started,
                       max_stall_outside_gc_seconds=ticks["max_outside_gc"],
                       max_gc_pause_seconds=collections.longest(),
                       full_collections=sum(1 for generation, _ in collections.pauses if generation == 2))
            out["answer"] = _state(state)
            out["samples"] = {key: _fired(client.variation(key, ctx, "default")) for key in SAMPLE_KEYS}
            import gc

            collect_start = clock()  # (after the measurement: what one full collection costs this process now)
            gc.collect()
            out["full_gc_after_seconds"] = clock() - collect_start
        return client.close().addBoth(lambda _: reactor.stop())

    def failed(failure: Any) -> None:
        out["error"] = "%s: %s" % (failure.type.__name__, failure.getErrorMessage())
        if loop.running:
            loop.stop()
        reactor.stop()

    reactor.callWhenRunning(start)
    with collections:
        reactor.run(installSignalHandlers=False)
    return out


def _fired(d: Any) -> Any:
    box: List[Any] = []
    d.addBoth(box.append)
    assert box, "the Deferred has not fired"
    if hasattr(box[0], "raiseException"):
        box[0].raiseException()
    return box[0]


def worker_official(uri: str, context: Dict[str, Any], memory: bool, settled: bool = True) -> Dict[str, Any]:
    """The official client: its constructor returns once the put is stored (or start_wait passed)."""
    import tracemalloc

    import ldclient.client
    import ldclient.config
    import ldclient.context
    import ldclient.version

    config = ldclient.config.Config("sdk-key", stream_uri=uri, send_events=False)
    ctx = ldclient.context.Context.from_dict(context)
    out: Dict[str, Any] = {"sdk": "official", "version": ldclient.version.VERSION, "settled": settled}
    _settle(settled)
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


def run_worker(sdk: str, uri: str, memory: bool, settled: bool = True) -> Dict[str, Any]:
    """One measurement in a fresh process, which imports only its own SDK (not scenarios, nor the other SDK)."""
    import scenarios as S

    cmd = [sys.executable, os.path.abspath(__file__), "--worker", sdk, "--uri", uri, "--context", json.dumps(S.USER)]
    if memory:
        cmd.append("--memory")
    if not settled:
        cmd.append("--fresh")
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
    runs: Dict[str, List[Dict[str, Any]]] = {"ldfast": [], "official": [], "fresh": []}
    memory: Dict[str, Dict[str, Any]] = {}
    with PutServer(body) as server:
        for i in range(repeat):
            for sdk in ("ldfast", "official"):  # alternate, so drift on a shared machine hits both alike
                say("timed run %d/%d: %s" % (i + 1, repeat, sdk))
                runs[sdk].append(run_worker(sdk, server.uri, memory=False))
        for i in range(repeat):  # reported, not judged: the process's first full collection may fall in the window
            say("timed run %d/%d: ldfast, fresh process (not settled)" % (i + 1, repeat))
            runs["fresh"].append(run_worker("ldfast", server.uri, memory=False, settled=False))
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
    for sdk in ("ldfast", "official"):
        results = runs[sdk]
        times = [r["seconds"] * 1000 for r in results]
        entry: Dict[str, Any] = {"time_to_initialized_ms": min(times), "times_ms": times,
                                 "peak_memory_mb": memory[sdk]["peak_bytes"] / 1e6,
                                 "retained_memory_mb": memory[sdk]["retained_bytes"] / 1e6}
        if sdk == "official":
            entry["version"] = results[0]["version"]
        else:
            entry["all_parsed_ms"] = min(r["parsed_seconds"] * 1000 for r in results)
            entry["all_parsed_times_ms"] = [r["parsed_seconds"] * 1000 for r in results]
            stalls = [r["max_stall_seconds"] * 1000 for r in results]
            entry.update(longest_reactor_stall_ms=max(stalls), stalls_ms=stalls,
                         stall_ends_ms=[r["max_stall_end_seconds"] * 1000 for r in results],
                         longest_stall_outside_gc_ms=max(r["max_stall_outside_gc_seconds"] * 1000 for r in results),
                         longest_gc_pause_ms=max(r["max_gc_pause_seconds"] * 1000 for r in results),
                         full_gc_after_ms=[r["full_gc_after_seconds"] * 1000 for r in results],
                         full_collections=[r["full_collections"] for r in results],
                         ticks=[r["ticks"] for r in results], extensions=results[0]["extensions"])
        summary[sdk] = entry
    fresh = runs["fresh"]
    summary["ldfast"]["fresh"] = {
        "stalls_ms": [r["max_stall_seconds"] * 1000 for r in fresh],
        "stalls_outside_gc_ms": [r["max_stall_outside_gc_seconds"] * 1000 for r in fresh],
        "longest_gc_pause_ms": max(r["max_gc_pause_seconds"] * 1000 for r in fresh),
        "full_collections": [r["full_collections"] for r in fresh],
        "times_ms": [r["seconds"] * 1000 for r in fresh]}
    return summary


def judge(summary: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Issue 15's targets for a 5,000-flag put, on this run's numbers."""
    fast, official = summary["ldfast"], summary["official"]
    ratio = official["time_to_initialized_ms"] / fast["time_to_initialized_ms"]
    return [
        {"id": "reactor_stall", "line": "longest reactor stall <= %g ms" % STALL_LIMIT_MS,
         "met": fast["longest_reactor_stall_ms"] <= STALL_LIMIT_MS,
         "detail": "%.1f ms (max over %d settled runs, full collections in them: %s); longest garbage collection in "
                   "the runs %.1f ms; longest stall not counting the collector's pauses %.1f ms; one full collection "
                   "after the runs %s ms. Fresh processes (not judged): stalls %s ms, full collections in them %s, "
                   "longest collection %.1f ms"
                   % (fast["longest_reactor_stall_ms"], summary["repeat"],
                      "/".join(map(str, fast["full_collections"])), fast["longest_gc_pause_ms"],
                      fast["longest_stall_outside_gc_ms"], "/".join("%.1f" % t for t in fast["full_gc_after_ms"]),
                      "/".join("%.1f" % t for t in fast["fresh"]["stalls_ms"]),
                      "/".join(map(str, fast["fresh"]["full_collections"])), fast["fresh"]["longest_gc_pause_ms"])},
        {"id": "speed", "line": "ldfast >= %gx sooner to initialized than official" % SPEED_RATIO,
         "met": ratio >= SPEED_RATIO, "ratio": ratio, "detail": "%.2fx" % ratio},
        {"id": "all_parsed", "line": "ldfast's every flag parsed sooner than official initialized",
         "met": fast["all_parsed_ms"] < official["time_to_initialized_ms"],
         "detail": "%.0f ms vs %.0f ms" % (fast["all_parsed_ms"], official["time_to_initialized_ms"])},
        {"id": "memory", "line": "ldfast peak memory <= %g of official's" % MEMORY_SHARE,
         "met": fast["peak_memory_mb"] <= MEMORY_SHARE * official["peak_memory_mb"],
         "detail": "%.1f MB vs %.1f MB" % (fast["peak_memory_mb"], official["peak_memory_mb"])},
    ]


def table(summary: Dict[str, Any]) -> List[str]:
    fast, official = summary["ldfast"], summary["official"]
    headers = ["SDK", "time to initialized (ms)", "every flag parsed (ms)", "peak memory (MB)",
               "longest reactor stall (ms)"]
    label = "ldfast (%s)" % ("compiled" if fast["extensions"] else "pure")
    rows = [[label, "%.0f" % fast["time_to_initialized_ms"], "%.0f" % fast["all_parsed_ms"],
             "%.1f" % fast["peak_memory_mb"], "%.1f" % fast["longest_reactor_stall_ms"]],
            ["official %s" % summary["official"]["version"], "%.0f" % official["time_to_initialized_ms"],
             "%.0f (at init)" % official["time_to_initialized_ms"], "%.1f" % official["peak_memory_mb"],
             "n/a (own thread)"]]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: List[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    return [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows]


# -- profiling (ldfast only) ---------------------------------------------------------------------

class _GCTimer:
    """Times every garbage collection (``gc.callbacks``) while in use."""

    def __init__(self) -> None:
        self.pauses: List[tuple] = []  # (generation, seconds)
        self._start = 0.0
        self._since_take = 0.0

    def _callback(self, phase: str, info: Dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            pause = time.perf_counter() - self._start
            self.pauses.append((info["generation"], pause))
            self._since_take += pause

    def take(self) -> float:
        """Seconds spent collecting since the last call."""
        spent, self._since_take = self._since_take, 0.0
        return spent

    def longest(self) -> float:
        return max((p[1] for p in self.pauses), default=0.0)

    def __enter__(self) -> "_GCTimer":
        import gc

        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: Any) -> None:
        import gc

        gc.callbacks.remove(self._callback)

    def summary(self) -> str:
        if not self.pauses:
            return "no collections"
        by_gen = [sum(1 for g, _ in self.pauses if g == gen) for gen in range(3)]
        longest = max(self.pauses, key=lambda p: p[1])
        return ("%d collections (gen 0/1/2: %s), %.1f ms in all, longest %.1f ms (gen %d)"
                % (len(self.pauses), "/".join(map(str, by_gen)), sum(p[1] for p in self.pauses) * 1000,
                   longest[1] * 1000, longest[0]))


def profile(count: int, top: int, out: Any = None) -> Dict[str, float]:
    """Where ldfast's time goes on one put, in this process, without the network; returns the phases (ms).

    As the data source runs them: the SSE parse of the event (64 KB chunks), the ``put_items`` walk
    (JSON decode of each item + its preprocessing, one step per item, as the Cooperator slices run
    it) with the cyclic GC on (the client's default; twice: the first walk grows the heap, and its
    minor page faults are counted, ~2 us each on a small VM) and off (what ``freeze_gc`` would
    give), the JSON decode alone (identity parsers, GC off), the store swap (``init_preprocessed``), and one
    full collection over the stored data. Then cProfile of the walk (GC off); with the compiled
    twins the model's parsers are opaque to it (run with LDFAST_NO_EXTENSIONS=1 to see inside).
    """
    import cProfile
    import gc
    import io
    import pstats
    import resource

    import ldfast
    from ldfast.datasource._payload import put_items
    from ldfast.datasource.sse import SSEParser
    from ldfast.feature_store import InMemoryFeatureStore
    from ldfast.model import parse_flag, parse_segment

    out = out or sys.stdout
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
        longest = 0.0
        steps = put_items(data, flags, segments, pf, ps, keep_text=pf is parse_flag)  # as the client
        while True:
            t = clock()
            try:
                next(steps)
            except StopIteration:
                break
            finally:
                longest = max(longest, clock() - t)
        return flags, segments, longest

    def identity(item: Any) -> Any:
        return item

    ms: Dict[str, float] = {}
    gc_on: Optional[_GCTimer] = None
    was_enabled = gc.isenabled()
    try:
        gc.enable()
        t = clock()
        data = sse()
        ms["sse_parse"] = (clock() - t) * 1000
        gc.collect()
        # The first walk grows the heap, as the client's put does in its process (each new page
        # of memory costs a page fault); the second reuses the memory the first one freed.
        for name in ("walk_gc_on", "walk_gc_on_again"):
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            with _GCTimer() as timer:
                t = clock()
                walk(data, parse_flag, parse_segment)
                ms[name] = (clock() - t) * 1000
            ms[name + "_page_faults"] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
            gc_on = gc_on or timer
            gc.collect()
        gc.disable()
        t = clock()
        walk(data, identity, identity)
        ms["decode_gc_off"] = (clock() - t) * 1000
        gc.enable()
        gc.collect()
        gc.disable()
        t = clock()
        flags, segments, longest_step = walk(data, parse_flag, parse_segment)
        ms["walk_gc_off"] = (clock() - t) * 1000
        ms["longest_step_gc_off"] = longest_step * 1000
        store = InMemoryFeatureStore()
        t = clock()
        store.init_preprocessed(flags, segments)
        ms["store_swap"] = (clock() - t) * 1000
        del flags, segments
        gc.enable()
        t = clock()
        gc.collect()
        ms["full_collection"] = (clock() - t) * 1000
        with_data = len(gc.get_objects())
        del store
        gc.collect()
        ms["tracked_objects_stored"] = with_data - len(gc.get_objects())

        p = lambda *a: print(*a, file=out)  # noqa: E731
        p("ldfast put of %d flags (%.1f MB), extensions %s; one run each, in this process"
          % (count, len(body) / 1e6, "enabled" if ldfast.extensions_enabled() else "disabled"))
        p("  SSE parse of the event:               %7.1f ms" % ms["sse_parse"])
        p("  put_items, GC on (the client today):  %7.1f ms  GC: %s" % (ms["walk_gc_on"], gc_on.summary()))
        p("    page faults (a fresh heap):         %7d     (the same walk again: %.1f ms, %d page faults)"
          % (ms["walk_gc_on_page_faults"], ms["walk_gc_on_again"], ms["walk_gc_on_again_page_faults"]))
        p("  put_items, GC off:                    %7.1f ms  (longest step %.2f ms)"
          % (ms["walk_gc_off"], ms["longest_step_gc_off"]))
        p("    of which JSON decode (GC off):      %7.1f ms" % ms["decode_gc_off"])
        p("    of which preprocessing (GC off):    %7.1f ms" % (ms["walk_gc_off"] - ms["decode_gc_off"]))
        p("  store.init_preprocessed (the swap):   %7.1f ms  (one reactor callback)" % ms["store_swap"])
        p("  one full gc.collect() afterwards:     %7.1f ms  (what a gen-2 pass costs, the data stored)"
          % ms["full_collection"])
        p("  GC-tracked objects the stored data adds: %d" % ms["tracked_objects_stored"])
        p("")
        gc.disable()
        profiler = cProfile.Profile()
        profiler.enable()
        walk(data, parse_flag, parse_segment)
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
        p("cProfile of put_items, GC off (tottime):" + text.getvalue().split("\n", 1)[1].rstrip())
    finally:
        if was_enabled:
            gc.enable()
    return ms


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, default=FLAG_COUNT, help="flags in the put (default %d)" % FLAG_COUNT)
    parser.add_argument("--repeat", type=int, default=REPEAT, help="timed runs per SDK (default %d)" % REPEAT)
    parser.add_argument("--output", default=RESULTS, help="JSON results file (default bench/results/put.json)")
    parser.add_argument("--profile", action="store_true",
                        help="instead: where ldfast's time goes on one put, in this process (no network)")
    parser.add_argument("--worker", choices=("ldfast", "official"), help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fresh", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--context", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:  # the SDKs' informational start-up logs stay out of the measurement
        logging.basicConfig(level=logging.WARNING)
        work = worker_ldfast if args.worker == "ldfast" else worker_official
        json.dump(work(args.uri, json.loads(args.context), args.memory, not args.fresh), sys.stdout)
        return 0
    if args.profile:
        profile(args.flags, 20)
        return 0

    import scenarios as S
    from compare import machine, shown

    started = time.perf_counter()
    info = machine()
    versions = S.versions()
    print("machine:  %s | %s | %s CPUs" % (info["platform"], info["cpu"], info["cpus"]))
    print("python:   %s" % info["python"])
    print("ldfast:   %s, extensions %s; official: launchdarkly-server-sdk %s"
          % (versions["ldfast"], "enabled" if versions["ldfast_extensions"] else "disabled (pure)",
             versions["launchdarkly-server-sdk"]), flush=True)
    summary = measure(args.flags, args.repeat, log=lambda m: print("  " + m, flush=True))
    targets = judge(summary)
    elapsed = round(time.perf_counter() - started, 1)

    print("put:      %d flags, %.1f MB (scenarios.all_flags_data), from a local twisted.web SSE server"
          % (summary["flags"], summary["put_bytes"] / 1e6))
    print("method:   each run in a fresh process, settled (one full collection after its imports, before the "
          "SDK starts); best of %d timed runs per SDK (stall: max over them); %d more ldfast runs not settled "
          "(their stalls reported, not judged); peak memory from one tracemalloc run per SDK; every run ends "
          "with the official SDK's all_flags_state" % (summary["repeat"], summary["repeat"]))
    print()
    for row in table(summary):
        print(row)
    print()
    for target in targets:
        print("%s: %s (%s)" % (target["line"], "MET" if target["met"] else "NOT MET", target["detail"]))
    fast, official = summary["ldfast"], summary["official"]
    print("every flag parsed (the background parse done) vs the official SDK initialized: %.2fx faster"
          % (official["time_to_initialized_ms"] / fast["all_parsed_ms"]))
    print()
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump({
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": info,
            "versions": versions,
            "method": {"repeat": summary["repeat"], "statistic": "best time; longest stall over the runs",
                       "tick_seconds": TICK, "unit": "ms; MB = 10^6 bytes",
                       "memory": "tracemalloc peak from client start to initialized, in a separate run",
                       "settled": "one gc.collect() after the worker's imports, before the SDK starts; "
                                  "results.ldfast.fresh: runs without it (not judged)"},
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
