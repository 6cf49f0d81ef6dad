"""Sending fees to NetSuite: each pending fee becomes a NetSuite invoice, a waived posted fee
a credit memo. The second half of the job, and the admin API's waive and retry.

A fee is claimed first (a lease in `claimed_until`, taken by one conditional UPDATE, atomic
on both engines), so two runs never send it at once; its `externalId` makes even a repeat
after a timeout harmless. Outcomes:
- created, or refused as a duplicate of our own externalId: `posted`, with NetSuite's id;
- 429, 5xx, network, or a connection fault (401/403): still `pending`, tried again by a later
  run after a growing delay (`next_attempt_at`); a connection fault stops this run;
- any other refusal: `failed`, with NetSuite's message (the operator fixes and retries).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import msgspec

from arportal import TenantContext, emit_event, from_minor
from arportal.plugins.late_fees_netsuite.models import LateFee
from arportal.plugins.late_fees_netsuite.netsuite import NetSuiteClient, NetSuiteError
from arportal.plugins.late_fees_netsuite.settings import LateFeeSettings

log = logging.getLogger("arportal.plugins.late_fees_netsuite")

LEASE = dt.timedelta(minutes=15)
RETRY_BASE = dt.timedelta(minutes=5)
RETRY_MAX = dt.timedelta(hours=12)
BATCH = 100

_CLAIM = (
    "UPDATE late_fees_netsuite_fee SET claimed_until = {} "
    "WHERE id = {} AND tenant = {} AND status = {} "
    "AND (claimed_until IS NULL OR claimed_until < {}) RETURNING id"
)
_DUE = (
    "SELECT f.id FROM late_fees_netsuite_fee f "
    "WHERE f.tenant = {} AND f.status = 'pending' AND f.id > {} "
    "AND (f.next_attempt_at IS NULL OR f.next_attempt_at <= {}) "
    "AND (f.claimed_until IS NULL OR f.claimed_until < {}) ORDER BY f.id LIMIT {}"
)
_FEE = (
    "SELECT f.id, f.status, f.period, f.period_end, f.assessed_on, f.currency, "
    "f.amount_minor, f.external_id, f.netsuite_id, f.attempts, "
    "i.number AS invoice_number, c.external_id AS customer_external_id, c.extra AS extra "
    "FROM late_fees_netsuite_fee f JOIN invoice i ON i.id = f.invoice "
    "JOIN customer c ON c.id = f.customer WHERE f.tenant = {} AND f.id = {}"
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Busy(Exception):
    """Another run holds the fee right now."""


@dataclass
class Outcome:
    posted: int = 0
    failed: int = 0
    retrying: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"posted": self.posted, "failed": self.failed, "retrying": self.retrying,
                "errors": self.errors[:10]}


async def claim(ctx: TenantContext, fee_id: int, status: str) -> bool:
    now = utcnow()
    rows = await LateFee.raw(_CLAIM, now + LEASE, fee_id, ctx.tenant_id, status, now)
    return bool(rows)


async def release(fee_id: int) -> None:
    await LateFee.update({LateFee.claimed_until: None}).where(LateFee.id == fee_id)


async def load(ctx: TenantContext, fee_id: int) -> dict[str, Any] | None:
    rows = await LateFee.raw(_FEE, ctx.tenant_id, fee_id)
    return rows[0] if rows else None


def netsuite_customer(fee: dict[str, Any]) -> str:
    """The customer's `netsuite_id` (in the core record's `extra`), else its external id."""
    extra = fee.get("extra") or {}
    if isinstance(extra, str | bytes):
        extra = msgspec.json.decode(extra)
    value = extra.get("netsuite_id") if isinstance(extra, dict) else None
    return str(value) if value not in (None, "") else str(fee["customer_external_id"])


def _day(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()


def invoice_body(settings: LateFeeSettings, fee: dict[str, Any]) -> dict[str, Any]:
    amount = from_minor(int(fee["amount_minor"]), fee["currency"])
    description = (
        f"Late fee {fee['period']} on invoice {fee['invoice_number']} "
        f"(period ending {_day(fee['period_end'])})"
    )
    return {
        "externalId": fee["external_id"],
        "entity": {"id": netsuite_customer(fee)},
        "tranDate": _day(fee["assessed_on"]),
        "memo": description,
        "item": {
            "items": [
                {
                    "item": {"id": settings.fee_item_id},
                    "quantity": 1,
                    "rate": amount,
                    "amount": amount,
                    "description": description,
                }
            ]
        },
    }


def _retry_at(attempts: int) -> dt.datetime:
    return utcnow() + min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_MAX)


async def post_one(
    ctx: TenantContext, settings: LateFeeSettings, client: NetSuiteClient, fee_id: int
) -> str:
    """Post one pending fee: answers "posted", "failed", "retrying" or "busy". Raises the
    `NetSuiteError` of a connection fault after recording it (the caller stops)."""
    if not await claim(ctx, fee_id, "pending"):
        return "busy"
    try:
        fee = await load(ctx, fee_id)
        assert fee is not None
        created = await client.create("invoice", invoice_body(settings, fee))
    except NetSuiteError as exc:
        attempts = int(fee["attempts"]) + 1 if fee else 1
        if exc.retryable or exc.connection:
            await LateFee.update(
                {LateFee.error: exc.message, LateFee.attempts: attempts,
                 LateFee.next_attempt_at: _retry_at(attempts), LateFee.claimed_until: None}
            ).where(LateFee.id == fee_id)
            if exc.connection:
                raise
            return "retrying"
        await LateFee.update(
            {LateFee.status: "failed", LateFee.error: exc.message, LateFee.attempts: attempts,
             LateFee.claimed_until: None}
        ).where(LateFee.id == fee_id)
        await emit_event(ctx, "late_fee_failed", {"fee_id": fee_id, "error": exc.message},
                         subject_type="late_fee", subject_id=str(fee_id))
        return "failed"
    except BaseException:
        await asyncio.shield(release(fee_id))
        raise
    await LateFee.update(
        {LateFee.status: "posted", LateFee.netsuite_id: created.internal_id,
         LateFee.posted_at: utcnow(), LateFee.error: None, LateFee.claimed_until: None,
         LateFee.attempts: int(fee["attempts"]) + 1}
    ).where(LateFee.id == fee_id)
    await emit_event(
        ctx, "late_fee_posted",
        {"fee_id": fee_id, "netsuite_id": created.internal_id, "duplicate": created.duplicate},
        subject_type="late_fee", subject_id=str(fee_id),
    )
    return "posted"


async def post_pending(
    ctx: TenantContext, settings: LateFeeSettings, client: NetSuiteClient
) -> Outcome:
    """Post every pending fee that is due for a try, a batch at a time, concurrently within
    the account's limit (the client's)."""
    outcome = Outcome()
    after = 0
    while True:
        now = utcnow()
        due = [row["id"] for row in await LateFee.raw(_DUE, ctx.tenant_id, after, now, now, BATCH)]
        if not due:
            return outcome
        after = due[-1]
        results = await asyncio.gather(
            *(post_one(ctx, settings, client, fee_id) for fee_id in due), return_exceptions=True
        )
        stop = None
        for result in results:
            if isinstance(result, NetSuiteError):
                outcome.retrying += 1
                stop = result
            elif isinstance(result, BaseException):
                raise result
            elif result in ("posted", "failed", "retrying"):
                setattr(outcome, result, getattr(outcome, result) + 1)
        if stop is not None:
            outcome.errors.append(stop.message)
            log.warning("tenant %r: NetSuite connection problem, posting stopped: %s",
                        ctx.slug, stop.message)
            return outcome
        if len(due) < BATCH:
            return outcome


async def waive(
    ctx: TenantContext, settings: LateFeeSettings, client: NetSuiteClient, fee_id: int
) -> None:
    """Waive a fee. One not yet in NetSuite is simply marked; a posted one is credited there
    first (a credit memo made from its invoice, with an externalId of its own), and stays
    `posted` if NetSuite refuses (the `NetSuiteError` is raised)."""
    fee = await load(ctx, fee_id)
    if fee is None:
        raise LookupError(fee_id)
    if fee["status"] == "waived":
        return
    now = utcnow()
    if fee["status"] in ("pending", "failed"):
        rows = await LateFee.raw(
            "UPDATE late_fees_netsuite_fee SET status = 'waived', waived_at = {} "
            "WHERE id = {} AND tenant = {} AND status IN ('pending', 'failed') "
            "AND (claimed_until IS NULL OR claimed_until < {}) RETURNING id",
            now, fee_id, ctx.tenant_id, now,
        )
        if not rows:
            raise Busy()
        await _waived_event(ctx, fee_id, None)
        return
    if not await claim(ctx, fee_id, "posted"):
        raise Busy()
    try:
        created = await client.transform(
            "invoice", fee["netsuite_id"], "creditMemo",
            {
                "externalId": fee["external_id"] + "-credit",
                "tranDate": ctx.today().isoformat(),
                "memo": f"Late fee {fee['period']} on invoice {fee['invoice_number']} waived",
            },
        )
    except BaseException:
        await asyncio.shield(release(fee_id))
        raise
    await LateFee.update(
        {LateFee.status: "waived", LateFee.credit_memo_id: created.internal_id,
         LateFee.waived_at: utcnow(), LateFee.claimed_until: None}
    ).where(LateFee.id == fee_id)
    await _waived_event(ctx, fee_id, created.internal_id)


async def _waived_event(ctx: TenantContext, fee_id: int, credit_memo_id: str | None) -> None:
    await emit_event(ctx, "late_fee_waived", {"fee_id": fee_id, "credit_memo_id": credit_memo_id},
                     subject_type="late_fee", subject_id=str(fee_id))


async def retry(
    ctx: TenantContext, settings: LateFeeSettings, client: NetSuiteClient, fee_id: int
) -> str:
    """Put a failed fee back to pending and post it now (after the operator fixed its cause).
    Answers what `post_one` answers, or "not failed"."""
    rows = await LateFee.raw(
        "UPDATE late_fees_netsuite_fee SET status = 'pending', next_attempt_at = NULL "
        "WHERE id = {} AND tenant = {} AND status = 'failed' RETURNING id",
        fee_id, ctx.tenant_id,
    )
    if not rows:
        return "not failed"
    try:
        return await post_one(ctx, settings, client, fee_id)
    except NetSuiteError:
        return "retrying"
