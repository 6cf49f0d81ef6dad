"""The app run in-process (httpx's ASGI transport): entering a portal link, counting the SQL
statements a page runs, and capturing the context a template is rendered with."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from arportal import db

HOME_TEMPLATE = "core:portal/home.html"
LITESTAR_KEYS = ("request", "csrf_input")
"""What Litestar's Template response adds to a handler's context at render time."""


@contextlib.asynccontextmanager
async def running(config: Any) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The app built from `config` (plugins as it says), started in this event loop, with
    its database drivers traced (see `tracing_drivers`)."""
    from arportal.app import build_app

    with tracing_drivers():
        app = build_app(config, migrate=False)
        for hook in app.on_startup:
            await hook(app)
        try:
            async with client_for(app) as client:
                yield app, client
        finally:
            for hook in app.on_shutdown:
                await hook(app)


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")


async def enter(client: httpx.AsyncClient, token: str) -> dict[str, str]:
    """Follow a portal link once, as a customer does; answers the cookies it set (session and
    CSRF), which later requests send back as a browser would."""
    client.cookies.clear()
    response = await client.get(f"/p/{token}")
    if response.status_code != 303:
        raise RuntimeError(f"entering the portal link answered {response.status_code}")
    return dict(client.cookies)


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in sorted(cookies.items()))


_active: list[list[str]] = []


def _note(sql: str) -> None:
    for seen in _active:
        seen.append(" ".join(str(sql).split()))


@contextlib.contextmanager
def tracing_drivers() -> Iterator[None]:
    """Note every statement the database drivers run, whoever calls them (Piccolo, the
    app's own connections): each sqlite3 connection opened meanwhile gets a trace callback,
    and asyncpg's query methods are wrapped. Open it before the app starts, so connections
    kept open across requests are traced too; `counting_queries` collects the notes."""
    import sqlite3

    import asyncpg.connection
    import asyncpg.prepared_stmt

    patches: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, wrapper: Any) -> None:
        patches.append((owner, name, getattr(owner, name)))
        setattr(owner, name, wrapper)

    original_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        conn = original_connect(*args, **kwargs)
        conn.set_trace_callback(_note)
        return conn

    patch(sqlite3, "connect", connect)
    pg = asyncpg.connection.Connection
    original_execute, original_inner = pg.execute, pg._execute
    original_many = pg._executemany
    prepared = asyncpg.prepared_stmt.PreparedStatement
    original_bind = prepared._PreparedStatement__bind_execute

    async def execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if not args:
            _note(query)
        return await original_execute(self, query, *args, **kwargs)

    async def inner(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        _note(query)
        return await original_inner(self, query, *args, **kwargs)

    async def many(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        _note(query)
        return await original_many(self, query, *args, **kwargs)

    async def bind(self: Any, *args: Any, **kwargs: Any) -> Any:
        _note(self.get_query())
        return await original_bind(self, *args, **kwargs)

    patch(pg, "execute", execute)
    patch(pg, "_execute", inner)
    patch(pg, "_executemany", many)
    patch(prepared, "_PreparedStatement__bind_execute", bind)
    try:
        yield
    finally:
        for owner, name, original in reversed(patches):
            setattr(owner, name, original)


@contextlib.contextmanager
def counting_queries() -> Iterator[list[str]]:
    """The statements noted by `tracing_drivers` while the block is open."""
    seen: list[str] = []
    _active.append(seen)
    try:
        yield seen
    finally:
        _active.remove(seen)


@dataclass
class PageQueries:
    status: int
    statements: list[str] = field(default_factory=list)
    app_count: int | None = None
    """What the app's own `arportal.db.count_queries` counted, where it has one."""

    @property
    def count(self) -> int:
        return len(self.statements)


async def page_queries(
    client: httpx.AsyncClient, token: str, path: str = "/portal/"
) -> PageQueries:
    """The statements of one returning visit to `path` (the second load after entering, so
    nothing done once per process is counted)."""
    await enter(client, token)
    await client.get(path)
    app_counter = getattr(db, "count_queries", None)
    with contextlib.ExitStack() as stack:
        seen = stack.enter_context(counting_queries())
        counted = stack.enter_context(app_counter()) if app_counter else None
        response = await client.get(path)
    return PageQueries(response.status_code, list(seen), counted[0] if counted else None)


class _Recorder:
    def __init__(self, template: Any, name: str, seen: list[tuple[str, dict[str, Any]]]):
        self._template = template
        self._name = name
        self._seen = seen

    def render(self, *args: Any, **context: Any) -> str:
        self._seen.append((self._name, dict(*args, **context)))
        return str(self._template.render(*args, **context))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._template, name)


@contextlib.contextmanager
def capturing_templates(env: Any) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """(template name, context) of every template rendered through `env` in the block."""
    seen: list[tuple[str, dict[str, Any]]] = []
    original = env.get_template

    def get_template(name: Any, *args: Any, **kwargs: Any) -> Any:
        return _Recorder(original(name, *args, **kwargs), str(name), seen)

    env.get_template = get_template
    try:
        yield seen
    finally:
        del env.get_template


async def capture_home(app: Any, token: str) -> tuple[dict[str, Any], str]:
    """The context the real home page hands its template (without what Litestar adds at
    render time) and the HTML it answered, for the customer of `token`."""
    async with client_for(app) as client:
        await enter(client, token)
        with capturing_templates(app.state.jinja) as seen:
            response = await client.get("/portal/")
    if response.status_code != 200:
        raise RuntimeError(f"the portal home answered {response.status_code}")
    contexts = [context for name, context in seen if name == HOME_TEMPLATE]
    if not contexts:
        raise RuntimeError(f"{HOME_TEMPLATE} was not rendered (saw {[n for n, _ in seen]})")
    context = {k: v for k, v in contexts[-1].items() if k not in LITESTAR_KEYS}
    return context, response.text


def render_cost(env: Any, context: dict[str, Any], repeat: int = 200) -> dict[str, float]:
    """Milliseconds per render of the home template from `context`, in this process: as is,
    and with the `money` and `date` filters replaced by `str` (what formatting costs)."""
    import time

    template = env.get_template(HOME_TEMPLATE)
    extra = {"request": None, "csrf_input": ""}

    def per_render() -> float:
        template.render(**context, **extra)
        started = time.perf_counter()
        for _ in range(repeat):
            template.render(**context, **extra)
        return (time.perf_counter() - started) * 1000 / repeat

    full = per_render()
    saved = {name: env.filters[name] for name in ("money", "date") if name in env.filters}
    try:
        for name in saved:
            env.filters[name] = lambda value, *args, **kwargs: str(value)
        plain = per_render()
    finally:
        env.filters.update(saved)
    return {"render_ms": full, "without_formatting_ms": plain}
