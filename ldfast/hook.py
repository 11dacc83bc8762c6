"""Evaluation hooks (``ldclient.hook`` of launchdarkly-server-sdk 9.x): ``Hook``, ``Metadata``,
``EvaluationSeriesContext``; and the series runner the clients share (``_Hooks``).

A hook sees each evaluation of ``variation`` and ``variation_detail`` (not ``all_flags_state``):
``before_evaluation`` for every hook in registration order, the evaluation, then
``after_evaluation`` in reverse order, each hook's ``after`` getting what its own ``before``
returned. A hook that raises never changes the evaluation: the error is logged (the first time per
hook and stage at error level, then at debug level, so a failing hook on a hot path cannot flood
the log) and the hook's data for its next stage is ``{}``, as in the official SDK.

With no hook registered the clients run their compiled evaluation untouched; the runner exists
only once a hook does (``Config(hooks=...)``, a plugin's ``get_hooks``, or ``client.add_hook``).
"""
from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Iterable, List, Optional, Tuple

from ldfast.context import Context, to_context
from ldfast.evaluation import EvaluationDetail

log = logging.getLogger(__name__)


@dataclass
class EvaluationSeriesContext:
    """What hooks are told about one evaluation series (read-only: do not modify it)."""

    key: str  #: The flag key used to trigger the evaluation.
    context: Context  #: The context used during evaluation.
    default_value: Any  #: The default value provided to the evaluation method.
    method: str  #: The client method that triggered the evaluation series ("variation", "variation_detail").
    environment_id: Optional[str] = None  #: The environment ID the SDK is connected to, if available.


@dataclass
class Metadata:
    """Metadata describing a hook implementation."""

    name: str  #: A name representing a hook instance.


class Hook(ABC):
    """Base class of evaluation hooks: every hook given to ldfast must inherit from it.

    Implement ``metadata``, ``before_evaluation`` and ``after_evaluation``; the base methods return
    what they are given, so a subclass may call ``super()`` for a stage it does not use.
    """

    @property
    @abstractmethod
    def metadata(self) -> Metadata:
        """Metadata about the hook implementation."""
        return Metadata(name="UNDEFINED")

    @abstractmethod
    def before_evaluation(self, series_context: EvaluationSeriesContext, data: dict[str, Any]) -> dict[str, Any]:
        """Called synchronously before the flag value is determined.

        :param series_context: the evaluation being performed (not mutable)
        :param data: this hook's data for the series (``{}`` for the first stage; do not modify it)
        :return: the data to give this hook's next stage of the series
        """
        return data

    @abstractmethod
    def after_evaluation(self, series_context: EvaluationSeriesContext, data: dict[str, Any],
                         detail: EvaluationDetail) -> dict[str, Any]:
        """Called synchronously after the flag value is determined.

        :param series_context: the evaluation being performed (not mutable)
        :param data: what this hook's ``before_evaluation`` returned (``{}`` if it raised)
        :param detail: the result of the evaluation (do not modify it)
        :return: the data for a next stage of the series
        """
        return data


@dataclass
class _EvaluationWithHookResult:
    """The official module's private result holder (kept for code that imports it by name)."""

    evaluation_detail: EvaluationDetail
    results: Any = None


def _only_hooks(items: Iterable[Any], where: str) -> List[Hook]:
    """The items that are hooks; any other is left out with a warning (the official SDK leaves it
    out silently, which hides a mistake)."""
    hooks = []
    for item in items:
        if isinstance(item, Hook):
            hooks.append(item)
        else:
            log.warning("Ignoring %r from %s: a hook must be an instance of ldfast.hook.Hook", item, where)
    return hooks


def _hook_name(hook: Hook) -> str:
    try:
        return str(hook.metadata.name)
    except Exception:
        return type(hook).__name__


class _Hooks:
    """A client's hooks, and the evaluation series run around an evaluation.

    The tuple of hooks is replaced, never changed in place (``add``), so a series in progress keeps
    the hooks it started with, and readers need no lock. ``status.environment_id`` is the id
    LaunchDarkly reported (``X-LD-EnvID``), or None. A face that returns at once uses
    ``evaluator()``; one whose evaluation may wait (Twisted) calls ``before`` and ``after`` itself.
    """

    def __init__(self, hooks: Iterable[Hook], status: Any):
        self.hooks: Tuple[Hook, ...] = tuple(hooks)
        self._status = status
        self._lock = threading.Lock()
        self._logged: set[Any] = set()  # (id(hook), stage) whose failure was logged at error level

    def add(self, hook: Hook) -> None:
        with self._lock:
            self.hooks = self.hooks + (hook,)

    def before(self, key: str, context: Any, default: Any, method: str) -> Tuple[Any, Tuple[Hook, ...], list[Any]]:
        """Start a series: ``(series_context, hooks, data)``, after every hook's ``before_evaluation``
        (registration order). ``context`` is converted to a ``Context`` here; the evaluation takes
        ``series_context.context``."""
        hooks = self.hooks
        series = EvaluationSeriesContext(key, to_context(context), default, method, self._status.environment_id)
        data = []
        for hook in hooks:
            try:
                data.append(hook.before_evaluation(series, {}))
            except Exception as e:
                self._failed(hook, "beforeEvaluation", e)
                data.append({})
        return series, hooks, data

    def after(self, series: Any, hooks: Tuple[Hook, ...], data: list[Any], detail: EvaluationDetail) -> None:
        """End a series: every hook's ``after_evaluation``, in reverse registration order."""
        for i in range(len(hooks) - 1, -1, -1):
            try:
                hooks[i].after_evaluation(series, data[i], detail)
            except Exception as e:
                self._failed(hooks[i], "afterEvaluation", e)

    def evaluator(self, method: str, evaluate: Callable[[str, Any, Any], EvaluationDetail],
                  value: bool = False) -> Callable[[str, Any, Any], Any]:
        """``f(key, context, default)``: ``evaluate(key, context, default)`` between the series'
        stages, returning its detail, or with ``value`` the detail's value (a sync face binds it as
        its method: one Python frame above the stages)."""
        before, after = self.before, self.after

        def evaluate_detail(key: str, context: Any, default: Any) -> Any:
            series, hooks, data = before(key, context, default, method)
            detail = evaluate(key, series.context, default)
            after(series, hooks, data, detail)
            return detail

        def evaluate_value(key: str, context: Any, default: Any) -> Any:
            series, hooks, data = before(key, context, default, method)
            detail = evaluate(key, series.context, default)
            after(series, hooks, data, detail)
            return detail.value

        return evaluate_value if value else evaluate_detail

    def _failed(self, hook: Hook, stage: str, error: BaseException) -> None:
        token = (id(hook), stage)
        if token in self._logged:
            log.debug("An error occurred in %s of the hook %s: %s", stage, _hook_name(hook), error)
            return
        self._logged.add(token)
        log.error("An error occurred in %s of the hook %s: %s (further errors of this hook in %s are "
                  "logged at debug level)", stage, _hook_name(hook), error, stage)


__all__ = ("EvaluationSeriesContext", "Hook", "Metadata")
