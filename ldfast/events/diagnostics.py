"""Diagnostic events: the init event sent once at start and the periodic statistics (PROTOCOL.md 8.7).

The shapes are those of launchdarkly-server-sdk 9.20.0 (``ldclient/impl/events/diagnostics.py``);
``sdk.version`` is ldfast's version, as in the ``User-Agent`` header. Sending is the event
processor's job (:mod:`ldfast.events.processor`); this module builds the JSON objects and keeps
the counters between two periodic events.
"""
from __future__ import annotations

import platform
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Optional

from ldfast.version import VERSION

DIAGNOSTIC_PATH = "/diagnostic"
SDK_NAME = "python-server-sdk"


def _now_millis() -> int:
    return int(time.time() * 1000)


def diagnostics_enabled(config: Any) -> bool:
    """Whether diagnostic events are sent for ``config`` (not opted out, not offline, events on)."""
    return bool(config.send_events) and not config.offline and not config.diagnostic_opt_out


def create_diagnostic_id(config: Any) -> Dict[str, str]:
    """``{"diagnosticId": uuid4, "sdkKeySuffix": last 6 characters of the SDK key}``."""
    key = config.sdk_key
    return {"diagnosticId": str(uuid.uuid4()), "sdkKeySuffix": key[-6:] if key else ""}


class DiagnosticAccumulator:
    """What the periodic diagnostic event reports: stream inits and the size of the last batch.

    Thread-safe (a data source may record from any thread). ``now`` gives the wall-clock time in
    milliseconds (tests pass a clock).
    """

    def __init__(self, diagnostic_id: Dict[str, str], *, now: Optional[Callable[[], int]] = None) -> None:
        self.diagnostic_id = diagnostic_id
        self._now = now or _now_millis
        self.data_since_date = self._now()
        self._created = self.data_since_date
        self._lock = threading.Lock()
        self._events_in_last_batch = 0
        self._stream_inits: List[Dict[str, Any]] = []

    def record_stream_init(self, timestamp: int, duration: int, failed: bool) -> None:
        """One stream connection attempt: when it started (ms), how long it took (ms), whether it failed."""
        with self._lock:
            self._stream_inits.append({"timestamp": timestamp, "durationMillis": duration, "failed": failed})

    def record_events_in_batch(self, events_in_batch: int) -> None:
        with self._lock:
            self._events_in_last_batch = events_in_batch

    def create_event_and_reset(self, dropped_events: int, deduplicated_users: int) -> Dict[str, Any]:
        """The periodic ``diagnostic`` event; the counters start again from now."""
        with self._lock:
            events_in_batch = self._events_in_last_batch
            stream_inits = self._stream_inits
            self._events_in_last_batch = 0
            self._stream_inits = []
        now = self._now()
        event = {"kind": "diagnostic", "creationDate": now, "id": self.diagnostic_id,
                 "dataSinceDate": self.data_since_date, "droppedEvents": dropped_events,
                 "deduplicatedUsers": deduplicated_users, "eventsInLastBatch": events_in_batch,
                 "streamInits": stream_inits}
        self.data_since_date = now
        return event

    def create_init_event(self, config: Any) -> Dict[str, Any]:
        """The ``diagnostic-init`` event, dated when this accumulator was created."""
        return create_diagnostic_init(self._created, self.diagnostic_id, config)


def create_diagnostic_init(creation_date: int, diagnostic_id: Dict[str, str], config: Any) -> Dict[str, Any]:
    return {"kind": "diagnostic-init", "creationDate": creation_date, "id": diagnostic_id,
            "configuration": _configuration(config), "sdk": _sdk(config), "platform": _platform()}


def _millis(seconds: Any) -> Any:
    """Seconds as milliseconds; a whole number of them as an int (``30000``, not ``30000.0``)."""
    ms = seconds * 1000
    if isinstance(ms, float) and ms.is_integer():
        return int(ms)
    return ms


def _configuration(config: Any) -> Dict[str, Any]:
    from ldfast.config import Config

    default = Config("SDK_KEY")
    http = config.http
    return {
        "customBaseURI": config.base_uri != default.base_uri,
        "customEventsURI": config.events_uri != default.events_uri,
        "customStreamURI": config.stream_base_uri != default.stream_base_uri,
        "eventsCapacity": config.events_max_pending,
        "connectTimeoutMillis": _millis(http.connect_timeout),
        "socketTimeoutMillis": _millis(http.read_timeout),
        "eventsFlushIntervalMillis": _millis(config.flush_interval),
        "usingProxy": http.http_proxy is not None,
        "streamingDisabled": not config.stream,
        "usingRelayDaemon": config.use_ldd,
        "allAttributesPrivate": config.all_attributes_private,
        "pollingIntervalMillis": _millis(config.poll_interval),
        "userKeysCapacity": config.context_keys_capacity,
        "userKeysFlushIntervalMillis": _millis(config.context_keys_flush_interval),
        "diagnosticRecordingIntervalMillis": _millis(config.diagnostic_recording_interval),
        "dataStoreType": _store_type(config),
    }


def _store_type(config: Any) -> str:
    from ldfast.feature_store import InMemoryFeatureStore

    store = config.feature_store
    if store is None:
        return "memory"
    describe = getattr(store, "describe_configuration", None)
    if callable(describe):
        description: str = describe(config)
        return description
    if type(store) is InMemoryFeatureStore:
        return "memory"
    return "custom"


def _sdk(config: Any) -> Dict[str, Any]:
    return {"name": SDK_NAME, "version": VERSION, "wrapperName": config.wrapper_name,
            "wrapperVersion": config.wrapper_version}


def _platform() -> Dict[str, str]:
    system = platform.system()
    return {
        "name": "python",
        "osArch": platform.machine(),
        "osName": "MacOS" if system == "Darwin" else system,
        "osVersion": platform.release(),
        "pythonVersion": platform.python_version(),
        "pythonImplementation": platform.python_implementation(),
    }


__all__ = ("DiagnosticAccumulator", "create_diagnostic_id", "create_diagnostic_init", "diagnostics_enabled")
