"""ldfast: a fast, Twisted-native LaunchDarkly server-side SDK (drop-in: ``import ldfast as ldclient``)."""
from __future__ import annotations

import threading
from typing import Optional

from ldfast._ext import USE_EXTENSIONS
from ldfast.client import LDClient
from ldfast.config import BigSegmentsConfig, Config, HTTPConfig
from ldfast.context import Context, ContextBuilder, ContextMultiBuilder
from ldfast.evaluation import BigSegmentsStatus, EvaluationDetail, FeatureFlagsState
from ldfast.twisted import TwistedConfig, TwistedLDClient
from ldfast.version import VERSION

__version__ = VERSION

_lock = threading.Lock()
_config: Optional[Config] = None
_client: Optional[LDClient] = None


def extensions_enabled() -> bool:
    """True when the compiled twins are in use (False under LDFAST_NO_EXTENSIONS=1 or if not built)."""
    from ldfast._ext import evaluator

    return USE_EXTENSIONS and evaluator.implementation.__name__.endswith("_c")


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
            _client = LDClient(_config)
        return _client


__all__ = (
    "BigSegmentsConfig",
    "BigSegmentsStatus",
    "Config",
    "Context",
    "ContextBuilder",
    "ContextMultiBuilder",
    "EvaluationDetail",
    "FeatureFlagsState",
    "HTTPConfig",
    "LDClient",
    "TwistedConfig",
    "TwistedLDClient",
    "VERSION",
    "extensions_enabled",
    "get",
    "set_config",
)
