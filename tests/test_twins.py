"""The compiled and pure-Python twins give identical answers, and neither ever raises to the caller.

One twin runs in this process, the other in a worker process started with the opposite
LDFAST_NO_EXTENSIONS (tests/support/twin_worker.py); both run the same ``evaluate_batch`` over the
same pickled cases and their outputs (value, variation index, reason, all_flags_state, bucket
values) must be equal, repr for repr.
"""
import os
import pickle
import struct
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ldfast
import ldfast._ext as ext
from tests import strategies as S
from tests.support.twin_worker import evaluate_batch

pytestmark = pytest.mark.c_extension

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "support", "twin_worker.py")


class Worker:
    def __init__(self) -> None:
        env = dict(os.environ)
        env["LDFAST_NO_EXTENSIONS"] = "1" if ldfast.extensions_enabled() else "0"
        self.proc = subprocess.Popen([sys.executable, WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=env)

    def run(self, request):
        data = pickle.dumps(request)
        self.proc.stdin.write(struct.pack(">I", len(data)) + data)
        self.proc.stdin.flush()
        header = self.proc.stdout.read(4)
        assert len(header) == 4, "twin worker died"
        (size,) = struct.unpack(">I", header)
        return pickle.loads(self.proc.stdout.read(size))

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


def compare(worker, flags, segments, cases, buckets=()):
    request = (flags, segments, cases, list(buckets))
    here = evaluate_batch(*pickle.loads(pickle.dumps(request)))
    there = worker.run(request)
    assert {here[0], there[0]} == {"c", "py"}, "both twins must be compared, got %s and %s" % (here[0], there[0])
    for i, (a, b) in enumerate(zip(here[1], there[1])):
        assert a == b, "twins differ on %r for %r:\n %s: %s\n %s: %s\nflags=%r\nsegments=%r" % (
            cases[i][0], cases[i][1], here[0], a, there[0], b, flags, segments)
        assert not a.startswith("RAISED"), "variation_detail raised for %r: %s" % (cases[i], a)
    assert here[2] == there[2], "all_flags_state differs"
    assert not any(s.startswith("RAISED") for s in here[2])
    assert here[3] == there[3], "bucket values differ: %r vs %r for %r" % (here[3], there[3], buckets)
    return here


def test_compiled_twins_are_really_in_use():
    """Fails when a build that should be compiled silently fell back to pure Python."""
    if ext.REQUESTED:
        assert ext.BUILT == ext.TWINS, "compiled twins missing: %s" % (set(ext.TWINS) - set(ext.BUILT))
        assert ldfast.extensions_enabled()
        from ldfast._ext import context, evaluator, model

        for mod in (evaluator, model, context):
            assert mod.implementation.__name__.endswith("_c")
            assert not mod.implementation.__file__.endswith(".py")
        assert ldfast.extensions_unavailable_reason() is None
        assert ext.PURE_BUILD_REASON is None  # a compiled build leaves no pure-build marker
    else:
        assert not ldfast.extensions_enabled()
        assert ldfast.extensions_unavailable_reason().startswith(("LDFAST_NO_EXTENSIONS=", "not CPython"))


# -- realistic data (the differential test's generators) -----------------------------------------

@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(S.examples(8))
def test_twins_agree_on_realistic_data(worker, example):
    flags, segments, contexts = example
    keys = list(flags) + [S.MISSING_FLAG_KEY]
    cases = [(k, c, "default") for c in contexts for k in keys]
    buckets = [(k, "salt", seed, c.get("key")) for k in keys[:2] for c in contexts for seed in (None, 61)]
    compare(worker, flags, segments, cases, buckets)


# -- adversarial data ----------------------------------------------------------------------------

NASTY_SCALARS = [
    float("nan"), float("inf"), -float("inf"), -0.0, 2 ** 64, -(2 ** 200), 10 ** 30, 1e308, 5e-324,
    True, False, None, "", "\ud800", "a\udfffb", "\x00", "é" * 3, "x" * 5000, "1.2.3", "2020-01-01T00:00:00Z",
    "/", "~", "~2", b"\xff\xfe", (1, 2), 0, 1, -1, 1.0, "user", "kind", "multi",
]


def deep(depth, leaf):
    value = leaf
    for i in range(depth):
        value = {"a": value} if i % 2 else [value]
    return value


nasty = st.recursive(
    st.sampled_from(NASTY_SCALARS),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.sampled_from(["a", "b", "key", ""]), st.integers(0, 3)),
                                            inner, max_size=3)),
    max_leaves=8,
) | st.builds(deep, st.integers(50, 300), st.sampled_from(NASTY_SCALARS))


@st.composite
def mutated(draw, value, rate=8):
    """``value`` with some members replaced by nasty values or dropped (1 in ``rate``)."""
    if draw(st.integers(0, rate - 1)) == 0:
        return draw(nasty)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if draw(st.integers(0, rate * 2)) == 0:
                continue
            out[k] = draw(mutated(v, rate))
        return out
    if isinstance(value, list):
        return [draw(mutated(v, rate)) for v in value]
    return value


@st.composite
def nasty_context(draw, base):
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(nasty)  # not a dict at all
    ctx = dict(base)
    for _ in range(draw(st.integers(1, 3))):
        ctx[draw(st.sampled_from(S.CUSTOM_ATTRS + ["key", "kind", "name", "anonymous", "_meta", "custom"]))] = draw(nasty)
    if choice == 1:
        ctx.pop("kind", None)  # an old-style user dict
    return ctx


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_twins_agree_on_adversarial_data(worker, data):
    flags, segments, contexts = data.draw(S.examples(4))
    flags = {k: data.draw(mutated(f)) for k, f in flags.items()}
    segments = {k: data.draw(mutated(s)) for k, s in segments.items()}
    contexts = contexts + [data.draw(nasty_context(c)) for c in contexts]
    keys = list(flags) + [S.MISSING_FLAG_KEY]
    cases = [(k, c, data.draw(nasty)) for c in contexts for k in keys]
    assert len(cases) >= 10
    buckets = [(data.draw(nasty), data.draw(nasty), data.draw(st.sampled_from([None, 0, -5, 61, True, 2 ** 70])),
                data.draw(nasty)) for _ in range(3)]
    compare(worker, flags, segments, cases, buckets)
