"""`arportal serve --demo` seeds the demo tenant once, with what a demo needs to show."""

from __future__ import annotations

from typing import Any

import msgspec

import arportal
from arportal.demo import seed_demo
from arportal.models import Customer, Invoice, PortalLink, Tenant
from tests.conftest import running_app


async def test_demo_seed_has_the_promised_data_and_runs_once(app, frozen_today) -> None:
    report = await seed_demo(app.host, app.config)
    assert report.created and report.api_key.startswith("arp_")
    assert len(report.links) == 5
    assert all(url.startswith("http://testserver/p/") for _, url in report.links)

    customers = await Customer.select()
    assert len(customers) == 5
    assert {c["currency"] for c in customers} == {"USD", "EUR"}
    assert any(c["locale"] == "fr" for c in customers)
    invoices = await Invoice.select()
    assert len(invoices) == 40
    assert any(i["status"] == "paid" for i in invoices)
    assert any(i["status"] == "void" for i in invoices)
    open_invoices = [i for i in invoices if i["status"] == "open"]
    assert any(i["due_date"] < frozen_today for i in open_invoices), "some are overdue"
    assert any(i["due_date"] >= frozen_today for i in open_invoices), "some are not yet due"
    assert any(i["issue_date"] > frozen_today for i in invoices), "one is issued in the future"
    partly_paid = [i for i in open_invoices if 0 < i["amount_due_minor"] < i["total_minor"]]
    assert partly_paid

    again = await seed_demo(app.host, app.config)
    assert not again.created
    assert again.api_key != report.api_key
    assert len(await Tenant.select()) == 1
    assert await Invoice.count() == 40
    assert await PortalLink.count() == 5
    assert [url for _, url in again.links] == [url for _, url in report.links]


async def test_demo_portal_link_opens_the_portal(app, client, frozen_today) -> None:
    report = await seed_demo(app.host, app.config, today=frozen_today)
    name, url = report.links[0]
    response = await client.get(url.replace("http://testserver", ""), follow_redirects=True)
    assert response.status_code == 200
    assert name in response.text or "Demo Supplies" in response.text


class _ShowcasePlugin:
    """Off by default; its demo settings switch it on and fill its required field."""

    @arportal.hookimpl
    def arportal_features(self) -> list[arportal.Feature]:
        return [arportal.Feature("showcase", "Showcase", default=False)]

    @arportal.hookimpl
    def arportal_settings(self) -> list[arportal.SettingsSection]:
        return [arportal.SettingsSection("showcase", _ShowcaseSettings)]

    @arportal.hookimpl
    def arportal_demo_settings(self) -> dict[str, Any]:
        return {"features": {"showcase": True}, "showcase": {"greeting": "Hello from the demo"}}


class _BrokenDemoPlugin:
    @arportal.hookimpl
    def arportal_features(self) -> list[arportal.Feature]:
        return [arportal.Feature("broken_demo", "Broken demo", default=False)]

    @arportal.hookimpl
    def arportal_demo_settings(self) -> dict[str, Any]:
        return {"features": {"broken_demo": "yes please"}}


class _ShowcaseSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    greeting: str = ""


async def test_demo_applies_each_plugins_demo_settings(make_config: Any, caplog: Any) -> None:
    plugins = [("showcase", _ShowcasePlugin()), ("broken_demo", _BrokenDemoPlugin())]
    async with running_app(make_config(), plugins=plugins) as running:
        report = await seed_demo(running.host, running.config)
        headers = {"Authorization": f"Bearer {report.api_key}"}
        settings = (await running.client.get("/api/v1/settings", headers=headers)).json()
    assert settings["features"]["showcase"] is True
    assert settings["showcase"]["greeting"] == "Hello from the demo"
    assert settings["features"]["broken_demo"] is False, "an invalid patch is left out"
    assert "demo settings of plugin 'broken_demo' left out" in caplog.text
