"""The job: pre-debit notices, charges on the due date, receipts and ledger payments, holds,
declines with retries, pausing, expired cards, concurrency per tenant, events and audit."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest

from arportal import Feature, Hold, hookimpl
from arportal.plugins.autopay import plugin as autopay_plugin
from arportal.plugins.autopay.gateways.sandbox import SandboxCharger, SandboxGateway
from tests.conftest import running_app
from tests.plugins.autopay.conftest import (
    INSUFFICIENT,
    STOLEN,
    TODAY,
    add_invoice,
    api,
    attempts,
    audit_actions,
    customer_with_card,
    enable,
    invoice,
    mails,
    payments,
    run_job,
    sandbox_charges,
    set_today,
)


def days(count: int) -> dt.timedelta:
    return dt.timedelta(days=count)


async def test_notice_then_charge_on_the_due_date(app: Any, tenant: Any, today: Any,
                                                  holder: HoldingPlugin) -> None:
    await enable(app, tenant)  # notice_days 2, days_before_due 0
    await add_invoice(app, tenant, "I-1", today + days(3), "120.50")
    await customer_with_card(app, tenant)

    report = await run_job(app)
    assert report["notices"] == 0 and report["charged"] == 0
    set_today(today + days(1))
    report = await run_job(app)
    assert report["notices"] == 1 and report["charged"] == 0
    (notice,) = await mails("ap@buyer.test")
    assert notice["subject"] == "Upcoming automatic payment to Acme Corp"
    assert "Visa ending in 4242" in notice["text_body"]
    assert "Invoice N-I-1: €120.50, on Mar 19, 2026" in notice["text_body"]
    assert "http://testserver/p/" in notice["text_body"]

    set_today(today + days(2))
    assert (await run_job(app))["charged"] == 0
    assert (await invoice(app, tenant, "I-1"))["status"] == "open"

    set_today(today + days(3))
    report = await run_job(app)
    assert report["charged"] == 1 and report["succeeded"] == 1
    paid = await invoice(app, tenant, "I-1")
    assert (paid["status"], paid["amount_due"]) == ("paid", "0.00")
    (payment,) = await payments(app, tenant)
    assert payment["amount"] == "120.50" and payment["date"] == "2026-03-19"
    assert payment["allocations"] == [{"invoice_external_id": "I-1", "amount": "120.50"}]
    assert payment["external_id"].startswith("autopay-sbx_ch_")
    receipt = (await mails("ap@buyer.test"))[-1]
    assert receipt["subject"] == "Receipt: invoice N-I-1 paid"
    assert "We charged €120.50 to Visa ending in 4242 for invoice N-I-1." in receipt["text_body"]
    assert receipt["html_body"] and "Acme Corp" in receipt["html_body"]

    assert (await run_job(app))["charged"] == 0
    assert len(await sandbox_charges()) == 1
    actions = await audit_actions()
    assert "autopay_succeeded" in actions and "payment.recorded" in actions
    ((kind, heard),) = holder.heard
    assert kind == "succeeded" and heard["invoice_external_id"] == "I-1"
    assert (heard["amount"], heard["currency"], heard["attempt"]) == ("120.50", "EUR", 1)
    assert heard["payment_external_id"] == payment["external_id"]
    assert "reference" not in heard


async def test_days_before_due_and_zero_notice_days(app: Any, tenant: Any, today: Any) -> None:
    await enable(app, tenant, days_before_due=5, notice_days=0)
    await add_invoice(app, tenant, "I-1", today + days(5))
    await add_invoice(app, tenant, "I-2", today + days(6))
    await customer_with_card(app, tenant)
    report = await run_job(app)
    assert (report["notices"], report["charged"]) == (1, 1)
    assert (await invoice(app, tenant, "I-1"))["status"] == "paid"
    assert (await invoice(app, tenant, "I-2"))["status"] == "open"


async def test_overdue_invoices_are_charged_two_days_after_saving(app: Any, tenant: Any,
                                                                  today: Any) -> None:
    await enable(app, tenant)
    await add_invoice(app, tenant, "LATE", today - days(20), "80.00")
    browser = await customer_with_card(app, tenant)
    page = await browser.get("/portal/autopay")
    assert "N-LATE" in page.text and "Mar 18, 2026" in page.text
    assert (await run_job(app))["notices"] == 1
    set_today(today + days(1))
    assert (await run_job(app))["charged"] == 0
    set_today(today + days(2))
    assert (await run_job(app))["succeeded"] == 1
    assert (await invoice(app, tenant, "LATE"))["status"] == "paid"


async def test_the_amount_charged_is_the_amount_due(app: Any, tenant: Any, today: Any) -> None:
    await enable(app, tenant, notice_days=0)
    await add_invoice(app, tenant, "I-1", today, "300.00")
    await customer_with_card(app, tenant)
    await api(app, tenant, "PUT", "/payments", [{
        "external_id": "WIRE-1", "customer_external_id": "C1", "date": today.isoformat(),
        "currency": "EUR", "amount": "100.00",
        "allocations": [{"invoice_external_id": "I-1", "amount": "100.00"}],
    }])
    await run_job(app)
    (charge,) = await sandbox_charges()
    assert charge["amount_minor"] == 20000
    assert (await invoice(app, tenant, "I-1"))["status"] == "paid"


class HoldingPlugin:
    """Another plugin: it holds invoices whose number ends in -H (as a dispute would), and
    listens to autopay's own hooks."""

    def __init__(self) -> None:
        self.failing = False
        self.heard: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def arportal_autopay_succeeded(self, attempt: dict[str, Any]) -> None:
        self.heard.append(("succeeded", attempt))

    @hookimpl
    async def arportal_autopay_failed(self, ctx: Any, attempt: dict[str, Any]) -> None:
        self.heard.append(("failed", attempt))

    @hookimpl
    def arportal_features(self) -> list[Feature]:
        return [Feature(key="holder", label="Holder", default=True)]

    @hookimpl
    def arportal_invoice_holds(self, invoices: list[Any]) -> list[Hold]:
        if self.failing:
            raise RuntimeError("the disputes table is unreachable")
        return [Hold(invoice_id=inv["id"], reason="dispute") for inv in invoices
                if inv["number"].endswith("-H")]


