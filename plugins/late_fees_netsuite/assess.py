"""Assessing fees: the first half of the job, all in the database.

For each open, overdue invoice (past the grace) of a customer whose `late_fees` toggle is on
and that no plugin holds (`arportal.holds_for`: disputes, promises), the periods `policy`
says are due become fee rows. Rows are inserted with ON CONFLICT DO NOTHING on the unique
key (tenant, invoice, period): two runs at once, or a run repeated, assess a period once.
If a plugin cannot say which invoices it holds, nothing is assessed (`HoldsUnavailable`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from arportal import Invoice, TenantContext, emit_event, holds_for
from arportal.plugins.late_fees_netsuite.models import LateFee
from arportal.plugins.late_fees_netsuite.policy import History, new_fees
from arportal.plugins.late_fees_netsuite.settings import LateFeeSettings

TOGGLE = "late_fees"
BATCH = 500

_OVERDUE = (
    "SELECT i.id, i.customer, i.external_id, i.number, i.due_date, i.currency, "
    "i.amount_due_minor, i.status "
    "FROM invoice i JOIN customer_toggle t ON t.tenant = i.tenant AND t.customer = i.customer "
    "WHERE i.tenant = {} AND t.key = {} AND t.enabled = {} AND i.status = 'open' "
    "AND i.amount_due_minor > 0 AND i.due_date < {} AND i.id > {} "
    "ORDER BY i.id LIMIT {}"
)


def external_id(ctx: TenantContext, invoice_id: int, period: int) -> str:
    """The fee's stable id in NetSuite (its invoice's `externalId`)."""
    return f"arportal-{ctx.slug}-fee-{invoice_id}-{period}"


def policy_of(settings: LateFeeSettings) -> dict[str, Any]:
    return {
        "fee_type": settings.fee_type,
        "rate": str(settings.rate) if settings.rate is not None else None,
        "amount": str(settings.amount) if settings.amount is not None else None,
        "recurrence": settings.recurrence,
        "grace_days": settings.grace_days,
    }


async def _histories(tenant_id: int, invoice_ids: list[int]) -> dict[int, History]:
    rows = await LateFee.select(
        LateFee.invoice, LateFee.period, LateFee.period_end, LateFee.status, LateFee.amount_minor
    ).where((LateFee.tenant == tenant_id) & LateFee.invoice.is_in(invoice_ids))
    found: dict[int, History] = {}
    for row in sorted(rows, key=lambda r: r["period"]):
        before = found.get(row["invoice"], History())
        charged = row["amount_minor"] if row["status"] != "waived" else 0
        found[row["invoice"]] = History(
            last_period=row["period"],
            last_end=row["period_end"],
            charged_minor=before.charged_minor + charged,
        )
    return found


async def _insert(rows: list[LateFee]) -> list[dict[str, Any]]:
    if not rows:
        return []
    return await (
        LateFee.insert(*rows)
        .on_conflict(target=(LateFee.tenant, LateFee.invoice, LateFee.period), action="DO NOTHING")
        .returning(LateFee.id, LateFee.invoice, LateFee.period, LateFee.amount_minor,
                   LateFee.currency, LateFee.external_id)
    )


async def assess(ctx: TenantContext, settings: LateFeeSettings, today: dt.date) -> int:
    """Write the fees due today; answer how many were new."""
    if settings.missing_policy() is not None:
        return 0
    cutoff = today - dt.timedelta(days=settings.grace_days)
    policy = policy_of(settings)
    after, created = 0, 0
    while True:
        invoices = await Invoice.raw(
            _OVERDUE, ctx.tenant_id, TOGGLE, True, cutoff, after, BATCH
        )
        if not invoices:
            return created
        after = invoices[-1]["id"]
        held = await holds_for(ctx, invoices)
        free = [row for row in invoices if row["id"] not in held]
        histories = await _histories(ctx.tenant_id, [row["id"] for row in free]) if free else {}
        rows = []
        for invoice in free:
            due_date = invoice["due_date"]
            if isinstance(due_date, str):
                due_date = dt.date.fromisoformat(due_date)
            for fee in new_fees(
                settings,
                due_date=due_date,
                basis_minor=int(invoice["amount_due_minor"]),
                currency=invoice["currency"],
                today=today,
                history=histories.get(invoice["id"], History()),
            ):
                rows.append(
                    LateFee(
                        tenant=ctx.tenant_id,
                        customer=invoice["customer"],
                        invoice=invoice["id"],
                        period=fee.period,
                        period_end=fee.period_end,
                        currency=invoice["currency"],
                        amount_minor=fee.amount_minor,
                        basis_minor=int(invoice["amount_due_minor"]),
                        assessed_on=today,
                        policy=policy,
                        status="pending",
                        external_id=external_id(ctx, invoice["id"], fee.period),
                    )
                )
        numbers = {row["id"]: row["number"] for row in free}
        for fee_row in await _insert(rows):
            created += 1
            await emit_event(
                ctx,
                "late_fee_assessed",
                {
                    "fee_id": fee_row["id"],
                    "invoice_number": numbers.get(fee_row["invoice"]),
                    "period": fee_row["period"],
                    "currency": fee_row["currency"],
                    "amount_minor": fee_row["amount_minor"],
                },
                subject_type="late_fee",
                subject_id=str(fee_row["id"]),
            )
        if len(invoices) < BATCH:
            return created
