"""Save & View: a read-only preview of a sample portal with a draft of any settings applied
(features, sections, the core's own), nothing saved, valid 15 minutes (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
import pytest
from click.testing import CliRunner
from litestar import post

from arportal import Feature, SettingsSection, Theme, hookimpl, render_fragment
from arportal.cli import main
from arportal.models import AuditEvent, Customer, Invoice
from arportal.preview import Preview, decode_token, encode_token
from tests.conftest import SECRET, Running, TenantHandle, make_tenant, running_app


class PromoSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    title: str = "Pay early, save 2%"
    colour: str = "#1f5fbf"
    api_key: str = ""


@post("/promo/accept", opt={"feature": "promo"}, status_code=303)
async def accept() -> None:
    raise AssertionError("a preview never reaches a plugin's form handler")


class Promo:
    """A plugin with a feature (off by default), a settings section with a secret, a panel
    with a form, badges, an invoice action and a theme taken from its settings."""

    @hookimpl
    def arportal_features(self) -> list[Feature]:
        return [Feature(key="promo", label="Promotions", default=False)]

    @hookimpl
    def arportal_settings(self) -> list[SettingsSection]:
        return [SettingsSection(key="promo", schema=PromoSettings, secret_fields=("api_key",))]

    @hookimpl
    def arportal_portal_routes(self) -> list[Any]:
        return [accept]

    @hookimpl
    def arportal_portal_panels(self, ctx: Any) -> str:
        title = ctx.settings("promo").title
        return (f'<div class="promo"><h2>{title}</h2><form method="post" '
                f'action="{ctx.url("promo/accept")}"><button>Accept</button></form></div>')

    @hookimpl
    def arportal_invoice_badges(self, ctx: Any, invoices: list[Any]) -> dict[int, list[str]]:
        return {inv["id"]: ["Promo"] for inv in invoices if inv["status"] == "open"}

    @hookimpl
    def arportal_invoice_actions(self, ctx: Any, invoice: Any) -> str:
        return '<a class="button promo-action" href="#">Pay early</a>'

    @hookimpl
    def arportal_theme(self, ctx: Any) -> Theme:
        return Theme(primary_color=ctx.settings("promo").colour)

    @hookimpl
    def arportal_portal_aside(self, ctx: Any) -> Any:
        return render_fragment(ctx, "core:portal/_contact.html", t=lambda s, **k: s,
                               contact={"note": "aside for " + ctx.customer["name"]})


@pytest.fixture
def plugins() -> list[tuple[str, Any]]:
    return [("promo", Promo())]


DRAFT = {
    "features": {"promo": True},
    "promo": {"title": "Draft: pay in 10 days, save 3%", "colour": "#0a7d32", "api_key": "s3cret"},
    "portal": {"timezone": "Europe/Paris"},
}


async def preview_url(app: Running, tenant: TenantHandle, draft: Any = None,
                      query: str = "") -> str:
    response = await app.client.post(
        f"/api/v1/preview{query}", headers=tenant.headers,
        content=b"" if draft is None else json.dumps(draft).encode(),
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    expires = dt.datetime.fromisoformat(answer["expires_at"])
    left = expires - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=14) < left <= dt.timedelta(minutes=15)
    assert answer["url"].startswith("http://testserver/preview/")
    return urlsplit(answer["url"]).path


async def test_a_draft_is_previewed_on_a_sample_portal_and_nothing_is_saved(
    app: Running
) -> None:
    tenant = await make_tenant()
    before = await app.client.get("/api/v1/settings", headers=tenant.headers)
    path = await preview_url(app, tenant, DRAFT)
    assert path.endswith("/")

    page = await app.client.get(path)
    assert page.status_code == 200
    html = page.text
    assert "Invoices for Sample Customer Ltd" in html
    assert "Preview with sample data: nothing here is saved and forms do nothing." in html
    assert "Draft: pay in 10 days, save 3%" in html, "the draft's feature and section"
    assert "INV-1003" in html and "Overdue" in html and "Promo" in html
    assert "aside for Sample Customer Ltd" in html
    assert html.count('class="badge">Promo<') == 4, "a badge per open invoice"
    paid = (await app.client.get(path + "?status=paid")).text
    assert "INV-1005" in paid and "INV-1003" not in paid

    css = await app.client.get(path + "theme.css")
    assert "--primary:#0a7d32" in css.text

    invoice = await app.client.get(path + "invoices/SAMPLE-5")
    assert invoice.status_code == 200 and "promo-action" in invoice.text
    assert "PAY-INV-1005" in invoice.text
    assert (await app.client.get(path + "invoices/NOPE")).status_code == 404

    headers = page.headers
    assert "form-action 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store" and "noindex" in headers["x-robots-tag"]

    after = await app.client.get("/api/v1/settings", headers=tenant.headers)
    assert after.json() == before.json(), "nothing saved"
    assert after.json()["features"]["promo"] is False
    assert await Customer.count() == 0 and await Invoice.count() == 0
    actions = [row["action"] for row in await AuditEvent.select(AuditEvent.action)]
    assert "settings.changed" not in actions


async def test_forms_on_a_preview_do_nothing(app: Running) -> None:
    tenant = await make_tenant()
    path = await preview_url(app, tenant, DRAFT)
    assert f'action="{path}promo/accept"' in (await app.client.get(path)).text
    response = await app.client.post(path + "promo/accept", data={"x": "1"})
    assert response.status_code in (404, 405)
    assert (await app.client.post(path)).status_code in (404, 405)


async def test_without_a_draft_the_stored_settings_show(app: Running) -> None:
    tenant = await make_tenant()
    await app.client.patch("/api/v1/settings", headers=tenant.headers,
                           json={"features": {"promo": True}, "promo": {"title": "Saved title"}})
    html = (await app.client.get(await preview_url(app, tenant))).text
    assert "Saved title" in html and "Acme Corp" in html


async def test_the_preview_speaks_the_asked_language(app: Running) -> None:
    tenant = await make_tenant()
    html = (await app.client.get(await preview_url(app, tenant, query="?locale=fr"))).text
    assert "Factures de Sample Customer Ltd" in html and "Aperçu avec des données" in html


@pytest.mark.parametrize(
    ("draft", "field"),
    [
        ({"promo": {"title": 3}}, "promo.title"),
        ({"portal": {"timezone": "Mars/Olympus"}}, "portal.timezone"),
        ({"features": {"nope": True}}, "features.nope"),
        ({"nope": {}}, "nope"),
        ([1, 2], "body"),
    ],
)
async def test_a_bad_draft_is_refused_with_its_field(
    app: Running, draft: Any, field: str
) -> None:
    tenant = await make_tenant()
    response = await app.client.post("/api/v1/preview", headers=tenant.headers, json=draft)
    assert response.status_code == 422 and response.json()["field"] == field


async def test_a_preview_needs_an_api_key(app: Running) -> None:
    assert (await app.client.post("/api/v1/preview")).status_code == 401


async def test_secrets_never_ride_in_the_url(app: Running) -> None:
    tenant = await make_tenant()
    path = await preview_url(app, tenant, DRAFT)
    token = path.split("/")[2]
    preview = decode_token(SECRET.encode(), token)
    assert preview.draft["promo"] == {"title": DRAFT["promo"]["title"], "colour": "#0a7d32"}
    assert preview.tenant_id == tenant.id


async def test_an_expired_or_forged_preview_shows_no_portal(app: Running) -> None:
    tenant = await make_tenant()
    old = Preview(tenant.id, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1), "en", {})
    expired = await app.client.get(f"/preview/{encode_token(SECRET.encode(), old)}/")
    assert expired.status_code == 410 and "This preview has expired" in expired.text

    path = await preview_url(app, tenant)
    token = path.split("/")[2]
    body, _, signature = token.partition(".")
    forged = encode_token(b"another secret", Preview(tenant.id, old.expires_at
                                                    + dt.timedelta(hours=1), "en", {}))
    for bad in (f"{body}.{signature[::-1]}", forged, "garbage", f"{body}x.{signature}"):
        response = await app.client.get(f"/preview/{bad}/")
        assert response.status_code == 404 and "Page not found" in response.text
        assert "Sample Customer" not in response.text


async def test_the_access_log_never_prints_a_preview_token(
    app: Running, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = await make_tenant()
    path = await preview_url(app, tenant)
    with caplog.at_level(logging.INFO, logger="arportal.access"):
        await app.client.get(path)
    assert path.split("/")[2] not in caplog.text and "/preview/<redacted>/" in caplog.text


def test_the_cli_prints_a_preview_url(db_url: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "arportal.toml"
    config.write_text(
        f'database = "{db_url}"\nsecret_key = "{SECRET}"\nbase_url = "http://portal.test"\n'
        "[plugins]\nenabled = []\n"
    )
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(main, ["--config", str(config), *args], catch_exceptions=False)

    assert run("tenants", "create", "acme", "--name", "Acme").exit_code == 0
    draft = tmp_path / "draft.toml"
    draft.write_text('[portal]\ntimezone = "Europe/Paris"\n')
    result = run("preview", "acme", "--draft", str(draft), "--json")
    assert result.exit_code == 0, result.output
    url = json.loads(result.output)["url"]
    assert url.startswith("http://portal.test/preview/")
    preview = decode_token(SECRET.encode(), url.split("/")[4])
    assert preview.draft == {"portal": {"timezone": "Europe/Paris"}}
    human = run("preview", "acme")
    assert human.exit_code == 0 and human.output.startswith("http://portal.test/preview/")

    draft.write_text('[portal]\npage_size = 3\n')
    bad = run("preview", "acme", "--draft", str(draft))
    assert bad.exit_code == 1 and "portal.page_size" in bad.output


async def test_a_preview_url_opens_on_every_worker(make_config: Any, plugins: Any) -> None:
    """Nothing is kept by the server that made it: another app (another worker) renders it."""
    async with running_app(make_config(), plugins) as first:
        tenant = await make_tenant()
        path = await preview_url(first, tenant, DRAFT)
    async with running_app(make_config(), plugins) as second:
        assert "Draft: pay in 10 days" in (await second.client.get(path)).text
