"""The AR ledger: customers, invoices, payments and credit notes, upserted by external id.

Every `upsert_*` call is all-or-nothing: the items are validated first (types, currencies,
decimals), then written in ONE transaction in batches of `BATCH_SIZE` with `executemany` on the
transaction's connection, with one look-up query per table and batch (never a query per row).
Invoices, the bulk of an AR import, take `write_invoices` (shared by the API and CSV imports):
new ones go in by `executemany` or `COPY` in batches of `BULK_BATCH_SIZE` with nothing read
back. Any error raises `LedgerError` naming the bad field (`items[3].currency`) and nothing is
written. Audit rows are written in the same transaction as the change they describe; events
(`arportal_customer_created`, `arportal_invoice_changed`, `arportal_payment_recorded`, and
`arportal_event` for webhooks) are called after the commit, only when a plugin listens.

Idempotent: re-upserting identical items writes nothing and emits nothing; re-upserting a
payment or credit note replaces its earlier allocations (their amounts go back to the invoices
before the new ones are taken off).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import operator
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from babel import Locale, UnknownLocaleError
from piccolo.engine.base import Engine

from arportal import db
from arportal.clock import utcnow
from arportal.db import transaction
from arportal.links import current_links, derive_token, portal_url, token_hash
from arportal.models import AuditEvent
from arportal.money import MoneyError, check_currency, currency_exponent, to_minor

if TYPE_CHECKING:
    from arportal.context import TenantContext

BATCH_SIZE = 5000
LOOKUP_CHUNK = 100_000
"""External ids per existence look-up on PostgreSQL (see `_existing`)."""
AUDIT_DETAIL_LIMIT = 100
"""Up to this many changed rows, each gets its own audit entry; above, one summary entry."""

Progress = Callable[[int, int], None]
Row = dict[str, Any]

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


LEDGER_LOCK = 0x4152  # "AR": the namespace of the tenant-wide advisory lock


async def serialize_ledger(tenant_id: int) -> None:
    """Let one ledger write of a tenant run at a time (until the transaction ends).

    On SQLite the IMMEDIATE transaction already does; on PostgreSQL a transaction-scoped
    advisory lock does, so two imports or two payments for the same invoices cannot both
    read an amount due and both write theirs."""
    if db.is_postgres():
        await _connection().execute("SELECT pg_advisory_xact_lock($1, $2)", LEDGER_LOCK, tenant_id)


def _connection() -> Any:
    current = _engine().current_transaction.get()
    if current is None:
        raise RuntimeError("raw ledger SQL runs inside `transaction()`")
    return current.connection


@functools.lru_cache(maxsize=256)
def _numbered(sql: str) -> str:
    """`?` placeholders -> asyncpg's `$1, $2, ...` (our statements have no literal `?`)."""
    parts = sql.split("?")
    out = [parts[0]]
    for index, part in enumerate(parts[1:], start=1):
        out.append(f"${index}{part}")
    return "".join(out)


_INSERT = re.compile(r"^INSERT INTO (\w+) \(([\w, ]+)\) VALUES \([?, ]+\)([^?]*)$", re.DOTALL)
_pg_types: dict[str, dict[str, str]] = {}


