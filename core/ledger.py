"""The AR ledger: customers, invoices, payments and credit notes, upserted by external id.

Every `upsert_*` call is all-or-nothing: the items are validated first (types, currencies,
decimals), then written in ONE transaction in batches of `BATCH_SIZE` with `executemany` on the
transaction's connection (one look-up query per batch, never a query per row). Any error
raises `LedgerError` naming the bad field (`items[3].currency`) and nothing is written.
Events (`arportal_customer_created`, `arportal_invoice_changed`, `arportal_payment_recorded`,
and `arportal_event` for webhooks) are called after the commit; audit rows are written in the
same transaction as the change they describe.

Idempotent: re-upserting identical items writes nothing and emits nothing; re-upserting a
payment or credit note replaces its earlier allocations (their amounts go back to the invoices
before the new ones are taken off).
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from babel import Locale, UnknownLocaleError
from piccolo.engine.base import Engine
from piccolo.query.functions.aggregate import Sum
from piccolo.table import Table

from arportal import db
from arportal.clock import utcnow
from arportal.links import current_links, derive_token, portal_url, token_hash
from arportal.models import (
    Allocation,
    AuditEvent,
    CreditNote,
    Customer,
    CustomerToggleValue,
    Invoice,
    Payment,
)
from arportal.money import MoneyError, check_currency, decimal_str, to_minor

if TYPE_CHECKING:
    from arportal.context import TenantContext

BATCH_SIZE = 5000
AUDIT_DETAIL_LIMIT = 100
"""Up to this many changed rows, each gets its own audit entry; above, one summary entry."""

Progress = Callable[[int, int], None]

ExternalId = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
Status = Literal["open", "paid", "void"]


class LedgerError(ValueError):
    """Invalid ledger input. `field` is the path of the bad value (`items[3].currency`)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- input --------------------------------------------------------------------------------


class CustomerIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    external_id: ExternalId
    name: Name
    email: Annotated[str, msgspec.Meta(max_length=320)] = ""
    currency: str = "USD"
    locale: str = "en"
    contacts: list[dict[str, Any]] = msgspec.field(default_factory=list)
    extra: dict[str, Any] = msgspec.field(default_factory=dict)
    """Free data of the operator's systems, e.g. `{"netsuite_id": "123"}`."""


class InvoiceIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`amount_due` defaults to the total less what payments and credit notes already took
    (0 for a paid invoice). An open invoice with nothing due is stored as paid."""

    external_id: ExternalId
    customer_external_id: ExternalId
    number: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    issue_date: dt.date
    due_date: dt.date
    currency: str
    total: Decimal
    amount_due: Decimal | None = None
    status: Status = "open"
    pdf_url: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class AllocationIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    invoice_external_id: ExternalId
    amount: Decimal


class PaymentIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    external_id: ExternalId
    customer_external_id: ExternalId
    date: dt.date
    currency: str
    amount: Decimal
    allocations: list[AllocationIn] = msgspec.field(default_factory=list)


class CreditNoteIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    external_id: ExternalId
    customer_external_id: ExternalId
    date: dt.date
    currency: str
    amount: Decimal
    number: Annotated[str, msgspec.Meta(max_length=100)] = ""
    allocations: list[AllocationIn] = msgspec.field(default_factory=list)


# --- SQL on the transaction's connection ---------------------------------------------------


def _engine() -> Engine:
    engine = db.state.engine
    if engine is None:
        raise RuntimeError("no database engine: call arportal.db.use_database first")
    return engine


def transaction() -> Any:
    """A write transaction (IMMEDIATE on SQLite, so two writers queue instead of deadlocking).
    Nested inside another transaction it joins that one."""
    engine = _engine()
    if db.is_postgres():
        return engine.transaction()
    from piccolo.engine.sqlite import TransactionType

    return engine.transaction(transaction_type=TransactionType.immediate)


@functools.lru_cache(maxsize=256)
def _numbered(sql: str) -> str:
    """`?` placeholders -> asyncpg's `$1, $2, ...` (our statements have no literal `?`)."""
    parts = sql.split("?")
    out = [parts[0]]
    for index, part in enumerate(parts[1:], start=1):
        out.append(f"${index}{part}")
    return "".join(out)


