"""A settings secret never reaches the logs, even at DEBUG (aiosqlite logs every statement
with its parameters there), on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import pytest

import arportal
from arportal.declarations import SettingsSection


class VaultSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    api_token: str = ""


class Vault:
    @arportal.hookimpl
    def arportal_settings(self) -> list[SettingsSection]:
        return [SettingsSection("vault", VaultSettings, secret_fields=("api_token",))]


@pytest.fixture
def plugins() -> list[tuple[str, Any]]:
    return [("vault", Vault())]


async def test_a_secret_written_and_read_at_debug_level_is_not_logged(
    client: Any, tenant: Any, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "tok-" + "z" * 30
    caplog.set_level(logging.DEBUG)
    response = await client.patch("/api/v1/settings", json={"vault": {"api_token": secret}},
                                  headers=tenant.headers)
    assert response.status_code == 200
    assert (await client.get("/api/v1/settings", headers=tenant.headers)).json()["vault"] == {
        "api_token": "********"
    }
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    assert caplog.records, "the test saw the DEBUG logs"
    assert secret not in logged
