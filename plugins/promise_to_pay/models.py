"""The plugin's tables: a promise per invoice, and the history of what happened to it.

A multi-invoice promise is one row per invoice sharing a `batch`, so each invoice is held,
settled, changed or withdrawn on its own. Money is in the invoice currency's minor units.
Foreign keys never cascade and are never silently nullable. At most one promise per invoice
is pending (a partial unique index made in the migration).
"""

from __future__ import annotations

from piccolo.columns import BigInt, Date, ForeignKey, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from arportal import Customer, Invoice, Tenant

STATUSES = ("pending", "kept", "broken", "withdrawn", "cancelled")
SOURCES = ("customer", "team")
ACTIONS = ("made", "changed", "withdrawn", "kept", "broken", "cancelled")


class Promise(Table, tablename="promise_to_pay_promise"):
    id: Serial
    tenant = ForeignKey(references=Tenant, null=False, on_delete=OnDelete.restrict)
    customer = ForeignKey(references=Customer, null=False, on_delete=OnDelete.restrict)
    invoice = ForeignKey(references=Invoice, null=False, on_delete=OnDelete.restrict, index=True)
    batch = Varchar(length=32)
    """Shared by the promises made together (one form, one API call, one confirmation)."""
    promised_date = Date()
    made_on = Date()
    """The tenant's day the promise was made: a changed date stays within `max_days` of it."""
    date_set_on = Date()
    """The tenant's day the current date was chosen (no reminder on that same day)."""
    amount_minor = BigInt()
    """What was promised: the amount due at the time, or less with `allow_partial`."""
    due_at_promise_minor = BigInt()
    currency = Varchar(length=3)
    note = Text(default="")
    status = Varchar(length=10, default="pending")
    source = Varchar(length=8)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    settled_at = Timestamptz(null=True, default=None)
    reminded_for = Date(null=True, default=None)
    """The promised date the customer was reminded of (one reminder per date)."""


class PromiseHistory(Table, tablename="promise_to_pay_history"):
    id: Serial
    tenant = ForeignKey(references=Tenant, null=False, on_delete=OnDelete.restrict)
    promise = ForeignKey(references=Promise, null=False, on_delete=OnDelete.restrict, index=True)
    action = Varchar(length=10)
    actor = Varchar(length=8)
    """`customer`, `team` or `system` (the settling job)."""
    promised_date = Date()
    previous_date = Date(null=True, default=None)
    note = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