async def executemany(sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run `sql` (with `?` placeholders) for every row, on the current transaction's
    connection (aiosqlite or asyncpg). Must be called inside `transaction()`.

    On PostgreSQL an `INSERT ... VALUES (?, ...) [ON CONFLICT ...]` runs once for all rows,
    as `INSERT ... SELECT * FROM unnest($1::type[], ...)`: one statement instead of one per
    row, several times faster than asyncpg's `executemany`."""
    if not rows:
        return
    connection = _connection()
    if not db.is_postgres():
        await connection.executemany(sql, rows)
        return
    match = _INSERT.match(sql)
    if match is None:
        await connection.executemany(_numbered(sql), rows)
        return
    table, columns_sql, rest = match.groups()
    columns = [column.strip() for column in columns_sql.split(",")]
    types = await _column_types(connection, table)
    arrays = ", ".join(f"${i}::{types[column]}[]" for i, column in enumerate(columns, start=1))
    await connection.execute(
        f"INSERT INTO {table} ({columns_sql}) SELECT * FROM unnest({arrays}){rest}",
        *[list(values) for values in zip(*rows, strict=True)],
    )


async def insert_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Insert new rows as they are (no conflict expected), inside `transaction()`:
    `executemany` on SQLite, `COPY` (binary) on PostgreSQL; `rows` may be a generator. On
    SQLite, dates and timestamps go as `sql_value` text."""
    connection = _connection()
    if db.is_postgres():
        await connection.copy_records_to_table(table, records=rows, columns=list(columns))
        return
    placeholders = ", ".join("?" * len(columns))
    await connection.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows
    )


async def _column_types(connection: Any, table: str) -> dict[str, str]:
    if table not in _pg_types:
        rows = await connection.fetch(
            "SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute"
            " WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
            table,
        )
        _pg_types[table] = {row["attname"]: row["type"] for row in rows}
    return _pg_types[table]


async def fetch(sql: str, params: Sequence[Any]) -> list[Row]:
    """Rows of a `?`-placeholder query as dicts, inside `transaction()`. Build `IN` lists
    with `in_list` (SQLite's converters and asyncpg give dates and timestamps as objects)."""
    connection = _connection()
    if db.is_postgres():
        if not any(isinstance(param, list) for param in params):
            return [dict(record) for record in await connection.fetch(_numbered(sql), *params)]
        # A generic plan (asyncpg prepares statements) cannot hash `= ANY($n)`, and with the
        # statistics of a table that just grew it scans the array for every row: plan this
        # statement for its actual values.
        await connection.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        try:
            records = await connection.fetch(_numbered(sql), *params)
        finally:
            await connection.execute("SET LOCAL plan_cache_mode = auto")
        return [dict(record) for record in records]
    async with connection.execute(sql, params) as cursor:
        cursor.row_factory = None  # plain tuples: Piccolo's dict factory rereads the header per row
        rows = await cursor.fetchall()
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in rows]


def in_list(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """`column IN (...)` for SQLite, `column = ANY(?)` for PostgreSQL, and its parameters."""
    if db.is_postgres():
        return f"{column} = ANY(?)", [list(values)]
    return f"{column} IN ({', '.join('?' * len(values))})", list(values)


async def fetch_in(
    sql: str, params: Sequence[Any], column: str, values: Iterable[Any], suffix: str = ""
) -> list[Row]:
    """`fetch(sql + " AND <column IN values>" + suffix)` in chunks of `BATCH_SIZE` values
    (`suffix`: GROUP BY, ORDER BY)."""
    values = list(values)
    rows: list[Row] = []
    for start in range(0, len(values), BATCH_SIZE):
        condition, extra = in_list(column, values[start : start + BATCH_SIZE])
        rows.extend(await fetch(f"{sql} AND {condition}{suffix}", [*params, *extra]))
    return rows


def sql_value(value: dt.date | dt.datetime) -> Any:
    """A date or timestamp as the engine stores it. On SQLite it is written as text here, the
    way Piccolo's sqlite3 adapters write it (UTC for timestamps), which halves the cost of a
    bulk `executemany` against letting sqlite3 call the adapters row by row."""
    if db.is_postgres():
        return value
    if isinstance(value, dt.datetime):
        return str(value.astimezone(dt.UTC) if value.tzinfo else value)
    return value.isoformat()


day = sql_value


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _loaded(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def _batches(items: Sequence[Any]) -> list[range]:
    return [
        range(start, min(start + BATCH_SIZE, len(items)))
        for start in range(0, len(items), BATCH_SIZE)
    ]


def listens(ctx: TenantContext, hook_name: str) -> bool:
    """Whether any plugin implements a hook (so a bulk upsert skips building event data)."""
    return bool(getattr(ctx.host.pm.hook, hook_name).get_hookimpls())


# --- money and shared validation ------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _checked_currency(value: str) -> str:
    return check_currency(value)


@functools.lru_cache(maxsize=512)
def _exponent(currency: str) -> int:
    return currency_exponent(currency)


def amount_str(minor: int, currency: str) -> str:
    """`arportal.money.decimal_str` without the Decimal round trip (same text): 123450 EUR
    -> "1234.50"."""
    exponent = _exponent(currency)
    if exponent == 0:
        return str(minor)
    whole, part = divmod(abs(minor), 10**exponent)
    return f"{'-' if minor < 0 else ''}{whole}.{part:0{exponent}d}"


def _currency(field: str, value: str) -> str:
    try:
        return _checked_currency(value)
    except MoneyError as exc:
        raise LedgerError(field, str(exc)) from None


def _minor(field: str, amount: Decimal, currency: str) -> int:
    """`arportal.money.to_minor`, with the currency's exponent looked up once."""
    if isinstance(amount, Decimal) and amount.is_finite():
        scaled = amount.scaleb(_exponent(currency))
        if scaled == scaled.to_integral_value():
            return int(scaled)
    try:
        return to_minor(amount, currency)
    except MoneyError as exc:
        raise LedgerError(field, str(exc)) from None


@functools.lru_cache(maxsize=256)
def _parsed_locale(value: str) -> str:
    return str(Locale.parse(value.replace("-", "_")))


def _locale(field: str, value: str) -> str:
    try:
        return _parsed_locale(value)
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
    no_duplicate_ids([item.external_id for item in items])


def no_duplicate_ids(external_ids: Sequence[str]) -> None:
    """Refuse a second item with the same external id, naming both (`items[i]`)."""
    if len(set(external_ids)) == len(external_ids):
        return
    seen: dict[str, int] = {}
    for index, external_id in enumerate(external_ids):
        first = seen.setdefault(external_id, index)
        if first != index:
            raise LedgerError(
                f"items[{index}].external_id",
                f"duplicate external_id {external_id!r} (also items[{first}])",
            )


async def _existing(table: str, tenant_id: int, external_ids: Sequence[str]) -> set[str]:
    """Which of these external ids the tenant's `table` holds, through its unique index.

    A single query when the tenant has no row yet (a first import). On PostgreSQL the ids
    go as one array per `LOOKUP_CHUNK` joined to the table: with stale statistics (the planner
    believing the tenant's rows few), `external_id = ANY(...)` in chunks of `BATCH_SIZE`
    scanned every row of the tenant for each chunk (43 s for 1,000,000 ids against
    1,000,000 rows, against 4 s joined in chunks of 100,000)."""
    if not external_ids or not await fetch(
        f"SELECT 1 AS found FROM {table} WHERE tenant = ? LIMIT 1", [tenant_id]
    ):
        return set()
    if not db.is_postgres():
        rows = await fetch_in(
            f"SELECT external_id FROM {table} WHERE tenant = ?",
            [tenant_id],
            "external_id",
            external_ids,
        )
        return {row["external_id"] for row in rows}
    found: set[str] = set()
    for start in range(0, len(external_ids), LOOKUP_CHUNK):
        records = await _connection().fetch(
            f"SELECT t.external_id FROM unnest($2::varchar[]) AS x(external_id)"
            f" JOIN {table} t ON t.tenant = $1 AND t.external_id = x.external_id",
            tenant_id,
            list(external_ids[start : start + LOOKUP_CHUNK]),
        )
        found.update(record[0] for record in records)
    return found


async def _ids(table: str, tenant_id: int, external_ids: Iterable[str]) -> dict[str, int]:
    rows = await fetch_in(
        f"SELECT id, external_id FROM {table} WHERE tenant = ?",
        [tenant_id],
        "external_id",
        set(external_ids),
    )
    return {row["external_id"]: row["id"] for row in rows}


async def _customer_ids(
    tenant_id: int, external_ids: Iterable[str], known: dict[str, int]
) -> dict[str, int]:
    """Customer ids by external id, remembered in `known` across the batches of one call."""
    missing = {external_id for external_id in external_ids if external_id not in known}
    if missing:
        known.update(await _ids("customer", tenant_id, missing))
    return known


def _require_customer(ids: dict[str, int], index: int, external_id: str) -> int:
    customer_id = ids.get(external_id)
    if customer_id is None:
        raise LedgerError(
            f"items[{index}].customer_external_id", f"unknown customer {external_id!r}"
        )
    return customer_id


Audit = tuple[str, str, str, dict[str, Any]]


async def _audit_rows(
    ctx: TenantContext, entries: list[Audit], summary: tuple[str, str, dict[str, Any]]
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
CUSTOMER_COLUMNS = (
    "id, tenant, external_id, name, email, currency, locale, contacts, extra, created_at,"
    " updated_at"
)
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


def _prepare_customer(index: int, item: CustomerIn) -> Row:
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


def _customer_row(row: Row) -> Row:
    row["contacts"] = _loaded(row["contacts"])
    row["extra"] = _loaded(row["extra"])
    return row


async def select_customers(tenant_id: int, external_ids: Sequence[str]) -> list[Row]:
    """The tenant's customers with these external ids (inside `transaction()`)."""
    rows = await fetch_in(
        f"SELECT {CUSTOMER_COLUMNS} FROM customer WHERE tenant = ?",
        [tenant_id],
        "external_id",
        external_ids,
    )
    return [_customer_row(row) for row in rows]


async def get_customer(tenant_id: int, external_id: str) -> Row | None:
    async with transaction(write=False):
        rows = await select_customers(tenant_id, [external_id])
    return rows[0] if rows else None


async def upsert_customers(
    ctx: TenantContext, items: Sequence[CustomerIn], *, progress: Progress | None = None
) -> list[Row]:
    """Insert or update customers by external id; new ones get a portal link and the toggle
    rows of `new_customer_toggles`. Returns the stored rows, in the order of `items`."""
    prepared = [_prepare_customer(index, item) for index, item in enumerate(items)]
    _no_duplicates(items)
    secret = ctx.config.resolved_secret()
    validity = dt.timedelta(days=ctx.portal_settings.link_validity_days)
    toggles = new_customer_toggles(ctx)
    created: list[Row] = []
    audit: list[Audit] = []
    stored: dict[str, Row] = {}
    async with transaction():
        await serialize_ledger(ctx.tenant_id)
        for batch in _batches(prepared):
            rows = [prepared[index] for index in batch]
            existing = {
                row["external_id"]: row
                for row in await select_customers(ctx.tenant_id, [r["external_id"] for r in rows])
            }
            now = utcnow()
            stamp = sql_value(now)
            changed, new = [], []
            for row in rows:
                old = existing.get(row["external_id"])
                if old is None:
                    new.append(row)
                    audit.append(
                        ("customer.created", "customer", row["external_id"], {"name": row["name"]})
                    )
                    continue
                fields = [name for name in CUSTOMER_FIELDS if old[name] != row[name]]
                if fields:
                    changed.append(row)
                    audit.append(
                        ("customer.updated", "customer", row["external_id"], {"fields": fields})
                    )
                stored[row["external_id"]] = {**old, **row, "updated_at": now} if fields else old
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
                        stamp,
                        stamp,
                    )
                    for row in changed + new
                ],
            )
            if new:
                ids = await _ids("customer", ctx.tenant_id, [row["external_id"] for row in new])
                new_rows = [
                    {
                        **row,
                        "id": ids[row["external_id"]],
                        "tenant": ctx.tenant_id,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for row in new
                ]
                await _create_links(ctx.tenant_id, secret, validity, new_rows, now)
                await executemany(
                    INSERT_TOGGLE,
                    [
                        (ctx.tenant_id, row["id"], key, on)
                        for row in new_rows
                        for key, on in toggles
                    ],
                )
                stored.update((row["external_id"], row) for row in new_rows)
                created.extend(new_rows)
            if progress:
                progress(batch.stop, len(prepared))
        summary = {"created": len(created), "updated": len(audit) - len(created)}
        await _audit_rows(ctx, audit, ("customers.upserted", "customer", summary))
    if listens(ctx, "arportal_customer_created"):
        for row in created:
            await ctx.call("arportal_customer_created", customer=row)
    if listens(ctx, "arportal_event"):
        for row in created:
            await ctx.call("arportal_event", name="customer_created", data=_customer_event(row))
    return [stored[item.external_id] for item in items]


async def _create_links(
    tenant_id: int, secret: bytes, validity: dt.timedelta, customers: list[Row], now: dt.datetime
) -> None:
    """The same links as `arportal.links.create_link`, for many customers in one statement."""
    rows = []
    created, expires = sql_value(now), sql_value(now + validity)
    for customer in customers:
        nonce = secrets.token_hex(16)
        rows.append(
            (
                tenant_id,
                customer["id"],
                nonce,
                token_hash(derive_token(secret, nonce)),
                created,
                expires,
            )
        )
    await executemany(INSERT_LINK, rows)


def _customer_event(row: Row) -> Row:
    return {name: row[name] for name in ("external_id", *CUSTOMER_FIELDS)}


async def customer_out(ctx: TenantContext, rows: Sequence[Row]) -> list[Row]:
    """Customers as the API shows them, with their current portal link and every declared
    toggle (one query for the links and one for the toggles per `BATCH_SIZE` customers)."""
    secret = ctx.config.resolved_secret()
    declared = {key: t.default for key, (t, _plugin) in ctx.host.declarations.toggles.items()}
    out = []
    for batch in _batches(rows):
        chunk = [rows[index] for index in batch]
        ids = [row["id"] for row in chunk]
        links = await current_links(ctx.tenant_id, ids)
        async with transaction(write=False):
            toggle_rows = await fetch_in(
                "SELECT customer, key, enabled FROM customer_toggle WHERE tenant = ?",
                [ctx.tenant_id],
                "customer",
                ids,
            )
        toggles: dict[int, dict[str, bool]] = {}
        for row in toggle_rows:
            if row["key"] in declared:
                toggles.setdefault(row["customer"], {})[row["key"]] = bool(row["enabled"])
        details = await _plugin_details(ctx, chunk)
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
                    "portal_url": (
                        portal_url(ctx.config.base_url, derive_token(secret, link["nonce"]))
                        if link
                        else None
                    ),
                    "portal_link_expires_at": link["expires_at"].isoformat() if link else None,
                    "toggles": {**declared, **toggles.get(row["id"], {})},
                    "plugins": details.get(row["id"], {}),
                }
            )
    return out


