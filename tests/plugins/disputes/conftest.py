"""Fixtures of the disputes tests: an app with the plugin, a tenant that switched it on, a
customer with open, paid and void invoices, and the customer's portal session."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from arportal.models import OutboxMessage
from arportal.plugins.disputes import plugin as disputes_plugin
from arportal.tenancy import load_context
from tests.conftest import Running, TenantHandle, make_tenant

CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
TEAM = "ar-team@acme.test"


@pytest.fixture
def plugins() -> list[tuple[str, Any]]:
    return [("disputes", disputes_plugin)]


class Shop:
    """A tenant of `app`, driven like its operator (admin API) and its customers (portal)."""

    def __init__(self, app: Running, tenant: TenantHandle):
        self.app = app
        self.client = app.client
        self.tenant = tenant

    async def api(
        self, method: str, path: str, body: Any = None, status: int = 200
    ) -> Any:
        response = await self.client.request(
            method, f"/api/v1{path}", json=body, headers=self.tenant.headers
        )
        assert response.status_code == status, response.text
        return response.json()

    async def enable(self, notify: list[str] | None = None) -> None:
        await self.api(
            "PATCH", "/settings",
            {"features": {"disputes": True}, "disputes": {"notify_emails": notify or [TEAM]}},
        )

    async def disable(self) -> None:
        await self.api("PATCH", "/settings", {"features": {"disputes": False}})

    async def customer(
        self, external_id: str = "C1", *, email: str = "ap@buyer.test", locale: str = "en"
    ) -> dict[str, Any]:
        body = [{"external_id": external_id, "name": f"Buyer {external_id}", "email": email,
                 "locale": locale}]
        (customer,) = await self.api("PUT", "/customers", body)
        return customer  # type: ignore[no-any-return]

    async def invoices(self, customer: str = "C1", *specs: tuple[str, str]) -> None:
        """`(external_id, "open" | "paid")` invoices of 100.00 EUR; a paid one is settled by a
        payment. Default: I-1 and I-2 open, I-PAID paid."""
        specs = specs or (("I-1", "open"), ("I-2", "open"), ("I-PAID", "paid"))
        await self.api("PUT", "/invoices", [
            {"external_id": ext, "customer_external_id": customer, "number": f"N{ext}",
             "issue_date": "2026-02-01", "due_date": "2026-03-01", "currency": "EUR",
             "total": "100.00"}
            for ext, _status in specs
        ])
        paid = [ext for ext, status in specs if status == "paid"]
        if paid:
            await self.api("PUT", "/payments", [
                {"external_id": f"PAY-{ext}", "customer_external_id": customer,
                 "date": "2026-03-01", "currency": "EUR", "amount": "100.00",
                 "allocations": [{"invoice_external_id": ext, "amount": "100.00"}]}
                for ext in paid
            ])

    async def enter(self, customer: dict[str, Any]) -> None:
        """Open the customer's link: the client's session is now this customer's."""
        entered = await self.client.get(urlsplit(customer["portal_url"]).path)
        assert entered.status_code == 303, entered.text

    async def csrf(self, path: str = "/portal/") -> str:
        """The CSRF token a form of `path` carries (the page's own field when it has a form,
        else the token the CSRF cookie holds, which is what every form of the session gets)."""
        page = await self.client.get(path)
        match = CSRF.search(page.text)
        return match.group(1) if match else str(self.client.cookies["arportal_csrf"])

    async def open_dispute(
        self, invoice: str = "I-1", reason: str = "pricing_disagreement",
        message: str = "The unit price is not the one we agreed.",
        attachment: tuple[str, bytes, str] | None = None, status: int = 303,
    ) -> Any:
        token = await self.csrf(f"/portal/disputes/new?invoice={invoice}")
        files = {"attachment": attachment or ("", b"", "application/octet-stream")}
        response = await self.client.post(
            "/portal/disputes",
            data={"_csrf_token": token, "invoice": invoice, "reason": reason,
                  "message": message},
            files=files,
        )
        assert response.status_code == status, response.text
        return response

    async def context(self) -> Any:
        return await load_context(self.app.host, self.app.config, self.tenant.row,
                                  actor="operator")


async def outbox(tenant: TenantHandle) -> list[dict[str, Any]]:
    rows = await (
        OutboxMessage.select().where(OutboxMessage.tenant == tenant.id)
        .order_by(OutboxMessage.id).output(load_json=True)
    )
    return rows  # type: ignore[no-any-return]


@pytest.fixture
async def shop(app: Running) -> Shop:
    return Shop(app, await make_tenant())


@pytest.fixture
async def ready(shop: Shop) -> Shop:
    """The feature on, customer C1 (English) with I-1, I-2 open and I-PAID paid, in the
    portal."""
    await shop.enable()
    customer = await shop.customer()
    await shop.invoices()
    await shop.enter(customer)
    return shop