@pytest.fixture
def holder() -> HoldingPlugin:
    return HoldingPlugin()


@pytest.fixture
def plugins(holder: HoldingPlugin) -> list[tuple[str, Any]]:
    return [("autopay", autopay_plugin), ("holder", holder)]


async def test_held_invoices_are_skipped_while_held(app: Any, tenant: Any, today: Any,
                                                    holder: HoldingPlugin) -> None:
    await enable(app, tenant, notice_days=0)
    await add_invoice(app, tenant, "I-H", today)
    await add_invoice(app, tenant, "I-2", today)
    browser = await customer_with_card(app, tenant)
    assert "On hold: not charged for now" in (await browser.get("/portal/autopay")).text
    report = await run_job(app)
    assert (report["held"], report["succeeded"]) == (1, 1)
    assert (await invoice(app, tenant, "I-H"))["status"] == "open"

    holder.failing = True
    run = await _run_failing(app)
    assert run.ok is False and "HoldsUnavailable" in (run.error or "")
    holder.failing = False
    await enable(app, tenant, notice_days=0, skip_held=False)
    assert (await run_job(app))["succeeded"] == 1
    assert (await invoice(app, tenant, "I-H"))["status"] == "paid"


async def _run_failing(app: Any) -> Any:
    from arportal.jobs import run_due_jobs

    (run,) = await run_due_jobs(app.host, app.config, force=True, only=["autopay.charge"])
    return run


