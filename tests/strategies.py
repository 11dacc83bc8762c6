"""Hypothesis strategies for the differential test (tests/test_differential.py).

They generate random but realistic-and-adversarial LaunchDarkly data: flags, segments and
evaluation contexts. Keys, kinds, attribute names and attribute values are drawn from SMALL
pools shared between the flag/segment generators and the context generator, so that targets,
segment lists and rule clauses match often instead of almost never.

Everything generated here is accepted by the official SDK's parser (launchdarkly-server-sdk
9.20.0): integers where it wants ints (a JSON boolean passes its int check, so booleans are
sometimes used on purpose), strings where it wants strings, and so on. The test double-checks
that with the official decoder and skips anything it rejects.
"""

from hypothesis import strategies as st

# ---------------------------------------------------------------------------------------------
# Shared pools
# ---------------------------------------------------------------------------------------------

# Context kinds that contexts actually use, plus one that only flags/segments mention.
CONTEXT_KINDS = ["user", "org", "device"]
FLAG_ONLY_KINDS = ["other"]
ALL_KINDS = CONTEXT_KINDS + FLAG_ONLY_KINDS

# Context keys. "33333" collides with the int attribute value 33333 used for bucketBy.
CONTEXT_KEYS = ["a", "b", "c", "user-1", "x:y", "33333", "%e"]

FLAG_KEYS = ["f0", "f1", "f2", "f3", "f4", "f5"]
MISSING_FLAG_KEY = "missing-flag"
SEGMENT_KEYS = ["s0", "s1", "s2", "s3"]
MISSING_SEGMENT_KEY = "missing-seg"

# Custom attribute names set on contexts. Names containing "/" or "~" are legal literal names.
CUSTOM_ATTRS = ["email", "age", "score", "version", "created", "tags", "nested", "group",
                "/slash", "a/b", "t~1", "bucket"]

STRINGS = ["a", "b", "abc", "", "A", "ABC", "foo@example.com", "bar@test.org", "x:y", "user-1",
           "org", "user", "device", "é", "a.b", "33333", "1", "true"]
SEMVERS = ["1.2.3", "2", "2.1", "2.1-beta", "2-beta", "2.1-beta.1+build", "v1", "v2.0.0",
           "1.2.3+build", "1.2.3+other", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
           "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.0-0",
           "1.0.0-01", "1.0.0-0a", "02.1.0", "2.01", "1.2.3.4", "2.", "1..2", "10.0.0",
           "1.10.0", "2.0.0", "1.2", "0.0.0", "1.2.3-"]
DATE_STRINGS = ["2020-01-01T00:00:00Z", "2020-01-01T00:00:00z", "2020-01-01t00:00:00Z",
                "2020-01-01 00:00:00Z", "2020-01-01T01:00:00+01:00",
                "2019-12-31T23:00:00-01:00", "2020-01-01T00:00:00.123Z",
                "2020-01-01T00:00:00.123456789Z", "2020-01-01T00:00:00.5+00:00",
                "2020-01-01T00:00:00.000001Z", "2020-01-01T00:00:00", "2020-01-01",
                "2020-01-01T00:00Z", "2020-01-01T00:00:60Z", "1577836800000",
                "2020-06-15T12:30:45.999999Z", "2021-01-01T00:00:00+05:30",
                "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z", "not a date",
                "2020-01-01T00:00:00-00:00", "2020-02-30T00:00:00Z"]
DATE_NUMBERS = [1577836800000, 1577836800000.0, 1577836800001, 1577836799999.5, 0, -1,
                1593000000000, 1609459200000]
NUMBERS = [0, 1, 1.0, -1, 1.5, 2, 2.0, 10, 99, 100.25, 2 ** 53, 2 ** 53 + 1, 1e20, 33333,
           33333.0, -0.5, 0.0]
