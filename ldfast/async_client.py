"""AsyncLDClient: the LaunchDarkly client for asyncio applications (``ldclient.async_client``'s API).

``AsyncLDClient(AsyncConfig("sdk-key"))``, then ``await client.start()`` (or ``async with``) on
the application's running loop. It is a thin face over the Twisted client's machinery: the same
compiled evaluation core, stores, data sources (streaming, polling, files, TestData, your own),
analytics events and diagnostics, driven by a Twisted reactor bound to the application's asyncio
loop (``ldfast._asyncio_reactor``; not installed as the global reactor). No thread of its own for
networking and no second networking stack.

Evaluation does not await: with flag data in memory ``await client.variation(...)`` returns the
core's value directly (the coroutine never suspends). Only a flag a persistent store must first
read from its database, or a Big Segment membership not yet cached, is fetched in a thread, off
the loop, and then evaluated on it. Users may be plain dicts (as ldfast's other clients).

After ``os.fork()`` (a pre-forking server such as gunicorn) a child process re-binds the client's
networking to the loop it runs, at its next ``start()`` or evaluation: the sync client's fork
rules, with the loop in place of the background thread.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import os
from typing import Any, List, Optional, Tuple

from ldfast._asyncio_reactor import LoopReactor, loop_reactor, result_of, stop_reactor
from ldfast.client import ClientBase, _live_clients, _NullDataSource
from ldfast.config import Config
from ldfast.evaluation import EvaluationDetail, FeatureFlagsState
from ldfast.hook import _Hooks, _only_hooks
from ldfast.migrations.tracker import OpTracker
from ldfast.migrations.types import Stage
from ldfast.plugin import AsyncPlugin, Plugin, _environment_metadata, _plugin_hooks
from ldfast.twisted import CLOSE_TIMEOUT, InitializationError, TwistedLDClient

log = logging.getLogger(__name__)

REACTOR_STOP_TIMEOUT = 0.8
"""Seconds ``close()`` waits for the reactor's thread pool after the client's own bounded close
(``ldfast.twisted.CLOSE_TIMEOUT``): ``close()`` returns within their sum (< 5 s)."""


class _LoopClient(TwistedLDClient):
    """A TwistedLDClient built without a reactor, whose networking starts on ``bind(reactor)``."""

    def __init__(self, config: Config) -> None:
        self._build(config, None, None)

    def _setup_hooks(self, config: Config) -> None:
        """As ``ClientBase._setup_hooks``, taking the official ``AsyncPlugin`` as well as ``Plugin``."""
        self._plugins: List[Any] = []
        for item in config.plugins:
            if isinstance(item, (Plugin, AsyncPlugin)):
                self._plugins.append(item)
            else:
                log.warning("Ignoring %r from Config(plugins=...): a plugin must be an instance of "
                            "ldfast.plugin.AsyncPlugin or Plugin", item)
        self._environment_metadata = _environment_metadata(config)
        hooks = _only_hooks(config.hooks, "Config(hooks=...)")
        if self._plugins:
            hooks += _plugin_hooks(self._plugins, self._environment_metadata)
        self._hooks = _Hooks(hooks, self._status)

    def _new_big_segment_manager(self, big_segments_config: Any) -> Any:
        from ldfast.big_segments import BigSegmentStoreManager

        manager = BigSegmentStoreManager(big_segments_config, dispatch=self._dispatch, blocking_status=False)
        manager.start()
        return manager

    def _dispatch(self, fn: Any, *args: Any) -> None:
        """Run a status listener on the loop once the client is bound to one (before: here)."""
        reactor = self._reactor
        if reactor is None:
            fn(*args)
        else:
            reactor.callFromThread(fn, *args)

    def bind(self, reactor: LoopReactor) -> None:
        """Start the analytics events on ``reactor`` (then ``_start_data()``: the data source)."""
        self._reactor = reactor
        self._slices = None  # (all_flags_state's Cooperator, made on this reactor when needed)
        self._start_events()

    def unbind_after_fork(self) -> None:
        """In a forked child: the parent's reactor and loop are gone; forget them (bind again later)."""
        self._reactor = None
        self._slices = None  # (its Cooperator ran on the parent's reactor)
        self._events = None
        self._core.events = None
        self._data_source = _NullDataSource(False)
        self._init_waiters = []
        if self._big_segment_manager is not None:
            self._big_segment_manager.after_fork_in_child()
        restart_store = getattr(self._store, "_restart_after_fork", None)
        if restart_store is not None:
            restart_store()


