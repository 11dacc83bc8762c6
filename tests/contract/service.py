"""ldfast's test service for LaunchDarkly's contract tests (sdk-test-harness).

The protocol is the harness's ``service_spec.md``: ``GET /`` reports the capabilities, ``POST /``
creates a client, ``POST /clients/<id>`` runs a command on it, ``DELETE /clients/<id>`` closes it.

    python tests/contract/service.py --port 8000 --client sync|twisted|asyncio

The service runs on Twisted's global reactor. ``--client sync`` drives ``ldfast.LDClient`` (its
blocking calls, construction and close, run in the reactor's thread pool); ``--client twisted``
drives ``ldfast.TwistedLDClient`` on the service's reactor, waiting on its Deferreds;
``--client asyncio`` runs the service's reactor on an asyncio loop (Twisted's asyncio reactor) and
drives ``ldfast.async_client.AsyncLDClient`` on that loop (with its own reactor bound to it),
awaiting its coroutines as asyncio tasks. Each command
calls the real API: an API that ldfast lacks makes the command fail with its error (HTTP 500),
never a made-up answer.
"""
from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import sys
import urllib.request
from typing import Any, Callable, Dict, Optional

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

if "asyncio" in sys.argv:  # --client asyncio: the service's reactor runs an asyncio loop, the client's too
    import asyncio  # noqa: E402

    from twisted.internet import asyncioreactor  # noqa: E402

    asyncioreactor.install(asyncio.new_event_loop())

from twisted.internet import defer, reactor, threads  # noqa: E402
from twisted.web import resource, server  # noqa: E402

import ldfast  # noqa: E402
from ldfast import Config, Context  # noqa: E402
from ldfast.big_segments import BigSegmentStore, BigSegmentStoreMetadata  # noqa: E402
from ldfast.config import BigSegmentsConfig  # noqa: E402
from ldfast.context import to_context  # noqa: E402

log = logging.getLogger("testservice")

# Not advertised: "strongly-typed" (Python has one variation method, as the official SDK),
# "retry-conformance-fdv1-*" (an unrecoverable status such as 401 stops the data source, as in the
# official 9.20 SDK), "track-hooks" (not in 9.20), and "tls:verify-peer": ldfast verifies peers
# (tests/test_tls.py), but that area's invalid-certificate test fails to create its client here
# (the harness does not set initCanFail; a client that refuses the certificate never initializes).
CAPABILITIES = [
    "server-side",
    "server-side-polling",
    "all-flags-with-reasons",
    "all-flags-client-side-only",
    "all-flags-details-only-for-tracked-flags",
    "big-segments",
    "context-type",
    "filtering",
    "secure-mode-hash",
    "tags",
    "migrations",
    "event-gzip",
    "optional-event-gzip",
    "event-sampling",
    "polling-gzip",
    "inline-context-all",
    "instance-id",
    "anonymous-redaction",
    "evaluation-hooks",
    "hook-environment-id",
    "omit-anonymous-contexts",
    "client-prereq-events",
    "persistent-data-store-redis",
    "flag-change-listeners",
    "flag-value-change-listeners",
    "fdv1-fallback",
    "user-type",
    "service-endpoints",
    "wrapper",
    "tls:skip-verify-peer",
    "tls:custom-ca",
    "http-proxy",
]


class BadRequest(Exception):
    """The harness sent something the protocol does not allow (HTTP 400)."""


def _post_json(url: str, body: Any, timeout: float = 5.0) -> Any:
    """A blocking JSON POST (callback fixtures: called from threads, never on the reactor)."""
    data = json.dumps(body).encode() if body is not None else b""
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        text = resp.read()
    return json.loads(text) if text.strip() else None


def _post_soon(url: str, body: Any) -> None:
    """POST without blocking the caller's thread (listener callbacks run on networking threads)."""
    def post() -> None:
        try:
            _post_json(url, body)
        except Exception as e:
            log.warning("callback POST to %s failed: %s", url, e)

    reactor.callFromThread(threads.deferToThread, post)