BOOLS = [True, False]
REGEXES = ["^a", "c$", "a.*c", "[", "(", "\\d+", "(?i)ABC", ".", "", "a{2}", "\\",
           "@example\\.com$", "^$", "é", "(?P<n>a)b", "\\w+@\\w+", "^1\\.", "*"]
COMPOUND = [{"a": 1}, {"a": {"b": "c"}}, {}, [1, 2], ["a", "b"], [], [[1]], [{"a": 1}],
            {"a": 1.0}, [None]]
NESTED_OBJECTS = [
    {"a": {"b": 1}, "0": "zero", "x/y": 2, "t~": 3},
    {"a": {"b": "c"}},
    {"a": [1, 2], "b": None},
    {"a": "str"},
    {"a": {"b": {"c": True}}},
    {},
]

SCALARS = STRINGS + SEMVERS + DATE_STRINGS + DATE_NUMBERS + NUMBERS + BOOLS

# Attribute references used by clauses / bucketBy.
# Without a contextKind the attribute is a LITERAL name; with one it is a PATH.
LITERAL_ATTRS = CUSTOM_ATTRS + ["kind", "key", "name", "anonymous", "/nested/a", "/kind",
                                "nested/a", "_meta", "missing", ""]
PATH_ATTRS = ["/nested/a/b", "/nested/a", "/nested/0", "/nested/x~1y", "/nested/t~0",
              "/tags/0", "/", "//x", "/a~2", "/nested/", "kind", "/kind", "key", "/key",
              "/name", "name", "age", "/age", "/a~1b", "/t~01", "", "~", "/~", "/email",
              "/anonymous", "/version", "/created", "/bucket", "/score"]

OPERATORS = ["in", "endsWith", "startsWith", "matches", "contains", "lessThan",
             "lessThanOrEqual", "greaterThan", "greaterThanOrEqual", "before", "after",
             "semVerEqual", "semVerLessThan", "semVerGreaterThan"]
UNKNOWN_OPS = ["unknownOp", "In", ""]

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

pool_scalar = st.sampled_from(SCALARS)
pool_value = st.one_of(pool_scalar, pool_scalar, pool_scalar, st.sampled_from(COMPOUND), st.none())

# Values used for flag variations: mixed JSON types, including bool vs number look-alikes.
variation_value = st.one_of(
    st.sampled_from([True, False, 0, 1, 1.0, "on", "off", "", None, [], {}, [1, "a"],
                     {"x": {"y": 1}}, -0.0, 2 ** 63]),
    json_values,
)


def maybe(strategy, p_absent=0.5):
    """A value from ``strategy`` or the special marker ABSENT (property left out)."""
    return st.one_of(st.just(ABSENT), strategy) if p_absent else strategy


class _Absent:
    def __repr__(self):
        return "ABSENT"


ABSENT = _Absent()


def put(d, name, value):
    if value is not ABSENT:
        d[name] = value