async def _plugin_details(ctx: TenantContext, customers: list[Row]) -> dict[int, dict[str, Any]]:
    """`{customer_id: {plugin: data}}` from `arportal_customer_details` (a plugin that
    raises is logged and left out: the customer is still shown)."""
    if not listens(ctx, "arportal_customer_details"):
        return {}
    merged: dict[int, dict[str, Any]] = {}
    answers = await ctx.host.call_by_plugin(
        "arportal_customer_details", ctx, isolate=True, customers=list(customers)
    )
    for plugin, answer in answers:
        if not isinstance(answer, dict):
            continue
        for customer_id, data in answer.items():
            merged.setdefault(int(customer_id), {})[plugin] = data
    return merged


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
INVOICE_SELECT = (
    "SELECT id, tenant, customer, external_id, number, issue_date, due_date, currency,"
    " total_minor, amount_due_minor, status, pdf_url"
    " FROM invoice WHERE tenant = ?"
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


async def _update_dues(updates: list[tuple[int, str, Any, int, int]]) -> None:
    """`UPDATE_INVOICE_DUE` for many invoices; one statement on PostgreSQL."""
    if not updates or not db.is_postgres():
        await executemany(UPDATE_INVOICE_DUE, updates)
        return
    due, status, stamp, tenant, ids = (list(values) for values in zip(*updates, strict=True))
    await _connection().execute(
        "UPDATE invoice SET amount_due_minor = u.due, status = u.status, updated_at = u.stamp"
        " FROM unnest($1::bigint[], $2::varchar[], $3::timestamptz[], $4::integer[])"
        " AS u(due, status, stamp, id) WHERE invoice.tenant = $5 AND invoice.id = u.id",
        due,
        status,
        stamp,
        ids,
        tenant[0],
    )


def invoice_query(tenant_id: int) -> Any:
    """A Piccolo select of the tenant's invoices with `customer_external_id` (for lists)."""
    from arportal.models import Invoice

    return Invoice.select(
        *Invoice.all_columns(), Invoice.customer.external_id.as_alias("customer_external_id")
    ).where(Invoice.tenant == tenant_id)


async def select_invoices(
    tenant_id: int,
    *,
    external_ids: Iterable[str] = (),
    ids: Iterable[int] = (),
    lock: bool = False,
) -> dict[int, Row]:
    """The tenant's invoices by external id and/or id, keyed by id (inside `transaction()`).

    `lock` takes the rows for this transaction on PostgreSQL (in id order, so two writers do
    not deadlock): amounts due are computed from what was read, so a concurrent payment on
    the same invoice must wait. SQLite's IMMEDIATE transaction already admits one writer."""
    suffix = " ORDER BY id FOR UPDATE" if lock and db.is_postgres() else ""
    found: dict[int, Row] = {}
    for column, values in (("external_id", external_ids), ("id", ids)):
        for row in await fetch_in(INVOICE_SELECT, [tenant_id], column, values, suffix):
            found[row["id"]] = row
    await _add_external_ids(tenant_id, list(found.values()), "customer")
    return found


async def _add_external_ids(tenant_id: int, rows: list[Row], table: str) -> None:
    """Set `<table>_external_id` from the `<table>` id of each row (one query per batch).

    Look-ups stay single-table on purpose: right after a bulk insert PostgreSQL's statistics
    still say "empty table", and a join then becomes a nested loop over sequential scans."""
    wanted = {row[table] for row in rows if row[table] is not None}
    found = await fetch_in(
        f"SELECT id, external_id FROM {table} WHERE tenant = ?", [tenant_id], "id", wanted
    )
    names = {row["id"]: row["external_id"] for row in found}
    for row in rows:
        row[f"{table}_external_id"] = names.get(row[table])


PreparedInvoice = tuple[str, str, str, dt.date, dt.date, str, int, int | None, str, str | None]
"""An invoice checked by `prepare_invoice`, in the order of `PREPARED_FIELDS`; the amounts
in minor units, `amount_due_minor` None when not given."""
_EXTERNAL_ID = operator.itemgetter(0)
_CUSTOMER_EXTERNAL_ID = operator.itemgetter(1)
PREPARED_FIELDS = (
    "external_id",
    "customer_external_id",
    "number",
    "issue_date",
    "due_date",
    "currency",
    "total_minor",
    "amount_due_minor",
    "status",
    "pdf_url",
)


def prepare_invoice(index: int, item: InvoiceIn) -> PreparedInvoice:
    """Check what can be checked without the database; errors name `items[index].<field>`."""
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
    return (
        item.external_id,
        item.customer_external_id,
        item.number,
        item.issue_date,
        item.due_date,
        currency,
        total,
        due,
        item.status,
        item.pdf_url or None,
    )


async def _allocated(tenant_id: int, invoice_ids: Iterable[int]) -> dict[int, int]:
    rows = await fetch_in(
        "SELECT invoice, SUM(amount_minor) AS allocated FROM allocation WHERE tenant = ?",
        [tenant_id],
        "invoice",
        invoice_ids,
        " GROUP BY invoice",
    )
    # Grouped per chunk: every invoice id falls in one chunk, so each sum is whole.
    totals: dict[int, int] = {}
    for row in rows:
        if row["invoice"] is not None:
            totals[row["invoice"]] = int(row["allocated"] or 0)
    return totals


async def upsert_invoices(
    ctx: TenantContext, items: Sequence[InvoiceIn], *, progress: Progress | None = None
) -> list[Row]:
    """Insert or update invoices by external id. Returns the stored rows (with
    `customer_external_id`, without the timestamps) in the order of `items`."""
    prepared = [prepare_invoice(index, item) for index, item in enumerate(items)]
    return await write_invoices(ctx, prepared, progress=progress)


BULK_BATCH_SIZE = 50_000
"""Invoices per batch of `write_invoices`: one existence look-up and one bulk write each."""
BULK_CACHE_KIB = 256 * 1024
"""SQLite page cache (a ceiling, filled as used) of the connection of a write bigger than
`BATCH_SIZE`. With the default 2 MB, inserting in random order into the customer indexes
spills dirty pages to the WAL and reads them back: 1,000,000 invoices took 3 times longer."""
INSERT_INVOICE_COLUMNS = (
    "tenant",
    "external_id",
    "customer",
    "number",
    "issue_date",
    "due_date",
    "currency",
    "total_minor",
    "amount_due_minor",
    "status",
    "pdf_url",
    "created_at",
    "updated_at",
)


async def write_invoices(
    ctx: TenantContext,
    prepared: Sequence[PreparedInvoice],
    *,
    progress: Progress | None = None,
    returning: bool = True,
) -> list[Row]:
    """Insert or update prepared invoices by external id, all or nothing: the write path of
    `upsert_invoices` (the API) and of CSV imports. Returns what `upsert_invoices` returns,
    or `[]` with `returning=False`.

    First, before anything is written, one look-up finds which external ids exist. Then, in
    batches of `BULK_BATCH_SIZE` and in the order of `prepared`, customers are resolved and
    existing invoices are read (locked), compared and updated when changed. Last, the new
    invoices are inserted in bulk with nothing read back (`executemany` on SQLite, `COPY`
    on PostgreSQL; their ids are taken beforehand when rows are returned or a plugin listens
    to invoice events). Reads never follow inserts, so PostgreSQL does not plan them with the
    statistics of a table that has since grown; after a big insert, `ANALYZE` gives the
    next reader (another import, the portal) statistics that count the new rows, as
    PostgreSQL advises after populating a table (autovacuum may be off, or not run yet)."""
    external_ids = list(map(_EXTERNAL_ID, prepared))
    no_duplicate_ids(external_ids)
    write = _InvoiceWrite(
        ctx,
        returning=returning,
        events=listens(ctx, "arportal_invoice_changed") or listens(ctx, "arportal_event"),
    )
    batches = range(0, len(prepared), BULK_BATCH_SIZE)
    async with transaction():
        await serialize_ledger(ctx.tenant_id)
        if len(prepared) > BATCH_SIZE and not db.is_postgres():
            await _connection().execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
        found = await _existing("invoice", ctx.tenant_id, external_ids)
        for start in batches:
            await write.check(start, prepared[start : start + BULK_BATCH_SIZE], found)
        await write.insert(prepared, found, progress)
        if write.inserted >= BATCH_SIZE and db.is_postgres():
            await _connection().execute("ANALYZE invoice")
        summary = ("invoices.upserted", "invoice", {"changed": write.written})
        await _audit_rows(ctx, write.audit, summary)
    await _invoice_events(ctx, write.changes)
    return [write.stored[item[0]] for item in prepared] if returning else []


class _InvoiceWrite:
    """The two passes of `write_invoices` and what they gather."""

    def __init__(self, ctx: TenantContext, *, returning: bool, events: bool):
        self.tenant_id = ctx.tenant_id
        self.returning = returning
        self.events = events
        self.customers: dict[str, int] = {}
        self.changes: list[tuple[Row, Row | None]] = []
        self.audit: list[Audit] = []
        """Detailed entries, no more than `AUDIT_DETAIL_LIMIT + 1` (then a summary is kept)."""
        self.written = 0
        self.inserted = 0
        self.stored: dict[str, Row] = {}
        self.iso_dates = _IsoDates()

    def note(self, action: str, external_id: str, number: str, due: str, status: str) -> None:
        data = {"number": number, "status": status, "amount_due": due}
        self.audit.append((action, "invoice", external_id, data))

    async def check(self, start: int, batch: Sequence[PreparedInvoice], found: set[str]) -> None:
        """Resolve the batch's customers (unknown ones are errors), and update the existing
        invoices that change."""
        wanted = set(map(_CUSTOMER_EXTERNAL_ID, batch))
        customers = await _customer_ids(self.tenant_id, wanted, self.customers)
        old_rows: dict[str, Row] = {}
        allocated: dict[int, int] = {}
        existing = [item[0] for item in batch if item[0] in found] if found else []
        if existing:
            selected = await select_invoices(self.tenant_id, external_ids=existing, lock=True)
            old_rows = {row["external_id"]: row for row in selected.values()}
            allocated = await _allocated(self.tenant_id, list(selected))
        elif customers.keys() >= wanted:
            return
        stamp = sql_value(utcnow())
        updates = []
        for index, item in enumerate(batch, start=start):
            customer = _require_customer(customers, index, item[1])
            old = old_rows.get(item[0])
            if old is not None:
                row = self._update(index, item, customer, old, allocated.get(old["id"], 0))
                if row is not None:
                    updates.append(_invoice_params(self.tenant_id, row, stamp))
        await executemany(UPSERT_INVOICE, updates)

    def _update(
        self, index: int, item: PreparedInvoice, customer: int, old: Row, taken: int
    ) -> Row | None:
        """The invoice after an upsert of `item` over `old`, or None when nothing changes."""
        row: Row = dict(zip(PREPARED_FIELDS, item, strict=True))
        row["customer"] = customer
        _settle_invoice(index, row, old, taken)
        if all(old[name] == row[name] for name in INVOICE_FIELDS):
            if self.returning:
                self.stored[row["external_id"]] = old
            return None
        after = {**old, **row}
        if self.returning:
            self.stored[row["external_id"]] = after
        if self.events:
            self.changes.append((after, old))
        self.written += 1
        if len(self.audit) <= AUDIT_DETAIL_LIMIT:
            due = amount_str(row["amount_due_minor"], row["currency"])
            self.note("invoice.updated", row["external_id"], row["number"], due, row["status"])
        return row

    async def insert(
        self, prepared: Sequence[PreparedInvoice], found: set[str], progress: Progress | None
    ) -> None:
        """Insert the new invoices (customers resolved by `check`), in batches: on
        PostgreSQL as ONE `COPY` fed batch by batch (a batch is built while the server
        stores the rows before it), on SQLite one `executemany` per batch. Their ids are
        taken beforehand only when rows are returned or events sent."""
        keep = self.returning or self.events
        columns = ("id", *INSERT_INVOICE_COLUMNS) if keep else INSERT_INVOICE_COLUMNS
        total = len(prepared)

        def new_in(start: int) -> Sequence[PreparedInvoice]:
            batch = prepared[start : start + BULK_BATCH_SIZE]
            return [item for item in batch if item[0] not in found] if found else batch

        if db.is_postgres():
            if total == len(found):
                return
            ids = iter(await _new_ids("invoice", total - len(found))) if keep else None

            def rows() -> Iterator[tuple[Any, ...]]:
                for start in range(0, total, BULK_BATCH_SIZE):
                    yield from self.rows(new_in(start), ids)
                    if progress:
                        progress(min(start + BULK_BATCH_SIZE, total), total)

            await insert_rows("invoice", columns, rows())
            return
        for start in range(0, total, BULK_BATCH_SIZE):
            new = new_in(start)
            if new:
                ids = iter(await _new_ids("invoice", len(new))) if keep else None
                await insert_rows("invoice", columns, self.rows(new, ids))
            if progress:
                progress(min(start + BULK_BATCH_SIZE, total), total)

    def rows(
        self, new: Sequence[PreparedInvoice], ids: Iterator[int] | None
    ) -> list[tuple[Any, ...]]:
        """The rows to insert for these new invoices (with the next `ids` when given), built
        column by column with loops that run in C where they can (`repeat` columns never
        end, hence `zip(..., strict=False)`)."""
        if not new:
            return []
        (
            external_ids,
            customers,
            numbers,
            issues,
            due_dates,
            currencies,
            totals,
            dues,
            statuses,
            urls,
        ) = zip(*new, strict=True)
        if None in dues:
            dues = tuple(
                (0 if status == "paid" else total) if due is None else due
                for due, status, total in zip(dues, statuses, totals, strict=True)
            )
        if 0 in dues:
            statuses = tuple(
                "paid" if status == "open" and due == 0 and total > 0 else status
                for status, due, total in zip(statuses, dues, totals, strict=True)
            )
        if not db.is_postgres():
            issues = tuple(map(self.iso_dates.__getitem__, issues))
            due_dates = tuple(map(self.iso_dates.__getitem__, due_dates))
        stamp = sql_value(utcnow())
        columns = [
            itertools.repeat(self.tenant_id),
            external_ids,
            map(self.customers.__getitem__, customers),
            numbers,
            issues,
            due_dates,
            currencies,
            totals,
            dues,
            statuses,
            urls,
            itertools.repeat(stamp),
            itertools.repeat(stamp),
        ]
        for index in range(min(len(new), AUDIT_DETAIL_LIMIT + 1 - len(self.audit))):
            due = amount_str(dues[index], currencies[index])
            self.note("invoice.created", external_ids[index], numbers[index], due, statuses[index])
        self.written += len(new)
        self.inserted += len(new)
        if ids is None:
            return list(zip(*columns, strict=False))
        rows = list(zip(itertools.islice(ids, len(new)), *columns, strict=False))
        for item, row in zip(new, rows, strict=True):
            stored: Row = dict(zip(PREPARED_FIELDS, item, strict=True))
            stored.update(
                id=row[0],
                tenant=self.tenant_id,
                customer=row[3],
                amount_due_minor=row[9],
                status=row[10],
            )
            if self.returning:
                self.stored[item[0]] = stored
            if self.events:
                self.changes.append((stored, None))
        return rows


class _IsoDates(dict[dt.date, str]):
    """date -> the text SQLite stores, each date formatted once (invoices share dates)."""

    def __missing__(self, day: dt.date) -> str:
        text = self[day] = day.isoformat()
        return text


async def _new_ids(table: str, count: int) -> list[int]:
    """Ids for `count` rows about to be inserted into `table` (inside `transaction()`), so
    that none is read back: from the id sequence on PostgreSQL, after the largest id on
    SQLite (which itself gives new rows the largest id + 1; the IMMEDIATE transaction
    admits no other writer)."""
    if db.is_postgres():
        rows = await _connection().fetch(
            "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2)",
            table,
            count,
        )
        return sorted(row[0] for row in rows)
    last = (await fetch(f"SELECT COALESCE(MAX(id), 0) AS last FROM {table}", []))[0]["last"]
    return list(range(last + 1, last + 1 + count))


def _invoice_params(tenant_id: int, row: Row, stamp: Any) -> tuple[Any, ...]:
    return (
        tenant_id,
        row["external_id"],
        row["customer"],
        row["number"],
        day(row["issue_date"]),
        day(row["due_date"]),
        row["currency"],
        row["total_minor"],
        row["amount_due_minor"],
        row["status"],
        row["pdf_url"],
        stamp,
        stamp,
    )


def _settle_invoice(index: int, row: Row, old: Row | None, taken: int) -> None:
    """Amount due and status of an upserted invoice, given what allocations already took."""
    prefix = f"items[{index}]"
    if old is not None and taken:
        for field, column in (("currency", "currency"), ("customer_external_id", "customer")):
            if old[column] != row[column]:
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
                    f"{amount_str(row['total_minor'], row['currency'])} is less than the "
                    f"{amount_str(taken, row['currency'])} already allocated to this invoice",
                )
    if row["status"] == "open" and row["amount_due_minor"] == 0 and row["total_minor"] > 0:
        row["status"] = "paid"


