"""Loads LaunchDarkly's server-side evaluation conformance data into flat test cases.

Pure data loading, no ldfast import: the files in ``tests/conformance/server-side-eval`` (a copy of LaunchDarkly's sdk-test-harness data)
(sdk-test-harness 2.41.0) are read the way the harness reads them (see the README next to them):

- YAML 1.2 core schema: only true/false (and their capitalised forms, as Go's yaml.v3 accepts)
  are booleans, so the flag field ``on:`` and the strings yes/no/on/off stay strings; ints are
  decimal (``010`` is 10), ``0o``/``0x`` are octal/hex; timestamps stay strings; ``<<`` merges.
- ``constants`` and ``parameters`` are raw-text substitutions applied before parsing: constants,
  then one parameter set, then constants again. ``"<NAME>"`` (quoted) becomes the JSON text of the
  value; a bare ``<NAME>`` becomes the value itself when it is a string, else its JSON text.
- ``parameters`` is a list of objects (one suite each) or a list of lists of objects (one suite per
  element of their cartesian product, the objects merged, the first list varying fastest).
- Flags and segments get their map key as ``key`` and version 1 when it is missing or 0; clauses
  get ``attribute`` "", ``values`` [] and ``negate`` false when missing; rules get ``clauses`` [].
  Like the harness's round trip through Go's ldmodel, targets also get ``values`` [] (and
  ``variation`` 0), prerequisites and weighted variations an int ``variation``/``weight`` 0.
- A missing (or null) ``default`` is the zero value of the type of the flag's first variation
  (false, 0, "") or null; ``valueType`` defaults from the default's type as the harness does.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple

import yaml

__all__ = (
    "CONFORMANCE_DIR",
    "ConformanceCase",
    "data_files",
    "expand_sources",
    "is_old_user",
    "load_all",
    "load_file",
    "load_yaml12",
    "substitute",
)

CONFORMANCE_DIR = os.environ.get(
    "LDFAST_CONFORMANCE_DIR",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "conformance", "server-side-eval"),
)


# ---------------------------------------------------------------------------------------------
# YAML 1.2 (core schema) loader


# libyaml's parser when present (3x faster); typing is still done by the Python resolver below.
_BaseSafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Yaml12Loader(_BaseSafeLoader):  # type: ignore[valid-type,misc]
    """SafeLoader with YAML 1.2 core-schema implicit typing instead of YAML 1.1's."""

    yaml_implicit_resolvers: Dict[Any, list] = {}


def _add_resolver(tag: str, pattern: str, first: Iterable[str]) -> None:
    _Yaml12Loader.add_implicit_resolver(tag, re.compile(pattern, re.X), list(first))


_DIGITS = list("-+0123456789")
_add_resolver("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""])
_add_resolver("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF")
# int before float: a resolver list is tried in order and the first match wins.
_add_resolver("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", _DIGITS)
_add_resolver(
    "tag:yaml.org,2002:float",
    r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
    _DIGITS + ["."],
)
_add_resolver("tag:yaml.org,2002:merge", r"^(?:<<)$", ["<"])


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    text = loader.construct_scalar(node)
    assert isinstance(text, str)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)  # "010" is 10 in YAML 1.2, not octal


def _construct_float(loader: yaml.SafeLoader, node: yaml.Node) -> float:
    text = loader.construct_scalar(node)
    assert isinstance(text, str)
    low = text.lower()
    if low in (".inf", "+.inf"):
        return float("inf")
    if low == "-.inf":
        return float("-inf")
    if low == ".nan":
        return float("nan")
    return float(text)


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Dict[str, Any]:
    # Like the harness (JSON underneath), keys must be strings.
    loader.flatten_mapping(node)
    result: Dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                None, None, "non-string mapping key %r" % (key,), key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
    return result


_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Yaml12Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def load_yaml12(text: str) -> Any:
    """Parses one YAML document with YAML 1.2 core-schema scalars."""
    return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader subclass


# ---------------------------------------------------------------------------------------------
# constants / parameters


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def substitute(text: str, substs: Dict[str, Any]) -> str:
    """One substitution pass of the harness (``replaceVariables``), names in the given order."""
    text = text.replace("\\u003c", "<").replace("\\u003e", ">")
    for name, value in substs.items():
        typed = _json_text(value)
        text = text.replace('"<%s>"' % name, typed)
        text = text.replace("<%s>" % name, value if isinstance(value, str) else typed)
    return text


