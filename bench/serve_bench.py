"""Serving benchmark: a twisted.web app evaluating 10 flags per request, under wrk.

Three apps, each in its own subprocess (single process, default reactor, 127.0.0.1, a free port):

- ldfast:   ``ldfast.twisted.TwistedLDClient``; the handler gathers the 10 ``variation`` Deferreds
            with ``defer.gatherResults`` and finishes the request from the callback.
- official: ``ldclient.client.LDClient`` (launchdarkly-server-sdk); 10 sync ``variation`` calls in
            the handler.
- baseline: the same handler (builds the user, answers JSON) with no flag evaluation at all: it answers
            the same JSON object the SDK apps answer, its values constants (the SDK apps' answer for
            u=00000, fetched by the driver before the baseline starts), so the body to encode and send is
            the same and the difference is the SDK's.

Both SDKs get the same data (``scenarios.all_flags_data(60)``, 10 keys incl. rule-heavy ones)
through an in-memory update processor, and analytics events are ON, posted to a local capture
server (a tiny twisted.web app in its own subprocess answering 202 to everything).

The user comes from ``?u=NNNNN`` -> key ``user-NNNNN`` with the other attributes of
``scenarios.USER``; wrk's Lua script draws u from 1000 distinct values (00000..00999, so the first
100 also hit the targeted flags' target lists).

Before loading, both SDK apps are fetched for a few users and must answer the same values.

Each app is loaded ``--rounds`` times (default 3), the apps taking turns, and the median round is
reported: on a shared machine a load change then hits every app alike.

Run:  .venv/bin/python bench/serve_bench.py [--duration 10] [--connections 32] [--threads 1] [--rounds 3]
Writes bench/results/serve.json.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, Callable, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

RESULTS = os.path.join(HERE, "results", "serve.json")
FLAG_COUNT = 60
KEYS = [
    "simple-flag", "heavy-flag", "prereq-flag", "bool-00", "string-01", "json-02",
    "heavy-match-03", "heavy-rollout-04", "targeted-05", "heavy-match-09",
]
DISTINCT_USERS = 1000
APPS = ("baseline", "ldfast", "official")

LUA = """
math.randomseed(os.time())
request = function()
  return wrk.format(nil, string.format("/?u=%%05d", math.random(0, %d)))
