"""pytest-benchmark: ldfast against the official launchdarkly-server-sdk, one group per case.

Run: ``.venv/bin/python -m pytest bench --benchmark-group-by=group`` (add ``--benchmark-disable``
to only check that both SDKs give the same answers). Each benchmarked round performs
``LOOPS[case]`` operations, so the reported times are per round, not per call.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Tuple

import pytest

import scenarios as S

# Operations per benchmarked round (all_flags_state evaluates 60 or 1,000 flags per operation).
LOOPS: Dict[str, int] = {case.id: 1000 for case in S.CASES}
LOOPS["all_flags_state"] = 20
LOOPS["all_flags_state_1000"] = 2

_prepared: Dict[Tuple[str, str], Tuple[Callable[[], Any], Callable[[Any], Any], Any]] = {}


@pytest.fixture(scope="module", autouse=True)
def _clients():
    S.quiet_logs()
    yield
    for _call, _answer, client in _prepared.values():
        if client is not None:
            client.close()
    _prepared.clear()


def _prepare(case: S.Case, impl: str) -> Tuple[Callable[[], Any], Callable[[Any], Any], Any]:
    key = (case.id, impl)
    if key not in _prepared:
        _prepared[key] = case.setup(impl)
    return _prepared[key]


def _looped(call: Callable[[], Any], loops: int) -> Callable[[], Any]:
    rng = range(loops)

    def run() -> Any:
        result = None
        for _ in rng:
            result = call()
        return result

    return run


@pytest.mark.parametrize("impl", S.IMPLEMENTATIONS)
@pytest.mark.parametrize("case", S.CASES, ids=[c.id for c in S.CASES])
def test_bench(benchmark: Any, case: S.Case, impl: str) -> None:
    # Same answer from both SDKs before anything is timed.
    answers = {}
    for name in S.IMPLEMENTATIONS:
        call, answer, _client = _prepare(case, name)
        answers[name] = answer(call())
    assert answers["ldfast"] == answers["official"]

    call, answer, _client = _prepare(case, impl)
    benchmark.group = case.id
    benchmark.extra_info["operations_per_round"] = LOOPS[case.id]
    result = benchmark(_looped(call, LOOPS[case.id]))
    assert answer(result) == answers["official"]


def test_scenario_exercises_every_rule() -> None:
    """The rule-heavy flag must match on its last rule for the benchmark context (so all clauses run)."""
    S.quiet_logs()
    for impl in S.IMPLEMENTATIONS:
        call, answer, client = S.CASES_BY_ID["heavy_variation_detail"].setup(impl)
        try:
            value, index, reason = answer(call())
            assert (value, index, reason) == ("treatment-b", 2, S.expected_heavy_reason())
        finally:
            client.close()
