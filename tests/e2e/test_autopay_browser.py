"""Autopay in a real browser (Debian's headless Chromium): a clerk on a phone saves a sandbox
card on the portal, `arportal jobs run` charges the invoice due today, and the portal shows
it paid. The server is uvicorn in a subprocess with the autopay plugin enabled."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_portal_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Watch,
    _free_port,
    no_horizontal_scroll,
)

SECRET = "e2e-autopay-" + "z" * 40
ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent"),
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
    from arportal.config import Config

    folder = tmp_path_factory.mktemp("e2e-autopay")
    database = f"sqlite:///{folder / 'portal.db'}"
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    config_file = folder / "arportal.toml"
    config_file.write_text(
        f'database = "{database}"\nsecret_key = "{SECRET}"\nbase_url = "{base_url}"\n'
        f'files_dir = "{folder / "files"}"\nrun_jobs = false\n\n'
        '[plugins]\nenabled = ["autopay"]\n'
    )
    token = asyncio.run(_seed(Config(database=database, secret_key=SECRET, base_url=base_url,
                                     files_dir=str(folder / "files"))))
    env = {**os.environ, "ARPORTAL_CONFIG": str(config_file)}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "arportal.app:build_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env=env, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"the server exited: {output}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the server did not answer /healthz within 30 s")
            time.sleep(0.2)
        yield base_url, token, config_file
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


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
