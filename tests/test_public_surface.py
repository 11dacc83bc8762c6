"""ldfast's public surface against the installed official SDK (launchdarkly-server-sdk 9.x).

Every public module of ``ldclient`` (not ``impl``, not ``testing``) must exist as ``ldfast.<same
path>``, defining the same public names; a class must have the same public methods and
properties, and every callable must accept every parameter name the official one has. The only
exceptions are the entries of ``OMISSIONS``, each with its reason; an entry that no longer
matches anything fails too (so the table cannot rot).
"""
from __future__ import annotations

import ast
import fnmatch
import importlib
import importlib.util
import inspect
import pkgutil
from typing import Any, Dict, List, Set, TypeVar

import pytest

ldclient = pytest.importorskip("ldclient")

ASYNC = "asyncio stores and migrator: ldfast's asyncio client takes ldfast's stores and MigratorBuilder"
FDV2 = "FDv2 data system (early access in the official SDK): not in ldfast"

# What ldfast deliberately lacks. Keys: "module", "module:Name", "module:Class.member",
# "module:Class.__init__(param)" (fnmatch patterns).
OMISSIONS: Dict[str, str] = {
    "ldclient.async_feature_store": ASYNC,
    "ldclient.async_feature_store_helpers": ASYNC,
    "ldclient.migrations.async_migrator": ASYNC,
    "ldclient:AsyncMigrat*": ASYNC,
    "ldclient.migrations:AsyncMigrat*": ASYNC,
    "ldclient.migrations:AsyncExecutor": ASYNC,
    "ldclient.interfaces:Async*": ASYNC,
    "ldclient.integrations:*.async_*": ASYNC,
    "ldclient.datasystem": FDV2,
    "ldclient.integrations.test_datav2": FDV2,
    "ldclient.integrations:Files.new_data_source_v2": FDV2,
    "ldclient.integrations:FileDataSourceV2Builder": FDV2,
    "ldclient*:DataSourceBuilder*": FDV2,
    "ldclient.config:DataSystemConfig": FDV2,
    "ldclient.async_config:AsyncDataSystemConfig": FDV2,
    "ldclient*:Config.datasystem_config": FDV2,
    "ldclient*:Config.__init__(datasystem_config)": FDV2,
    # the FDv2 protocol types of ldclient.interfaces
    "ldclient.interfaces:Basis": FDV2,
    "ldclient.interfaces:BasisResult": FDV2,
    "ldclient.interfaces:Change": FDV2,
    "ldclient.interfaces:ChangeSet": FDV2,
    "ldclient.interfaces:ChangeSetBuilder": FDV2,
    "ldclient.interfaces:ChangeType": FDV2,
    "ldclient.interfaces:DataStoreMode": FDV2,
    "ldclient.interfaces:EventName": FDV2,
    "ldclient.interfaces:Initializer": FDV2,
    "ldclient.interfaces:IntentCode": FDV2,
    "ldclient.interfaces:ObjectKind": FDV2,
    "ldclient.interfaces:Payload": FDV2,
    "ldclient.interfaces:ReadOnlyStore": FDV2,
    "ldclient.interfaces:Selector": FDV2,
    "ldclient.interfaces:SelectorStore": FDV2,
    "ldclient.interfaces:ServerIntent": FDV2,
    "ldclient.interfaces:Synchronizer": FDV2,
    "ldclient.interfaces:Update": FDV2,
}


def _omitted(key: str, used: Set[str]) -> bool:
    for pattern in OMISSIONS:
        if fnmatch.fnmatchcase(key, pattern):
            used.add(pattern)
            return True
    return False


def _official_modules() -> List[str]:
    names = ["ldclient"]
    for info in pkgutil.walk_packages(ldclient.__path__, "ldclient.", onerror=lambda name: None):
        parts = info.name.split(".")
        if "impl" in parts or "testing" in parts:
            continue
        names.append(info.name)
    return sorted(names)


def _defined_names(module: Any) -> List[str]:
    """The public names a module defines (classes, functions, assignments), and, for a package's
    ``__init__``, the names it re-exports from the official SDK (``ldclient.Result`` and
    ``ldclient.log`` come from ``ldclient.impl.util``: public at the top level all the same)."""
    tree = ast.parse(inspect.getsource(module))
    is_package = hasattr(module, "__path__")
    out: Set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            out.add(node.name)
        elif isinstance(node, ast.Assign):
            out.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.add(node.target.id)
        elif (is_package and isinstance(node, ast.ImportFrom)
              and (node.level > 0 or (node.module or "").startswith("ldclient"))):
            for alias in node.names:
                if alias.name != "*":
                    out.add(alias.asname or alias.name)
                    continue
                source = importlib.import_module(
                    node.module if node.level == 0 else
                    importlib.util.resolve_name("." * node.level + (node.module or ""), module.__name__))
                out.update(getattr(source, "__all__", None) or _defined_names(source))
    names = []
    for name in sorted(out):
        if name.startswith("_") or isinstance(getattr(module, name, None), TypeVar):
            continue  # private, or a typing helper
        names.append(name)
    return names


def _accepts(official: Any, ours: Any) -> List[str]:
    """The official parameter names ``ours`` does not accept."""
    try:
        theirs = inspect.signature(official).parameters
        mine = inspect.signature(ours).parameters
    except (TypeError, ValueError):
        return []
    if any(p.kind is p.VAR_KEYWORD for p in mine.values()):
        return []
    return [n for n, p in theirs.items()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and n not in mine]


