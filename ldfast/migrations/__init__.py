"""Technology migrations (``ldclient.migrations`` of launchdarkly-server-sdk 9.x): migration flags'
stages, migrators that follow them, and the op tracker that reports what they did::

    from ldfast import Config, Context, LDClient, Result
    from ldfast.integrations.test_data import TestData
    from ldfast.migrations import MigratorBuilder, Stage

    client = LDClient(Config("sdk-key", update_processor_class=TestData.data_source(), send_events=False))
    old_db, new_db = {"user-42": "Ann"}, {}
    migrator = (MigratorBuilder(client)
                .read(lambda key: Result.success(old_db.get(key)),
                      lambda key: Result.success(new_db.get(key)),
                      lambda a, b: a == b)
                .write(lambda item: Result.success(old_db.update([item])),
                       lambda item: Result.success(new_db.update([item])))
                .build())
    result = migrator.read("my-migration", Context.create("user-42"), Stage.OFF, "user-42")
    assert result.value == "Ann"  # no such flag: the default stage, OFF, reads the old origin
    client.close()

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
