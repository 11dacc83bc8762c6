"""LDClient: the synchronous client (launchdarkly-server-sdk 9.x API), and what it shares with
the Twisted client (``ClientBase``).

Evaluation reads the store's dicts directly and never blocks. Data arrives from LaunchDarkly
(streaming, or polling with ``stream=False``) through networking that runs on a private reactor
in a daemon thread; or through a data source of your own (``Config(update_processor_class=...)``:
files, test data); or, with ``use_ldd=True``, from a shared store. After ``os.fork()`` a child
process restarts its networking by itself. Analytics events arrive in a later release (README
"Status").
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import threading
import time
import weakref
from typing import Any, Callable, Optional, Tuple

from ldfast._ext.evaluator import ClientCore
from ldfast._ext.recorder import check_track
from ldfast.config import Config
from ldfast.context import to_context
from ldfast.evaluation import EvaluationDetail, FeatureFlagsState
from ldfast.feature_store import InMemoryFeatureStore
from ldfast.hook import _Hooks, _only_hooks
from ldfast.migrations.tracker import OpTracker, _evaluate_stage, _valid_default_stage
from ldfast.migrations.types import Stage
from ldfast.plugin import _environment_metadata, _only_plugins, _plugin_hooks, _register_plugins
from ldfast.model import reset_after_fork

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


class _BackgroundNetworking:
    """The sync client's networking on one private reactor thread: the LaunchDarkly data source
    (when the client gets flags from the network) and the analytics event processor (when events
    are on). Seen from the application's threads; restarted by itself after ``fork()``."""

    def __init__(self, config: Config, store: Any, ready: threading.Event, status: Any, *,
                 with_source: bool, with_events: bool):
        self._config = config
        self._store = store
        self._ready = ready
        self._status = status
        self._with_source = with_source
        self._with_events = with_events
        self._net: Any = None
        self._source: Any = None
        self._events: Any = None
        self._stopped = False
        self._pid = 0

    def start(self) -> None:
        """Start the reactor thread and, on it, the events and the data source. Never waits for the
        thread (in a forked worker it may only run later): the event processor is built here, so
        events can be recorded at once, and started on the reactor."""
        from ldfast._reactor import ReactorThread

        self._pid = os.getpid()
        self._started = threading.Event()
        self._net = ReactorThread(wait=False)
        if self._with_events:
            self._events = self._make_events()
        self._net.call_soon(self._start_on_reactor)

    def _start_on_reactor(self) -> None:
        # runs even if stop() was called meanwhile (stop's own call is queued after this one), so
        # that events recorded before the reactor ran are still delivered
        try:
            if self._events is not None:
                self._events.start()
            if self._with_source:
                self._source = self._make_source()
                self._source.start()
        finally:
            self._started.set()

    def wait_started(self, timeout: float) -> bool:
        """Wait (bounded) until the reactor thread has started the events and the data source.

        The constructor waits for this so that the thread's first work (its lazy imports included)
        is done before the application goes on, e.g. before a pre-forking server forks: a lock held
        by another thread at fork time stays held in the child."""
        return self._started.wait(timeout)

    def _make_source(self) -> Any:
        from ldfast.datasource.network import make_network_source

        return make_network_source(self._config, self._store, reactor=self._net.reactor, status=self._status,
                                   on_initialized=self._ready.set, on_failure=lambda error: self._ready.set())

    def _make_events(self) -> Any:
        from ldfast.events.processor import EventProcessor

        return EventProcessor(self._config, reactor=self._net.reactor)

    # -- as a data source ---------------------------------------------------------------------

    def initialized(self) -> bool:
        return self._source is not None and self._source.initialized()

    def is_alive(self) -> bool:
        return self._source is not None and self._source.is_alive()

    # -- as the event processor (thread-safe) -----------------------------------------------------

    @property
    def recorder(self) -> Any:
        """The event processor's recorder, which the evaluation core calls (None without events)."""
        events = self._events
        return None if events is None else events.recorder

    def flush(self) -> None:
        if self._events is not None and self._net is not None:
            self._net.call_soon(self._events.flush)

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver pending events, stop the source and the thread, within ``timeout`` s overall."""
        self._stopped = True
        net = self._net
        if net is None:
            return
        deadline = time.monotonic() + timeout
        try:  # on the reactor thread, after the start queued before it
            net.call(self._stop_on_reactor, timeout=timeout * 0.8)
        except Exception as e:  # a hung stop must not hold the caller
            log.warning("Stopping the networking did not finish cleanly: %s", e)
        net.stop(timeout=max(0.1, deadline - time.monotonic()))

    def _stop_on_reactor(self) -> Any:
        from twisted.internet.defer import DeferredList, maybeDeferred

        parts = [p for p in (self._events, self._source) if p is not None]
        return DeferredList([maybeDeferred(p.stop) for p in parts], consumeErrors=True)

    def after_fork_in_child(self) -> None:
        """In a forked child: the parent's reactor thread does not exist here; start networking anew."""
        if self._stopped or self._net is None or self._pid == os.getpid():
            return  # not started, stopped, or already restarted in this process (two fork hooks may call)
        log.info("ldfast: restarting networking in forked process %d", os.getpid())
        self._net = None
        self._source = None
        self._events = None
        self.start()