end
""" % (DISTINCT_USERS - 1)


# -- subprocess side: capture server and apps -----------------------------------------------

def _user(request: Any) -> Dict[str, Any]:
    import scenarios

    raw = request.args.get(b"u", [b"0"])[0].decode("ascii", "replace")
    return dict(scenarios.USER, key="user-" + raw)


def run_capture(extra: Optional[Dict[bytes, Any]] = None) -> None:
    """The capture server; ``extra``: more resources by first path segment (GET only)."""
    from twisted.internet import reactor
    from twisted.web import resource, server

    stats = {"posts": 0, "bytes": 0, "events": 0, "paths": {}}

    class Capture(resource.Resource):
        isLeaf = True

        def render_POST(self, request: Any) -> bytes:
            body = request.content.read()
            stats["posts"] += 1
            stats["bytes"] += len(body)
            path = request.path.decode()
            entry = stats["paths"].setdefault(path, {"posts": 0, "events": 0})
            entry["posts"] += 1
            try:
                payload = json.loads(body)
                n = len(payload) if isinstance(payload, list) else 1
            except ValueError:
                n = 0
            stats["events"] += n
            entry["events"] += n
            request.setResponseCode(202)
            return b""

        def render_GET(self, request: Any) -> Any:
            found = (extra or {}).get(request.path.lstrip(b"/").split(b"/")[0])
            if found is not None:
                return found.render(request)
            request.setHeader(b"content-type", b"application/json")
            return json.dumps(stats).encode()

    port = reactor.listenTCP(0, server.Site(Capture()), interface="127.0.0.1")
    print("PORT %d" % port.getHost().port, flush=True)
    reactor.run()


def run_app(kind: str, events_uri: str, body: str = "{}") -> None:
    import logging

    from twisted.internet import defer, reactor
    from twisted.web import resource, server

    import scenarios

    scenarios.quiet_logs()
    logging.getLogger("twisted").setLevel(logging.WARNING)
    flags, segments = scenarios.all_flags_data(FLAG_COUNT)

    if kind == "ldfast":
        import ldfast
        from ldfast.twisted import TwistedLDClient

        cfg = ldfast.Config("sdk-key", events_uri=events_uri, update_processor_class=scenarios._source(
            scenarios.FAST_FEATURES, scenarios.FAST_SEGMENTS, flags, segments))
        client = TwistedLDClient(config=cfg)

        class App(resource.Resource):
            isLeaf = True

            def render_GET(self, request: Any) -> Any:
                user = _user(request)
                d = defer.gatherResults([client.variation(k, user, None) for k in KEYS])

                def done(values: List[Any]) -> None:
                    request.setHeader(b"content-type", b"application/json")
                    request.write(json.dumps(dict(zip(KEYS, values))).encode())
                    request.finish()

                d.addCallback(done)
                return server.NOT_DONE_YET

        ready = client.wait_for_initialization(5)
    elif kind == "official":
        import ldclient.client
        import ldclient.config
        from ldclient.context import Context

        cfg = ldclient.config.Config("sdk-key", events_uri=events_uri, update_processor_class=scenarios._source(
            scenarios.OFFICIAL_FEATURES, scenarios.OFFICIAL_SEGMENTS, flags, segments))
        client = ldclient.client.LDClient(config=cfg, start_wait=5)
        assert client.is_initialized(), "official client did not initialize"

        class App(resource.Resource):  # type: ignore[no-redef]
            isLeaf = True

            def render_GET(self, request: Any) -> bytes:
                ctx = Context.from_dict(_user(request))
                values = [client.variation(k, ctx, None) for k in KEYS]
                request.setHeader(b"content-type", b"application/json")
                return json.dumps(dict(zip(KEYS, values))).encode()

        ready = defer.succeed(None)
    else:
        constants = json.loads(body)  # what the app answers without an SDK: the same values, as constants

        class App(resource.Resource):  # type: ignore[no-redef]
            isLeaf = True

            def render_GET(self, request: Any) -> bytes:
                _user(request)
                request.setHeader(b"content-type", b"application/json")
                return json.dumps(dict(constants)).encode()

        ready = defer.succeed(None)

    site = server.Site(App())
    site.log = lambda request: None  # no access log: measure the app, not the log

    def listen(_: Any) -> None:
        port = reactor.listenTCP(0, site, interface="127.0.0.1", backlog=512)
        print("PORT %d" % port.getHost().port, flush=True)

    ready.addCallback(listen).addErrback(lambda f: (print("ERROR %s" % f.getErrorMessage(), flush=True),
                                                   reactor.stop()))
    reactor.run()


# -- driver ---------------------------------------------------------------------------------

class Child:
    def __init__(self, *args: str, script: str = __file__):
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(script), *args],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip() if self.proc.stdout else ""
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError("child %s did not start: %r" % (args, line))
        self.port = int(line.split()[1])
        self.url = "http://127.0.0.1:%d/" % self.port

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def fetch(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        raise ValueError("bad latency %r" % text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> Dict[str, Any]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s*50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.M)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:(.*)", out)
    if not (rps and p99 and p50):
        raise RuntimeError("could not parse wrk output:\n" + out)
    return {"req_per_s": float(rps.group(1)), "p50_ms": _ms(p50.group(1)), "p99_ms": _ms(p99.group(1)),
            "requests": int(total.group(1)) if total else None,
            "non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(1).strip() if errors else None}


def run_wrk(wrk: str, url: str, lua: str, args: argparse.Namespace) -> Dict[str, Any]:
    cmd = [wrk, "-t%d" % args.threads, "-c%d" % args.connections, "-d%ds" % args.duration, "--latency",
           "-s", lua, url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    result = parse_wrk(out)
    result["wrk_output"] = out
    return result


def start_apps(children: Dict[str, "Child"], start: Callable[..., "Child"]) -> None:
    """Start the apps into ``children`` with ``start(app, *more_args)``: the SDK apps first, then the
    no-SDK app given (``--body``) the ldfast app's answer for u=00000, to answer as constants: the
    same body to encode and send, so the difference in requests/s is the SDK's."""
    for app in APPS:
        if app != "baseline":
            children[app] = start(app)
    children["baseline"] = start("baseline", "--body", json.dumps(fetch(children["ldfast"].url + "?u=00000")))


