"""TwistedLDClient and TwistedConfig: the client for applications that run a Twisted reactor.

The API of LaunchDarkly's Twisted SDK reference: ``TwistedLDClient("YOUR_SDK_KEY", config)``,
``TwistedConfig(base_uri, connect_timeout, read_timeout)``, users as plain dicts, and Deferreds from
``variation``, ``flush`` and friends. Everything runs on the application's reactor (injectable);
flag data is in memory, so evaluation Deferreds have already fired when returned, except when a
flag a persistent store does not cache must first be read from its database, or a Big Segment
membership that is not cached from the Big Segment store (both in the reactor's thread pool; see
``_read_then`` and ``_with_big_segments``).
"""
from __future__ import annotations

import logging
from itertools import islice
from typing import TYPE_CHECKING, Any, Iterator, Optional, Tuple

from twisted.internet.defer import Deferred, fail, gatherResults
from twisted.internet.task import Cooperator, SchedulerStopped, TaskStopped
from twisted.python.failure import Failure

from ldfast._fired import fired
from ldfast.client import ClientBase, _NullDataSource
from ldfast.config import DEFAULT_BASE_URI, Config, HTTPConfig
from ldfast.context import to_context
from ldfast.datasource._payload import _Budget, slice_cooperator
from ldfast.evaluation import EvaluationDetail, FeatureFlagsState
from ldfast.migrations.tracker import OpTracker, _valid_default_stage
from ldfast.migrations.types import Stage

if TYPE_CHECKING:
    from ldfast.events.processor import EventProcessor

# A TwistedLDClient is usually built in a reactor callback: the modules it may need are imported
# here, with this module, so its constructor never spends tens of milliseconds importing on the
# reactor (the first construction took ~45 ms with these imported lazily; the next ones ~1 ms).
# None of them imports (installs) the global reactor.
import encodings.idna  # noqa: E402,F401  isort:skip  (host names of the stream and events URIs)
import ldfast._http  # noqa: E402,F401  isort:skip
import ldfast.big_segments  # noqa: E402,F401  isort:skip
import ldfast.datasource.network  # noqa: E402,F401  isort:skip
import ldfast.datasource.polling  # noqa: E402,F401  isort:skip
import ldfast.datasource.status  # noqa: E402,F401  isort:skip
import ldfast.datasource.streaming  # noqa: E402,F401  isort:skip
import ldfast.events.processor  # noqa: E402,F401  isort:skip
import ldfast.flag_tracker  # noqa: E402,F401  isort:skip
import ldfast.interfaces  # noqa: E402,F401  isort:skip

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 4.0
"""Longest time, in seconds, before ``TwistedLDClient.close()`` fires, whatever the network does
(the events are delivered and the data source stopped within it when the servers answer)."""


class TwistedConfig(Config):
    """``TwistedConfig(base_uri, connect_timeout, read_timeout, **config_keywords)``.

    The three positional arguments of the Twisted SDK reference (base URI, connect and read timeout
    in seconds); every ``ldfast.Config`` keyword is accepted too (``stream_uri``, ``events_uri``,
    ``offline``, ``stream``, ``poll_interval``, ...). The SDK key is the client's first argument.
    """

    def __init__(self, base_uri: str = DEFAULT_BASE_URI, connect_timeout: float = 10, read_timeout: float = 15,
                 **kwargs: Any):
        if "http" in kwargs:
            raise TypeError("TwistedConfig takes connect_timeout/read_timeout, not http=")
        sdk_key = kwargs.pop("sdk_key", None)
        super().__init__(sdk_key, base_uri=base_uri,
                         http=HTTPConfig(connect_timeout=connect_timeout, read_timeout=read_timeout), **kwargs)


class InitializationError(Exception):
    """The client could not initialize: an unrecoverable error, or the timeout passed."""


