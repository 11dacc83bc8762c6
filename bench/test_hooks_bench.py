"""pytest-benchmark: ``variation`` with one empty hook, ldfast against the official SDK, next to
the same call without hooks (ldfast's compiled fast path), in one group.

Run: ``.venv/bin/python -m pytest bench/test_hooks_bench.py --benchmark-group-by=group``. Each
benchmarked round performs ``LOOPS`` calls, so the reported times are per round, not per call.
"""
from __future__ import annotations

import copy
import functools
from typing import Any, Dict, Tuple

import pytest

import hook_cases as H
import scenarios as S

LOOPS = 1000
_clients: Dict[Tuple[str, int], Any] = {}


@pytest.fixture(scope="module", autouse=True)
def _close_clients():
    S.quiet_logs()
    yield
    for client in _clients.values():
        client.close()
    _clients.clear()


def _call(impl: str, hooks: int) -> Any:
    if (impl, hooks) not in _clients:
        _clients[(impl, hooks)] = H.client_with_hooks(impl, hooks)
    ctx = S.context_class(impl).from_dict(copy.deepcopy(S.USER))
    return functools.partial(_clients[(impl, hooks)].variation, S.SIMPLE_KEY, ctx, "default")


@pytest.mark.parametrize("hooks", [0, 1], ids=["no-hook", "one-empty-hook"])
@pytest.mark.parametrize("impl", S.IMPLEMENTATIONS)
def test_variation_with_hooks(benchmark: Any, impl: str, hooks: int) -> None:
    answers = {(i, h): _call(i, h)() for i in S.IMPLEMENTATIONS for h in (0, 1)}
    assert len(set(answers.values())) == 1, answers  # every SDK and hook count: the same answer
    call = _call(impl, hooks)
    rng = range(LOOPS)

    def run() -> Any:
        result = None
        for _ in rng:
            result = call()
        return result

    benchmark.group = "variation_hooks"
    benchmark.extra_info["operations_per_round"] = LOOPS
    assert benchmark(run) == answers[("official", 1)]
