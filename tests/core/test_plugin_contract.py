"""The plugin contract, proven by `tests/example_plugin` (package `arportal_example`), a plugin
written the way a third party writes one: its own distribution, found through its entry point,
importing only `arportal`'s public API. With its feature off for a tenant it is absent (404
routes, no slots, jobs, holds or events); switched on, every hook works."""

from __future__ import annotations

import ast
import datetime as dt
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import arportal_example
import pytest
from arportal_example import plugin as example_plugin
from arportal_example.models import ExampleNote
from arportal_example.settings import ExampleSettings

import arportal
from arportal import Hold, Theme, holds_for, hookimpl
from arportal.config import PluginsConfig
from arportal.context import TenantContext
from arportal.declarations import MailSender
from arportal.events import emit_event
from arportal.jobs import run_due_jobs
from arportal.models import AuditEvent, Customer, Invoice, OutboxMessage
from arportal.tenancy import load_context
from tests.conftest import Running, TenantHandle, make_tenant, running_app

PHONE = "+33 1 23 45 67 89"
CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


@pytest.fixture
async def ex(make_config: Any) -> AsyncIterator[Running]:
    """An app whose plugins are discovered through the installed entry points (only the
    example plugin is enabled, so built-in plugins installed later do not interfere)."""
    config = make_config(plugins=PluginsConfig(enabled=["example"]))
    async with running_app(config, plugins=None) as running:
        yield running


# --- what the operator does, through the admin API ---------------------------------------------


async def api(
    app: Running, tenant: TenantHandle, method: str, path: str, body: Any = None,
    status: int = 200,
) -> Any:
    response = await app.client.request(
        method, f"/api/v1{path}", json=body, headers=tenant.headers
    )
    assert response.status_code == status, response.text
    return response.json()


async def set_feature(app: Running, tenant: TenantHandle, key: str, enabled: bool) -> None:
    await api(app, tenant, "PATCH", "/settings", {"features": {key: enabled}})


async def set_settings(app: Running, tenant: TenantHandle, section: str, data: Any) -> None:
    await api(app, tenant, "PATCH", "/settings", {section: data})


async def set_toggle(
    app: Running, tenant: TenantHandle, external_id: str, key: str, enabled: bool
) -> None:
    await api(app, tenant, "PATCH", f"/customers/{external_id}", {"toggles": {key: enabled}})


async def add_customer(
    app: Running, tenant: TenantHandle, external_id: str = "C1", email: str = "ap@buyer.test"
) -> dict[str, Any]:
    body = [{"external_id": external_id, "name": f"Buyer {external_id}", "email": email}]
    (customer,) = await api(app, tenant, "PUT", "/customers", body)
    return customer  # type: ignore[no-any-return]


async def add_invoices(app: Running, tenant: TenantHandle, customer: str = "C1") -> None:
    """Today is 2026-03-15 (`frozen_today`): INV-1 falls due in 1 day, INV-2 in 46 days,
    HOLD-3 is overdue."""
    due = {"INV-1": "2026-03-16", "INV-2": "2026-04-30", "HOLD-3": "2026-03-01"}
    body = [
        {
            "external_id": number,
            "customer_external_id": customer,
            "number": number,
            "issue_date": "2026-02-01",
            "due_date": day,
            "currency": "EUR",
            "total": "100.00",
        }
        for number, day in due.items()
    ]
    await api(app, tenant, "PUT", "/invoices", body)


async def open_portal(app: Running, customer: dict[str, Any]) -> str:
    """Open the customer's portal link (a session cookie is set) and answer where portal
    pages start."""
    entered = await app.client.get(urlsplit(customer["portal_url"]).path)
    assert entered.status_code == 303
    return "/portal"


async def context(app: Running, tenant: TenantHandle) -> TenantContext:
    return await load_context(app.host, app.config, tenant.row, actor="operator")


async def notes(tenant: TenantHandle, kind: str | None = None) -> list[dict[str, Any]]:
    query = ExampleNote.select().where(ExampleNote.tenant == tenant.id).order_by(ExampleNote.id)
    if kind:
        query = query.where(ExampleNote.kind == kind)
    return await query  # type: ignore[no-any-return]


async def invoices_of(tenant: TenantHandle) -> list[dict[str, Any]]:
    return await Invoice.select().where(Invoice.tenant == tenant.id).order_by(Invoice.number)  # type: ignore[no-any-return]


def example_runs(runs: list[Any], tenant: TenantHandle) -> list[Any]:
    return [r for r in runs if r.plugin == "example" and r.tenant_id == tenant.id]


