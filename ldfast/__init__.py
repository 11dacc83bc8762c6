"""ldfast: a fast, Twisted-native LaunchDarkly server-side SDK (drop-in: ``import ldfast as ldclient``)."""
from __future__ import annotations

import logging
import threading
from typing import Optional

from ldfast import hook, migrations, plugin
from ldfast._alias import install_as_ldclient
from ldfast._ext import USE_EXTENSIONS, ExtensionsUnavailableWarning, unavailable_reason
from ldfast.client import LDClient
from ldfast.config import BigSegmentsConfig, Config, HTTPConfig
from ldfast.context import Context, ContextBuilder, ContextMultiBuilder
from ldfast.evaluation import BigSegmentsStatus, EvaluationDetail, FeatureFlagsState
from ldfast.migrations import (  # the names the official top-level module takes from its migrations
    ExecutionOrder,
    MigrationConfig,
    Migrator,
    MigratorBuilder,
    MigratorCompareFn,
    MigratorFn,
    Operation,
    OperationResult,
    OpTracker,
    Origin,
    Result,
    Stage,
)
from ldfast.twisted import TwistedConfig, TwistedLDClient
from ldfast.version import VERSION

__version__ = VERSION

log = logging.getLogger("ldfast")
"""The package's logger (the official ``ldclient.log``); each module logs under ``ldfast.*``."""

start_wait = 5
"""Seconds ``get()`` waits for the shared client to initialize (as ``ldclient.start_wait``)."""

_lock = threading.Lock()
_config: Optional[Config] = None
_client: Optional[LDClient] = None


def extensions_enabled() -> bool:
    """True when the compiled twins are in use (False under LDFAST_NO_EXTENSIONS=1 or if not built)."""
    from ldfast._ext import evaluator

    return USE_EXTENSIONS and evaluator.implementation.__name__.endswith("_c")


def extensions_unavailable_reason() -> Optional[str]:
    """Why the pure-Python twins are in use (``LDFAST_NO_EXTENSIONS``, no C compiler at install
    time, not built), or None when the compiled twins are."""
    return unavailable_reason()


def set_config(config: Config) -> None:
    """Set the configuration of the shared client returned by ``get()`` (recreating it if it exists)."""
    global _config, _client
    with _lock:
        old = _client
        _config = config
        _client = None
    if old is not None:
        old.close()


def get() -> LDClient:
    """The shared client, created on first use from the config given to ``set_config()``."""
    global _client
    with _lock:
        if _client is None:
            if _config is None:
                raise RuntimeError("ldfast.set_config() must be called before ldfast.get()")
            _client = LDClient(_config, start_wait=start_wait)
        return _client


__all__ = (
    "BigSegmentsConfig",
    "BigSegmentsStatus",
    "Config",
    "Context",
    "ContextBuilder",
    "ContextMultiBuilder",
    "EvaluationDetail",
    "ExecutionOrder",
    "ExtensionsUnavailableWarning",
    "FeatureFlagsState",
    "HTTPConfig",
    "LDClient",
    "MigrationConfig",
    "Migrator",
    "MigratorBuilder",
    "MigratorCompareFn",
    "MigratorFn",
    "OpTracker",
    "Operation",
    "OperationResult",
    "Origin",
    "Result",
    "Stage",
    "TwistedConfig",
    "TwistedLDClient",
    "VERSION",
    "AsyncLDClient",
    "extensions_enabled",
    "extensions_unavailable_reason",
    "get",
    "hook",
    "install_as_ldclient",
    "log",
    "migrations",
    "plugin",
    "set_config",
    "start_wait",
)


def __getattr__(name: str) -> object:
    # AsyncLDClient loads lazily (as the official package's), with ldfast.async_client
    if name == "AsyncLDClient":
        from ldfast.async_client import AsyncLDClient

        return AsyncLDClient
    raise AttributeError("module 'ldfast' has no attribute %r" % (name,))