async def _invoice_events(ctx: TenantContext, changes: list[tuple[Row, Row | None]]) -> None:
    if listens(ctx, "arportal_invoice_changed"):
        for invoice, previous in changes:
            await ctx.call("arportal_invoice_changed", invoice=invoice, previous=previous)
    if listens(ctx, "arportal_event"):
        for invoice, _previous in changes:
            await ctx.call("arportal_event", name="invoice_changed", data=invoice_out([invoice])[0])


def invoice_out(rows: Sequence[Row]) -> list[Row]:
    """Invoices as the API shows them: decimal-string amounts, ISO dates."""
    return [
        {
            "external_id": row["external_id"],
            "customer_external_id": row.get("customer_external_id"),
            "number": row["number"],
            "issue_date": row["issue_date"].isoformat(),
            "due_date": row["due_date"].isoformat(),
            "currency": row["currency"],
            "total": amount_str(row["total_minor"], row["currency"]),
            "amount_due": amount_str(row["amount_due_minor"], row["currency"]),
            "status": row["status"],
            "pdf_url": row["pdf_url"],
        }
        for row in rows
    ]


# --- payments and credit notes -----------------------------------------------------------


@dataclass(frozen=True)
class DocKind:
    """Payments or credit notes: the table, its allocation column and its audit subject."""

    name: str
    has_number: bool

    @property
    def table(self) -> Any:
        from arportal.models import CreditNote, Payment

        return Payment if self.name == "payment" else CreditNote

    @property
    def columns(self) -> list[str]:
        columns = ["external_id", "customer", "date", "currency", "amount_minor"]
        return [*columns, "number"] if self.has_number else columns

    @property
    def upsert_sql(self) -> str:
        columns = ["tenant", *self.columns, "created_at"]
        updates = ", ".join(f"{c} = excluded.{c}" for c in self.columns[1:])
        return (
            f"INSERT INTO {self.name} ({', '.join(columns)})"
            f" VALUES ({', '.join('?' * len(columns))})"
            f" ON CONFLICT (tenant, external_id) DO UPDATE SET {updates}"
        )

    @property
    def select_sql(self) -> str:
        columns = ", ".join(["id", "tenant", *self.columns, "created_at"])
        return f"SELECT {columns} FROM {self.name} WHERE tenant = ?"

    @property
    def insert_allocation_sql(self) -> str:
        return (
            f"INSERT INTO allocation (tenant, invoice, {self.name}, amount_minor)"
            " VALUES (?, ?, ?, ?)"
        )

    @property
    def allocations_sql(self) -> str:
        return (
            f"SELECT id, {self.name} AS doc, invoice, amount_minor FROM allocation WHERE tenant = ?"
        )


