"""Operators: each one's edge cases, through a one-clause flag so the whole path is exercised."""
import pytest

from tests.helpers import local_client


def _match(op, clause_values, value, negate=False):
    flag = {"key": "f", "version": 1, "on": True, "variations": [False, True],
            "fallthrough": {"variation": 0},
            "rules": [{"id": "r", "variation": 1,
                       "clauses": [{"attribute": "attr", "op": op, "values": clause_values, "negate": negate}]}]}
    client = local_client({"f": flag})
    try:
        user = {"key": "u"} if value is _MISSING else {"key": "u", "custom": {"attr": value}}
        return client.variation("f", user, None)
    finally:
        client.close()


_MISSING = object()

CASES = [
    # in: JSON equality, bool never equals number
    ("in", ["a", "b"], "b", True), ("in", [1], 1.0, True), ("in", [1.0], 1, True),
    ("in", [1], True, False), ("in", [True], 1, False), ("in", [True], True, True),
    ("in", ["1"], 1, False), ("in", [[1, 2]], [1, 2], False),  # arrays: each element is tested
    ("in", [{"a": 1}], {"a": 1}, True), ("in", [None], [None], True), ("in", [0], False, False),
    # strings
    ("startsWith", ["ab"], "abc", True), ("startsWith", ["ab"], "xab", False), ("startsWith", [""], "x", True),
    ("startsWith", [1], "1", False), ("endsWith", ["bc"], "abc", True), ("endsWith", ["bc"], 5, False),
    ("contains", ["b"], "abc", True), ("contains", ["B"], "abc", False), ("contains", [""], "", True),
    ("matches", ["^a.c$"], "abc", True), ("matches", ["b"], "abc", True), ("matches", ["["], "[", False),
    ("matches", ["\\d+"], 12, False),
    # numbers
    ("lessThan", [10], 9.5, True), ("lessThan", [10], 10, False), ("lessThanOrEqual", [10], 10, True),
    ("greaterThan", [1, 100], 50, True), ("greaterThanOrEqual", [5], 5.0, True), ("greaterThan", [1], True, False),
    ("lessThan", ["10"], 5, False), ("lessThan", [10], "5", False),
    # dates
    ("before", ["2020-01-01T00:00:00Z"], 1577836799999, True), ("before", [1577836800000], "2020-01-01T00:00:00Z", False),
    ("after", ["2020-01-01T00:00:00+01:00"], "2020-01-01T00:00:00Z", True),
    ("after", ["2020-01-01T00:00:00"], 99999999999999, False), ("before", ["nonsense"], 1, False),
    ("after", [0], "1970-01-01T00:00:00.001Z", True), ("before", [True], 0, False),
    # semver
    ("semVerEqual", ["2.0.0"], "2", True), ("semVerEqual", ["1.2.3+a"], "1.2.3+b", True),
    ("semVerLessThan", ["2.0.0"], "2.0.0-rc.1", True), ("semVerLessThan", ["1.0.0-alpha.beta"], "1.0.0-alpha.1", True),
    ("semVerGreaterThan", ["1.0.0-alpha"], "1.0.0-alpha.1", True), ("semVerGreaterThan", ["1.0.0-2"], "1.0.0-10", True),
    ("semVerEqual", ["v1.0.0"], "v1.0.0", False), ("semVerEqual", ["1.0.0"], 1, False),
    # unknown operator never matches
    ("fooBar", ["x"], "x", False),
]


@pytest.mark.parametrize("op,values,value,expected", CASES)
def test_operator(op, values, value, expected):
    assert _match(op, values, value) is expected


@pytest.mark.parametrize("op,values,value,expected", CASES)
def test_operator_negated(op, values, value, expected):
    assert _match(op, values, value, negate=True) is (not expected)


def test_missing_attribute_is_false_even_when_negated():
    assert _match("in", ["x"], _MISSING, negate=True) is False
