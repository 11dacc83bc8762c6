"""Hypothesis strategies for the differential test (tests/test_differential.py).

They generate random but realistic-and-adversarial LaunchDarkly data: flags, segments and
evaluation contexts. Keys, kinds, attribute names and attribute values are drawn from SMALL
pools shared between the flag/segment generators and the context generator. Most contexts are
also built from "recipes" taken from the rules of the data set they are evaluated against (the
clause's attribute set to a value equal or close to a clause value, the key of a segment's
included list, ...), so that targets, segments and rule clauses match often instead of almost
never.

Everything generated here is accepted by the official SDK's parser (launchdarkly-server-sdk
9.20.0): integers where it wants ints (a JSON boolean passes its int check, so booleans are
sometimes used on purpose), strings where it wants strings, and so on. The test double-checks
that with the official decoder and skips anything it rejects.

Note: Hypothesis draws boundary values (0, the first element of a list) more often than others,
so common choices come first in the lists below and rare ones are drawn with ``rare``.

Public strategies: ``examples(n_contexts)``, ``data_sets()``, ``context_dicts()``, ``clauses()``."""

import copy
import functools

from hypothesis import strategies as st

# ---------------------------------------------------------------------------------------------
# Shared pools
# ---------------------------------------------------------------------------------------------

# Context kinds that contexts actually use, plus one that only flags/segments mention.
CONTEXT_KINDS = ["user", "org", "device"]
FLAG_ONLY_KINDS = ["other"]
ALL_KINDS = CONTEXT_KINDS + FLAG_ONLY_KINDS

# Context keys. "33333" collides with the int attribute value 33333 used for bucketBy.
CONTEXT_KEYS = ["a", "b", "c", "user-1", "x:y", "33333", "%e", "d", "e", "ü", "\U0001f600", "a\x00",
                "\ud800"]

FLAG_KEYS = ["f0", "f1", "f2", "f3", "f4", "f5"]
MISSING_FLAG_KEY = "missing-flag"
SEGMENT_KEYS = ["s0", "s1", "s2", "s3"]
MISSING_SEGMENT_KEY = "missing-seg"

# Custom attribute names set on contexts. Names containing "/" or "~" are legal literal names.
CUSTOM_ATTRS = ["email", "age", "score", "version", "created", "tags", "nested", "group",
                "/slash", "a/b", "t~1", "bucket"]

STRINGS = ["a", "b", "abc", "", "A", "ABC", "foo@example.com", "bar@test.org", "x:y", "user-1",
           "org", "user", "device", "é", "a.b", "33333", "1", "true", "a\x00b", "\ud800", "\U0001f600"]
SEMVERS = ["1.2.3", "2", "2.1", "2.1-beta", "2-beta", "2.1-beta.1+build", "v1", "v2.0.0",
           "1.2.3+build", "1.2.3+other", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
           "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.0-0",
           "1.0.0-01", "1.0.0-0a", "02.1.0", "2.01", "1.2.3.4", "2.", "1..2", "10.0.0",
           "1.10.0", "2.0.0", "1.2", "0.0.0", "1.2.3-", "1.0.0-alpha.01", "1.0.0-x-y.z",
           "1.0.0+", "1.2.3-beta+build.1", "3.0", "2.1.0", "18446744073709551616.0.0",
           "1.0.0-18446744073709551616", "1.0.0-18446744073709551615", "1.0.0-a.b.c.d.e.1"]
DATE_STRINGS = ["2020-01-01T00:00:00Z", "2020-01-01T00:00:00z", "2020-01-01t00:00:00Z",
                "2020-01-01 00:00:00Z", "2020-01-01T01:00:00+01:00",
                "2019-12-31T23:00:00-01:00", "2020-01-01T00:00:00.123Z",
                "2020-01-01T00:00:00.123456789Z", "2020-01-01T00:00:00.5+00:00",
                "2020-01-01T00:00:00.000001Z", "2020-01-01T00:00:00", "2020-01-01",
                "2020-01-01T00:00Z", "2020-01-01T00:00:60Z", "1577836800000",
                "2020-06-15T12:30:45.999999Z", "2021-01-01T00:00:00+05:30",
                "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z", "not a date",
                "2020-01-01T00:00:00-00:00", "2020-02-30T00:00:00Z", "2020-01-01T24:00:00Z",
                "20200101T000000Z", "2020-01-01T00:00:00+0100", "2020-01-01T00:00:00,5Z",
                "2020-01-01T00Z", "2020-W01-3T00:00:00Z", "2020-01-01T00:00:00.1234567+00:00",
                " 2020-01-01T00:00:00Z", "2020-01-01T00:00:00+01:00:30", "2020-01-01T00:00:00Zz"]
DATE_NUMBERS = [1577836800000, 1577836800000.0, 1577836800001, 1577836799999.5, 0, -1,
                1593000000000, 1609459200000, 1577836800123, 1577836800123.456]
