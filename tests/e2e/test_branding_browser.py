"""Branding in a real browser: Debian's headless Chromium (Playwright) against a uvicorn server
with the branding plugin, one branded tenant and one without branding.

The branded home page's screenshot illustrates docs/branding.md; run with
`ARPORTAL_TEST_SCREENSHOTS=1` to write it there (otherwise it goes to the test's temporary
folder, so a test run never changes the source tree)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.core.file_samples import PDF, png
from tests.e2e import live
from tests.e2e.live import Watch

SECRET = "e2e-branding-" + "z" * 40
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "branding-portal.png"
BANNER = "#0b3d2e"
PRIMARY = "#b3261e"
LOGO = png(48, 16, (255, 213, 0))

pytestmark = [
    pytest.mark.e2e,
    live.NEEDS_CHROMIUM,
]


def rgb(colour: str) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


async def _seed(config: Any) -> dict[str, str]:
    """Two tenants through the admin API: Acme branded (colours, name, contact, logo, a W-9),
    Globex left as installed. Answers a portal link of a customer of each."""
    from arportal.api_keys import create_api_key
    from arportal.app import build_app
    from arportal.plugins.branding import plugin as branding
    from arportal.tenancy import create_tenant

    app = build_app(config, plugins=[("branding", branding)])
    for hook in app.on_startup:
        await hook(app)
    links: dict[str, str] = {}
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=config.base_url) as client:
            for slug, name in (("acme", "Acme Supplies"), ("globex", "Globex")):
                tenant = await create_tenant(slug, name)
                key, _ = await create_api_key(tenant["id"])
                headers = {"Authorization": f"Bearer {key}"}

                async def call(method: str, path: str, headers: dict[str, str] = headers,
                               **kwargs: Any) -> Any:
                    response = await client.request(method, f"/api/v1{path}", headers=headers,
                                                    **kwargs)
                    assert response.status_code < 300, response.text
                    return response.json() if response.content else None

                today = dt.date.today()
                (customer,) = await call("PUT", "/customers", json=[{
                    "external_id": "C-1", "name": "Northwind Traders", "currency": "EUR",
                    "email": "ap@northwind.test",
                }])
                await call("PUT", "/invoices", json=[
                    {"external_id": f"INV-{n}", "customer_external_id": "C-1",
                     "number": f"INV-{n}", "issue_date": str(today - dt.timedelta(days=d + 30)),
                     "due_date": str(today - dt.timedelta(days=d)), "currency": "EUR",
                     "total": total}
                    for n, d, total in ((101, 12, "1234.50"), (102, -18, "560.00"),
                                        (103, -25, "89.90"))
                ])
                links[slug] = customer["portal_url"]
                if slug != "acme":
                    continue
                await call("PATCH", "/settings", json={"branding": {
                    "display_name": "Acme Billing", "primary_color": PRIMARY,
                    "banner_color": BANNER, "contact_email": "ar@acme.test",
                    "contact_phone": "+1 (555) 010-9999",
                }})
                await call("PUT", "/branding/logo", files={"file": ("logo.png", LOGO)})
                await call("POST", "/branding/documents", data={"title": "W-9 form (2026)"},
                           files={"file": ("W-9 2026.pdf", PDF)})
    finally:
        for hook in app.on_shutdown:
            await hook(app)
    return links


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    inst = live.instance(tmp_path_factory.mktemp("e2e-branding"), SECRET, plugins=["branding"])
    links = asyncio.run(_seed(inst.config))
    with live.serving(inst):
        yield inst.base_url, links



def computed(page: Any, selector: str, *properties: str) -> list[str]:
    return page.evaluate(
        "([selector, properties]) => { const style = getComputedStyle("
        "document.querySelector(selector)); return properties.map(p => style[p]); }",
        [selector, list(properties)],
    )


def test_a_branded_portal_in_the_browser(server: Any, browser: Any, tmp_path: Path) -> None:
    base_url, links = server
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    watch = Watch(page)
    page.goto(links["acme"])
    assert page.url == f"{base_url}/portal/"

    assert page.locator(".brand-name").inner_text() == "Acme Billing"
    assert computed(page, ".banner", "backgroundColor", "color") == [rgb(BANNER), rgb("#ffffff")]
    current_tab = '.tabs a[aria-current="page"]'
    assert computed(page, current_tab, "backgroundColor", "color") == [
        rgb(PRIMARY), rgb("#ffffff")
    ], "buttons take the primary colour, with white text that reads on it"
    assert computed(page, ".contact a", "color") == [rgb(PRIMARY)], "links too"

    logo = page.locator("img.logo")
    assert logo.get_attribute("src") == "/portal/logo"
    assert page.evaluate("document.querySelector('img.logo').naturalWidth") == 48

    contact = page.locator(".contact")
    assert contact.get_by_role("link", name="ar@acme.test").get_attribute("href") == (
        "mailto:ar@acme.test"
    )
    assert contact.get_by_role("link", name="+1 (555) 010-9999").get_attribute("href") == (
        "tel:+15550109999"
    )

    shot = SCREENSHOT if os.environ.get("ARPORTAL_TEST_SCREENSHOTS") else tmp_path / "shot.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    with page.expect_download() as info:
        page.get_by_role("link", name="W-9 form (2026)").click()
    download = info.value
    assert download.suggested_filename == "W-9 2026.pdf"
    assert Path(download.path()).read_bytes() == PDF

    page.get_by_role("link", name="INV-101").click()
    page.wait_for_url(f"{base_url}/portal/invoices/INV-101")
    assert page.locator("h1").inner_text() == "Invoice INV-101"
    assert page.locator(".contact").get_by_role("link", name="ar@acme.test").is_visible()
    assert page.get_by_role("link", name="W-9 form (2026)").is_visible()
    assert computed(page, ".banner", "backgroundColor") == [rgb(BANNER)]

    assert watch.csp_violations() == []
    assert [line for line in watch.console if line.startswith("error")] == []
    assert watch.failed == []
    context.close()


def test_a_tenant_without_branding_shows_the_defaults(server: Any, browser: Any) -> None:
    _base_url, links = server
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    watch = Watch(page)
    page.goto(links["globex"])
    assert page.locator(".brand-name").inner_text() == "Globex"
    assert computed(page, ".banner", "backgroundColor", "color") == [
        rgb("#1b2a41"), rgb("#ffffff")
    ]
    assert computed(page, '.tabs a[aria-current="page"]', "backgroundColor") == [rgb("#1f5fbf")]
    assert page.locator("img.logo").count() == 0
    assert page.locator(".contact").count() == 0
    assert page.get_by_role("link", name="W-9 form (2026)").count() == 0
    assert watch.csp_violations() == [] and watch.failed == []
    context.close()
