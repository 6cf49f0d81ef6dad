"""Autopay's tables. Foreign keys to core rows never cascade and are never silently nullable.

- `autopay_method`: the customer's saved payment method (one per customer). `reference` is
  the gateway's token for it; the card number never reaches us (Stripe) or is never kept
  (sandbox). `key` changes on every save, so retries count per method.
- `autopay_attempt`: one row per gateway call for an invoice, unique on (invoice, attempt_no)
  and written with its idempotency key before the gateway is called.
- `autopay_notice`: the pre-debit notice of an invoice (its date and amount).
- `autopay_sandbox_charge`: what the sandbox gateway charged, by idempotency key.
"""

from __future__ import annotations

from piccolo.columns import (
    BigInt,
    Boolean,
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


def _fk(table: type[Table], index: bool = False, unique: bool = False) -> ForeignKey:
    return ForeignKey(
        references=table, null=False, on_delete=OnDelete.restrict, index=index, unique=unique
    )


class AutopayMethod(Table, tablename="autopay_method"):
    id: Serial
    tenant = _fk(Tenant)
    customer = _fk(Customer, unique=True)
    key = Varchar(length=32)
    gateway = Varchar(length=32)
    reference = Varchar(length=255)
    gateway_customer = Varchar(length=255, default="")
    brand = Varchar(length=32, default="")
    last4 = Varchar(length=4, default="")
    exp_month = Integer(default=0)
    exp_year = Integer(default=0)
    enabled = Boolean(default=True)
    """The customer's own switch: off keeps the method but charges nothing."""
    status = Varchar(length=12, default="active")
    """active, paused (declines), expired."""
    status_reason = Varchar(length=300, default="")
    consent_text = Text(default="")
    consented_at = Timestamptz(default=TimestamptzNow())
    saved_on = Date()
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class AutopayAttempt(Table, tablename="autopay_attempt"):
    id: Serial
    tenant = _fk(Tenant)
    customer = _fk(Customer, index=True)
    invoice = _fk(Invoice, index=True)
    attempt_no = Integer()
    method_key = Varchar(length=32)
    gateway = Varchar(length=32)
    reference = Varchar(length=255)
    gateway_customer = Varchar(length=255, default="")
    brand = Varchar(length=32, default="")
    last4 = Varchar(length=4, default="")
    idempotency_key = Varchar(length=100, unique=True)
    amount_minor = BigInt()
    currency = Varchar(length=3)
    status = Varchar(length=12, default="pending")
    """pending (the gateway was or is being called), succeeded, failed, review (the outcome
    could not be learnt within the gateway's idempotency window: the operator checks)."""
    charge_id = Varchar(length=255, default="")
    decline_code = Varchar(length=64, default="")
    message = Varchar(length=500, default="")
    hard = Boolean(default=False)
    final = Boolean(default=False)
    retry_on = Date(null=True, default=None)
    payment_external_id = Varchar(length=100, default="")
    charged_on = Date()
    claimed_until = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class AutopayNotice(Table, tablename="autopay_notice"):
    id: Serial
    tenant = _fk(Tenant)
    customer = _fk(Customer)
    invoice = _fk(Invoice, unique=True)
    amount_minor = BigInt()
    charge_on = Date()
    sent_on = Date()


class AutopaySandboxCharge(Table, tablename="autopay_sandbox_charge"):
    id: Serial
    tenant = _fk(Tenant)
    idempotency_key = Varchar(length=100)
    charge_id = Varchar(length=64)
    reference = Varchar(length=255)
    amount_minor = BigInt()
    currency = Varchar(length=3)
    outcome = Varchar(length=16)
    decline_code = Varchar(length=64, default="")
    requests = Integer(default=1)
    """How many times the gateway was asked with this key (a repeat answers the same charge)."""
    created_at = Timestamptz(default=TimestamptzNow())


TABLES: list[type[Table]] = [AutopayMethod, AutopayAttempt, AutopayNotice, AutopaySandboxCharge]