def _parameter_sets(params: Any) -> List[Dict[str, Any]]:
    if not params:
        return []
    if not isinstance(params, list):
        raise ValueError("parameters must be a list")
    if isinstance(params[0], dict):
        if not all(isinstance(p, dict) for p in params):
            raise ValueError("parameters: expected a list of objects")
        return [dict(p) for p in params]
    if not isinstance(params[0], list):
        raise ValueError("parameters must be an array of objects or an array of arrays")
    lists = params
    for lst in lists:
        if not isinstance(lst, list) or not lst or not all(isinstance(p, dict) for p in lst):
            raise ValueError("parameters: expected a list of non-empty lists of objects")
    result = []
    # The harness increments the first list's index fastest.
    for combo in itertools.product(*reversed(lists)):
        merged: Dict[str, Any] = {}
        for obj in reversed(combo):  # lists[0] first, later lists override
            merged.update(obj)
        result.append(merged)
    return result


def expand_sources(text: str) -> List[Tuple[str, Dict[str, Any]]]:
    """The file's text after substitution, once per parameter set (``expandSubstitutions``)."""
    head = load_yaml12(text) or {}
    if not isinstance(head, dict):
        raise ValueError("top level of a conformance file must be a mapping")
    constants = head.get("constants") or {}
    if not isinstance(constants, dict):
        raise ValueError("constants must be a mapping")
    param_sets = _parameter_sets(head.get("parameters"))
    if not constants and not param_sets:
        return [(text, {})]
    if not param_sets:
        return [(substitute(text, constants), {})]
    out = []
    for params in param_sets:
        t = substitute(text, constants)
        t = substitute(t, params)
        t = substitute(t, constants)
        out.append((t, params))
    return out


# ---------------------------------------------------------------------------------------------
# SDK data normalization (what mockld's normalizeFlag/normalizeSegment amount to)


def _with_defaults(obj: Any, defaults: Dict[str, Any]) -> Any:
    if not isinstance(obj, dict):
        return obj
    out = dict(obj)
    for name, default in defaults.items():
        if out.get(name) is None:
            out[name] = copy.deepcopy(default)
    return out


def _map_list(items: Any, fn: Any) -> Any:
    return [fn(x) for x in items] if isinstance(items, list) else items


def _normalize_clause(clause: Any) -> Any:
    return _with_defaults(clause, {"attribute": "", "op": "", "values": [], "negate": False})


def _normalize_rollout(vr: Any) -> Any:
    # fallthrough or rule: weighted variations always carry variation and weight
    if not isinstance(vr, dict) or not isinstance(vr.get("rollout"), dict):
        return vr
    out = dict(vr)
    rollout = dict(out["rollout"])
    rollout["variations"] = _map_list(
        rollout.get("variations"), lambda wv: _with_defaults(wv, {"variation": 0, "weight": 0})
    )
    out["rollout"] = rollout
    return out


def _normalize_rule(rule: Any) -> Any:
    rule = _normalize_rollout(_with_defaults(rule, {"clauses": []}))
    if isinstance(rule, dict):
        rule["clauses"] = _map_list(rule["clauses"], _normalize_clause)
    return rule


def _normalize_item(key: str, item: Any) -> Dict[str, Any]:
    """What mockld's normalizeFlag/normalizeSegment (a round trip through Go's ldmodel) amount to
    for the fields an SDK's parser may require: the key, version 1 for a missing or zero version,
    and defaults inside rules, clauses, targets, prerequisites and weighted variations (Go always
    writes those). Top-level properties that are missing stay missing."""
    if item is None:
        item = {}
    if not isinstance(item, dict):
        raise ValueError("item %r is not an object" % (key,))
    out = copy.deepcopy(item)
    out["key"] = key
    if not out.get("version"):
        out["version"] = 1
    if "rules" in out:
        out["rules"] = _map_list(out["rules"], _normalize_rule)
    if "fallthrough" in out:
        out["fallthrough"] = _normalize_rollout(out["fallthrough"])
    if "prerequisites" in out:
        out["prerequisites"] = _map_list(out["prerequisites"],
                                         lambda p: _with_defaults(p, {"variation": 0}))
    for name in ("targets", "contextTargets"):  # flags
        if name in out:
            out[name] = _map_list(out[name],
                                  lambda t: _with_defaults(t, {"variation": 0, "values": []}))
    for name in ("includedContexts", "excludedContexts"):  # segments
        if name in out:
            out[name] = _map_list(out[name], lambda t: _with_defaults(t, {"values": []}))
    return out


# ---------------------------------------------------------------------------------------------
# cases


