"""The portal in a real browser: Debian's headless Chromium driven by Playwright against a
uvicorn server in a subprocess, on a temporary SQLite database seeded through the ledger."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e import live
from tests.e2e.live import Watch, no_horizontal_scroll

SECRET = "e2e-secret-" + "y" * 40

pytestmark = [
    pytest.mark.e2e,
    live.NEEDS_CHROMIUM,
]




async def _seed(config: Any) -> dict[str, str]:
    """A tenant, an English customer with invoices in two currencies and a payment, and a
    French customer whose link has expired. Answers the two portal tokens."""
    from arportal.app import build_app
    from arportal.ledger import (
        AllocationIn,
        CustomerIn,
        InvoiceIn,
        PaymentIn,
        upsert_customers,
        upsert_invoices,
        upsert_payments,
    )
    from arportal.links import current_links, derive_token
    from arportal.models import PortalLink
    from arportal.tenancy import create_tenant, load_context

    app = build_app(config, plugins=[])
    for hook in app.on_startup:
        await hook(app)
    try:
        tenant = await create_tenant("acme", "Acme Supplies")
        ctx = await load_context(app.state.host, config, tenant, actor="e2e")
        customers = await upsert_customers(
            ctx,
            [
                CustomerIn(external_id="C-1", name="Northwind Traders International",
                           email="ap@northwind.test", currency="EUR", locale="en"),
                CustomerIn(external_id="C-2", name="Bistro Lyonnais",
                           email="compta@bistro.test", currency="EUR", locale="fr"),
            ],
        )
        today = dt.date.today()
        invoices = [
            InvoiceIn(external_id="INV-LATE", customer_external_id="C-1",
                      number="INV-2026-000123-LONG-REFERENCE", issue_date=today - dt.timedelta(60),
                      due_date=today - dt.timedelta(30), currency="EUR", total=Decimal("1234.50")),
            InvoiceIn(external_id="INV-SOON", customer_external_id="C-1", number="INV-124",
                      issue_date=today - dt.timedelta(5), due_date=today + dt.timedelta(25),
                      currency="EUR", total=Decimal("99999.99")),
            InvoiceIn(external_id="INV-USD", customer_external_id="C-1", number="INV-125",
                      issue_date=today - dt.timedelta(10), due_date=today + dt.timedelta(20),
                      currency="USD", total=Decimal("300.00")),
            InvoiceIn(external_id="INV-PAID", customer_external_id="C-1", number="INV-100",
                      issue_date=today - dt.timedelta(90), due_date=today - dt.timedelta(60),
                      currency="EUR", total=Decimal("500.00")),
            InvoiceIn(external_id="INV-FR", customer_external_id="C-2", number="F-1",
                      issue_date=today - dt.timedelta(10), due_date=today + dt.timedelta(20),
                      currency="EUR", total=Decimal("42.00")),
        ]
        await upsert_invoices(ctx, invoices)
        await upsert_payments(
            ctx,
            [PaymentIn(external_id="PAY-1", customer_external_id="C-1",
                       date=today - dt.timedelta(55), currency="EUR", amount=Decimal("500.00"),
                       allocations=[AllocationIn(invoice_external_id="INV-PAID",
                                                 amount=Decimal("500.00"))])],
        )
        ids = {row["external_id"]: row["id"] for row in customers}
        links = await current_links(tenant["id"], list(ids.values()))
        await PortalLink.update(
            {PortalLink.expires_at: dt.datetime.now(dt.UTC) - dt.timedelta(days=1)}
        ).where(PortalLink.customer == ids["C-2"])
        secret = config.resolved_secret()
        return {
            "en": derive_token(secret, links[ids["C-1"]]["nonce"]),
            "fr_expired": derive_token(secret, links[ids["C-2"]]["nonce"]),
        }
    finally:
        for hook in app.on_shutdown:
            await hook(app)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    inst = live.instance(tmp_path_factory.mktemp("e2e"), SECRET, plugins=[])
    tokens = asyncio.run(_seed(inst.config))
    with live.serving(inst):
        yield inst.base_url, tokens







def test_a_clerk_on_a_phone_reads_and_navigates_the_portal(server, browser):
    base_url, tokens = server
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True, locale="en-US")
    page = context.new_page()
    watch = Watch(page)

    page.goto(f"{base_url}/p/{tokens['en']}")
    assert page.url == f"{base_url}/portal/", "landed on a token-free URL"
    assert tokens["en"] not in page.content()
    assert page.locator("h1").inner_text() == "Invoices for Northwind Traders International"
    assert page.locator(".brand-name").inner_text() == "Acme Supplies"
    balances = page.locator(".balances").inner_text()
    assert "€101,234.49" in balances and "€1,234.50" in balances and "$300.00" in balances
    rows = page.locator(".invoice-table tbody tr")
    assert rows.count() == 3
    assert "Overdue" in rows.nth(0).inner_text()
    assert no_horizontal_scroll(page) <= 360

    styles = page.evaluate(
        "[getComputedStyle(document.body).backgroundColor,"
        " getComputedStyle(document.querySelector('.banner')).backgroundColor]"
    )
    assert styles == ["rgb(243, 244, 246)", "rgb(27, 42, 65)"], "both stylesheets applied"

    page.get_by_role("link", name="Paid").click()
    assert page.url.endswith("/portal/?status=paid")
    assert page.locator(".invoice-table tbody tr").count() == 1
    assert "INV-100" in page.locator(".invoice-table").inner_text()
    page.get_by_role("link", name="All").click()
    assert page.locator(".invoice-table tbody tr").count() == 4
    assert page.locator('.tabs a[aria-current="page"]').inner_text() == "All"

    page.get_by_role("link", name="INV-100").click()
    assert page.url.endswith("/portal/invoices/INV-PAID")
    assert page.locator("h1").inner_text() == "Invoice INV-100"
    assert "PAY-1" in page.locator(".allocations").inner_text()
    assert no_horizontal_scroll(page) <= 360

    page.get_by_role("link", name="Back to invoices").click()
    page.get_by_role("link", name="INV-2026-000123-LONG-REFERENCE").click()
    assert "€1,234.50" in page.locator(".details").inner_text()
    assert no_horizontal_scroll(page) <= 360

    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content", "the first Tab reaches the skip link"

    assert watch.csp_violations() == []
    assert [line for line in watch.console if line.startswith("error")] == []
    assert watch.failed == []
    context.close()


def test_wide_screen_shows_a_table(server, browser):
    base_url, tokens = server
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    watch = Watch(page)
    page.goto(f"{base_url}/p/{tokens['en']}")
    assert page.evaluate("getComputedStyle(document.querySelector('thead')).display") == (
        "table-header-group"
    )
    assert no_horizontal_scroll(page) <= 1280
    assert watch.csp_violations() == []
    context.close()


def test_an_expired_link_asks_for_a_fresh_one_in_french(server, browser):
    base_url, tokens = server
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    watch = Watch(page)
    response = page.goto(f"{base_url}/p/{tokens['fr_expired']}")
    assert response is not None and response.status == 410
    assert page.locator("h1").inner_text() == "Ce lien a expiré"
    assert "compta@bistro.test" not in page.content()
    page.get_by_role("button", name="M'envoyer un nouveau lien").click()
    assert page.url == f"{base_url}/portal/link-sent?lang=fr"
    assert page.locator("h1").inner_text() == "Consultez votre boîte de réception"
    assert no_horizontal_scroll(page) <= 360
    assert watch.csp_violations() == []
    context.close()