NUMBERS = [0, 1, 1.0, -1, 1.5, 2, 2.0, 10, 99, 100.25, 2 ** 53, 2 ** 53 + 1, 1e20, 33333,
           33333.0, -0.5, 0.0, 3, 30, -0.0, 10 ** 20, 2 ** 64, -(2 ** 63) - 1, 10 ** 400]
BOOLS = [True, False]
REGEXES = ["^a", "c$", "a.*c", "[", "(", "\\d+", "(?i)ABC", ".", "", "a{2}", "\\",
           "@example\\.com$", "^$", "é", "(?P<n>a)b", "\\w+@\\w+", "^1\\.", "*", "\\Aa\\Z",
           "^(?!a)", "a|b", "[[:alpha:]]", "\\p{L}", "(?<=a)b", "$"]
COMPOUND = [{"a": 1}, {"a": {"b": "c"}}, {}, [1, 2], ["a", "b"], [], [[1]], [{"a": 1}],
            {"a": 1.0}, [None], {"a": True}]
NESTED_OBJECTS = [
    {"a": {"b": 1}, "0": "zero", "x/y": 2, "t~": 3},
    {"a": {"b": "c"}},
    {"a": [1, 2], "b": None},
    {"a": "str"},
    {"a": {"b": {"c": True}}},
    {"a": {"b": ["c", "d"]}},
    {},
]
# A few values that are used everywhere, so that "in" clauses match often.
HOT_VALUES = ["a", "b", 1, 1.0, True, "1.2.3", "2020-01-01T00:00:00Z", 1577836800000, 33333, "abc"]

SCALARS = STRINGS + SEMVERS + DATE_STRINGS + DATE_NUMBERS + NUMBERS + BOOLS

# Attribute references used by clauses / bucketBy.
# Without a contextKind the attribute is a LITERAL name; with one it is a PATH.
LITERAL_ATTRS = CUSTOM_ATTRS + ["kind", "key", "name", "anonymous", "/nested/a", "/kind",
                                "nested/a", "_meta", "missing"]
VALID_PATH_ATTRS = ["/nested/a/b", "/nested/a", "/nested/0", "/nested/x~1y", "/nested/t~0",
                    "/tags/0", "kind", "/kind", "key", "/key", "/name", "name", "age", "/age",
                    "/a~1b", "/t~01", "~", "/email", "/anonymous", "/version", "/created",
                    "/bucket", "/score", "/nested", "/group", "/tags", "/nested/a/b/c"]
INVALID_ATTRS = ["", "/", "//x", "/a~2", "/nested/", "/~", "/a~", "/nested//a"]

OPERATORS = ["in", "endsWith", "startsWith", "matches", "contains", "lessThan",
             "lessThanOrEqual", "greaterThan", "greaterThanOrEqual", "before", "after",
             "semVerEqual", "semVerLessThan", "semVerGreaterThan"]
UNKNOWN_OPS = ["unknownOp", "In", ""]


class _Absent:
    def __repr__(self):
        return "ABSENT"


ABSENT = _Absent()  # "leave the property out"


def put(d, name, value):
    if value is not ABSENT:
        d[name] = value


# ---------------------------------------------------------------------------------------------
# Drawing helpers. Generation is imperative (functions taking ``draw``) over a few cached primitive
# strategies: building new strategy objects on every draw costs more than the draws themselves.
# ---------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _ints(lo, hi):
    return st.integers(lo, hi)


_BOOLS = st.booleans()


def pick(draw, seq):
    """One element of ``seq`` (earlier elements are drawn a bit more often)."""
    return seq[draw(_ints(0, len(seq) - 1))] if len(seq) > 1 else seq[0]


def rare(draw, n=20):
    """True about once in ``n`` draws. (The rare outcome is in the middle of the range, because
    Hypothesis over-draws boundary values.)"""
    return draw(_ints(0, n - 1)) == n // 2


def coin(draw):
    return draw(_BOOLS)


def pick_optional(draw, values, n_absent=2):
    """One of ``values``, or ABSENT (property left out)."""
    i = draw(_ints(0, len(values) + n_absent - 1))
    return ABSENT if i < n_absent else values[i - n_absent]


def int_like(draw, value):
    """An "int" for the official parser: ``value``, or rarely a JSON boolean (it passes the int check)."""
    return pick(draw, [True, False]) if rare(draw, 25) else value


def pick_many(draw, seq, lo, hi, unique=False):
    n = draw(_ints(lo, hi))
    out = []
    for _ in range(n):
        v = pick(draw, seq)
        if unique and v in out:
            continue
        out.append(v)
    return out


# ---------------------------------------------------------------------------------------------
# Generic JSON
# ---------------------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=4),
)

json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=5,
)

_HOT_OR_SCALAR = [HOT_VALUES, SCALARS, SCALARS]


