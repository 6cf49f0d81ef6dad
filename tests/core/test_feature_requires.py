"""A feature that exists for a tenant only once it has what it requires (a configured
connection): routes, slots and jobs follow; `setup` routes answer meanwhile (SQLite and
PostgreSQL)."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import pytest
from litestar import get, post

import arportal
from arportal import TenantDep
from arportal.declarations import Feature, Job, SettingsSection
from arportal.jobs import run_due_jobs
from tests.conftest import make_tenant, running_app
from tests.core.test_portal import add_customer, add_invoice, enter, new_link


class ServiceSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    token: str = ""
    broken: bool = False


def missing_token(ctx: Any) -> str | None:
    settings = ctx.settings("svc")
    if settings.broken:
        raise RuntimeError("cannot tell")
    return None if settings.token else "token is not set"


@get("/svc/status", opt={"feature": "svc"})
async def status(tenant: TenantDep) -> dict[str, str]:
    return {"status": "connected"}


@post("/svc/check", opt={"feature": "svc", "setup": True}, status_code=200)
async def check(tenant: TenantDep) -> dict[str, Any]:
    return {"missing": tenant.feature_missing("svc")}


class Service:
    def __init__(self) -> None:
        self.ran: list[str] = []

    @arportal.hookimpl
    def arportal_features(self) -> list[Feature]:
        return [Feature(key="svc", label="Service", default=True, requires=missing_token)]

    @arportal.hookimpl
    def arportal_settings(self) -> list[SettingsSection]:
        return [SettingsSection(key="svc", schema=ServiceSettings)]

    @arportal.hookimpl
    def arportal_admin_routes(self) -> list[Any]:
        return [status, check]

    @arportal.hookimpl
    def arportal_portal_panels(self, ctx: Any) -> str:
        return "Service panel"

    @arportal.hookimpl
    def arportal_jobs(self) -> list[Job]:
        return [Job(name="svc.tick", run=self.tick, feature="svc")]

    async def tick(self, ctx: Any) -> None:
        self.ran.append(ctx.slug)


@pytest.fixture
def service() -> Service:
    return Service()


async def test_the_feature_appears_once_configured(make_config: Any, service: Service) -> None:
    async with running_app(make_config(), [("svc", service)]) as app:
        client = app.client
        tenant = await make_tenant()
        headers = tenant.headers
        customer = await add_customer(tenant.id)
        await add_invoice(tenant.id, customer, "I-1")
        await enter(client, await new_link(tenant.id, customer))

        assert (await client.get("/api/v1/svc/status", headers=headers)).status_code == 404
        setup = await client.post("/api/v1/svc/check", headers=headers)
        assert setup.status_code == 200 and setup.json() == {"missing": "token is not set"}
        assert "Service panel" not in (await client.get("/portal/")).text
        await run_due_jobs(app.host, app.config, force=True)
        assert service.ran == []
        settings = (await client.get("/api/v1/settings", headers=headers)).json()
        assert settings["features"]["svc"] is True, "the switch shows as the operator set it"

        await client.patch("/api/v1/settings", json={"svc": {"token": "t"}}, headers=headers)
        assert (await client.get("/api/v1/svc/status", headers=headers)).status_code == 200
        assert (await client.post("/api/v1/svc/check", headers=headers)).json() == {
            "missing": None
        }
        assert "Service panel" in (await client.get("/portal/")).text
        await run_due_jobs(app.host, app.config, force=True)
        assert service.ran == ["acme"]

        await client.patch("/api/v1/settings", json={"features": {"svc": False}},
                           headers=headers)
        assert (await client.get("/api/v1/svc/status", headers=headers)).status_code == 404
        assert (await client.post("/api/v1/svc/check", headers=headers)).status_code == 404, (
            "a setup route still needs the switch on"
        )
        assert "Service panel" not in (await client.get("/portal/")).text


async def test_a_requirement_that_raises_keeps_the_feature_off(
    make_config: Any, service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_app(make_config(), [("svc", service)]) as app:
        tenant = await make_tenant()
        await app.client.patch("/api/v1/settings", json={"svc": {"token": "t", "broken": True}},
                               headers=tenant.headers)
        with caplog.at_level(logging.ERROR):
            response = await app.client.get("/api/v1/svc/status", headers=tenant.headers)
        assert response.status_code == 404
        assert "plugin 'svc': the requirement of feature 'svc' failed" in caplog.text
        check_answer = await app.client.post("/api/v1/svc/check", headers=tenant.headers)
        assert check_answer.json() == {
            "missing": "the feature's requirement could not be checked: RuntimeError"
        }
