"""Composite unique keys, and indexes for what the portal and the ledger filter and sort by.

Unique keys are unique indexes (SQLite cannot add a table constraint to an existing table);
`INSERT ... ON CONFLICT` upserts target them on both engines.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-25T19:26:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique keys and ledger indexes"

INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS customer_external_id ON customer (tenant, external_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS invoice_external_id ON invoice (tenant, external_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS payment_external_id ON payment (tenant, external_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS credit_note_external_id ON credit_note (tenant, external_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS customer_toggle_key ON customer_toggle (customer, key)",
    "CREATE UNIQUE INDEX IF NOT EXISTS tenant_setting_section ON tenant_setting (tenant, section)",
    "CREATE UNIQUE INDEX IF NOT EXISTS tenant_feature_key ON tenant_feature (tenant, key)",
    "CREATE UNIQUE INDEX IF NOT EXISTS job_state_name_tenant ON job_state (name, tenant_key)",
    "CREATE INDEX IF NOT EXISTS invoice_customer_status_due ON invoice "
    "(tenant, customer, status, due_date, id)",
    "CREATE INDEX IF NOT EXISTS invoice_customer_issue ON invoice (tenant, customer, issue_date, id)",
    "CREATE INDEX IF NOT EXISTS payment_customer_date ON payment (tenant, customer, date)",
    "CREATE INDEX IF NOT EXISTS credit_note_customer_date ON credit_note (tenant, customer, date)",
    "CREATE INDEX IF NOT EXISTS audit_event_tenant_created ON audit_event (tenant, created_at)",
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="arportal", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in INDEXES:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