def pool_scalar(draw):
    return pick(draw, pick(draw, _HOT_OR_SCALAR))


def pool_value(draw):
    i = draw(_ints(0, 5))
    if i <= 3:
        return pool_scalar(draw)
    if i == 4:
        return copy.deepcopy(pick(draw, COMPOUND))
    return None


VARIATION_VALUES = ["on", "off", True, False, 0, 1, 1.0, "", None, [], {}, [1, "a"],
                    {"x": {"y": 1}}, -0.0, 2 ** 63]


def variation_value(draw):
    if coin(draw):
        return copy.deepcopy(pick(draw, VARIATION_VALUES))
    return draw(json_values)


# ---------------------------------------------------------------------------------------------
# Grammar-built timestamps and versions (well-formed, lenient and broken variants)
# ---------------------------------------------------------------------------------------------

def _digits(draw, n, lo, hi, odd=()):
    if odd and rare(draw, 8):
        return pick(draw, list(odd))
    return str(draw(_ints(lo, hi))).zfill(n)


def date_string(draw):
    date = "%s-%s-%s" % (_digits(draw, 4, 1969, 2030, ("0001", "9999", "20", "+2020")),
                         _digits(draw, 2, 1, 12, ("00", "13", "1")),
                         _digits(draw, 2, 1, 28, ("00", "29", "30", "31", "32", "1")))
    if rare(draw, 12):
        return date + pick(draw, ["", "Z"])
    sep = pick(draw, ["T", "T", "T", "t", " ", "_", "TT"])
    hms = "%s:%s" % (_digits(draw, 2, 0, 23, ("24", "1")), _digits(draw, 2, 0, 59, ("60", "5")))
    if not rare(draw, 10):
        hms += ":" + _digits(draw, 2, 0, 59, ("60", "61", "5"))
        if coin(draw):
            hms += pick(draw, [".", ".", ","]) + "".join(
                str(draw(_ints(0, 9))) for _ in range(pick(draw, [3, 1, 6, 9, 2, 0, 12])))
    offset = pick(draw, ["Z", "Z", "z", "+00:00", "-00:00", "+01:00", "-05:30", "+14:00", "",
                         "+0100", "+01", "+24:00", "+00:00:01", "+01:00:00.5", "ZZ", "UTC"])
    return date + sep + hms + offset


def semver_string(draw):
    def num():
        return pick(draw, ["0", "1", "2", "10", "01", "00", "18446744073709551616", "9"])

    parts = [num() for _ in range(pick(draw, [3, 3, 3, 1, 2, 4]))]
    v = ".".join(parts)
    if rare(draw, 12):
        v = pick(draw, ["v", "V", "=", " ", ""]) + v
    if coin(draw):
        ids = [pick(draw, ["alpha", "beta", "rc", "1", "2", "11", "01", "0", "x-y", "a1", "-", ""])
               for _ in range(pick(draw, [1, 2, 3]))]
        v += "-" + ".".join(ids)
    if rare(draw, 4):
        v += "+" + pick(draw, ["build", "build.1", "001", "", "a.b", "x+y"])
    return v


# ---------------------------------------------------------------------------------------------
# Clauses
# ---------------------------------------------------------------------------------------------

_OP_SPECIFIC = {
    "matches": REGEXES,
    "before": DATE_STRINGS + DATE_NUMBERS,
    "after": DATE_STRINGS + DATE_NUMBERS,
    "semVerEqual": SEMVERS,
    "semVerLessThan": SEMVERS,
    "semVerGreaterThan": SEMVERS,
    "lessThan": NUMBERS + DATE_NUMBERS + [True, "1"],
    "lessThanOrEqual": NUMBERS + DATE_NUMBERS + [True, "1"],
    "greaterThan": NUMBERS + DATE_NUMBERS + [True, "1"],
    "greaterThanOrEqual": NUMBERS + DATE_NUMBERS + [True, "1"],
    "startsWith": STRINGS + ["@example.com", "foo", "ab", "bc", ".", "1.", 1],
    "endsWith": STRINGS + ["@example.com", "foo", "ab", "bc", ".", "1.", 1],
    "contains": STRINGS + ["@example.com", "foo", "ab", "bc", ".", "1.", 1],
    "in": CONTEXT_KEYS + CONTEXT_KINDS + HOT_VALUES,
}
_CLAUSE_OPS = OPERATORS + ["in", "in", "segmentMatch", "segmentMatch"]
_CLAUSE_KINDS = [ABSENT, ABSENT, ABSENT, "user", "org", None, "", "device", "other"]


def clause_values(draw, op):
    specific = _OP_SPECIFIC.get(op)
    values = []
    for _ in range(pick(draw, [1, 2, 1, 3, 0, 4])):
        if specific is None or rare(draw, 5) or (op == "in" and coin(draw)):
            values.append(pool_value(draw))
        elif op in ("before", "after") and rare(draw, 3):
            values.append(date_string(draw))
        elif op.startswith("semVer") and rare(draw, 3):
            values.append(semver_string(draw))
        else:
            values.append(pick(draw, specific))
    return values


