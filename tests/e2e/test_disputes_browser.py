"""A dispute from start to end in a real browser: the clerk opens it from the invoice page
with an attachment, sees the badge and the thread; the operator replies and resolves it through
the admin API; the badge goes. Debian's headless Chromium, driven by Playwright, against a
uvicorn server in a subprocess that loads the installed disputes plugin."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import live
from tests.e2e.live import Watch, no_horizontal_scroll

SECRET = "e2e-disputes-" + "z" * 40
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"

pytestmark = [
    pytest.mark.e2e,
    live.NEEDS_CHROMIUM,
]


async def _seed(config: Any) -> dict[str, str]:
    """Tenant `acme` with the feature on, customer C-1 with two open invoices. Answers the
    portal token and the API key."""
    from arportal.api_keys import create_api_key
    from arportal.app import build_app
    from arportal.ledger import CustomerIn, InvoiceIn, upsert_customers, upsert_invoices
    from arportal.links import current_links, derive_token
    from arportal.plugins.disputes import plugin
    from arportal.settings_store import apply_settings
    from arportal.tenancy import create_tenant, load_context

    app = build_app(config, plugins=[("disputes", plugin)])
    for hook in app.on_startup:
        await hook(app)
    try:
        tenant = await create_tenant("acme", "Acme Supplies")
        key, _ = await create_api_key(tenant["id"])
        ctx = await load_context(app.state.host, config, tenant, actor="e2e")
        await apply_settings(ctx, {"features": {"disputes": True},
                                   "disputes": {"notify_emails": ["ar@acme.test"]}})
        (customer,) = await upsert_customers(
            ctx, [CustomerIn(external_id="C-1", name="Northwind Traders",
                             email="ap@northwind.test", currency="EUR", locale="en")],
        )
        today = dt.date.today()
        await upsert_invoices(ctx, [
            InvoiceIn(external_id=f"INV-{n}", customer_external_id="C-1", number=f"INV-{n}",
                      issue_date=today - dt.timedelta(10), due_date=today + dt.timedelta(20),
                      currency="EUR", total=Decimal("250.00"))
            for n in (7, 8)
        ])
        links = await current_links(tenant["id"], [customer["id"]])
        token = derive_token(config.resolved_secret(), links[customer["id"]]["nonce"])
        return {"token": token, "api_key": key}
    finally:
        for hook in app.on_shutdown:
            await hook(app)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    inst = live.instance(tmp_path_factory.mktemp("e2e-disputes"), SECRET, plugins=["disputes"])
    seeded = asyncio.run(_seed(inst.config))
    with live.serving(inst):
        yield inst.base_url, seeded


def test_a_dispute_from_the_invoice_page_to_its_resolution(server, browser, tmp_path):  # noqa: F811
    base_url, seeded = server
    operator = httpx.Client(base_url=f"{base_url}/api/v1", timeout=10,
                            headers={"Authorization": f"Bearer {seeded['api_key']}"})
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True,
                                  has_touch=True, locale="en-US")
    page = context.new_page()
    watch = Watch(page)

    page.goto(f"{base_url}/p/{seeded['token']}")
    page.get_by_role("link", name="INV-7").click()
    assert page.locator("h1").inner_text() == "Invoice INV-7"
    page.get_by_role("link", name="Dispute", exact=True).click()
    assert page.locator("h1").inner_text() == "Dispute invoice INV-7"

    page.get_by_label("Reason").select_option(label="Pricing disagreement")
    page.get_by_label("Message", exact=True).fill(
        "We were quoted 200.00, not 250.00.\nSee the quote."
    )
    page.get_by_label("Attachment (optional)").set_input_files(
        files=[{"name": "quote.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.get_by_role("button", name="Send the dispute").click()
    match = re.search(r"/portal/disputes/(\d+)\?sent=dispute$", page.url)
    assert match, page.url
    dispute_id = match.group(1)
    assert page.get_by_role("status").inner_text() == (
        "Your dispute was sent. We will answer you here."
    )
    messages = page.locator(".messages li")
    assert messages.count() == 1
    assert "We were quoted 200.00, not 250.00.\nSee the quote." in messages.first.inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="Attachment: quote.pdf").click()
    assert Path(download.value.path()).read_bytes() == PDF
    assert no_horizontal_scroll(page) <= 360

    page.get_by_role("link", name="Back to the invoice").click()
    assert "Disputed: Pricing disagreement" in page.locator(".badges").inner_text()
    page.get_by_role("link", name="Back to invoices").click()
    row = page.locator(".invoice-table tbody tr", has_text="INV-7")
    assert "Disputed: Pricing disagreement" in row.inner_text()
    assert "Disputed" not in page.locator(".invoice-table tbody tr", has_text="INV-8").inner_text()
    page.screenshot(path=str(tmp_path / "disputed-list.png"), full_page=True)

    reply = operator.post(f"/disputes/{dispute_id}/messages",
                          json={"body": "Thanks, we are checking the quote."})
    assert reply.status_code == 201, reply.text
    page.get_by_role("link", name=re.compile("^Invoice INV-7")).click()
    assert page.url.endswith(f"/portal/disputes/{dispute_id}")
    assert messages.count() == 2
    assert "Acme Supplies team" in messages.nth(1).inner_text()
    assert "Thanks, we are checking the quote." in messages.nth(1).inner_text()

    page.get_by_label("Message", exact=True).fill("Here is the signed order as well.")
    page.get_by_role("button", name="Send", exact=True).click()
    assert page.get_by_role("status").inner_text() == "Your message was sent."
    assert messages.count() == 3
    page.screenshot(path=str(tmp_path / "thread.png"), full_page=True)

    resolved = operator.post(f"/disputes/{dispute_id}/resolve",
                             json={"resolution": "accepted", "note": "A credit note follows."})
    assert resolved.status_code == 200, resolved.text
    page.reload()
    assert "Resolved: accepted" in page.locator(".dispute-details").inner_text()
    assert "A credit note follows." in page.locator(".resolution").inner_text()
    assert page.locator("textarea").count() == 0

    page.get_by_role("link", name="Back to the invoice").click()
    assert "Disputed" not in page.locator(".badges").inner_text()
    assert page.get_by_role("link", name="Past dispute").count() == 1
    page.get_by_role("link", name="Back to invoices").click()
    assert "Disputed" not in page.locator(".invoice-table").inner_text()

    listed = operator.get("/disputes", params={"status": "resolved"}).json()["items"]
    assert [(item["id"], item["resolution"], len(item["messages"])) for item in listed] == [
        (int(dispute_id), "accepted", 3)
    ]
    assert watch.csp_violations() == []
    assert [line for line in watch.console if line.startswith("error")] == []
    assert watch.failed == []
    operator.close()
    context.close()