class TwistedLDClient(ClientBase):
    """The LaunchDarkly client for Twisted applications. Create one and share it.

    ``TwistedLDClient(sdk_key, config=None, reactor=None, http_client=None)``; ``reactor`` defaults
    to the global one (imported only then), ``http_client`` to a treq client with a connection pool.
    """

    def __init__(self, sdk_key: Optional[str] = None, config: Optional[Config] = None, reactor: Any = None,
                 http_client: Any = None):
        if config is None:
            config = TwistedConfig()
        if sdk_key is not None:
            config = config.copy_with_new_sdk_key(sdk_key)
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self._build(config, reactor, http_client)
        self._start_events()
        self._register_plugins()  # (before the data source starts, as the official SDK)
        self._start_data()

    def _build(self, config: Config, reactor: Any, http_client: Any) -> None:
        """The client's parts that need no network (store, core, hooks, status), on ``reactor``
        (None: the asyncio client's, bound at its start)."""
        self._reactor = reactor
        self._http_client = http_client
        self._slices: Optional[Cooperator] = None  # all_flags_state's slices over a large store
        self._init_waiters: list[Any] = []
        self._init_failure: Optional[Any] = None
        self._setup(config, bind_fast_paths=False)
        if self._big_segment_manager is not None:
            self._setup_big_segments()
        self._events: Optional[EventProcessor] = None
        self._data_source = _NullDataSource(False)

    def _start_data(self) -> None:
        """Start getting flag data: nothing offline, the store alone in daemon mode, else the source."""
        if self._offline:
            log.info("Started LaunchDarkly client in offline mode")
        elif self._config.use_ldd:
            self._data_source = _NullDataSource(True)  # daemon mode: serves what the store holds
        else:
            self._start_source()

    # -- big segments ---------------------------------------------------------------------------
    #
    # Memberships come from the store in a thread pool, never on the reactor. Before an evaluation
    # that may need one, the keys of the context's kinds that Big Segments use are looked up in the
    # manager's cache; what is missing is fetched in the reactor's thread pool, and the evaluation
    # runs once it is here, with those results pinned for its duration (``_pinned_lookup``).
    # Without a Big Segment store none of this runs: variation() is the plain in-memory path.

    def _new_big_segment_manager(self, big_segments_config: Any) -> Any:
        from ldfast.big_segments import BigSegmentStoreManager

        # listeners run on the reactor (a test Clock has no callFromThread: then on the poll thread)
        dispatch = getattr(self._reactor, "callFromThread", None)
        manager = BigSegmentStoreManager(big_segments_config, dispatch=dispatch, blocking_status=False)
        manager.start()
        return manager

    def _setup_big_segments(self) -> None:
        self._bs_pinned: Optional[dict[str, Any]] = None
        self._bs_kinds: Optional[tuple[Any, ...]] = None  # (the store's segments_generation, the kinds)
        self._core.big_segments = self._pinned_lookup

    def _big_segment_keys(self, context: Any, flag: Any = None) -> list[Any]:
        """The keys of the context's kinds that a (generation-bearing) Big Segment uses: the Big
        Segments ``flag`` can reach (through its rules, its segments' rules and its prerequisites),
        or, without a flag (all flags), every Big Segment in the store."""
        if flag is not None:
            kinds: Any = self._reachable_big_segment_kinds(flag)
        else:
            generation = self._store.segments_generation
            cached = self._bs_kinds
            if cached is not None and cached[0] == generation:
                kinds = cached[1]
            else:
                kinds = tuple(dict.fromkeys(_big_segment_kind(s) for s in list(self._store._segments.values())
                                            if _is_big_segment(s)))
                self._bs_kinds = (generation, kinds)
        keys = []
        for kind in kinds:
            c = context.get_individual_context(kind)
            if c is not None and c.key not in keys:
                keys.append(c.key)
        return keys

    def _reachable_big_segment_kinds(self, flag: Any) -> list[Any]:
        """The context kinds of the Big Segments that evaluating ``flag`` may query, in the order
        the evaluation meets them (prerequisites first, then the rules' segments, depth first)."""
        flags, segments = self._store._flags, self._store._segments
        kinds: list[Any] = []
        seen: set[Any] = set()
        stack: list[Any] = [("f", flag)]
        while stack:
            what, item = stack.pop()
            if item is None or (what, item.key) in seen:
                continue
            seen.add((what, item.key))
            if what == "f":
                if item.pending:  # (a streamed put's flag not yet parsed)
                    item.materialize()
                stack.extend(("s", segments.get(k)) for k in reversed(item.segment_keys))
                stack.extend(("f", flags.get(p.key)) for p in reversed(item.prerequisites))
                continue
            if _is_big_segment(item) and _big_segment_kind(item) not in kinds:
                kinds.append(_big_segment_kind(item))
            stack.extend(("s", segments.get(k)) for k in reversed(item.segment_keys))
        return kinds

    def _pinned_lookup(self, key: str) -> Any:
        pinned = self._bs_pinned
        if pinned is not None:
            found = pinned.get(key)
            if found is not None:
                return found
        found = self._big_segment_manager.cached(key)
        if found is not None:
            return found
        # Not prefetched (e.g. a flag tracker evaluation): never query on the reactor; fetch it for
        # next time and report this evaluation as a store error.
        if not self._closed:
            log.debug("Big Segment membership was not cached for an evaluation on the reactor; fetching it")
            self._fetch_memberships([key]).addErrback(lambda f: None)
        return None, "STORE_ERROR"

    def _fetch_memberships(self, keys: list[Any]) -> "Deferred[dict[str, Any]]":
        from twisted.internet.threads import deferToThreadPool

        try:
            pool = self._reactor.getThreadPool()
        except Exception as e:  # e.g. a test Clock: no threads, so no Big Segment queries
            return fail(e)
        return deferToThreadPool(self._reactor, pool, self._big_segment_manager.lookup_many, keys)

    def _with_big_segments(self, user: Any, flag_key: Optional[str], evaluate: Any) -> "Deferred[Any]":
        """``evaluate(context)``'s result, once the Big Segment memberships it may need are at hand
        (``context`` is ``user`` converted once, or ``user`` itself if it cannot be)."""
        if self._core.offline or self._closed:
            return fired(evaluate(user))
        flag = None
        if flag_key is not None:
            flag = self._store._flags.get(flag_key)
            if flag is not None and flag.pending:  # (a streamed put's flag not yet parsed)
                flag.materialize()
            if flag is None or not flag.uses_state:  # it reads no segment: no membership needed
                return fired(evaluate(user))
        try:
            context = to_context(user)
        except Exception:  # leave the diagnosis to the evaluation itself
            return fired(evaluate(user))
        if context._error is not None:
            return fired(evaluate(context))
        manager = self._big_segment_manager
        pinned: dict[str, Any] = {}
        missing = []
        for key in self._big_segment_keys(context, flag):
            found = manager.cached(key)
            if found is None:
                missing.append(key)
            else:
                pinned[key] = found
        if not missing:
            return fired(self._evaluate_pinned(pinned, evaluate, context))

        def fetched(results: dict[str, Any]) -> Any:
            pinned.update(results)
            return self._evaluate_pinned(pinned, evaluate, context)

        def failed(failure: Any) -> Any:  # lookup_many does not raise: no thread pool, or it is stopped
            log.warning("Big Segment membership fetch failed: %s", failure.getErrorMessage())
            for key in missing:
                pinned[key] = (None, "STORE_ERROR")
            return self._evaluate_pinned(pinned, evaluate, context)

        return self._fetch_memberships(missing).addCallbacks(fetched, failed)

    def _evaluate_pinned(self, pinned: dict[str, Any], evaluate: Any, context: Any) -> Any:
        previous, self._bs_pinned = self._bs_pinned, pinned
        try:
            return evaluate(context)
        finally:
            self._bs_pinned = previous

    # -- analytics events ---------------------------------------------------------------------

    def _start_events(self) -> None:
        if self._offline or not self._config._send_events_online or self._closed:
            return
        from ldfast.events.processor import EventProcessor

        self._events = EventProcessor(self._config, reactor=self._reactor, http_client=self._http_client)
        self._events.start()
        self._core.events = self._events.recorder

    def _stop_events(self) -> "Deferred[Any]":
        events, self._events = self._events, None
        self._core.events = None
        return _stop(events) if events is not None else fired(None)

    # -- data source --------------------------------------------------------------------------

    def _start_source(self) -> None:
        config = self._config
        if config.update_processor_class is not None:
            import threading

            from ldfast._custom_store import DataSourceUpdateSinkImpl

            ready = threading.Event()
            config._data_source_update_sink = DataSourceUpdateSinkImpl(self._store, self._status)
            self._data_source = config.update_processor_class(config, self._store, ready)
            self._data_source.start()
            if self._data_source.initialized():
                self._reactor.callLater(0, self._initialized)
            return
        from ldfast.datasource.network import make_network_source

        self._init_failure = None
        self._data_source = make_network_source(config, self._store, reactor=self._reactor, status=self._status,
                                                http_client=self._http_client, on_initialized=self._initialized,
                                                on_failure=self._failed)
        self._data_source.start()

    def _initialized(self) -> None:
        waiters, self._init_waiters = self._init_waiters, []
        for d in waiters:
            d.callback(None)

    def _failed(self, error: Any) -> None:
        self._init_failure = error
        waiters, self._init_waiters = self._init_waiters, []
        for d in waiters:
            d.errback(InitializationError("LaunchDarkly data source failed: %s" % getattr(error, "message", error)))

    def wait_for_initialization(self, timeout: float = 5.0) -> "Deferred[None]":
        """Fires when the first full data set is stored; fails on timeout or an unrecoverable error."""
        if self.is_initialized():
            return fired(None)
        if self._offline:
            return fail(InitializationError("the client is offline"))
        if self._init_failure is not None:
            return fail(InitializationError("LaunchDarkly data source failed: %s"
                                            % getattr(self._init_failure, "message", self._init_failure)))
        d: Deferred[None] = Deferred()
        self._init_waiters.append(d)

        def timed_out() -> None:
            if d in self._init_waiters:
                self._init_waiters.remove(d)
                d.errback(InitializationError("not initialized within %s s" % timeout))

        call = self._reactor.callLater(timeout, timed_out)
        d.addBoth(lambda r: (call.active() and call.cancel(), r)[1])
        return d

    def set_offline(self) -> "Deferred[None]":
        """Stop all network activity; evaluations return defaults (CLIENT_NOT_READY)."""
        self._offline = True
        self._core.offline = True
        source, self._data_source = self._data_source, _NullDataSource(False)
        return gatherResults([self._stop_events(), _stop(source)]).addCallback(lambda _: None)

    def set_online(self) -> "Deferred[None]":
        """Resume network activity (a new connection); evaluations use flag data again."""
        if not self._offline or self._closed:
            return fired(None)
        self._offline = False
        self._core.offline = False
        self._core.ready = False
        self._start_events()
        if self._config.use_ldd:
            self._data_source = _NullDataSource(True)
        else:
            self._start_source()
        return fired(None)

    def close(self) -> "Deferred[None]":
        """Stop the data source; fires when it is stopped (bounded). Idempotent."""
        if self._closed:
            return fired(None)
        self._closed = True
        log.info("Closing LaunchDarkly client..")
        if self._slices is not None:
            self._slices.stop()  # all_flags_state calls still in slices finish at once
        # pending events are delivered (bounded) while the data source stops
        parts = [self._stop_events(), _stop(self._data_source)]
        if self._big_segment_manager is not None:
            parts.append(self._stop_big_segments())
        close_store = getattr(self._store, "close", None)
        if close_store is not None:
            try:
                close_store(timeout=0)  # signal only: never wait on the reactor thread
            except Exception:
                log.exception("Error closing the feature store")
        return _within(self._reactor, gatherResults(parts), CLOSE_TIMEOUT, "closing the client")

    def _stop_big_segments(self, timeout: float = 2.0) -> "Deferred[None]":
        """End the status poll (without waiting for it) and stop the store in a thread, bounded."""
        from twisted.internet.threads import deferToThreadPool

        manager = self._big_segment_manager
        manager.stop_polling(timeout=0)
        if not hasattr(self._reactor, "getThreadPool"):
            manager.stop_store()
            return fired(None)
        stopping = deferToThreadPool(self._reactor, self._reactor.getThreadPool(), manager.stop_store)
        return _within(self._reactor, stopping, timeout, "stopping the Big Segment store")

    # -- a persistent store's reads ---------------------------------------------------------------
    #
    # Over a persistent store that reads through (Redis: ``self._reads``), a flag its cache lacks
    # (every flag, when it caches nothing; every item for all_flags_state, when due) is read in the
    # reactor's thread pool first, then evaluated on the reactor from the cache. Never on the
    # reactor: a cached flag costs one dict lookup.

    _reading_done = False  # (set while the evaluation after a read runs: it must not read again)

    def _needs_store_read(self, key: Optional[str]) -> bool:
        reads = self._reads
        if self._reading_done or self._core.offline or self._closed:
            return False
        needed: bool = reads.needs_read(key) if key is not None else reads.needs_read_all()
        return needed

    def _read_then(self, key: Optional[str], method: Any, *args: Any, **kwargs: Any) -> "Deferred[Any]":
        """``method(*args, **kwargs)``'s Deferred, called on the reactor once the store has read
        the flag ``key`` (None: every item) in the reactor's thread pool (with no thread pool, e.g.
        a test clock: at once, from the cache)."""
        from twisted.internet.threads import deferToThreadPool

        reads = self._reads
        try:
            pool = self._reactor.getThreadPool()
        except Exception:
            read: Deferred[Any] = fired(None)
        else:
            read = (deferToThreadPool(self._reactor, pool, reads.read, key) if key is not None
                    else deferToThreadPool(self._reactor, pool, reads.read_all))

        def evaluate(_: Any) -> Any:  # (the reads never raise; a stopped pool: from the cache)
            self._reading_done = True
            try:
                return method(*args, **kwargs)
            finally:
                self._reading_done = False

        return read.addBoth(evaluate)

    # -- the Deferred API -----------------------------------------------------------------------

    def variation(self, key: str, user: Any, default: Any) -> "Deferred[Any]":
        """The flag's value for the user/context (a Deferred that has already fired, unless the
        flag must first be read from a persistent store, or a Big Segment membership fetched)."""
        if self._hooks.hooks:
            return self._with_hooks(key, user, default, "variation", self._variation_as_detail).addCallback(_value)
        if self._reads is None and self._big_segment_manager is None:  # all in memory: at once
            return fired(self._core.variation(key, user, default))
        return self._evaluated(key, user, lambda c: self._core.variation(key, c, default))

    def variation_detail(self, key: str, user: Any, default: Any) -> "Deferred[EvaluationDetail]":  # type: ignore[override]
        if self._hooks.hooks:
            return self._with_hooks(key, user, default, "variation_detail", self._core.variation_detail)
        if self._reads is None and self._big_segment_manager is None:
            return fired(self._core.variation_detail(key, user, default))
        return self._evaluated(key, user, lambda c: self._core.variation_detail(key, c, default))

    def _with_hooks(self, key: str, user: Any, default: Any, method: str,
                    evaluate: Any) -> "Deferred[EvaluationDetail]":
        """``evaluate(key, context, default)``'s detail between the hooks' stages: the before stage
        now, the evaluation once the flag (or a Big Segment membership) is at hand, as ``variation``
        waits for it, then the after stage."""
        hooks = self._hooks
        series, run, data = hooks.before(key, user, default, method)

        def after(detail: EvaluationDetail) -> EvaluationDetail:
            hooks.after(series, run, data, detail)
            return detail

        return self._evaluated(key, series.context, lambda c: evaluate(key, c, default)).addCallback(after)

    def migration_variation(self, key: str, user: Any,  # type: ignore[override]
                            default_stage: Stage) -> "Deferred[Tuple[Stage, OpTracker]]":
        """A Deferred of the migration flag's ``(stage, tracker)`` (``LDClient.migration_variation``;
        fired at once unless the flag must first be read from a persistent store, or a Big Segment
        membership fetched)."""
        default_stage = _valid_default_stage(default_stage)
        hooks = self._hooks
        if not hooks.hooks:
            return self._evaluated(key, user, lambda c: self._migration_stage(key, c, default_stage)).addCallback(
                _stage_and_tracker)
        series, run, data = hooks.before(key, user, default_stage.value, "migration_variation")

        def after(result: Any) -> Any:
            hooks.after(series, run, data, result[2])
            return result[0], result[1]

        return self._evaluated(key, series.context,
                               lambda c: self._migration_stage(key, c, default_stage)).addCallback(after)

    def _evaluated(self, key: str, context: Any, evaluate: Any) -> "Deferred[Any]":
        """``evaluate(context)``'s Deferred, after a persistent store's read or a Big Segment fetch
        when the flag needs one (the steps of ``variation``)."""
        if self._reads is not None and self._needs_store_read(key):
            return self._read_then(key, self._evaluated, key, context, evaluate)
        if self._big_segment_manager is None:
            return fired(evaluate(context))
        return self._with_big_segments(context, key, evaluate)

    def _flags_parsed(self) -> "Optional[Deferred[None]]":
        """None, or a Deferred firing once the streamed flags still held as text are parsed."""
        flags_parsed = getattr(self._data_source, "flags_parsed", None)
        return flags_parsed() if flags_parsed is not None else None

    def all_flags_state(self, user: Any, **kwargs: Any) -> "Deferred[FeatureFlagsState]":  # type: ignore[override]
        """Every flag's state for the user/context (fired at once, except in the moments after the
        first streamed put, whose flags are parsed in the background: then once they all are, so
        that parsing thousands of flags never stalls the reactor in one call; or, over a persistent
        store, once every item is read from it, when due)."""
        return self._all_flags_state(user, kwargs, True)

    def _all_flags_state(self, user: Any, kwargs: dict[str, Any], at_once: bool) -> "Deferred[FeatureFlagsState]":
        if self._reads is not None and self._needs_store_read(None):
            return self._read_then(None, self._all_flags_state, user, kwargs, at_once)
        parsed = self._flags_parsed()
        if parsed is not None:  # (fired inside the parse's last slice: no slice of our own there)
            return parsed.addCallback(lambda _: self._all_flags_state(user, kwargs, False))
        if self._big_segment_manager is None or user is None:
            return self._flags_state_in_slices(user, kwargs, at_once)
        return self._with_big_segments(user, None, lambda c: ClientBase.all_flags_state(self, c, **kwargs))

    # -- all_flags_state over a large store, in slices ---------------------------------------------
    #
    # Evaluating every flag of a large environment takes long (5,000 flags: ~17 ms compiled on the
    # project's machine). The flags (a copy of the store's list, taken at the call) are evaluated in
    # parts of FLAGS_PER_PART: as many as fit in one slice at once, the rest on a Cooperator, a
    # slice of ``SLICE_SECONDS`` per reactor turn, so the reactor serves other work meanwhile. A
    # store that fits in the first slice is answered at once, as before. A state that waited for
    # the background parse has no slice at once (it continues inside the parse's last slice, and
    # the two together would stall the reactor twice as long): all its parts go to the Cooperator. Prerequisites and segments
    # are read from the store as each part is evaluated (as the sync client, whose store a stream
    # thread may update meanwhile). Closing the client finishes pending states at once.

    def _flags_state_in_slices(self, user: Any, kwargs: dict[str, Any],
                               at_once: bool = True) -> "Deferred[FeatureFlagsState]":
        state, fill = self._flags_state_begin(user, kwargs)
        if fill is None:
            return fired(state)
        snapshot = self._core.store._flags.copy()
        if len(snapshot) <= FLAGS_PER_PART or self._reactor is None:
            fill(snapshot)
            return fired(state)
        steps = _fill_steps(fill, snapshot)
        if at_once:
            budget = _Budget()
            for _ in steps:
                if budget():
                    break
            else:
                return fired(state)
        if self._closed:
            return fired(_rest(steps, state))
        if self._slices is None:
            self._slices = slice_cooperator(self._reactor)
        task = self._slices.cooperate(steps)
        return task.whenDone().addCallbacks(lambda _: state, _finish_steps, errbackArgs=(steps, state))

    def all_flags(self, user: Any = None) -> "Deferred[Optional[dict[str, Any]]]":
        """A Deferred firing with {flag key: value}, or None (and a warning) without a user (see
        :meth:`all_flags_state` for when it waits)."""
        return self._all_flags_values(user, True)

    def _all_flags_values(self, user: Any, at_once: bool) -> "Deferred[Optional[dict[str, Any]]]":
        if self._reads is not None and self._needs_store_read(None):
            return self._read_then(None, self._all_flags_values, user, at_once)
        parsed = self._flags_parsed()
        if parsed is not None:
            return parsed.addCallback(lambda _: self._all_flags_values(user, False))
        if user is None:
            return fired(self._all_flags(user))
        if self._big_segment_manager is None:
            return self._flags_state_in_slices(user, {}, at_once).addCallback(_values_map)
        return self._with_big_segments(user, None, lambda c: self._all_flags(c))

    def flush(self) -> "Deferred[bool]":
        """Deliver pending events; fires with True once the payload was accepted, False if it was
        finally dropped (after one retry) or events are off. Never fails."""
        if self._events is None:
            return fired(False)
        return self._events.flush()


