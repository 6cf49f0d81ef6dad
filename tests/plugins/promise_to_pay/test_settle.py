"""Settling: kept when paid (fully, or by the promised amount) by the end of the promised date
in the tenant's time zone, broken after it; holds until the date; the reminder the day before;
the job is idempotent and safe from two processes at once."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from arportal import Hold, holds_for
from arportal.clock import freeze_today
from arportal.jobs import run_due_jobs
from arportal.models import Invoice
from arportal.plugins.promise_to_pay.settle import settle
from arportal.tenancy import load_context
from tests.plugins.promise_to_pay.conftest import TEAM, Shop


async def job(shop: Shop) -> dict[str, int]:
    runs = await run_due_jobs(
        shop.app.host, shop.app.config, force=True, only=["promise_to_pay.settle"]
    )
    (run,) = [r for r in runs if r.tenant_id == shop.tenant.id]
    assert run.ok, run.error
    return run.result  # type: ignore[no-any-return]


async def context(shop: Shop) -> Any:
    return await load_context(shop.app.host, shop.app.config, shop.tenant.row, actor="job")


async def statuses(shop: Shop) -> dict[int, str]:
    invoices = {
        row["id"]: row["external_id"]
        for row in await Invoice.select(Invoice.id, Invoice.external_id).where(
            Invoice.tenant == shop.tenant.id
        )
    }
    return {invoices[p["invoice"]]: p["status"] for p in await shop.promises()}  # type: ignore[misc]


async def test_paid_on_the_promised_date_is_kept_at_once(shop: Shop) -> None:
    await shop.enter()
    await shop.promise(["INV-1"], "2026-03-20")
    freeze_today(dt.date(2026, 3, 20))
    await shop.pay("INV-1", "100.00", "2026-03-20")
    assert await statuses(shop) == {"INV-1": "kept"}, "settled when the payment arrived"
    assert await job(shop) == {"kept": 0, "broken": 0, "cancelled": 0, "reminded": 0}
    assert await shop.audit() == ["promise_made", "promise_kept"]
    assert await shop.history() == [("made", "customer"), ("kept", "system")]
    page = await shop.client.get("/portal/promises")
    assert "kept" in page.text


async def test_not_paid_by_the_end_of_the_date_is_broken_once(shop: Shop) -> None:
    await shop.enter()
    await shop.promise(["INV-1", "INV-2"], "2026-03-20")
    freeze_today(dt.date(2026, 3, 20))  # still 23:59:59 of the promised date
    assert await job(shop) == {"kept": 0, "broken": 0, "cancelled": 0, "reminded": 0}
    assert set((await statuses(shop)).values()) == {"pending"}
    await shop.pay("INV-2", "250.00", "2026-03-20")

    freeze_today(dt.date(2026, 3, 21))
    assert await job(shop) == {"kept": 0, "broken": 1, "cancelled": 0, "reminded": 0}
    assert await statuses(shop) == {"INV-1": "broken", "INV-2": "kept"}
    broken = [m for m in await shop.outbox() if "broken" in m["subject"]]
    assert [(m["to_addrs"], m["subject"]) for m in broken] == [
        ([TEAM], "Promise to pay broken: Northwind, invoice INV-1, promised for March 20, 2026")
    ]
    assert "did not pay by March 20, 2026 as promised" in broken[0]["text_body"]

    mails = len(await shop.outbox())
    assert await job(shop) == {"kept": 0, "broken": 0, "cancelled": 0, "reminded": 0}
    assert len(await shop.outbox()) == mails, "a re-run mails nothing"
    assert (await shop.audit()).count("promise_broken") == 1


async def test_a_partial_promise_is_kept_by_the_promised_amount(shop: Shop) -> None:
    await shop.settings(allow_partial=True)
    await shop.enter()
    await shop.promise(["INV-2"], "2026-03-31", **{"amount_INV-2": "120.50"})
    await shop.pay("INV-2", "100.00", ref="P1")
    assert await statuses(shop) == {"INV-2": "pending"}
    await shop.pay("INV-2", "20.50", ref="P2")
    assert await statuses(shop) == {"INV-2": "kept"}


async def test_a_payment_after_the_date_is_too_late(shop: Shop) -> None:
    await shop.enter()
    await shop.promise(["INV-1"], "2026-03-16")
    freeze_today(dt.date(2026, 3, 17))
    await shop.pay("INV-1", "100.00", "2026-03-17")
    assert await statuses(shop) == {"INV-1": "broken"}


async def test_paid_in_time_but_seen_late_counts_in_the_tenants_time_zone(shop: Shop) -> None:
    """The job ran after midnight and finds an invoice paid: kept only if it was paid before
    the end of the promised date where the tenant is (New York: 04:00 UTC in March)."""
    await shop.api("PATCH", "/settings", {"portal": {"timezone": "America/New_York"}})
    await shop.enter()
    await shop.promise(["INV-1", "INV-2"], "2026-03-20")
    in_time = dt.datetime(2026, 3, 21, 3, 59, 59, tzinfo=dt.UTC)  # 23:59:59 in New York
    too_late = dt.datetime(2026, 3, 21, 4, 0, 0, tzinfo=dt.UTC)
    for external_id, stamp in (("INV-1", in_time), ("INV-2", too_late)):
        await Invoice.update(
            {Invoice.amount_due_minor: 0, Invoice.status: "paid", Invoice.updated_at: stamp}
        ).where((Invoice.tenant == shop.tenant.id) & (Invoice.external_id == external_id))
    freeze_today(dt.date(2026, 3, 21))
    assert await job(shop) == {"kept": 1, "broken": 1, "cancelled": 0, "reminded": 0}
    assert await statuses(shop) == {"INV-1": "kept", "INV-2": "broken"}


async def test_a_voided_invoice_cancels_its_promise(shop: Shop) -> None:
    await shop.enter()
    await shop.promise(["INV-2"], "2026-03-31")
    await shop.api("PUT", "/invoices", [{
        "external_id": "INV-2", "customer_external_id": "C1", "number": "INV-2",
        "issue_date": "2026-02-01", "due_date": "2026-04-30", "currency": "EUR",
        "total": "250.00", "status": "void",
    }])
    assert await statuses(shop) == {"INV-2": "cancelled"}
    assert await shop.history() == [("made", "customer"), ("cancelled", "system")]


async def test_two_processes_settle_each_promise_once(shop: Shop) -> None:
    await shop.enter()
    await shop.promise(["INV-1", "INV-2", "INV-3"], "2026-03-16")
    freeze_today(dt.date(2026, 3, 17))
    first, second = await context(shop), await context(shop)
    results = await asyncio.gather(settle(first), settle(second))
    assert sum(r.broken for r in results) == 3
    assert set((await statuses(shop)).values()) == {"broken"}
    assert [a for a, _ in await shop.history()].count("broken") == 3
    assert len([m for m in await shop.outbox() if "broken" in m["subject"]]) == 3
    assert (await shop.audit()).count("promise_broken") == 3


async def test_a_pending_promise_holds_its_invoice_until_its_date(shop: Shop) -> None:
    await shop.enter()
    await shop.promise(["INV-1"], "2026-03-20")
    invoices = await Invoice.select().where(Invoice.tenant == shop.tenant.id)
    inv_1 = next(row["id"] for row in invoices if row["external_id"] == "INV-1")
    ctx = await context(shop)
    assert await holds_for(ctx, invoices) == {
        inv_1: [Hold(invoice_id=inv_1, reason="promise_to_pay",
                     detail="payment promised for 2026-03-20")]
    }
    freeze_today(dt.date(2026, 3, 20))
    assert list(await holds_for(ctx, invoices)) == [inv_1]
    freeze_today(dt.date(2026, 3, 21))
    assert await holds_for(ctx, invoices) == {}, "late fees may act once the date has passed"

    freeze_today(dt.date(2026, 3, 15))
    await shop.settings(hold_invoices=False)
    assert await holds_for(await context(shop), invoices) == {}


async def test_the_customer_is_reminded_the_day_before_once(shop: Shop) -> None:
    await shop.enter()
    await shop.promise(["INV-1", "INV-2"], "2026-03-20")
    freeze_today(dt.date(2026, 3, 18))
    assert (await job(shop))["reminded"] == 0
    freeze_today(dt.date(2026, 3, 19))
    await shop.enter("C2")
    await shop.promise(["OTHER-1"], "2026-03-20")  # chosen today: no reminder on top
    assert (await job(shop))["reminded"] == 1
    assert (await job(shop))["reminded"] == 0
    reminders = [m for m in await shop.outbox() if m["subject"].startswith("Reminder")]
    assert [(m["to_addrs"], m["subject"]) for m in reminders] == [
        (["ap@northwind.test"], "Reminder: payment promised to Acme Supplies for March 20, 2026")
    ]
    assert "Invoice INV-1: €100.00" in reminders[0]["text_body"]
    assert "Invoice INV-2: €250.00" in reminders[0]["text_body"]


async def test_no_reminder_when_the_setting_is_off(shop: Shop) -> None:
    await shop.settings(remind_customer=False)
    await shop.enter()
    await shop.promise(["INV-1"], "2026-03-20")
    freeze_today(dt.date(2026, 3, 19))
    assert (await job(shop))["reminded"] == 0
    assert not [m for m in await shop.outbox() if m["subject"].startswith("Reminder")]


async def test_the_job_skips_a_tenant_with_the_feature_off(shop: Shop) -> None:
    await shop.enter()
    await shop.promise(["INV-1"], "2026-03-16")
    await shop.feature(False)
    freeze_today(dt.date(2026, 3, 17))
    runs = await run_due_jobs(
        shop.app.host, shop.app.config, force=True, only=["promise_to_pay.settle"]
    )
    assert [r for r in runs if r.tenant_id == shop.tenant.id] == []
    assert await statuses(shop) == {"INV-1": "pending"}