async def test_soft_declines_are_retried_then_the_method_is_paused(
    app: Any, tenant: Any, today: Any, holder: HoldingPlugin
) -> None:
    await enable(app, tenant, notice_days=0, operator_email="ar@acme.test")
    await add_invoice(app, tenant, "I-1", today, "50.00")
    browser = await customer_with_card(app, tenant, number=INSUFFICIENT)

    assert (await run_job(app))["failed"] == 1
    (first,) = await attempts("I-1")
    assert (first["status"], first["decline_code"], first["retry_on"]) == (
        "failed", "insufficient_funds", today + days(1))
    declined = (await mails("ap@buyer.test"))[-1]
    assert declined["subject"] == "Automatic payment of invoice N-I-1 declined"
    assert "Your card has insufficient funds." in declined["text_body"]
    assert "We will try again on Mar 17, 2026." in declined["text_body"]
    assert "http://testserver/p/" in declined["text_body"]
    assert (await run_job(app))["charged"] == 0  # same day: no retry yet

    for offset, expected_retry in ((1, today + days(3)), (3, today + days(7)), (7, None)):
        set_today(today + days(offset))
        assert (await run_job(app))["failed"] == 1
        assert (await attempts("I-1"))[-1]["retry_on"] == expected_retry
    tries = await attempts("I-1")
    assert [a["attempt_no"] for a in tries] == [1, 2, 3, 4]
    assert len({a["idempotency_key"] for a in tries}) == 4
    assert bool(tries[-1]["final"]) is True
    set_today(today + days(30))
    assert (await run_job(app))["charged"] == 0
    assert [(kind, a["attempt"], a["final"]) for kind, a in holder.heard] == [
        ("failed", 1, False), ("failed", 2, False), ("failed", 3, False), ("failed", 4, True)]

    customer = await api(app, tenant, "GET", "/customers/C1")
    method = customer["plugins"]["autopay"]["method"]
    assert (method["status"], customer["plugins"]["autopay"]["active"]) == ("paused", False)
    assert "declined 4 times" in method["status_reason"]
    (operator,) = await mails("ar@acme.test")
    assert operator["subject"] == "Autopay paused for Buyer C1"
    page = await browser.get("/portal/autopay")
    assert "Automatic payments are paused after declined charges." in page.text

    await browser.save_card()  # a new card starts afresh, two days later (already overdue)
    assert (await run_job(app))["charged"] == 0
    set_today(today + days(32))
    assert (await run_job(app))["succeeded"] == 1
    assert (await invoice(app, tenant, "I-1"))["status"] == "paid"
    assert "autopay_method_paused" in await audit_actions()


async def test_hard_declines_are_not_retried(app: Any, tenant: Any, today: Any) -> None:
    await enable(app, tenant, notice_days=0)
    await add_invoice(app, tenant, "I-1", today)
    await customer_with_card(app, tenant, number=STOLEN)
    await run_job(app)
    (attempt,) = await attempts("I-1")
    assert (attempt["decline_code"], bool(attempt["hard"]), attempt["retry_on"]) == (
        "stolen_card", True, None)
    assert "We will not try again" in (await mails("ap@buyer.test"))[-1]["text_body"]
    set_today(today + days(1))
    assert (await run_job(app))["charged"] == 0
    status = (await api(app, tenant, "GET", "/customers/C1"))["plugins"]["autopay"]["method"]
    assert status["status"] == "paused"


async def test_expired_cards_are_caught_before_charging(app: Any, tenant: Any,
                                                        today: Any) -> None:
    await enable(app, tenant, notice_days=0)
    await add_invoice(app, tenant, "I-1", dt.date(2026, 4, 2))
    browser = await customer_with_card(app, tenant, month="3", year="2026")
    set_today(dt.date(2026, 4, 2))
    report = await run_job(app)
    assert (report["expired_methods"], report["charged"]) == (1, 0)
    assert await sandbox_charges() == []
    mail = (await mails("ap@buyer.test"))[-1]
    assert mail["subject"] == "Your card for automatic payments has expired"
    page = await browser.get("/portal/autopay")
    assert "This card has expired." in page.text
    assert (await run_job(app))["expired_methods"] == 0  # told once


async def test_nothing_is_charged_when_the_customer_turned_autopay_off(app: Any, tenant: Any,
                                                                       today: Any) -> None:
    await enable(app, tenant, notice_days=0)
    await add_invoice(app, tenant, "I-1", today)
    browser = await customer_with_card(app, tenant)
    await browser.post("/portal/autopay/off", {})
    assert (await run_job(app))["charged"] == 0
    await browser.post("/portal/autopay/on", {"consent": "on"})
    await api(app, tenant, "PATCH", "/customers/C1", {"toggles": {"autopay": False}})
    assert (await run_job(app))["charged"] == 0
    assert await sandbox_charges() == []


