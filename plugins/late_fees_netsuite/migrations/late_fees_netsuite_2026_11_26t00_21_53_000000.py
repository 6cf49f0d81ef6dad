"""The fee's unique key (tenant, invoice, period), and indexes for the job, the admin list
and the portal."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T00:21:53:000000"
VERSION = "1.38.0"
DESCRIPTION = "late fee keys and indexes"

INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS late_fees_netsuite_fee_period "
    "ON late_fees_netsuite_fee (tenant, invoice, period)",
    "CREATE INDEX IF NOT EXISTS late_fees_netsuite_fee_status "
    "ON late_fees_netsuite_fee (tenant, status, id)",
    "CREATE INDEX IF NOT EXISTS late_fees_netsuite_fee_customer "
    "ON late_fees_netsuite_fee (tenant, customer, status)",
]


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="late_fees_netsuite", description=DESCRIPTION
    )

    async def run():
        engine = engine_finder()
        for statement in INDEXES:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