def _no_big_segment_store(key: str) -> Any:
    return None, "NOT_CONFIGURED"


def _read_first(store: Any, evaluate: Callable[[Any, Any, Any], Any],
                core: Any = None) -> Callable[[Any, Any, Any], Any]:
    """``evaluate(key, context, default)`` (``core``'s method, if given), made to read a flag from a
    persistent store's database first (``store.reads_through``; None: all in memory, nothing to
    do): when the store's cache lacks the flag, or, when it caches nothing (``store.caches_reads``),
    every time. On the calling thread, as the official SDK. A core that reads a flag it does not
    find through its ``read_missing`` costs a cached flag nothing; otherwise a cached flag costs
    one dict lookup in a Python wrapper (~50 ns)."""
    if store is None:
        return evaluate
    read = store.read
    if not store.caches_reads:
        def read_then_evaluate(key: Any, context: Any, default: Any) -> Any:
            read(key)
            return evaluate(key, context, default)

        return read_then_evaluate
    if core is not None and hasattr(core, "read_missing"):
        core.read_missing = read
        return evaluate

    def evaluate_cached(key: Any, context: Any, default: Any) -> Any:
        try:
            if key not in store._flags:
                read(key)
        except TypeError:  # an unhashable key: the evaluation reports it
            pass
        return evaluate(key, context, default)

    return evaluate_cached


