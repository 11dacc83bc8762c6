"""LDClient: the synchronous client (launchdarkly-server-sdk 9.x API) over local flag data.

Evaluation reads the store's dicts directly and never blocks. Data arrives through a data source
(``Config(update_processor_class=...)``: files, test data, or your own), or, with
``use_ldd=True``, from a shared store. Streaming/polling networking and analytics events arrive in
later ldfast releases (see README "Status").
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from typing import Any, Callable, Optional

from ldfast._ext.evaluator import ClientCore
from ldfast.config import Config
from ldfast.context import Context, to_context
from ldfast.evaluation import EvaluationDetail, FeatureFlagsState
from ldfast.feature_store import InMemoryFeatureStore

log = logging.getLogger(__name__)



class _NullDataSource:
    """The data source of offline and daemon (use_ldd) mode: does nothing."""

    def __init__(self, initialized: bool):
        self._initialized = initialized

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def initialized(self) -> bool:
        return self._initialized

    def is_alive(self) -> bool:
        return False


class _NoNetworkDataSource(_NullDataSource):
    """Stands where the streaming/polling source will: says plainly that it is not built yet."""

    def __init__(self, ready: threading.Event):
        super().__init__(False)
        self._ready = ready

    def start(self) -> None:
        log.error(
            "ldfast %s: streaming and polling from LaunchDarkly are not available yet; use "
            "Config(update_processor_class=...) with ldfast.integrations.Files or TestData, "
            "use_ldd=True, or offline=True. The client stays uninitialized.", _version()
        )
        self._ready.set()


def _version() -> str:
    from ldfast.version import VERSION

    return VERSION


def _no_big_segment_store(key: str) -> Any:
    return None, "NOT_CONFIGURED"


class LDClient:
    """The LaunchDarkly client. Create one per process and share it.

    ``LDClient(config, start_wait=5)`` as in launchdarkly-server-sdk 9.x; the older
    ``LDClient("sdk-key", config)`` form is accepted too.
    """

    def __init__(self, config: Any = None, start_wait: Any = 5, *args: Any):
        if isinstance(config, str):  # LDClient("sdk-key"[, config[, start_wait]])
            sdk_key = config
            config = start_wait if isinstance(start_wait, Config) else None
            start_wait = args[0] if args else 5
            config = Config(sdk_key) if config is None else config.copy_with_new_sdk_key(sdk_key)
        elif config is None:
            raise ValueError("LDClient needs a Config (or an SDK key string)")
        if not isinstance(config, Config):
            raise TypeError("config must be an ldfast.Config, not %s" % type(config).__name__)
        if isinstance(start_wait, bool) or not isinstance(start_wait, (int, float)) or start_wait < 0:
            raise ValueError("start_wait must be a number of seconds >= 0, got %r" % (start_wait,))
        if start_wait > 60:
            log.warning("LDClient was configured to block for up to %s seconds when initializing. "
                        "We recommend blocking no longer than 60.", start_wait)
        self._config = config
        self._offline = config.offline
        self._defaults = config._defaults
        store = config.feature_store
        if not isinstance(store, InMemoryFeatureStore):
            raise TypeError("feature_store must be an ldfast feature store (persistent stores arrive "
                            "with ldfast.integrations.Redis)")
        self._store = store
        # Without a big segment store, membership is unknown: NOT_CONFIGURED, and the segment's
        # rules (not its lists) still apply, exactly as the official client wires it.
        self._big_segments: Optional[Callable[[str], Any]] = _no_big_segment_store
        self._closed = False
        self._core = ClientCore(store, self._defaults, self._offline, self._check_ready, self._big_segments)
        # The hot path: instance attributes bound straight to the (compiled) core's methods.
        self.variation = self._core.variation  # type: ignore[method-assign]
        self.variation_detail = self._core.variation_detail  # type: ignore[method-assign]
        self._warned_cached = False
        self._ready_event = threading.Event()
        if self._offline:
            log.info("Started LaunchDarkly client in offline mode")
            self._data_source: Any = _NullDataSource(False)
        elif config.use_ldd:
            log.info("Started LaunchDarkly client in LDD mode")
            self._data_source = _NullDataSource(True)
        elif config.update_processor_class is not None:
            self._data_source = config.update_processor_class(config, store, self._ready_event)
        else:
            self._data_source = _NoNetworkDataSource(self._ready_event)
        if self._offline or config.use_ldd:
            self._ready_event.set()
        else:
            self._data_source.start()
            if start_wait > 0:
                log.info("Waiting up to %s seconds for LaunchDarkly client to initialize...", start_wait)
                self._ready_event.wait(start_wait)
            if self._data_source.initialized():
                log.info("Started LaunchDarkly client.")
            else:
                log.warning("Initialization timeout exceeded for LaunchDarkly client or an error occurred. "
                            "Feature flags may not yet be available.")

    # -- state ----------------------------------------------------------------------------------

    def get_sdk_key(self) -> Optional[str]:
        return self._config.sdk_key

    def is_offline(self) -> bool:
        return self._offline

    def is_initialized(self) -> bool:
        if self._offline or self._config.use_ldd:
            return True
        return self._data_source.initialized()

    def _check_ready(self, what: str) -> bool:
        """Whether evaluation may use the store (after a once-only warning if only the store is ready)."""
        if self._data_source.initialized():
            self._core.ready = True
            return True
        if self._store.initialized:
            if not self._warned_cached:
                self._warned_cached = True
                log.warning("%s called before client has finished initializing; using last known "
                            "values from the feature store. This message is logged once.", what)
            return True
        log.warning("%s called before client has initialized and the feature store has no data; "
                    "returning the default", what)
        return False

    def close(self) -> None:
        """Stop the data source. Idempotent."""
        if self._closed:
            return
        self._closed = True
        log.info("Closing LaunchDarkly client..")
        try:
            self._data_source.stop()
        except Exception:  # a broken data source must not keep the caller from shutting down
            log.exception("Error stopping the data source")

    def __enter__(self) -> "LDClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- evaluation -----------------------------------------------------------------------------

    def variation(self, key: str, context: Any, default: Any) -> Any:
        """The flag's value for the context, or ``default`` if it cannot be evaluated."""
        return self._core.variation(key, context, default)

    def variation_detail(self, key: str, context: Any, default: Any) -> EvaluationDetail:
        """The flag's value for the context with its variation index and reason."""
        return self._core.variation_detail(key, context, default)

    def all_flags_state(self, context: Any, **kwargs: Any) -> FeatureFlagsState:
        """Every flag's value and metadata for the context (no analytics events are sent).

        Keyword options: ``client_side_only``, ``with_reasons``, ``details_only_for_tracked_flags``.
        """
        if self._offline:
            log.warning("all_flags_state() called, but client is in offline mode. Returning empty state")
            return FeatureFlagsState(False)
        if not self._core.ready and not self._check_ready("all_flags_state()"):
            return FeatureFlagsState(False)
        context = to_context(context)
        if context._error is not None:
            log.warning("Context was invalid for all_flags_state (%s); returning default value", context._error)
            return FeatureFlagsState(False)
        client_only = kwargs.get("client_side_only", False)
        with_reasons = kwargs.get("with_reasons", False)
        details_only = kwargs.get("details_only_for_tracked_flags", False)
        state = FeatureFlagsState(True)
        self._core.fill_flags_state(state._values, state._meta, context, bool(client_only), bool(with_reasons),
                                    bool(details_only), int(time.time() * 1000))
        return state

    def all_flags(self, context: Any = None) -> Optional[dict]:
        """Legacy: a dict of flag key to value, or None (with a warning) without a valid context."""
        if context is None:
            log.warning("all_flags() called without a user/context; returning None")
            return None
        state = self.all_flags_state(context)
        return state.to_values_map() if state.valid else None

    def secure_mode_hash(self, context: Any) -> str:
        """HMAC-SHA256 of the context's fully qualified key with the SDK key ("" if invalid)."""
        context = to_context(context)
        if context._error is not None or self._config.sdk_key is None:
            return ""
        return hmac.new(self._config.sdk_key.encode(), context.fully_qualified_key.encode(), hashlib.sha256).hexdigest()

    # -- analytics (the event pipeline lands in a later release; these accept and validate) --------

    def track(self, event_name: str, context: Any, data: Any = None, metric_value: Any = None) -> None:
        """Record a custom event. Events are not delivered yet in this release (see README)."""
        context = to_context(context)
        if context._error is not None:
            log.warning("Invalid context for track (%s)", context._error)

    def identify(self, context: Any) -> None:
        """Record an identify event. Events are not delivered yet in this release (see README)."""
        context = to_context(context)
        if context._error is not None:
            log.warning("Invalid context for identify (%s)", context._error)
        elif context.key == "":
            log.warning("Empty user key for identify")

    def flush(self) -> None:
        """Flush pending events (none are recorded yet in this release)."""


__all__ = ("LDClient",)