async def executemany(sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run `sql` (with `?` placeholders) for every row, on the current transaction's
    connection (aiosqlite or asyncpg). Must be called inside `transaction()`."""
    if not rows:
        return
    current = _engine().current_transaction.get()
    if current is None:
        raise RuntimeError("executemany needs an open transaction")
    if db.is_postgres():
        await current.connection.executemany(_numbered(sql), rows)
    else:
        await current.connection.executemany(sql, rows)


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _loaded(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def _batches(items: Sequence[Any]) -> list[range]:
    return [
        range(start, min(start + BATCH_SIZE, len(items)))
        for start in range(0, len(items), BATCH_SIZE)
    ]


# --- shared validation ---------------------------------------------------------------------


def _currency(field: str, value: str) -> str:
    try:
        return check_currency(value)
    except MoneyError as exc:
        raise LedgerError(field, str(exc)) from None


def _minor(field: str, amount: Decimal, currency: str) -> int:
    try:
        return to_minor(amount, currency)
    except MoneyError as exc:
        raise LedgerError(field, str(exc)) from None


def _locale(field: str, value: str) -> str:
    try:
        return str(Locale.parse(value.replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        raise LedgerError(field, f"unknown locale {value!r}") from None


def _email(field: str, value: str) -> str:
    """One address (it goes into mail headers: no CR/LF, no lists)."""
    value = value.strip()
    if not value:
        return value
    local, _, domain = value.partition("@")
    if not local or not domain or "@" in domain or any(c in value for c in '\r\n\t ,;<>"'):
        raise LedgerError(field, f"not an email address: {value!r}")
    return value


def _no_duplicates(items: Sequence[Any]) -> None:
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        first = seen.setdefault(item.external_id, index)
        if first != index:
            raise LedgerError(
                f"items[{index}].external_id",
                f"duplicate external_id {item.external_id!r} (also items[{first}])",
            )


async def _customer_ids(tenant_id: int, external_ids: set[str]) -> dict[str, int]:
    if not external_ids:
        return {}
    rows = await Customer.select(Customer.id, Customer.external_id).where(
        (Customer.tenant == tenant_id) & Customer.external_id.is_in(list(external_ids))
    )
    return {row["external_id"]: row["id"] for row in rows}


def _require_customer(ids: dict[str, int], index: int, external_id: str) -> int:
    customer_id = ids.get(external_id)
    if customer_id is None:
        raise LedgerError(
            f"items[{index}].customer_external_id", f"unknown customer {external_id!r}"
        )
    return customer_id


async def _audit_rows(
    ctx: TenantContext,
    entries: list[tuple[str, str, str, dict[str, Any]]],
    summary: tuple[str, str, dict[str, Any]],
) -> None:
    """One audit entry per change, or one summary entry for a big import (same transaction)."""
    if not entries:
        return
    if len(entries) > AUDIT_DETAIL_LIMIT:
        action, subject_type, data = summary
        entries = [(action, subject_type, "", data)]
    now = utcnow()
    await AuditEvent.insert(
        *[
            AuditEvent(
                tenant=ctx.tenant_id,
                actor=ctx.actor,
                action=action,
                subject_type=kind,
                subject_id=subject_id,
                data=data,
                created_at=now,
            )
            for action, kind, subject_id, data in entries
        ]
    )


# --- customers -----------------------------------------------------------------------------


CUSTOMER_FIELDS = ("name", "email", "currency", "locale", "contacts", "extra")

UPSERT_CUSTOMER = (
    "INSERT INTO customer (tenant, external_id, name, email, currency, locale, contacts, extra,"
    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (tenant, external_id) DO UPDATE SET name = excluded.name,"
    " email = excluded.email, currency = excluded.currency, locale = excluded.locale,"
    " contacts = excluded.contacts, extra = excluded.extra, updated_at = excluded.updated_at"
)
INSERT_LINK = (
    "INSERT INTO portal_link (tenant, customer, nonce, token_hash, created_at, expires_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
INSERT_TOGGLE = (
    "INSERT INTO customer_toggle (tenant, customer, key, enabled) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (customer, key) DO NOTHING"
)


def _prepare_customer(index: int, item: CustomerIn) -> dict[str, Any]:
    prefix = f"items[{index}]"
    return {
        "external_id": item.external_id,
        "name": item.name,
        "email": _email(f"{prefix}.email", item.email),
        "currency": _currency(f"{prefix}.currency", item.currency),
        "locale": _locale(f"{prefix}.locale", item.locale),
        "contacts": item.contacts,
        "extra": item.extra,
    }


def new_customer_toggles(ctx: TenantContext) -> list[tuple[str, bool]]:
    """Toggle rows a new customer gets: those declared with `default_setting`, valued by that
    tenant setting (`"section.key"`) when the tenant set it, else the toggle's default."""
    values = []
    for key, (toggle, _plugin) in ctx.host.declarations.toggles.items():
        if not toggle.default_setting:
            continue
        section, _, name = toggle.default_setting.partition(".")
        stored = ctx.settings_data.get(section, {})
        values.append((key, bool(stored[name]) if name in stored else toggle.default))
    return values


async def select_customers(tenant_id: int, external_ids: Sequence[str]) -> list[dict[str, Any]]:
    if not external_ids:
        return []
    return (
        await Customer.select()
        .where(  # type: ignore[no-any-return]
            (Customer.tenant == tenant_id) & Customer.external_id.is_in(list(external_ids))
        )
        .output(load_json=True)
    )


async def get_customer(tenant_id: int, external_id: str) -> dict[str, Any] | None:
    return (
        await Customer.select()
        .where(  # type: ignore[no-any-return]
            (Customer.tenant == tenant_id) & (Customer.external_id == external_id)
        )
        .output(load_json=True)
        .first()
    )


async def upsert_customers(
    ctx: TenantContext, items: Sequence[CustomerIn], *, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """Insert or update customers by external id; new ones get a portal link and the toggle
    rows of `new_customer_toggles`. Returns the stored rows, in the order of `items`."""
    prepared = [_prepare_customer(index, item) for index, item in enumerate(items)]
    _no_duplicates(items)
    secret = ctx.config.resolved_secret()
    validity = dt.timedelta(days=ctx.portal_settings.link_validity_days)
    toggles = new_customer_toggles(ctx)
    created: list[dict[str, Any]] = []
    audit: list[tuple[str, str, str, dict[str, Any]]] = []
    by_external: dict[str, dict[str, Any]] = {}
    async with transaction():
        for batch in _batches(prepared):
            rows = [prepared[index] for index in batch]
            external_ids = [row["external_id"] for row in rows]
            existing = {
                row["external_id"]: row
                for row in await select_customers(ctx.tenant_id, external_ids)
            }
            now = utcnow()
            changed = []
            for row in rows:
                old = existing.get(row["external_id"])
                if old is None:
                    changed.append(row)
                    audit.append(
                        ("customer.created", "customer", row["external_id"], {"name": row["name"]})
                    )
                elif any(old[name] != row[name] for name in CUSTOMER_FIELDS):
                    changed.append(row)
                    fields = [name for name in CUSTOMER_FIELDS if old[name] != row[name]]
                    audit.append(
                        ("customer.updated", "customer", row["external_id"], {"fields": fields})
                    )
            if changed:
                await executemany(
                    UPSERT_CUSTOMER,
                    [
                        (
                            ctx.tenant_id,
                            row["external_id"],
                            row["name"],
                            row["email"],
                            row["currency"],
                            row["locale"],
                            _json(row["contacts"]),
                            _json(row["extra"]),
                            now,
                            now,
                        )
                        for row in changed
                    ],
                )
                stored = {
                    row["external_id"]: row
                    for row in await select_customers(
                        ctx.tenant_id, [row["external_id"] for row in changed]
                    )
                }
                existing_after = {**existing, **stored}
                new_rows = [
                    stored[r["external_id"]] for r in changed if r["external_id"] not in existing
                ]
                await _create_links(ctx.tenant_id, secret, validity, new_rows, now)
                await executemany(
                    INSERT_TOGGLE,
                    [
                        (ctx.tenant_id, row["id"], key, enabled)
                        for row in new_rows
                        for key, enabled in toggles
                    ],
                )
                created.extend(new_rows)
            else:
                existing_after = existing
            by_external.update(existing_after)
            if progress:
                progress(batch.stop, len(prepared))
        await _audit_rows(
            ctx,
            audit,
            (
                "customers.upserted",
                "customer",
                {"created": len(created), "updated": len(audit) - len(created)},
            ),
        )
    for row in created:
        await ctx.call("arportal_customer_created", customer=row)
        await ctx.call("arportal_event", name="customer_created", data=_customer_event(row))
    return [by_external[item.external_id] for item in items]


async def _create_links(
    tenant_id: int,
    secret: bytes,
    validity: dt.timedelta,
    customers: list[dict[str, Any]],
    now: dt.datetime,
) -> None:
    """The same links as `arportal.links.create_link`, for many customers in one statement."""
    rows = []
    for customer in customers:
        nonce = secrets.token_hex(16)
        rows.append(
            (
                tenant_id,
                customer["id"],
                nonce,
                token_hash(derive_token(secret, nonce)),
                now,
                now + validity,
            )
        )
    await executemany(INSERT_LINK, rows)


def _customer_event(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in ("external_id", *CUSTOMER_FIELDS)}


async def customer_out(ctx: TenantContext, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Customers as the API shows them, with their current portal link and every declared
    toggle (one query for the links and one for the toggles per `BATCH_SIZE` customers)."""
    secret = ctx.config.resolved_secret()
    declared = {
        key: toggle.default for key, (toggle, _plugin) in ctx.host.declarations.toggles.items()
    }
    out = []
    for batch in _batches(rows):
        chunk = [rows[index] for index in batch]
        ids = [row["id"] for row in chunk]
        links = await current_links(ctx.tenant_id, ids)
        toggle_rows = await CustomerToggleValue.select(
            CustomerToggleValue.customer, CustomerToggleValue.key, CustomerToggleValue.enabled
        ).where(
            (CustomerToggleValue.tenant == ctx.tenant_id) & CustomerToggleValue.customer.is_in(ids)
        )
        toggles: dict[int, dict[str, bool]] = {}
        for row in toggle_rows:
            if row["key"] in declared:
                toggles.setdefault(row["customer"], {})[row["key"]] = bool(row["enabled"])
        for row in chunk:
            link = links.get(row["id"])
            out.append(
                {
                    "external_id": row["external_id"],
                    "name": row["name"],
                    "email": row["email"],
                    "currency": row["currency"],
                    "locale": row["locale"],
                    "contacts": _loaded(row["contacts"]),
                    "extra": _loaded(row["extra"]),
                    "portal_url": portal_url(
                        ctx.config.base_url, derive_token(secret, link["nonce"])
                    )
                    if link
                    else None,
                    "portal_link_expires_at": link["expires_at"].isoformat() if link else None,
                    "toggles": {**declared, **toggles.get(row["id"], {})},
                }
            )
    return out


# --- invoices ------------------------------------------------------------------------------


INVOICE_FIELDS = (
    "customer",
    "number",
    "issue_date",
    "due_date",
    "currency",
    "total_minor",
    "amount_due_minor",
    "status",
    "pdf_url",
)

UPSERT_INVOICE = (
    "INSERT INTO invoice (tenant, external_id, customer, number, issue_date, due_date, currency,"
    " total_minor, amount_due_minor, status, pdf_url, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (tenant, external_id) DO UPDATE SET customer = excluded.customer,"
    " number = excluded.number, issue_date = excluded.issue_date, due_date = excluded.due_date,"
    " currency = excluded.currency, total_minor = excluded.total_minor,"
    " amount_due_minor = excluded.amount_due_minor, status = excluded.status,"
    " pdf_url = excluded.pdf_url, updated_at = excluded.updated_at"
)
UPDATE_INVOICE_DUE = (
    "UPDATE invoice SET amount_due_minor = ?, status = ?, updated_at = ?"
    " WHERE tenant = ? AND id = ?"
)


def _invoice_columns() -> list[Any]:
    return [*Invoice.all_columns(), Invoice.customer.external_id.as_alias("customer_external_id")]


def invoice_query(tenant_id: int) -> Any:
    """A select of the tenant's invoices with `customer_external_id` (for lists and pages)."""
    return Invoice.select(*_invoice_columns()).where(Invoice.tenant == tenant_id)


def _prepare_invoice(index: int, item: InvoiceIn) -> dict[str, Any]:
    prefix = f"items[{index}]"
    currency = _currency(f"{prefix}.currency", item.currency)
    total = _minor(f"{prefix}.total", item.total, currency)
    if total < 0:
        raise LedgerError(f"{prefix}.total", "must not be negative")
    due = None
    if item.amount_due is not None:
        due = _minor(f"{prefix}.amount_due", item.amount_due, currency)
        if due < 0:
            raise LedgerError(f"{prefix}.amount_due", "must not be negative")
        if due > total:
            raise LedgerError(
                f"{prefix}.amount_due", f"{item.amount_due} is more than the total {item.total}"
            )
    if item.due_date < item.issue_date:
        raise LedgerError(f"{prefix}.due_date", "is before issue_date")
    if item.pdf_url and not item.pdf_url.startswith(("https://", "http://")):
        raise LedgerError(f"{prefix}.pdf_url", "expected an http:// or https:// URL")
    return {
        "external_id": item.external_id,
        "customer_external_id": item.customer_external_id,
        "number": item.number,
        "issue_date": item.issue_date,
        "due_date": item.due_date,
        "currency": currency,
        "total_minor": total,
        "amount_due_minor": due,
        "status": item.status,
        "pdf_url": item.pdf_url or None,
    }


async def _allocated(tenant_id: int, invoice_ids: list[int]) -> dict[int, int]:
    if not invoice_ids:
        return {}
    rows = (
        await Allocation.select(
            Allocation.invoice, Sum(Allocation.amount_minor).as_alias("allocated")
        )
        .where((Allocation.tenant == tenant_id) & Allocation.invoice.is_in(invoice_ids))
        .group_by(Allocation.invoice)
    )
    return {row["invoice"]: int(row["allocated"] or 0) for row in rows}


async def upsert_invoices(
    ctx: TenantContext, items: Sequence[InvoiceIn], *, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """Insert or update invoices by external id. Returns the stored rows (with
    `customer_external_id`) in the order of `items`."""
    prepared = [_prepare_invoice(index, item) for index, item in enumerate(items)]
    _no_duplicates(items)
    changes: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    audit: list[tuple[str, str, str, dict[str, Any]]] = []
    by_external: dict[str, dict[str, Any]] = {}
    async with transaction():
        for batch in _batches(prepared):
            customers = await _customer_ids(
                ctx.tenant_id, {prepared[index]["customer_external_id"] for index in batch}
            )
            existing = {
                row["external_id"]: row
                for row in await invoice_query(ctx.tenant_id).where(
                    Invoice.external_id.is_in([prepared[index]["external_id"] for index in batch])
                )
            }
            allocated = await _allocated(ctx.tenant_id, [row["id"] for row in existing.values()])
            now = utcnow()
            writes = []
            for index in batch:
                row = prepared[index]
                row["customer"] = _require_customer(customers, index, row["customer_external_id"])
                old = existing.get(row["external_id"])
                taken = allocated.get(old["id"], 0) if old else 0
                _settle_invoice(index, row, old, taken)
                if old is None or any(old[name] != row[name] for name in INVOICE_FIELDS):
                    writes.append(row)
                    action = "invoice.created" if old is None else "invoice.updated"
                    audit.append(
                        (
                            action,
                            "invoice",
                            row["external_id"],
                            {
                                "number": row["number"],
                                "status": row["status"],
                                "amount_due": decimal_str(row["amount_due_minor"], row["currency"]),
                            },
                        )
                    )
            if writes:
                await executemany(
                    UPSERT_INVOICE,
                    [
                        (
                            ctx.tenant_id,
                            row["external_id"],
                            row["customer"],
                            row["number"],
                            row["issue_date"],
                            row["due_date"],
                            row["currency"],
                            row["total_minor"],
                            row["amount_due_minor"],
                            row["status"],
                            row["pdf_url"],
                            now,
                            now,
                        )
                        for row in writes
                    ],
                )
                stored = {
                    row["external_id"]: row
                    for row in await invoice_query(ctx.tenant_id).where(
                        Invoice.external_id.is_in([row["external_id"] for row in writes])
                    )
                }
                changes.extend(
                    (stored[row["external_id"]], existing.get(row["external_id"])) for row in writes
                )
                existing.update(stored)
            by_external.update(existing)
            if progress:
                progress(batch.stop, len(prepared))
        await _audit_rows(ctx, audit, ("invoices.upserted", "invoice", {"changed": len(audit)}))
    await _invoice_events(ctx, changes)
    return [by_external[item.external_id] for item in items]


def _settle_invoice(
    index: int, row: dict[str, Any], old: dict[str, Any] | None, taken: int
) -> None:
    """Amount due and status of an upserted invoice, given what allocations already took."""
    prefix = f"items[{index}]"
    if (
        old is not None
        and taken
        and (old["customer"] != row["customer"] or old["currency"] != row["currency"])
    ):
        field = "currency" if old["currency"] != row["currency"] else "customer_external_id"
        raise LedgerError(
            f"{prefix}.{field}",
            "cannot change: payments or credit notes are allocated to this invoice",
        )
    if row["amount_due_minor"] is None:
        if row["status"] == "paid":
            row["amount_due_minor"] = 0
        else:
            row["amount_due_minor"] = row["total_minor"] - taken
            if row["amount_due_minor"] < 0:
                raise LedgerError(
                    f"{prefix}.total",
                    (
                        f"{decimal_str(row['total_minor'], row['currency'])} is less than the "
                        f"{decimal_str(taken, row['currency'])} already allocated to this invoice"
                    ),
                )
    if row["status"] == "open" and row["amount_due_minor"] == 0 and row["total_minor"] > 0:
        row["status"] = "paid"


async def _invoice_events(
    ctx: TenantContext, changes: list[tuple[dict[str, Any], dict[str, Any] | None]]
) -> None:
    for invoice, previous in changes:
        await ctx.call("arportal_invoice_changed", invoice=invoice, previous=previous)
        await ctx.call("arportal_event", name="invoice_changed", data=invoice_out([invoice])[0])


def invoice_out(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Invoices as the API shows them: decimal-string amounts, ISO dates."""
    return [
        {
            "external_id": row["external_id"],
            "customer_external_id": row.get("customer_external_id"),
            "number": row["number"],
            "issue_date": row["issue_date"].isoformat(),
            "due_date": row["due_date"].isoformat(),
            "currency": row["currency"],
            "total": decimal_str(row["total_minor"], row["currency"]),
            "amount_due": decimal_str(row["amount_due_minor"], row["currency"]),
            "status": row["status"],
            "pdf_url": row["pdf_url"],
        }
        for row in rows
    ]


# --- payments and credit notes -----------------------------------------------------------


@dataclass(frozen=True)
class _DocKind:
    table: type[Table]
    name: str
    """`payment` or `credit_note`: the table, the allocation column and the audit subject."""
    has_number: bool

    @property
    def upsert_sql(self) -> str:
        columns = [
            "tenant",
            "external_id",
            "customer",
            "date",
            "currency",
            "amount_minor",
            "created_at",
        ]
        if self.has_number:
            columns.insert(3, "number")
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[2:-1])
        placeholders = ", ".join("?" * len(columns))
        return (
            f"INSERT INTO {self.name} ({', '.join(columns)}) VALUES ({placeholders})"
            f" ON CONFLICT (tenant, external_id) DO UPDATE SET {updates}"
        )

    @property
    def insert_allocation_sql(self) -> str:
        return (
            f"INSERT INTO allocation (tenant, invoice, {self.name}, amount_minor)"
            " VALUES (?, ?, ?, ?)"
        )

    @property
    def allocation_column(self) -> Any:
        return getattr(Allocation, self.name)


PAYMENTS = _DocKind(Payment, "payment", has_number=False)
CREDIT_NOTES = _DocKind(CreditNote, "credit_note", has_number=True)
DOC_FIELDS = ("customer", "date", "currency", "amount_minor")


def _prepare_doc(index: int, item: PaymentIn | CreditNoteIn) -> dict[str, Any]:
    prefix = f"items[{index}]"
    currency = _currency(f"{prefix}.currency", item.currency)
    amount = _minor(f"{prefix}.amount", item.amount, currency)
    if amount <= 0:
        raise LedgerError(f"{prefix}.amount", "must be more than 0")
    allocations = []
    seen: set[str] = set()
    for position, allocation in enumerate(item.allocations):
        field = f"{prefix}.allocations[{position}]"
        if allocation.invoice_external_id in seen:
            raise LedgerError(
                f"{field}.invoice_external_id",
                f"invoice {allocation.invoice_external_id!r} is allocated twice",
            )
        seen.add(allocation.invoice_external_id)
        minor = _minor(f"{field}.amount", allocation.amount, currency)
        if minor <= 0:
            raise LedgerError(f"{field}.amount", "must be more than 0")
        allocations.append((allocation.invoice_external_id, minor))
    allocated = sum(minor for _ext, minor in allocations)
    if allocated > amount:
        raise LedgerError(
            f"{prefix}.allocations",
            (
                f"allocations add up to {decimal_str(allocated, currency)}, more than the amount "
                f"{decimal_str(amount, currency)}"
            ),
        )
    return {
        "external_id": item.external_id,
        "customer_external_id": item.customer_external_id,
        "number": getattr(item, "number", ""),
        "date": item.date,
        "currency": currency,
        "amount_minor": amount,
        "allocations": allocations,
    }


async def upsert_payments(
    ctx: TenantContext, items: Sequence[PaymentIn], *, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """Insert or update payments and their allocations; each allocated invoice's amount due
    goes down (and its status becomes paid at zero). Returns the payment rows with
    `customer_external_id` and `allocations` in the order of `items`."""
    return await _upsert_docs(ctx, PAYMENTS, items, progress)


async def upsert_credit_notes(
    ctx: TenantContext, items: Sequence[CreditNoteIn], *, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """Like `upsert_payments`, for credit notes."""
    return await _upsert_docs(ctx, CREDIT_NOTES, items, progress)


async def _upsert_docs(
    ctx: TenantContext, kind: _DocKind, items: Sequence[Any], progress: Progress | None
) -> list[dict[str, Any]]:
    prepared = [_prepare_doc(index, item) for index, item in enumerate(items)]
    _no_duplicates(items)
    recorded: list[dict[str, Any]] = []
    invoice_changes: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
    audit: list[tuple[str, str, str, dict[str, Any]]] = []
    by_external: dict[str, dict[str, Any]] = {}
    async with transaction():
        for batch in _batches(prepared):
            docs = [prepared[index] for index in batch]
            written = await _write_doc_batch(ctx, kind, batch, docs, invoice_changes)
            for doc in written:
                audit.append(
                    (
                        f"{kind.name}.recorded",
                        kind.name,
                        doc["external_id"],
                        {
                            "amount": decimal_str(doc["amount_minor"], doc["currency"]),
                            "allocations": {
                                ext: decimal_str(minor, doc["currency"])
                                for ext, minor in doc["allocations"]
                            },
                        },
                    )
                )
            recorded.extend(written)
            stored = await load_docs(ctx.tenant_id, kind, [doc["external_id"] for doc in docs])
            by_external.update({row["external_id"]: row for row in stored})
            if progress:
                progress(batch.stop, len(prepared))
        await _audit_rows(
            ctx, audit, (f"{kind.name}s.upserted", kind.name, {"recorded": len(audit)})
        )
    for invoice, previous in invoice_changes.values():
        await ctx.call("arportal_invoice_changed", invoice=invoice, previous=previous)
        await ctx.call("arportal_event", name="invoice_changed", data=invoice_out([invoice])[0])
    for doc in recorded:
        row = by_external[doc["external_id"]]
        if kind is PAYMENTS:
            await ctx.call("arportal_payment_recorded", payment=row)
        await ctx.call("arportal_event", name=f"{kind.name}_recorded", data=doc_out([row])[0])
    return [by_external[item.external_id] for item in items]


async def _write_doc_batch(
    ctx: TenantContext,
    kind: _DocKind,
    batch: range,
    docs: list[dict[str, Any]],
    invoice_changes: dict[int, tuple[dict[str, Any], dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Validate one batch against the database and write what changed. Returns the changed
    documents (prepared dicts)."""
    tenant_id = ctx.tenant_id
    table = kind.table
    column = kind.allocation_column
    customers = await _customer_ids(tenant_id, {doc["customer_external_id"] for doc in docs})
    existing = {
        row["external_id"]: row
        for row in await table.select(
            table.id,
            table.external_id,
            *[getattr(table, name) for name in DOC_FIELDS],
            *([table.number] if kind.has_number else []),  # type: ignore[attr-defined]
        ).where(
            (table.tenant == tenant_id)
            & table.external_id.is_in([doc["external_id"] for doc in docs])
        )
    }
    old_allocations: list[dict[str, Any]] = []
    if existing:
        old_allocations = await Allocation.select(
            Allocation.invoice, Allocation.amount_minor, column
        ).where(
            (Allocation.tenant == tenant_id)
            & column.is_in([row["id"] for row in existing.values()])
        )
    invoice_external = list({ext for doc in docs for ext, _minor in doc["allocations"]})
    old_invoice_ids = list({row["invoice"] for row in old_allocations})
    invoices: dict[int, dict[str, Any]] = {}
    for values, column_ in ((invoice_external, Invoice.external_id), (old_invoice_ids, Invoice.id)):
        for start in range(0, len(values), BATCH_SIZE):
            chunk = values[start : start + BATCH_SIZE]
            invoices.update(
                {
                    row["id"]: row
                    for row in await invoice_query(tenant_id).where(column_.is_in(chunk))
                }
            )
    invoice_by_external = {row["external_id"]: row for row in invoices.values()}

    old_by_doc: dict[int, list[tuple[int, int]]] = {}
    for row in old_allocations:
        old_by_doc.setdefault(row[kind.name], []).append((row["invoice"], row["amount_minor"]))
    due = {invoice_id: row["amount_due_minor"] for invoice_id, row in invoices.items()}
    changed: list[dict[str, Any]] = []
    for index, doc in zip(batch, docs, strict=True):
        doc["customer"] = _require_customer(customers, index, doc["customer_external_id"])
        targets = []
        for position, (external_id, minor) in enumerate(doc["allocations"]):
            invoice = invoice_by_external.get(external_id)
            field = f"items[{index}].allocations[{position}]"
            if invoice is None:
                raise LedgerError(
                    f"{field}.invoice_external_id", f"unknown invoice {external_id!r}"
                )
            if invoice["customer"] != doc["customer"]:
                raise LedgerError(
                    f"{field}.invoice_external_id",
                    f"invoice {external_id!r} belongs to another customer",
                )
            if invoice["currency"] != doc["currency"]:
                raise LedgerError(
                    f"items[{index}].currency",
                    (
                        f"{doc['currency']} does not match invoice {external_id!r}"
                        f" in {invoice['currency']}"
                    ),
                )
            if invoice["status"] == "void":
                raise LedgerError(
                    f"{field}.invoice_external_id", f"invoice {external_id!r} is void"
                )
            targets.append((invoice["id"], minor))
        old = existing.get(doc["external_id"])
        old_targets = old_by_doc.get(old["id"], []) if old else []
        if (
            old is not None
            and sorted(old_targets) == sorted(targets)
            and all(old[name] == doc[name] for name in DOC_FIELDS)
            and (not kind.has_number or old["number"] == doc["number"])
        ):
            continue
        doc["targets"] = targets
        doc["old_targets"] = old_targets
        changed.append(doc)
    # Give back what the changed documents took before, then take the new amounts in order:
    # the first allocation that drives an invoice below zero is the one named.
    touched: set[int] = set()
    for doc in changed:
        for invoice_id, minor in doc["old_targets"]:
            due[invoice_id] += minor
        touched.update(invoice_id for invoice_id, _minor in doc["old_targets"] + doc["targets"])
    for index, doc in zip(batch, docs, strict=True):
        if "targets" not in doc:
            continue
        for position, (invoice_id, minor) in enumerate(doc["targets"]):
            due[invoice_id] -= minor
            if due[invoice_id] < 0:
                invoice = invoices[invoice_id]
                available = due[invoice_id] + minor
                raise LedgerError(
                    f"items[{index}].allocations[{position}].amount",
                    (
                        f"{decimal_str(minor, doc['currency'])} is more than the "
                        f"{decimal_str(max(available, 0), doc['currency'])} due on invoice "
                        f"{invoice['external_id']!r}"
                    ),
                )
    if not changed:
        return []
    now = utcnow()
    await executemany(
        kind.upsert_sql,
        [
            (
                tenant_id,
                doc["external_id"],
                doc["customer"],
                *([doc["number"]] if kind.has_number else []),
                doc["date"],
                doc["currency"],
                doc["amount_minor"],
                now,
            )
            for doc in changed
        ],
    )
    ids = {
        row["external_id"]: row["id"]
        for row in await table.select(table.id, table.external_id).where(
            (table.tenant == tenant_id)
            & table.external_id.is_in([doc["external_id"] for doc in changed])
        )
    }
    replaced = [
        existing[doc["external_id"]]["id"] for doc in changed if doc["external_id"] in existing
    ]
    if replaced:
        await Allocation.delete().where((Allocation.tenant == tenant_id) & column.is_in(replaced))
    await executemany(
        kind.insert_allocation_sql,
        [
            (tenant_id, invoice_id, ids[doc["external_id"]], minor)
            for doc in changed
            for invoice_id, minor in doc["targets"]
        ],
    )
    updates = []
    for invoice_id in sorted(touched):
        invoice = invoices[invoice_id]
        amount_due = due[invoice_id]
        amount_due = min(amount_due, invoice["total_minor"])
        status = invoice["status"]
        if status != "void":
            status = "paid" if amount_due == 0 else "open"
        if amount_due == invoice["amount_due_minor"] and status == invoice["status"]:
            continue
        updates.append((amount_due, status, now, tenant_id, invoice_id))
        after = {**invoice, "amount_due_minor": amount_due, "status": status, "updated_at": now}
        first_previous = invoice_changes.get(invoice_id, (None, invoice))[1]
        invoice_changes[invoice_id] = (after, first_previous)
    await executemany(UPDATE_INVOICE_DUE, updates)
    for doc in changed:
        doc.pop("targets")
        doc.pop("old_targets")
    return changed


async def load_docs(
    tenant_id: int,
    kind: _DocKind,
    external_ids: Sequence[str] | None = None,
    rows: Sequence[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Payment or credit-note rows with `customer_external_id` and their `allocations`
    (`[{"invoice_external_id", "amount_minor"}]`); two queries. Pass external ids, or rows
    already selected with `doc_query`."""
    if rows is None:
        if not external_ids:
            return []
        rows = await doc_query(tenant_id, kind).where(
            kind.table.external_id.is_in(list(external_ids))
        )
    rows = [dict(row) for row in rows]
    if not rows:
        return rows
    column = kind.allocation_column
    allocations = (
        await Allocation.select(
            column,
            Allocation.amount_minor,
            Allocation.invoice.external_id.as_alias("invoice_external_id"),
        )
        .where((Allocation.tenant == tenant_id) & column.is_in([row["id"] for row in rows]))
        .order_by(Allocation.id)
    )
    by_doc: dict[int, list[dict[str, Any]]] = {}
    for allocation in allocations:
        by_doc.setdefault(allocation[kind.name], []).append(
            {
                "invoice_external_id": allocation["invoice_external_id"],
                "amount_minor": allocation["amount_minor"],
            }
        )
    for row in rows:
        row["kind"] = kind.name
        row["allocations"] = by_doc.get(row["id"], [])
    return rows


def doc_query(tenant_id: int, kind: _DocKind) -> Any:
    table = kind.table
    return table.select(
        *table.all_columns(),
        table.customer.external_id.as_alias("customer_external_id"),  # type: ignore[attr-defined]
    ).where(table.tenant == tenant_id)


def doc_out(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Payments or credit notes (from `load_docs`) as the API shows them."""
    out = []
    for row in rows:
        currency = row["currency"]
        item = {
            "external_id": row["external_id"],
            "customer_external_id": row.get("customer_external_id"),
            "date": row["date"].isoformat(),
            "currency": currency,
            "amount": decimal_str(row["amount_minor"], currency),
            "allocations": [
                {
                    "invoice_external_id": a["invoice_external_id"],
                    "amount": decimal_str(a["amount_minor"], currency),
                }
                for a in row.get("allocations", [])
            ],
        }
        if "number" in row:
            item["number"] = row["number"]
        out.append(item)
    return out


payment_out = doc_out
credit_note_out = doc_out