PAYMENTS = DocKind("payment", has_number=False)
CREDIT_NOTES = DocKind("credit_note", has_number=True)
DOC_FIELDS = ("customer", "date", "currency", "amount_minor")


def _prepare_doc(index: int, item: PaymentIn | CreditNoteIn) -> Row:
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
            f"allocations add up to {amount_str(allocated, currency)}, more than the amount "
            f"{amount_str(amount, currency)}",
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
) -> list[Row]:
    """Insert or update payments and their allocations; each allocated invoice's amount due
    goes down (and its status becomes paid at zero). Returns the payment rows with
    `customer_external_id` and `allocations` (`[{"invoice_external_id", "amount_minor"}]`)
    in the order of `items`."""
    return await _upsert_docs(ctx, PAYMENTS, items, progress)


async def upsert_credit_notes(
    ctx: TenantContext, items: Sequence[CreditNoteIn], *, progress: Progress | None = None
) -> list[Row]:
    """Like `upsert_payments`, for credit notes."""
    return await _upsert_docs(ctx, CREDIT_NOTES, items, progress)


async def record_payment(
    ctx: TenantContext,
    *,
    external_id: str,
    customer_external_id: str,
    date: dt.date,
    currency: str,
    amount: Decimal,
    allocations: dict[str, Decimal] | None = None,
) -> Row:
    """Record one payment (`allocations`: invoice external id -> amount), as the admin API
    shows it. The public path for plugins that take payments (autopay); `record_payments`
    records many at once.

    Insert-only: when a payment with this `external_id` is already recorded it is answered
    as stored and nothing changes, so a retry after a crash (which may compute other
    allocations) never applies a payment twice. Errors raise `LedgerError` like
    `upsert_payments`; events follow the commit as they do there."""
    (row,) = await record_payments(ctx, [{
        "external_id": external_id, "customer_external_id": customer_external_id,
        "date": date, "currency": currency, "amount": amount, "allocations": allocations,
    }])
    return row


