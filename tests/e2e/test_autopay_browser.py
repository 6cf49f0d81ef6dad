"""Autopay in a real browser (Debian's headless Chromium): a clerk on a phone saves a sandbox
card on the portal, `arportal jobs run` charges the invoice due today, and the portal shows
it paid. The server is uvicorn in a subprocess with the autopay plugin enabled."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import live
from tests.e2e.live import Watch, no_horizontal_scroll

SECRET = "e2e-autopay-" + "z" * 40
ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.e2e,
    live.NEEDS_CHROMIUM,
]


async def _seed(config: Any) -> str:
    """Tenant `acme` with autopay on (no notice wait), a customer with an invoice due today."""
    from arportal.app import build_app
    from arportal.ledger import CustomerIn, InvoiceIn, upsert_customers, upsert_invoices
    from arportal.links import current_links, derive_token
    from arportal.plugins.autopay import plugin as autopay_plugin
    from arportal.settings_store import apply_settings
    from arportal.tenancy import create_tenant, load_context

    app = build_app(config, plugins=[("autopay", autopay_plugin)])
    for hook in app.on_startup:
        await hook(app)
    try:
        tenant = await create_tenant("acme", "Acme Supplies")
        ctx = await load_context(app.state.host, config, tenant, actor="e2e")
        await apply_settings(ctx, {"features": {"autopay": True}, "autopay": {
            "enable_for_new_customers": True, "notice_days": 0}})
        (customer,) = await upsert_customers(ctx, [CustomerIn(
            external_id="C-1", name="Northwind Traders", email="ap@northwind.test",
            currency="EUR")])
        today = dt.date.today()
        await upsert_invoices(ctx, [InvoiceIn(
            external_id="INV-7", customer_external_id="C-1", number="INV-7",
            issue_date=today - dt.timedelta(30), due_date=today, currency="EUR",
            total=Decimal("842.10"))])
        links = await current_links(tenant["id"], [customer["id"]])
        return derive_token(config.resolved_secret(), links[customer["id"]]["nonce"])
    finally:
        for hook in app.on_shutdown:
            await hook(app)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    inst = live.instance(tmp_path_factory.mktemp("e2e-autopay"), SECRET, plugins=["autopay"])
    token = asyncio.run(_seed(inst.config))
    with live.serving(inst):
        yield inst.base_url, token, inst.config_file



def test_save_a_sandbox_card_run_the_job_see_the_invoice_paid(server, browser):
    base_url, token, config_file = server
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True,
                                  has_touch=True, locale="en-US")
    page = context.new_page()
    watch = Watch(page)
    page.goto(f"{base_url}/p/{token}")
    panel = page.locator(".autopay-panel")
    assert "Pay your invoices automatically" in panel.inner_text()
    panel.get_by_role("link", name="Set up autopay").click()
    assert page.url == f"{base_url}/portal/autopay/method"

    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiry month (MM)").fill("12")
    page.get_by_label("Expiry year (YYYY)").fill(str(dt.date.today().year + 3))
    page.get_by_label("Security code (CVC)").fill("123")
    page.get_by_role("button", name="Save payment method").click()
    assert page.url == f"{base_url}/portal/autopay/method", "consent is required"
    page.get_by_label("I authorise Acme Supplies").check()
    page.get_by_role("button", name="Save payment method").click()
    assert page.url == f"{base_url}/portal/autopay?done=saved"
    assert page.get_by_role("status").inner_text() == "Your payment method is saved."
    assert "Visa ending in 4242" in page.locator(".details").inner_text()
    assert "INV-7" in page.locator(".autopay-table").inner_text()
    assert no_horizontal_scroll(page) <= 360

    run = subprocess.run(
        [sys.executable, "-m", "arportal", "--config", str(config_file), "jobs", "run",
         "--force", "--only", "autopay.charge", "--json"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert run.returncode == 0, run.stderr
    assert '"succeeded": 1' in run.stdout

    page.get_by_role("link", name="Back to invoices").click()
    assert "Nothing to pay" in page.locator(".balances").inner_text()
    page.get_by_role("link", name="Paid").click()
    row = page.locator(".invoice-table tbody tr").first
    assert "INV-7" in row.inner_text() and "paid" in row.inner_text()
    page.goto(f"{base_url}/portal/autopay")
    assert "Paid" in page.locator(".autopay-table").last.inner_text()

    assert watch.csp_violations() == []
    assert [line for line in watch.console if line.startswith("error")] == []
    assert watch.failed == []
    context.close()
