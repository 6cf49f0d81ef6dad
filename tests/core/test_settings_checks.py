"""Contract additions used by plugins such as branding: a settings section's `check` (what the
Struct alone cannot judge), the `settings_changed` event after commit, and the aside slot
drawn on every portal page (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from arportal import SettingsSection, hookimpl
from arportal.models import TenantSetting
from tests.conftest import Running, make_tenant
from tests.core.test_portal import add_customer, add_invoice, enter, new_link


class Limits(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    domain: str = ""
    note: str = ""


class Checked:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any], str]] = []

    @hookimpl
    def arportal_settings(self) -> list[SettingsSection]:
        async def check(ctx: Any, value: Limits) -> None:
            if value.domain and not ctx.config.mail.allows_sender("x@" + value.domain):
                raise ValueError(f"domain: {value.domain} is not allowed here")
            if value.note == "boom":
                raise ValueError("something without a field")

        return [SettingsSection(key="limits", schema=Limits, check=check)]

    @hookimpl
    async def arportal_event(self, ctx: Any, name: str, data: dict[str, Any]) -> None:
        stored = await TenantSetting.count().where(TenantSetting.tenant == ctx.tenant_id)
        self.events.append((name, data, f"{ctx.settings('limits').domain}/{stored}"))

    @hookimpl
    def arportal_portal_aside(self, ctx: Any) -> list[str]:
        return [f'<p class="aside-one">For {ctx.customer["name"]}</p>', "", "  "]


PLUGIN = Checked()


@pytest.fixture
def plugins() -> list[tuple[str, Any]]:
    PLUGIN.events.clear()
    return [("checked", PLUGIN)]


async def patch(app: Running, tenant: Any, body: Any) -> Any:
    return await app.client.patch("/api/v1/settings", headers=tenant.headers, json=body)


async def test_a_check_refuses_with_the_field_and_nothing_is_written(make_config: Any,
                                                                      plugins: Any) -> None:
    from arportal.config import MailConfig
    from tests.conftest import running_app

    config = make_config(mail=MailConfig(allowed_sender_domains=["acme.test"]))
    async with running_app(config, plugins) as app:
        tenant = await make_tenant()
        refused = await patch(app, tenant, {"limits": {"domain": "evil.test"},
                                            "portal": {"page_size": 20}})
        assert refused.status_code == 422
        assert refused.json()["field"] == "limits.domain"
        assert "evil.test is not allowed here" in refused.json()["detail"]
        unnamed = await patch(app, tenant, {"limits": {"note": "boom"}})
        assert unnamed.status_code == 422 and unnamed.json()["field"] == "limits"
        settings = (await app.client.get("/api/v1/settings", headers=tenant.headers)).json()
        assert settings["portal"]["page_size"] == 50, "all or nothing"
        assert PLUGIN.events == []
        assert (await patch(app, tenant, {"limits": {"domain": "acme.test"}})).status_code == 200


async def test_plugins_hear_settings_changed_after_the_commit(app: Running) -> None:
    tenant = await make_tenant()
    response = await patch(app, tenant, {"limits": {"domain": "a.test", "note": "n"},
                                         "portal": {"page_size": 20}})
    assert response.status_code == 200
    [(name, data, seen)] = PLUGIN.events
    assert name == "settings_changed"
    assert data == {"features": {}, "fields": {"limits": ["domain", "note"],
                                               "portal": ["page_size"]}}
    assert seen == "a.test/2", "the context and the database already show the new values"
    await patch(app, tenant, {})
    assert len(PLUGIN.events) == 1, "an empty patch changes nothing"


async def test_asides_are_drawn_on_every_portal_page(app: Running, frozen_today: Any) -> None:
    tenant = await make_tenant()
    customer = await add_customer(tenant.id, name="Northwind")
    await add_invoice(tenant.id, customer, "I-1")
    await enter(app.client, await new_link(tenant.id, customer))
    for path in ("/portal/", "/portal/invoices/I-1", "/portal/nope"):
        page = (await app.client.get(path)).text
        expected = 1 if path != "/portal/nope" else 0
        assert page.count('<aside class="page-aside"><p class="aside-one">For Northwind</p>'
                          "</aside>") == expected, path
