"""The plugin's tables: a dispute per invoice complaint, and the messages of its thread.

Foreign keys to core rows never cascade. At most one dispute of an invoice is open at a time
(a partial unique index, see the migrations); resolved ones stay as history.
"""

from __future__ import annotations

from piccolo.columns import ForeignKey, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from arportal import Customer, Invoice, StoredFile, Tenant


def _fk(table: type[Table], null: bool = False, index: bool = False) -> ForeignKey:
    return ForeignKey(references=table, null=null, on_delete=OnDelete.restrict, index=index)


class Dispute(Table, tablename="disputes_dispute"):
    id: Serial
    tenant = _fk(Tenant)
    customer = _fk(Customer)
    invoice = _fk(Invoice)
    reason = Varchar(length=40)
    """The reason's key in the tenant's settings."""
    reason_label = Varchar(length=100)
    """Its label when the dispute was opened (shown if the reason is later removed)."""
    status = Varchar(length=16, default="open")
    resolution = Varchar(length=16, null=True, default=None)
    resolution_note = Text(default="")
    opened_by = Varchar(length=16, default="customer")
    created_at = Timestamptz(default=TimestamptzNow())
    resolved_at = Timestamptz(null=True, default=None)


class DisputeMessage(Table, tablename="disputes_message"):
    id: Serial
    tenant = _fk(Tenant)
    dispute = _fk(Dispute, index=True)
    author = Varchar(length=16)
    """`customer` or `operator`."""
    body = Text()
    attachment = _fk(StoredFile, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