async def record_payments(ctx: TenantContext, payments: Sequence[dict[str, Any]]) -> list[Row]:
    """`record_payment` for many payments (dicts of its keyword arguments) in one
    transaction, all or nothing; answers them in order."""
    items = [
        PaymentIn(
            external_id=p["external_id"],
            customer_external_id=p["customer_external_id"],
            date=p["date"],
            currency=p["currency"],
            amount=p["amount"],
            allocations=[
                AllocationIn(invoice_external_id=invoice, amount=value)
                for invoice, value in (p.get("allocations") or {}).items()
            ],
        )
        for p in payments
    ]
    if not items:
        return []
    return doc_out(await _upsert_docs(ctx, PAYMENTS, items, None, keep_existing=True))


async def _upsert_docs(
    ctx: TenantContext,
    kind: DocKind,
    items: Sequence[Any],
    progress: Progress | None,
    *,
    keep_existing: bool = False,
) -> list[Row]:
    prepared = [_prepare_doc(index, item) for index, item in enumerate(items)]
    _no_duplicates(items)
    recorded: list[Row] = []
    invoice_changes: dict[int, tuple[Row, Row]] = {}
    audit: list[Audit] = []
    stored: dict[str, Row] = {}
    known_customers: dict[str, int] = {}
    async with transaction():
        await serialize_ledger(ctx.tenant_id)
        for batch in _batches(prepared):
            written = await _write_doc_batch(
                ctx, kind, batch, prepared, invoice_changes, stored, known_customers,
                keep_existing,
            )
            for doc in written:
                audit.append(
                    (
                        f"{kind.name}.recorded",
                        kind.name,
                        doc["external_id"],
                        {
                            "amount": amount_str(doc["amount_minor"], doc["currency"]),
                            "allocations": {
                                a["invoice_external_id"]: amount_str(
                                    a["amount_minor"], doc["currency"]
                                )
                                for a in doc["allocations"]
                            },
                        },
                    )
                )
            recorded.extend(written)
            if progress:
                progress(batch.stop, len(prepared))
        summary = (f"{kind.name}s.upserted", kind.name, {"recorded": len(audit)})
        await _audit_rows(ctx, audit, summary)
    await _invoice_events(ctx, list(invoice_changes.values()))
    if kind is PAYMENTS and listens(ctx, "arportal_payment_recorded"):
        for row in recorded:
            await ctx.call("arportal_payment_recorded", payment=row)
    if listens(ctx, "arportal_event"):
        for row in recorded:
            await ctx.call("arportal_event", name=f"{kind.name}_recorded", data=doc_out([row])[0])
    return [stored[item.external_id] for item in items]


