"""Plugins (``ldclient.plugin`` of launchdarkly-server-sdk 9.x): ``Plugin`` and the metadata it is
given; and the client start-up steps that use them.

At client start, as in the official SDK: every plugin's ``get_hooks(environment_metadata)`` is
asked first (its hooks run after the ``Config(hooks=...)`` ones, in plugin order), then, before
the data source starts, every plugin's ``register(client, environment_metadata)``. A plugin that
raises in either is logged and skipped; the client starts regardless.
"""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, List, Optional

from ldfast.hook import Hook, _only_hooks
from ldfast.version import VERSION

if TYPE_CHECKING:
    from ldfast.client import LDClient

log = logging.getLogger(__name__)

SDK_NAME = "python-server-sdk"  # as the official SDK reports itself (ldfast speaks as PythonClient)


@dataclass
class SdkMetadata:
    """Metadata about the SDK."""

    name: str  #: The id of the SDK ("python-server-sdk").
    version: str  #: The version of the SDK.
    wrapper_name: Optional[str] = None  #: The wrapper name if this SDK is a wrapper.
    wrapper_version: Optional[str] = None  #: The wrapper version if this SDK is a wrapper.


@dataclass
class ApplicationMetadata:
    """Metadata about the application using the SDK."""

    id: Optional[str] = None  #: The id of the application.
    version: Optional[str] = None  #: The version of the application.


@dataclass
class EnvironmentMetadata:
    """Metadata about the environment in which the SDK is running."""

    sdk: SdkMetadata  #: Information about the SDK.
    sdk_key: Optional[str] = None  #: The SDK key used to initialize the SDK.
    application: Optional[ApplicationMetadata] = None  #: Information about the application.


@dataclass
class PluginMetadata:
    """Metadata about a plugin implementation."""

    name: str  #: A name representing the plugin instance.


class Plugin(ABC):
    """Base class of plugins: every plugin given to ldfast must inherit from it.

    A plugin bundles set-up in one object: hooks to add (``get_hooks``) and a ``register`` call with
    the client, made once when the client starts. It works with ``ldfast.LDClient`` and
    ``ldfast.TwistedLDClient`` alike (``register`` is given the client being started).
    """

    @property
    @abstractmethod
    def metadata(self) -> PluginMetadata:
        """Metadata about the plugin implementation."""
        return PluginMetadata(name="UNDEFINED")

    @abstractmethod
    def register(self, client: "LDClient", metadata: EnvironmentMetadata) -> None:
        """Called once while the client starts (after ``get_hooks``, before its data source starts).

        :param client: the client being started
        :param metadata: the environment in which the SDK is running
        """

    @abstractmethod
    def get_hooks(self, metadata: EnvironmentMetadata) -> List[Hook]:
        """The hooks this plugin adds to the client (called once, before ``register``).

        :param metadata: the environment in which the SDK is running
        :return: hooks, run after those of ``Config(hooks=...)``
        """
        return []


class AsyncPlugin(ABC):
    """The official SDK's plugin interface for its asyncio client (``register`` is a coroutine).

    Here for the name's sake: ldfast has no asyncio client yet, and ``LDClient``/``TwistedLDClient``
    take only :class:`Plugin` (an ``AsyncPlugin`` given to them is left out with a warning).
    """

    @property
    @abstractmethod
    def metadata(self) -> PluginMetadata:
        """Metadata about the plugin implementation."""
        return PluginMetadata(name="UNDEFINED")

    async def register(self, client: Any, metadata: EnvironmentMetadata) -> None:
        """Awaited once while the asyncio client starts."""

    def get_hooks(self, metadata: EnvironmentMetadata) -> List[Hook]:
        """The hooks this plugin adds to the client."""
        return []


def _environment_metadata(config: Any) -> EnvironmentMetadata:
    """What plugins are told about this client (as the official ``get_environment_metadata``)."""
    application = None
    if config.application:
        application = ApplicationMetadata(id=config.application.get("id"), version=config.application.get("version"))
    return EnvironmentMetadata(sdk=SdkMetadata(name=SDK_NAME, version=VERSION, wrapper_name=config.wrapper_name,
                                               wrapper_version=config.wrapper_version),
                               sdk_key=config.sdk_key, application=application)


def _plugin_name(plugin: Any) -> str:
    try:
        return str(plugin.metadata.name)
    except Exception:
        return type(plugin).__name__


def _only_plugins(items: Iterable[Any]) -> List[Plugin]:
    plugins = []
    for item in items:
        if isinstance(item, Plugin):
            plugins.append(item)
        else:
            log.warning("Ignoring %r from Config(plugins=...): a plugin must be an instance of ldfast.plugin.Plugin",
                        item)
    return plugins


def _plugin_hooks(plugins: Iterable[Plugin], metadata: EnvironmentMetadata) -> List[Hook]:
    """Every plugin's hooks, in plugin order; a plugin that raises is logged and adds none."""
    hooks: List[Hook] = []
    for plugin in plugins:
        try:
            got = list(plugin.get_hooks(metadata) or [])
        except Exception as e:
            log.error("Error getting hooks from plugin %s: %s", _plugin_name(plugin), e)
            continue
        hooks.extend(_only_hooks(got, "the hooks of plugin %s" % _plugin_name(plugin)))
    return hooks


def _register_plugins(plugins: Iterable[Plugin], client: Any, metadata: EnvironmentMetadata) -> None:
    for plugin in plugins:
        try:
            plugin.register(client, metadata)
        except Exception as e:
            log.error("Error registering plugin %s: %s", _plugin_name(plugin), e)


__all__ = ("ApplicationMetadata", "AsyncPlugin", "EnvironmentMetadata", "Plugin", "PluginMetadata", "SdkMetadata")
