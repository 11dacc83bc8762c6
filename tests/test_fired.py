"""FiredDeferred (what TwistedLDClient returns for in-memory evaluations) behaves exactly as
``defer.succeed``'s Deferred: the same callbacks called with the same arguments in the same order,
the same results, failures, chaining, pausing, warnings and unhandled-error logging."""
from __future__ import annotations

import gc
import warnings
from typing import Any, Callable, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet import defer
from twisted.internet.defer import Deferred, succeed
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure

from ldfast._fired import FiredDeferred, fired


class Boom(Exception):
    pass


# An operation is (name, argument); run() applies a list of them to a Deferred and returns the trace
# of everything observable: each callback's input, what the Deferred ends with, and what is pending.
OPS = st.one_of(
    st.tuples(st.just("callback"), st.sampled_from(
        ["plus", "raise", "return_failure", "return_fired", "return_pending", "reenter", "reenter_raise", "reenter_pending", "none"])),
    st.tuples(st.just("errback"), st.sampled_from(["recover", "reraise", "return_failure"])),
    st.tuples(st.just("both"), st.sampled_from(["plus", "recover", "raise"])),
    st.tuples(st.just("callbacks"), st.integers(0, 3)),
    st.tuples(st.just("pause"), st.none()),
    st.tuples(st.just("unpause"), st.none()),
    st.tuples(st.just("fire_pending"), st.booleans()),
)


def _describe(value: Any) -> Any:
    if isinstance(value, Failure):
        return ("failure", value.type.__name__, str(value.value))
    return ("value", value)


def run(d: "Deferred[Any]", ops: List[Any]) -> List[Any]:
    trace: List[Any] = []
    pending: List["Deferred[Any]"] = []
    paused = 0

    def cb(kind: str) -> Callable[..., Any]:
        def callback(result: Any, *args: Any, **kwargs: Any) -> Any:
            trace.append(("called", kind, _describe(result), args, kwargs))
            if kind == "plus":
                return (_describe(result), "+")
            if kind == "none":
                return None
            if kind in ("raise", "reraise"):
                raise Boom(kind)
            if kind == "return_failure":
                return Failure(Boom("returned"))
            if kind == "return_fired":
                return succeed(("inner", result))
            if kind == "return_pending":
                inner: Deferred[Any] = Deferred()
                pending.append(inner)
                return inner
            if kind == "reenter":
                d.addCallback(cb("plus"))
                return ("reentered", result)
            if kind == "reenter_raise":
                d.addBoth(cb("recover"))
                raise Boom(kind)
            if kind == "reenter_pending":
                d.addCallback(cb("plus"))
                later: Deferred[Any] = Deferred()
                pending.append(later)
                return later
            if kind == "recover":
                return ("recovered", _describe(result))
            raise AssertionError(kind)
        return callback

    for name, arg in ops:
        if name == "callback":
            d.addCallback(cb(arg), "x", k=1)
        elif name == "errback":
            d.addErrback(cb(arg))
        elif name == "both":
            d.addBoth(cb(arg))
        elif name == "callbacks":
            d.addCallbacks(cb("plus"), cb("recover"), callbackArgs=(arg,), errbackArgs=(arg, arg),
                           callbackKeywords={"n": arg} if arg else None)
        elif name == "pause":
            d.pause()
            paused += 1
        elif name == "unpause" and paused:
            d.unpause()
            paused -= 1
        elif name == "fire_pending" and pending:
            inner = pending.pop(0)
            if arg:
                inner.callback("inner-value")
            else:
                inner.errback(Failure(Boom("inner")))
        trace.append(("after", name, getattr(d, "paused", 0), len(d._callbacks)))
    while paused:
        d.unpause()
        paused -= 1
    while pending:
        pending.pop(0).callback("late")
    outcome: List[Any] = []
    d.addBoth(lambda r: outcome.append(_describe(r)))  # consumes a failure: nothing left unhandled
    trace.append(("end", outcome))
    return trace


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(value=st.one_of(st.none(), st.integers(), st.text(max_size=3)), ops=st.lists(OPS, max_size=10))
def test_same_trace_as_succeed(value: Any, ops: List[Any]) -> None:
    expected = run(succeed(value), ops)
    d = fired(value)
    assert type(d) is FiredDeferred
    assert run(d, ops) == expected


def test_is_a_fired_deferred() -> None:
    d = fired(42)
    assert isinstance(d, Deferred)
    assert d.called and d.result == 42