class CallbackBigSegmentStore(BigSegmentStore):
    """A Big Segment store whose every call is a request to the harness's callback fixture."""

    def __init__(self, base_uri: str):
        self._base = base_uri.rstrip("/")

    def get_metadata(self) -> BigSegmentStoreMetadata:
        result = _post_json(self._base + "/getMetadata", None)
        return BigSegmentStoreMetadata((result or {}).get("lastUpToDate"))

    def get_membership(self, context_hash: str) -> Optional[dict]:
        result = _post_json(self._base + "/getMembership", {"contextHash": context_hash})
        return (result or {}).get("values")

    def stop(self) -> None:
        pass


def _seconds(params: dict, name: str) -> Optional[float]:
    value = params.get(name)
    return None if value is None else value / 1000.0


def _make_hook(spec: dict) -> Any:
    """The harness's test hook: posts each stage to its callback URI, returns the configured data."""
    from ldfast.hook import EvaluationSeriesContext, Hook, Metadata  # the hooks API (issue #14)

    name, uri = spec["name"], spec["callbackUri"]
    data = spec.get("data") or {}
    errors = spec.get("errors") or {}

    def series_context(sc: EvaluationSeriesContext) -> dict:
        out = {"flagKey": sc.key, "context": sc.context.to_dict(), "defaultValue": sc.default_value,
               "method": sc.method}
        env = getattr(sc, "environment_id", None)
        if env is not None:
            out["environmentId"] = env
        return out

    class PostingHook(Hook):
        @property
        def metadata(self) -> Metadata:
            return Metadata(name=name)

        def before_evaluation(self, sc: EvaluationSeriesContext, series_data: dict) -> dict:
            if errors.get("beforeEvaluation"):
                raise RuntimeError(errors["beforeEvaluation"])
            _post_json(uri, {"evaluationSeriesContext": series_context(sc), "evaluationSeriesData": series_data,
                             "stage": "beforeEvaluation"})
            return {**series_data, **(data.get("beforeEvaluation") or {})}

        def after_evaluation(self, sc: EvaluationSeriesContext, series_data: dict, detail: Any) -> dict:
            if errors.get("afterEvaluation"):
                raise RuntimeError(errors["afterEvaluation"])
            _post_json(uri, {"evaluationSeriesContext": series_context(sc), "evaluationSeriesData": series_data,
                             "evaluationDetail": {"value": detail.value, "variationIndex": detail.variation_index,
                                                  "reason": detail.reason},
                             "stage": "afterEvaluation"})
            return {**series_data, **(data.get("afterEvaluation") or {})}

    return PostingHook()


def _persistent_store(spec: dict) -> Any:
    from ldfast.feature_store import CacheConfig

    store = spec["store"]
    cache = spec.get("cache") or {}
    mode = cache.get("mode", "ttl")
    if mode == "off":
        caching = CacheConfig.disabled()
    elif mode == "infinite":
        caching = CacheConfig(expiration=float("inf"))
    elif mode == "ttl":
        caching = CacheConfig(expiration=cache["ttl"]) if cache.get("ttl") is not None else CacheConfig.default()
    else:
        raise BadRequest("unknown cache mode %r" % mode)
    if store["type"] != "redis":
        raise BadRequest("persistent store type %r is not supported" % store["type"])
    from ldfast.integrations import Redis

    prefix = store.get("prefix") or Redis.DEFAULT_PREFIX
    return Redis.new_feature_store(url=store["dsn"], prefix=prefix, caching=caching)


