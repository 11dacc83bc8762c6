"""Optional data sources and stores that plug into ``Config``, as in ``ldclient.integrations``.

``Files`` (local flag files), ``Redis`` and ``DynamoDB`` (persistent feature stores and Big Segment
stores, ``ldfast.integrations._redis``/``_dynamodb`` on ``_persistent``).
``TestData`` lives in :mod:`ldfast.integrations.test_data`, where the official SDK keeps it.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Union

import logging
from ldfast.config import Config
from ldfast.feature_store import CacheConfig
from ldfast.feature_store_helpers import CachingStoreWrapper
from ldfast.integrations._dynamodb import DynamoDB
from ldfast.integrations._files import FileDataSourceFactory, PathArg
from ldfast.integrations._redis import Redis
from ldfast.interfaces import BigSegmentStore, FeatureStore, UpdateProcessor

log = logging.getLogger("ldfast")  # (the package logger, as ``ldclient.integrations.log``)

__all__ = ("CacheConfig", "CachingStoreWrapper", "Consul", "DynamoDB", "Files", "Redis")


class Consul:
    """As ``ldclient.integrations.Consul``; not implemented by ldfast (raises): no Consul server can be
    installed where ldfast is tested, and no store is shipped untested."""

    DEFAULT_PREFIX = "launchdarkly"

    @staticmethod
    def new_feature_store(host: Optional[str] = None, port: Optional[int] = None, prefix: Optional[str] = None,
                          consul_opts: Optional[Dict[str, Any]] = None, caching: CacheConfig = CacheConfig.default()) -> Any:
        """Not implemented: raises NotImplementedError (a FeatureStoreCore of your own in a
        ``CachingStoreWrapper`` works as a persistent store meanwhile)."""
        raise NotImplementedError("ldfast has no Consul feature store yet; use ldfast.integrations.Redis, "
                                  "or your own FeatureStoreCore in ldfast.feature_store_helpers.CachingStoreWrapper")


class Files:
    """Factory methods for reading flag data from local files."""

    @staticmethod
    def new_data_source(
        paths: Union[PathArg, Sequence[PathArg]],
        auto_update: bool = False,
        poll_interval: float = 1,
        force_polling: bool = False,
    ) -> FileDataSourceFactory:
        """Use local JSON or YAML files as the source of flag data, instead of LaunchDarkly.

        Pass the result as ``Config(update_processor_class=...)``::

            from ldfast import Config
            from ldfast.integrations import Files

            config = Config("sdk-key", update_processor_class=Files.new_data_source(paths=["flags.yml"]))

        Each file may hold ``flags`` (full flag JSON by key), ``flagValues`` (flag key to a value
        every context gets) and ``segments`` (full segment JSON by key). YAML is read when PyYAML
        is installed, otherwise files must be JSON. If any file is missing or malformed, or a key
        is used twice within flags or segments, nothing is loaded and an error is logged.

        :param paths: one path or a list of paths, absolute or relative to the working directory
        :param auto_update: reload all files whenever one of them changes
        :param poll_interval: seconds between checks of the files' modification times, when
            ``auto_update`` is on and watchdog is not used
        :param force_polling: poll even when the ``watchdog`` package is installed
        :return: a factory for ``Config.update_processor_class``
        """
        return FileDataSourceFactory(paths, auto_update, poll_interval, force_polling)

