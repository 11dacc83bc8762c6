"""Client configuration: Config, HTTPConfig, BigSegmentsConfig (the official keyword names).

Arguments are checked at construction: a wrong type raises TypeError and a bad value ValueError,
each naming the argument.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Callable, Iterable, List, Optional, Protocol, Tuple, Union

log = logging.getLogger(__name__)

DEFAULT_BASE_URI = "https://app.launchdarkly.com"
DEFAULT_EVENTS_URI = "https://events.launchdarkly.com"
DEFAULT_STREAM_URI = "https://stream.launchdarkly.com"
DEFAULT_POLL_INTERVAL = 30.0
DEFAULT_INITIAL_RECONNECT_DELAY = 1
GET_LATEST_FEATURES_PATH = "/sdk/latest-flags"
STREAM_FLAGS_PATH = "/flags"
_SDK_KEY_CHARS = re.compile(r"[-a-zA-Z0-9._]*")  # used with fullmatch, as _APP_VALUE
_APP_VALUE = re.compile(r"[-a-zA-Z0-9._]*")  # used with fullmatch: "$" would also match before a final newline


def _check_type(name: str, value: Any, types: Any, allow_none: bool = False) -> Any:
    if value is None and allow_none:
        return value
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise TypeError("%s must be %s, not bool" % (name, _names(types)))
    if not isinstance(value, types):
        raise TypeError("%s must be %s, not %s" % (name, _names(types), type(value).__name__))
    return value


def _names(types: Union[type, Tuple[type, ...]]) -> str:
    if isinstance(types, tuple):
        return " or ".join(t.__name__ for t in types)
    return types.__name__


def _number(name: str, value: Any, minimum: float = 0.0, strictly: bool = False) -> float:
    number: float = _check_type(name, value, (int, float))
    if number != number or (number <= minimum if strictly else number < minimum):
        raise ValueError("%s must be %s %s, got %r" % (name, ">" if strictly else ">=", minimum, number))
    return number


def _uri(name: str, value: Any) -> str:
    uri: str = _check_type(name, value, str)
    if not uri.strip():
        raise ValueError("%s must not be empty" % name)
    return uri.rstrip("/")


def _validate_sdk_key(key: Optional[str]) -> str:
    if key is None:
        return ""
    _check_type("sdk_key", key, str)
    if len(key) > 8192 or not _SDK_KEY_CHARS.fullmatch(key):
        log.warning("SDK key contains invalid characters or is too long; it is ignored")
        return ""
    return key


def _validate_application(application: Optional[dict[str, Any]]) -> dict[str, Any]:
    """``{"id": ..., "version": ...}`` as the official SDK keeps it (``validate_application_info``):
    a value that is not a string, longer than 64 characters or with a character outside
    ``[-a-zA-Z0-9._]`` becomes ``""`` (with a warning, except for None/absent), and an empty value
    is left out of the ``X-LaunchDarkly-Tags`` header."""
    if application is None:
        application = {}
    _check_type("application", application, dict)
    return {name: _application_value(application.get(name), name) for name in ("id", "version")}


def _application_value(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        log.warning("Value of application[%s] was not a string and was discarded", name)
        return ""
    if len(value) > 64:
        log.warning("Value of application[%s] was longer than 64 characters and was discarded", name)
        return ""
    if not _APP_VALUE.fullmatch(value):
        log.warning("Value of application[%s] contained invalid characters and was discarded", name)
        return ""
    return value


class HTTPConfig:
    """Network settings: timeouts in seconds, proxy, TLS."""

    def __init__(self, connect_timeout: float = 10, read_timeout: float = 15, http_proxy: Optional[str] = None,
                 ca_certs: Optional[str] = None, cert_file: Optional[str] = None,
                 disable_ssl_verification: bool = False):
        self._connect_timeout = _number("connect_timeout", connect_timeout, 0.0, strictly=True)
        self._read_timeout = _number("read_timeout", read_timeout, 0.0, strictly=True)
        self._http_proxy = _check_type("http_proxy", http_proxy, str, allow_none=True)
        self._ca_certs = _check_type("ca_certs", ca_certs, str, allow_none=True)
        self._cert_file = _check_type("cert_file", cert_file, str, allow_none=True)
        self._disable_ssl_verification = _check_type("disable_ssl_verification", disable_ssl_verification, bool)

    connect_timeout = property(lambda self: self._connect_timeout)
    read_timeout = property(lambda self: self._read_timeout)
    http_proxy = property(lambda self: self._http_proxy)
    ca_certs = property(lambda self: self._ca_certs)
    cert_file = property(lambda self: self._cert_file)
    disable_ssl_verification = property(lambda self: self._disable_ssl_verification)


class BigSegmentsConfig:
    """Big Segment settings: ``store`` (a ``BigSegmentStore``, e.g. ``RedisBigSegmentStore``; None:
    Big Segments evaluate as NOT_CONFIGURED), the membership cache (``context_cache_size`` context
    keys, each for ``context_cache_time`` s), the status poll (every ``status_poll_interval`` s) and
    ``stale_after`` (s since the store's last synchronization). See ``ldfast.big_segments``."""

    def __init__(self, store: Any = None, context_cache_size: int = 1000, context_cache_time: float = 5,
                 status_poll_interval: float = 5, stale_after: float = 120):
        self._store = store
        self._context_cache_size = int(_number("context_cache_size", context_cache_size))
        self._context_cache_time = _number("context_cache_time", context_cache_time)
        self._status_poll_interval = _number("status_poll_interval", status_poll_interval, 0.0, strictly=True)
        self._stale_after = _number("stale_after", stale_after, 0.0, strictly=True)

    store = property(lambda self: self._store)
    context_cache_size = property(lambda self: self._context_cache_size)
    context_cache_time = property(lambda self: self._context_cache_time)
    status_poll_interval = property(lambda self: self._status_poll_interval)
    stale_after = property(lambda self: self._stale_after)


class SdkIdentityConfig(Protocol):
    """The identity fields a config carries (as the official structural type)."""

    @property
    def sdk_key(self) -> Optional[str]: ...

    @property
    def application(self) -> dict[str, Any]: ...

    @property
    def wrapper_name(self) -> Optional[str]: ...

    @property
    def wrapper_version(self) -> Optional[str]: ...


class PrivateAttributesConfig(Protocol):
    """The private-attribute settings a config carries (as the official structural type)."""

    @property
    def all_attributes_private(self) -> bool: ...

    @property
    def private_attributes(self) -> List[str]: ...


class Config:
    """Client configuration, with launchdarkly-server-sdk 9.x keyword names and defaults.

    ``sdk_key`` may be omitted for offline use: ``Config(offline=True)``.
    """

    def __init__(
        self,
        sdk_key: Optional[str] = None,
        base_uri: str = DEFAULT_BASE_URI,
        events_uri: str = DEFAULT_EVENTS_URI,
        events_max_pending: int = 10000,
        flush_interval: float = 5,
        stream_uri: str = DEFAULT_STREAM_URI,
        stream: bool = True,
        initial_reconnect_delay: float = 1,
        defaults: Optional[dict[str, Any]] = None,
        send_events: Optional[bool] = None,
        update_processor_class: Optional[Callable[..., Any]] = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        use_ldd: bool = False,
        feature_store: Any = None,
        feature_requester_class: Any = None,
        event_processor_class: Optional[Callable[..., Any]] = None,
        private_attributes: Iterable[str] = (),
        all_attributes_private: bool = False,
        offline: bool = False,
        context_keys_capacity: int = 1000,
        context_keys_flush_interval: float = 300,
        diagnostic_opt_out: bool = False,
        diagnostic_recording_interval: int = 900,
        wrapper_name: Optional[str] = None,
        wrapper_version: Optional[str] = None,
        http: Optional[HTTPConfig] = None,
        big_segments: Optional[BigSegmentsConfig] = None,
        application: Optional[dict[str, Any]] = None,
        hooks: Optional[List[Any]] = None,
        plugins: Optional[List[Any]] = None,
        enable_event_compression: bool = False,
        omit_anonymous_contexts: bool = False,
        payload_filter_key: Optional[str] = None,
    ):
        from ldfast.feature_store import InMemoryFeatureStore

        self._sdk_key = _validate_sdk_key(sdk_key)
        self._base_uri = _uri("base_uri", base_uri)
        self._events_uri = _uri("events_uri", events_uri)
        self._stream_uri = _uri("stream_uri", stream_uri)
        self._events_max_pending = int(_number("events_max_pending", _check_type("events_max_pending", events_max_pending, int), 1))
        self._flush_interval = _number("flush_interval", flush_interval, 0.0, strictly=True)
        self._stream = _check_type("stream", stream, bool)
        self._initial_reconnect_delay = _number("initial_reconnect_delay", initial_reconnect_delay)
        self._defaults = dict(_check_type("defaults", defaults, dict, allow_none=True) or {})
        self._offline = _check_type("offline", offline, bool)
        _check_type("send_events", send_events, bool, allow_none=True)
        self._send_events = False if offline else (True if send_events is None else send_events)
        # what events would be once online (set_online() on a client created offline)
        self._send_events_online = True if send_events is None else send_events
        if update_processor_class is not None and not callable(update_processor_class):
            raise TypeError("update_processor_class must be callable")
        self._update_processor_class = update_processor_class
        self._poll_interval = max(_number("poll_interval", poll_interval, 0.0, strictly=True), DEFAULT_POLL_INTERVAL)
        self._use_ldd = _check_type("use_ldd", use_ldd, bool)
        self._feature_store = feature_store if feature_store else InMemoryFeatureStore()
        # accepted by name for drop-in compatibility, never silently ignored: not supported yet
        if feature_requester_class is not None:
            raise NotImplementedError("feature_requester_class is not supported by ldfast; use "
                                      "update_processor_class for a data source of your own")
        self._feature_requester_class = feature_requester_class
        if event_processor_class is not None and not callable(event_processor_class):
            raise TypeError("event_processor_class must be callable")
        if event_processor_class is not None:
            raise NotImplementedError("event_processor_class is not supported by ldfast (analytics events "
                                      "are recorded by its compiled core); use send_events=False to turn them off")
        self._event_processor_class = event_processor_class
        if isinstance(private_attributes, str):
            raise TypeError("private_attributes must be a list of attribute names, not a string")
        private = list(private_attributes or ())
        for p in private:
            _check_type("private_attributes item", p, str)
        self._private_attributes = private
        self._all_attributes_private = _check_type("all_attributes_private", all_attributes_private, bool)
        self._context_keys_capacity = int(_number("context_keys_capacity", _check_type("context_keys_capacity", context_keys_capacity, int), 1))
        self._context_keys_flush_interval = _number("context_keys_flush_interval", context_keys_flush_interval, 0.0, strictly=True)
        self._diagnostic_opt_out = _check_type("diagnostic_opt_out", diagnostic_opt_out, bool)
        self._diagnostic_recording_interval = max(_number("diagnostic_recording_interval", diagnostic_recording_interval), 60)
        self._wrapper_name = _check_type("wrapper_name", wrapper_name, str, allow_none=True)
        self._wrapper_version = _check_type("wrapper_version", wrapper_version, str, allow_none=True)
        self._http = _check_type("http", http, HTTPConfig, allow_none=True) or HTTPConfig()
        self._big_segments = _check_type("big_segments", big_segments, BigSegmentsConfig, allow_none=True) or BigSegmentsConfig()
        self._application = _validate_application(application)
        self._hooks = list(hooks or [])
        self._plugins = list(plugins or [])
        self._enable_event_compression = _check_type("enable_event_compression", enable_event_compression, bool)
        self._omit_anonymous_contexts = _check_type("omit_anonymous_contexts", omit_anonymous_contexts, bool)
        self._payload_filter_key = _check_type("payload_filter_key", payload_filter_key, str, allow_none=True)
        # X-LaunchDarkly-Instance-Id: set on the copy each client makes (_with_instance_id), None here
        self._instance_id: Optional[str] = None
        # set by the client before it calls update_processor_class (a data source of your own)
        self._data_source_update_sink: Any = None

    def _with_instance_id(self, instance_id: Optional[str] = None) -> "Config":
        """A copy of this config for one client, carrying that client's instance id (a new uuid4
        unless given), sent as ``X-LaunchDarkly-Instance-Id`` on every request the client makes.
        The caller's config is left as it is, so two clients made from one config differ."""
        import copy
        import uuid

        c = copy.copy(self)
        c._instance_id = instance_id if instance_id is not None else str(uuid.uuid4())
        return c

    def with_wrapper_information(self, wrapper_name: Optional[str],
                                 wrapper_version: Optional[str] = None) -> "Config":
        """A copy of this config with other wrapper information (for wrapper libraries such as the
        OpenFeature provider)."""
        import copy

        c = copy.copy(self)
        c._wrapper_name = _check_type("wrapper_name", wrapper_name, str, allow_none=True)
        c._wrapper_version = _check_type("wrapper_version", wrapper_version, str, allow_none=True)
        return c

    @property
    def data_source_update_sink(self) -> Any:
        """Where a data source of your own (``update_processor_class``) puts data and status: set
        by the client before it calls ``update_processor_class(config, store, ready)``; else None."""
        return self._data_source_update_sink

    def copy_with_new_sdk_key(self, new_sdk_key: str) -> "Config":
        import copy

        c = copy.copy(self)
        c._sdk_key = _validate_sdk_key(new_sdk_key)
        return c

    def get_default(self, key: str, default: Any) -> Any:
        return self._defaults.get(key, default)

    @property
    def sdk_key(self) -> str:
        return self._sdk_key

    @property
    def get_latest_flags_uri(self) -> str:
        return self._base_uri + "/sdk/latest-all"

    @property
    def events_base_uri(self) -> str:
        return self._events_uri

    @property
    def events_uri(self) -> str:
        return self._events_uri + "/bulk"

    @property
    def stream_base_uri(self) -> str:
        return self._stream_uri

    @property
    def stream_uri(self) -> str:
        return self._stream_uri + "/all"

    base_uri = property(lambda self: self._base_uri)
    update_processor_class = property(lambda self: self._update_processor_class)
    stream = property(lambda self: self._stream)
    initial_reconnect_delay = property(lambda self: self._initial_reconnect_delay)
    poll_interval = property(lambda self: self._poll_interval)
    use_ldd = property(lambda self: self._use_ldd)
    feature_store = property(lambda self: self._feature_store)
    event_processor_class = property(lambda self: self._event_processor_class)
    feature_requester_class = property(lambda self: self._feature_requester_class)
    send_events = property(lambda self: self._send_events)
    events_max_pending = property(lambda self: self._events_max_pending)
    flush_interval = property(lambda self: self._flush_interval)
    private_attributes = property(lambda self: self._private_attributes)
    all_attributes_private = property(lambda self: self._all_attributes_private)
    offline = property(lambda self: self._offline)
    context_keys_capacity = property(lambda self: self._context_keys_capacity)
    context_keys_flush_interval = property(lambda self: self._context_keys_flush_interval)
    diagnostic_opt_out = property(lambda self: self._diagnostic_opt_out)
    diagnostic_recording_interval = property(lambda self: self._diagnostic_recording_interval)
    wrapper_name = property(lambda self: self._wrapper_name)
    wrapper_version = property(lambda self: self._wrapper_version)
    http = property(lambda self: self._http)
    big_segments = property(lambda self: self._big_segments)
    application = property(lambda self: self._application)
    hooks = property(lambda self: self._hooks)
    plugins = property(lambda self: self._plugins)
    enable_event_compression = property(lambda self: self._enable_event_compression)
    omit_anonymous_contexts = property(lambda self: self._omit_anonymous_contexts)
    payload_filter_key = property(lambda self: self._payload_filter_key)


__all__ = ("Config", "HTTPConfig", "BigSegmentsConfig")