def build_config(conf: dict) -> "tuple[Config, float]":
    """The ldfast Config for the harness's ``configuration`` object, and the start wait in s."""
    opts: Dict[str, Any] = {"sdk_key": conf.get("credential")}
    endpoints = conf.get("serviceEndpoints") or {}
    if endpoints.get("streaming"):
        opts["stream_uri"] = endpoints["streaming"]
    if endpoints.get("polling"):
        opts["base_uri"] = endpoints["polling"]
    if endpoints.get("events"):
        opts["events_uri"] = endpoints["events"]
    tags = conf.get("tags")
    if tags:
        app = {}
        if tags.get("applicationId") is not None:
            app["id"] = tags["applicationId"]
        if tags.get("applicationVersion") is not None:
            app["version"] = tags["applicationVersion"]
        opts["application"] = app
    streaming, polling = conf.get("streaming"), conf.get("polling")
    daemon = streaming is None and polling is None and conf.get("persistentDataStore") is not None
    if streaming is not None or polling is None:
        streaming = streaming or {}
        if streaming.get("baseUri"):
            opts["stream_uri"] = streaming["baseUri"]
        if streaming.get("filter") is not None:
            opts["payload_filter_key"] = streaming["filter"]
        if streaming.get("initialRetryDelayMs") is not None:
            opts["initial_reconnect_delay"] = _seconds(streaming, "initialRetryDelayMs")
    if polling is not None:
        if streaming is None or not conf.get("streaming"):
            opts["stream"] = False
        if polling.get("baseUri"):
            opts["base_uri"] = polling["baseUri"]
        if polling.get("filter") is not None:
            opts["payload_filter_key"] = polling["filter"]
        if polling.get("pollIntervalMs") is not None:
            opts["poll_interval"] = _seconds(polling, "pollIntervalMs")
    events = conf.get("events")
    if events is not None:
        opts["enable_event_compression"] = bool(events.get("enableGzip", False))
        if events.get("baseUri"):
            opts["events_uri"] = events["baseUri"]
        if events.get("capacity"):
            opts["events_max_pending"] = events["capacity"]
        opts["diagnostic_opt_out"] = not events.get("enableDiagnostics", False)
        opts["all_attributes_private"] = bool(events.get("allAttributesPrivate", False))
        opts["private_attributes"] = events.get("globalPrivateAttributes") or []
        if events.get("flushIntervalMs"):
            opts["flush_interval"] = _seconds(events, "flushIntervalMs")
        opts["omit_anonymous_contexts"] = bool(events.get("omitAnonymousContexts", False))
    else:
        opts["send_events"] = False
    tls, proxy = conf.get("tls") or {}, conf.get("proxy") or {}
    if tls or proxy:
        from ldfast.config import HTTPConfig

        opts["http"] = HTTPConfig(disable_ssl_verification=bool(tls.get("skipVerifyPeer")),
                                  ca_certs=tls.get("customCAFile"), http_proxy=proxy.get("httpProxy"))
    wrapper = conf.get("wrapper")
    if wrapper:
        opts["wrapper_name"] = wrapper.get("name")
        opts["wrapper_version"] = wrapper.get("version")
    hooks = conf.get("hooks")
    if hooks is not None:
        opts["hooks"] = [_make_hook(h) for h in hooks.get("hooks") or []]
    big = conf.get("bigSegments")
    if big is not None:
        big_opts: Dict[str, Any] = {"store": CallbackBigSegmentStore(big["callbackUri"])}
        if big.get("userCacheSize") is not None:
            big_opts["context_cache_size"] = big["userCacheSize"]
        for name_in, name_out in (("userCacheTimeMs", "context_cache_time"),
                                  ("statusPollIntervalMs", "status_poll_interval"),
                                  ("staleAfterMs", "stale_after")):
            if big.get(name_in) is not None:
                big_opts[name_out] = _seconds(big, name_in)
        opts["big_segments"] = BigSegmentsConfig(**big_opts)
    persistent = conf.get("persistentDataStore")
    if persistent is not None:
        opts["feature_store"] = _persistent_store(persistent)
        if daemon:
            opts["use_ldd"] = True  # no data source configured: daemon mode over the store
    start_wait = (conf.get("startWaitTimeMs") or 5000) / 1000.0
    return Config(**opts), start_wait


def _context_of(params: dict) -> Any:
    """The command's context (a Context), or its old-style user (a dict, which ldfast takes as is)."""
    if params.get("context") is not None:
        return Context.from_dict(params["context"])
    if params.get("user") is not None:
        return params["user"]
    raise BadRequest("neither context nor user was given")


