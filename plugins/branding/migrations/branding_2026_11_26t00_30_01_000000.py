"""One sender row per tenant and address (raw SQL runs before a migration's tables are made,
so the unique index has its own migration, as in the core)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T00:30:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "branding sender unique key"

INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS branding_sender_email ON branding_sender (tenant, email)",
    "CREATE INDEX IF NOT EXISTS branding_document_tenant_id ON branding_document (tenant, id)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="branding", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in INDEXES:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
