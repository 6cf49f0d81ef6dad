"""Shared fixtures. Every test that takes `db_url` (directly or through `app`/`client`) runs
on SQLite and on PostgreSQL. PostgreSQL is `ARPORTAL_TEST_POSTGRES` (default: the local
server at 127.0.0.1:5432, database `test`); without a reachable server that half is skipped
with the reason."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from arportal.api_keys import create_api_key
from arportal.app import build_app
from arportal.clock import freeze_today
from arportal.config import Config
from arportal.tenancy import create_tenant

logging.getLogger("httpx").setLevel(logging.WARNING)

POSTGRES_URL = os.environ.get("ARPORTAL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "test-secret-" + "x" * 40


def _postgres_unreachable_reason() -> str | None:
    if POSTGRES_URL in ("", "0", "off"):
        return "ARPORTAL_TEST_POSTGRES is off"
    try:
        import asyncpg

        async def probe() -> None:
            conn = await asyncpg.connect(POSTGRES_URL, timeout=3)
            await conn.close()

        asyncio.run(probe())
    except Exception as exc:
        return f"no PostgreSQL server reachable at {POSTGRES_URL}: {type(exc).__name__}: {exc}"
    return None


_PG_SKIP = _postgres_unreachable_reason()


async def _reset_postgres() -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A fresh, empty database on each engine."""
    if request.param == "postgres":
        if _PG_SKIP:
            pytest.skip(_PG_SKIP)
        await _reset_postgres()
        return POSTGRES_URL
    return f"sqlite:///{tmp_path / 'arportal.db'}"


@pytest.fixture
def make_config(db_url: str, tmp_path: Any) -> Callable[..., Config]:
    def make(**overrides: Any) -> Config:
        values: dict[str, Any] = {
            "database": db_url,
            "secret_key": SECRET,
            "base_url": "http://testserver",
            "files_dir": str(tmp_path / "files"),
        }
        values.update(overrides)
        return Config(**values)

    return make


class Running:
    """A started app with an HTTP client on the same event loop as the test."""

    def __init__(self, app: Any, client: httpx.AsyncClient):
        self.app = app
        self.client = client

    @property
    def host(self) -> Any:
        return self.app.state.host

    @property
    def config(self) -> Config:
        return self.app.state.config  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def running_app(
    config: Config, plugins: list[tuple[str, Any]] | None = None
) -> AsyncIterator[Running]:
    """Start-up and shut-down hooks run in the test's own task and loop (a PostgreSQL pool
    belongs to one loop, and anyio scopes cannot span pytest-asyncio's setup and teardown)."""
    app = build_app(config, plugins=plugins)
    for hook in app.on_startup:
        await hook(app)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Running(app, client)
    finally:
        for hook in app.on_shutdown:
            await hook(app)


@pytest.fixture
def plugins() -> list[tuple[str, Any]] | None:
    """The plugins the `app` fixture loads; None = every installed one. Override per module."""
    return []


@pytest.fixture
async def app(make_config: Callable[..., Config], plugins: Any) -> AsyncIterator[Running]:
    async with running_app(make_config(), plugins) as running:
        yield running


@pytest.fixture
async def client(app: Running) -> httpx.AsyncClient:
    return app.client


class TenantHandle:
    def __init__(self, row: dict[str, Any], api_key: str):
        self.row = row
        self.id: int = row["id"]
        self.slug: str = row["slug"]
        self.api_key = api_key
        self.headers = {"Authorization": f"Bearer {api_key}"}


async def make_tenant(slug: str = "acme", name: str = "Acme Corp") -> TenantHandle:
    row = await create_tenant(slug, name)
    key, _ = await create_api_key(row["id"])
    return TenantHandle(row, key)


@pytest.fixture
async def tenant(app: Running) -> TenantHandle:
    return await make_tenant()


@pytest.fixture
def frozen_today() -> Any:
    import datetime as dt

    day = dt.date(2026, 3, 15)
    freeze_today(day)
    yield day
    freeze_today(None)
