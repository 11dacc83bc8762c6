"""The migration op tracker (``ldclient.migrations.tracker`` of launchdarkly-server-sdk 9.x), and
the evaluation of a migration flag's stage that both client faces share.

``client.migration_variation(key, context, default_stage)`` evaluates the flag as ``variation``
does (the same analytics evaluation event, with ``default_stage.value`` as the default) and hands
back the stage and an :class:`OpTracker`. The tracker collects what a migration operation did
(operation, origins invoked, consistency, latencies, errors) and ``client.track_migration_op``
sends it as a ``migration_op`` event (``ldfast.events.migration``).
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from random import random as _random
from typing import Any, Callable, Dict, Optional, Set, Tuple, Union

from ldfast.context import Context, to_context
from ldfast._ext.model import error_reason
from ldfast.evaluation import EvaluationDetail
from ldfast.events.migration import MigrationOpEvent
from ldfast.migrations.types import Operation, Origin, Stage

log = logging.getLogger(__name__)


def _sample(ratio: Any) -> bool:
    """Keep one in ``ratio`` (1: always; not an int, or <= 0: never), as the official sampler."""
    if type(ratio) is not int or ratio <= 0:  # (a bool is not an int here)
        return False
    return ratio == 1 or _random() < 1.0 / ratio


class OpTracker:
    """Collects the measurements of one migration operation; ``build()`` makes its event.

    Get one from ``client.migration_variation()`` (a ``Migrator`` does it for you); every method
    is thread-safe and returns the tracker (arguments of the wrong type are ignored).
    """

    def __init__(self, key: str, flag: Any, context: Any, detail: EvaluationDetail, default_stage: Stage):
        self._key = key
        self._flag = flag
        self._context = context
        self._detail = detail
        self._default_stage = default_stage
        self._lock = threading.Lock()
        self._operation: Optional[Operation] = None
        self._invoked: Set[Origin] = set()
        self._consistent: Optional[bool] = None
        self._consistent_ratio: Any = _check_ratio(flag)
        self._errors: Set[Origin] = set()
        self._latencies: Dict[Origin, timedelta] = {}

    def operation(self, op: Operation) -> "OpTracker":
        """Set the operation (READ or WRITE) these measurements are for."""
        if isinstance(op, Operation):
            with self._lock:
                self._operation = op
        return self

    def invoked(self, origin: Origin) -> "OpTracker":
        """Record that ``origin`` was called."""
        if isinstance(origin, Origin):
            with self._lock:
                self._invoked.add(origin)
        return self

    def consistent(self, is_consistent: Callable[[], bool]) -> "OpTracker":
        """Record a consistency check: ``is_consistent()`` is called only when this check is
        sampled (the flag's ``migration.checkRatio``: one in that many); if it raises, the error
        is logged and nothing is recorded."""
        with self._lock:
            try:
                if _sample(self._consistent_ratio):
                    self._consistent = is_consistent()
            except Exception as e:
                log.error("exception raised during consistency check %r; failed to record measurement", e)
        return self

    def error(self, origin: Origin) -> "OpTracker":
        """Record that the operation on ``origin`` failed."""
        if isinstance(origin, Origin):
            with self._lock:
                self._errors.add(origin)
        return self

    def latency(self, origin: Origin, duration: timedelta) -> "OpTracker":
        """Record how long the operation on ``origin`` took."""
        if isinstance(origin, Origin):
            if not isinstance(duration, timedelta):
                log.warning("OpTracker.latency(%s, %r): the duration must be a timedelta; ignored", origin, duration)
                return self
            with self._lock:
                self._latencies[origin] = duration
        return self

    def build(self) -> Union[MigrationOpEvent, str]:
        """The ``migration_op`` event for ``client.track_migration_op()``, or a string saying why
        there can be none."""
        with self._lock:
            if self._operation is None:
                return "operation not provided"
            if not self._key:
                return "migration operation cannot contain an empty key"
            if not self._invoked:
                return "no origins were invoked"
            if not isinstance(self._context, Context) or not self._context.valid:
                return "provided context was invalid"
            problem = self._check_invoked()
            if problem is not None:
                return problem
            return MigrationOpEvent(int(time.time() * 1000), self._context, self._key, self._flag, self._operation,
                                    self._default_stage, self._detail, set(self._invoked), self._consistent,
                                    None if self._consistent is None else self._consistent_ratio,
                                    set(self._errors), dict(self._latencies))

    def _check_invoked(self) -> Optional[str]:
        for origin in Origin:
            if origin in self._invoked:
                continue
            if origin in self._latencies:
                return "provided latency for origin '%s' without recording invocation" % origin.value
            if origin in self._errors:
                return "provided error for origin '%s' without recording invocation" % origin.value
        # a consistency check compares two origins: both must have run
        if self._consistent is not None and len(self._invoked) != 2:
            return "provided consistency without recording both invocations"
        return None


# -- a flag's migration settings --------------------------------------------------------------------
#
# ldfast's flag model checks a flag's "migration" object but keeps no field of it, and a flag
# object may hold its JSON as text (decoded on each ``raw`` access): the check ratio is read once per
# flag object and kept here, by flag key, with the object it was read from.

_RATIOS: Dict[Any, Tuple[Any, Any]] = {}
_RATIOS_MAX = 1024


def _check_ratio(flag: Any) -> Any:
    """The flag's ``migration.checkRatio`` (1 when absent), as the official tracker reads it."""
    if flag is None:
        return 1
    settings = getattr(flag, "migrations", None)  # a flag object of the official SDK's shape
    if settings is not None:
        ratio = getattr(settings, "check_ratio", None)
        return 1 if ratio is None else ratio
    try:
        key = flag.key
        cached = _RATIOS.get(key)
        if cached is not None and cached[0] is flag:
            return cached[1]
        raw = flag.raw
    except Exception:
        return 1
    ratio = None
    migration = raw.get("migration") if isinstance(raw, dict) else None
    if isinstance(migration, dict):
        ratio = migration.get("checkRatio")
        if not isinstance(ratio, int):
            ratio = None
    ratio = 1 if ratio is None else ratio
    if len(_RATIOS) >= _RATIOS_MAX:
        _RATIOS.clear()
    _RATIOS[key] = (flag, ratio)
    return ratio


# -- the evaluation both client faces share ---------------------------------------------------------

_WRONG_TYPE = error_reason("WRONG_TYPE")
_EXCEPTION = error_reason("EXCEPTION")
_NO_FLAG = frozenset(("CLIENT_NOT_READY", "USER_NOT_SPECIFIED", "FLAG_NOT_FOUND"))


def _valid_default_stage(default_stage: Any) -> Stage:
    """``default_stage``, or OFF (with an error logged) when it is not a Stage."""
    if isinstance(default_stage, Stage):
        return default_stage
    log.error("default stage %s is not a valid stage; using 'off' instead", default_stage)
    return Stage.OFF


def _evaluate_stage(core: Any, flags: Any, key: str, context: Any,
                    default_stage: Stage) -> Tuple[Stage, OpTracker, EvaluationDetail]:
    """A migration flag's stage for the context, its tracker and the evaluation detail (what
    hooks are given), as the official ``migration_variation``: the flag is evaluated as by
    ``variation`` (events included) with ``default_stage.value`` as the default (or the
    ``Config(defaults=...)`` value for the key); a value that is not a stage gives the default stage
    with an ERROR/WRONG_TYPE detail. ``core`` is the client's evaluation core, ``flags`` its
    store's flags (the tracker's flag is read there after the evaluation, unless the evaluation
    found none)."""
    default = default_stage.value
    defaults = core.defaults
    if defaults:
        default = defaults.get(key, default)
    if type(context) is not Context:
        context = to_context(context)
    try:
        detail = core.detail_for(key, context, default, False)
    except Exception as e:  # e.g. an unhashable key
        log.error("Unexpected error while evaluating migration flag %r: %r", key, e)
        detail = EvaluationDetail(default, None, _EXCEPTION)
    reason = detail.reason
    if detail.variation_index is None:
        detail = EvaluationDetail(default, None, reason)
    flag = None
    if reason is None or reason.get("errorKind") not in _NO_FLAG:
        try:
            flag = flags.get(key)
        except TypeError:  # an unhashable key (the evaluation reported it)
            flag = None
        if flag is not None and flag.deleted:
            flag = None
    value = detail.value
    stage = Stage.from_str(value) if isinstance(value, str) else None
    if stage is None:
        stage = default_stage
        detail = EvaluationDetail(default_stage.value, None, _WRONG_TYPE)
    return stage, OpTracker(key, flag, context, detail, default_stage), detail


__all__ = ("MigrationOpEvent", "OpTracker")