def _problems() -> tuple:
    problems: List[str] = []
    used: Set[str] = set()
    for name in _official_modules():
        if _omitted(name, used):
            continue
        official = importlib.import_module(name)
        ours_name = "ldfast" + name[len("ldclient"):]
        try:
            ours = importlib.import_module(ours_name)
        except ImportError:
            problems.append("missing module %s" % ours_name)
            continue
        for attr in _defined_names(official):
            key = "%s:%s" % (name, attr)
            if _omitted(key, used):
                continue
            if not hasattr(ours, attr):
                problems.append("missing %s" % key)
                continue
            theirs, mine = getattr(official, attr), getattr(ours, attr)
            if inspect.isclass(theirs):
                if not inspect.isclass(mine):
                    problems.append("%s is not a class" % key)
                    continue
                for member in (m for m in dir(theirs) if not m.startswith("_")):
                    mkey = "%s.%s" % (key, member)
                    if _omitted(mkey, used):
                        continue
                    if not hasattr(mine, member):
                        problems.append("missing %s" % mkey)
                        continue
                    t_static = inspect.getattr_static(theirs, member)
                    m_static = inspect.getattr_static(mine, member)
                    if isinstance(t_static, property) and callable(getattr(mine, member)) \
                            and not isinstance(m_static, property) and not hasattr(m_static, "__get__"):
                        problems.append("%s should be a property" % mkey)
                    if inspect.isfunction(t_static) or isinstance(t_static, (staticmethod, classmethod)):
                        if not callable(getattr(mine, member)):
                            problems.append("%s should be callable" % mkey)
                        for p in _accepts(getattr(theirs, member), getattr(mine, member)):
                            if not _omitted("%s(%s)" % (mkey, p), used):
                                problems.append("%s does not accept %r" % (mkey, p))
                for p in _accepts(theirs.__init__, mine.__init__):
                    if not _omitted("%s.__init__(%s)" % (key, p), used):
                        problems.append("%s.__init__ does not accept %r" % (key, p))
            elif callable(theirs) and inspect.isroutine(theirs):
                for p in _accepts(theirs, mine):
                    if not _omitted("%s(%s)" % (key, p), used):
                        problems.append("%s does not accept %r" % (key, p))
    return problems, used


def test_every_public_official_name_exists_in_ldfast():
    problems, _ = _problems()
    assert problems == []


def test_every_omission_is_still_needed():
    _, used = _problems()
    assert sorted(set(OMISSIONS) - used) == []


def test_omissions_are_only_the_allowed_categories_or_flagged_pending():
    for pattern, reason in OMISSIONS.items():
        assert reason in (ASYNC, FDV2) or reason.startswith("PENDING:"), pattern


def test_interfaces_reexport_ldfast_classes_not_copies():
    from ldfast import interfaces
    from ldfast.datasource import status
    from ldfast.flag_tracker import FlagChange, FlagTracker, FlagValueChange

    assert interfaces.DataSourceState is status.DataSourceState
    assert interfaces.DataSourceStatus is status.DataSourceStatus
    assert interfaces.DataSourceErrorInfo is status.DataSourceErrorInfo
    assert interfaces.DataSourceErrorKind is status.DataSourceErrorKind
    assert (interfaces.FlagChange, interfaces.FlagValueChange, interfaces.FlagTracker) == (
        FlagChange, FlagValueChange, FlagTracker)


def test_config_with_wrapper_information_copies():
    from ldfast import Config

    base = Config("sdk-key", wrapper_name="a", wrapper_version="1")
    other = base.with_wrapper_information("OpenFeature", "2.0")
    assert (other.wrapper_name, other.wrapper_version) == ("OpenFeature", "2.0")
    assert (base.wrapper_name, base.wrapper_version) == ("a", "1")
    assert other.sdk_key == "sdk-key"
    with pytest.raises(TypeError):
        base.with_wrapper_information(3)


@pytest.mark.parametrize("option", ["event_processor_class", "feature_requester_class"])
def test_unsupported_options_raise_rather_than_being_ignored(option):
    from ldfast import Config

    with pytest.raises(NotImplementedError, match=option):
        Config("sdk-key", **{option: lambda *a: None})


def test_stores_ldfast_lacks_raise():
    from ldfast import integrations

    with pytest.raises(NotImplementedError):
        integrations.Consul.new_feature_store()


def test_versioned_data_kind_decode_encode_as_official():
    from ldfast.versioned_data_kind import FEATURES, VersionedDataKind

    kind = VersionedDataKind("x", "/x", "/x/", decoder=lambda d: ("decoded", d["key"]))
    assert kind.decode({"key": "k"}) == ("decoded", "k")
    assert kind.decode("text") == "text"
    assert FEATURES.decode({"key": "f"}) == {"key": "f"}
    assert FEATURES.encode({"key": "f"}) == {"key": "f"}
    assert FEATURES.priority == 1 and list(FEATURES.get_dependency_keys({"prerequisites": [{"key": "p"}]})) == ["p"]


def test_top_level_log_and_start_wait():
    import logging

    import ldfast

    assert ldfast.log is logging.getLogger("ldfast")
    assert ldfast.start_wait == ldclient.start_wait