def gen_clause(draw):
    op = pick(draw, UNKNOWN_OPS) if rare(draw, 20) else pick(draw, _CLAUSE_OPS)
    clause = {}
    context_kind = pick(draw, _CLAUSE_KINDS)
    if rare(draw, 25):
        attribute = pick(draw, INVALID_ATTRS)
    elif context_kind in (ABSENT, None, ""):
        attribute = pick(draw, LITERAL_ATTRS)
    else:
        attribute = pick(draw, VALID_PATH_ATTRS + LITERAL_ATTRS)
    if op == "segmentMatch":
        attribute = pick(draw, ["", "segmentMatch", "key", attribute])
        values = pick_many(draw, SEGMENT_KEYS + [MISSING_SEGMENT_KEY], 0, 3)
        if rare(draw, 25):
            values.append(pick(draw, [1, True, None]))
    else:
        values = clause_values(draw, op)
    clause["attribute"] = attribute
    clause["op"] = op
    clause["values"] = values
    put(clause, "contextKind", context_kind)
    put(clause, "negate", pick_optional(draw, [False, True, True, None], n_absent=3))
    return clause


clauses = st.composite(gen_clause)


# ---------------------------------------------------------------------------------------------
# Variations, rollouts
# ---------------------------------------------------------------------------------------------

def variation_index(draw, n_variations):
    """Mostly valid, sometimes just out of range on either side."""
    if rare(draw, 30):
        index = pick(draw, [-1, n_variations, n_variations + 3, 2 ** 64, -(2 ** 63) - 1])
    else:
        index = draw(_ints(0, max(n_variations - 1, 0)))
    return int_like(draw, index)


_ODD_WEIGHTS = [0, 1, 50000, 99999, 100000, -1, 200000, 33333, 2 ** 64, -(2 ** 63), 10 ** 400]


def weights_list(draw, n):
    if not rare(draw, 5):  # adds up to exactly 100000
        cuts = sorted(draw(_ints(0, 100000)) for _ in range(n - 1))
        bounds = [0] + cuts + [100000]
        return [bounds[i + 1] - bounds[i] for i in range(n)]
    return [int_like(draw, pick(draw, _ODD_WEIGHTS) if coin(draw) else draw(_ints(0, 100000)))
            for _ in range(n)]


_ROLLOUT_KINDS = [ABSENT, ABSENT, ABSENT, "user", "org", None, "", "device", "other"]
_LITERAL_BUCKET_BY = ["bucket", "age", "score", "email", "key", "name", "missing", "/nested/a",
                      "nested", "tags", "anonymous", "kind", "/bucket"]
_PATH_BUCKET_BY = ["/bucket", "bucket", "/nested/a/b", "/nested/0", "/key", "age", "/score",
                   "/email", "kind", "/nested/a"]


def bucket_by(draw, context_kind, n_absent):
    i = draw(_ints(0, n_absent + 2))
    if i < n_absent:
        return ABSENT
    if i == n_absent:
        return pick(draw, ["", None])
    if rare(draw, 15):
        return pick(draw, INVALID_ATTRS)
    return pick(draw, _LITERAL_BUCKET_BY if context_kind in (ABSENT, None, "") else _PATH_BUCKET_BY)


_LONG_TEXT = st.text(min_size=1, max_size=150)


