"""One open dispute per invoice at most, and the indexes the portal and the API read by.

Partial unique indexes exist on SQLite and PostgreSQL alike; a second open dispute of an
invoice is refused by the database even when two requests race.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T00:10:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "disputes: one open per invoice, indexes"

INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS disputes_dispute_one_open ON disputes_dispute "
    "(tenant, invoice) WHERE status = 'open'",
    "CREATE INDEX IF NOT EXISTS disputes_dispute_invoice ON disputes_dispute (tenant, invoice, id)",
    "CREATE INDEX IF NOT EXISTS disputes_dispute_status ON disputes_dispute (tenant, status, id)",
    "CREATE INDEX IF NOT EXISTS disputes_dispute_customer ON disputes_dispute "
    "(tenant, customer, id)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="disputes", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in INDEXES:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
