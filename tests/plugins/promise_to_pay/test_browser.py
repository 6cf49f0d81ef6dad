"""Making, changing and withdrawing a promise in a real browser (Debian's headless Chromium,
Playwright), on a phone-sized screen, against a uvicorn server with the plugin enabled."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from babel.dates import format_date

from tests.e2e import live
from tests.e2e.live import Watch, no_horizontal_scroll

SECRET = "e2e-promise-secret-" + "z" * 40

pytestmark = [
    pytest.mark.e2e,
    live.NEEDS_CHROMIUM,
]


def long_date(day: dt.date) -> str:
    return format_date(day, "long", locale="en")


async def _seed(config: Any) -> str:
    """A tenant with the feature on, a customer with three open invoices; answers the portal
    token."""
    from arportal.app import build_app
    from arportal.ledger import CustomerIn, InvoiceIn, upsert_customers, upsert_invoices
    from arportal.links import current_links, derive_token
    from arportal.settings_store import apply_settings
    from arportal.tenancy import create_tenant, load_context

    app = build_app(config)
    for hook in app.on_startup:
        await hook(app)
    try:
        tenant = await create_tenant("acme", "Acme Supplies")
        ctx = await load_context(app.state.host, config, tenant, actor="e2e")
        await apply_settings(ctx, {"features": {"promise_to_pay": True}})
        (customer,) = await upsert_customers(ctx, [
            CustomerIn(external_id="C-1", name="Northwind Traders", email="ap@northwind.test",
                       currency="EUR"),
        ])
        today = dt.date.today()
        await upsert_invoices(ctx, [
            InvoiceIn(external_id=f"INV-{n}", customer_external_id="C-1", number=f"INV-{n}",
                      issue_date=today - dt.timedelta(days=20),
                      due_date=today + dt.timedelta(days=n), currency="EUR",
                      total=Decimal(f"{n}00.00"))
            for n in (1, 2, 3)
        ])
        links = await current_links(tenant["id"], [customer["id"]])
        return derive_token(config.resolved_secret(), links[customer["id"]]["nonce"])
    finally:
        for hook in app.on_shutdown:
            await hook(app)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    inst = live.instance(tmp_path_factory.mktemp("e2e-promises"), SECRET, ["promise_to_pay"])
    token = asyncio.run(_seed(inst.config))
    with live.serving(inst):
        yield inst.base_url, token



def test_make_change_and_withdraw_a_promise(server: tuple[str, str], browser: Any) -> None:
    base_url, token = server
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True,
                                  has_touch=True, locale="en-US")
    page = context.new_page()
    watch = Watch(page)
    today = dt.date.today()
    first, later = today + dt.timedelta(days=5), today + dt.timedelta(days=12)

    page.goto(f"{base_url}/p/{token}")
    assert page.locator(".promise-panel h2").inner_text() == "Promises to pay"

    # One invoice, from its page.
    page.get_by_role("link", name="INV-1", exact=True).click()
    page.get_by_role("link", name="Promise to pay").click()
    assert page.get_by_label("INV-1").is_checked()
    assert not page.get_by_label("INV-2").is_checked()
    assert no_horizontal_scroll(page) <= 360
    page.get_by_label("Payment date").fill((today + dt.timedelta(days=40)).isoformat())
    page.get_by_role("button", name="Send the promise").click()
    assert page.locator("#date-error").inner_text().startswith("Choose a date no later than")
    assert page.get_by_label("INV-1").is_checked(), "the form keeps what was chosen"
    page.get_by_label("Payment date").fill(first.isoformat())
    page.get_by_label("Note (optional)").fill("Paid by transfer")
    page.get_by_role("button", name="Send the promise").click()
    assert page.locator(".notice").inner_text() == "Thank you: your promise to pay was sent."

    page.get_by_role("link", name="Back to invoices").click()
    badge = f"Payment promised for {long_date(first)}"
    assert page.locator(".invoice-table").get_by_text(badge).count() == 1

    # Its date changed, from the invoice's page.
    page.get_by_role("link", name="INV-1", exact=True).click()
    page.get_by_role("link", name="Change or withdraw the promise").click()
    page.get_by_label("New payment date").fill(later.isoformat())
    page.get_by_role("button", name="Save the new date").click()
    assert page.locator(".notice").inner_text() == (
        f"Your promise now says {long_date(later)}."
    )
    assert page.locator(".history li").count() == 2
    assert no_horizontal_scroll(page) <= 360

    # Withdrawn.
    page.get_by_role("button", name="Withdraw").click()
    assert page.locator(".notice").inner_text() == "Your promise was withdrawn."
    assert page.locator(".badges").inner_text() == "withdrawn"
    assert page.locator(".history li").count() == 3
    page.get_by_role("link", name="Back to your promises").click()
    page.get_by_role("link", name="Back to invoices").click()
    assert page.get_by_text("Payment promised").count() == 0

    # Several invoices at once, from the panel.
    page.get_by_role("link", name="Promise to pay several invoices").click()
    page.get_by_label("INV-2").check()
    page.get_by_label("INV-3").check()
    page.get_by_label("Payment date").fill(first.isoformat())
    page.get_by_role("button", name="Send the promise").click()
    assert page.locator(".promise-table tbody tr").count() == 3
    page.get_by_role("link", name="Back to invoices").click()
    assert page.get_by_text(f"Payment promised for {long_date(first)}").count() == 2

    assert watch.csp_violations() == []
    errors = [line for line in watch.console if line.startswith("error")]
    refused = "error: Failed to load resource: the server responded with a status of 422"
    assert [line for line in errors if not line.startswith(refused)] == []
    assert len(errors) == 1, "the one refused form (422) is the only failed load"
    assert watch.failed == []
    context.close()