class Listeners:
    """Flag change listeners registered by the harness, by listener id."""

    def __init__(self, tracker: Any):
        self._tracker = tracker
        self._by_id: Dict[str, Callable[[], None]] = {}

    def register_change(self, params: dict) -> None:
        flag_key, uri, lid = params.get("flagKey") or "", params["callbackUri"], params["listenerId"]

        def listener(change: Any) -> None:
            if not flag_key or change.key == flag_key:
                _post_soon(uri, {"listenerId": lid, "flagKey": change.key})

        self._tracker.add_listener(listener)
        self._by_id[lid] = lambda: self._tracker.remove_listener(listener)

    def register_value_change(self, params: dict) -> None:
        uri, lid = params["callbackUri"], params["listenerId"]
        context = Context.from_dict(params["context"])

        def listener(change: Any) -> None:
            _post_soon(uri, {"listenerId": lid, "flagKey": change.key, "oldValue": change.old_value,
                             "newValue": change.new_value})

        handle = self._tracker.add_flag_value_change_listener(params["flagKey"], context, listener)
        self._by_id[lid] = lambda: self._tracker.remove_flag_value_change_listener(handle)

    def unregister(self, params: dict) -> bool:
        remove = self._by_id.pop(params["listenerId"], None)
        if remove is None:
            return False
        remove()
        return True


class ClientEntity:
    """One SDK client under test. ``call(fn, *args)`` runs a client call the way its runtime wants
    (a thread for the sync client's blocking calls; the reactor for the Twisted client) and
    returns a Deferred."""

    twisted = False

    def __init__(self, tag: str, config: Config, start_wait: float):
        self.tag = tag
        self.config = config
        self.start_wait = start_wait
        self.client: Any = None
        self.listeners: Optional[Listeners] = None

    # -- commands (each returns a Deferred of the response body, or None) -----------------------

    def evaluate(self, p: dict) -> "defer.Deferred[Any]":
        context = _context_of(p)
        if p.get("detail"):
            d = self.call(self.client.variation_detail, p["flagKey"], context, p.get("defaultValue"))
            return d.addCallback(lambda r: {"value": r.value, "variationIndex": r.variation_index,
                                            "reason": r.reason})
        d = self.call(self.client.variation, p["flagKey"], context, p.get("defaultValue"))
        return d.addCallback(lambda v: {"value": v})

    def evaluate_all(self, p: dict) -> "defer.Deferred[Any]":
        d = self.call(self.client.all_flags_state, _context_of(p), client_side_only=bool(p.get("clientSideOnly")),
                      with_reasons=bool(p.get("withReasons")),
                      details_only_for_tracked_flags=bool(p.get("detailsOnlyForTrackedFlags")))
        return d.addCallback(lambda state: {"state": state.to_json_dict()})

    def custom_event(self, p: dict) -> "defer.Deferred[Any]":
        context = _context_of(p)
        data, metric = p.get("data"), p.get("metricValue")
        if data is None and metric is None and p.get("omitNullData"):
            return self.call(self.client.track, p["eventKey"], context)
        if metric is None:
            return self.call(self.client.track, p["eventKey"], context, data)
        return self.call(self.client.track, p["eventKey"], context, data, metric)

    def identify_event(self, p: dict) -> "defer.Deferred[Any]":
        return self.call(self.client.identify, _context_of(p))

    def flush_events(self, p: Any) -> "defer.Deferred[Any]":
        return self.call(self.client.flush).addCallback(lambda _: None)

    def secure_mode_hash(self, p: dict) -> "defer.Deferred[Any]":
        return self.call(self.client.secure_mode_hash, _context_of(p)).addCallback(lambda r: {"result": r})

    def context_build(self, p: dict) -> "defer.Deferred[Any]":
        def single(s: dict) -> Context:
            b = Context.builder(s["key"])
            if "kind" in s:
                b.kind(s["kind"])
            if "name" in s:
                b.name(s["name"])
            if "anonymous" in s:
                b.anonymous(s["anonymous"])
            for k, v in (s.get("custom") or {}).items():
                b.set(k, v)
            for attr in s.get("private") or []:
                b.private(attr)
            return b.build()

        if p.get("multi") is not None:
            mb = Context.multi_builder()
            for s in p["multi"]:
                mb.add(single(s))
            return defer.succeed(_context_response(mb.build()))
        return defer.succeed(_context_response(single(p["single"])))

    def context_convert(self, p: dict) -> "defer.Deferred[Any]":
        try:
            props = json.loads(p["input"])
        except ValueError as e:
            return defer.succeed({"error": "invalid JSON: %s" % e})
        # ldfast's conversion of any JSON given as a context: a context (with "kind"), or an
        # old-style user (without), as variation() and friends take them
        return defer.succeed(_context_response(to_context(props)))

    def big_segment_store_status(self, p: Any) -> "defer.Deferred[Any]":
        status = self.client.big_segment_store_status_provider.status
        return defer.succeed({"available": status.available, "stale": status.stale})

    def migration_variation(self, p: dict) -> "defer.Deferred[Any]":
        from ldfast.migrations import Stage  # the migrations API (issue #17)

        d = self.call(self.client.migration_variation, p["key"], Context.from_dict(p["context"]),
                      Stage.from_str(p["defaultStage"]))
        return d.addCallback(lambda r: {"result": r[0].value})

    def migration_operation(self, p: dict) -> "defer.Deferred[Any]":
        from ldfast import migrations  # the migrations API (issue #17)

        return self.call(_migration_operation, migrations, self.client, p)

    def register_flag_change_listener(self, p: dict) -> "defer.Deferred[Any]":
        self._listeners().register_change(p)
        return defer.succeed(None)

    def register_flag_value_change_listener(self, p: dict) -> "defer.Deferred[Any]":
        return self.call(self._listeners().register_value_change, p).addCallback(lambda _: None)

    def unregister_listener(self, p: dict) -> "defer.Deferred[Any]":
        if not self._listeners().unregister(p):
            raise BadRequest("no listener with id %r" % p.get("listenerId"))
        return defer.succeed(None)

    def _listeners(self) -> Listeners:
        if self.listeners is None:
            self.listeners = Listeners(self.client.flag_tracker)
        return self.listeners

    COMMANDS = {
        "evaluate": evaluate,
        "evaluateAll": evaluate_all,
        "customEvent": custom_event,
        "identifyEvent": identify_event,
        "flushEvents": flush_events,
        "secureModeHash": secure_mode_hash,
        "contextBuild": context_build,
        "contextConvert": context_convert,
        "getBigSegmentStoreStatus": big_segment_store_status,
        "migrationVariation": migration_variation,
        "migrationOperation": migration_operation,
        "registerFlagChangeListener": register_flag_change_listener,
        "registerFlagValueChangeListener": register_flag_value_change_listener,
        "unregisterListener": unregister_listener,
    }


