"""Indexes, and the rule that an invoice has at most one pending promise (a partial unique
index, on both engines: two requests promising the same invoice at once cannot both succeed)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T00:20:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "promise indexes"

INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS promise_to_pay_one_pending "
    "ON promise_to_pay_promise (invoice) WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS promise_to_pay_status_date "
    "ON promise_to_pay_promise (tenant, status, promised_date)",
    "CREATE INDEX IF NOT EXISTS promise_to_pay_customer "
    "ON promise_to_pay_promise (tenant, customer, id)",
]


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="promise_to_pay", description=DESCRIPTION
    )

    async def run():
        engine = engine_finder()
        for statement in INDEXES:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
