"""The queries of autopay: what the job reads in bulk, and the writes that claim and settle an
attempt. Each write is one statement, so it is atomic on both engines without a transaction
(and never holds SQLite's write lock across a gateway call)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from arportal import TenantContext
from arportal.plugins.autopay.models import AutopayAttempt, AutopayMethod, AutopayNotice

ATTEMPT_LEASE = dt.timedelta(minutes=10)
"""How long an attempt is held by the process that claimed it (its gateway call is bounded by
the gateway's timeout). A pending attempt whose holder died is reconciled after it."""

_CANDIDATES = (
    "SELECT i.id, i.external_id, i.number, i.customer, i.due_date, i.currency,"
    " i.amount_due_minor, c.external_id AS customer_external_id, c.name AS customer_name,"
    " c.email AS customer_email, c.locale AS customer_locale,"
    " m.id AS method_id, m.key AS method_key, m.gateway AS method_gateway,"
    " m.reference AS method_reference, m.gateway_customer AS method_gateway_customer,"
    " m.brand AS method_brand, m.last4 AS method_last4, m.exp_month AS method_exp_month,"
    " m.exp_year AS method_exp_year, m.saved_on AS method_saved_on"
    " FROM autopay_method m"
    " JOIN customer_toggle t ON t.customer = m.customer AND t.tenant = m.tenant"
    " AND t.key = 'autopay' AND t.enabled = {}"
    " JOIN customer c ON c.id = m.customer"
    " JOIN invoice i ON i.customer = m.customer AND i.tenant = m.tenant"
    " WHERE m.tenant = {} AND m.enabled = {} AND m.status = 'active'"
    " AND i.status = 'open' AND i.amount_due_minor > 0 AND i.due_date <= {}"
    " ORDER BY i.due_date, i.id"
)
_OPEN_ATTEMPTS = (
    "SELECT a.id, a.invoice, a.attempt_no, a.method_key, a.status, a.retry_on, a.charged_on"
    " FROM autopay_attempt a JOIN invoice i ON i.id = a.invoice"
    " WHERE a.tenant = {} AND i.status = 'open'"
)
_OPEN_NOTICES = (
    "SELECT n.invoice, n.amount_minor, n.sent_on, n.charge_on"
    " FROM autopay_notice n JOIN invoice i ON i.id = n.invoice"
    " WHERE n.tenant = {} AND i.status = 'open'"
)
NOTICE_BATCH = 1000
_NOTICE = (
    "INSERT INTO autopay_notice (tenant, customer, invoice, amount_minor, charge_on, sent_on)"
    " VALUES {values}"
    " ON CONFLICT (invoice) DO UPDATE SET amount_minor = excluded.amount_minor,"
    " charge_on = excluded.charge_on, sent_on = excluded.sent_on"
    " WHERE autopay_notice.amount_minor < excluded.amount_minor"
    " RETURNING invoice"
)
ATTEMPT_VIEW = (
    "SELECT a.*, i.external_id AS invoice_external_id, i.number AS invoice_number,"
    " c.external_id AS customer_external_id, c.name AS customer_name,"
    " c.email AS customer_email, c.locale AS customer_locale"
    " FROM autopay_attempt a JOIN invoice i ON i.id = a.invoice"
    " JOIN customer c ON c.id = a.customer"
)
_RECLAIM = (
    "UPDATE autopay_attempt SET claimed_until = {}, updated_at = {}"
    " WHERE tenant = {} AND status = 'pending' AND claimed_until < {} RETURNING id"
)
_RECLAIM_ONE = (
    "UPDATE autopay_attempt SET claimed_until = {}, updated_at = {}"
    " WHERE tenant = {} AND idempotency_key = {} AND status = 'pending'"
    " AND claimed_until < {} RETURNING id"
)


_ATTEMPT_COLUMNS = {column._meta.name for column in AutopayAttempt._meta.columns}


def writing() -> Any:
    """A write transaction (statements on one connection, committed together): IMMEDIATE on
    SQLite, so two writers queue instead of failing when a read turns into a write. Inside
    another transaction it joins that one."""
    engine = AutopayAttempt._meta.db
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()


def now() -> dt.datetime:
    """The clock of claims and leases (tests move it to play a later run)."""
    return dt.datetime.now(dt.UTC)


def idempotency_key(ctx: TenantContext, invoice: dict[str, Any], attempt_no: int) -> str:
    """Derived from the tenant, the invoice and the attempt number with the server secret: the
    same attempt always has the same key (even one re-made after a restore), and nobody can
    guess another tenant's keys."""
    message = f"autopay:{ctx.tenant_id}:{invoice['id']}:{invoice['external_id']}:{attempt_no}"
    digest = hmac.new(ctx.config.resolved_secret(), message.encode(), hashlib.sha256).hexdigest()
    return f"arportal-{digest[:40]}"


async def candidates(ctx: TenantContext, horizon: dt.date) -> list[dict[str, Any]]:
    """Open invoices due by `horizon` of customers with the toggle on and an active method."""
    return await AutopayMethod.raw(_CANDIDATES, True, ctx.tenant_id, True, horizon)


async def open_attempts(ctx: TenantContext) -> dict[int, list[dict[str, Any]]]:
    by_invoice: dict[int, list[dict[str, Any]]] = {}
    for row in await AutopayAttempt.raw(_OPEN_ATTEMPTS, ctx.tenant_id):
        by_invoice.setdefault(row["invoice"], []).append(row)
    return by_invoice


async def open_notices(ctx: TenantContext) -> dict[int, dict[str, Any]]:
    return {row["invoice"]: row for row in await AutopayNotice.raw(_OPEN_NOTICES, ctx.tenant_id)}


async def record_notices(
    ctx: TenantContext, noticed: list[tuple[dict[str, Any], dt.date]], today: dt.date
) -> set[int]:
    """Note the notice of each invoice for its amount due (with its charge day); answers the
    invoices noted here, leaving out those with a notice for at least this amount already
    (another process sent it)."""
    noted: set[int] = set()
    for start in range(0, len(noticed), NOTICE_BATCH):
        batch = noticed[start:start + NOTICE_BATCH]
        values = ", ".join(["({}, {}, {}, {}, {}, {})"] * len(batch))
        params = [
            value
            for invoice, charge_on in batch
            for value in (ctx.tenant_id, invoice["customer"], invoice["id"],
                          invoice["amount_due_minor"], charge_on, today)
        ]
        rows = await AutopayNotice.raw(_NOTICE.format(values=values), *params)
        noted.update(row["invoice"] for row in rows)
    return noted


async def fresh_invoice(ctx: TenantContext, invoice_id: int) -> dict[str, Any] | None:
    rows = await AutopayAttempt.raw(
        "SELECT status, amount_due_minor, currency FROM invoice WHERE tenant = {} AND id = {}",
        ctx.tenant_id, invoice_id,
    )
    return rows[0] if rows else None


async def fresh_invoices(ctx: TenantContext, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = await AutopayAttempt.raw(
        "SELECT id, status, amount_due_minor, currency FROM invoice WHERE tenant = {}"
        f" AND id IN ({', '.join(['{}'] * len(ids))})",
        ctx.tenant_id, *ids,
    )
    return {row["id"]: row for row in rows}


async def claim_attempts(
    ctx: TenantContext, due: list[dict[str, Any]], today: dt.date
) -> list[dict[str, Any]]:
    """Write the next attempt of each invoice (`due`: candidate rows with their
    `attempt_no`), pending and held by this process, with its idempotency key, before the
    gateway is called, in one statement. Answers the attempts this process inserted: an
    attempt that already exists was made by another process, and only the process whose
    insert succeeded calls the gateway. The amount is the invoice's amount due as it is now
    (never more than its notice said); an invoice paid meanwhile is left out."""
    fresh = await fresh_invoices(ctx, [row["id"] for row in due])
    moment = now()
    made: dict[int, dict[str, Any]] = {}
    for row in due:
        invoice = fresh.get(row["id"])
        if invoice is None or invoice["status"] != "open" or invoice["amount_due_minor"] <= 0:
            continue
        made[row["id"]] = {
            "tenant": ctx.tenant_id,
            "tenant_name": ctx.name,
            "customer": row["customer"],
            "invoice": row["id"],
            "attempt_no": row["attempt_no"],
            "method_key": row["method_key"],
            "gateway": row["method_gateway"],
            "reference": row["method_reference"],
            "gateway_customer": row["method_gateway_customer"],
            "brand": row["method_brand"],
            "last4": row["method_last4"],
            "idempotency_key": idempotency_key(ctx, row, row["attempt_no"]),
            "amount_minor": min(invoice["amount_due_minor"], row["amount_due_minor"]),
            "currency": row["currency"],
            "status": "pending",
            "charge_id": "",
            "decline_code": "",
            "message": "",
            "hard": False,
            "final": False,
            "retry_on": None,
            "payment_external_id": "",
            "charged_on": today,
            "claimed_until": moment + ATTEMPT_LEASE,
            "created_at": moment,
            "updated_at": moment,
            "invoice_external_id": row["external_id"],
            "invoice_number": row["number"],
            "customer_external_id": row["customer_external_id"],
            "customer_name": row["customer_name"],
            "customer_email": row["customer_email"],
            "customer_locale": row["customer_locale"],
        }
    if not made:
        return []
    rows = await (
        AutopayAttempt.insert(*[
            AutopayAttempt(**{k: v for k, v in attempt.items() if k in _ATTEMPT_COLUMNS})
            for attempt in made.values()
        ])
        .on_conflict(action="DO NOTHING")
        .returning(AutopayAttempt.id, AutopayAttempt.invoice)
    )
    return [{**made[row["invoice"]], "id": row["id"]} for row in rows]


async def attempt_view(ctx: TenantContext, attempt_id: int) -> dict[str, Any] | None:
    """An attempt with its invoice's and customer's fields, as settling needs them."""
    rows = await AutopayAttempt.raw(
        ATTEMPT_VIEW + " WHERE a.tenant = {} AND a.id = {}", ctx.tenant_id, attempt_id
    )
    return rows[0] if rows else None


async def reclaim_stale(ctx: TenantContext) -> list[dict[str, Any]]:
    """Claim every pending attempt whose holder's lease ran out (a crash, a lost answer)."""
    moment = now()
    rows = await AutopayAttempt.raw(
        _RECLAIM, moment + ATTEMPT_LEASE, moment, ctx.tenant_id, moment
    )
    found = [await attempt_view(ctx, row["id"]) for row in rows]
    return [row for row in found if row is not None]


async def reclaim_by_key(ctx: TenantContext, key: str) -> dict[str, Any] | None:
    """Claim one pending attempt by its idempotency key, unless a live process holds it."""
    moment = now()
    rows = await AutopayAttempt.raw(
        _RECLAIM_ONE, moment + ATTEMPT_LEASE, moment, ctx.tenant_id, key, moment
    )
    return await attempt_view(ctx, rows[0]["id"]) if rows else None


async def failure_days(attempt: dict[str, Any]) -> list[dt.date]:
    """The days of the failed attempts of this invoice with the same method."""
    rows = await AutopayAttempt.raw(
        "SELECT charged_on FROM autopay_attempt WHERE invoice = {} AND method_key = {}"
        " AND status = 'failed'",
        attempt["invoice"], attempt["method_key"],
    )
    return [row["charged_on"] for row in rows]


async def finish_attempt(attempt_id: int, values: dict[str, Any]) -> bool:
    """Move a pending attempt to its outcome; False when it was settled meanwhile (e.g. by
    the webhook), so the outcome is announced once."""
    columns = {getattr(AutopayAttempt, name): value for name, value in values.items()}
    columns[AutopayAttempt.claimed_until] = None
    columns[AutopayAttempt.updated_at] = now()
    rows = await (
        AutopayAttempt.update(columns)
        .where((AutopayAttempt.id == attempt_id) & (AutopayAttempt.status == "pending"))
        .returning(AutopayAttempt.id)
    )
    return bool(rows)


async def hold_for_later(attempt_id: int, message: str) -> None:
    """The outcome is unknown: keep the attempt pending, to be asked again after the lease."""
    moment = now()
    await AutopayAttempt.update(
        {
            AutopayAttempt.message: message[:500],
            AutopayAttempt.claimed_until: moment + ATTEMPT_LEASE,
            AutopayAttempt.updated_at: moment,
        }
    ).where((AutopayAttempt.id == attempt_id) & (AutopayAttempt.status == "pending"))


async def set_method_status(
    ctx: TenantContext, customer_id: int, method_key: str, status: str, reason: str
) -> bool:
    """Pause or expire the customer's method if it is still the active one with this key."""
    rows = await (
        AutopayMethod.update(
            {
                AutopayMethod.status: status,
                AutopayMethod.status_reason: reason[:300],
                AutopayMethod.updated_at: now(),
            }
        )
        .where(
            (AutopayMethod.tenant == ctx.tenant_id)
            & (AutopayMethod.customer == customer_id)
            & (AutopayMethod.key == method_key)
            & (AutopayMethod.status == "active")
        )
        .returning(AutopayMethod.id)
    )
    return bool(rows)
