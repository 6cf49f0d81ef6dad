"""Piccolo tables of the core.

Every row carries `tenant` and every query is scoped by it. Money is stored as integer minor
units (`*_minor`, cents for EUR, yen for JPY) so sums are exact on every engine. Foreign keys
never cascade: deleting a tenant or a customer with ledger rows is refused by the database.
Composite unique keys are unique indexes made in a migration (SQLite cannot add a table
constraint after the fact, which is how Piccolo's `Unique` is created).
"""

from __future__ import annotations

from piccolo.columns import (
    JSON,
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


def _fk(table: type[Table] | str, null: bool = False, index: bool = False) -> ForeignKey:
    return ForeignKey(
        references=table, null=null, on_delete=OnDelete.restrict, index=index
    )


class Tenant(Table, tablename="tenant"):
    """An operator (a finance team): every other row belongs to one; filter by it."""

    id: Serial
    slug = Varchar(length=64, unique=True)
    name = Varchar(length=200)
    created_at = Timestamptz(default=TimestamptzNow())


class ApiKey(Table, tablename="api_key"):
    id: Serial
    tenant = _fk(Tenant)
    prefix = Varchar(length=16, unique=True)
    key_hash = Varchar(length=64)
    name = Varchar(length=100, default="default")
    created_at = Timestamptz(default=TimestamptzNow())
    revoked_at = Timestamptz(null=True, default=None)


class Customer(Table, tablename="customer"):
    """A customer of a tenant, unique by `external_id` within it (`name`, `email`,
    `currency`, `locale`, ...)."""

    id: Serial
    tenant = _fk(Tenant)
    external_id = Varchar(length=100)
    name = Varchar(length=300)
    email = Varchar(length=320, default="")
    currency = Varchar(length=3, default="USD")
    locale = Varchar(length=16, default="en")
    contacts = JSON(default=[])
    extra = JSON(default={})
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class CustomerToggleValue(Table, tablename="customer_toggle"):
    """An explicit toggle value; without a row the toggle's declared default applies."""

    id: Serial
    tenant = _fk(Tenant)
    customer = _fk(Customer)
    key = Varchar(length=64)
    enabled = Boolean(default=False)


class PortalLink(Table, tablename="portal_link"):
    """A portal link. The token is derived from `nonce` with the server secret (HMAC), and
    looked up by `token_hash`: a database dump alone opens no portal."""

    id: Serial
    tenant = _fk(Tenant)
    customer = _fk(Customer, index=True)
    nonce = Varchar(length=64)
    token_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)


class Invoice(Table, tablename="invoice"):
    """An invoice of a customer; amounts in minor units (`total_minor`,
    `amount_due_minor`), `status` open, paid or void."""

    id: Serial
    tenant = _fk(Tenant)
    customer = _fk(Customer)
    external_id = Varchar(length=100)
    number = Varchar(length=100)
    issue_date = Date()
    due_date = Date()
    currency = Varchar(length=3)
    total_minor = BigInt()
    amount_due_minor = BigInt()
    status = Varchar(length=8, default="open")
    pdf_url = Varchar(length=2000, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Payment(Table, tablename="payment"):
    id: Serial
    tenant = _fk(Tenant)
    customer = _fk(Customer)
    external_id = Varchar(length=100)
    date = Date()
    currency = Varchar(length=3)
    amount_minor = BigInt()
    created_at = Timestamptz(default=TimestamptzNow())


class CreditNote(Table, tablename="credit_note"):
    id: Serial
    tenant = _fk(Tenant)
    customer = _fk(Customer)
    external_id = Varchar(length=100)
    number = Varchar(length=100, default="")
    date = Date()
    currency = Varchar(length=3)
    amount_minor = BigInt()
    created_at = Timestamptz(default=TimestamptzNow())


class Allocation(Table, tablename="allocation"):
    """Part of a payment or a credit note applied to an invoice."""

    id: Serial
    tenant = _fk(Tenant)
    invoice = _fk(Invoice, index=True)
    payment = _fk(Payment, null=True, index=True)
    credit_note = _fk(CreditNote, null=True, index=True)
    amount_minor = BigInt()


class TenantSetting(Table, tablename="tenant_setting"):
    id: Serial
    tenant = _fk(Tenant)
    section = Varchar(length=64)
    data = JSON(default={})


class TenantFeature(Table, tablename="tenant_feature"):
    id: Serial
    tenant = _fk(Tenant)
    key = Varchar(length=64)
    enabled = Boolean(default=False)


class StoredFile(Table, tablename="stored_file"):
    """A file a tenant keeps (`store_upload`): name, type sniffed from the content, size,
    content hash."""

    id: Serial
    tenant = _fk(Tenant)
    sha256 = Varchar(length=64)
    name = Varchar(length=255)
    content_type = Varchar(length=100)
    size = BigInt()
    created_at = Timestamptz(default=TimestamptzNow())


class OutboxMessage(Table, tablename="outbox"):
    id: Serial
    tenant = _fk(Tenant, null=True)
    dedupe_key = Varchar(length=200, null=True, default=None, unique=True)
    from_addr = Varchar(length=400)
    reply_to = Varchar(length=320, null=True, default=None)
    to_addrs = JSON(default=[])
    subject = Varchar(length=500)
    text_body = Text()
    html_body = Text(null=True, default=None)
    status = Varchar(length=10, default="pending", index=True)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow())
    claimed_until = Timestamptz(null=True, default=None)
    last_error = Text(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)


class AuditEvent(Table, tablename="audit_event"):
    id: Serial
    tenant = _fk(Tenant, index=True)
    actor = Varchar(length=100)
    action = Varchar(length=100)
    subject_type = Varchar(length=50, default="")
    subject_id = Varchar(length=100, default="")
    data = JSON(default={})
    created_at = Timestamptz(default=TimestamptzNow())


class JobState(Table, tablename="job_state"):
    """When a job last ran (per tenant; tenant_key 0 for instance-wide jobs) and who holds it."""

    id: Serial
    name = Varchar(length=100)
    tenant_key = BigInt(default=0)
    last_run_at = Timestamptz(null=True, default=None)
    claimed_until = Timestamptz(null=True, default=None)


CORE_TABLES: list[type[Table]] = [
    Tenant,
    ApiKey,
    Customer,
    CustomerToggleValue,
    PortalLink,
    Invoice,
    Payment,
    CreditNote,
    Allocation,
    TenantSetting,
    TenantFeature,
    StoredFile,
    OutboxMessage,
    AuditEvent,
    JobState,
]