def _migration_operation(migrations: Any, client: Any, p: dict) -> Any:
    """A migration read or write through ``MigratorBuilder``, with origins that POST to the harness
    (blocking calls: the Twisted client's migrator runs them in the reactor's thread pool). The
    response body, or (Twisted) a Deferred of it."""
    from ldfast import Result

    builder = migrations.MigratorBuilder(client)
    order = "parallel" if p["readExecutionOrder"] == "concurrent" else p["readExecutionOrder"]
    builder.read_execution_order(migrations.ExecutionOrder.from_str(order))
    builder.track_latency(p["trackLatency"])
    builder.track_errors(p["trackErrors"])

    def origin(endpoint: str) -> Callable[[Any], Any]:
        def fn(payload: Any) -> Any:
            req = urllib.request.Request(endpoint, data=(payload or "").encode(), method="POST")
            try:
                with urllib.request.urlopen(req, timeout=5) as resp:
                    return Result.success(resp.read().decode())
            except urllib.error.HTTPError as e:
                return Result.fail("Request failed with status code %d" % e.code)
        return fn

    if p["trackConsistency"]:
        builder.read(origin(p["oldEndpoint"]), origin(p["newEndpoint"]), lambda a, b: a == b)
    else:
        builder.read(origin(p["oldEndpoint"]), origin(p["newEndpoint"]))
    builder.write(origin(p["oldEndpoint"]), origin(p["newEndpoint"]))
    migrator = builder.build()
    if isinstance(migrator, str):
        return {"result": migrator}
    context = Context.from_dict(p["context"])
    stage = migrations.Stage.from_str(p["defaultStage"])
    if p["operation"] == "read":
        return _then(migrator.read(p["key"], context, stage, p.get("payload")), _result_body)
    return _then(migrator.write(p["key"], context, stage, p.get("payload")),
                 lambda written: _result_body(written.authoritative))


