"""`arportal.testing`: pytest fixtures for testing a plugin (and arportal itself).

Installed with arportal as a pytest plugin (entry point `pytest11`), so a plugin's test suite
only needs `pip install 'arportal[testing]'`. Fixtures:

- `db_url`: a fresh, empty database. Every test that takes it (directly or through `app`)
  runs on SQLite, and on PostgreSQL too when `ARPORTAL_TEST_POSTGRES` (or the ini option
  `arportal_test_postgres`) names a server. That database is WIPED before each test.
- `plugins`: what the `app` loads; override it in your conftest. A list of installed plugin
  names (`["reminders"]`, found through their entry points as the server finds them), of
  `(name, module)` pairs, or None for every installed plugin. Default: none.
- `make_config(**overrides)`, `app` (a started app: `.client`, `.host`, `.config`),
  `client` (an HTTP client of the app, no credentials).
- `tenant`: a tenant with an API key, driven through the admin API like its operator:
  `await tenant.set_features(reminders=True)`, `tenant.set_settings(...)`, `tenant.api(...)`,
  `tenant.add_customer(...)`, `tenant.add_invoice(...)`, `tenant.context()`.
- `customer`: a customer of `tenant` whose portal link was opened: `customer.portal` is
  their browser (an HTTP client holding the portal session), `customer.post_form(...)` sends
  a form with its CSRF token, `customer.set_toggles(...)` switches their toggles.
- `outbox`: the mail the app queued (`await outbox.messages()`).
- `frozen_today`: every tenant's "today" is 2026-03-15, or the day of
  `@pytest.mark.frozen_today("2026-04-01")`; `set_today(day)` moves it within the test.

Async fixtures need pytest-asyncio (part of `arportal[testing]`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import pytest

try:
    from pytest_asyncio import fixture as async_fixture
except ImportError:  # pragma: no cover - the fixtures then tell what is missing when used
    async_fixture = pytest.fixture  # type: ignore[assignment]

if TYPE_CHECKING:
    import httpx
    from litestar import Litestar

    from arportal.config import Config
    from arportal.context import TenantContext
    from arportal.plugin_host import PluginHost

logging.getLogger("httpx").setLevel(logging.WARNING)

SECRET = "test-secret-" + "x" * 40
BASE_URL = "http://testserver"
DEFAULT_TODAY = dt.date(2026, 3, 15)
POSTGRES_ENV = "ARPORTAL_TEST_POSTGRES"
POSTGRES_INI = "arportal_test_postgres"
CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')

__all__ = [
    "SECRET",
    "CustomerHandle",
    "Outbox",
    "Running",
    "TenantHandle",
    "make_tenant",
    "running_app",
    "set_today",
]


# --- pytest hooks -----------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        POSTGRES_INI,
        f"PostgreSQL URL for the PostgreSQL half of the tests that take `db_url`, used when "
        f"{POSTGRES_ENV} is unset. The database is wiped before each test.",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "frozen_today(day): the day `frozen_today` freezes (a date or ISO string)"
    )


def postgres_url(config: pytest.Config | None = None) -> str | None:
    """The PostgreSQL the tests may wipe: `ARPORTAL_TEST_POSTGRES`, else the ini option;
    None when neither names one ("", "0" and "off" name none)."""
    url = os.environ.get(POSTGRES_ENV)
    if url is None and config is not None:
        url = str(config.getini(POSTGRES_INI) or "")
    if url in (None, "", "0", "off"):
        return None
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return _database_of_worker(url, worker) if worker else url


def _database_of_worker(url: str, worker: str) -> str:
    """Under pytest-xdist (`-n 2`) each worker wipes its own database (`test_gw0`, ...), created
    on first use next to the configured one."""
    parsed = urlsplit(url)
    return urlunsplit(parsed._replace(path=f"{parsed.path.rstrip('/')}_{worker}"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test that needs `db_url` once per configured engine."""
    if "db_url" not in metafunc.fixturenames:
        return
    definitions = getattr(metafunc, "_arg2fixturedefs", {}).get("db_url")
    if definitions and getattr(definitions[-1].func, "__module__", __name__) != __name__:
        return  # the project's own `db_url` fixture, not this one
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if "db_url" in (names.replace(" ", "").split(",") if isinstance(names, str) else names):
            return
    engines = ["sqlite"]
    if postgres_url(metafunc.config):
        engines.append("postgres")
    metafunc.parametrize("db_url", engines, indirect=True)