def load(children: Dict[str, "Child"], capture_url: str, wrk: str, lua: str, args: argparse.Namespace) -> Any:
    """Check that both SDK apps answer the same, then load each app in turn (the others idle; each
    stopped after its last run), ``args.rounds`` times (default 1; the median round is kept);
    ``(samples, results, events captured)``, or None on a mismatch."""
    samples = {}
    for u in ("00000", "00042", "00123", "00999", "12345"):
        fast = fetch(children["ldfast"].url + "?u=" + u)
        official = fetch(children["official"].url + "?u=" + u)
        if fast != official:
            print("MISMATCH for u=%s:\n  ldfast:   %s\n  official: %s" % (u, fast, official), file=sys.stderr)
            return None
        samples[u] = fast
    print("same flag values from both SDKs for %d users, e.g. u=00042: %s" % (len(samples), samples["00042"]))
    rounds = max(1, getattr(args, "rounds", 1))
    runs: Dict[str, List[Dict[str, Any]]] = {app: [] for app in children}
    for r in range(rounds):  # (with several rounds the apps take turns, so a load change hits each)
        for app in list(children):
            runs[app].append(run_wrk(wrk, children[app].url, lua, args))
            if r == rounds - 1:
                children.pop(app).stop()
    results = {}
    for app, done in runs.items():  # the median round by req/s (with its own latencies)
        results[app] = sorted(done, key=lambda run: run["req_per_s"])[len(done) // 2]
        if rounds > 1:
            results[app]["rounds_req_per_s"] = [run["req_per_s"] for run in done]
    return samples, results, fetch(capture_url + "stats")


def print_per_round(results: Dict[str, Dict[str, Any]]) -> None:
    """With several rounds: each round's ratios (its apps ran back to back, so they share its load)."""
    base, fast, official = results["baseline"], results["ldfast"], results["official"]
    if "rounds_req_per_s" in fast:
        rounds = list(zip(base["rounds_req_per_s"], fast["rounds_req_per_s"], official["rounds_req_per_s"]))
        print("per round: ldfast/no-SDK %s; ldfast/official %s" % (
            " ".join("%.0f%%" % (100 * f / b) for b, f, o in rounds), " ".join("%.2fx" % (f / o) for b, f, o in rounds)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="wrk seconds per app (default 10)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: leaves a core to the app)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="wrk runs per app, the apps taking turns; the median is reported (default 3)")
    parser.add_argument("--capture", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--app", choices=APPS, help=argparse.SUPPRESS)
    parser.add_argument("--events-uri", help=argparse.SUPPRESS)
    parser.add_argument("--body", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.capture:
        run_capture()
        return 0
    if args.app:
        run_app(args.app, args.events_uri, args.body)
        return 0

    wrk = shutil.which("wrk")
    if wrk is None:
        print("serve_bench: `wrk` not found on PATH. Install it (Debian: apt-get update && apt-get install -y wrk) "
              "and run again.", file=sys.stderr)
        return 2

    started = time.monotonic()
    capture = Child("--capture")
    events_uri = capture.url.rstrip("/")
    children: Dict[str, Child] = {}
    results: Dict[str, Dict[str, Any]] = {}
    lua_dir = tempfile.mkdtemp(prefix="serve_bench")
    lua = os.path.join(lua_dir, "users.lua")
    with open(lua, "w") as f:
        f.write(LUA)
    try:
        # each app posts under its own path prefix, so the capture server counts per app
        start_apps(children, lambda app, *extra: Child("--app", app, "--events-uri", events_uri + "/" + app, *extra))

        loaded = load(children, capture.url, wrk, lua, args)
        if loaded is None:
            return 1
        samples, results, events = loaded
    finally:
        for child in children.values():
            child.stop()
        capture.stop()
        shutil.rmtree(lua_dir, ignore_errors=True)
    elapsed = time.monotonic() - started

    print()
    print("%-10s | %10s | %8s" % ("app", "req/s", "p99 ms"))
    print("%s-+-%s-+-%s" % ("-" * 10, "-" * 10, "-" * 8))
    for app in APPS:
        r = results[app]
        print("%-10s | %10.0f | %8.2f   (rounds: %s)" % (app, r["req_per_s"], r["p99_ms"],
                                                    " ".join("%.0f" % x for x in r.get("rounds_req_per_s", []))))
        if r["non_2xx"] or r["socket_errors"]:
            print("  (%s: non-2xx %s, socket errors %s)" % (app, r["non_2xx"], r["socket_errors"]))
    fast, official = results["ldfast"], results["official"]
    ratio = fast["req_per_s"] / official["req_per_s"]
    met = ratio >= 3 and fast["p99_ms"] <= official["p99_ms"]
    print_per_round(results)
    print()
    print("ldfast / official req/s: %.2fx; p99 %.2f ms vs %.2f ms" % (ratio, fast["p99_ms"], official["p99_ms"]))
    print("ldfast >= 3x the official SDK's req/s at no worse p99: %s" % ("MET" if met else "NOT MET"))
    base = results["baseline"]["req_per_s"]
    print("of the no-SDK app's req/s (same body): ldfast %.0f%%, official %.0f%% (issue 15 asks >= 75%% for ldfast)"
          % (100 * fast["req_per_s"] / base, 100 * official["req_per_s"] / base))
    print("events captured: %d posts, %d events; by path: %s" % (
        events["posts"], events["events"],
        ", ".join("%s %d posts/%d events" % (p, e["posts"], e["events"]) for p, e in sorted(events["paths"].items()))))
    print("total runtime %.1f s" % elapsed)

    write_results(RESULTS, wrk, args, results, events, samples, elapsed,
                  apps="each a single subprocess, default reactor, one under load at a time, stopped after its run",
                  target={"ratio": round(ratio, 3), "met": met,
                          "line": "ldfast >= 3x the official SDK's req/s at no worse p99"})
    return 0


def write_results(path: str, wrk: str, args: argparse.Namespace, results: Dict[str, Dict[str, Any]], events: Any,
                  samples: Any, elapsed: float, *, apps: str, target: Dict[str, Any],
                  versions: Optional[Dict[str, Any]] = None, method: Optional[Dict[str, Any]] = None) -> None:
    """A serving benchmark's results as JSON at ``path`` (machine, versions, method, wrk's output)."""
    import ldclient.version
    import ldfast.version

    doc = {
        "date": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "python": "%s %s" % (platform.python_implementation(), platform.python_version())},
        "versions": dict({"ldfast": ldfast.version.VERSION, "launchdarkly-server-sdk": ldclient.version.VERSION,
                          "wrk": subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.splitlines()[0:1]},
                         **(versions or {})),
        "method": dict({"flags_in_store": FLAG_COUNT, "keys_per_request": KEYS, "distinct_users": DISTINCT_USERS,
                        "wrk": "wrk -t%d -c%d -d%ds --latency -s users.lua" % (args.threads, args.connections,
                                                                              args.duration),
                        "analytics_events": "on, to a local capture server answering 202",
                        "apps": apps}, **(method or {})),
        "results": {app: {k: v for k, v in r.items() if k != "wrk_output"} for app, r in results.items()},
        "wrk_output": {app: r["wrk_output"] for app, r in results.items()},
        "events_captured": events,
        "samples": samples,
        "target": target,
        "runtime_s": round(elapsed, 1),
    }
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print("wrote %s" % os.path.relpath(path))


if __name__ == "__main__":
    sys.exit(main())
