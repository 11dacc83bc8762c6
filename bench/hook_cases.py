"""Benchmark cases for evaluation hooks: ``variation`` with one empty hook registered, in each SDK.

Shared by bench/test_hooks_bench.py (pytest-benchmark) and bench/compare.py (the side-by-side
table). The hook does nothing but return its data, so what is measured is the cost of the hook
machinery around an evaluation (ldfast: the Python hook path instead of the compiled fast path).
"""
from __future__ import annotations

import copy
import functools
from typing import Any

import ldclient.client
import ldclient.config
import ldclient.hook

import ldfast
import ldfast.hook
import scenarios as S


def empty_hook(hook_module: Any) -> Any:
    class EmptyHook(hook_module.Hook):
        @property
        def metadata(self) -> Any:
            return hook_module.Metadata(name="empty")

        def before_evaluation(self, series_context: Any, data: dict) -> dict:
            return data

        def after_evaluation(self, series_context: Any, data: dict, detail: Any) -> dict:
            return data

    return EmptyHook()


def client_with_hooks(impl: str, hooks: int) -> Any:
    """A client over the base data (events off) with ``hooks`` empty hooks."""
    flags, segments = S.base_data()
    if impl == "ldfast":
        cfg = ldfast.Config("sdk-key", send_events=False, hooks=[empty_hook(ldfast.hook) for _ in range(hooks)],
                            update_processor_class=S._source(S.FAST_FEATURES, S.FAST_SEGMENTS, flags, segments))
        client = ldfast.LDClient(config=cfg, start_wait=5)
    else:
        cfg = ldclient.config.Config(
            "sdk-key", send_events=False, diagnostic_opt_out=True,
            hooks=[empty_hook(ldclient.hook) for _ in range(hooks)],
            update_processor_class=S._source(S.OFFICIAL_FEATURES, S.OFFICIAL_SEGMENTS, flags, segments))
        client = ldclient.client.LDClient(config=cfg, start_wait=5)
    assert client.is_initialized(), "%s client did not initialize" % impl
    return client


def _one_hook_variation(impl: str) -> Any:
    client = client_with_hooks(impl, 1)
    ctx = S.context_class(impl).from_dict(copy.deepcopy(S.USER))
    return functools.partial(client.variation, S.SIMPLE_KEY, ctx, "default"), S._same, client


# not an evaluation case for the targets: the hook path is Python by design
CASES = (S.Case("simple_variation_one_hook", "simple variation, one empty hook", False, _one_hook_variation),)
