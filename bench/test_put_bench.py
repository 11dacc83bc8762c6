"""put_bench.py's machinery on a small put (500 flags): the server, both workers, the equal-data check,
the report and the profile mode. No timing is asserted.

Run: ``.venv/bin/python -m pytest bench/test_put_bench.py``.
"""
from __future__ import annotations

import json
import threading
import urllib.request

import pytest

import put_bench as P

FLAGS = 500


def _server_threads():
    return [t for t in threading.enumerate() if t.name == "put-bench-server" and t.is_alive()]


def test_server_serves_the_put_and_closes():
    body = P.put_event(20)
    with P.PutServer(body) as server:
        request = urllib.request.Request(server.uri + "/all", headers={"Accept": "text/event-stream"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["content-type"] == "text/event-stream"
            assert response.read(len(body)) == body  # then the stream stays open
        assert server.requests == 1
    assert not _server_threads()


def test_put_bench_runs_and_both_sdks_end_with_the_same_data(tmp_path, capsys):
    output = tmp_path / "put.json"
    assert P.main(["--flags", str(FLAGS), "--repeat", "1", "--output", str(output)]) == 0
    assert not _server_threads()
    printed = capsys.readouterr().out
    assert "| SDK " in printed and "longest reactor stall <= 10 ms: " in printed
    assert "ldfast >= 10x sooner to initialized than official: " in printed
    assert "ldfast peak memory <= 0.5 of official's: " in printed

    report = json.loads(output.read_text())
    results = report["results"]
    assert results["flags"] == FLAGS and results["same_data"] is True
    assert results["stream_connections"] == 5  # a timed and a memory run per SDK, and a fresh ldfast run
    assert results["sample_values"]["heavy-flag"] == "treatment-b"  # the rule-heavy flag's last rule
    for sdk in ("ldfast", "official"):
        entry = results[sdk]
        assert len(entry["times_ms"]) == 1 and entry["time_to_initialized_ms"] > 0
        assert entry["peak_memory_mb"] >= entry["retained_memory_mb"] > 0
    fast = results["ldfast"]
    assert fast["ticks"][0] > 0 and fast["longest_reactor_stall_ms"] > 0
    # the collector's pauses are only part of the gaps: the rest is never longer than the longest gap
    assert 0 <= fast["longest_stall_outside_gc_ms"] <= fast["longest_reactor_stall_ms"]
    assert fast["longest_gc_pause_ms"] >= 0 and len(fast["full_gc_after_ms"]) == 1
    assert len(fast["full_collections"]) == 1 and fast["full_collections"][0] >= 0
    assert len(fast["fresh"]["stalls_ms"]) == len(fast["fresh"]["full_collections"]) == 1
    assert fast["fresh"]["stalls_ms"][0] > 0
    # the first put is stored as placeholders, parsed in the background: both moments are reported
    assert results["ldfast"]["all_parsed_ms"] >= results["ldfast"]["time_to_initialized_ms"]
    assert "every flag parsed (the background parse done)" in printed
    assert [t["id"] for t in report["targets"]] == ["reactor_stall", "speed", "all_parsed", "memory"]
    assert all(isinstance(t["met"], bool) for t in report["targets"])


def test_different_data_is_reported():
    same = {"$valid": True, "a": 1, "$flagsState": {"a": {"variation": 0}}}
    other = {"$valid": True, "a": 2, "$flagsState": {"a": {"variation": 1}}, "b": 3}
    assert P.differences(same, same) == []
    assert P.differences(same, other) == ["a", "b"]


def test_profile_mode(capsys):
    phases = P.profile(60, 5)
    assert {"walk_gc_on", "walk_gc_on_again", "walk_gc_on_page_faults", "walk_gc_off", "decode_gc_off",
            "store_swap"} <= set(phases)
    assert "cProfile of put_items" in capsys.readouterr().out


def test_a_failing_worker_stops_the_run():
    with P.PutServer(b"") as server:  # GET /missing/all is a 404: ldfast gives up at once
        with pytest.raises(SystemExit, match="ldfast worker: .*404"):
            P.run_worker("ldfast", server.uri + "/missing", memory=False)
