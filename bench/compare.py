"""Side-by-side timing of ldfast and the official launchdarkly-server-sdk (``make bench``).

Each case first checks that both SDKs give the same answer, then times them timeit-style: the
operation is called in a plain loop, calibrated so one repeat lasts about ``--target`` seconds;
repeats alternate between the implementations, and the best repeat gives the µs/call (the median
is kept in the JSON too). Garbage collection stays on, as in an application.

When ldfast's compiled twins are enabled, a child process with LDFAST_NO_EXTENSIONS=1 measures
ldfast's pure-Python twins as well, which adds a column. Results are printed as a table followed
by the targets (judged on this run's numbers alone), written to bench/results/latest.json, and
drawn as a bar chart in bench/results/latest.png (skipped, with a note, without matplotlib).
Quote ratios from one run, not absolute times.
"""
from __future__ import annotations

import argparse
import atexit
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
import hook_cases  # noqa: E402
import ldclient  # noqa: E402
import ldfast  # noqa: E402


class _EventsSink:
    """A local fake LaunchDarkly service that accepts the analytics payloads of the events-on case
    (started on first use, stopped at exit)."""

    fake: Any = None

    @classmethod
    def uri(cls) -> str:
        if cls.fake is None:
            sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            from tests.support.fake_ld import FakeLaunchDarklyThread

            cls.fake = FakeLaunchDarklyThread()
            atexit.register(cls.close)
        return cls.fake.uri

    @classmethod
    def close(cls) -> None:
        if cls.fake is not None:
            cls.fake.close()
            cls.fake = None


def _events_on_variation(impl: str) -> Any:
    """The simple variation with analytics events on (an untracked flag, a context already seen):
    what recording an evaluation adds. Payloads go to a local fake service."""
    import functools

    flags, segments = S.base_data()
    sdk = ldfast if impl == "ldfast" else ldclient
    features = S.FAST_FEATURES if impl == "ldfast" else S.OFFICIAL_FEATURES
    segments_kind = S.FAST_SEGMENTS if impl == "ldfast" else S.OFFICIAL_SEGMENTS
    cfg = sdk.Config("sdk-key", update_processor_class=S._source(features, segments_kind, flags, segments),
                     events_uri=_EventsSink.uri(), flush_interval=3600, diagnostic_opt_out=True)
    client = sdk.LDClient(config=cfg, start_wait=5)
    assert client.is_initialized()
    ctx = S.context_class(impl).from_dict(dict(S.USER))
    return functools.partial(client.variation, S.SIMPLE_KEY, ctx, "default"), S._same, client


