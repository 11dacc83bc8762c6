"""AsyncConfig: the asyncio client's configuration (``ldclient.async_config.AsyncConfig``'s API).

Every :class:`ldfast.Config` keyword, with the SDK key as the first argument, as the official
``AsyncConfig(sdk_key, ...)``. Stores are ldfast's (synchronous) ones, such as
``ldfast.integrations.Redis.new_feature_store()``: the asyncio client reads them off the loop, in
a thread, only when a flag is not cached. A store or Big Segment store whose methods are
coroutines (the official SDK's ``AsyncFeatureStore``) is refused with a clear error.
"""
from __future__ import annotations

import inspect
from typing import Any, Optional, Tuple

from ldfast.config import BigSegmentsConfig, Config

AsyncBigSegmentsConfig = BigSegmentsConfig
"""The official name for the asyncio client's Big Segments configuration (the same class here)."""


def _refuse_coroutine_methods(what: str, store: Any, methods: Tuple[str, ...]) -> None:
    for name in methods:
        if inspect.iscoroutinefunction(getattr(store, name, None)):
            raise TypeError("%s: ldfast's AsyncLDClient takes a synchronous store (its reads run in a thread, "
                            "off the event loop), not one whose %s() is a coroutine" % (what, name))


class AsyncConfig(Config):
    """``AsyncConfig(sdk_key, **config_keywords)``: the options of :class:`ldfast.Config`.

    ``datasystem_config`` (the official SDK's experimental FDv2 data system) is accepted by name and
    refused when given, as ldfast has no FDv2 data system.
    """

    def __init__(self, sdk_key: Optional[str], *args: Any, datasystem_config: Any = None, **kwargs: Any):
        if datasystem_config is not None:
            raise NotImplementedError("datasystem_config (FDv2) is not supported by ldfast; use the default "
                                      "streaming/polling data source or update_processor_class")
        store = kwargs.get("feature_store")
        if store is not None:
            _refuse_coroutine_methods("feature_store", store, ("get", "all", "init", "upsert", "delete"))
        big_segments = kwargs.get("big_segments")
        if big_segments is not None and getattr(big_segments, "store", None) is not None:
            _refuse_coroutine_methods("big_segments.store", big_segments.store, ("get_metadata", "get_membership"))
        super().__init__(sdk_key, *args, **kwargs)

    @property
    def datasystem_config(self) -> None:
        return None


__all__ = ("AsyncBigSegmentsConfig", "AsyncConfig")
