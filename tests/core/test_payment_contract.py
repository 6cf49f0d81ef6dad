"""Public API that payment plugins need, tested without any plugin of this repository:
`record_payment` (insert-only by external id), `portal_urls`, `tenant_context_by_id`,
`PortalContext.allow_csp_sources` (a page widens its own CSP, within limits), the
`arportal_customer_details` hook (plugin data on the admin API's customers, a failing plugin
left out) and `[plugins.options.<name>]` in the instance config."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from litestar import get

import arportal
from arportal import (
    Feature,
    LedgerError,
    PortalDep,
    hookimpl,
    portal_urls,
    record_payment,
    tenant_context_by_id,
)
from arportal.config import load_config
from arportal.ledger import CustomerIn, InvoiceIn, upsert_customers, upsert_invoices
from arportal.tenancy import load_context


class PaymentsPlugin:
    """A third-party plugin: a page that loads a provider's script, customer details, and
    a listener for payments."""

    def __init__(self) -> None:
        self.payments: list[str] = []
        self.fail_details = False

    @hookimpl
    def arportal_features(self) -> list[Feature]:
        return [Feature("pay", "Pay", default=True)]

    @hookimpl
    def arportal_portal_routes(self) -> list[Any]:
        @get("/pay/checkout", opt={"feature": "pay"})
        async def checkout(portal: PortalDep) -> str:
            portal.allow_csp_sources("script-src", "https://js.provider.example")
            portal.allow_csp_sources("frame-src", "https://js.provider.example",
                                     "https://*.provider.example")
            return "checkout"

        @get("/pay/bad", opt={"feature": "pay"})
        async def bad(portal: PortalDep) -> str:
            portal.allow_csp_sources("script-src", "'unsafe-inline'")
            return "never"

        return [checkout, bad]

    @hookimpl
    def arportal_customer_details(self, customers: list[Any]) -> dict[int, dict[str, Any]]:
        if self.fail_details:
            raise RuntimeError("the provider is down")
        return {row["id"]: {"saved_cards": 1 if row["external_id"] == "C1" else 0}
                for row in customers}

    @hookimpl
    def arportal_payment_recorded(self, payment: Any) -> None:
        self.payments.append(payment["external_id"])


@pytest.fixture
def payer() -> PaymentsPlugin:
    return PaymentsPlugin()


@pytest.fixture
def plugins(payer: PaymentsPlugin) -> list[tuple[str, Any]]:
    return [("pay", payer)]


@pytest.fixture
async def ctx(app: Any, tenant: Any) -> Any:
    context = await load_context(app.host, app.config, tenant.row, actor="test")
    await upsert_customers(context, [CustomerIn(external_id="C1", name="One", currency="EUR"),
                                     CustomerIn(external_id="C2", name="Two", currency="EUR")])
    await upsert_invoices(context, [InvoiceIn(
        external_id="I1", customer_external_id="C1", number="I1", issue_date=dt.date(2026, 1, 1),
        due_date=dt.date(2026, 1, 31), currency="EUR", total=Decimal("100.00"),
    )])
    return context


async def test_record_payment_is_insert_only_by_external_id(app: Any, tenant: Any, ctx: Any,
                                                            payer: PaymentsPlugin) -> None:
    day = dt.date(2026, 2, 1)
    out = await record_payment(ctx, external_id="P1", customer_external_id="C1", date=day,
                               currency="EUR", amount=Decimal("60.00"),
                               allocations={"I1": Decimal("60.00")})
    assert out["amount"] == "60.00"
    assert out["allocations"] == [{"invoice_external_id": "I1", "amount": "60.00"}]
    again = await record_payment(ctx, external_id="P1", customer_external_id="C1", date=day,
                                 currency="EUR", amount=Decimal("60.00"),
                                 allocations={"I1": Decimal("40.00")})
    assert again == out
    invoice = (await app.client.get("/api/v1/invoices/I1", headers=tenant.headers)).json()
    assert invoice["amount_due"] == "40.00"
    assert payer.payments == ["P1"]
    with pytest.raises(LedgerError) as error:
        await record_payment(ctx, external_id="P2", customer_external_id="C1", date=day,
                             currency="EUR", amount=Decimal("50.00"),
                             allocations={"I1": Decimal("50.00")})
    assert error.value.field == "items[0].allocations[0].amount"
    listed = (await app.client.get("/api/v1/payments", headers=tenant.headers)).json()["items"]
    assert [p["external_id"] for p in listed] == ["P1"]


async def test_portal_urls_open_the_customers_portal(app: Any, tenant: Any, ctx: Any) -> None:
    customers = (await app.client.get("/api/v1/customers", headers=tenant.headers)).json()
    ids = {row["external_id"]: row for row in customers["items"]}
    rows = await arportal.Customer.select(arportal.Customer.id, arportal.Customer.external_id)
    by_ext = {row["external_id"]: row["id"] for row in rows}
    urls = await portal_urls(ctx, [by_ext["C1"], by_ext["C2"]])
    assert urls[by_ext["C1"]] == ids["C1"]["portal_url"]
    opened = await app.client.get(urls[by_ext["C2"]].replace("http://testserver", ""))
    assert opened.status_code == 303
    assert await portal_urls(ctx, []) == {}


async def test_tenant_context_by_id(app: Any, tenant: Any) -> None:
    found = await tenant_context_by_id(app.host, app.config, tenant.id)
    assert found is not None and found.slug == tenant.slug
    assert await tenant_context_by_id(app.host, app.config, tenant.id + 100) is None


async def test_a_page_widens_its_own_csp_within_limits(app: Any, tenant: Any, ctx: Any) -> None:
    customers = (await app.client.get("/api/v1/customers", headers=tenant.headers)).json()
    link = customers["items"][0]["portal_url"].replace("http://testserver", "")
    assert (await app.client.get(link)).status_code == 303
    page = await app.client.get("/portal/pay/checkout")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self' https://js.provider.example;" in policy
    assert "frame-src 'self' https://js.provider.example https://*.provider.example" in policy
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    home = await app.client.get("/portal/")
    assert "provider" not in home.headers["content-security-policy"]
    bad = await app.client.get("/portal/pay/bad")
    assert bad.status_code == 500
    assert "unsafe-inline" not in bad.headers.get("content-security-policy", "")


@pytest.mark.parametrize(
    ("directive", "source"),
    [("script-src", "'unsafe-inline'"), ("script-src", "http://js.provider.example"),
     ("script-src", "https:"), ("script-src", "https://*"), ("script-src", "*"),
     ("script-src", "https://js.provider.example/v3/"), ("default-src", "https://a.example"),
     ("frame-ancestors", "https://a.example"), ("script-src", "https://a.example; object-src *")],
)
def test_csp_sources_that_are_refused(directive: str, source: str) -> None:
    portal = arportal.PortalContext(tenant_id=1, slug="a", name="A", host=None,  # type: ignore[arg-type]
                                    config=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        portal.allow_csp_sources(directive, source)
    assert portal.csp_sources == {}


async def test_customer_details_from_plugins(app: Any, tenant: Any, ctx: Any,
                                             payer: PaymentsPlugin) -> None:
    one = (await app.client.get("/api/v1/customers/C1", headers=tenant.headers)).json()
    assert one["plugins"] == {"pay": {"saved_cards": 1}}
    listed = (await app.client.get("/api/v1/customers", headers=tenant.headers)).json()
    assert [row["plugins"] for row in listed["items"]] == [
        {"pay": {"saved_cards": 1}}, {"pay": {"saved_cards": 0}}
    ]
    payer.fail_details = True
    still = await app.client.get("/api/v1/customers/C1", headers=tenant.headers)
    assert still.status_code == 200 and still.json()["plugins"] == {}
    await app.client.patch("/api/v1/settings", headers=tenant.headers,
                           json={"features": {"pay": False}})
    payer.fail_details = False
    off = (await app.client.get("/api/v1/customers/C1", headers=tenant.headers)).json()
    assert off["plugins"] == {}


def test_plugin_options_in_the_instance_config(tmp_path: Any) -> None:
    path = tmp_path / "arportal.toml"
    path.write_text('[plugins.options.pay]\napi_base = "https://api.provider.example"\n')
    assert load_config(path, environ={}).plugins.options == {
        "pay": {"api_base": "https://api.provider.example"}
    }
    env = {"ARPORTAL_PLUGINS__OPTIONS__PAY__API_BASE": "http://127.0.0.1:9"}
    assert load_config(path, environ=env).plugins.options["pay"]["api_base"] == "http://127.0.0.1:9"
    other = tmp_path / "other.toml"
    other.write_text('database = "sqlite:///x.db"\n')
    assert load_config(other, environ={}).plugins.options == {}
