"""The branding plugin as an operator and a customer's clerk use it (SQLite and PostgreSQL):
contact details, white label, logo, shared documents, and a tenant without branding."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from arportal.plugins.branding import plugin as branding
from tests.conftest import Running, make_tenant
from tests.plugins.branding.helpers import (
    EXE,
    HTML,
    JPEG,
    PDF,
    SVG,
    TEXT,
    add_customer,
    api,
    enter,
    office,
    patch_branding,
    png,
    put_logo,
    upload,
)


@pytest.fixture
def plugins() -> list[tuple[str, Any]]:
    return [("branding", branding)]


def contact_block(page: str) -> str:
    start = page.index('<aside class="contact"')
    return page[start : page.index("</aside>", start)]


# --- contact information -----------------------------------------------------------------------


async def test_contact_details_are_on_every_portal_page(app: Running) -> None:
    tenant = await make_tenant()
    await patch_branding(app, tenant, contact_email="ar@acme.test",
                         contact_phone="+1 (555) 010-9999")
    await enter(app, await add_customer(app, tenant))

    for path in ("/portal/", "/portal/invoices/C1-INV-1"):
        page = (await app.client.get(path)).text
        block = contact_block(page)
        assert "Questions about your invoices?" in block
        assert '<a href="mailto:ar@acme.test">ar@acme.test</a>' in block
        assert '<a href="tel:+15550109999">+1 (555) 010-9999</a>' in block


async def test_contact_details_in_french(app: Running) -> None:
    tenant = await make_tenant()
    await patch_branding(app, tenant, contact_phone="01 23 45 67 89")
    await enter(app, await add_customer(app, tenant, locale="fr"))
    block = contact_block((await app.client.get("/portal/")).text)
    assert "Des questions sur vos factures ?" in block
    assert '<a href="tel:0123456789">01 23 45 67 89</a>' in block


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"contact_email": "not an address"}, "branding.contact_email"),
        ({"contact_email": "ar@acme.test\r\nBcc: x@evil.test"}, "branding.contact_email"),
        ({"contact_phone": "call us"}, "branding.contact_phone"),
        ({"contact_phone": "+1 555 010 9999 0000 0000"}, "branding.contact_phone"),
        ({"contact_phone": "12"}, "branding.contact_phone"),
        ({"primary_color": "red"}, "branding.primary_color"),
        ({"primary_color": "#12345"}, "branding.primary_color"),
        ({"banner_color": "#123456;}body{background:url(//evil)}"}, "branding.banner_color"),
        ({"display_name": ""}, "branding.display_name"),
        ({"colour": "#123456"}, "branding.colour"),
    ],
)
async def test_bad_values_are_refused_with_the_field(
    app: Running, values: dict[str, Any], field: str
) -> None:
    tenant = await make_tenant()
    error = await patch_branding(app, tenant, status=422, **values)
    assert error["field"] == field
    settings = await api(app, tenant, "GET", "/settings")
    assert settings["branding"]["primary_color"] is None, "nothing half-written"


# --- white label ---------------------------------------------------------------------------


async def test_colours_and_name_reach_the_pages_as_css_custom_properties(app: Running) -> None:
    tenant = await make_tenant()
    await patch_branding(app, tenant, display_name="Acme Billing", primary_color="#ffd500",
                         banner_color="#0b3d2e")
    await enter(app, await add_customer(app, tenant))

    home = (await app.client.get("/portal/")).text
    assert '<p class="brand-name">Acme Billing</p>' in home
    assert '<link rel="stylesheet" href="/portal/theme.css">' in home
    assert "<script" not in home and "style=" not in home, "no inline script or style"
    css = (await app.client.get("/portal/theme.css")).text
    assert "--primary:#ffd500" in css and "--banner:#0b3d2e" in css
    assert "--primary-text:#000000" in css, "white on yellow would not read: black"
    assert "--banner-text:#ffffff" in css
    assert "--link:#1f5fbf" in css, "yellow links on white would not read: the default"


async def test_a_tenant_without_branding_keeps_the_defaults(app: Running) -> None:
    branded = await make_tenant("acme", "Acme Corp")
    plain = await make_tenant("globex", "Globex")
    await patch_branding(app, branded, display_name="Acme Billing", primary_color="#0a7d32",
                         contact_email="ar@acme.test")
    await put_logo(app, branded, png())
    await upload(app, branded, PDF, "w9.pdf")

    await enter(app, await add_customer(app, plain, "G1"))
    home = (await app.client.get("/portal/")).text
    assert '<p class="brand-name">Globex</p>' in home
    assert 'class="logo"' not in home and "ar@acme.test" not in home and "W-9" not in home
    css = (await app.client.get("/portal/theme.css")).text
    assert "--primary:#1f5fbf" in css and "--banner:#1b2a41" in css
    assert (await app.client.get("/portal/logo")).status_code == 404


async def test_logo_in_the_banner_and_served_from_the_portal(app: Running) -> None:
    tenant = await make_tenant()
    logo = png(4, 2)
    answer = await put_logo(app, tenant, logo)
    assert answer["content_type"] == "image/png" and answer["size"] == len(logo)
    await enter(app, await add_customer(app, tenant))

    home = (await app.client.get("/portal/")).text
    assert '<img class="logo" src="/portal/logo" alt="">' in home
    served = await app.client.get("/portal/logo")
    assert served.status_code == 200 and served.content == logo
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"

    replaced = await put_logo(app, tenant, JPEG)
    assert replaced["logo"] != answer["logo"]
    assert (await app.client.get("/portal/logo")).content == JPEG
    settings = await api(app, tenant, "GET", "/settings")
    assert settings["branding"]["logo"] == replaced["logo"]

    await api(app, tenant, "DELETE", "/branding/logo", status=204)
    assert (await app.client.get("/portal/logo")).status_code == 404
    assert 'class="logo"' not in (await app.client.get("/portal/")).text


async def test_a_logo_may_also_be_sent_as_the_body(app: Running) -> None:
    tenant = await make_tenant()
    response = await app.client.put(
        "/api/v1/branding/logo", content=png(), headers={**tenant.headers,
                                                         "content-type": "image/png"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["content_type"] == "image/png"


@pytest.mark.parametrize(
    ("data", "detail"),
    [(SVG, "SVG is not accepted (allowed: PNG, JPEG)"),
     (b"GIF89a" + b"\x00" * 20, "GIF is not accepted"),
     (PDF, "PDF is not accepted")],
)
async def test_a_logo_is_png_or_jpeg(app: Running, data: bytes, detail: str) -> None:
    tenant = await make_tenant()
    error = await put_logo(app, tenant, data, status=422)
    assert error["field"] == "file" and detail in error["detail"]
    assert (await api(app, tenant, "GET", "/settings"))["branding"]["logo"] is None


async def test_the_logo_setting_only_takes_an_image_of_the_same_tenant(app: Running) -> None:
    acme = await make_tenant("acme", "Acme")
    globex = await make_tenant("globex", "Globex")
    theirs = await put_logo(app, globex, png())
    document = await upload(app, acme, PDF, "terms.pdf")
    for value in (theirs["logo"], 999999):
        error = await patch_branding(app, acme, status=422, logo=value)
        assert error["field"] == "branding.logo"
    assert document["content_type"] == "application/pdf"


# --- shared documents ------------------------------------------------------------------------


async def test_a_shared_document_is_listed_on_every_page_and_downloads(app: Running) -> None:
    tenant = await make_tenant()
    document = await upload(app, tenant, PDF, "Formulaire W-9 (2026).pdf", title="W-9 form")
    assert document["title"] == "W-9 form" and document["content_type"] == "application/pdf"
    assert document["file_name"] == "Formulaire W-9 (2026).pdf" and document["size"] == len(PDF)
    listing = await api(app, tenant, "GET", "/branding/documents")
    assert [item["id"] for item in listing["items"]] == [document["id"]]

    await enter(app, await add_customer(app, tenant))
    link = f'<a href="/portal/documents/{document["id"]}" download>W-9 form</a>'
    for path in ("/portal/", "/portal/invoices/C1-INV-1", "/portal/?status=paid"):
        assert link in (await app.client.get(path)).text

    download = await app.client.get(f"/portal/documents/{document['id']}")
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["x-content-type-options"] == "nosniff"
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Formulaire%20W-9%20%282026%29.pdf" in disposition


async def test_the_type_is_sniffed_from_the_content_not_the_name(app: Running) -> None:
    tenant = await make_tenant()
    cases = [
        (TEXT, "bank-details.pdf", "text/plain"),
        (office("docx"), "terms.bin", "application/vnd.openxmlformats-officedocument."
                                      "wordprocessingml.document"),
        (office("xlsx"), "rates", "application/vnd.openxmlformats-officedocument."
                                  "spreadsheetml.sheet"),
        (png(), "scan.jpg", "image/png"),
        (JPEG, "scan.png", "image/jpeg"),
    ]
    for data, name, expected in cases:
        assert (await upload(app, tenant, data, name))["content_type"] == expected, name

    await enter(app, await add_customer(app, tenant))
    home = (await app.client.get("/portal/")).text
    assert "(plain text, 1 KB)" in home and "(DOCX, 1 KB)" in home


@pytest.mark.parametrize(
    ("data", "name", "detail"),
    [
        (HTML, "w9.pdf", "HTML is not accepted"),
        (b"  <html><body>x</body></html>", "notes.txt", "HTML is not accepted"),
        (SVG, "logo.png", "SVG is not accepted"),
        (EXE, "invoice.pdf", "an executable is not accepted"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 40, "data.txt", "an executable is not accepted"),
        (b"#!/bin/sh\nrm -rf /\n", "readme.txt", "an executable is not accepted"),
        (b"GIF89a" + b"\x00" * 20, "x.gif", "GIF is not accepted"),
        (b"", "empty.pdf", "the file is empty"),
    ],
)
async def test_dangerous_and_unknown_types_are_refused(
    app: Running, data: bytes, name: str, detail: str
) -> None:
    tenant = await make_tenant()
    error = await upload(app, tenant, data, name, status=422)
    assert error["field"] == "file" and detail in error["detail"]
    assert "allowed: PDF, PNG, JPEG, plain text, DOCX, XLSX" in error["detail"] or not data
    assert (await api(app, tenant, "GET", "/branding/documents"))["items"] == []


async def test_a_title_is_required(app: Running) -> None:
    tenant = await make_tenant()
    error = await upload(app, tenant, PDF, "w9.pdf", title="  ", status=422)
    assert error["field"] == "title"


async def test_over_the_size_limit_answers_413(make_config: Any, plugins: Any) -> None:
    from tests.conftest import running_app

    async with running_app(make_config(upload_max_bytes=1000), plugins) as running:
        tenant = await make_tenant()
        error = await upload(running, tenant, PDF + b"0" * 1000, "big.pdf", status=413)
        assert error["field"] == "file" and "larger than the limit" in error["detail"]
        assert (await upload(running, tenant, PDF, "small.pdf"))["size"] == len(PDF)


async def test_another_tenants_document_is_not_found(app: Running) -> None:
    acme = await make_tenant("acme", "Acme")
    globex = await make_tenant("globex", "Globex")
    theirs = await upload(app, globex, PDF, "globex.pdf", title="Globex W-9")
    await enter(app, await add_customer(app, acme))
    assert (await app.client.get(f"/portal/documents/{theirs['id']}")).status_code == 404
    assert "Globex W-9" not in (await app.client.get("/portal/")).text
    await api(app, acme, "DELETE", f"/branding/documents/{theirs['id']}", status=404)
    assert [d["id"] for d in (await api(app, globex, "GET", "/branding/documents"))["items"]] == [
        theirs["id"]
    ]


async def test_deleting_a_document_removes_it_and_its_bytes(app: Running) -> None:
    tenant = await make_tenant()
    other = await make_tenant("globex", "Globex")
    kept = await upload(app, other, TEXT, "same-bytes.txt")
    document = await upload(app, tenant, TEXT, "bank.txt", title="Bank details")
    unique = await upload(app, tenant, PDF, "terms.pdf", title="Terms")
    files = Path(app.config.files_dir)
    assert len([p for p in files.rglob("*") if p.is_file()]) == 2, "identical bytes kept once"

    await api(app, tenant, "DELETE", f"/branding/documents/{document['id']}", status=204)
    await api(app, tenant, "DELETE", f"/branding/documents/{unique['id']}", status=204)
    assert (await api(app, tenant, "GET", "/branding/documents"))["items"] == []
    remaining = [p for p in files.rglob("*") if p.is_file()]
    assert len(remaining) == 1 and remaining[0].read_bytes() == TEXT, "the other tenant's stay"
    await enter(app, await add_customer(app, tenant))
    assert (await app.client.get(f"/portal/documents/{document['id']}")).status_code == 404
    await enter(app, await add_customer(app, other, "G1"))
    assert (await app.client.get(f"/portal/documents/{kept['id']}")).content == TEXT


async def test_feature_off_the_branding_is_absent(app: Running) -> None:
    tenant = await make_tenant()
    await patch_branding(app, tenant, primary_color="#0a7d32", contact_email="ar@acme.test")
    document = await upload(app, tenant, PDF, "w9.pdf")
    await api(app, tenant, "PATCH", "/settings", {"features": {"branding": False}})

    await enter(app, await add_customer(app, tenant))
    home = (await app.client.get("/portal/")).text
    assert "ar@acme.test" not in home and "W-9" not in home
    assert "#0a7d32" not in (await app.client.get("/portal/theme.css")).text
    assert (await app.client.get(f"/portal/documents/{document['id']}")).status_code == 404
    await api(app, tenant, "GET", "/branding/documents", status=404)


async def test_documents_are_audited(app: Running) -> None:
    tenant = await make_tenant()
    document = await upload(app, tenant, PDF, "w9.pdf")
    await api(app, tenant, "DELETE", f"/branding/documents/{document['id']}", status=204)
    audit = await api(app, tenant, "GET", "/audit")
    actions = [item["action"] for item in audit["items"]]
    assert actions[:2] == ["branding_document_removed", "branding_document_added"]


def test_the_plugin_uses_only_the_public_api() -> None:
    root = Path(branding.__file__).parent
    offences = []
    for path in root.rglob("*.py"):
        for module in re.findall(r"^\s*(?:from|import) (arportal[.\w]*)", path.read_text(), re.M):
            if module != "arportal" and not module.startswith("arportal.plugins.branding"):
                offences.append(f"{path.name}: {module}")
    assert offences == []