def gen_rollout(draw, n_variations):
    if n_variations >= 10 and not rare(draw, 4):
        # Fine-grained: the variation index reveals the bucket to 1/n_variations.
        n = n_variations
        rollout = {"variations": [{"variation": i, "weight": 100000 // n} for i in range(n)]}
        put(rollout, "bucketBy", bucket_by(draw, ABSENT, 2))
        put(rollout, "seed", pick_optional(draw, [61, -5, 2 ** 70], n_absent=2))
        return rollout
    n = 0 if rare(draw, 15) else pick(draw, [2, 3, 1, 4])
    wvs = []
    for w in weights_list(draw, n) if n else []:
        wv = {"variation": variation_index(draw, n_variations), "weight": w}
        put(wv, "untracked", pick_optional(draw, [False, True, None], n_absent=3))
        wvs.append(wv)
    rollout = {"variations": wvs}
    context_kind = pick(draw, _ROLLOUT_KINDS)
    put(rollout, "bucketBy", bucket_by(draw, context_kind, 3))
    put(rollout, "contextKind", context_kind)
    seed = pick_optional(draw, [None, 61, 0, -5, 123456789, 2 ** 40, 61, 2 ** 70, -(2 ** 64)])
    put(rollout, "seed", int_like(draw, seed) if seed not in (ABSENT, None) else seed)
    put(rollout, "kind", pick_optional(draw, ["experiment", "experiment", "rollout", "Experiment", None]))
    return rollout


def fill_variation_or_rollout(draw, n_variations, target):
    """Fill ``target`` (a rule or fallthrough dict) with variation and/or rollout."""
    if rare(draw, 25):
        choice = pick(draw, ["neither", "null"])
    else:
        choice = pick(draw, ["variation", "rollout", "variation", "rollout", "both"])
    if choice in ("variation", "both"):
        target["variation"] = variation_index(draw, n_variations)
    if choice in ("rollout", "both"):
        target["rollout"] = gen_rollout(draw, n_variations)
    if choice == "null":
        target["variation"] = None
        target["rollout"] = None
    return target


# ---------------------------------------------------------------------------------------------
# Flags
# ---------------------------------------------------------------------------------------------

_TARGET_KEYS = CONTEXT_KEYS + ["zzz"]
_TARGET_KINDS = ["user", "org", ABSENT, "device", None, "", "other"]


def gen_targets(draw, n_variations, with_kind):
    result = []
    for _ in range(pick(draw, [1, 2, 0, 3])):
        t = {"variation": variation_index(draw, n_variations),
             "values": pick_many(draw, _TARGET_KEYS, 0, 3, unique=True)}
        if with_kind:
            put(t, "contextKind", pick(draw, _TARGET_KINDS))
        result.append(t)
    return result


def gen_rule(draw, n_variations, rule_index):
    n_clauses = 0 if rare(draw, 12) else pick(draw, [1, 2, 1, 3])
    rule = {"clauses": [gen_clause(draw) for _ in range(n_clauses)]}
    put(rule, "id", pick(draw, ["rule-%d" % rule_index, ABSENT, "rule-%d" % rule_index, "", None, "dup"]))
    put(rule, "trackEvents", pick_optional(draw, [False, True, None]))
    fill_variation_or_rollout(draw, n_variations, rule)
    return rule


def gen_version(draw):
    return pick(draw, [True, 2 ** 63, 0]) if rare(draw, 25) else draw(_ints(0, 1000))


def gen_flag(draw, key):
    version = gen_version(draw)
    if rare(draw, 30):
        return {"key": key, "version": version, "deleted": True}
    n = 0 if rare(draw, 25) else 25 if rare(draw, 12) else pick(draw, [2, 3, 1, 4])
    variations = [variation_value(draw) for _ in range(n)]
    flag = {"key": key, "version": version}
    if n or coin(draw):
        flag["variations"] = variations
    put(flag, "on", pick(draw, [False, ABSENT, None]) if rare(draw, 10) else True)
    off = draw(_ints(0, 3))
    put(flag, "offVariation", ABSENT if off == 0 else None if off == 3 else variation_index(draw, n))
    put(flag, "salt", draw(_LONG_TEXT) if rare(draw, 10) else pick(draw, ["salt", ABSENT, "", "saltyA", None, "x.y"]))
    if rare(draw, 4):
        # Mostly chains towards "later" flags (no cycle); sometimes any key (cycles, self-reference).
        later = FLAG_KEYS[FLAG_KEYS.index(key) + 1:] + [MISSING_FLAG_KEY]
        flag["prerequisites"] = [
            {"key": pick(draw, FLAG_KEYS) if rare(draw, 6) else pick(draw, later),
             "variation": int_like(draw, pick(draw, [0, 1, 0, 1, -1, 2]))}
            for _ in range(pick(draw, [1, 2]))]
    elif coin(draw):
        flag["prerequisites"] = []
    if coin(draw):
        flag["targets"] = gen_targets(draw, n, with_kind=False)
    if coin(draw):
        flag["contextTargets"] = [] if rare(draw, 5) else gen_targets(draw, n, with_kind=True)
    n_rules = pick(draw, [1, 2, 3, 0])
    if n_rules or coin(draw):
        flag["rules"] = [gen_rule(draw, n, i) for i in range(n_rules)]
    fallthrough = pick(draw, ["empty", "absent", "null"]) if rare(draw, 20) else "vr"
    if fallthrough == "vr":
        flag["fallthrough"] = fill_variation_or_rollout(draw, n, {})
    elif fallthrough == "empty":
        flag["fallthrough"] = {}
    elif fallthrough == "null":
        flag["fallthrough"] = None
    put(flag, "trackEvents", pick_optional(draw, [False, True, None]))
    put(flag, "trackEventsFallthrough", pick_optional(draw, [False, True, None]))
    # Far past or far future, so that time-dependent output is deterministic.
    put(flag, "debugEventsUntilDate", pick_optional(
        draw, [None, 1, 1000.5, 32503680000000, 32503680000000.5, True, 2 ** 64], n_absent=5))
    put(flag, "clientSide", pick_optional(draw, [True, False], n_absent=1))
    put(flag, "excludeFromSummaries", pick_optional(draw, [True, False]))
    put(flag, "samplingRatio", pick_optional(draw, [1, 0, 2]))
    return flag


# ---------------------------------------------------------------------------------------------
# Segments
# ---------------------------------------------------------------------------------------------

_SEGMENT_TARGET_KINDS = ["org", ABSENT, "user", "device", None, "", "other"]


def gen_segment_targets(draw):
    result = []
    for _ in range(pick(draw, [1, 2, 0])):
        t = {"values": pick_many(draw, _TARGET_KEYS, 0, 3, unique=True)}
        put(t, "contextKind", pick(draw, _SEGMENT_TARGET_KINDS))
        result.append(t)
    return result


_ODD_SEGMENT_WEIGHTS = [0, 1, 50000, 100000, -1, 150000, 10 ** 400]


def gen_segment_rule(draw):
    n_clauses = 0 if rare(draw, 8) else pick(draw, [1, 2, 1, 3])
    rule = {"clauses": [gen_clause(draw) for _ in range(n_clauses)]}
    rollout_kind = pick_optional(draw, [None, "", "user", "org", "device", "other"])
    put(rule, "rolloutContextKind", rollout_kind)
    put(rule, "bucketBy", bucket_by(draw, rollout_kind, 2))
    weight = draw(_ints(0, 4))
    if weight <= 1:
        weight = ABSENT
    elif weight == 2:
        weight = None
    else:
        weight = int_like(draw, pick(draw, _ODD_SEGMENT_WEIGHTS) if coin(draw) else draw(_ints(0, 100000)))
    put(rule, "weight", weight)
    put(rule, "id", pick_optional(draw, ["srule"]))
    return rule


def gen_segment(draw, key):
    version = gen_version(draw)
    if rare(draw, 30):
        return {"key": key, "version": version, "deleted": True}
    seg = {"key": key, "version": version}

    def keys(n_absent):
        i = draw(_ints(0, n_absent + 2))
        if i < n_absent:
            return ABSENT
        if i == n_absent:
            return []
        return pick_many(draw, _TARGET_KEYS, 1, 3, unique=True)

    put(seg, "included", keys(1))
    put(seg, "excluded", keys(2))
    if coin(draw):
        seg["includedContexts"] = gen_segment_targets(draw)
    if coin(draw):
        seg["excludedContexts"] = gen_segment_targets(draw)
    if not rare(draw, 4):
        seg["rules"] = [gen_segment_rule(draw) for _ in range(pick(draw, [1, 2, 1, 0, 3]))]
    if not any(seg.get(p) for p in ("included", "includedContexts", "rules")) and not rare(draw, 4):
        seg["rules"] = [gen_segment_rule(draw)]
    put(seg, "salt", pick_optional(draw, ["segsalt", "", None], n_absent=1))
    if rare(draw, 8):
        seg["unbounded"] = True
        put(seg, "generation", pick(draw, [ABSENT, None, 0, 1, 7]))
        put(seg, "unboundedContextKind", pick(draw, [ABSENT, None] + ALL_KINDS))
    else:
        put(seg, "unbounded", pick_optional(draw, [False, None]))
    return seg


def gen_data_set(draw):
    flag_keys = pick_many(draw, FLAG_KEYS, 1, len(FLAG_KEYS), unique=True)
    seg_keys = pick_many(draw, SEGMENT_KEYS, 0, len(SEGMENT_KEYS), unique=True)
    all_flags = {k: gen_flag(draw, k) for k in flag_keys}
    all_segments = {k: gen_segment(draw, k) for k in seg_keys}
    return all_flags, all_segments


@st.composite
def data_sets(draw):
    """(flags, segments): dicts keyed by item key."""
    return gen_data_set(draw)


# ---------------------------------------------------------------------------------------------
# Contexts
# ---------------------------------------------------------------------------------------------

def _split_path(path):
    """Components of an attribute reference path, or None if invalid (mirrors AttributeRef.from_path)."""
    if path in ("", "/"):
        return None
    if not path.startswith("/"):
        return [path]
    comps = []
    for c in path[1:].split("/"):
        if c == "":
            return None
        i = 0
        while True:
            i = c.find("~", i)
            if i < 0:
                break
            if i + 1 >= len(c) or c[i + 1] not in "01":
                return None
            i += 2
        comps.append(c.replace("~1", "/").replace("~0", "~"))
    return comps


def _clause_steps(clause, segments):
    """Steps that make a context satisfy ``clause`` (often; not always)."""
    op = clause.get("op")
    values = clause.get("values") or []
    negate = clause.get("negate") is True
    if op == "segmentMatch":
        seg_keys = [v for v in values if isinstance(v, str) and v in segments]
        if negate or not seg_keys:
            return []
        return [("segment", seg_keys)]
    attr = clause.get("attribute")
    kind = clause.get("contextKind") or None
    comps = _split_path(attr) if kind else ([attr] if attr else None)
    if not comps:
        return []
    if comps == ["kind"]:
        return [("kinds", values)]
    if comps[0] in ("_meta", "kind"):
        return []
    return [("attr", kind or "user", comps, op, values, negate)]


def recipes_from(flags, segments):
    """One recipe per flag rule: a list of steps that, applied to a context, make the rule likely
    to match. (Segment rules are reached through the "segment" steps of segmentMatch clauses.)"""
    recipes = []
    for item in flags.values():
        for rule in item.get("rules") or []:
            steps = []
            for clause in rule.get("clauses") or []:
                steps.extend(_clause_steps(clause, segments))
            if steps:
                recipes.append(steps)
    return recipes


def _near_value(draw, op, v):
    """A value equal or close to the clause value ``v`` for operator ``op``."""
    alts = [lambda: copy.deepcopy(v)]
    if isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e300:
        alts.append(lambda: pick(draw, [v + 1, v - 1, v + 0.5, float(v)]))
    if isinstance(v, str):
        if op in ("startsWith", "contains"):
            alts.append(lambda: v + "x")
        if op in ("endsWith", "contains"):
            alts.append(lambda: "x" + v)
        if op == "matches":
            alts.append(lambda: pick(draw, STRINGS + HOT_VALUES))
        if op.startswith("semVer"):
            alts.append(lambda: pick(draw, SEMVERS))
            alts.append(lambda: semver_string(draw))
    if op in ("before", "after"):
        alts.append(lambda: pick(draw, DATE_STRINGS + DATE_NUMBERS))
        alts.append(lambda: date_string(draw))
    return pick(draw, alts)()


def _set_attr(body, comps, value):
    name = comps[0]
    if len(comps) == 1:
        if name == "key":
            if isinstance(value, str) and value:
                body["key"] = value
        elif name == "name":
            if value is None or isinstance(value, str):
                body["name"] = value
        elif name == "anonymous":
            if isinstance(value, bool):
                body["anonymous"] = value
        else:
            body[name] = value
        return
    if name in ("key", "name", "anonymous"):
        return
    obj = body.get(name)
    obj = body[name] = dict(obj) if isinstance(obj, dict) else {}
    for c in comps[1:-1]:
        nxt = obj.get(c)
        nxt = dict(nxt) if isinstance(nxt, dict) else {}
        obj[c] = nxt
        obj = nxt
    obj[comps[-1]] = value


def _segment_options(seg, segments):
    options = []
    if seg.get("included"):
        options.append(("key", "user", seg["included"]))
    for t in seg.get("includedContexts") or []:
        if t.get("values"):
            options.append(("key", t.get("contextKind") or "user", t["values"]))
    for rule in seg.get("rules") or []:
        sub = []
        for clause in rule.get("clauses") or []:
            sub.extend(_clause_steps(clause, segments))
        options.append(("steps", sub))
    return options


def apply_steps(draw, steps, bodies, segments, depth=0):
    """Apply recipe steps to ``bodies`` (kind -> single-context body without "kind")."""
    for step in steps:
        if step[0] == "attr":
            _, kind, comps, op, values, negate = step
            if kind not in CONTEXT_KINDS:
                continue
            if kind not in bodies:
                bodies[kind] = single_context_body(draw)
            if negate or not values or rare(draw, 8):
                value = pool_value(draw)
            else:
                value = _near_value(draw, op, pick(draw, values))
                if rare(draw, 6):
                    value = [pool_scalar(draw), value]
            _set_attr(bodies[kind], comps, value)
        elif step[0] == "kinds":
            kinds = [v for v in step[1] if v in CONTEXT_KINDS]
            if kinds:
                kind = pick(draw, kinds)
                if kind not in bodies:
                    bodies[kind] = single_context_body(draw)
        elif step[0] == "segment" and depth < 3:
            options = _segment_options(segments[pick(draw, step[1])], segments)
            if not options:
                continue
            option = pick(draw, options)
            if option[0] == "key":
                _, kind, keys = option
                if kind in CONTEXT_KINDS:
                    if kind not in bodies:
                        bodies[kind] = single_context_body(draw)
                    key = pick(draw, keys)
                    if key:
                        bodies[kind]["key"] = key
            else:
                apply_steps(draw, option[1], bodies, segments, depth + 1)
    return bodies


_BUCKET_VALUES = [33333, 33333.0, 0, -7, 2 ** 70, "33333", "a", True, 1.5, None, ["a"], {"k": 1},
                  12345678901234567890, "", 7]


def _attr_value(draw, name):
    if name == "nested":
        return copy.deepcopy(pick(draw, NESTED_OBJECTS)) if coin(draw) else pool_value(draw)
    if name == "bucket":
        # ints and floats as bucketBy values; 33333 (int) hashes like the key "33333".
        return copy.deepcopy(pick(draw, _BUCKET_VALUES))
    if name == "tags":
        i = draw(_ints(0, 2))
        if i == 0:
            return [pool_scalar(draw) for _ in range(draw(_ints(0, 3)))]
        return copy.deepcopy(pick(draw, COMPOUND)) if i == 1 else pool_scalar(draw)
    i = draw(_ints(0, 5))
    if i <= 3:
        return pool_value(draw)
    if i == 4:
        return draw(json_values)
    return [pool_scalar(draw) for _ in range(draw(_ints(0, 3)))]


_NAMES = [ABSENT, ABSENT, None] + STRINGS + SEMVERS[:4] + DATE_STRINGS[:3]
_METAS = [None, {}, {"privateAttributes": ["email", "/nested/a"]}]


def single_context_body(draw):
    # Sometimes a long random key: SHA-1 input lengths across block boundaries when bucketing.
    body = {"key": draw(_LONG_TEXT) if rare(draw, 12) else pick(draw, CONTEXT_KEYS)}
    put(body, "name", pick(draw, _NAMES))
    put(body, "anonymous", pick_optional(draw, [False, True]))
    for name in pick_many(draw, CUSTOM_ATTRS, 0, 4, unique=True):
        body[name] = _attr_value(draw, name)
    if rare(draw, 10):
        body["_meta"] = copy.deepcopy(pick(draw, _METAS))
    return body


def single_context(draw, kinds=CONTEXT_KINDS):
    return dict(single_context_body(draw), kind=pick(draw, kinds))


def multi_context(draw):
    ctx = {"kind": "multi"}
    for k in pick_many(draw, CONTEXT_KINDS, 1, 3, unique=True):
        ctx[k] = single_context_body(draw)
    return ctx


def targeted_context(draw, recipes, segments):
    """A context built to satisfy one to three randomly chosen rules of the data set."""
    bodies = {}
    for _ in range(pick(draw, [1, 2, 1, 3])):
        apply_steps(draw, pick(draw, recipes), bodies, segments)
    if not bodies or rare(draw, 4):
        kind = pick(draw, CONTEXT_KINDS)
        if kind not in bodies:
            bodies[kind] = single_context_body(draw)
    if len(bodies) == 1 and not rare(draw, 6):
        (kind, body), = bodies.items()
        return dict(body, kind=kind)
    ctx = {"kind": "multi"}
    ctx.update(bodies)
    return ctx


# Invalid contexts, and odd dicts that from_dict still accepts (e.g. a "kind" inside a multi part
# overrides the part's kind).
ODD_CONTEXTS = [
    {"kind": "kind", "key": "a"},
    {"kind": "user", "key": ""},
    {"kind": "", "key": "a"},
    {"kind": "multi"},
    {"kind": "multi", "user": {"key": "a"}, "org": {"key": ""}},
    {"kind": "us er", "key": "a"},
    {"key": "a"},
    {"kind": "user", "key": "a", "anonymous": None},
    {"kind": "user", "key": 1},
    {"kind": "multi", "user": {"key": "a", "kind": "org"}},
    {"kind": "user", "key": "a", "": 1},
    {"kind": "multi", "user": {"key": "a"}},
    {"kind": "multi", "user": {"key": "a"}, "org": "x"},
    {"kind": "user", "key": "a", "_meta": {"privateAttributes": "x"}},
    {"kind": "user", "key": "a", "name": 5},
    {"kind": "multi", "multi": {"key": "a"}},
    {"kind": "multi", "user": {"key": "a"}, "org": {"key": "b", "kind": "user"}},
    {"kind": "multi", "user": {"key": "a", "kind": ""}},
    {"kind": "Org.-_1", "key": "a", "email": "a"},
    {"kind": "multi", "org": {"key": "b", "kind": "device"}, "user": {"key": "a"}},
]
INVALID_CONTEXTS = ODD_CONTEXTS[:9]


def gen_context(draw, recipes=(), segments=None):
    if rare(draw, 40):
        return copy.deepcopy(pick(draw, ODD_CONTEXTS))
    if recipes and pick(draw, [True, True, False]):
        return targeted_context(draw, recipes, segments)
    choice = pick(draw, ["user", "single", "multi", "single", "multi"])
    if choice == "user":
        return single_context(draw, ["user"])
    if choice == "single":
        return single_context(draw)
    return multi_context(draw)


@st.composite
def context_dicts(draw, recipes=(), segments=None):
    """A context as a JSON dict: mostly valid single or multi contexts, rarely an invalid one.
    With ``recipes`` (from ``recipes_from``), most are built to match rules of the data set."""
    return gen_context(draw, recipes, segments)


@st.composite
def examples(draw, n_contexts):
    """(flags, segments, [context dicts]): a data set and contexts to evaluate its flags for."""
    flags, segments = gen_data_set(draw)
    recipes = recipes_from(flags, segments)
    contexts = [gen_context(draw, recipes, segments) for _ in range(n_contexts)]
    return flags, segments, contexts
