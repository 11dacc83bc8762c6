"""Side-by-side timing of ldfast and the official launchdarkly-server-sdk (``make bench``).

Each case first checks that both SDKs give the same answer, then times them timeit-style: the
operation is called in a plain loop, calibrated so one repeat lasts about ``--target`` seconds;
repeats alternate between the implementations, and the best repeat gives the µs/call (the median
is kept in the JSON too). Garbage collection stays on, as in an application.

When ldfast's compiled twins are enabled, a child process with LDFAST_NO_EXTENSIONS=1 measures
ldfast's pure-Python twins as well, which adds a column. Results are printed as a table and
written to bench/results/latest.json. Quote ratios from one run, not absolute times.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenarios as S  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results", "latest.json")
TARGET_RATIO = 3.0


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> Dict[str, Any]:
    return {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "python": "%s %s" % (platform.python_implementation(), platform.python_version()),
    }


def _time_once(call: Callable[[], Any], number: int) -> float:
    loop = itertools.repeat(None, number)
    start = time.perf_counter()
    for _ in loop:
        call()
    return time.perf_counter() - start


def calibrate(call: Callable[[], Any], target: float) -> int:
    """A loop count for which one repeat takes about ``target`` seconds."""
    number = 1
    while True:
        elapsed = _time_once(call, number)
        if elapsed >= target / 10:
            return max(1, int(number * target / elapsed))
        number *= 10


def check_same(case: S.Case, prepared: Dict[str, Any]) -> Any:
    answers = {impl: answer(call()) for impl, (call, answer, _client) in prepared.items()}
    expected = answers["official"]
    for impl, got in answers.items():
        if got != expected:
            raise SystemExit("%s: %s answers differently from the official SDK:\n  official: %r\n  %s: %r"
                             % (case.name, impl, expected, impl, got))
    return expected


def measure(impls: List[str], repeat: int, target: float) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Per case id, per implementation: best and median µs per call, and the loop count."""
    results: Dict[str, Dict[str, Dict[str, float]]] = {}
    for case in S.CASES:
        prepared = {impl: case.setup(impl) for impl in S.IMPLEMENTATIONS}
        try:
            check_same(case, prepared)
            calls = {impl: prepared[impl][0] for impl in impls}
            numbers = {impl: calibrate(call, target) for impl, call in calls.items()}
            times: Dict[str, List[float]] = {impl: [] for impl in impls}
            for _ in range(repeat):
                for impl in impls:  # alternate, so drift on a shared machine hits both alike
                    gc.collect()
                    times[impl].append(_time_once(calls[impl], numbers[impl]) / numbers[impl] * 1e6)
            results[case.id] = {
                impl: {"best_us": min(t), "median_us": statistics.median(t), "loops": numbers[impl]}
                for impl, t in times.items()
            }
        finally:
            for _call, _answer, client in prepared.values():
                if client is not None:
                    client.close()
    return results


def measure_pure(repeat: int, target: float) -> Optional[Dict[str, Any]]:
    env = dict(os.environ, LDFAST_NO_EXTENSIONS="1")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--repeat", str(repeat), "--target", str(target)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit("the pure-Python measurement failed")
    return json.loads(proc.stdout)


def fmt(us: float) -> str:
    return "%.2f" % us if us < 100 else "%.0f" % us


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed repeats per case and SDK (default 15)")
    parser.add_argument("--target", type=float, default=0.1, help="seconds per repeat (default 0.1)")
    parser.add_argument("--output", default=RESULTS, help="JSON results file (default bench/results/latest.json)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # ldfast only, JSON to stdout
    args = parser.parse_args(argv)
    S.quiet_logs()

    if args.worker:
        json.dump(measure(["ldfast"], args.repeat, args.target), sys.stdout)
        return 0

    started = time.perf_counter()
    versions = S.versions()
    compiled = bool(versions["ldfast_extensions"])
    results = measure(["official", "ldfast"], args.repeat, args.target)
    pure = measure_pure(args.repeat, args.target) if compiled else None

    info = machine()
    label = "ldfast (compiled)" if compiled else "ldfast (pure)"
    print("machine:  %s | %s | %s CPUs" % (info["platform"], info["cpu"], info["cpus"]))
    print("python:   %s" % info["python"])
    print("ldfast:   %s, extensions %s" % (versions["ldfast"], "enabled" if compiled else "disabled (pure)"))
    print("official: launchdarkly-server-sdk %s" % versions["launchdarkly-server-sdk"])
    print("method:   best of %d repeats of ~%.2fs each, µs per call; every case checked for equal answers"
          % (args.repeat, args.target))
    print()

    headers = ["case", "official µs/call", "%s µs/call" % label, "ratio (official/ldfast)"]
    if pure is not None:
        headers += ["ldfast (pure) µs/call", "ratio (official/pure)"]
    rows = []
    cases_json = []
    met = True
    for case in S.CASES:
        r = results[case.id]
        official, fast = r["official"]["best_us"], r["ldfast"]["best_us"]
        ratio = official / fast
        if case.evaluation and ratio < TARGET_RATIO:
            met = False
        row = [case.name, fmt(official), fmt(fast), "%.2fx" % ratio]
        entry: Dict[str, Any] = {"id": case.id, "name": case.name, "evaluation": case.evaluation,
                                 "official": r["official"], "ldfast": r["ldfast"], "ratio": ratio}
        if pure is not None:
            p = pure[case.id]["ldfast"]
            row += [fmt(p["best_us"]), "%.2fx" % (official / p["best_us"])]
            entry["ldfast_pure"] = p
            entry["ratio_pure"] = official / p["best_us"]
        rows.append(row)
        cases_json.append(entry)

    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(cells: List[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
    print()
    verdict = "MET" if met else "NOT MET"
    print("target: ldfast >= %gx official on every evaluation case: %s" % (TARGET_RATIO, verdict))

    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump({
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": info,
            "versions": versions,
            "method": {"repeat": args.repeat, "target_seconds_per_repeat": args.target,
                       "statistic": "best", "unit": "microseconds per call", "gc": "enabled"},
            "cases": cases_json,
            "target": {"ratio": TARGET_RATIO, "scope": "evaluation cases", "met": met},
            "elapsed_seconds": round(time.perf_counter() - started, 1),
        }, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
