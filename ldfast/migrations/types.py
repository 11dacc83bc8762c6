"""Migration vocabulary (``ldclient.migrations.types`` of launchdarkly-server-sdk 9.x): stages,
operations, origins, execution orders, the configuration of a migrator's reads and writes, and the
results an origin returns (``Result``, also ``ldfast.Result``) and a migrator hands back.
"""
from __future__ import annotations

from enum import Enum
from typing import Any, Callable, Optional


class Result:
    """The outcome of an operation: a success with an optional value, or a failure with an error
    description and, when an exception caused it, that exception.

    Make one with :meth:`success` or :meth:`fail` (a migration's origin functions return one).
    """

    __slots__ = ("_value", "_error", "_exception")

    def __init__(self, value: Optional[Any], error: Optional[str], exception: Optional[BaseException]):
        # (private, as in the official SDK: use success() or fail())
        self._value = value
        self._error = error
        self._exception = exception

    @staticmethod
    def success(value: Any) -> "Result":
        """A successful result carrying ``value`` (which may be None)."""
        return Result(value, None, None)

    @staticmethod
    def fail(error: str, exception: Optional[BaseException] = None) -> "Result":
        """A failed result: ``error`` describes the failure; ``exception`` is what was raised, if anything."""
        return Result(None, error, exception)

    def is_success(self) -> bool:
        """True unless this result carries an error."""
        return self._error is None

    @property
    def value(self) -> Optional[Any]:
        """The value of a success (None for a failure)."""
        return self._value

    @property
    def error(self) -> Optional[str]:
        """The error of a failure (None for a success)."""
        return self._error

    @property
    def exception(self) -> Optional[BaseException]:
        """The exception that caused a failure, if any (None for a success)."""
        return self._exception

    def __repr__(self) -> str:
        if self._error is None:
            return "Result.success(%r)" % (self._value,)
        return "Result.fail(%r)" % (self._error,)


MigratorFn = Callable[[Optional[Any]], Result]
"""A read or write against one origin: takes the operation's payload (or None), returns a :class:`Result`."""

MigratorCompareFn = Callable[[Any, Any], bool]
"""A consistency check: takes the values of the two successful reads, returns whether they agree."""


class ExecutionOrder(Enum):
    """How a read that uses both origins runs them."""

    SERIAL = "serial"
    """The authoritative read, then the other one."""

    RANDOM = "random"
    """One after the other, in a random order."""

    PARALLEL = "parallel"
    """Both at once (the sync client: the non-authoritative read in a second thread)."""

    @staticmethod
    def from_str(order: Any) -> Optional["ExecutionOrder"]:
        """The order with this value (``"serial"``, ``"random"``, ``"parallel"``), or None."""
        for member in ExecutionOrder:
            if member.value == order:
                return member
        return None


class Operation(Enum):
    """The kind of operation a migration op event reports."""

    READ = "read"
    WRITE = "write"


class Origin(Enum):
    """A source of data: the one migrated from (OLD) or the one migrated to (NEW)."""

    OLD = "old"
    NEW = "new"


class Stage(Enum):
    """The six stages of a technology migration, in order:
    OFF -> DUALWRITE -> SHADOW -> LIVE -> RAMPDOWN -> COMPLETE."""

    OFF = "off"
    """Not started: reads and writes use OLD only."""

    DUALWRITE = "dualwrite"
    """Writes go to OLD then NEW; reads use OLD only."""

    SHADOW = "shadow"
    """Reads and writes use both, OLD authoritative."""

    LIVE = "live"
    """Reads and writes use both, NEW authoritative."""

    RAMPDOWN = "rampdown"
    """Writes go to NEW then OLD; reads use NEW only."""

    COMPLETE = "complete"
    """Finished: reads and writes use NEW only."""

    @staticmethod
    def from_str(stage: Any) -> Optional["Stage"]:
        """The stage with this value (``"off"``, ``"dualwrite"``, ...), or None."""
        for member in Stage:
            if member.value == stage:
                return member
        return None


class OperationResult(Result):
    """A :class:`Result` and the origin it came from."""

    __slots__ = ("_origin",)

    def __init__(self, origin: Origin, result: Result):
        super().__init__(result.value, result.error, result.exception)
        self._origin = origin

    @property
    def origin(self) -> Origin:
        return self._origin

    def __repr__(self) -> str:
        return "OperationResult(%s, %s)" % (self._origin, Result.__repr__(self))


class WriteResult:
    """The results of a migration write: the authoritative write, always run first, and the
    non-authoritative one, which is None when it was not run (one-origin stages, or the
    authoritative write failed)."""

    __slots__ = ("_authoritative", "_nonauthoritative")

    def __init__(self, authoritative: OperationResult, nonauthoritative: Optional[OperationResult] = None):
        self._authoritative = authoritative
        self._nonauthoritative = nonauthoritative

    @property
    def authoritative(self) -> OperationResult:
        return self._authoritative

    @property
    def nonauthoritative(self) -> Optional[OperationResult]:
        return self._nonauthoritative


class MigrationConfig:
    """A migrator's functions for one kind of operation: ``old`` and ``new`` (see
    :data:`MigratorFn`) and, for reads, an optional ``comparison`` (see :data:`MigratorCompareFn`)."""

    __slots__ = ("_old", "_new", "_comparison")

    def __init__(self, old: MigratorFn, new: MigratorFn, comparison: Optional[MigratorCompareFn] = None):
        self._old = old
        self._new = new
        self._comparison = comparison

    @property
    def old(self) -> MigratorFn:
        """Called with the payload to act on the OLD origin; returns a :class:`Result`."""
        return self._old

    @property
    def new(self) -> MigratorFn:
        """Called with the payload to act on the NEW origin; returns a :class:`Result`."""
        return self._new

    @property
    def comparison(self) -> Optional[MigratorCompareFn]:
        """Compares the values of two successful reads (True: consistent), or None."""
        return self._comparison


__all__ = ("ExecutionOrder", "MigrationConfig", "MigratorCompareFn", "MigratorFn", "Operation", "OperationResult",
           "Origin", "Result", "Stage", "WriteResult")