def _result_body(result: Any) -> dict:
    return {"result": result.value if result.is_success() else result.error}


def _then(result: Any, fn: Callable[[Any], Any]) -> Any:
    """``fn(result)``, or a Deferred of it when ``result`` is a Deferred (the Twisted client's) or
    awaitable (the asyncio client's)."""
    if inspect.isawaitable(result) and not isinstance(result, defer.Deferred):
        result = _from_awaitable(result)
    if isinstance(result, defer.Deferred):
        return result.addCallback(fn)
    return fn(result)


def _from_awaitable(awaitable: Any) -> "defer.Deferred[Any]":
    import asyncio

    return defer.Deferred.fromFuture(asyncio.ensure_future(awaitable))


def _context_response(c: Context) -> dict:
    return {"output": c.to_json_string()} if c.valid else {"error": c.error}


class SyncEntity(ClientEntity):
    """``ldfast.LDClient``: its calls run in the reactor's thread pool (construction and close block)."""

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> "defer.Deferred[Any]":
        return threads.deferToThread(fn, *args, **kwargs)

    def start(self) -> "defer.Deferred[bool]":
        def make() -> bool:
            self.client = ldfast.LDClient(self.config, self.start_wait)
            return self.client.is_initialized()

        return threads.deferToThread(make)

    def close(self) -> "defer.Deferred[Any]":
        return threads.deferToThread(self.client.close)


class TwistedEntity(ClientEntity):
    """``ldfast.TwistedLDClient`` on the service's reactor; commands wait on its Deferreds."""

    twisted = True

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> "defer.Deferred[Any]":
        return defer.maybeDeferred(fn, *args, **kwargs)

    def start(self) -> "defer.Deferred[bool]":
        self.client = ldfast.TwistedLDClient(None, self.config, reactor=reactor)
        d = self.client.wait_for_initialization(timeout=self.start_wait)
        return d.addCallbacks(lambda _: True, lambda f: self.client.is_initialized())

    def close(self) -> "defer.Deferred[Any]":
        return self.client.close()


class AsyncioEntity(ClientEntity):
    """``ldfast.async_client.AsyncLDClient`` on the service's asyncio loop; commands await its
    coroutines (as asyncio tasks) and call its plain methods as they are."""

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> "defer.Deferred[Any]":
        try:  # (not maybeDeferred: it would run a coroutine as Twisted's, not as an asyncio task)
            result = fn(*args, **kwargs)
        except Exception:
            return defer.fail()
        if isinstance(result, defer.Deferred):  # (a Deferred is awaitable too, but not by asyncio)
            return result
        return _from_awaitable(result) if inspect.isawaitable(result) else defer.succeed(result)

    def start(self) -> "defer.Deferred[bool]":
        from ldfast.async_client import AsyncLDClient

        self.client = AsyncLDClient(self.config)
        return _from_awaitable(self.client.start(self.start_wait)).addCallback(
            lambda _: _from_awaitable(self.client.is_initialized()))

    def close(self) -> "defer.Deferred[Any]":
        return _from_awaitable(self.client.close())


ENTITIES = {"sync": SyncEntity, "twisted": TwistedEntity, "asyncio": AsyncioEntity}


# -- HTTP ----------------------------------------------------------------------------------------

def _respond(request: Any, status: int, body: Any = None, headers: Optional[dict] = None) -> None:
    if request._disconnected or request.finished:
        return
    request.setResponseCode(status)
    for k, v in (headers or {}).items():
        request.setHeader(k, v)
    if body is None:
        request.finish()
        return
    if isinstance(body, str):
        request.setHeader("Content-Type", "text/plain")
        request.write(body.encode())
    else:
        request.setHeader("Content-Type", "application/json")
        request.write(json.dumps(body).encode())
    request.finish()


def _failed(request: Any, what: str) -> Callable[[Any], None]:
    def errback(failure: Any) -> None:
        if failure.check(BadRequest, KeyError, TypeError, ValueError) and what == "parse":
            _respond(request, 400, failure.getErrorMessage())
            return
        if failure.check(BadRequest):
            _respond(request, 400, failure.getErrorMessage())
            return
        log.error("%s failed: %s", what, failure.getTraceback())
        _respond(request, 500, "%s failed: %s: %s" % (what, failure.type.__name__, failure.getErrorMessage()))
    return errback