def test_gather_results_and_deferred_list() -> None:
    got: List[Any] = []
    defer.gatherResults([fired(1), fired("a"), succeed(None)]).addCallback(got.append)
    assert got == [[1, "a", None]]
    pending: Deferred[Any] = Deferred()
    dl = defer.DeferredList([fired(1), pending], consumeErrors=True)
    dl.addCallback(got.append)
    assert len(got) == 1
    pending.errback(Failure(Boom("x")))
    assert got[1][0] == (True, 1)
    assert got[1][1][0] is False and got[1][1][1].check(Boom)


def test_inline_callbacks_and_await() -> None:
    @defer.inlineCallbacks
    def with_yield() -> Any:
        a = yield fired(2)
        b = yield fired(3)
        return a * b

    async def with_await() -> Any:
        return (await fired(5)) + (await fired(6))

    got: List[Any] = []
    with_yield().addCallback(got.append)
    defer.ensureDeferred(with_await()).addCallback(got.append)
    assert got == [6, 11]


def test_chained_into_another_deferred() -> None:
    outer: Deferred[Any] = Deferred()
    got: List[Any] = []
    outer.addCallback(lambda _: fired("from fired")).addCallback(got.append)
    outer.callback(None)
    assert got == ["from fired"]
    target: Deferred[Any] = Deferred()
    fired("chained").chainDeferred(target)
    target.addCallback(got.append)
    assert got == ["from fired", "chained"]


def test_returning_itself_warns_as_twisted_does() -> None:
    for make in (succeed, fired):
        d = make(1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            d.addCallback(lambda _: d)
        assert [w.category for w in caught] == [DeprecationWarning], make
        d.addBoth(lambda _: None)


@pytest.mark.parametrize("make", [succeed, fired], ids=["succeed", "fired"])
def test_unhandled_failure_is_logged_when_collected(make: Callable[[Any], "Deferred[Any]"]) -> None:
    events: List[Any] = []
    globalLogPublisher.addObserver(events.append)
    try:
        d = make(1)
        d.addCallback(lambda _: 1 / 0)
        del d
        gc.collect()
    finally:
        globalLogPublisher.removeObserver(events.append)
    logged = [e for e in events if e.get("log_failure") is not None]
    assert len(logged) == 1
    assert logged[0]["log_failure"].check(ZeroDivisionError)


def test_debug_mode_records_creator_and_invoker() -> None:
    defer.setDebugging(True)
    try:
        d = fired(1)
        assert d._debugInfo is not None and d._debugInfo.creator and d._debugInfo.invoker
        got: List[Any] = []
        d.addCallback(got.append)
        assert got == [1]
    finally:
        defer.setDebugging(False)


def test_twisted_client_variation_is_fired() -> None:
    """The path the shortcut is for: the Twisted client's in-memory variation."""
    import ldfast
    from ldfast.integrations.test_data import TestData
    from ldfast.twisted import TwistedLDClient

    td = TestData.data_source()
    td.update(td.flag("f").variation_for_all(True))
    client = TwistedLDClient(config=ldfast.Config("k", update_processor_class=td, send_events=False))
    try:
        d = client.variation("f", {"key": "u"}, False)
        assert type(d) is FiredDeferred
        got: List[Any] = []
        defer.gatherResults([d, client.variation("missing", {"key": "u"}, "dflt")]).addCallback(got.append)
        assert got == [[True, "dflt"]]
    finally:
        client.close()


def test_twisted_own_deferred_tests_pass_with_fired_as_succeed(tmp_path: Any) -> None:
    """Twisted's own Deferred test suite, run with ``defer.succeed`` replaced by ``fired`` (in a
    subprocess: nothing global is patched here), passes as it does unpatched."""
    import os
    import subprocess
    import sys

    calls = tmp_path / "calls"
    (tmp_path / "sitecustomize.py").write_text(
        "import atexit\n"
        "import twisted.internet.defer as defer\n"
        "from ldfast._fired import fired\n"
        "count = [0]\n"
        "def succeed(value):\n"
        "    count[0] += 1\n"
        "    return fired(value)\n"
        "defer.succeed = succeed\n"
        "atexit.register(lambda: open(%r, 'w').write(str(count[0])))\n" % str(calls))
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), repo]))
    run = subprocess.run([sys.executable, "-m", "twisted.trial", "--temp-directory", str(tmp_path / "trial"),
                          "twisted.test.test_defer", "twisted.internet.test.test_inlinecb"],
                         cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "PASSED" in run.stdout
    assert int(calls.read_text()) >= 10  # the suite did make its Deferreds through fired()