# --- the database -------------------------------------------------------------------------------


_unreachable: dict[str, str | None] = {}


async def _postgres_unreachable(url: str) -> str | None:
    """Why `url` cannot be used (asked once per run), or None."""
    if url not in _unreachable:
        try:
            import asyncpg

            try:
                conn = await asyncpg.connect(url, timeout=3)
            except asyncpg.InvalidCatalogNameError:
                if not os.environ.get("PYTEST_XDIST_WORKER"):
                    raise
                await _create_database(url)
                conn = await asyncpg.connect(url, timeout=3)
            await conn.close()
            _unreachable[url] = None
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            _unreachable[url] = f"no PostgreSQL server reachable at {url}: {reason}"
    return _unreachable[url]


async def _create_database(url: str) -> None:
    import asyncpg

    parsed = urlsplit(url)
    conn = await asyncpg.connect(urlunsplit(parsed._replace(path="/postgres")), timeout=3)
    try:
        with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # the other worker was first
            await conn.execute(f'CREATE DATABASE "{parsed.path.lstrip("/")}"')
    finally:
        await conn.close()


async def _wipe_postgres(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


@async_fixture
async def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A fresh, empty database: SQLite in the test's temporary folder, or the configured
    PostgreSQL after wiping its `public` schema (skipped with the reason if unreachable)."""
    if getattr(request, "param", "sqlite") == "postgres":
        url = postgres_url(request.config)
        assert url is not None
        reason = await _postgres_unreachable(url)
        if reason:
            pytest.skip(reason)
        await _wipe_postgres(url)
        return url
    return f"sqlite:///{tmp_path / 'arportal.db'}"


@pytest.fixture
def make_config(db_url: str, tmp_path: Any) -> Callable[..., Config]:
    """`make_config(**overrides)`: an instance config on `db_url` (keys as in arportal.toml)."""
    from arportal.config import Config

    def make(**overrides: Any) -> Config:
        values: dict[str, Any] = {
            "database": db_url,
            "secret_key": SECRET,
            "base_url": BASE_URL,
            "files_dir": str(tmp_path / "files"),
        }
        values.update(overrides)
        return Config(**values)

    return make


# --- the app ------------------------------------------------------------------------------------


class Running:
    """A started app with an HTTP client on the same event loop as the test."""

    def __init__(self, app: Litestar, client: httpx.AsyncClient):
        self.app = app
        self.client = client
        self._clients: list[httpx.AsyncClient] = []

    @property
    def host(self) -> PluginHost:
        return self.app.state.host  # type: ignore[no-any-return]

    @property
    def config(self) -> Config:
        return self.app.state.config  # type: ignore[no-any-return]

    def new_client(self) -> httpx.AsyncClient:
        """Another client of the app with its own cookies (another browser); closed with
        the app."""
        import httpx

        client = httpx.AsyncClient(transport=_transport(self.app), base_url=BASE_URL)
        self._clients.append(client)
        return client

    async def _close_clients(self) -> None:
        for client in self._clients:
            await client.aclose()


@contextlib.asynccontextmanager
async def running_app(
    config: Config, plugins: list[tuple[str, Any]] | None = None
) -> AsyncIterator[Running]:
    """Build and start an app (migrations run), and stop it on exit.

    Start-up and shut-down run in the test's own task and loop: a PostgreSQL pool belongs to
    one loop, and anyio scopes cannot span pytest-asyncio's setup and teardown."""
    import httpx

    from arportal.app import build_app

    app = build_app(config, plugins=plugins)
    startup: list[Any] = list(app.on_startup)
    shutdown: list[Any] = list(app.on_shutdown)
    for hook in startup:
        await hook(app)
    try:
        async with httpx.AsyncClient(transport=_transport(app), base_url=BASE_URL) as client:
            running = Running(app, client)
            try:
                yield running
            finally:
                await running._close_clients()
    finally:
        for hook in shutdown:
            await hook(app)


def _transport(app: Any) -> httpx.AsyncBaseTransport:
    """An in-process transport to `app` (no server, no socket)."""
    import httpx

    return httpx.ASGITransport(app=app)


@pytest.fixture
def plugins() -> list[Any] | None:
    """What `app` loads: installed plugin names, `(name, module)` pairs, or None for every
    installed plugin. Override it in your conftest; the default loads none."""
    return []


@async_fixture
async def app(make_config: Callable[..., Config], plugins: Any) -> AsyncIterator[Running]:
    """A started app on `db_url` with `plugins`."""
    from arportal.config import PluginsConfig

    if plugins and all(isinstance(item, str) for item in plugins):
        config = make_config(plugins=PluginsConfig(enabled=list(plugins)))
        plugins = None
    else:
        config = make_config()
    async with running_app(config, plugins) as running:
        yield running


@async_fixture
async def client(app: Running) -> httpx.AsyncClient:
    """The app's HTTP client (no API key: add `tenant.headers`)."""
    return app.client


# --- tenants and customers ------------------------------------------------------------------------


class TenantHandle:
    """A tenant and its API key; with an app, its operator's admin API calls."""

    def __init__(self, row: dict[str, Any], api_key: str, app: Running | None = None):
        self.row = row
        self.id: int = row["id"]
        self.slug: str = row["slug"]
        self.api_key = api_key
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.app = app

    def _app(self) -> Running:
        if self.app is None:
            raise RuntimeError("this tenant was made without an app: make_tenant(..., app=app)")
        return self.app

    async def api(self, method: str, path: str, json: Any = None, status: int = 200) -> Any:
        """Call `/api/v1{path}` as the operator; the answer's JSON, after checking `status`."""
        response = await self._app().client.request(
            method, f"/api/v1{path}", json=json, headers=self.headers
        )
        assert response.status_code == status, (
            f"{method} /api/v1{path} answered {response.status_code}, not {status}: "
            f"{response.text}"
        )
        return response.json() if response.content else None

    async def set_features(self, **switches: bool) -> None:
        """Switch features on or off for this tenant, as the operator does."""
        await self.api("PATCH", "/settings", {"features": switches})

    async def set_settings(self, section: str, **values: Any) -> dict[str, Any]:
        """Change fields of a settings section; answers every section as the API shows it."""
        return await self.api("PATCH", "/settings", {section: values})  # type: ignore[no-any-return]

    async def add_customer(
        self, external_id: str = "C1", *, enter: bool = True, **fields: Any
    ) -> CustomerHandle:
        """Upsert a customer (`name`, `email`, `currency`, `locale`, ...: the admin API's
        fields; defaults given) and, with `enter`, open their portal link."""
        body = {
            "external_id": external_id,
            "name": f"Buyer {external_id}",
            "email": f"ap-{external_id.lower()}@buyer.test",
            **fields,
        }
        (row,) = await self.api("PUT", "/customers", [body])
        customer = CustomerHandle(self, row)
        if enter:
            await customer.enter()
        return customer

    async def add_invoice(
        self, customer: CustomerHandle | str, external_id: str = "INV-1", **fields: Any
    ) -> dict[str, Any]:
        """Upsert an invoice of `customer` (100.00 in the customer's currency, issued on
        2026-03-01, due 2026-03-31, unless `fields` say otherwise); answers the API's row."""
        if isinstance(customer, CustomerHandle):
            customer_id, currency = customer.external_id, customer.row.get("currency", "USD")
        else:
            customer_id, currency = customer, "USD"
        body = {
            "external_id": external_id,
            "customer_external_id": customer_id,
            "number": external_id,
            "issue_date": "2026-03-01",
            "due_date": "2026-03-31",
            "currency": currency,
            "total": "100.00",
            **fields,
        }
        (row,) = await self.api("PUT", "/invoices", [body])
        return row  # type: ignore[no-any-return]

    async def context(self, actor: str = "operator:test") -> TenantContext:
        """The tenant's context as a hook receives it (settings and switches read now)."""
        from arportal.tenancy import load_context

        app = self._app()
        return await load_context(app.host, app.config, self.row, actor=actor)


class CustomerHandle:
    """A customer of a tenant; `portal` is their browser once `enter()` opened the link."""

    def __init__(self, tenant: TenantHandle, row: dict[str, Any]):
        self.tenant = tenant
        self.row = row
        self.external_id: str = row["external_id"]
        self.portal_url: str = row["portal_url"]
        self.portal = tenant._app().new_client()

    async def enter(self) -> httpx.Response:
        """Open the portal link, as the customer does from the mail: the session starts."""
        response = await self.portal.get(urlsplit(self.portal_url).path)
        assert response.status_code == 303, f"the portal link answered {response.status_code}"
        return response

    async def get(self, path: str = "") -> httpx.Response:
        """A portal page, by its path below the portal root (`"reminders"`)."""
        return await self.portal.get("/portal/" + path.lstrip("/"))

    async def csrf_token(self, path: str = "") -> str:
        """The CSRF token the portal's forms carry (read from `path`'s form if it has one)."""
        page = await self.get(path)
        match = CSRF_FIELD.search(page.text)
        if match:
            return match.group(1)
        token = self.portal.cookies.get("arportal_csrf")
        assert token, "no CSRF token: open a portal page first"
        return str(token)

    async def post_form(
        self, path: str, data: dict[str, Any], files: dict[str, Any] | None = None
    ) -> httpx.Response:
        """Send a portal form (path below the portal root) with the session's CSRF token."""
        token = await self.csrf_token()
        return await self.portal.post(
            "/portal/" + path.lstrip("/"), data={**data, "_csrf_token": token}, files=files
        )

    async def set_toggles(self, **toggles: bool) -> None:
        """Switch this customer's toggles, as the operator does."""
        await self.tenant.api("PATCH", f"/customers/{self.external_id}", {"toggles": toggles})

    async def context(self) -> TenantContext:
        """The tenant's context scoped to this customer (with their toggles)."""
        from arportal.models import Customer
        from arportal.tenancy import load_context

        row = await Customer.select().where(
            (Customer.tenant == self.tenant.id) & (Customer.external_id == self.external_id)
        ).first()
        app = self.tenant._app()
        return await load_context(app.host, app.config, self.tenant.row, customer=row)


async def make_tenant(
    slug: str = "acme", name: str = "Acme Corp", app: Running | None = None
) -> TenantHandle:
    """Create a tenant with an API key (inside a running app)."""
    from arportal.api_keys import create_api_key
    from arportal.tenancy import create_tenant

    row = await create_tenant(slug, name)
    key, _ = await create_api_key(row["id"])
    return TenantHandle(row, key, app)


@async_fixture
async def tenant(app: Running) -> TenantHandle:
    """The tenant `acme` of `app`."""
    return await make_tenant(app=app)


@async_fixture
async def customer(tenant: TenantHandle) -> CustomerHandle:
    """Customer `C1` of `tenant`, English, USD, in the portal (`customer.portal`)."""
    return await tenant.add_customer("C1")


# --- mail -------------------------------------------------------------------------------------


class Outbox:
    """The mail the app queued, oldest first (nothing is sent without SMTP configured)."""

    async def messages(
        self, tenant: TenantHandle | None = None, to: str | None = None
    ) -> list[dict[str, Any]]:
        """Each message: `to_addrs`, `from_addr`, `reply_to`, `subject`, `text_body`,
        `html_body`, `status`, `dedupe_key`; of one tenant, or to one address."""
        from arportal.models import OutboxMessage

        query = OutboxMessage.select().order_by(OutboxMessage.id).output(load_json=True)
        if tenant is not None:
            query = query.where(OutboxMessage.tenant == tenant.id)
        rows = await query
        return [row for row in rows if to is None or to in row["to_addrs"]]


@pytest.fixture
def outbox(app: Running) -> Outbox:
    """The app's outbox: `await outbox.messages(tenant=..., to=...)`."""
    return Outbox()


# --- today --------------------------------------------------------------------------------------


def set_today(day: dt.date | str) -> dt.date:
    """Make every tenant's "today" `day` (use with the `frozen_today` fixture, which
    unfreezes it after the test)."""
    from arportal.clock import freeze_today

    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    freeze_today(day)
    return day


@pytest.fixture
def frozen_today(request: pytest.FixtureRequest) -> Iterator[dt.date]:
    """Every tenant's "today" is 2026-03-15, or `@pytest.mark.frozen_today(day)`'s day."""
    from arportal.clock import freeze_today

    marker = request.node.get_closest_marker("frozen_today")
    day = set_today(marker.args[0] if marker and marker.args else DEFAULT_TODAY)
    try:
        yield day
    finally:
        freeze_today(None)
