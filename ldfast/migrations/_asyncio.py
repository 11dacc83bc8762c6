"""The asyncio face of migrators: ``MigratorBuilder(async_client).build()``.

The Twisted face (``ldfast.migrations._twisted``) on the asyncio client's reactor, which runs on
the application's loop: ``read``/``write`` are coroutines (of an ``OperationResult`` / a
``WriteResult``). Origins run as the Twisted face runs them: ``async def`` functions and those
marked ``non_blocking`` on the loop (a coroutine as an asyncio task, so it may await anything the
loop can), other plain functions in the client's thread pool, as blocking calls.
"""
from __future__ import annotations

import asyncio
from typing import Any, Optional

from twisted.internet.defer import Deferred

from ldfast._asyncio_reactor import result_of
from ldfast.migrations.migrator import Migrator, _Settings
from ldfast.migrations._twisted import TwistedMigrator
from ldfast.migrations.types import Operation, OperationResult, Stage, WriteResult


def _as_task(coroutine: Any) -> "Deferred[Any]":
    return Deferred.fromFuture(asyncio.ensure_future(coroutine))


class _LoopMigrator(TwistedMigrator):
    """The Twisted migrator of the asyncio client's core, on its reactor (bound at ``start()``)."""

    _from_coroutine = staticmethod(_as_task)  # type: ignore[assignment]

    @property
    def _reactor(self) -> Any:
        return self._client._reactor

    @_reactor.setter
    def _reactor(self, reactor: Any) -> None:
        pass  # (read from the client: it may be built before the client starts)


class AsyncMigrator(Migrator):
    """The migrator of an ``AsyncLDClient`` (see the module docstring)."""

    def __init__(self, client: Any, settings: _Settings):
        self._migrator = _LoopMigrator(client, settings)

    async def read(self, key: str, context: Any, default_stage: Stage,  # type: ignore[override]
                   payload: Optional[Any] = None) -> OperationResult:
        return await result_of(self._migrator._operation(Operation.READ, key, context, default_stage, payload),
                               asyncio.get_running_loop())

    async def write(self, key: str, context: Any, default_stage: Stage,  # type: ignore[override]
                    payload: Optional[Any] = None) -> WriteResult:
        return await result_of(self._migrator._operation(Operation.WRITE, key, context, default_stage, payload),
                               asyncio.get_running_loop())


__all__ = ("AsyncMigrator",)
