"""Two parts of the plugin contract: a settings section's fields required while its feature is
on, and admin routes a plugin keeps while it is off (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from litestar import get

import arportal
from arportal.declarations import Feature, SettingsSection
from arportal.plugin_host import PluginError, PluginHost


class GatewaySettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    api_key: str = ""
    label: str = "Gateway"


@get("/gateway/kept", opt={"keep_when_disabled": True}, sync_to_thread=False)
def kept() -> dict[str, str]:
    return {"kept": "yes"}


@get("/gateway/gated", opt={"feature": "gateway"}, sync_to_thread=False)
def gated() -> dict[str, str]:
    return {"gated": "yes"}


@get("/gateway/plain", sync_to_thread=False)
def plain() -> dict[str, str]:
    return {"plain": "yes"}


class GatewayPlugin:
    @arportal.hookimpl
    def arportal_features(self) -> list[Feature]:
        return [Feature(key="gateway", label="Gateway")]

    @arportal.hookimpl
    def arportal_settings(self) -> list[SettingsSection]:
        return [SettingsSection(key="gateway", schema=GatewaySettings, feature="gateway",
                                required_when_on=("api_key",), secret_fields=("api_key",))]

    @arportal.hookimpl
    def arportal_admin_routes(self) -> list[Any]:
        return [kept, gated, plain]


@pytest.fixture
def plugins() -> list[tuple[str, Any]]:
    return [("gateway", GatewayPlugin())]


async def patch(client: Any, tenant: Any, body: Any, status: int = 200) -> Any:
    response = await client.patch("/api/v1/settings", json=body, headers=tenant.headers)
    assert response.status_code == status, response.text
    return response.json()


async def test_required_fields_are_checked_when_the_feature_goes_on(client, tenant):
    refused = await patch(client, tenant, {"features": {"gateway": True}}, 422)
    assert refused["field"] == "gateway.api_key"
    refused = await patch(
        client, tenant, {"features": {"gateway": True}, "gateway": {"label": "Pay"}}, 422
    )
    assert refused["field"] == "gateway.api_key"
    await patch(client, tenant, {"gateway": {"label": "Pay"}})  # fine while the feature is off
    await patch(client, tenant, {"features": {"gateway": True}, "gateway": {"api_key": "k"}})
    await patch(client, tenant, {"gateway": {"api_key": "********", "label": "Pay 2"}})
    emptied = await patch(client, tenant, {"gateway": {"api_key": ""}}, 422)
    assert emptied["field"] == "gateway.api_key"
    settings = await patch(client, tenant, {"features": {"gateway": False}})
    assert settings["gateway"] == {"api_key": "********", "label": "Pay 2"}


async def test_routes_kept_while_the_plugin_is_off(client, tenant):
    async def status(path: str) -> int:
        response = await client.get(f"/api/v1/gateway/{path}", headers=tenant.headers)
        return response.status_code

    assert [await status(p) for p in ("kept", "gated", "plain")] == [200, 404, 404]
    await patch(client, tenant, {"features": {"gateway": True}, "gateway": {"api_key": "k"}})
    assert [await status(p) for p in ("kept", "gated", "plain")] == [200, 200, 200]
    anonymous = await client.get("/api/v1/gateway/kept")
    assert anonymous.status_code == 401, "kept routes still need the API key"


def test_a_section_must_name_a_declared_feature_and_its_own_fields():
    class Broken:
        def __init__(self, section: SettingsSection):
            self.section = section

        @arportal.hookimpl
        def arportal_settings(self) -> list[SettingsSection]:
            return [self.section]

    with pytest.raises(PluginError, match="names feature 'nope'"):
        PluginHost([("broken", Broken(SettingsSection(
            key="broken", schema=GatewaySettings, feature="nope")))])
    with pytest.raises(PluginError, match="required_when_on"):
        PluginHost([("gateway", GatewayPlugin()), ("broken", Broken(SettingsSection(
            key="broken", schema=GatewaySettings, feature="gateway",
            required_when_on=("missing",))))])
