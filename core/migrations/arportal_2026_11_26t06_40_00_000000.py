"""The portal's open and paid invoice lists read from one index, not from the table.

`invoice_customer_status_due (tenant, customer, status, due_date, id)` found a customer's
invoices, but each row then came from the table: 50 rows on 50 table pages scattered over a
large table. Measured with two workers and wrk on 1,000,000 invoices (docs/benchmarks.md), the
workers spent about 80 us less CPU per home page once the rows came from one index, where an
in-process loop saw 11 us: the scattered pages cost most when other processes share the CPU
caches. The same index answers the balances (currency, amount due, dates). PostgreSQL carries
the extra columns with INCLUDE (not part of the key); SQLite, which has no INCLUDE, as
trailing key columns. The index replaces the narrower one it starts with.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.engine.postgres import PostgresEngine

ID = "2026-11-26T06:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "covering index for the portal's invoice lists"

KEY = "tenant, customer, status, due_date, id"
CARRIED = "issue_date, currency, total_minor, amount_due_minor, external_id, number"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="arportal", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        if isinstance(engine, PostgresEngine):
            columns = f"({KEY}) INCLUDE ({CARRIED})"
        else:
            columns = f"({KEY}, {CARRIED})"
        await engine.run_ddl(f"CREATE INDEX IF NOT EXISTS invoice_portal_list ON invoice {columns}")
        await engine.run_ddl("DROP INDEX IF EXISTS invoice_customer_status_due")

    manager.add_raw(run)
    return manager
