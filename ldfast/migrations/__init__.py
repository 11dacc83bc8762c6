"""Technology migrations (``ldclient.migrations`` of launchdarkly-server-sdk 9.x): migration flags'
stages, migrators that follow them, and the op tracker that reports what they did.

    from ldfast.migrations import MigratorBuilder, Stage
    from ldfast import Result

    migrator = (MigratorBuilder(client)
                .read(lambda payload: Result.success(old_db.get(payload)),
                      lambda payload: Result.success(new_db.get(payload)),
                      lambda a, b: a == b)
                .write(lambda payload: Result.success(old_db.put(payload)),
                       lambda payload: Result.success(new_db.put(payload)))
                .build())
    result = migrator.read("my-migration", context, Stage.OFF, "user-42")

With a ``TwistedLDClient`` the migrator's ``read``/``write`` return Deferreds and blocking origin
functions run in the reactor's thread pool (see :class:`non_blocking`). The asyncio names of the
official package (``AsyncMigrator`` and friends) are not provided: ldfast has no asyncio client yet.
"""
from ldfast.migrations.migrator import Executor, Migrator, MigratorBuilder, MigratorImpl, non_blocking
from ldfast.migrations.tracker import MigrationOpEvent, OpTracker
from ldfast.migrations.types import (
    ExecutionOrder,
    MigrationConfig,
    MigratorCompareFn,
    MigratorFn,
    Operation,
    OperationResult,
    Origin,
    Result,
    Stage,
    WriteResult,
)

__all__ = (
    "ExecutionOrder",
    "Executor",
    "MigrationConfig",
    "MigrationOpEvent",
    "Migrator",
    "MigratorBuilder",
    "MigratorCompareFn",
    "MigratorFn",
    "MigratorImpl",
    "OpTracker",
    "Operation",
    "OperationResult",
    "Origin",
    "Result",
    "Stage",
    "WriteResult",
    "non_blocking",
)