FLAGS_PER_PART = 100
"""Flags per all_flags_state part (see ``TwistedLDClient._flags_state_in_slices``): ~0.3 ms compiled,
~1 ms for the pure twin's rule-heavy flags, so that a slice ends close to its budget."""


def _fill_steps(fill: Any, snapshot: dict[str, Any]) -> Iterator[None]:
    """``fill`` over ``snapshot`` in parts of FLAGS_PER_PART flags (in its order), one a step."""
    items = iter(snapshot.items())
    while True:
        part = dict(islice(items, FLAGS_PER_PART))
        if not part:
            return
        fill(part)
        yield None


def _rest(steps: Iterator[None], state: FeatureFlagsState) -> FeatureFlagsState:
    """The remaining parts, at once (the client is closed)."""
    for _ in steps:
        pass
    return state


def _finish_steps(failure: Failure, steps: Iterator[None], state: FeatureFlagsState) -> Any:
    """The Cooperator stopped (the client closed): the remaining parts, at once."""
    if not failure.check(TaskStopped, SchedulerStopped):
        return failure
    return _rest(steps, state)


def _values_map(state: FeatureFlagsState) -> Optional[dict[str, Any]]:
    return state.to_values_map() if state.valid else None


def _value(detail: EvaluationDetail) -> Any:
    return detail.value


