"""The autopay job: per tenant, reconcile what a crash left pending, mail pre-debit notices,
then charge what is due, up to `max_in_flight` gateway calls at once.

Never twice: an attempt is a row unique on (invoice, attempt_no), inserted with its
idempotency key and a lease before the gateway is called; the process whose insert succeeds
is the only one that calls. A process that dies after the gateway charged leaves the attempt
pending; once its lease is over the next run (or the gateway's webhook) asks the gateway again
with the same key, which answers the same charge, and records it. Payments go to the ledger
through `arportal.record_payments`, which is insert-only by external id, so recording twice
cannot happen either.

Invoices go in chunks: a chunk is claimed in one statement, its calls run concurrently, and
it is settled in a few transactions (the database cost per invoice is then a few
milliseconds, under the gateway's latency), while the next chunks are being charged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import logging
from collections import defaultdict, deque
from decimal import Decimal
from typing import Any

from arportal import (
    LedgerError,
    TenantContext,
    emit_event,
    from_minor,
    holds_for,
    record_payments,
)
from arportal.plugins.autopay import mail, store
from arportal.plugins.autopay.gateways.base import (
    ChargeRequest,
    ChargeResult,
    GatewayUnavailable,
    card_expired,
)
from arportal.plugins.autopay.i18n import translator
from arportal.plugins.autopay.registry import gateways, tenant_gateway
from arportal.plugins.autopay.schedule import Plan, charge_day, plan, retry_day

log = logging.getLogger("arportal.plugins.autopay")

CHUNK_PER_CALL = 4
"""Invoices claimed together: this many per gateway call allowed at once."""
CHUNKS_AT_ONCE = 3


@dataclasses.dataclass
class Report:
    notices: int = 0
    charged: int = 0
    succeeded: int = 0
    failed: int = 0
    unknown: int = 0
    reconciled: int = 0
    review: int = 0
    held: int = 0
    expired_methods: int = 0
    errors: int = 0


def decimal_amount(minor: int, currency: str) -> Decimal:
    return from_minor(minor, currency)


def amount_str(minor: int, currency: str) -> str:
    return str(from_minor(minor, currency))


def event_data(attempt: dict[str, Any]) -> dict[str, Any]:
    """An attempt as events, the audit log and webhooks show it (never the method's token)."""
    return {
        "attempt_id": attempt["id"],
        "invoice_external_id": attempt["invoice_external_id"],
        "invoice_number": attempt["invoice_number"],
        "customer_external_id": attempt["customer_external_id"],
        "attempt": attempt["attempt_no"],
        "amount": amount_str(attempt["amount_minor"], attempt["currency"]),
        "currency": attempt["currency"],
        "gateway": attempt["gateway"],
        "status": attempt["status"],
        "charge_id": attempt["charge_id"],
        "decline_code": attempt["decline_code"],
        "hard": bool(attempt["hard"]),
        "final": bool(attempt["final"]),
        "retry_on": attempt["retry_on"].isoformat() if attempt["retry_on"] else None,
        "payment_external_id": attempt["payment_external_id"],
    }


# --- settling attempts, a batch at a time -------------------------------------------------


Outcome = tuple[dict[str, Any], ChargeResult | Exception]
"""An attempt and what its gateway call gave: a result, or why the outcome is unknown."""


def _payment_of(attempt: dict[str, Any], charge_id: str, allocated: int | None = None
                ) -> dict[str, Any]:
    """The ledger payment of a successful charge, allocated to its invoice (`allocated`:
    how much of it, by default all)."""
    amount, currency = attempt["amount_minor"], attempt["currency"]
    share = amount if allocated is None else allocated
    return {
        "external_id": f"autopay-{charge_id}"[:100],
        "customer_external_id": attempt["customer_external_id"],
        "date": attempt["charged_on"],
        "currency": currency,
        "amount": decimal_amount(amount, currency),
        "allocations": (
            {attempt["invoice_external_id"]: decimal_amount(share, currency)} if share else {}
        ),
    }


async def _record_one(ctx: TenantContext, attempt: dict[str, Any], charge_id: str) -> None:
    """One payment, allocated to its invoice as far as it is still due (a payment recorded
    meanwhile leaves the rest unallocated, for the operator)."""
    invoice = await store.fresh_invoice(ctx, attempt["invoice"])
    allocated = 0
    if invoice and invoice["status"] == "open" and invoice["currency"] == attempt["currency"]:
        allocated = min(attempt["amount_minor"], invoice["amount_due_minor"])
    payment = _payment_of(attempt, charge_id, allocated)
    try:
        await record_payments(ctx, [payment])
    except LedgerError as exc:
        if not payment["allocations"]:
            raise
        log.warning("tenant %s: payment %s recorded unallocated: %s", ctx.slug,
                    payment["external_id"], exc)
        await record_payments(ctx, [{**payment, "allocations": {}}])


async def _record(ctx: TenantContext, paid: list[tuple[dict[str, Any], ChargeResult]]) -> None:
    """The payments of successful charges: in one ledger write, or one by one when one of
    them no longer fits its invoice."""
    try:
        await record_payments(ctx, [_payment_of(a, r.charge_id) for a, r in paid])
    except LedgerError:
        for attempt, result in paid:
            await _record_one(ctx, attempt, result.charge_id)


async def settle(ctx: TenantContext, outcomes: list[Outcome], report: Report) -> None:
    """Record what the gateway said about held attempts: the payments first (the ledger's own
    transaction), then in one transaction each attempt's outcome with its mail, then the
    events. A crash between two steps leaves attempts pending, to be settled again with the
    same answer (payments are insert-only, mails deduplicated)."""
    paid = [(a, r) for a, r in outcomes if isinstance(r, ChargeResult) and r.status == "succeeded"]
    if paid:
        await _record(ctx, paid)
    announced: list[tuple[str, dict[str, Any]]] = []
    paused: list[dict[str, Any]] = []
    retry_days = ctx.settings("autopay").retry_days
    async with store.writing():
        for attempt, result in outcomes:
            if not isinstance(result, ChargeResult):
                report.unknown += 1
                log.warning("tenant %s: attempt %s left pending: %s", ctx.slug, attempt["id"],
                            result)
                await store.hold_for_later(attempt["id"], str(result))
                continue
            tr = translator(attempt["customer_locale"])
            method = mail.method_label(tr, attempt["brand"], attempt["last4"])
            if result.status == "succeeded":
                values: dict[str, Any] = {
                    "status": "succeeded", "charge_id": result.charge_id, "message": "",
                    "payment_external_id": _payment_of(attempt, result.charge_id)["external_id"],
                }
                if not await store.finish_attempt(attempt["id"], values):
                    continue
                attempt = {**attempt, **values}
                report.succeeded += 1
                await mail.receipt(ctx, attempt, method)
                announced.append(("autopay_succeeded", attempt))
                continue
            failures = [*await store.failure_days(attempt), attempt["charged_on"]]
            retry = retry_day(failures, result.hard, retry_days)
            values = {"status": "failed", "charge_id": result.charge_id,
                      "decline_code": result.decline_code[:64], "message": result.message[:500],
                      "hard": result.hard, "final": retry is None, "retry_on": retry}
            if not await store.finish_attempt(attempt["id"], values):
                continue
            attempt = {**attempt, **values}
            report.failed += 1
            await mail.declined(ctx, attempt, method)
            if retry is None and await _pause(ctx, attempt, result):
                paused.append(attempt)
            announced.append(("autopay_failed", attempt))
    async with store.writing():
        for attempt in paused:
            data = {"customer_external_id": attempt["customer_external_id"],
                    "reason": attempt["pause_reason"],
                    "invoice_external_id": attempt["invoice_external_id"]}
            await emit_event(ctx, "autopay_method_paused", data, subject_type="customer",
                             subject_id=attempt["customer_external_id"])
        for name, attempt in announced:
            data = event_data(attempt)
            await emit_event(ctx, name, data, subject_type="invoice",
                             subject_id=attempt["invoice_external_id"])
            await ctx.call(f"arportal_{name}", attempt=data)


async def _pause(ctx: TenantContext, attempt: dict[str, Any], result: ChargeResult) -> bool:
    """Pause the method after its last retry or a hard decline, and tell the operator."""
    reason = (
        f"declined ({result.decline_code or 'card_declined'})"
        if result.hard else f"declined {attempt['attempt_no']} times"
    )
    attempt["pause_reason"] = reason
    if not await store.set_method_status(
        ctx, attempt["customer"], attempt["method_key"], "paused", reason
    ):
        return False
    await mail.to_operator(
        ctx, f"Autopay paused for {attempt['customer_name']}", "operator_paused",
        f"autopay-paused-{attempt['method_key']}", attempt=attempt, reason=reason,
    )
    return True


async def _call(charger: Any, attempt: dict[str, Any], gate: asyncio.Semaphore) -> Outcome:
    """One gateway call, at most `max_in_flight` at once. Anything but an answer (a timeout,
    a bug) leaves the outcome unknown: the attempt stays pending for reconciliation."""
    request = ChargeRequest(
        idempotency_key=attempt["idempotency_key"],
        amount_minor=attempt["amount_minor"],
        currency=attempt["currency"],
        reference=attempt["reference"],
        gateway_customer=attempt["gateway_customer"],
        description=f"{attempt['tenant_name']}: invoice {attempt['invoice_number']}"[:300],
        metadata={
            "arportal_attempt": attempt["idempotency_key"],
            "invoice": attempt["invoice_external_id"],
            "customer": attempt["customer_external_id"],
        },
    )
    try:
        async with gate:
            return attempt, await charger.charge(request)
    except GatewayUnavailable as exc:
        return attempt, exc
    except Exception as exc:
        log.exception("gateway %r failed on attempt %s", attempt["gateway"], attempt["id"])
        return attempt, exc


# --- the run ---------------------------------------------------------------------------------


async def reconcile(ctx: TenantContext, gate: asyncio.Semaphore, report: Report) -> None:
    """Ask again, with the same key, about every attempt a dead process left pending."""
    stale = await store.reclaim_stale(ctx)
    if not stale:
        return
    installed = await gateways(ctx)
    by_gateway: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for attempt in stale:
        by_gateway[attempt["gateway"]].append({**attempt, "tenant_name": ctx.name})
    for name, attempts in by_gateway.items():
        gateway = installed.get(name)
        if gateway is None:
            log.error("tenant %s: %d pending attempts of gateway %r, which is not installed",
                      ctx.slug, len(attempts), name)
            report.errors += len(attempts)
            continue
        report.reconciled += len(attempts)
        window = gateway.idempotency_window
        late = [a for a in attempts
                if window is not None and a["created_at"] + window < store.now()]
        for attempt in late:
            await _to_review(ctx, attempt, report)
        asked = [a for a in attempts if a not in late]
        if asked:
            async with gateway.open_session(ctx) as charger:
                outcomes = await asyncio.gather(*(_call(charger, a, gate) for a in asked))
            await settle(ctx, list(outcomes), report)


async def _to_review(ctx: TenantContext, attempt: dict[str, Any], report: Report) -> None:
    message = "the gateway no longer remembers this key: check the charge in its dashboard"
    if not await store.finish_attempt(attempt["id"], {"status": "review", "message": message}):
        return
    report.review += 1
    attempt = {**attempt, "status": "review", "message": message}
    await emit_event(ctx, "autopay_review", event_data(attempt), subject_type="invoice",
                     subject_id=attempt["invoice_external_id"])
    await mail.to_operator(
        ctx, f"Autopay: check invoice {attempt['invoice_number']}", "operator_review",
        f"autopay-review-{attempt['idempotency_key']}", attempt=attempt,
    )


async def _expire_methods(ctx: TenantContext, rows: list[dict[str, Any]], today: dt.date,
                          report: Report) -> set[str]:
    """Methods past their expiry are set aside before anything is charged to them."""
    expired: set[str] = set()
    for row in rows:
        key = row["method_key"]
        if key in expired or not card_expired(row["method_exp_month"], row["method_exp_year"],
                                              today):
            continue
        expired.add(key)
        if await store.set_method_status(ctx, row["customer"], key, "expired", "card expired"):
            report.expired_methods += 1
            customer = mail.customer_of(row)
            tr = translator(customer["locale"])
            label = mail.method_label(tr, row["method_brand"], row["method_last4"])
            await mail.expired(ctx, customer, label, key)
            await emit_event(ctx, "autopay_method_expired",
                             {"customer_external_id": customer["external_id"]},
                             subject_type="customer", subject_id=customer["external_id"])
    return expired


def _method(row: dict[str, Any]) -> dict[str, Any]:
    return {"key": row["method_key"], "saved_on": row["method_saved_on"]}


async def _send_notices(ctx: TenantContext, due: list[tuple[dict[str, Any], Plan]],
                        today: dt.date, report: Report) -> None:
    """Note the notices (one statement per thousand), then mail each customer once, listing
    the invoices this process noted (another process may have noted some)."""
    settings = ctx.settings("autopay")
    rows = {row["id"]: (row, planned) for row, planned in due}
    noted = await store.record_notices(ctx, [
        (row, charge_day(row["due_date"], row["method_saved_on"], settings.days_before_due))
        for row, _planned in due
    ], today)
    by_customer: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for invoice_id in noted:
        row, planned = rows[invoice_id]
        by_customer[row["customer"]].append({**row, "charge_on": planned.next_charge})
    async with store.writing():
        for customer_rows in by_customer.values():
            await _notice_mail(ctx, customer_rows, today, report)


async def _notice_mail(ctx: TenantContext, rows: list[dict[str, Any]], today: dt.date,
                       report: Report) -> None:
    report.notices += len(rows)
    first = rows[0]
    customer = mail.customer_of(first)
    tr = translator(customer["locale"])
    label = mail.method_label(tr, first["method_brand"], first["method_last4"])
    items = [
        {"number": r["number"], "amount_minor": r["amount_due_minor"],
         "currency": r["currency"], "charge_on": r["charge_on"]}
        for r in rows
    ]
    digest = hashlib.sha256(
        repr(sorted((r["id"], r["amount_due_minor"]) for r in rows)).encode()
    ).hexdigest()[:16]
    await mail.notice(ctx, customer, items, label,
                      f"autopay-notice-{customer['id']}-{today.isoformat()}-{digest}")


async def run_autopay(ctx: TenantContext) -> dict[str, Any]:
    """The job (`autopay.charge`), for one tenant with the feature on."""
    settings = ctx.settings("autopay")
    report = Report()
    gate = asyncio.Semaphore(settings.max_in_flight)
    await reconcile(ctx, gate, report)
    gateway = await tenant_gateway(ctx)
    today = ctx.today()
    horizon = today + dt.timedelta(days=settings.notice_days + settings.days_before_due)
    rows = await store.candidates(ctx, horizon)
    attempts = await store.open_attempts(ctx)
    notices = await store.open_notices(ctx)
    expired = await _expire_methods(ctx, rows, today, report)
    planned = [
        (row, plan(invoice=row, method=_method(row), attempts=attempts.get(row["id"], []),
                   notice=notices.get(row["id"]), settings=settings, today=today))
        for row in rows
        if row["method_key"] not in expired and row["method_gateway"] == gateway.name
    ]
    planned = [(row, p) for row, p in planned if p.notice or p.charge]
    if settings.skip_held and planned:
        held = await holds_for(ctx, [row for row, _p in planned])
        report.held = len(held)
        planned = [(row, p) for row, p in planned if row["id"] not in held]
    await _send_notices(ctx, [(row, p) for row, p in planned if p.notice], today, report)
    due = [
        {**row, "attempt_no": max((a["attempt_no"] for a in attempts.get(row["id"], [])),
                                  default=0) + 1}
        for row, p in planned if p.charge
    ]
    if due:
        async with gateway.open_session(ctx) as charger:
            await _charge_all(ctx, charger, due, today, gate, settings.max_in_flight, report)
    return dataclasses.asdict(report)


async def _charge_all(ctx: TenantContext, charger: Any, due: list[dict[str, Any]],
                      today: dt.date, gate: asyncio.Semaphore, max_in_flight: int,
                      report: Report) -> None:
    """Chunks of invoices, each claimed in one statement, charged concurrently, then settled
    together. A few chunks are in progress at once, so the gateway calls of one overlap the
    database work of another."""
    size = max(8, max_in_flight * CHUNK_PER_CALL)
    chunks = deque(due[start:start + size] for start in range(0, len(due), size))

    async def worker() -> None:
        while chunks:
            chunk = chunks.popleft()
            try:
                claimed = await store.claim_attempts(ctx, chunk, today)
                report.charged += len(claimed)
                outcomes = await asyncio.gather(*(_call(charger, a, gate) for a in claimed))
                await settle(ctx, list(outcomes), report)
            except Exception:
                # The chunk's attempts stay pending (if claimed) and are reconciled later.
                report.errors += len(chunk)
                log.exception("tenant %s: autopay failed for %d invoices", ctx.slug, len(chunk))

    await asyncio.gather(*(worker() for _ in range(min(CHUNKS_AT_ONCE, len(chunks)))))


async def settle_by_key(ctx: TenantContext, key: str, result: ChargeResult) -> bool:
    """Settle a pending attempt from a gateway's webhook, unless a live process holds it
    (that process settles it). Answers whether it was settled here."""
    attempt = await store.reclaim_by_key(ctx, key)
    if attempt is None:
        return False
    await settle(ctx, [(attempt, result)], Report())
    return True


__all__ = ["run_autopay", "settle", "settle_by_key"]