class AsyncLDClient:
    """The LaunchDarkly client for asyncio applications. Create one per process and share it.

    ``AsyncLDClient(config)`` builds it without touching a loop; ``await start(start_wait)`` (or
    ``async with``) starts its networking on the running loop and waits (at most ``start_wait``
    seconds) for flag data. Evaluation before ``start()`` serves what the store already holds.
    """

    def __init__(self, config: Config) -> None:
        if not isinstance(config, Config):
            raise TypeError("config must be an ldfast AsyncConfig (or Config), not %s" % type(config).__name__)
        self._client = _LoopClient(config)
        self._core = self._client._core
        self._config = self._client._config  # (with this client's instance id)
        self._store = self._client._store
        self._reactor: Optional[LoopReactor] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._started = False
        self._unbound = False  # forked: bind again on the child's loop
        self._closing: Optional["asyncio.Future[None]"] = None
        self._fast = False
        self._set_fast_path()

    def _set_fast_path(self) -> None:
        """Whether ``variation`` may return the core's value at once: no hook, no persistent store
        read, no Big Segment fetch, nothing to re-bind after a fork."""
        c = self._client
        self._fast = not (c._hooks.hooks or c._reads is not None or c._big_segment_manager is not None
                          or self._unbound)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self, start_wait: float = 5.0) -> None:
        """Start the data source, the analytics events and the plugins on the running loop, and
        wait up to ``start_wait`` seconds for the first flag data. Once per client (a second call,
        or one after ``close()``, does nothing); in a forked child, it starts the child's networking."""
        if isinstance(start_wait, bool) or not isinstance(start_wait, (int, float)) or start_wait < 0:
            raise ValueError("start_wait must be a number of seconds >= 0, got %r" % (start_wait,))
        if self._closing is not None:
            log.warning("start() called on a closed AsyncLDClient; ignoring")
            return
        if self._started and not self._unbound:
            return
        first = not self._started
        self._started = True
        self._bind(start_data=False)
        if first:
            await self._register_plugins()  # (after the events start, before the data source, as the official SDK)
            if self._closing is not None:  # closed while a plugin registered
                return
        client = self._client
        client._start_data()
        if client._offline or client._config.use_ldd:
            return
        if start_wait > 60:
            log.warning("AsyncLDClient was configured to wait up to %s seconds when initializing. "
                        "We recommend waiting no longer than 60.", start_wait)
        if start_wait > 0:
            log.info("Waiting up to %s seconds for LaunchDarkly client to initialize...", start_wait)
            try:
                await result_of(client.wait_for_initialization(start_wait), asyncio.get_running_loop())
            except InitializationError:
                pass
        if client.is_initialized():
            log.info("Started LaunchDarkly client.")
        else:
            log.warning("Initialization timeout exceeded for LaunchDarkly client or an error occurred. "
                        "Feature flags may not yet be available.")

    def _bind(self, start_data: bool = True) -> None:
        """Bind the networking to the running loop (again, in a forked child): the events, then
        the data source (``start()`` registers the plugins between the two)."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._reactor = loop_reactor(loop)
        _live_clients.add(self)  # (the sync client's fork hook calls _after_fork_in_child)
        self._client.bind(self._reactor)
        self._unbound = False
        self._set_fast_path()
        if start_data:
            self._client._start_data()

    async def _register_plugins(self) -> None:
        client = self._client
        for plugin in client._plugins:
            try:
                registered = plugin.register(self, client._environment_metadata)
                if inspect.isawaitable(registered):
                    await registered
            except Exception as e:
                log.error("Error registering plugin %s: %s", getattr(getattr(plugin, "metadata", None), "name", plugin), e)

    def _after_fork_in_child(self) -> None:
        if self._closing is not None or self._reactor is None:
            return
        self._reactor = None
        self._loop = None
        self._unbound = True
        self._client.unbind_after_fork()
        self._set_fast_path()

    def _bound_loop(self) -> asyncio.AbstractEventLoop:
        """The running loop, the client's networking bound to it first when it must be (a forked
        child's first call)."""
        if self._unbound and self._closing is None:
            log.info("ldfast: starting the asyncio client's networking in process %d", os.getpid())
            self._bind()
        return asyncio.get_running_loop()

    async def close(self) -> None:
        """Deliver pending events and stop the data source (bounded: < 5 s whatever the network
        does). Idempotent: later calls wait for the first one's end."""
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_future()
            _live_clients.discard(self)
            try:
                await self._close()
            finally:
                self._closing.set_result(None)
        elif not self._closing.done():
            await asyncio.shield(self._closing)

    async def _close(self) -> None:
        client, reactor = self._client, self._reactor
        if reactor is None:  # never started (or forked and not re-bound): nothing runs on a loop
            client._closed = True
            manager = client._big_segment_manager

            def stop_threads() -> None:  # (each bounded; in a thread, never on the loop)
                if manager is not None:
                    manager.stop()
                client._close_store()

            stopping = asyncio.get_running_loop().run_in_executor(None, stop_threads)
            await asyncio.wait([stopping], timeout=CLOSE_TIMEOUT)
            return
        await result_of(client.close(), asyncio.get_running_loop())
        await stop_reactor(reactor, REACTOR_STOP_TIMEOUT)

    async def __aenter__(self) -> "AsyncLDClient":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # -- evaluation -----------------------------------------------------------------------------

    async def variation(self, key: str, context: Any, default: Any) -> Any:
        """The flag's value for the context (an ``ldfast.Context`` or a user dict), or ``default``."""
        if self._fast:
            return self._core.variation(key, context, default)
        loop = self._bound_loop()
        return await result_of(self._client.variation(key, context, default), loop)

    async def variation_detail(self, key: str, context: Any, default: Any) -> EvaluationDetail:
        """The flag's value for the context with its variation index and reason."""
        if self._fast:
            detail: EvaluationDetail = self._core.variation_detail(key, context, default)
            return detail
        loop = self._bound_loop()
        return await result_of(self._client.variation_detail(key, context, default), loop)

    async def migration_variation(self, key: str, context: Any, default_stage: Stage) -> Tuple[Stage, OpTracker]:
        """The migration flag's stage for the context and an OpTracker for the operation."""
        loop = self._bound_loop()
        return await result_of(self._client.migration_variation(key, context, default_stage), loop)

    async def all_flags_state(self, context: Any, **kwargs: Any) -> FeatureFlagsState:
        """Every flag's state for the context (``client_side_only``, ``with_reasons``,
        ``details_only_for_tracked_flags``); no analytics events."""
        loop = self._bound_loop()
        return await result_of(self._client.all_flags_state(context, **kwargs), loop)

    async def is_initialized(self) -> bool:
        """Whether the client has its first flag data (always True offline and in daemon mode)."""
        return ClientBase.is_initialized(self._client)

    # -- analytics ------------------------------------------------------------------------------

    async def flush(self) -> bool:
        """Deliver pending events now; True once LaunchDarkly accepted them, False if they were
        finally dropped or events are off (the official client's ``flush`` returns None)."""
        loop = self._bound_loop()
        return await result_of(self._client.flush(), loop)

    async def flush_and_wait(self, timeout: float) -> bool:
        """``flush()``, waiting at most ``timeout`` seconds: True if the events were delivered in time."""
        try:
            return await asyncio.wait_for(self.flush(), timeout)
        except asyncio.TimeoutError:
            return False

    def track(self, event_name: str, context: Any, data: Any = None, metric_value: Any = None) -> None:
        """Record a custom event (sent with the next flush)."""
        self._client.track(event_name, context, data, metric_value)

    def identify(self, context: Any) -> None:
        """Record an identify event for the context."""
        self._client.identify(context)

    def _new_migrator(self, settings: Any) -> Any:
        """``MigratorBuilder(client).build()``'s migrator: ``read``/``write`` are coroutines."""
        from ldfast.migrations._asyncio import AsyncMigrator

        return AsyncMigrator(self._client, settings)

    def track_migration_op(self, tracker: OpTracker) -> None:
        """Record a migration operation's event (``MigratorBuilder`` does this itself)."""
        self._client.track_migration_op(tracker)

    async def set_offline(self) -> None:
        """Stop all network activity (pending events are delivered first, bounded); evaluations
        return defaults until ``set_online()`` (as ``TwistedLDClient``; not in the official client)."""
        await result_of(self._client.set_offline(), self._bound_loop())

    async def set_online(self) -> None:
        """Resume network activity after ``set_offline()`` (a new connection; returns at once)."""
        loop = self._bound_loop()
        if self._reactor is None:  # never started: start() does it
            self._client._offline = self._client._core.offline = False
            return
        await result_of(self._client.set_online(), loop)

    # -- the rest of the official surface -------------------------------------------------------

    def secure_mode_hash(self, context: Any) -> str:
        """HMAC-SHA256 of the context's fully qualified key with the SDK key ("" if invalid)."""
        return self._client.secure_mode_hash(context)

    def add_hook(self, hook: Any) -> None:
        """Add an evaluation hook; it sees the evaluations that start after this call."""
        self._client.add_hook(hook)
        self._set_fast_path()

    def get_sdk_key(self) -> Optional[str]:
        return self._client.get_sdk_key()

    def is_offline(self) -> bool:
        return self._client.is_offline()

    @property
    def flag_tracker(self) -> Any:
        """Flag change and flag value change listeners (``ldfast.flag_tracker.FlagTracker``)."""
        return self._client.flag_tracker

    @property
    def data_source_status_provider(self) -> Any:
        return self._client.data_source_status_provider

    @property
    def data_store_status_provider(self) -> Any:
        return self._client.data_store_status_provider

    @property
    def big_segment_store_status_provider(self) -> Any:
        return self._client.big_segment_store_status_provider


__all__ = ("AsyncLDClient",)