def _stage_and_tracker(result: Any) -> Any:
    return result[0], result[1]


def _within(reactor: Any, d: "Deferred[Any]", timeout: float, what: str) -> "Deferred[None]":
    """A Deferred firing (with None) when ``d`` does, or after ``timeout`` s at the latest (``d``
    goes on in the background: its parts have deadlines of their own)."""
    done: Deferred[None] = Deferred()

    def fire(_: Any) -> None:
        if call.active():
            call.cancel()
        if not done.called:
            done.callback(None)

    def timed_out() -> None:
        log.warning("%s did not finish within %s s; going on", what.capitalize(), timeout)
        if not done.called:
            done.callback(None)

    call = reactor.callLater(timeout, timed_out)
    d.addBoth(fire)
    return done


def _is_big_segment(segment: Any) -> bool:
    return bool(segment.unbounded) and not segment.deleted and segment.generation is not None


def _big_segment_kind(segment: Any) -> str:
    return segment.unbounded_context_kind or "user"


def _stop(source: Any) -> "Deferred[None]":
    try:
        result = source.stop()
    except Exception:
        log.exception("Error stopping the data source")
        return fired(None)
    if isinstance(result, Deferred):
        result.addErrback(lambda f: log.warning("Stopping the data source: %s", f.getErrorMessage()))
        return result
    return fired(None)


__all__ = ("TwistedConfig", "TwistedLDClient", "InitializationError")