async def test_the_operator_lists_attempts_by_customer_and_status(app: Any, tenant: Any,
                                                                  today: Any) -> None:
    await enable(app, tenant, notice_days=0)
    await add_invoice(app, tenant, "I-1", today, customer="C1")
    await customer_with_card(app, tenant, "C1")
    await add_invoice(app, tenant, "I-2", today, customer="C2")
    await customer_with_card(app, tenant, "C2", number=INSUFFICIENT)
    await run_job(app)
    everything = await api(app, tenant, "GET", "/autopay/attempts")
    assert len(everything["items"]) == 2 and everything["next_cursor"] is None
    failed = await api(app, tenant, "GET", "/autopay/attempts?status=failed")
    (item,) = failed["items"]
    assert item["customer_external_id"] == "C2" and item["decline_code"] == "insufficient_funds"
    assert item["method"] == {"brand": "visa", "last4": "9995"} and "reference" not in item
    mine = await api(app, tenant, "GET", "/autopay/attempts?customer=C1")
    assert [i["invoice_external_id"] for i in mine["items"]] == ["I-1"]
    assert mine["items"][0]["payment_external_id"].startswith("autopay-")
    page = await api(app, tenant, "GET", "/autopay/attempts?limit=1")
    older = await api(app, tenant, "GET", f"/autopay/attempts?limit=1&cursor={page['next_cursor']}")
    assert page["items"][0]["id"] > older["items"][0]["id"]
    await api(app, tenant, "GET", "/autopay/attempts?status=lost", status=422)


class CountingGateway(SandboxGateway):
    """A gateway plugin of the autopay plugin: the sandbox with latency, counting how many
    calls are in flight at once."""

    def __init__(self) -> None:
        super().__init__(name="counting", latency=0.05)
        self.in_flight = 0
        self.most = 0

    @contextlib.asynccontextmanager
    async def open_session(self, ctx: Any) -> AsyncIterator[Any]:
        gateway = self

        class Counting(SandboxCharger):
            async def charge(self, request: Any) -> Any:
                gateway.in_flight += 1
                gateway.most = max(gateway.most, gateway.in_flight)
                try:
                    return await super().charge(request)
                finally:
                    gateway.in_flight -= 1

        yield Counting(ctx, self.latency)

    @hookimpl
    def arportal_payment_gateways(self) -> list[Any]:
        return [self]


async def test_gateway_calls_run_concurrently_up_to_max_in_flight(make_config: Any,
                                                                  today: Any) -> None:
    from tests.conftest import make_tenant

    gateway = CountingGateway()
    async with running_app(make_config(), [("autopay", autopay_plugin),
                                           ("counting", gateway)]) as app:
        tenant = await make_tenant()
        await enable(app, tenant, notice_days=0, gateway="counting", max_in_flight=3)
        for number in range(4):
            await customer_with_card(app, tenant, f"C{number}")
            for index in range(3):
                await add_invoice(app, tenant, f"I-{number}-{index}", TODAY,
                                  customer=f"C{number}")
        report = await run_job(app)
        assert report["succeeded"] == 12
        assert gateway.most == 3
        assert {a["gateway"] for a in await attempts()} == {"counting"}


async def test_mail_subjects_stay_on_one_line(app: Any, tenant: Any, today: Any) -> None:
    """An invoice number with a line break (ERPs allow odd ones) cannot add a mail header."""
    await enable(app, tenant, notice_days=0)
    await customer_with_card(app, tenant)
    await api(app, tenant, "PUT", "/invoices", [{
        "external_id": "ODD", "customer_external_id": "C1", "number": "7\r\nBcc: x@evil.test",
        "issue_date": today.isoformat(), "due_date": today.isoformat(), "currency": "EUR",
        "total": "5.00"}])
    assert (await run_job(app))["succeeded"] == 1
    receipt = (await mails("ap@buyer.test"))[-1]
    assert receipt["subject"] == "Receipt: invoice 7 Bcc: x@evil.test paid"