def _json_body(request: Any) -> Any:
    try:
        return json.loads(request.content.read() or b"null")
    except ValueError as e:
        raise BadRequest("invalid JSON: %s" % e)


class ClientResource(resource.Resource):
    isLeaf = True

    def __init__(self, service: "Service", cid: str):
        super().__init__()
        self.service, self.cid = service, cid

    def render_POST(self, request: Any) -> Any:
        entity = self.service.clients.get(self.cid)
        if entity is None:
            return _respond(request, 404) or server.NOT_DONE_YET
        d = defer.maybeDeferred(self._command, entity, request)
        d.addCallback(lambda body: _respond(request, 200 if body is not None else 204, body))
        d.addErrback(_failed(request, "command"))
        return server.NOT_DONE_YET

    def _command(self, entity: ClientEntity, request: Any) -> Any:
        params = _json_body(request)
        if not isinstance(params, dict):
            raise BadRequest("the body must be a JSON object")
        command = params.get("command")
        handler = ClientEntity.COMMANDS.get(command)
        if handler is None:
            raise BadRequest("unknown command %r" % command)
        return handler(entity, params.get(command) or {})

    def render_DELETE(self, request: Any) -> Any:
        entity = self.service.clients.pop(self.cid, None)
        if entity is None:
            return _respond(request, 404) or server.NOT_DONE_YET
        d = defer.maybeDeferred(entity.close)
        d.addCallback(lambda _: _respond(request, 204))
        d.addErrback(_failed(request, "close"))
        return server.NOT_DONE_YET


class Service(resource.Resource):
    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind
        self.clients: Dict[str, ClientEntity] = {}
        self.counter = 0

    def getChild(self, path: bytes, request: Any) -> Any:
        if path == b"":
            return self
        if path == b"clients" and request.postpath:
            return ClientResource(self, request.postpath[0].decode())
        return resource.NoResource()

    def render_GET(self, request: Any) -> bytes:
        request.setHeader("Content-Type", "application/json")
        twins = "compiled" if ldfast.extensions_enabled() else "pure"
        return json.dumps({"name": "ldfast-%s-%s" % (self.kind, twins), "clientVersion": ldfast.VERSION,
                           "capabilities": CAPABILITIES}).encode()

    def render_DELETE(self, request: Any) -> bytes:
        log.info("the harness asked the service to stop")
        reactor.callLater(0.1, reactor.stop)
        return b""

    def render_POST(self, request: Any) -> Any:
        d = defer.maybeDeferred(self._create, request)
        d.addErrback(_failed(request, "create client"))
        return server.NOT_DONE_YET

    @defer.inlineCallbacks
    def _create(self, request: Any) -> Any:
        body = _json_body(request)
        conf = body["configuration"]
        config, start_wait = build_config(conf)
        entity = ENTITIES[self.kind](body.get("tag", ""), config, start_wait)
        initialized = yield entity.start()
        if not initialized and not conf.get("initCanFail"):
            yield entity.close()
            _respond(request, 500, "the client did not initialize")
            return
        self.counter += 1
        cid = str(self.counter)
        self.clients[cid] = entity
        _respond(request, 201, None, {"Location": "/clients/%s" % cid})


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--client", choices=tuple(ENTITIES), default="sync")
    parser.add_argument("--debug", action="store_true", help="log ldfast at DEBUG")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(name)s %(levelname)s: %(message)s")
    logging.getLogger("ldfast").setLevel(logging.DEBUG if args.debug else logging.INFO)
    reactor.suggestThreadPoolSize(50)
    site = server.Site(Service(args.client))
    site.noisy = False
    reactor.listenTCP(args.port, site, interface="127.0.0.1")
    log.info("ldfast test service (%s client, %s twins) listening on port %d", args.client,
             "compiled" if ldfast.extensions_enabled() else "pure-Python", args.port)
    reactor.run()


if __name__ == "__main__":
    main()
