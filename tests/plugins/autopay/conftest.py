"""Autopay tests: an app with the autopay plugin only, a tenant with the feature on, and
helpers that act as the operator (admin API), the customer (the portal) and cron (the job)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest

from arportal.clock import freeze_today
from arportal.jobs import run_due_jobs
from arportal.models import AuditEvent, OutboxMessage
from arportal.plugins.autopay import plugin as autopay_plugin
from arportal.plugins.autopay import store
from arportal.plugins.autopay.models import AutopayAttempt, AutopaySandboxCharge
from arportal.tenancy import load_context
from tests.conftest import Running, TenantHandle

TODAY = dt.date(2026, 3, 16)
CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')
VISA = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"
INSUFFICIENT = "4000 0000 0000 9995"
STOLEN = "4000 0000 0000 9979"


@pytest.fixture
def plugins() -> list[tuple[str, Any]]:
    return [("autopay", autopay_plugin)]


@pytest.fixture
def today() -> Any:
    freeze_today(TODAY)
    yield TODAY
    freeze_today(None)


class Clock:
    """Moves the clock of claims and leases (not "today", which `set_today` moves)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.offset = dt.timedelta()
        real = store.now
        monkeypatch.setattr(store, "now", lambda: real() + self.offset)

    def advance(self, **delta: float) -> None:
        self.offset += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def set_today(day: dt.date) -> None:
    freeze_today(day)


async def api(app: Running, tenant: TenantHandle, method: str, path: str, body: Any = None,
              status: int = 200) -> Any:
    response = await app.client.request(method, f"/api/v1{path}", json=body,
                                        headers=tenant.headers)
    assert response.status_code == status, response.text
    return response.json()


async def enable(app: Running, tenant: TenantHandle, **settings: Any) -> None:
    """The feature on, new customers with autopay allowed, and `settings`."""
    body = {"enable_for_new_customers": True, **settings}
    await api(app, tenant, "PATCH", "/settings", {"features": {"autopay": True}, "autopay": body})


async def add_customer(app: Running, tenant: TenantHandle, external_id: str = "C1",
                       locale: str = "en", email: str = "ap@buyer.test") -> dict[str, Any]:
    body = [{"external_id": external_id, "name": f"Buyer {external_id}", "email": email,
             "currency": "EUR", "locale": locale}]
    (customer,) = await api(app, tenant, "PUT", "/customers", body)
    return customer  # type: ignore[no-any-return]


async def add_invoice(app: Running, tenant: TenantHandle, external_id: str, due: dt.date,
                      total: str = "120.00", customer: str = "C1",
                      currency: str = "EUR") -> dict[str, Any]:
    """An invoice of `customer` (created, English, if it does not exist yet)."""
    listed = await api(app, tenant, "GET", "/customers?limit=200")
    if customer not in {row["external_id"] for row in listed["items"]}:
        await add_customer(app, tenant, customer)
    body = [{"external_id": external_id, "customer_external_id": customer,
             "number": f"N-{external_id}", "issue_date": (due - dt.timedelta(30)).isoformat(),
             "due_date": due.isoformat(), "currency": currency, "total": total}]
    (invoice,) = await api(app, tenant, "PUT", "/invoices", body)
    return invoice  # type: ignore[no-any-return]


async def invoice(app: Running, tenant: TenantHandle, external_id: str) -> dict[str, Any]:
    return await api(app, tenant, "GET", f"/invoices/{external_id}")  # type: ignore[no-any-return]


class Customer:
    """A customer's browser: the portal session made from their link."""

    def __init__(self, app: Running, portal_url: str):
        self.app = app
        self.link = portal_url.replace("http://testserver", "")

    async def open(self) -> Any:
        self.app.client.cookies.clear()
        response = await self.app.client.get(self.link)
        assert response.status_code == 303, response.text
        return await self.get("/portal/")

    async def get(self, path: str) -> Any:
        return await self.app.client.get(path)

    async def post(self, path: str, data: dict[str, str], page: str = "/portal/autopay") -> Any:
        token = CSRF.search((await self.get(page)).text)
        assert token, "no CSRF token on the page"
        return await self.app.client.post(path, data={"_csrf_token": token[1], **data})

    async def save_card(self, number: str = VISA, month: str = "12", year: str = "2030",
                        consent: bool = True, cvc: str = "123") -> Any:
        data = {"card_number": number, "exp_month": month, "exp_year": year, "cvc": cvc}
        if consent:
            data["consent"] = "on"
        return await self.post("/portal/autopay/method", data, page="/portal/autopay/method")


async def customer_with_card(app: Running, tenant: TenantHandle, external_id: str = "C1",
                             number: str = VISA, **card: Any) -> Customer:
    row = await add_customer(app, tenant, external_id)
    browser = Customer(app, row["portal_url"])
    await browser.open()
    response = await browser.save_card(number, **card)
    assert response.status_code == 303, response.text
    return browser


async def run_job(app: Running) -> dict[str, Any]:
    runs = await run_due_jobs(app.host, app.config, force=True, only=["autopay.charge"])
    assert len(runs) == 1 and runs[0].ok, runs
    return runs[0].result  # type: ignore[no-any-return]


async def tenant_ctx(app: Running, tenant: TenantHandle) -> Any:
    return await load_context(app.host, app.config, tenant.row, actor="test")


async def attempts(invoice_external_id: str | None = None) -> list[dict[str, Any]]:
    rows = await AutopayAttempt.select(
        *AutopayAttempt.all_columns(), AutopayAttempt.invoice.external_id.as_alias("invoice_ext")
    ).order_by(AutopayAttempt.id)
    return [r for r in rows if invoice_external_id in (None, r["invoice_ext"])]


async def sandbox_charges() -> list[dict[str, Any]]:
    return await AutopaySandboxCharge.select().order_by(AutopaySandboxCharge.id)


async def mails(to: str | None = None) -> list[dict[str, Any]]:
    rows = await OutboxMessage.select().order_by(OutboxMessage.id).output(load_json=True)
    return [row for row in rows if to is None or to in row["to_addrs"]]


async def audit_actions() -> list[str]:
    rows = await AuditEvent.select(AuditEvent.action).order_by(AuditEvent.id)
    return [row["action"] for row in rows]


async def payments(app: Running, tenant: TenantHandle) -> list[dict[str, Any]]:
    return (await api(app, tenant, "GET", "/payments"))["items"]  # type: ignore[no-any-return]


def money(value: str) -> Decimal:
    return Decimal(value)