class ClientBase:
    """What the synchronous and the Twisted clients share: config, store, the evaluation core,
    all_flags_state, secure_mode_hash, status. Subclasses own the data source and its threads."""

    _data_source: Any

    def _setup(self, config: Any, bind_fast_paths: bool = True) -> None:
        if not isinstance(config, Config):
            raise TypeError("config must be an ldfast.Config, not %s" % type(config).__name__)
        from ldfast.datasource.status import DataSourceStatusProvider

        self._config = config = config._with_instance_id()  # this client's X-LaunchDarkly-Instance-Id
        self._offline: bool = config.offline
        self._defaults = config._defaults
        if not self._offline and not config.sdk_key and self._needs_network():
            log.warning("Missing or blank SDK key")
        store = config.feature_store
        if not isinstance(store, InMemoryFeatureStore):
            from ldfast._custom_store import ForeignStore, is_feature_store

            if not is_feature_store(store):
                raise TypeError("feature_store must be a FeatureStore (get, all, init, upsert, delete, "
                                "initialized), not %s" % type(store).__name__)
            store = ForeignStore(store)  # a store of your own: read through, as the Redis store
        self._store = store
        from ldfast.interfaces import DataStoreStatusProviderImpl, DataStoreUpdateSinkImpl

        store_sink = DataStoreUpdateSinkImpl()
        self._store_status = DataStoreStatusProviderImpl(store, store_sink)
        attach = getattr(store, "_attach_status_sink", None)
        if attach is not None:  # a persistent store reports its outages
            attach(store_sink)
        # Without a big segment store, membership is unknown: NOT_CONFIGURED, and the segment's
        # rules (not its lists) still apply, exactly as the official client wires it.
        self._big_segments: Optional[Callable[[str], Any]] = _no_big_segment_store
        self._big_segment_manager: Any = None
        if config.big_segments.store is not None:
            self._big_segment_manager = self._new_big_segment_manager(config.big_segments)
            self._big_segments = self._big_segment_manager.lookup
        self._closed = False
        self._warned_cached = False
        self._status = DataSourceStatusProvider()
        self._core = ClientCore(store, self._defaults, self._offline, self._check_ready, self._big_segments)
        from ldfast.flag_tracker import FlagTracker

        self._flag_tracker = FlagTracker(lambda key, context: self._tracker_variation(key, context))
        tracker = self._flag_tracker
        store.add_change_listener(tracker.notify, wanted=lambda: tracker.has_listeners)
        start_store = getattr(store, "start", None)
        if start_store is not None:  # a persistent store's background work (its worker thread)
            start_store()
        # a persistent store (Redis) reads a flag its cache lacks from its database, before evaluation
        self._reads: Any = store if getattr(store, "reads_through", False) else None
        self._binds_fast_paths = bind_fast_paths
        self._setup_hooks(config)
        if bind_fast_paths:
            self._bind_evaluation()

    def _new_big_segment_manager(self, big_segments_config: Any) -> Any:
        from ldfast.big_segments import BigSegmentStoreManager

        manager = BigSegmentStoreManager(big_segments_config)
        manager.start()
        return manager

    def _needs_network(self) -> bool:
        c = self._config
        return not c.offline and not c.use_ldd and c.update_processor_class is None

    # -- state ----------------------------------------------------------------------------------

    def get_sdk_key(self) -> Optional[str]:
        return self._config.sdk_key

    def is_offline(self) -> bool:
        return self._offline

    def is_initialized(self) -> bool:
        """Whether the data source gave its first data set; always True offline and in daemon mode
        (``use_ldd``), which serves whatever the store holds, ``$inited`` or not (as the official SDK)."""
        if self._offline or self._config.use_ldd:
            return True
        initialized: bool = self._data_source.initialized()
        return initialized

    @property
    def flag_tracker(self) -> Any:
        """Flag change and flag value change listeners (``ldfast.flag_tracker.FlagTracker``)."""
        return self._flag_tracker

    @property
    def big_segment_store_status_provider(self) -> Any:
        """The Big Segment store's status (available, stale) and listeners (``ldfast.big_segments``)."""
        if self._big_segment_manager is None:
            if self._no_big_segments_provider is None:
                from ldfast.big_segments import not_configured_status_provider

                self._no_big_segments_provider = not_configured_status_provider()
            return self._no_big_segments_provider
        return self._big_segment_manager.status_provider

    _no_big_segments_provider: Any = None

    @property
    def data_store_status_provider(self) -> Any:
        """The data store's status (available, stale) and listeners (``ldfast.interfaces``)."""
        return self._store_status

    def _close_store(self) -> None:
        close = getattr(self._store, "close", None)
        if close is not None:
            try:
                close()  # bounded: the Redis store's worker is joined with a timeout
            except Exception:
                log.exception("Error closing the feature store")

    @property
    def data_source_status_provider(self) -> Any:
        """The data source's status (state VALID/INITIALIZING/INTERRUPTED/OFF, last error) and listeners."""
        return self._status

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

    # -- hooks and plugins (ldfast.hook, ldfast.plugin) -------------------------------------------
    #
    # Hooks live here, around the core's call: with none registered the sync face's variation is
    # the core's own bound method, and the Twisted face checks ``self._hooks.hooks`` once. An
    # evaluation method with hooks runs ``self._hooks.evaluator(method, evaluate)`` (the Twisted
    # face: ``before``/``after`` around its Deferred); migration_variation runs ``before``/``after``
    # itself (its evaluation gives a stage and an OpTracker besides the detail), with method
    # "migration_variation" and ``default_stage.value`` as the default, as the official SDK does.

    def _setup_hooks(self, config: Config) -> None:
        """The hooks of ``Config(hooks=...)``, then the plugins' (asked once, here), as the official SDK."""
        self._plugins = _only_plugins(config.plugins)
        self._environment_metadata = _environment_metadata(config)
        hooks = _only_hooks(config.hooks, "Config(hooks=...)")
        if self._plugins:
            hooks += _plugin_hooks(self._plugins, self._environment_metadata)
        self._hooks = _Hooks(hooks, self._status)  # (the status provider keeps X-LD-EnvID)

    def _register_plugins(self) -> None:
        """Each plugin's ``register(client, environment_metadata)``, once, before the data source starts."""
        if self._plugins:
            _register_plugins(self._plugins, self, self._environment_metadata)

    def add_hook(self, hook: Any) -> None:
        """Add an evaluation hook (``ldfast.hook.Hook``); it sees the evaluations that start after
        this call. Hooks known at start are better given as ``Config(hooks=[...])``."""
        if _only_hooks([hook], "add_hook()"):
            self._hooks.add(hook)
            if self._binds_fast_paths:
                self._bind_evaluation()

    def _bind_evaluation(self) -> None:
        """The sync face's ``variation``/``variation_detail`` as instance attributes: while no hook
        is registered, the (compiled) core's own bound methods (over a persistent store, behind one
        dict lookup: _read_first); once one is, the hook path."""
        if self._hooks.hooks:
            # (_variation_as_detail is not the core's own method: its read is done by the wrapper)
            self.variation = self._hooks.evaluator(  # type: ignore[method-assign,assignment]
                "variation", _read_first(self._reads, self._variation_as_detail), value=True)
            self.variation_detail = self._hooks.evaluator(  # type: ignore[method-assign,assignment]
                "variation_detail", _read_first(self._reads, self._core.variation_detail, self._core))
        else:
            self.variation = _read_first(  # type: ignore[method-assign,assignment]
                self._reads, self._core.variation, self._core)
            self.variation_detail = _read_first(  # type: ignore[method-assign,assignment]
                self._reads, self._core.variation_detail, self._core)

    def _variation_as_detail(self, key: str, context: Any, default: Any) -> EvaluationDetail:
        """``variation``'s evaluation (and events), as the detail its after-hooks are given: the
        default (config override applied) with no variation index when it is served."""
        core = self._core
        if core.defaults:
            default = core.defaults.get(key, default)
        detail = core.detail_for(key, context, default, False)
        if detail.variation_index is None:
            return EvaluationDetail(default, None, detail.reason)
        return detail

    def _tracker_variation(self, key: str, context: Any) -> Any:
        """The flag tracker's evaluations: ``variation(key, context, None)``, hooks included (as the
        official SDK's tracker calls ``variation``), always synchronous."""
        if not self._hooks.hooks:
            return self._core.variation(key, context, None)
        return self._hooks.evaluator("variation", self._variation_as_detail, value=True)(key, context, None)

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
        state, fill = self._flags_state_begin(context, kwargs)
        if fill is not None:
            fill()
        return state

    def _flags_state_begin(self, context: Any, kwargs: dict[str, Any]) -> Tuple[FeatureFlagsState, Any]:
        """all_flags_state's checks: the state, and None if it is final (invalid), else
        ``fill(part=None)``, which evaluates the store's flags (or those of ``part``, a part of a
        copy of them) into it."""
        if self._offline:
            log.warning("all_flags_state() called, but client is in offline mode. Returning empty state")
            return FeatureFlagsState(False), None
        if not self._core.ready and not self._check_ready("all_flags_state()"):
            return FeatureFlagsState(False), None
        context = to_context(context)
        if context._error is not None:
            log.warning("Context was invalid for all_flags_state (%s); returning default value", context._error)
            return FeatureFlagsState(False), None
        state = FeatureFlagsState(True)
        fill = functools.partial(self._core.fill_flags_state, state._values, state._meta, context,
                                 bool(kwargs.get("client_side_only", False)), bool(kwargs.get("with_reasons", False)),
                                 bool(kwargs.get("details_only_for_tracked_flags", False)), int(time.time() * 1000))
        return state, fill

    def _all_flags(self, context: Any) -> Optional[dict[str, Any]]:
        if context is None:
            log.warning("all_flags() called without a user/context; returning None")
            return None
        state = ClientBase.all_flags_state(self, context)
        return state.to_values_map() if state.valid else None

    def secure_mode_hash(self, context: Any) -> str:
        """HMAC-SHA256 of the context's fully qualified key with the SDK key ("" if invalid)."""
        context = to_context(context)
        if context._error is not None or not self._config.sdk_key:
            return ""
        return hmac.new(self._config.sdk_key.encode(), context.fully_qualified_key.encode(), hashlib.sha256).hexdigest()

    # -- analytics ------------------------------------------------------------------------------

    def track(self, event_name: str, context: Any = None, data: Any = None, metric_value: Any = None) -> None:
        """Record a custom event (sent with the next flush). No context (or an invalid one): no
        event; ``metric_value`` not a finite number: left out. Either way one warning is logged."""
        events = self._core.events
        if events is not None:
            events.track(event_name, context, data, metric_value)
        else:
            check_track(event_name, context, data, metric_value)

    def identify(self, context: Any) -> None:
        """Record an identify event (sent with the next flush)."""
        context = to_context(context)
        if context._error is not None:
            log.warning("Invalid context for identify (%s)", context._error)
        elif context._multi is None and context._key == "":  # a legacy user with an empty key
            log.warning("Empty user key for identify")
        elif self._core.events is not None:
            self._core.events.identify(context)

    # -- migrations (ldfast.migrations) -------------------------------------------------------------

    def migration_variation(self, key: str, context: Any, default_stage: Stage) -> Tuple[Stage, OpTracker]:
        """The stage of migration flag ``key`` for the context, and the tracker of the operation that
        follows it (a ``Migrator`` calls this for you). The flag is evaluated as by ``variation``
        (its analytics event, hooks with method "migration_variation"); when it cannot be, or its
        value is not a stage, the result is ``default_stage`` (OFF if that is not a Stage)."""
        default_stage = _valid_default_stage(default_stage)
        evaluate = _read_first(self._reads, self._migration_stage)
        hooks = self._hooks
        if not hooks.hooks:
            stage, tracker, _ = evaluate(key, context, default_stage)
            return stage, tracker
        series, run, data = hooks.before(key, context, default_stage.value, "migration_variation")
        stage, tracker, detail = evaluate(key, series.context, default_stage)
        hooks.after(series, run, data, detail)
        return stage, tracker

    def _migration_stage(self, key: str, context: Any, default_stage: Stage) -> Tuple[Stage, OpTracker, Any]:
        """The evaluation both faces share: ``(stage, tracker, detail)`` (ldfast.migrations.tracker)."""
        return _evaluate_stage(self._core, self._store._flags, key, context, default_stage)

    def track_migration_op(self, tracker: OpTracker) -> None:
        """Record the ``migration_op`` event of an operation's tracker (from ``migration_variation``;
        a ``Migrator`` calls this for you). A tracker that cannot make an event (no operation, no
        origin invoked, ...) logs why and records nothing."""
        if not isinstance(tracker, OpTracker):
            log.error("track_migration_op() takes the OpTracker of migration_variation(), not %s; no event "
                      "will be emitted", type(tracker).__name__)
            return
        event = tracker.build()
        if isinstance(event, str):
            log.error("error generating migration op event %s; no event will be emitted", event)
            return
        events = self._core.events
        if events is not None:
            events.record(event)


