"""The plugin's tables (Piccolo), named `<plugin>_<table>`.

Foreign keys to core rows never cascade and are never silently nullable.
"""

from __future__ import annotations

from arportal import Customer, Tenant
from piccolo.columns import ForeignKey, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class ExampleNote(Table, tablename="example_note"):
    """Something the plugin wrote down: a customer's note, a job run, an event it saw."""

    tenant = ForeignKey(references=Tenant, null=False, on_delete=OnDelete.restrict, index=True)
    customer = ForeignKey(
        references=Customer, null=True, default=None, on_delete=OnDelete.restrict
    )
    kind = Varchar(length=32)
    body = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
