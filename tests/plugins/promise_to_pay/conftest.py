"""A running app with the promise-to-pay plugin, and a tenant set up the way an operator would
(through the admin API): the feature on, the team's address, two customers and their invoices.
Today is 2026-03-15 (`frozen_today`)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from arportal.models import AuditEvent, OutboxMessage
from arportal.plugins.promise_to_pay import plugin as promise_plugin
from arportal.plugins.promise_to_pay.models import Promise, PromiseHistory
from tests.conftest import Running, TenantHandle, make_tenant, running_app

CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')
TEAM = "ar-team@supplier.test"
TODAY = dt.date(2026, 3, 15)


@pytest.fixture
async def app(make_config: Any) -> AsyncIterator[Running]:
    async with running_app(make_config(), plugins=[("promise_to_pay", promise_plugin)]) as running:
        yield running


async def api(
    app: Running, tenant: TenantHandle, method: str, path: str, body: Any = None,
    status: int = 200,
) -> Any:
    response = await app.client.request(method, f"/api/v1{path}", json=body, headers=tenant.headers)
    assert response.status_code == status, response.text
    return response.json()


INVOICES = [
    # external id, customer, total, amount due, status, due date
    ("INV-1", "C1", "100.00", None, "open", "2026-03-16"),
    ("INV-2", "C1", "250.00", None, "open", "2026-04-30"),
    ("INV-3", "C1", "80.00", None, "open", "2026-03-01"),
    ("PAID-4", "C1", "60.00", "0", "paid", "2026-02-28"),
    ("VOID-5", "C1", "70.00", None, "void", "2026-03-20"),
    ("OTHER-1", "C2", "90.00", None, "open", "2026-03-20"),
]


@dataclass
class Shop:
    app: Running
    tenant: TenantHandle
    customers: dict[str, dict[str, Any]]

    @property
    def client(self) -> Any:
        return self.app.client

    async def api(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        return await api(self.app, self.tenant, method, path, body, status)

    async def settings(self, **values: Any) -> None:
        await self.api("PATCH", "/settings", {"promise_to_pay": values})

    async def feature(self, enabled: bool) -> None:
        await self.api("PATCH", "/settings", {"features": {"promise_to_pay": enabled}})

    async def enter(self, customer: str = "C1") -> str:
        """Open the customer's portal link (the session cookie is set); answer the portal root."""
        self.client.cookies.clear()
        entered = await self.client.get(urlsplit(self.customers[customer]["portal_url"]).path)
        assert entered.status_code == 303
        return "/portal"

    async def form(self, path: str) -> tuple[Any, str]:
        page = await self.client.get(f"/portal/{path}")
        assert page.status_code == 200, page.text
        match = CSRF.search(page.text)
        assert match, "the page has a CSRF-protected form"
        return page, match.group(1)

    async def post(self, path: str, data: dict[str, Any], token: str) -> Any:
        return await self.client.post(f"/portal/{path}", data={**data, "_csrf_token": token})

    async def promise(self, invoices: list[str], date: str, **extra: Any) -> Any:
        """Fill in and send the promise form as the customer does."""
        _page, token = await self.form("promises/new")
        return await self.post("promises", {"invoice": invoices, "date": date, **extra}, token)

    async def pay(self, invoice: str, amount: str, day: str = "2026-03-15", ref: str = "") -> None:
        customer = next(row[1] for row in INVOICES if row[0] == invoice)
        await self.api("PUT", "/payments", [{
            "external_id": ref or f"PAY-{invoice}-{amount}",
            "customer_external_id": customer,
            "date": day,
            "currency": "EUR",
            "amount": amount,
            "allocations": [{"invoice_external_id": invoice, "amount": amount}],
        }])

    async def promises(self) -> list[dict[str, Any]]:
        rows = await Promise.select().where(Promise.tenant == self.tenant.id).order_by(Promise.id)
        return rows  # type: ignore[no-any-return]

    async def history(self) -> list[tuple[str, str]]:
        rows = await PromiseHistory.select(PromiseHistory.action, PromiseHistory.actor).where(
            PromiseHistory.tenant == self.tenant.id
        ).order_by(PromiseHistory.id)
        return [(row["action"], row["actor"]) for row in rows]

    async def outbox(self) -> list[dict[str, Any]]:
        rows = await OutboxMessage.select().where(
            OutboxMessage.tenant == self.tenant.id
        ).order_by(OutboxMessage.id).output(load_json=True)
        return rows  # type: ignore[no-any-return]

    async def audit(self) -> list[str]:
        rows = await AuditEvent.select(AuditEvent.action).where(
            (AuditEvent.tenant == self.tenant.id) & AuditEvent.action.like("promise_%")
        ).order_by(AuditEvent.id)
        return [row["action"] for row in rows]


async def make_shop(app: Running, slug: str = "acme", *, feature: bool = True) -> Shop:
    tenant = await make_tenant(slug, "Acme Supplies")
    shop = Shop(app, tenant, {})
    if feature:
        await shop.feature(True)
    await shop.settings(notify_emails=[TEAM])
    customers = await shop.api("PUT", "/customers", [
        {"external_id": "C1", "name": "Northwind", "email": "ap@northwind.test",
         "currency": "EUR"},
        {"external_id": "C2", "name": "Bistro Lyonnais", "email": "compta@bistro.test",
         "currency": "EUR", "locale": "fr"},
    ])
    shop.customers = {row["external_id"]: row for row in customers}
    await shop.api("PUT", "/invoices", [
        {
            "external_id": external_id,
            "customer_external_id": customer,
            "number": external_id,
            "issue_date": "2026-02-01",
            "due_date": due,
            "currency": "EUR",
            "total": total,
            **({"amount_due": amount_due} if amount_due is not None else {}),
            "status": status,
        }
        for external_id, customer, total, amount_due, status, due in INVOICES
    ])
    return shop


@pytest.fixture
async def shop(app: Running, frozen_today: dt.date) -> Shop:
    return await make_shop(app)