_live_clients: "weakref.WeakSet[Any]" = weakref.WeakSet()  # LDClients, AsyncLDClients: _after_fork_in_child()


def _after_fork_in_child() -> None:
    reset_after_fork()  # (first: a client's restart may evaluate flags)
    for client in list(_live_clients):
        try:
            client._after_fork_in_child()
        except Exception:  # never break the child process
            log.exception("ldfast: could not restart networking after fork")


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


_uwsgi_checked = False


def _check_uwsgi() -> None:
    """Under uWSGI: warn (once) when Python threads are off, and restart networking in each worker.

    uWSGI forks its workers with fork(2) directly, which does not run Python's ``os.register_at_fork``
    handlers (unless ``py-call-osafterfork`` is set), so ldfast also chains ``uwsgi.post_fork_hook``.
    Restarting is per process, so both hooks firing is harmless.
    """
    global _uwsgi_checked
    if _uwsgi_checked:
        return
    _uwsgi_checked = True
    try:
        import uwsgi  # only importable inside a uWSGI process
    except ImportError:
        return
    opt = getattr(uwsgi, "opt", {}) or {}

    def enabled(name: str) -> bool:
        value = opt.get(name, opt.get(name.encode(), None)) if isinstance(opt, dict) else None
        if isinstance(value, (bytes, str)):
            value = value.decode() if isinstance(value, bytes) else value
            return value.strip().lower() not in ("", "0", "false", "no", "off")
        return bool(value)

    threads = opt.get("threads", opt.get(b"threads")) if isinstance(opt, dict) else None
    try:
        many_threads = int(threads.decode() if isinstance(threads, bytes) else threads or 0) > 1
    except (TypeError, ValueError):
        many_threads = False
    if not (enabled("enable-threads") or many_threads):
        log.warning("ldfast: uWSGI is running without the enable-threads option. ldfast receives flag "
                    "updates and delivers analytics events on a background thread, and uWSGI documents that "
                    "threads started by an application may not run without that option. Start uWSGI with "
                    "--enable-threads (or enable-threads = true in its ini file).")
    previous = getattr(uwsgi, "post_fork_hook", None)

    def post_fork_hook() -> None:
        _after_fork_in_child()
        if callable(previous):
            previous()

    try:
        uwsgi.post_fork_hook = post_fork_hook
    except Exception:  # an uwsgi module that does not take hooks: lazy-apps still works
        log.debug("could not install uwsgi.post_fork_hook", exc_info=True)


