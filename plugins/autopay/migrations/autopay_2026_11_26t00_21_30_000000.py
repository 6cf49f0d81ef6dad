"""Composite unique keys and the indexes the charge job reads by.

`(invoice, attempt_no)` is what makes an attempt happen once: two workers that both decide to
make attempt 2 of an invoice insert the same key, and only one insert succeeds.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T00:21:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "autopay unique keys and indexes"

INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS autopay_attempt_invoice_no "
    "ON autopay_attempt (invoice, attempt_no)",
    "CREATE INDEX IF NOT EXISTS autopay_attempt_tenant_status "
    "ON autopay_attempt (tenant, status, claimed_until)",
    "CREATE UNIQUE INDEX IF NOT EXISTS autopay_sandbox_charge_key "
    "ON autopay_sandbox_charge (tenant, idempotency_key)",
    "CREATE INDEX IF NOT EXISTS autopay_method_tenant ON autopay_method (tenant, status)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="autopay", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in INDEXES:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
