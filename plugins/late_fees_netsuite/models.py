"""The plugin's one table, `late_fees_netsuite_fee`: a fee on an invoice for one period.

Unique on (tenant, invoice, period), so no run, repeated or concurrent, assesses a period
twice. `external_id` is what NetSuite knows the fee by (its invoice's `externalId`), so a
retry never creates a second NetSuite invoice. `claimed_until` is a lease taken before a
posting, so two runs never send the same fee at once. Foreign keys never cascade.
"""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    BigInt,
    Date,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from arportal import Customer, Invoice, Tenant

STATUSES = ("pending", "posted", "failed", "waived")


class LateFee(Table, tablename="late_fees_netsuite_fee"):
    id: Serial
    tenant = ForeignKey(references=Tenant, null=False, on_delete=OnDelete.restrict)
    customer = ForeignKey(references=Customer, null=False, on_delete=OnDelete.restrict)
    invoice = ForeignKey(references=Invoice, null=False, on_delete=OnDelete.restrict)
    period = Integer()
    period_end = Date()
    """The day the period ended and the fee fell due."""
    assessed_on = Date()
    """The day the fee was assessed (the NetSuite invoice's date)."""
    currency = Varchar(length=3)
    amount_minor = BigInt()
    basis_minor = BigInt()
    """The invoice's amount due the fee was computed on."""
    policy = JSON(default={})
    """The policy that set the amount (fee_type, rate or amount, recurrence)."""
    status = Varchar(length=8, default="pending")
    external_id = Varchar(length=255)
    netsuite_id = Varchar(length=32, null=True, default=None)
    credit_memo_id = Varchar(length=32, null=True, default=None)
    error = Text(null=True, default=None)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(null=True, default=None)
    claimed_until = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    posted_at = Timestamptz(null=True, default=None)
    waived_at = Timestamptz(null=True, default=None)