def rarely(n=20):
    """True about once in ``n`` draws. (Hypothesis over-draws boundary values such as 0, so the
    rare outcome is put in the middle of the range.)"""
    return st.integers(0, n - 1).map(lambda x: x == n // 2)


@st.composite
def one_rarely(draw, common, rare, n=20):
    """``rare`` about once in ``n`` draws, ``common`` otherwise."""
    return draw(rare if draw(rarely(n)) else common)


# An "int" for the official parser: ints, and rarely a JSON boolean (which passes its int check).
def int_like(strategy):
    return one_rarely(strategy, st.booleans(), 25)


# ---------------------------------------------------------------------------------------------
# Clauses
# ---------------------------------------------------------------------------------------------

def _values_for_op(op):
    if op == "matches":
        specific = st.sampled_from(REGEXES)
    elif op in ("before", "after"):
        specific = st.sampled_from(DATE_STRINGS + DATE_NUMBERS)
    elif op.startswith("semVer"):
        specific = st.sampled_from(SEMVERS)
    elif op in ("lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual"):
        specific = st.sampled_from(NUMBERS + DATE_NUMBERS)
    elif op in ("startsWith", "endsWith", "contains"):
        specific = st.sampled_from(STRINGS + ["@example.com", "foo", "ab", "bc", ".", "1."])
    elif op == "in":
        specific = st.one_of(st.sampled_from(CONTEXT_KEYS + CONTEXT_KINDS), pool_value)
    else:
        specific = pool_value
    return st.lists(st.one_of(specific, specific, specific, pool_value), min_size=0, max_size=4)


@st.composite
def clauses(draw, allow_segment_match=True):
    kinds = ["segmentMatch"] if allow_segment_match else []
    op = draw(st.one_of(
        st.sampled_from(OPERATORS),
        st.sampled_from(OPERATORS),
        st.sampled_from(OPERATORS),
        st.sampled_from(kinds + UNKNOWN_OPS),
    ))
    clause = {}
    context_kind = draw(st.sampled_from([ABSENT, ABSENT, ABSENT, None, ""] + ALL_KINDS + ["user", "org"]))
    if context_kind in (ABSENT, None, ""):
        attribute = draw(st.sampled_from(LITERAL_ATTRS))
    else:
        attribute = draw(st.sampled_from(PATH_ATTRS + LITERAL_ATTRS))
    if op == "segmentMatch":
        attribute = draw(st.sampled_from(["", "segmentMatch", "key", attribute]))
        values = draw(st.lists(st.sampled_from(SEGMENT_KEYS + [MISSING_SEGMENT_KEY]), max_size=3))
        if draw(st.integers(0, 19)) == 0:
            values.append(draw(st.sampled_from([1, True, None])))
    else:
        values = draw(_values_for_op(op))
    clause["attribute"] = attribute
    clause["op"] = op
    clause["values"] = values
    put(clause, "contextKind", context_kind)
    put(clause, "negate", draw(st.sampled_from([ABSENT, ABSENT, False, True, None])))
    return clause


# ---------------------------------------------------------------------------------------------
# Variations, rollouts
# ---------------------------------------------------------------------------------------------

def variation_index(n_variations):
    # Mostly valid, sometimes just out of range on either side.
    valid = st.integers(0, max(n_variations - 1, 0))
    return int_like(one_rarely(valid, st.sampled_from([-1, n_variations, n_variations + 3]), 12))


@st.composite
def weights_list(draw, n):
    mode = draw(st.sampled_from(["exact", "exact", "exact", "random"]))
    if mode == "exact":
        cuts = sorted(draw(st.lists(st.integers(0, 100000), min_size=n - 1, max_size=n - 1)))
        bounds = [0] + cuts + [100000]
        return [bounds[i + 1] - bounds[i] for i in range(n)]
    return draw(st.lists(int_like(st.sampled_from([0, 1, 50000, 99999, 100000, -1, 200000, 33333])
                                  | st.integers(0, 100000)), min_size=n, max_size=n))


@st.composite
def rollouts(draw, n_variations):
    n = draw(st.sampled_from([0, 1, 2, 2, 3, 3, 4]))
    ws = draw(weights_list(n)) if n else []
    wvs = []
    for w in ws:
        wv = {"variation": draw(variation_index(n_variations)), "weight": w}
        put(wv, "untracked", draw(st.sampled_from([ABSENT, ABSENT, False, True, None])))
        wvs.append(wv)
    rollout = {"variations": wvs}
    context_kind = draw(st.sampled_from([ABSENT, ABSENT, ABSENT, None, ""] + ALL_KINDS))
    if context_kind in (ABSENT, None, ""):
        bucket_pool = ["bucket", "age", "score", "email", "key", "name", "missing", "/nested/a",
                       "nested", "tags", "anonymous", "kind"]
    else:
        bucket_pool = ["/bucket", "bucket", "/nested/a/b", "/nested/0", "/", "//x", "/a~2",
                       "/key", "age", "/score", "/email", "kind"]
    put(rollout, "bucketBy", draw(st.one_of(st.just(ABSENT), st.just(ABSENT), st.just(""),
                                            st.none(), st.sampled_from(bucket_pool))))
    put(rollout, "contextKind", context_kind)
    put(rollout, "seed", draw(st.one_of(st.just(ABSENT), st.just(ABSENT), st.none(),
                                        int_like(st.sampled_from([0, 61, -5, 123456789, 2 ** 40])))))
    put(rollout, "kind", draw(st.sampled_from([ABSENT, ABSENT, "experiment", "experiment",
                                               "rollout", "Experiment", None])))
    return rollout


@st.composite
def variation_or_rollout(draw, n_variations, target):
    """Fill ``target`` (a rule or fallthrough dict) with variation and/or rollout."""
    choice = draw(st.sampled_from(["variation", "variation", "rollout", "rollout", "both",
                                   "neither", "null"]))
    if choice in ("variation", "both"):
        target["variation"] = draw(variation_index(n_variations))
    if choice in ("rollout", "both"):
        target["rollout"] = draw(rollouts(n_variations))
    if choice == "null":
        target["variation"] = None
        target["rollout"] = None
    return target


# ---------------------------------------------------------------------------------------------
# Flags
# ---------------------------------------------------------------------------------------------

@st.composite
def targets(draw, n_variations, with_kind):
    result = []
    for _ in range(draw(st.integers(0, 3))):
        t = {"variation": draw(variation_index(n_variations)),
             "values": draw(st.lists(st.sampled_from(CONTEXT_KEYS + ["zzz"]), max_size=3, unique=True))}
        if with_kind:
            put(t, "contextKind", draw(st.sampled_from([ABSENT, None, "", "user", "user"] + ALL_KINDS)))
        result.append(t)
    return result


@st.composite
def rules(draw, n_variations, rule_index):
    rule = {"clauses": draw(st.lists(clauses(), min_size=0, max_size=3))}
    put(rule, "id", draw(st.sampled_from([ABSENT, "rule-%d" % rule_index, "rule-%d" % rule_index,
                                          "", None, "dup"])))
    put(rule, "trackEvents", draw(st.sampled_from([ABSENT, ABSENT, False, True, None])))
    draw(variation_or_rollout(n_variations, rule))
    return rule


@st.composite
def flags(draw, key):
    version = draw(st.integers(0, 1000))
    if draw(st.integers(0, 14)) == 0:
        return {"key": key, "version": version, "deleted": True}
    variations = draw(st.lists(variation_value, min_size=0, max_size=4))
    n = len(variations)
    flag = {"key": key, "version": version}
    if draw(st.integers(0, 9)) != 0 or n:
        flag["variations"] = variations
    put(flag, "on", draw(st.sampled_from([True, True, True, True, False, ABSENT, None])))
    put(flag, "offVariation", draw(st.one_of(st.just(ABSENT), st.none(), variation_index(n))))
    put(flag, "salt", draw(st.sampled_from([ABSENT, "", "salt", "saltyA", None, "x.y"])))
    put(flag, "prerequisites", draw(st.one_of(st.just(ABSENT), st.lists(
        st.fixed_dictionaries({"key": st.sampled_from(FLAG_KEYS + [MISSING_FLAG_KEY]),
                               "variation": int_like(st.integers(-1, 3))}),
        max_size=2))))
    put(flag, "targets", draw(st.one_of(st.just(ABSENT), targets(n, with_kind=False))))
    put(flag, "contextTargets", draw(st.one_of(st.just(ABSENT), st.just([]), targets(n, with_kind=True))))
    n_rules = draw(st.integers(0, 3))
    put(flag, "rules", [draw(rules(n, i)) for i in range(n_rules)] if n_rules or draw(st.booleans()) else ABSENT)
    fallthrough = draw(st.sampled_from(["vr", "vr", "vr", "vr", "empty", "absent", "null"]))
    if fallthrough == "vr":
        flag["fallthrough"] = draw(variation_or_rollout(n, {}))
    elif fallthrough == "empty":
        flag["fallthrough"] = {}
    elif fallthrough == "null":
        flag["fallthrough"] = None
    put(flag, "trackEvents", draw(st.sampled_from([ABSENT, ABSENT, False, True, None])))
    put(flag, "trackEventsFallthrough", draw(st.sampled_from([ABSENT, ABSENT, False, True, None])))
    # Far past or far future, so that time-dependent output is deterministic.
    put(flag, "debugEventsUntilDate", draw(st.sampled_from([ABSENT, ABSENT, ABSENT, None, 1,
                                                            1000.5, 32503680000000, 32503680000000.5])))
    put(flag, "clientSide", draw(st.sampled_from([ABSENT, True, False])))
    put(flag, "excludeFromSummaries", draw(st.sampled_from([ABSENT, ABSENT, True, False])))
    put(flag, "samplingRatio", draw(st.sampled_from([ABSENT, ABSENT, 1, 0, 2])))
    return flag


# ---------------------------------------------------------------------------------------------
# Segments
# ---------------------------------------------------------------------------------------------

@st.composite
def segment_targets(draw):
    result = []
    for _ in range(draw(st.integers(0, 2))):
        t = {"values": draw(st.lists(st.sampled_from(CONTEXT_KEYS + ["zzz"]), max_size=3, unique=True))}
        put(t, "contextKind", draw(st.sampled_from([ABSENT, None, ""] + ALL_KINDS)))
        result.append(t)
    return result


@st.composite
def segment_rules(draw):
    rule = {"clauses": draw(st.lists(clauses(), min_size=0, max_size=3))}
    rollout_kind = draw(st.sampled_from([ABSENT, ABSENT, None, ""] + ALL_KINDS))
    put(rule, "rolloutContextKind", rollout_kind)
    if rollout_kind in (ABSENT, None, ""):
        bucket_pool = ["bucket", "age", "key", "email", "missing", "/nested/a", "name", "kind"]
    else:
        bucket_pool = ["/bucket", "bucket", "/nested/a/b", "/", "//x", "/a~2", "key", "/score"]
    put(rule, "bucketBy", draw(st.one_of(st.just(ABSENT), st.just(ABSENT), st.just(""), st.none(),
                                         st.sampled_from(bucket_pool))))
    put(rule, "weight", draw(st.one_of(st.just(ABSENT), st.just(ABSENT), st.none(),
                                       int_like(st.sampled_from([0, 1, 50000, 100000, -1, 150000]) |
                                                st.integers(0, 100000)))))
    put(rule, "id", draw(st.sampled_from([ABSENT, "srule"])))
    return rule


@st.composite
def segments(draw, key):
    version = draw(st.integers(0, 1000))
    if draw(st.integers(0, 19)) == 0:
        return {"key": key, "version": version, "deleted": True}
    seg = {"key": key, "version": version}
    keys = st.lists(st.sampled_from(CONTEXT_KEYS + ["zzz"]), max_size=3, unique=True)
    put(seg, "included", draw(st.one_of(st.just(ABSENT), keys)))
    put(seg, "excluded", draw(st.one_of(st.just(ABSENT), keys)))
    put(seg, "includedContexts", draw(st.one_of(st.just(ABSENT), segment_targets())))
    put(seg, "excludedContexts", draw(st.one_of(st.just(ABSENT), segment_targets())))
    put(seg, "rules", draw(st.one_of(st.just(ABSENT), st.lists(segment_rules(), max_size=3))))
    put(seg, "salt", draw(st.sampled_from([ABSENT, "", "segsalt", None])))
    if draw(st.integers(0, 7)) == 0:
        seg["unbounded"] = True
        put(seg, "generation", draw(st.sampled_from([ABSENT, None, 0, 1, 7])))
        put(seg, "unboundedContextKind", draw(st.sampled_from([ABSENT, None] + ALL_KINDS)))
    else:
        put(seg, "unbounded", draw(st.sampled_from([ABSENT, ABSENT, False, None])))
    return seg


@st.composite
def data_sets(draw):
    """(flags, segments): dicts keyed by item key."""
    flag_keys = draw(st.lists(st.sampled_from(FLAG_KEYS), min_size=1, max_size=len(FLAG_KEYS), unique=True))
    seg_keys = draw(st.lists(st.sampled_from(SEGMENT_KEYS), min_size=0, max_size=len(SEGMENT_KEYS), unique=True))
    all_flags = {k: draw(flags(k)) for k in flag_keys}
    all_segments = {k: draw(segments(k)) for k in seg_keys}
    return all_flags, all_segments


# ---------------------------------------------------------------------------------------------
# Contexts
# ---------------------------------------------------------------------------------------------

def _attr_value(name):
    if name == "nested":
        return st.one_of(st.sampled_from(NESTED_OBJECTS), pool_value)
    if name == "bucket":
        # ints and floats as bucketBy values; 33333 (int) hashes like the key "33333".
        return st.sampled_from([33333, 33333.0, 0, -7, 2 ** 70, "33333", "a", True, 1.5, None,
                                ["a"], {"k": 1}])
    if name == "tags":
        return st.one_of(st.lists(pool_scalar, max_size=3), st.sampled_from(COMPOUND), pool_scalar)
    return st.one_of(pool_value, pool_value, pool_value, pool_value, json_values,
                     st.lists(pool_scalar, min_size=0, max_size=3))


@st.composite
def single_context_body(draw):
    body = {"key": draw(st.sampled_from(CONTEXT_KEYS))}
    put(body, "name", draw(st.one_of(st.just(ABSENT), st.just(ABSENT), st.none(),
                                     st.sampled_from(STRINGS + SEMVERS[:4] + DATE_STRINGS[:3]))))
    put(body, "anonymous", draw(st.sampled_from([ABSENT, ABSENT, False, True])))
    for name in draw(st.lists(st.sampled_from(CUSTOM_ATTRS), max_size=5, unique=True)):
        body[name] = draw(_attr_value(name))
    if draw(st.integers(0, 9)) == 0:
        body["_meta"] = draw(st.sampled_from([None, {}, {"privateAttributes": ["email", "/nested/a"]}]))
    return body


@st.composite
def single_contexts(draw, kinds=CONTEXT_KINDS):
    body = draw(single_context_body())
    return dict(body, kind=draw(st.sampled_from(kinds)))


@st.composite
def multi_contexts(draw):
    kinds = draw(st.lists(st.sampled_from(CONTEXT_KINDS), min_size=1, max_size=3, unique=True))
    ctx = {"kind": "multi"}
    for k in kinds:
        ctx[k] = draw(single_context_body())
    return ctx


INVALID_CONTEXTS = [
    {"kind": "kind", "key": "a"},
    {"kind": "user", "key": ""},
    {"kind": "", "key": "a"},
    {"kind": "multi"},
    {"kind": "multi", "user": {"key": "a"}, "org": {"key": ""}},
    {"kind": "us er", "key": "a"},
    {"key": "a"},
    {"kind": "user", "key": "a", "anonymous": None},
    {"kind": "user", "key": 1},
]


@st.composite
def context_dicts(draw):
    """A context as a JSON dict: mostly valid single or multi contexts, rarely an invalid one."""
    choice = draw(st.integers(0, 19))
    if choice == 0:
        return draw(st.sampled_from(INVALID_CONTEXTS))
    if choice <= 4:
        return draw(single_contexts(["user"]))
    if choice <= 11:
        return draw(single_contexts())
    return draw(multi_contexts())
