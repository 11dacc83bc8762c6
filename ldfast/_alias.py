"""install_as_ldclient(): make ``import ldclient`` (and every public ``ldclient.X``) import ldfast.

A meta path finder, first on ``sys.meta_path``, answers for the ``ldclient`` package: ``ldclient.X``
is the module ``ldfast.X`` itself (same object, so ``isinstance`` checks and module state are
shared), for every public module path of the official SDK that ldfast mirrors. Names with no ldfast
counterpart raise ImportError saying so, instead of loading the official SDK's half behind
ldfast's back: ``ldclient.impl.*`` (the official SDK's internals, not its API), ``ldclient.testing``,
and the modules ldfast does not provide (asyncio stores and migrator, the FDv2 data system).

Call it before anything imports ``ldclient``: official modules imported earlier are dropped from
``sys.modules`` (later imports get ldfast's), but objects already taken from them stay official.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import threading
from typing import Any, Optional, Sequence

_PACKAGE = "ldclient"
_lock = threading.Lock()

_NOT_PROVIDED = {
    "impl": "the official SDK's internals, not its public API",
    "testing": "the official SDK's own test helpers",
    "async_feature_store": "ldfast's asyncio client takes ldfast's stores (read off the loop), not asyncio ones",
    "async_feature_store_helpers": "ldfast's asyncio client takes ldfast's stores (read off the loop), not asyncio ones",
    "datasystem": "the FDv2 data system (early access) is not in ldfast",
    "integrations.test_datav2": "the FDv2 data system (early access) is not in ldfast",
    "migrations.async_migrator": "ldfast has no asyncio migrator yet (asyncio client: MigratorBuilder is sync)",
}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, module: Any):
        self._module = module

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return self._module

    def exec_module(self, module: Any) -> None:
        pass  # (already executed, as ldfast.X)


class _LdclientFinder(importlib.abc.MetaPathFinder):
    """Finds ``ldclient`` and ``ldclient.X`` as ``ldfast`` and ``ldfast.X``."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None,
                  target: Any = None) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname != _PACKAGE and not fullname.startswith(_PACKAGE + "."):
            return None
        rest = fullname[len(_PACKAGE):]
        parts = rest.lstrip(".").split(".")
        for i in range(len(parts), 0, -1):
            reason = _NOT_PROVIDED.get(".".join(parts[:i]))
            if reason is not None:
                raise ImportError("%s is not provided by ldfast (install_as_ldclient() is active): %s"
                                  % (fullname, reason), name=fullname)
        target_name = "ldfast" + rest
        try:
            module = importlib.import_module(target_name)
        except ModuleNotFoundError as e:
            if e.name != target_name:
                raise
            raise ImportError("%s is not provided by ldfast (no %s; install_as_ldclient() is active)"
                              % (fullname, target_name), name=fullname) from None
        is_package = hasattr(module, "__path__")
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(module), is_package=is_package)


_finder = _LdclientFinder()


def install_as_ldclient() -> None:
    """Make ``import ldclient`` and ``import ldclient.X`` give ldfast's modules from now on, so
    code written for the official SDK (wrappers, plugins, your own) runs on ldfast unchanged.

    Idempotent. ``ldclient.impl.*`` and the modules ldfast lacks (asyncio client, FDv2 data
    system) raise ImportError naming the module and why.
    """
    with _lock:
        if _finder not in sys.meta_path:
            sys.meta_path.insert(0, _finder)
        for name in [n for n in sys.modules if n == _PACKAGE or n.startswith(_PACKAGE + ".")]:
            module = sys.modules[name]
            if not getattr(module, "__name__", "").startswith("ldfast"):
                del sys.modules[name]  # an official module imported before: ldfast's from now on
        import ldfast

        sys.modules[_PACKAGE] = ldfast


def uninstall_as_ldclient() -> None:
    """Undo :func:`install_as_ldclient` (for tests): the next ``import ldclient`` is the official SDK."""
    with _lock:
        if _finder in sys.meta_path:
            sys.meta_path.remove(_finder)
        for name in [n for n in sys.modules if n == _PACKAGE or n.startswith(_PACKAGE + ".")]:
            del sys.modules[name]
