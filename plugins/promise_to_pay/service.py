"""Making, changing, withdrawing and cancelling promises.

Each change is all or nothing: checks, the promise rows, their history and the mail they
cause are written in one transaction; the events (`promise_made`, ...) follow the commit.
Only a pending promise changes, by a conditional UPDATE (`... WHERE status = 'pending'`), so a
change racing the settling job (or another tab) loses cleanly instead of overwriting it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from piccolo.engine.base import Engine

from arportal import TenantContext, emit_event, transaction
from arportal.plugins.promise_to_pay import mail, queries
from arportal.plugins.promise_to_pay.checks import (
    PromiseNotFound,
    PromiseRefused,
    Request,
    check_note,
    check_request,
    parse_date,
    window_error,
)
from arportal.plugins.promise_to_pay.i18n import translator
from arportal.plugins.promise_to_pay.models import Promise, PromiseHistory
from arportal.plugins.promise_to_pay.settings import SECTION, PromiseToPaySettings

Row = dict[str, Any]


def settings_of(ctx: TenantContext) -> PromiseToPaySettings:
    return ctx.settings(SECTION)  # type: ignore[no-any-return]


def _engine() -> Engine:
    return Promise._meta.db


def is_postgres() -> bool:
    return _engine().engine_type == "postgres"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _unique_violation(exc: BaseException) -> bool:
    """Another request made a pending promise for the same invoice first (PostgreSQL; SQLite
    writers queue, so the checks already saw it)."""
    return type(exc).__name__ in ("UniqueViolationError", "IntegrityError")


async def make_promises(
    ctx: TenantContext, customer: Row, request: Request, *, source: str, locale: str
) -> list[Row]:
    """Promise to pay the requested invoices of `customer` by one date; answers the promises.

    Raises `PromiseRefused` with every problem (in `locale`), and then writes nothing."""
    try:
        promises = await _make(ctx, customer, request, source, locale)
    except Exception as exc:
        if not _unique_violation(exc):
            raise
        # Another request promised one of these invoices meanwhile: the checks now say which.
        promises = await _make(ctx, customer, request, source, locale)
    for promise in promises:
        await _event(ctx, "promise_made", promise, customer)
    return promises


async def _make(
    ctx: TenantContext, customer: Row, request: Request, source: str, locale: str
) -> list[Row]:
    today = ctx.today()
    async with transaction():
        checked = await check_request(
            request,
            tenant_id=ctx.tenant_id,
            customer_id=customer["id"],
            settings=settings_of(ctx),
            today=today,
            hide_future=ctx.portal_settings.hide_future_invoices,
            locale=locale,
            t=translator(locale),
        )
        batch = secrets.token_hex(8)
        await Promise.insert(
            *[
                Promise(
                    tenant=ctx.tenant_id,
                    customer=customer["id"],
                    invoice=item.invoice["id"],
                    batch=batch,
                    promised_date=checked.date,
                    made_on=today,
                    date_set_on=today,
                    amount_minor=item.amount_minor,
                    due_at_promise_minor=item.invoice["amount_due_minor"],
                    currency=item.invoice["currency"],
                    note=checked.note,
                    status="pending",
                    source=source,
                )
                for item in checked.items
            ]
        )
        promises = await queries.add_invoices(
            ctx.tenant_id,
            await Promise.select()
            .where((Promise.tenant == ctx.tenant_id) & (Promise.batch == batch))
            .order_by(Promise.id),
        )
        await PromiseHistory.insert(
            *[
                PromiseHistory(
                    tenant=ctx.tenant_id, promise=p["id"], action="made", actor=source,
                    promised_date=checked.date, note=checked.note,
                )
                for p in promises
            ]
        )
        await mail.notify_team(
            ctx, "made", customer, promises, note=checked.note,
            dedupe_key=f"promise_to_pay:made:{batch}",
        )
        await mail.mail_customer(
            ctx, "made", customer, promises, dedupe_key=f"promise_to_pay:confirm:{batch}"
        )
    return promises


async def _event(ctx: TenantContext, name: str, promise: Row, customer: Row) -> None:
    await emit_event(
        ctx,
        name,
        queries.event_data(promise, customer["external_id"]),
        subject_type="promise",
        subject_id=str(promise["id"]),
    )


async def _locked(ctx: TenantContext, promise_id: int, customer_id: int | None) -> Row:
    """The promise, locked until the transaction ends (PostgreSQL; SQLite writers queue)."""
    where = (Promise.tenant == ctx.tenant_id) & (Promise.id == promise_id)
    if customer_id is not None:
        where &= Promise.customer == customer_id
    query = Promise.select().where(where)
    if is_postgres():
        query = query.lock_rows("UPDATE")
    rows = await query
    if not rows:
        raise PromiseNotFound(promise_id)
    return (await queries.add_invoices(ctx.tenant_id, rows))[0]


async def _customer(ctx: TenantContext, customer_id: int) -> Row:
    if ctx.customer is not None and ctx.customer["id"] == customer_id:
        return ctx.customer  # type: ignore[no-any-return]
    return (await queries.customers_by_id(ctx.tenant_id, {customer_id}))[customer_id]


def _changeable(promise: Row, today: dt.date, t: Any) -> str:
    if promise["status"] != "pending":
        return t("This promise is no longer pending.")
    if today > promise["promised_date"]:
        return t("The promised date has passed: the promise can no longer be changed.")
    return ""


async def change_date(
    ctx: TenantContext,
    promise_id: int,
    new_date: dt.date | str | None,
    note: str = "",
    *,
    customer_id: int | None,
    actor: str,
    locale: str,
) -> Row:
    """Move a pending promise to another date within `max_days` of the day it was made."""
    t = translator(locale)
    settings = settings_of(ctx)
    today = ctx.today()
    async with transaction():
        promise = await _locked(ctx, promise_id, customer_id)
        errors: dict[str, str] = {}
        problem = _changeable(promise, today, t)
        if problem:
            raise PromiseRefused({"promise": problem})
        chosen, problem = parse_date(new_date, t)
        if chosen is not None:
            last = promise["made_on"] + dt.timedelta(days=settings.max_days)
            problem = window_error(chosen, today, last, locale, t)
            if not problem and chosen == promise["promised_date"]:
                problem = t("That is already the promised date.")
        if problem:
            errors["date"] = problem
        note, problem = check_note(note, t)
        if problem:
            errors["note"] = problem
        if errors:
            raise PromiseRefused(errors)
        assert chosen is not None
        previous = promise["promised_date"]
        await _update_pending(
            promise,
            t,
            {Promise.promised_date: chosen, Promise.date_set_on: today},
        )
        promise["promised_date"] = chosen
        entry = await _history(ctx, promise, "changed", actor, note, previous_date=previous)
        customer = await _customer(ctx, promise["customer"])
        await mail.notify_team(
            ctx, "changed", customer, [promise], note=note, previous_date=previous,
            dedupe_key=f"promise_to_pay:changed:{entry}",
        )
        await mail.mail_customer(
            ctx, "changed", customer, [promise], dedupe_key=f"promise_to_pay:changed-ack:{entry}"
        )
    await _event(ctx, "promise_changed", promise, customer)
    return promise


async def withdraw(
    ctx: TenantContext, promise_id: int, note: str = "", *, customer_id: int | None,
    actor: str, locale: str,
) -> Row:
    """The customer takes a pending promise back (before its date has passed)."""
    t = translator(locale)
    today = ctx.today()
    async with transaction():
        promise = await _locked(ctx, promise_id, customer_id)
        problem = _changeable(promise, today, t)
        if problem:
            raise PromiseRefused({"promise": problem})
        note, problem = check_note(note, t)
        if problem:
            raise PromiseRefused({"note": problem})
        await finish(ctx, promise, "withdrawn", actor, note, t=t)
        customer = await _customer(ctx, promise["customer"])
        await mail.notify_team(
            ctx, "withdrawn", customer, [promise], note=note,
            dedupe_key=f"promise_to_pay:withdrawn:{promise['id']}",
        )
        await mail.mail_customer(
            ctx, "withdrawn", customer, [promise],
            dedupe_key=f"promise_to_pay:withdrawn-ack:{promise['id']}",
        )
    await _event(ctx, "promise_withdrawn", promise, customer)
    return promise


async def cancel(ctx: TenantContext, promise_id: int, note: str = "") -> Row:
    """The finance team cancels a pending promise (whatever its date)."""
    t = translator("en")
    async with transaction():
        promise = await _locked(ctx, promise_id, None)
        if promise["status"] != "pending":
            raise PromiseRefused({"status": f"the promise is {promise['status']}, not pending"})
        note, problem = check_note(note, t)
        if problem:
            raise PromiseRefused({"note": problem})
        await finish(ctx, promise, "cancelled", "team", note, t=t)
        customer = await _customer(ctx, promise["customer"])
    await _event(ctx, "promise_cancelled", promise, customer)
    return promise


async def _update_pending(promise: Row, t: Any, values: dict[Any, Any]) -> None:
    """Change a promise only while it is pending (the status is re-checked by the UPDATE)."""
    now = _now()
    updated = await (
        Promise.update({**values, Promise.updated_at: now})
        .where((Promise.id == promise["id"]) & (Promise.status == "pending"))
        .returning(Promise.id)
    )
    if not updated:
        raise PromiseRefused({"promise": t("This promise is no longer pending.")})
    promise["updated_at"] = now


async def finish(
    ctx: TenantContext, promise: Row, status: str, actor: str, note: str = "", *, t: Any
) -> None:
    """Settle a pending promise as kept, broken, withdrawn or cancelled, with its history entry
    (inside the caller's transaction)."""
    now = _now()
    await _update_pending(promise, t, {Promise.status: status, Promise.settled_at: now})
    promise["status"] = status
    promise["settled_at"] = now
    await _history(ctx, promise, status, actor, note)


async def _history(
    ctx: TenantContext, promise: Row, action: str, actor: str, note: str = "",
    previous_date: dt.date | None = None,
) -> int:
    rows = await PromiseHistory.insert(
        PromiseHistory(
            tenant=ctx.tenant_id, promise=promise["id"], action=action, actor=actor,
            promised_date=promise["promised_date"], previous_date=previous_date, note=note,
        )
    ).returning(PromiseHistory.id)
    return int(rows[0]["id"])