# --- tests ----------------------------------------------------------------------------------


async def test_plugin_is_found_through_its_entry_point(ex: Running) -> None:
    host = ex.host
    assert host.plugin_names == ["example"]
    (info,) = [info for info in host.infos if info.name == "example"]
    assert (info.version, info.builtin, info.module, info.enabled) == (
        "0.1.0", False, "arportal_example.plugin", True
    )
    decl = host.declarations
    assert decl.features["example"][0].default is False
    assert decl.toggles["example_optin"][1] == "example"
    assert decl.sections["example"][0].schema is ExampleSettings
    assert [(job.name, plugin) for job, plugin in decl.jobs if plugin == "example"] == [
        ("example.due_soon", "example")
    ]
    assert decl.piccolo_apps == ["arportal_example.piccolo_app"]
    assert await ExampleNote.count() == 0  # its migration ran after the core's


async def test_feature_off_the_plugin_is_absent(ex: Running, frozen_today: dt.date) -> None:
    tenant = await make_tenant()
    await set_settings(ex, tenant, "example", {"hold_prefix": "HOLD-", "contact_phone": PHONE})
    customer = await add_customer(ex, tenant)
    await add_invoices(ex, tenant)
    await set_toggle(ex, tenant, "C1", "example_optin", True)
    root = await open_portal(ex, customer)
    client = ex.client

    for path in ("example", "example/reminders"):
        assert (await client.get(f"{root}/{path}")).status_code == 404
    admin = await client.get("/api/v1/example/notes", headers=tenant.headers)
    assert admin.status_code == 404

    home = await client.get(f"{root}/")
    assert home.status_code == 200
    assert "Payment reminders" not in home.text
    assert "Reminder coming" not in home.text
    assert PHONE not in home.text
    invoice = await client.get(f"{root}/invoices/INV-1")
    assert invoice.status_code == 200
    assert "Add a note about this invoice" not in invoice.text
    assert "example-aside" not in home.text + invoice.text

    ctx = await context(ex, tenant)
    assert await holds_for(ctx, await invoices_of(tenant)) == {}
    assert example_runs(await run_due_jobs(ex.host, ex.config), tenant) == []
    await emit_event(ctx, "something_happened", {"x": 1})
    assert await notes(tenant) == []  # no welcome, no job row, no event seen


