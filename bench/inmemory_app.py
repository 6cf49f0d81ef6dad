"""The comparison apps of the portal benchmark, served by uvicorn like the real one.

`create_app` is the real app (`build_app`, same config, middleware and Jinja environment)
plus two routes:

- `/portal_memory/`: the portal home template (`core:portal/home.html`) rendered from the
  context the real page built once at start-up for the customer of `BENCH_PORTAL_TOKEN`,
  so the work left is routing, the template and the response: no SQL. Its path starts with
  `/portal`, so the app's security-header wrapper treats it as it treats the real page.
- `/bench/hello`: a plain-text hello through the same app and middleware.

`create_bare_app` is a bare Litestar app with one hello route: the server's floor.
"""

from __future__ import annotations

import os
from typing import Any

from litestar import Litestar, MediaType, get
from litestar.response import Template

MEMORY_PATH = "/portal_memory/"
HELLO_PATH = "/bench/hello"
TOKEN_ENV = "BENCH_PORTAL_TOKEN"  # noqa: S105 - the name of a variable
"""Not ARPORTAL_*: the config reads every ARPORTAL_ variable as a setting."""


@get(HELLO_PATH, media_type=MediaType.TEXT, include_in_schema=False)
async def hello() -> str:
    return "Hello, world!"


def create_app() -> Litestar:
    from arportal.app import build_app
    from arportal.config import load_config
    from bench.inprocess import HOME_TEMPLATE, capture_home

    app = build_app(load_config(), migrate=False)
    captured: dict[str, Any] = {}

    async def capture(app: Litestar) -> None:
        captured["context"], _ = await capture_home(app, os.environ[TOKEN_ENV])

    @get(MEMORY_PATH, include_in_schema=False)
    async def memory_home() -> Template:
        return Template(
            template_name=HOME_TEMPLATE, context=captured["context"], media_type=MediaType.HTML
        )

    app.on_startup.append(capture)
    app.register(memory_home)
    app.register(hello)
    return app


def create_bare_app() -> Litestar:
    return Litestar(route_handlers=[hello], logging_config=None, debug=False)