async def _write_doc_batch(
    ctx: TenantContext,
    kind: DocKind,
    batch: range,
    prepared: list[Row],
    invoice_changes: dict[int, tuple[Row, Row]],
    stored: dict[str, Row],
    known_customers: dict[str, int],
    keep_existing: bool = False,
) -> list[Row]:
    """Validate one batch against the database and write what changed. Fills `stored` with
    the rows of the batch; returns the rows of the changed documents. With `keep_existing`
    a document already stored is left as it is, whatever the item says."""
    tenant_id = ctx.tenant_id
    docs = [prepared[index] for index in batch]
    customers = await _customer_ids(
        tenant_id, {doc["customer_external_id"] for doc in docs}, known_customers
    )
    existing = {
        row["external_id"]: row
        for row in await fetch_in(
            kind.select_sql, [tenant_id], "external_id", [doc["external_id"] for doc in docs]
        )
    }
    old_allocations = await fetch_in(
        kind.allocations_sql,
        [tenant_id],
        kind.name,
        [r["id"] for r in existing.values()],
        " ORDER BY id",
    )
    old_by_doc: dict[int, list[Row]] = {}
    for row in old_allocations:
        old_by_doc.setdefault(row["doc"], []).append(row)
    invoices = await select_invoices(
        tenant_id,
        external_ids={ext for doc in docs for ext, _minor in doc["allocations"]},
        ids={row["invoice"] for row in old_allocations},
        lock=True,
    )
    invoice_by_external = {row["external_id"]: row for row in invoices.values()}

    due = {invoice_id: row["amount_due_minor"] for invoice_id, row in invoices.items()}
    changed: list[tuple[int, Row, list[tuple[int, int]], list[tuple[int, int]]]] = []
    for index, doc in zip(batch, docs, strict=True):
        doc["customer"] = _require_customer(customers, index, doc["customer_external_id"])
        old = existing.get(doc["external_id"])
        kept = old is not None and keep_existing
        targets = [] if kept else [
            (_allocation_target(index, position, doc, invoice_by_external.get(ext), ext), minor)
            for position, (ext, minor) in enumerate(doc["allocations"])
        ]
        old_targets = (
            [(a["invoice"], a["amount_minor"]) for a in old_by_doc.get(old["id"], [])]
            if old
            else []
        )
        same = kept or (
            old is not None
            and sorted(old_targets) == sorted(targets)
            and all(old[name] == doc[name] for name in kind.columns)
        )
        if same and old is not None:
            stored[doc["external_id"]] = {
                **old,
                "customer_external_id": doc["customer_external_id"],
                "kind": kind.name,
                "allocations": [
                    {
                        "invoice_external_id": invoices[a["invoice"]]["external_id"],
                        "amount_minor": a["amount_minor"],
                    }
                    for a in old_by_doc.get(old["id"], [])
                ],
            }
            continue
        changed.append((index, doc, targets, old_targets))

    # Give back what the changed documents took before, then take the new amounts in order:
    # the first allocation that drives an invoice below zero is the one named.
    touched: set[int] = set()
    for _index, _doc, targets, old_targets in changed:
        for invoice_id, minor in old_targets:
            due[invoice_id] += minor
        touched.update(invoice_id for invoice_id, _minor in old_targets + targets)
    for index, doc, targets, _old_targets in changed:
        for position, (invoice_id, minor) in enumerate(targets):
            due[invoice_id] -= minor
            if due[invoice_id] < 0:
                available = max(due[invoice_id] + minor, 0)
                raise LedgerError(
                    f"items[{index}].allocations[{position}].amount",
                    f"{amount_str(minor, doc['currency'])} is more than the "
                    f"{amount_str(available, doc['currency'])} due on invoice "
                    f"{invoices[invoice_id]['external_id']!r}",
                )
    if not changed:
        return []

    now = utcnow()
    await executemany(
        kind.upsert_sql,
        [
            (
                tenant_id,
                *[day(doc[c]) if c == "date" else doc[c] for c in kind.columns],
                sql_value(now),
            )
            for _i, doc, _t, _o in changed
        ],
    )
    ids = await _ids(kind.name, tenant_id, [doc["external_id"] for _i, doc, _t, _o in changed])
    replaced = [
        existing[doc["external_id"]]["id"]
        for _i, doc, _t, _o in changed
        if doc["external_id"] in existing
    ]
    if replaced:
        for start in range(0, len(replaced), BATCH_SIZE):
            condition, params = in_list(kind.name, replaced[start : start + BATCH_SIZE])
            await executemany(
                f"DELETE FROM allocation WHERE tenant = ? AND {condition}", [[tenant_id, *params]]
            )
    await executemany(
        kind.insert_allocation_sql,
        [
            (tenant_id, invoice_id, ids[doc["external_id"]], minor)
            for _i, doc, targets, _o in changed
            for invoice_id, minor in targets
        ],
    )
    updates = []
    for invoice_id in sorted(touched):
        invoice = invoices[invoice_id]
        amount_due = min(due[invoice_id], invoice["total_minor"])
        status = invoice["status"]
        if status != "void":
            status = "paid" if amount_due == 0 else "open"
        if amount_due == invoice["amount_due_minor"] and status == invoice["status"]:
            continue
        updates.append((amount_due, status, sql_value(now), tenant_id, invoice_id))
        after = {**invoice, "amount_due_minor": amount_due, "status": status}
        first_previous = invoice_changes.get(invoice_id, (None, invoice))[1]
        invoice_changes[invoice_id] = (after, first_previous)
    await _update_dues(updates)

    written = []
    for _index, doc, targets, _old in changed:
        old = existing.get(doc["external_id"])
        row = {
            **{c: doc[c] for c in kind.columns},
            "id": ids[doc["external_id"]],
            "tenant": tenant_id,
            "created_at": old["created_at"] if old else now,
            "customer_external_id": doc["customer_external_id"],
            "kind": kind.name,
            "allocations": [
                {"invoice_external_id": invoices[invoice_id]["external_id"], "amount_minor": minor}
                for invoice_id, minor in targets
            ],
        }
        stored[doc["external_id"]] = row
        written.append(row)
    return written