async def test_feature_on_every_hook_works(ex: Running, frozen_today: dt.date) -> None:
    tenant = await make_tenant()
    await set_feature(ex, tenant, "example", True)
    await set_settings(ex, tenant, "example", {"hold_prefix": "HOLD-", "contact_phone": PHONE})
    customer = await add_customer(ex, tenant)
    assert [n["body"] for n in await notes(tenant, "welcome")] == ["welcome C1"]
    await add_invoices(ex, tenant)
    root = await open_portal(ex, customer)
    client = ex.client

    # Slots: the panel (async hook) and contact details on the home page, the action on an
    # invoice page.
    home = await client.get(f"{root}/")
    assert home.status_code == 200
    assert "Payment reminders" in home.text and "Reminders are off" in home.text
    assert PHONE in home.text
    aside = '<p class="example-aside"><a href="/portal/example">Leave a note for Acme Corp</a>'
    assert aside in home.text
    assert aside in (await client.get(f"{root}/?status=paid")).text, "on every page"
    invoice = await client.get(f"{root}/invoices/INV-1")
    assert "Add a note about this invoice" in invoice.text
    assert "?invoice=INV-1" in invoice.text

    # Its page and form: a note is stored, shown, mailed back and emitted as an event.
    page = await client.get(f"{root}/example", params={"invoice": "INV-1"})
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"  # the core's portal headers apply
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "About invoice INV-1: " in page.text
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    sent = await client.post(
        f"{root}/example/notes",
        data={"body": "We pay <b>INV-1</b> on Friday", "_csrf_token": token},
    )
    assert sent.status_code == 303
    page = await client.get(f"{root}/example")
    assert "We pay &lt;b&gt;INV-1&lt;/b&gt; on Friday" in page.text
    mail = await OutboxMessage.select().where(OutboxMessage.tenant == tenant.id).first()
    assert mail["to_addrs"] in (["ap@buyer.test"], '["ap@buyer.test"]')
    assert "We pay <b>INV-1</b> on Friday" in mail["text_body"]
    assert await AuditEvent.exists().where(
        (AuditEvent.tenant == tenant.id) & (AuditEvent.action == "example_note_added")
    )
    assert "example_note_added" in [n["body"] for n in await notes(tenant, "event")]

    # Its admin API.
    listed = await client.get(
        "/api/v1/example/notes", params={"kind": "note"}, headers=tenant.headers
    )
    assert listed.status_code == 200
    body = listed.json()
    assert [(n["body"], n["customer_external_id"]) for n in body["items"]] == [
        ("We pay <b>INV-1</b> on Friday", "C1")
    ]
    assert body["next_cursor"] is None
    first = await api(ex, tenant, "GET", "/example/notes?limit=1")
    rest = await api(ex, tenant, "GET", f"/example/notes?cursor={first['next_cursor']}")
    assert len(first["items"]) == 1 and first["next_cursor"] is not None
    assert first["items"][0]["id"] < rest["items"][0]["id"]
    await api(ex, tenant, "GET", "/example/notes?cursor=abc", status=422)

    # Holds: invoices numbered with the configured prefix.
    ctx = await context(ex, tenant)
    invoices = await invoices_of(tenant)
    held = await holds_for(ctx, invoices)
    hold_3 = next(i["id"] for i in invoices if i["number"] == "HOLD-3")
    assert held == {
        hold_3: [Hold(invoice_id=hold_3, reason="example", detail="number starts with HOLD-")]
    }

    # Its job, through the core's runner: one row per tenant per run, not run twice a day.
    runs = example_runs(await run_due_jobs(ex.host, ex.config), tenant)
    assert [(r.name, r.ok) for r in runs] == [("example.due_soon", True)]
    assert [n["body"] for n in await notes(tenant, "job")] == [
        "2 open invoices due by 2026-03-18"
    ]
    assert example_runs(await run_due_jobs(ex.host, ex.config), tenant) == []

    # Ledger events: a payment settles INV-1.
    payment = {
        "external_id": "P1",
        "customer_external_id": "C1",
        "date": "2026-03-15",
        "currency": "EUR",
        "amount": "100.00",
        "allocations": [{"invoice_external_id": "INV-1", "amount": "100.00"}],
    }
    await api(ex, tenant, "PUT", "/payments", [payment])
    assert [n["body"] for n in await notes(tenant, "paid")] == ["invoice INV-1 paid"]
    assert [n["body"] for n in await notes(tenant, "payment")] == ["payment P1"]


async def test_one_tenant_on_another_off(ex: Running, frozen_today: dt.date) -> None:
    """Features are per tenant: the same plugin is present for one and absent for the other."""
    on, off = await make_tenant("on", "On Ltd"), await make_tenant("off", "Off Ltd")
    await set_feature(ex, on, "example", True)
    for tenant in (on, off):
        await add_customer(ex, tenant)
    assert len(await notes(on, "welcome")) == 1
    assert await notes(off) == []
    assert (await ex.client.get("/api/v1/example/notes", headers=on.headers)).status_code == 200
    assert (await ex.client.get("/api/v1/example/notes", headers=off.headers)).status_code == 404
    runs = await run_due_jobs(ex.host, ex.config)
    assert [r.tenant_id for r in runs if r.plugin == "example"] == [on.id]


async def test_customer_toggle_gates_reminders(ex: Running, frozen_today: dt.date) -> None:
    tenant = await make_tenant()
    await set_feature(ex, tenant, "example", True)
    customer = await add_customer(ex, tenant)
    await add_invoices(ex, tenant)
    root = await open_portal(ex, customer)
    client = ex.client

    assert (await client.get(f"{root}/example/reminders")).status_code == 404
    assert "Payment reminders are off" in (await client.get(f"{root}/example")).text
    assert "Reminder coming" not in (await client.get(f"{root}/")).text

    await set_toggle(ex, tenant, "C1", "example_optin", True)
    reminders = await client.get(f"{root}/example/reminders")
    assert reminders.status_code == 200
    assert "Invoice HOLD-3 is due on 2026-03-01." in reminders.text
    assert "Invoice INV-1 is due on 2026-03-16." in reminders.text
    assert "INV-2" not in reminders.text  # beyond the 3-day window
    assert "You receive a reminder 3 days before" in (await client.get(f"{root}/example")).text
    home = (await client.get(f"{root}/")).text
    assert home.count("Reminder coming") == 2


