"""The app factory: `build_app(config, plugins=None) -> Litestar`.

The plugin manager is built here, per app. Plugin routes are mounted in a Router per plugin
whose `opt` names the plugin, so the core's guards can make a disabled plugin absent (404).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from litestar import Litestar, MediaType, Request, Router, get
from litestar.config.csrf import CSRFConfig
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Response
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.template.config import TemplateConfig

from arportal import db
from arportal.admin.auth import admin_guard, provide_tenant
from arportal.admin.errors import EXCEPTION_HANDLERS as ADMIN_EXCEPTION_HANDLERS
from arportal.admin.routes import ADMIN_HANDLERS
from arportal.config import Config, load_config
from arportal.files import signed_image
from arportal.migrate import run_migrations
from arportal.plugin_host import PluginHost, discover
from arportal.portal.access import PortalPathRewrite, portal_guard, provide_portal
from arportal.portal.preview import PREVIEW_ROUTER
from arportal.portal.routes import PORTAL_EXCEPTION_HANDLERS, PORTAL_HANDLERS, not_found_page
from arportal.processes import ProcessPool
from arportal.security import AccessLog, PortalHeaders
from arportal.templating import build_environment

log = logging.getLogger("arportal")
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("aiosqlite").setLevel(logging.INFO)  # its DEBUG lines print every parameter


@get("/healthz", media_type=MediaType.JSON, opt={"public": True}, include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", media_type=MediaType.JSON, include_in_schema=False)
async def readyz() -> Response[dict[str, str]]:
    try:
        await db.state.engine.run_ddl("SELECT 1")  # type: ignore[union-attr]
    except Exception as exc:
        return Response({"status": "unavailable", "error": type(exc).__name__}, status_code=503)
    return Response({"status": "ok"})


def _unrouted(request: Request[Any, Any, Any], exc: NotFoundException) -> Response[Any]:
    """A path no route matches: the portal's HTML 404 page under /portal and /preview
    (whatever the token, the same page), Litestar's JSON answer elsewhere."""
    if request.scope["path"].startswith(("/portal", "/preview")):
        return not_found_page(request, exc)
    return Response({"status_code": 404, "detail": exc.detail}, status_code=404)


def _plugin_router(path: str, name: str, routes: list[Any]) -> Router:
    return Router(path=path, route_handlers=routes, opt={"plugin": name})


def _store(config: Config) -> Store:
    if config.redis_url:
        from litestar.stores.redis import RedisStore

        return RedisStore.with_client(config.redis_url, namespace="arportal")
    return MemoryStore()


def build_app(
    config: Config | None = None,
    plugins: list[tuple[str, Any]] | None = None,
    *,
    migrate: bool = True,
    run_jobs: bool = False,
) -> Litestar:
    """Build the ASGI app.

    `plugins` is a list of `(name, module)`; None discovers the installed ones through the
    `arportal.plugins` entry points, as the config allows. `migrate` runs pending migrations
    at start-up; `run_jobs` starts the in-process job loop (`arportal serve` does).
    """
    config = config or load_config()
    infos = None
    if plugins is None:
        plugins, infos = discover(config)
    host = PluginHost(plugins, infos)
    host.processes = ProcessPool(config.process_workers)
    db.use_database(db.engine_from_url(config.database), host.declarations.piccolo_apps)

    portal_routes: list[Any] = list(PORTAL_HANDLERS)
    admin_routes: list[Any] = list(ADMIN_HANDLERS)
    by_plugin: dict[str, tuple[list[Any], list[Any]]] = {}
    for route, name in host.declarations.portal_routes:
        by_plugin.setdefault(name, ([], []))[0].append(route)
    for route, name in host.declarations.admin_routes:
        by_plugin.setdefault(name, ([], []))[1].append(route)
    for name, (portal, admin) in by_plugin.items():
        if portal:
            portal_routes.append(_plugin_router("/", name, portal))
        if admin:
            admin_routes.append(_plugin_router("/", name, admin))

    portal_router = Router(
        path="/portal",
        route_handlers=portal_routes,
        dependencies={"portal": Provide(provide_portal)},
        guards=[portal_guard],
        exception_handlers=PORTAL_EXCEPTION_HANDLERS,
        include_in_schema=False,
    )
    admin_router = Router(
        path="/api/v1",
        route_handlers=admin_routes,
        dependencies={"tenant": Provide(provide_tenant)},
        guards=[admin_guard],
        security=[{"BearerToken": []}],
        exception_handlers=ADMIN_EXCEPTION_HANDLERS,
    )

    jobs_task: dict[str, Any] = {}

    async def on_startup(app: Litestar) -> None:
        await db.start_engine()
        if migrate:
            await run_migrations()
        if run_jobs and config.run_jobs:
            from arportal.jobs import start_job_loop

            jobs_task["task"] = start_job_loop(app.state.host, config)

    async def on_shutdown(app: Litestar) -> None:
        task = jobs_task.pop("task", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app.state.host.processes.aclose()
        await db.stop_engine()

    env = build_environment(host, None)
    host.jinja = env  # type: ignore[attr-defined]
    app = Litestar(
        route_handlers=[
            healthz, readyz, portal_router, admin_router, PREVIEW_ROUTER, signed_image
        ],
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(env)),
        csrf_config=CSRFConfig(
            secret=config.resolved_secret().decode(),
            cookie_name="arportal_csrf",
            cookie_httponly=True,
            cookie_secure=config.base_url.startswith("https://"),
            exclude=["/api/", "/healthz", "/readyz"],
        ),
        openapi_config=OpenAPIConfig(
            title="arportal admin API",
            version="1",
            path="/api/v1/schema",
            components=Components(
                security_schemes={"BearerToken": SecurityScheme(type="http", scheme="bearer")}
            ),
        ),
        stores={"rate_limit": _store(config)},
        request_max_body_size=config.request_max_bytes,
        logging_config=None,
        exception_handlers={NotFoundException: _unrouted},
        debug=False,
    )
    host.check_routes(app.routes)
    app.state.config = config
    app.state.host = host
    app.state.secret = config.resolved_secret()
    app.state.jinja = env
    app.asgi_handler = AccessLog(PortalHeaders(PortalPathRewrite(app.asgi_handler)))
    return app


def app_from_environment() -> Litestar:
    """The app `arportal serve` hands to uvicorn (per worker): config from the environment,
    migrations already applied by the serve command, the in-process job loop on."""
    return build_app(load_config(), migrate=False, run_jobs=True)
