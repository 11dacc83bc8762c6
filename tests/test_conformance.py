"""LaunchDarkly's server-side evaluation conformance data (sdk-test-harness 2.41.0), run on ldfast.

Every evaluation of every data file is one test, checked the way the harness checks an SDK:
``variation`` gives the expected value; ``variation_detail`` the expected value, variation index
and reason; and, unless the suite says ``skipEvaluateAllFlags``, ``all_flags_state`` holds the
expected value for the flag (null when no variation index is expected). An old-style user (a
context with no ``kind``) is run twice: as the user dict itself, which ldfast converts as 8.x did,
and as the equivalent context built here with ``ContextBuilder`` (PROTOCOL.md 2.5), which
cross-checks ldfast's own conversion.

``test_official_sdk_agrees`` runs the same cases through the official SDK (contexts only, since
9.x has no user dicts): it checks the loader, so a disagreement there is a loader bug, not ldfast's.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

try:  # tests/ may or may not be a package
    from tests import conformance_loader as loader
except ImportError:  # pragma: no cover - depends on how pytest puts tests/ on sys.path
    import conformance_loader as loader

CASES: List[loader.ConformanceCase] = loader.load_all()

# The strongly-typed capability: a typed method (and its _detail twin) per harness valueType.
TYPED_METHODS = {
    "bool": "bool_variation",
    "int": "int_variation",
    "double": "float_variation",
    "string": "string_variation",
}

_USER_STRING_ATTRS = ("name", "firstName", "lastName", "email", "country", "avatar", "ip")


# ---------------------------------------------------------------------------------------------
# comparison helpers


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: a boolean never equals a number; 1 == 1.0; objects and arrays deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def normalize_reason(reason: Any) -> Optional[Dict[str, Any]]:
    """A reason as a plain dict; ``inExperiment: false`` is the same as absent (Go's zero value)."""
    if reason is None:
        return None
    if not isinstance(reason, dict):
        to_dict = getattr(reason, "to_dict", None) or getattr(reason, "to_json_dict", None)
        reason = to_dict() if to_dict is not None else dict(reason)
    return {k: v for k, v in reason.items() if not (k == "inExperiment" and v is False)}


# ---------------------------------------------------------------------------------------------
# contexts


def user_to_context(user: Dict[str, Any], context_cls: Any) -> Any:
    """The context equivalent to an old-style user dict (8.x ``__from_dict_old_user``).

    Built with the public ``ContextBuilder`` of ``context_cls`` (``ldfast.Context`` or
    ``ldclient.Context``). A user dict the 8.x conversion rejects gives an invalid context.
    """
    b = context_cls.builder("")
    b.kind("user")
    invalid = context_cls.builder("").build()  # empty key: invalid
    has_key = False
    for k, v in user.items():
        if k == "key":
            if not isinstance(v, str):
                return invalid
            b.key(v)
            has_key = True
        elif k == "custom":
            if v is None:
                continue
            if not isinstance(v, dict):
                return invalid
            for ck, cv in v.items():
                b.set(ck, cv)
        elif k == "privateAttributeNames":
            if v is None:
                continue
            if not isinstance(v, list) or not all(isinstance(p, str) for p in v):
                return invalid
            b.private(*v)
        elif k == "anonymous":
            if v is None:
                v = False
            if not isinstance(v, bool):
                return invalid
            b.anonymous(v)
        elif k in _USER_STRING_ATTRS:
            if v is None:
                continue
            if not isinstance(v, str):
                return invalid
            if k == "name":
                b.name(v)
            else:
                b.set(k, v)
        else:  # secondary and anything else: plain attributes
            if not b.try_set(k, v):
                return invalid
    if has_key and hasattr(b, "_allow_empty_key"):
        b._allow_empty_key(True)  # an empty key was legal for users
    return b.build()


def make_context(case: loader.ConformanceCase, form: str, context_cls: Any) -> Any:
    if form == "user-dict":
        return copy.deepcopy(case.context)
    if case.old_user:
        return user_to_context(case.context, context_cls)
    return context_cls.from_dict(copy.deepcopy(case.context))


# ---------------------------------------------------------------------------------------------
# checking one case against one client


def _has_typed_methods(client: Any) -> bool:
    return all(
        callable(getattr(client, m, None)) and callable(getattr(client, m + "_detail", None))
        for m in TYPED_METHODS.values()
    )


def check_case(client: Any, case: loader.ConformanceCase, context: Any, typed: bool) -> List[str]:
    """Runs the harness's three checks; returns the mismatches (empty when all pass)."""
    failures: List[str] = []
    method = TYPED_METHODS.get(case.value_type) if typed else None
    variation = getattr(client, method) if method else client.variation
    variation_detail = getattr(client, method + "_detail") if method else client.variation_detail
    how = method or "variation"

    value = variation(case.flag_key, context, case.default)
    if not json_equal(value, case.expect_value):
        failures.append("%s: value expected %r, got %r" % (how, case.expect_value, value))

    detail = variation_detail(case.flag_key, context, case.default)
    got = (detail.value, detail.variation_index, normalize_reason(detail.reason))
    want = (case.expect_value, case.expect_variation_index, normalize_reason(case.expect_reason))
    if not (json_equal(got[0], want[0]) and got[1] == want[1] and got[2] == want[2]):
        failures.append(
            "%s_detail: expected (value, variation_index, reason) %r, got %r" % (how, want, got)
        )

    if case.check_all_flags:
        state = client.all_flags_state(context)
        flag_value = state.get_flag_value(case.flag_key)
        if not json_equal(flag_value, case.expect_all_flags_value):
            failures.append(
                "all_flags_state: value expected %r, got %r"
                % (case.expect_all_flags_value, flag_value)
            )
    return failures


def _message(case: loader.ConformanceCase, form: str, failures: List[str]) -> str:
    return "%s [%s] %r, context %r, default %r:\n  %s" % (
        case.id, form, case.name, case.context, case.default, "\n  ".join(failures))


# ---------------------------------------------------------------------------------------------
# ldfast


def _params() -> Iterator[Any]:
    for case in CASES:
        if case.old_user:
            yield pytest.param(case, "user-dict", id=case.id + "::user-dict")
            yield pytest.param(case, "context", id=case.id + "::context")
        else:
            yield pytest.param(case, "context", id=case.id)


@pytest.fixture(scope="module")
def client_for() -> Iterator[Callable[[loader.ConformanceCase], Any]]:
    """One ldfast client per suite, kept while that suite's cases run (they run in order)."""
    try:
        from tests.helpers import local_client
    except ImportError:  # pragma: no cover
        from helpers import local_client  # type: ignore[no-redef]

    current: Dict[str, Any] = {}

    def get(case: loader.ConformanceCase) -> Any:
        if current.get("suite") != case.suite_id:
            if "client" in current:
                current.pop("client").close()
            current["client"] = local_client(
                copy.deepcopy(case.flags), copy.deepcopy(case.segments)
            )
            current["suite"] = case.suite_id
        return current["client"]

    yield get
    if "client" in current:
        current.pop("client").close()


@pytest.mark.parametrize("case,form", list(_params()))
def test_conformance(case: loader.ConformanceCase, form: str, client_for: Any) -> None:
    import ldfast

    client = client_for(case)
    typed = _has_typed_methods(client)
    if case.require_capability is not None and not (
        case.require_capability == "strongly-typed" and typed
    ):
        pytest.skip("ldfast lacks capability %r" % case.require_capability)
    failures = check_case(client, case, make_context(case, form, ldfast.Context), typed)
    assert not failures, _message(case, form, failures)


# ---------------------------------------------------------------------------------------------
# the official SDK as an oracle for the loader


def _official_client(flags: Dict[str, Any], segments: Dict[str, Any]) -> Any:
    from ldclient.client import LDClient
    from ldclient.config import Config
    from ldclient.interfaces import UpdateProcessor
    from ldclient.versioned_data_kind import FEATURES, SEGMENTS

    data = {FEATURES: copy.deepcopy(flags), SEGMENTS: copy.deepcopy(segments)}

    class _Static(UpdateProcessor):
        def __init__(self, config: Any, store: Any, ready: Any) -> None:
            self._store, self._ready, self._ok = store, ready, False

        def start(self) -> None:
            self._store.init(data)
            self._ok = True
            self._ready.set()

        def stop(self) -> None:
            pass

        def is_alive(self) -> bool:
            return False

        def initialized(self) -> bool:
            return self._ok

    config = Config("sdk-key", update_processor_class=_Static, send_events=False,
                    diagnostic_opt_out=True)
    return LDClient(config=config, start_wait=5)


_ORACLE_FILES = sorted({c.file for c in CASES if c.require_capability is None})


@pytest.mark.parametrize("file_name", _ORACLE_FILES)
def test_official_sdk_agrees(file_name: str) -> None:
    """The official 9.x SDK meets every expectation the loader produced from this file.

    Suites that need a capability the official Python SDK lacks (strongly-typed) are left out.
    """
    from ldclient.context import Context as OfficialContext

    cases = [c for c in CASES if c.file == file_name and c.require_capability is None]
    assert cases
    problems: List[str] = []
    client = None
    suite = None
    try:
        for case in cases:
            if case.suite_id != suite:
                if client is not None:
                    client.close()
                client = _official_client(case.flags, case.segments)
                suite = case.suite_id
            failures = check_case(client, case, make_context(case, "context", OfficialContext),
                                  typed=False)
            if failures:
                problems.append(_message(case, "official", failures))
    finally:
        if client is not None:
            client.close()
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# the loader's reading rules


def test_yaml_is_read_as_yaml_1_2() -> None:
    doc = loader.load_yaml12(
        "on: true\nv: [on, off, yes, no, y, n, false, 010, 0x1f, 1e3, 1.5, ~, "
        "2017-12-06T07:00:00Z]\nbase: &b {a: 1, c: 2}\nm: {<<: *b, c: 3}\n"
    )
    assert list(doc) == ["on", "v", "base", "m"]
    assert doc["on"] is True
    assert doc["v"] == ["on", "off", "yes", "no", "y", "n", False, 10, 31, 1000.0, 1.5, None,
                        "2017-12-06T07:00:00Z"]
    assert doc["m"] == {"a": 1, "c": 3}


def test_substitution_quoted_and_bare() -> None:
    text = 'a: "<S>"\nb: x-<S>\nc: "<N>"\nd: <N>\ne: "<O>"\nf: <O>\n'
    out = loader.substitute(text, {"S": "str", "N": 5, "O": {"k": [True]}})
    assert loader.load_yaml12(out) == {"a": "str", "b": "x-str", "c": 5, "d": 5,
                                       "e": {"k": [True]}, "f": {"k": [True]}}


def test_parameters_lists_are_a_cartesian_product() -> None:
    text = (
        "name: p <A> <B>\nconstants: {C: {value: <A>}}\n"
        "parameters:\n  - [{A: 1}, {A: 2}]\n  - [{B: x}, {B: y, A: 3}]\n"
        "evaluations: [{flagKey: f, context: {kind: user, key: k}, expect: <C>}]\n"
    )
    sources = loader.expand_sources(text)
    assert [p for _, p in sources] == [{"A": 1, "B": "x"}, {"A": 2, "B": "x"},
                                       {"A": 3, "B": "y"}, {"A": 3, "B": "y"}]
    suite = loader.load_yaml12(sources[1][0])
    assert suite["name"] == "p 2 x"
    assert suite["evaluations"][0]["expect"] == {"value": 2}


def test_cases_get_harness_defaults() -> None:
    by_id = {c.id: c for c in CASES}
    assert len(by_id) == len(CASES)  # ids are unique
    # 4 x 4 x 2 parameter sets, 2 evaluations each
    assert sum(c.file == "operators-date-equal.yml" for c in CASES) == 64
    errors = [c for c in CASES if c.file == "errors.yml"]
    flag = errors[1].flags[errors[1].flag_key]
    assert flag["on"] is False and flag["key"] == errors[1].flag_key and flag["version"] == 1
    typed = [c for c in CASES if c.require_capability == "strongly-typed"]
    assert typed and all(not c.check_all_flags for c in typed)
    # a missing default is the zero value of the first variation's type
    case = by_id["segment-match.yml::segment match::flag-using-segment1::0"]
    assert case.default is False and case.value_type == "bool"
    assert case.flags["flag-using-segment1"]["rules"][0]["clauses"][0]["negate"] is False
    # a name that no constant or parameter defines stays as written, as in the harness
    assert [c.default for c in CASES if c.file == "json-variations.yml"] == ["<TYPE_DEFAULT>"] * 2