async def test_settings_section_defaults_and_validation(ex: Running) -> None:
    tenant = await make_tenant()
    settings = await api(ex, tenant, "GET", "/settings")
    assert settings["features"]["example"] is False
    assert settings["example"] == {
        "remind_days_before": 3,
        "hold_prefix": "",
        "panel_title": "Payment reminders",
        "brand_theme": False,
        "sender_email": None,
        "contact_phone": None,
    }

    for bad, field in [
        ({"remind_days_before": 99}, "example.remind_days_before"),
        ({"remind_days_before": "soon"}, "example.remind_days_before"),
        ({"remind_me": True}, "example.remind_me"),
    ]:
        refused = await api(ex, tenant, "PATCH", "/settings", {"example": bad}, status=422)
        assert refused["field"] == field
    assert (await api(ex, tenant, "GET", "/settings"))["example"]["remind_days_before"] == 3

    await set_settings(ex, tenant, "example", {"remind_days_before": 7})
    ctx = await context(ex, tenant)
    assert ctx.settings("example") == ExampleSettings(remind_days_before=7)


async def test_theme_and_sender_follow_the_plugin_settings(
    ex: Running, frozen_today: dt.date
) -> None:
    tenant = await make_tenant()
    await set_feature(ex, tenant, "example", True)
    customer = await add_customer(ex, tenant)
    root = await open_portal(ex, customer)
    ctx = await context(ex, tenant)
    assert await ctx.first("arportal_theme") is None
    assert await ctx.first("arportal_mail_sender") is None
    assert "#0a7d32" not in (await ex.client.get(f"{root}/theme.css")).text

    await set_settings(
        ex, tenant, "example", {"brand_theme": True, "sender_email": "billing@acme.test"}
    )
    ctx = await context(ex, tenant)
    theme = await ctx.first("arportal_theme")
    assert isinstance(theme, Theme) and theme.primary_color == "#0a7d32"
    assert await ctx.first("arportal_mail_sender") == MailSender(
        email="billing@acme.test", name="Acme Corp"
    )
    assert "#0a7d32" in (await ex.client.get(f"{root}/theme.css")).text

    page = await ex.client.get(f"{root}/example")
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    await ex.client.post(f"{root}/example/notes", data={"body": "hello", "_csrf_token": token})
    mail = await OutboxMessage.select().where(OutboxMessage.tenant == tenant.id).first()
    assert mail["from_addr"] == "Acme Corp <billing@acme.test>"


class Wording:
    """A second plugin extending the example plugin through the hook it declares."""

    @hookimpl
    def example_reminder_text(self, invoice: dict[str, Any]) -> str:
        return f"Friendly nudge about {invoice['number']}"


async def test_the_plugin_can_be_extended_in_turn(make_config: Any, frozen_today: dt.date) -> None:
    plugins = [("example", example_plugin), ("wording", Wording())]
    async with running_app(make_config(), plugins=plugins) as app:
        tenant = await make_tenant()
        await set_feature(app, tenant, "example", True)
        customer = await add_customer(app, tenant)
        await add_invoices(app, tenant)
        await set_toggle(app, tenant, "C1", "example_optin", True)
        root = await open_portal(app, customer)
        reminders = await app.client.get(f"{root}/example/reminders")
        assert reminders.status_code == 200
        assert "Friendly nudge about INV-1" in reminders.text
        assert "is due on" not in reminders.text


async def test_customer_created_event_only_for_new_customers(ex: Running) -> None:
    tenant = await make_tenant()
    await set_feature(ex, tenant, "example", True)
    await add_customer(ex, tenant, "C1")
    await add_customer(ex, tenant, "C1")  # unchanged: not created again
    await add_customer(ex, tenant, "C2")
    welcome = await notes(tenant, "welcome")
    assert [n["body"] for n in welcome] == ["welcome C1", "welcome C2"]
    ids = await Customer.select(Customer.id).where(Customer.tenant == tenant.id)
    assert sorted(n["customer"] for n in welcome) == sorted(row["id"] for row in ids)


def test_the_example_plugin_uses_only_the_public_api() -> None:
    """A third party can only rely on `arportal`'s exports (`arportal.__all__`), never on the
    core's modules; besides that, its own package, the stack, and the standard library."""
    allowed_roots = {"arportal_example", "litestar", "piccolo", "msgspec", "__future__"}
    offences = []
    for path in sorted(Path(arportal_example.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [(alias.name, []) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [(node.module, [alias.name for alias in node.names])]
            else:
                continue
            for module, names in modules:
                root = module.split(".")[0]
                if module == "arportal":
                    offences += [f"{path.name}: {n}" for n in names if n not in arportal.__all__]
                elif root not in allowed_roots and root not in sys.stdlib_module_names:
                    offences.append(f"{path.name}: imports {module}")
    assert offences == []
