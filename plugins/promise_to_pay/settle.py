"""Settling promises, and the reminder the day before.

A pending promise is **kept** once its invoice's amount due has come down to zero, or by the
promised amount since the promise was made, as seen on or before its date in the tenant's time
zone: by the settling job, or at once when the core reports a change to the invoice. Once the
date has passed (the tenant's today is later), a promise still pending is **broken**, unless
the invoice is paid down and was last changed before the end of the date (a change the job
had not seen yet). A promise on an invoice that became void is **cancelled**.

Safe from two processes at once: the pending rows are claimed with `FOR UPDATE SKIP LOCKED` on
PostgreSQL (SQLite's IMMEDIATE transaction lets one writer in at a time), and each is settled
by a conditional UPDATE that only changes a row still pending. Mail and history are written in
the same transaction, under dedupe keys; events follow the commit. Running it again changes
nothing and mails nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from arportal import Invoice, TenantContext, emit_event, transaction
from arportal.plugins.promise_to_pay import mail, queries
from arportal.plugins.promise_to_pay.i18n import translator
from arportal.plugins.promise_to_pay.models import Promise
from arportal.plugins.promise_to_pay.service import finish, is_postgres, settings_of

Row = dict[str, Any]


@dataclass
class Settled:
    kept: int = 0
    broken: int = 0
    cancelled: int = 0
    reminded: int = 0


def met(promise: Row, invoice: Row) -> bool:
    """Whether the invoice has been paid as promised."""
    due = invoice["amount_due_minor"]
    return due <= 0 or promise["due_at_promise_minor"] - due >= promise["amount_minor"]


def end_of(day: dt.date, ctx: TenantContext) -> dt.datetime:
    """The first instant after `day` in the tenant's time zone."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=ctx.timezone)


def outcome(promise: Row, invoice: Row, today: dt.date, ctx: TenantContext) -> str | None:
    """The status a pending promise settles to today, or None while it stays pending."""
    if invoice["status"] == "void":
        return "cancelled"
    if today <= promise["promised_date"]:
        return "kept" if met(promise, invoice) else None
    in_time = invoice["updated_at"] < end_of(promise["promised_date"], ctx)
    return "kept" if met(promise, invoice) and in_time else "broken"


async def _claim_pending(ctx: TenantContext, invoice_ids: list[int] | None) -> list[Row]:
    where = (Promise.tenant == ctx.tenant_id) & (Promise.status == "pending")
    if invoice_ids is not None:
        where &= Promise.invoice.is_in(invoice_ids)
    query = Promise.select().where(where).order_by(Promise.id)
    if is_postgres():
        query = query.lock_rows("UPDATE", skip_locked=True)
    return await query  # type: ignore[no-any-return]


async def _invoices(ctx: TenantContext, ids: list[int]) -> dict[int, Row]:
    if not ids:
        return {}
    rows = await Invoice.select(
        Invoice.id, Invoice.status, Invoice.amount_due_minor, Invoice.updated_at
    ).where((Invoice.tenant == ctx.tenant_id) & Invoice.id.is_in(ids))
    return {row["id"]: row for row in rows}


async def settle(ctx: TenantContext, invoice_ids: list[int] | None = None) -> Settled:
    """Settle what can be settled today (only the promises of `invoice_ids` when given)."""
    today = ctx.today()
    done = Settled()
    events: list[tuple[str, Row, Row]] = []
    t = translator("en")
    async with transaction():
        pending = await _claim_pending(ctx, invoice_ids)
        invoices = await _invoices(ctx, sorted({p["invoice"] for p in pending}))
        decided = [
            (promise, status)
            for promise in pending
            if promise["invoice"] in invoices
            and (status := outcome(promise, invoices[promise["invoice"]], today, ctx))
        ]
        if decided:
            await queries.add_invoices(ctx.tenant_id, [promise for promise, _ in decided])
            customers = await queries.customers_by_id(
                ctx.tenant_id, {promise["customer"] for promise, _ in decided}
            )
        for promise, status in decided:
            await finish(ctx, promise, status, "system", t=t)
            setattr(done, status, getattr(done, status) + 1)
            customer = customers[promise["customer"]]
            if status == "broken":
                await mail.notify_team(
                    ctx, "broken", customer, [promise],
                    dedupe_key=f"promise_to_pay:broken:{promise['id']}",
                )
            events.append((f"promise_{status}", promise, customer))
    for name, promise, customer in events:
        await emit_event(
            ctx, name, queries.event_data(promise, customer["external_id"]),
            subject_type="promise", subject_id=str(promise["id"]),
        )
    return done


async def remind(ctx: TenantContext) -> int:
    """Mail each customer whose pending promises fall due tomorrow, once per promised date
    (`reminded_for`), and not for a date chosen today (the confirmation just went out).
    Answers how many customers were mailed."""
    if not settings_of(ctx).remind_customer:
        return 0
    today = ctx.today()
    tomorrow = today + dt.timedelta(days=1)
    sent = 0
    async with transaction():
        query = (
            Promise.select()
            .where(
                (Promise.tenant == ctx.tenant_id)
                & (Promise.status == "pending")
                & (Promise.promised_date == tomorrow)
                & (Promise.date_set_on < today)
                & (Promise.reminded_for.is_null() | (Promise.reminded_for != tomorrow))
            )
            .order_by(Promise.id)
        )
        if is_postgres():
            query = query.lock_rows("UPDATE", skip_locked=True)
        rows = await query
        if not rows:
            return 0
        customers = await queries.customers_by_id(ctx.tenant_id, {row["customer"] for row in rows})
        by_customer: dict[int, list[Row]] = {}
        for row in rows:
            if customers[row["customer"]]["email"]:
                by_customer.setdefault(row["customer"], []).append(row)
        for customer_id, promises in by_customer.items():
            claimed = await (
                Promise.update({Promise.reminded_for: tomorrow})
                .where(
                    Promise.id.is_in([p["id"] for p in promises])
                    & (Promise.status == "pending")
                    & (Promise.reminded_for.is_null() | (Promise.reminded_for != tomorrow))
                )
                .returning(Promise.id)
            )
            ids = {row["id"] for row in claimed}
            promises = [p for p in promises if p["id"] in ids]
            if not promises:
                continue
            await queries.add_invoices(ctx.tenant_id, promises)
            await mail.mail_customer(
                ctx, "reminder", customers[customer_id], promises,
                dedupe_key=f"promise_to_pay:remind:{customer_id}:{tomorrow.isoformat()}",
            )
            sent += 1
    return sent


async def run_job(ctx: TenantContext) -> dict[str, int]:
    """The `promise_to_pay.settle` job: settle, then remind. Answers what it did."""
    done = await settle(ctx)
    done.reminded = await remind(ctx)
    return asdict(done)
