"""Module-level checks run against each twin directly (the ``impl`` fixture: "c" and "py")."""
import importlib
import math

import pytest


def load(name, impl):
    return importlib.import_module("ldfast._ext.%s_%s" % (name, impl))


def test_bucketing_pinned_values(impl):
    b = load("bucketing", impl)
    p = b.bucket_prefix("hashKey", "saltyA", None)
    assert b.bucket_value(p, "userKeyA") == pytest.approx(0.42157587, abs=1e-8)
    assert b.bucket_value(p, "userKeyB") == pytest.approx(0.67084849, abs=1e-8)
    assert b.bucket_value(b.bucket_prefix("hashKey", "saltyA", 61), "userKeyA") == pytest.approx(0.09801206, abs=1e-8)
    assert b.bucket_value(p, 33333) == b.bucket_value(p, "33333")
    for not_bucketable in (33333.0, True, None, [1], {"a": 1}, math.nan):
        assert b.bucket_value(p, not_bucketable) == 0.0
    with pytest.raises(UnicodeEncodeError):
        b.bucket_value(p, "\ud800")  # as the official SDK: the evaluation fails with EXCEPTION


def test_bucketing_long_and_multibyte_values_match_the_other_twin(impl):
    mine, other = load("bucketing", impl), load("bucketing", "py" if impl == "c" else "c")
    for value in ("", "é" * 40, "x" * 55, "x" * 56, "x" * 64, "漢" * 1000, 2 ** 80, -7):
        for seed in (None, 0, -3):
            p = mine.bucket_prefix("k" * 30, "s", seed)
            assert mine.bucket_value(p, value) == other.bucket_value(p, value)


@pytest.mark.parametrize("op,values,value,expected", [
    ("in", [1, "a", True], 1.0, True), ("in", [1], True, False), ("in", [[1]], [1], True),
    ("startsWith", ["ab", "x"], "xyz", True), ("endsWith", [""], "q", True), ("contains", [1, "b"], "abc", True),
    ("matches", ["^a", "("], "abc", True), ("lessThan", [1, 10], 5, True), ("greaterThanOrEqual", [5.5], 5, False),
    ("before", ["2020-01-01T00:00:00Z"], 0, True), ("after", [0], "1969-12-31T23:59:59Z", False),
    ("semVerLessThan", ["1.0.0"], "1.0.0-rc.1", True), ("semVerEqual", ["2"], "2.0.0+b", True),
])
def test_match_value(impl, op, values, value, expected):
    o = load("operators", impl)
    code = o.OP_CODES[op]
    assert o.match_value(code, o.preprocess(code, values), value) is expected


def test_numeric_overflow_raises_only_when_reached(impl):
    o = load("operators", impl)
    code = o.OP_CODES["greaterThan"]
    pre = o.preprocess(code, [1, 10 ** 400])
    assert o.match_value(code, pre, 5) is True           # matched before the huge value
    with pytest.raises(OverflowError):
        o.match_value(code, pre, 0)
    assert o.match_value(code, pre, "x") is False        # not a number: never compared