# the evaluation cases, then "events on" and "one empty hook" (not judged by the evaluation targets)
CASES = S.CASES + (S.Case("simple_variation_events_on", "simple variation, events on", False,
                          _events_on_variation),) + hook_cases.CASES

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results", "latest.json")
CHART = os.path.join(HERE, "results", "latest.png")
COMPILED_RATIO = 50.0  # compiled twins vs the official SDK, every evaluation case
PURE_RATIO = 3.0  # pure-Python twins vs the official SDK, every evaluation case
MANY_FLAGS_CASE = "all_flags_state_1000"
MANY_FLAGS_LIMIT_US = 1000.0  # all_flags_state over 1,000 flags, compiled


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
    for case in CASES:
        prepared = {impl: case.setup(impl) for impl in S.IMPLEMENTATIONS}
        try:
            check_same(case, prepared)
            calls = {impl: prepared[impl][0] for impl in impls}
            numbers = {impl: calibrate(call, target) for impl, call in calls.items()}
            times: Dict[str, List[float]] = {impl: [] for impl in impls}
            for _ in range(min(repeat, case.max_repeat or repeat)):
                for impl in impls:  # alternate, so drift on a shared machine hits both alike
                    gc.collect()
                    times[impl].append(_time_once(calls[impl], numbers[impl]) / numbers[impl] * 1e6)
            results[case.id] = {
                impl: {"best_us": min(t), "median_us": statistics.median(t), "loops": numbers[impl],
                       "repeats": len(t)}
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
    return "%.3f" % us if us < 1 else "%.2f" % us if us < 100 else "%.0f" % us


def fmt_ratio(ratio: float) -> str:
    return "%.2fx" % ratio if ratio < 100 else "%.0fx" % ratio


def _ratio_target(id: str, what: str, minimum: float, cases: List[Dict[str, Any]], key: Optional[str],
                  missing: str) -> Dict[str, Any]:
    """Met when ``case[key]`` (an official/ldfast ratio) is at least ``minimum`` on every evaluation case."""
    target: Dict[str, Any] = {"id": id, "description": "%s >= %gx official on every evaluation case" % (what, minimum),
                              "minimum_ratio": minimum, "met": None}
    if key is None:
        target["note"] = missing
        return target
    evaluation = [c for c in cases if c["evaluation"]]
    lowest = min(evaluation, key=lambda c: c[key])
    target.update(met=all(c[key] >= minimum for c in evaluation),
                  lowest={"case": lowest["id"], "name": lowest["name"], "ratio": lowest[key]},
                  ratios={c["id"]: c[key] for c in evaluation})
    return target


def shown(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def judge(cases: List[Dict[str, Any]], compiled: bool) -> List[Dict[str, Any]]:
    """The targets, each judged on this run's numbers alone (``met`` is None when not measured)."""
    disabled = "ldfast extensions are disabled in this run"
    targets = [
        _ratio_target("compiled_ratio", "ldfast compiled", COMPILED_RATIO, cases,
                      "ratio" if compiled else None, disabled),
        _ratio_target("pure_ratio", "ldfast pure", PURE_RATIO, cases, "ratio_pure" if compiled else "ratio", ""),
    ]
    many: Dict[str, Any] = {"id": "all_flags_state_1000_compiled",
                            "description": "all_flags_state over 1,000 flags < %g ms compiled" % (MANY_FLAGS_LIMIT_US / 1000),
                            "limit_us": MANY_FLAGS_LIMIT_US, "met": None}
    case = next(c for c in cases if c["id"] == MANY_FLAGS_CASE)
    if compiled:
        many.update(met=case["ldfast"]["best_us"] < MANY_FLAGS_LIMIT_US, best_us=case["ldfast"]["best_us"],
                    official_best_us=case["official"]["best_us"])
    else:
        many["note"] = disabled
    return targets + [many]


def target_line(target: Dict[str, Any]) -> str:
    if target["met"] is None:
        return "target: %s: NOT MEASURED (%s)" % (target["description"], target["note"])
    verdict = "MET" if target["met"] else "NOT MET"
    if "lowest" in target:
        detail = "lowest %s on %s" % (fmt_ratio(target["lowest"]["ratio"]), target["lowest"]["name"])
    else:  # an absolute time: only meaningful next to the official SDK's time from the same run
        detail = "%.3f ms; official %.1f ms in this run" % (target["best_us"] / 1000, target["official_best_us"] / 1000)
    return "target: %s: %s (%s)" % (target["description"], verdict, detail)


def draw_chart(path: str, cases: List[Dict[str, Any]], info: Dict[str, Any], versions: Dict[str, Any],
               compiled: bool, repeat: int) -> bool:
    """Grouped bars per case (official, ldfast compiled, ldfast pure), µs per call on a log axis."""
    try:
        import matplotlib
    except ImportError:
        print("note: matplotlib is not installed, so no chart was drawn (table and JSON are complete); "
              "`make bench` installs it, or: %s -m pip install matplotlib" % os.path.relpath(sys.executable))
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import textwrap

    series = [("official launchdarkly-server-sdk", "official", None, "#9e9e9e")]
    if compiled:
        series.append(("ldfast compiled", "ldfast", "ratio", "#1f6fb4"))
        series.append(("ldfast pure Python", "ldfast_pure", "ratio_pure", "#f28e2b"))
    else:
        series.append(("ldfast pure Python", "ldfast", "ratio", "#f28e2b"))

    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(13, 7), dpi=110)
    for s, (label, key, ratio_key, color) in enumerate(series):
        xs = [i + (s - (len(series) - 1) / 2) * width for i in range(len(cases))]
        values = [c[key]["best_us"] for c in cases]
        bars = ax.bar(xs, values, width * 0.95, label=label, color=color)
        texts = [fmt(v) if ratio_key is None else "%s\n%s" % (fmt(v), fmt_ratio(c[ratio_key]))
                 for v, c in zip(values, cases)]
        ax.bar_label(bars, texts, fontsize=7.5, padding=2)
    ax.set_yscale("log")
    low = min(c[k]["best_us"] for c in cases for _l, k, _r, _c in series)
    high = max(c[k]["best_us"] for c in cases for _l, k, _r, _c in series)
    ax.set_ylim(low / 3, high * 8)  # room for the labels above the tallest bars
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels(["\n".join(textwrap.wrap(c["name"], 22)) + ("" if c["evaluation"] else "\n(not evaluation)")
                        for c in cases], fontsize=8.5)
    ax.set_ylabel("µs per call (log scale; lower is faster)")
    ax.grid(axis="y", which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    ax.set_title("ldfast %s (%s) vs launchdarkly-server-sdk %s\n%s, %s CPUs | %s | %s"
                 % (versions["ldfast"], "compiled + pure" if compiled else "pure only",
                    versions["launchdarkly-server-sdk"], info["cpu"], info["cpus"], info["python"], info["platform"]),
                 fontsize=10)
    fig.text(0.01, 0.01, "Best of %d repeats (fewer for slow cases), all columns from one run; labels: µs per call and "
             "official/ldfast ratio. Every case checked for equal answers across SDKs first." % repeat,
             fontsize=7.5, color="#555555")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return True


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed repeats per case and SDK (default 15)")
    parser.add_argument("--target", type=float, default=0.1, help="seconds per repeat (default 0.1)")
    parser.add_argument("--output", default=RESULTS, help="JSON results file (default bench/results/latest.json)")
    parser.add_argument("--chart", default=CHART, help="PNG chart file (default bench/results/latest.png)")
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
    capped = ", ".join("%s %d" % (c.name, min(args.repeat, c.max_repeat)) for c in CASES if c.max_repeat)
    print("method:   best of %d repeats (%s) of ~%.2fs each, µs per call; every case checked for equal answers"
          % (args.repeat, capped or "all cases", args.target))
    print()

    headers = ["case", "official µs/call", "%s µs/call" % label, "ratio (official/ldfast)"]
    if pure is not None:
        headers += ["ldfast (pure) µs/call", "ratio (official/pure)"]
    rows = []
    cases_json = []
    for case in CASES:
        r = results[case.id]
        official, fast = r["official"]["best_us"], r["ldfast"]["best_us"]
        ratio = official / fast
        row = [case.name, fmt(official), fmt(fast), fmt_ratio(ratio)]
        entry: Dict[str, Any] = {"id": case.id, "name": case.name, "evaluation": case.evaluation,
                                 "official": r["official"], "ldfast": r["ldfast"], "ratio": ratio}
        if pure is not None:
            p = pure[case.id]["ldfast"]
            row += [fmt(p["best_us"]), fmt_ratio(official / p["best_us"])]
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
    targets = judge(cases_json, compiled)
    for target in targets:
        print(target_line(target))
    print()

    chart = draw_chart(args.chart, cases_json, info, versions, compiled, args.repeat)
    elapsed = round(time.perf_counter() - started, 1)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump({
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": info,
            "versions": versions,
            "method": {"repeat": args.repeat, "target_seconds_per_repeat": args.target,
                       "max_repeat": {c.id: c.max_repeat for c in CASES if c.max_repeat},
                       "statistic": "best", "unit": "microseconds per call", "gc": "enabled"},
            "cases": cases_json,
            "targets": targets,
            "chart": os.path.relpath(args.chart, HERE) if chart else None,
            "elapsed_seconds": elapsed,
        }, f, indent=2)
        f.write("\n")
    print("results:  %s" % shown(args.output))
    if chart:
        print("chart:    %s" % shown(args.chart))
    print("elapsed:  %.1f s" % elapsed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
