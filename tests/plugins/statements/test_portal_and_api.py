"""The "Statements" panel, the features switching each statement on and off, the operator's
endpoints, and the tenant's theme, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlsplit

import pypdf
from PIL import Image

from arportal import Theme, hookimpl
from arportal.plugins.statements import plugin as statements_plugin
from tests.conftest import make_tenant, running_app
from tests.plugins.statements.helpers import (
    add_customer,
    api,
    csv_rows,
    invoice,
    open_portal,
    pdf_lines,
    set_features,
    statements_app,
)

PORTAL_ROUTES = {
    "account": ["/portal/statements/account.pdf", "/portal/statements/account.csv"],
    "outstanding": ["/portal/statements/outstanding.pdf", "/portal/statements/outstanding.csv"],
}
API_ROUTES = {
    "account": ["/api/v1/customers/C-1/statements/account.pdf",
                "/api/v1/customers/C-1/statements/account.csv"],
    "outstanding": ["/api/v1/customers/C-1/statements/outstanding.pdf",
                    "/api/v1/customers/C-1/statements/outstanding.csv"],
}


async def statuses(app: Any, tenant: Any, kind: str) -> list[int]:
    found = [(await app.client.get(path)).status_code for path in PORTAL_ROUTES[kind]]
    found += [
        (await app.client.get(path, headers=tenant.headers)).status_code
        for path in API_ROUTES[kind]
    ]
    return found


async def test_features_switch_the_panel_and_the_routes(make_config, frozen_today):
    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        customer = await add_customer(app, tenant)
        await api(app, tenant, "PUT", "/invoices", [invoice("F-1", "2026-02-01", "10.00")])
        await open_portal(app, customer)

        # By default: the account statement on, the outstanding one off.
        home = (await app.client.get("/portal/")).text
        assert "<h2>Statements</h2>" in home
        assert 'action="/portal/statements/account.pdf"' in home
        assert 'formaction="/portal/statements/account.csv"' in home
        assert 'name="from" value="2025-03-15"' in home
        assert 'name="to" value="2026-03-15"' in home
        assert "outstanding.pdf" not in home
        assert await statuses(app, tenant, "account") == [200, 200, 200, 200]
        assert await statuses(app, tenant, "outstanding") == [404, 404, 404, 404]

        await set_features(app, tenant, outstanding_statement=True, account_statement=False)
        home = (await app.client.get("/portal/")).text
        assert 'href="/portal/statements/outstanding.pdf"' in home
        assert 'href="/portal/statements/outstanding.csv"' in home
        assert "account.pdf" not in home and 'name="from"' not in home
        assert await statuses(app, tenant, "account") == [404, 404, 404, 404]
        assert await statuses(app, tenant, "outstanding") == [200, 200, 200, 200]

        await set_features(app, tenant, outstanding_statement=False)
        home = (await app.client.get("/portal/")).text
        assert "Statements" not in home and "statements/" not in home
        assert await statuses(app, tenant, "outstanding") == [404, 404, 404, 404]
        assert await statuses(app, tenant, "account") == [404, 404, 404, 404]


async def test_the_panel_in_french_and_under_the_token_path(make_config, frozen_today):
    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        customer = await add_customer(app, tenant, locale="fr_CA")
        token_path = urlsplit(customer["portal_url"]).path
        home = await app.client.get(f"{token_path}/")
        assert home.status_code == 200
        assert "<h2>Relevés</h2>" in home.text
        assert "Télécharger le PDF" in home.text
        assert f'action="{token_path}/statements/account.pdf"' in home.text
        pdf = await app.client.get(f"{token_path}/statements/account.pdf")
        assert pdf.status_code == 200
        assert "Relevé de compte" in "\n".join(pdf_lines(pdf.content))


async def test_operator_endpoints(make_config, frozen_today):
    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        other = await make_tenant("other", "Other Ltd")
        await add_customer(app, tenant, locale="fr")
        await add_customer(app, other, "C-2", name="Someone Else")
        await api(app, tenant, "PUT", "/invoices", [invoice("F-1", "2026-02-01", "1234.50")])
        await set_features(app, tenant, outstanding_statement=True)
        headers = tenant.headers

        pdf = await app.client.get(API_ROUTES["account"][0] + "?from=2026-01-01", headers=headers)
        assert pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
        lines = pdf_lines(pdf.content)  # the customer's language, not the operator's
        assert "Relevé de compte" in "\n".join(lines)
        assert "1 févr. 2026 Facture F-1 1 234,50 € 1 234,50 €" in lines

        csv = await app.client.get(API_ROUTES["account"][1] + "?from=2026-01-01", headers=headers)
        assert csv_rows(csv.content)[2] == [
            "EUR", "2026-02-01", "Facture", "F-1", "1234.50", "", "1234.50"
        ]
        outstanding = await app.client.get(API_ROUTES["outstanding"][1], headers=headers)
        assert csv_rows(outstanding.content)[1][:6] == [
            "EUR", "F-1", "2026-02-01", "2026-02-01", "1234.50", "1234.50"
        ]
        assert (await app.client.get(API_ROUTES["outstanding"][0], headers=headers)).status_code \
            == 200

        unknown = "/api/v1/customers/NOPE/statements/account.pdf"
        assert (await app.client.get(unknown, headers=headers)).status_code == 404
        theirs = "/api/v1/customers/C-2/statements/account.pdf"
        assert (await app.client.get(theirs, headers=headers)).status_code == 404
        assert (await app.client.get(API_ROUTES["account"][0])).status_code == 401
        schema = (await app.client.get("/api/v1/schema/openapi.json")).json()
        assert "/api/v1/customers/{external_id}/statements/account.pdf" in schema["paths"]


async def test_a_customer_sees_only_their_own_ledger(make_config, frozen_today):
    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        mine = await add_customer(app, tenant, "C-1")
        await add_customer(app, tenant, "C-2", name="Someone Else")
        await api(app, tenant, "PUT", "/invoices", [
            invoice("MINE-1", "2026-02-01", "10.00"),
            invoice("THEIRS-1", "2026-02-01", "20.00", customer="C-2"),
        ])
        await open_portal(app, mine)
        text = "\n".join(pdf_lines((await app.client.get(
            "/portal/statements/account.pdf?from=2026-01-01")).content))
        assert "MINE-1" in text and "THEIRS-1" not in text


def png(colour: str = "#0a7d32") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 40), colour).save(out, format="PNG")
    return out.getvalue()


class ThemePlugin:
    def __init__(self, theme: Theme):
        self.theme = theme

    @hookimpl
    def arportal_theme(self, ctx: Any) -> Theme:
        return self.theme


async def themed_statement(make_config: Any, theme: Theme, slug: str = "acme") -> bytes:
    plugins = [("statements", statements_plugin), ("brand", ThemePlugin(theme))]
    async with running_app(make_config(process_workers=1), plugins) as app:
        tenant = await make_tenant(slug)
        customer = await add_customer(app, tenant)
        await open_portal(app, customer)
        response = await app.client.get("/portal/statements/account.pdf")
        assert response.status_code == 200
        return response.content


async def test_the_tenants_theme_brands_the_statement(make_config, frozen_today):
    content = await themed_statement(
        make_config, Theme(display_name="Acme Brand", primary_color="#0a7d32",
                           logo_bytes=png(), logo_content_type="image/png"),
    )
    assert "Acme Brand" in "\n".join(pdf_lines(content))
    page = pypdf.PdfReader(io.BytesIO(content)).pages[0]
    assert len(page.images) == 1
    assert page.images[0].image.size == (120, 40)


async def test_a_data_url_logo_is_drawn_and_anything_else_is_left_out(make_config, frozen_today):
    import base64

    data_url = "data:image/png;base64," + base64.b64encode(png()).decode()
    content = await themed_statement(make_config, Theme(logo_url=data_url))
    assert len(pypdf.PdfReader(io.BytesIO(content)).pages[0].images) == 1

    hostile = Theme(
        display_name="Evil",
        primary_color="red; } @page { background: url(file:///etc/passwd) } x {",
        logo_url="file:///etc/passwd",
        logo_bytes=b"<svg/>",
        logo_content_type="image/svg+xml",
    )
    content = await themed_statement(make_config, hostile, "evil")
    assert "Evil" in "\n".join(pdf_lines(content))
    assert len(pypdf.PdfReader(io.BytesIO(content)).pages[0].images) == 0
    assert b"root:" not in content


async def test_the_branding_plugins_logo_and_name_reach_the_statement(make_config, frozen_today):
    """With the built-in branding plugin, through the core's theme hook only."""
    from arportal.plugins.branding import plugin as branding_plugin

    plugins = [("statements", statements_plugin), ("branding", branding_plugin)]
    async with running_app(make_config(process_workers=1), plugins) as app:
        tenant = await make_tenant()
        await api(app, tenant, "PATCH", "/settings", {"branding": {"display_name": "Acme Brand"}})
        logo = await app.client.put(
            "/api/v1/branding/logo", content=png(), headers={**tenant.headers,
                                                               "Content-Type": "image/png"},
        )
        assert logo.status_code in (200, 201), logo.text
        customer = await add_customer(app, tenant)
        await open_portal(app, customer)
        content = (await app.client.get("/portal/statements/account.pdf")).content
        assert "Acme Brand" in "\n".join(pdf_lines(content))
        assert len(pypdf.PdfReader(io.BytesIO(content)).pages[0].images) == 1