@dataclass(frozen=True)
class ConformanceCase:
    """One entry of ``evaluations`` of one (parameterized) suite."""

    id: str  # "file.yml::suite name::flagKey::n", n counting the cases of the file from 0
    file: str
    suite: str
    suite_id: str  # "file.yml#k": identifies the suite (one per parameter set)
    name: str
    flag_key: str
    flags: Dict[str, Any] = field(repr=False)  # shared by the cases of a suite: do not mutate
    segments: Dict[str, Any] = field(repr=False)
    context: Any  # raw, as in the file
    default: Any  # after inference from the flag when missing/null
    value_type: str  # bool, int, double, string or any (explicit, else inferred)
    expect_value: Any
    expect_variation_index: Optional[int]
    expect_reason: Optional[Dict[str, Any]]
    check_all_flags: bool  # not skipEvaluateAllFlags
    require_capability: Optional[str]
    params: Dict[str, Any] = field(repr=False)

    @property
    def old_user(self) -> bool:
        return is_old_user(self.context)

    @property
    def expect_all_flags_value(self) -> Any:
        """all_flags_state's value: the expected value, or null when no variation is expected."""
        return self.expect_value if self.expect_variation_index is not None else None


def is_old_user(context: Any) -> bool:
    """A context dict with no ``kind`` is a pre-8.0 user."""
    return isinstance(context, dict) and "kind" not in context


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _infer_default(flags: Dict[str, Any], flag_key: str) -> Any:
    flag = flags.get(flag_key)
    if not isinstance(flag, dict):
        return None
    variations = flag.get("variations")
    if not isinstance(variations, list) or not variations:
        return None
    first = variations[0]
    if isinstance(first, bool):
        return False
    if _is_number(first):
        return 0
    if isinstance(first, str):
        return ""
    return None


def _infer_value_type(original_default: Any, default: Any) -> str:
    # makeEvalFlagParams: the int/double choice looks at the *original* default (null -> double).
    if isinstance(default, bool):
        return "bool"
    if _is_number(default):
        if _is_number(original_default) and float(original_default).is_integer():
            return "int"
        return "double"
    if isinstance(default, str):
        return "string"
    return "any"


def _suite_cases(
    file_name: str, suite_index: int, suite: Dict[str, Any], params: Dict[str, Any], start: int
) -> List[ConformanceCase]:
    suite_name = str(suite.get("name") or file_name)
    sdk_data = suite.get("sdkData") or {}
    flags = {k: _normalize_item(k, v) for k, v in (sdk_data.get("flags") or {}).items()}
    segments = {k: _normalize_item(k, v) for k, v in (sdk_data.get("segments") or {}).items()}
    check_all = not bool(suite.get("skipEvaluateAllFlags"))
    capability = suite.get("requireCapability") or None
    cases = []
    for i, ev in enumerate(suite.get("evaluations") or []):
        flag_key = str(ev.get("flagKey", ""))
        original_default = ev.get("default")
        default = original_default
        if default is None:
            default = _infer_default(flags, flag_key)
        value_type = ev.get("valueType") or _infer_value_type(original_default, default)
        expect = ev.get("expect") or {}
        context = ev["context"] if "context" in ev else ev.get("user")
        n = start + i
        cases.append(
            ConformanceCase(
                id="%s::%s::%s::%d" % (file_name, suite_name, flag_key, n),
                file=file_name,
                suite=suite_name,
                suite_id="%s#%d" % (file_name, suite_index),
                name=str(ev.get("name") or flag_key),
                flag_key=flag_key,
                flags=flags,
                segments=segments,
                context=context,
                default=default,
                value_type=str(value_type),
                expect_value=expect.get("value"),
                expect_variation_index=expect.get("variationIndex"),
                expect_reason=expect.get("reason"),
                check_all_flags=check_all,
                require_capability=capability,
                params=params,
            )
        )
    return cases


def load_file(path: str) -> List[ConformanceCase]:
    """All cases of one data file, in file order (parameter sets in harness order)."""
    file_name = os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    cases: List[ConformanceCase] = []
    for suite_index, (source, params) in enumerate(expand_sources(text)):
        suite = load_yaml12(source)
        if not isinstance(suite, dict):
            raise ValueError("%s: a suite must be a mapping" % file_name)
        cases.extend(_suite_cases(file_name, suite_index, suite, params, len(cases)))
    return cases


def data_files(directory: str = CONFORMANCE_DIR) -> List[str]:
    return sorted(
        os.path.join(directory, n)
        for n in os.listdir(directory)
        if n.endswith((".yml", ".yaml", ".json"))
    )


def load_all(directory: str = CONFORMANCE_DIR) -> List[ConformanceCase]:
    """Every case of every data file in ``directory``, files sorted by name."""
    cases: List[ConformanceCase] = []
    for path in data_files(directory):
        cases.extend(load_file(path))
    return cases