def _allocation_target(index: int, position: int, doc: Row, invoice: Row | None, ext: str) -> int:
    field = f"items[{index}].allocations[{position}]"
    if invoice is None:
        raise LedgerError(f"{field}.invoice_external_id", f"unknown invoice {ext!r}")
    if invoice["customer"] != doc["customer"]:
        raise LedgerError(
            f"{field}.invoice_external_id", f"invoice {ext!r} belongs to another customer"
        )
    if invoice["currency"] != doc["currency"]:
        raise LedgerError(
            f"items[{index}].currency",
            f"{doc['currency']} does not match invoice {ext!r} in {invoice['currency']}",
        )
    if invoice["status"] == "void":
        raise LedgerError(f"{field}.invoice_external_id", f"invoice {ext!r} is void")
    return int(invoice["id"])


def doc_query(tenant_id: int, kind: DocKind) -> Any:
    """A Piccolo select of the tenant's payments or credit notes (for lists)."""
    table = kind.table
    return table.select(
        *table.all_columns(), table.customer.external_id.as_alias("customer_external_id")
    ).where(table.tenant == tenant_id)


async def load_docs(
    tenant_id: int,
    kind: DocKind,
    external_ids: Sequence[str] | None = None,
    rows: Sequence[Row] | None = None,
) -> list[Row]:
    """Payment or credit-note rows with `customer_external_id` and their `allocations`
    (`[{"invoice_external_id", "amount_minor"}]`). Pass external ids, or rows already
    selected with `doc_query` (for a page of a list)."""
    async with transaction(write=False):
        if rows is None:
            rows = await fetch_in(kind.select_sql, [tenant_id], "external_id", external_ids or [])
            await _add_external_ids(tenant_id, rows, "customer")
        rows = [dict(row) for row in rows]
        allocations = await fetch_in(
            kind.allocations_sql,
            [tenant_id],
            kind.name,
            [row["id"] for row in rows],
            " ORDER BY id",
        )
        await _add_external_ids(tenant_id, allocations, "invoice")
    by_doc: dict[int, list[Row]] = {}
    for allocation in allocations:
        by_doc.setdefault(allocation["doc"], []).append(
            {
                "invoice_external_id": allocation["invoice_external_id"],
                "amount_minor": allocation["amount_minor"],
            }
        )
    for row in rows:
        row["kind"] = kind.name
        row["allocations"] = by_doc.get(row["id"], [])
    return rows


def doc_out(rows: Sequence[Row]) -> list[Row]:
    """Payments or credit notes (from an upsert or `load_docs`) as the API shows them."""
    out = []
    for row in rows:
        currency = row["currency"]
        item = {
            "external_id": row["external_id"],
            "customer_external_id": row.get("customer_external_id"),
            "date": row["date"].isoformat(),
            "currency": currency,
            "amount": amount_str(row["amount_minor"], currency),
            "allocations": [
                {
                    "invoice_external_id": a["invoice_external_id"],
                    "amount": amount_str(a["amount_minor"], currency),
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