class LDClient(ClientBase):
    """The LaunchDarkly client. Create one per process and share it.

    ``LDClient(config, start_wait=5)`` as in launchdarkly-server-sdk 9.x; the older
    ``LDClient("sdk-key", config)`` form is accepted too. Networking runs on a private reactor in a
    daemon thread; evaluation never touches it.
    """

    def __init__(self, config: Any = None, start_wait: Any = 5, *args: Any):
        if isinstance(config, str):  # LDClient("sdk-key"[, config[, start_wait]])
            sdk_key = config
            config = start_wait if isinstance(start_wait, Config) else None
            start_wait = args[0] if args else 5
            config = Config(sdk_key) if config is None else config.copy_with_new_sdk_key(sdk_key)
        elif config is None:
            raise ValueError("LDClient needs a Config (or an SDK key string)")
        if isinstance(start_wait, bool) or not isinstance(start_wait, (int, float)) or start_wait < 0:
            raise ValueError("start_wait must be a number of seconds >= 0, got %r" % (start_wait,))
        self._setup(config)
        if start_wait > 60:
            log.warning("LDClient was configured to block for up to %s seconds when initializing. "
                        "We recommend blocking no longer than 60.", start_wait)
        self._ready_event = threading.Event()
        self._networking: Optional[_BackgroundNetworking] = None
        self._data_source = _NullDataSource(False)
        if self._big_segment_manager is not None:
            _live_clients.add(self)  # its status poll thread restarts after fork()
        self._register_plugins()  # (before the data source starts, as the official SDK)
        if self._offline:
            log.info("Started LaunchDarkly client in offline mode")
            self._ready_event.set()
            return
        self._go_online(start_wait)

    def _go_online(self, start_wait: float) -> None:
        """Start the data source and the analytics events (at construction, or by ``set_online``)."""
        config = self._config
        self._ready_event = threading.Event()
        with_source = not config.use_ldd and config.update_processor_class is None
        with_events = config._send_events_online
        self._networking = None
        if with_source or with_events or hasattr(self._store, "_restart_after_fork"):
            _check_uwsgi()
            _live_clients.add(self)  # what runs in threads restarts in a forked child
        if with_source or with_events:
            self._networking = _BackgroundNetworking(config, self._store, self._ready_event, self._status,
                                                     with_source=with_source, with_events=with_events)
            self._networking.start()
            self._core.events = self._networking.recorder
            self._networking.wait_started(min(1.0, start_wait) if start_wait > 0 else 0.2)
        store_started = getattr(self._store, "wait_started", None)
        if store_started is not None:  # a persistent store's worker thread: idle before the app goes on (a fork)
            store_started(min(1.0, start_wait) if start_wait > 0 else 0.2)
        if config.use_ldd:
            log.info("Started LaunchDarkly client in LDD mode")
            self._data_source = _NullDataSource(True)
        elif config.update_processor_class is not None:
            from ldfast._custom_store import DataSourceUpdateSinkImpl

            config._data_source_update_sink = DataSourceUpdateSinkImpl(self._store, self._status)
            self._data_source = config.update_processor_class(config, self._store, self._ready_event)
            self._data_source.start()
        else:
            self._data_source = self._networking  # already started
        if config.use_ldd:
            self._ready_event.set()
            return
        if start_wait > 0:
            log.info("Waiting up to %s seconds for LaunchDarkly client to initialize...", start_wait)
            self._ready_event.wait(start_wait)
        if self._data_source.initialized():
            log.info("Started LaunchDarkly client.")
            if self._data_source is not self._networking and type(self._data_source).__module__.startswith("ldfast."):
                # ldfast's local sources report no status themselves; one of your own reports its
                # status through config.data_source_update_sink (else INITIALIZING, as the official SDK)
                from ldfast.datasource.status import DataSourceState

                self._status.update_status(DataSourceState.VALID, None)
        else:
            log.warning("Initialization timeout exceeded for LaunchDarkly client or an error occurred. "
                        "Feature flags may not yet be available.")

    def _go_offline(self) -> None:
        """Stop the data source and the events (delivering what is pending, bounded)."""
        self._core.events = None
        parts = [self._data_source] if self._data_source is not self._networking else []
        if self._networking is not None:
            parts.append(self._networking)  # delivers pending events, stops the source and the thread
        self._networking = None
        self._data_source = _NullDataSource(False)
        for part in parts:
            try:
                part.stop()
            except Exception:  # a broken part must not keep the caller from shutting down
                log.exception("Error stopping the client")

    def set_offline(self) -> None:
        """Stop all network activity (pending events are delivered first, bounded); evaluations
        return defaults (CLIENT_NOT_READY) until ``set_online()``."""
        if self._closed or self._offline:
            return
        self._offline = True
        self._core.offline = True
        self._go_offline()

    def set_online(self, start_wait: float = 0) -> None:
        """Resume network activity: a new connection to LaunchDarkly (or the configured data
        source) and analytics events. Returns at once unless ``start_wait`` seconds are given to
        wait for the first data set."""
        if self._closed or not self._offline:
            return
        self._offline = False
        self._core.offline = False
        self._core.ready = False
        self._go_online(start_wait)

    def _after_fork_in_child(self) -> None:
        if not self._closed and self._networking is not None:
            self._networking.after_fork_in_child()
            self._core.events = self._networking.recorder  # the new processor's (the parent's counts stay there)
        if not self._closed and self._big_segment_manager is not None:
            self._big_segment_manager.after_fork_in_child()
        restart_store = getattr(self._store, "_restart_after_fork", None)
        if not self._closed and restart_store is not None:
            restart_store()  # a persistent store's worker (uWSGI forks without Python's fork hooks)

    def postfork(self, start_wait: float = 5) -> None:
        """The official SDK's call for a forked child. ldfast restarts its networking in a forked
        process by itself (once per process), so this is only needed where no fork hook runs.
        Waits up to ``start_wait`` seconds for the data source to be ready, as the official call."""
        self._after_fork_in_child()
        ready = getattr(self, "_ready_event", None)
        if ready is not None and start_wait > 0:
            ready.wait(start_wait)

    def all_flags_state(self, context: Any, **kwargs: Any) -> FeatureFlagsState:
        """Every flag's value and metadata for the context (no analytics events are sent).

        Keyword options: ``client_side_only``, ``with_reasons``, ``details_only_for_tracked_flags``.
        Over a persistent store, every flag is read from its database first when its cache is due.
        """
        if self._reads is not None and not self._offline:
            self._reads.read_all()
        return ClientBase.all_flags_state(self, context, **kwargs)

    def all_flags(self, context: Any = None) -> Optional[dict[str, Any]]:
        """Legacy: a dict of flag key to value, or None (with a warning) without a valid context."""
        if self._reads is not None and not self._offline and context is not None:
            self._reads.read_all()
        return self._all_flags(context)

    def close(self) -> None:
        """Stop the data source and its networking; idempotent, and bounded (~5 s) whatever the network does."""
        if self._closed:
            return
        self._closed = True
        _live_clients.discard(self)
        log.info("Closing LaunchDarkly client..")
        self._go_offline()
        if self._big_segment_manager is not None:
            self._big_segment_manager.stop()  # bounded: waits <= 1 s for an in-flight status poll
        self._close_store()

    def flush(self) -> None:
        """Schedule delivery of pending analytics events and return at once (as the official SDK)."""
        if self._networking is not None:
            self._networking.flush()

    def __enter__(self) -> "LDClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


__all__ = ("ClientBase", "LDClient")
