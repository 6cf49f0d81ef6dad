"""Core portal pages."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template

from arportal.context import PortalDep
from arportal.portal.access import (
    SESSION_COOKIE,
    PortalDisabled,
    PortalLinkExpired,
    PortalLinkUnknown,
    session_value,
)


@get("/enter")
async def enter(request: Request[Any, Any, Any], portal: PortalDep) -> Redirect:
    """`GET /p/<token>`: bind a session cookie to the link and go to token-free URLs."""
    link = request.scope["state"]["arportal_link"]
    config = request.app.state.config
    response = Redirect("/portal/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_value(request.app.state.secret, link),
        httponly=True,
        secure=config.base_url.startswith("https://"),
        samesite="lax",
        path="/",
    )
    return response


@get("/")
async def home(portal: PortalDep) -> Template:
    return Template(template_name="core:portal/home.html", context={"portal": portal})




def _render(template: str, status: int):  # type: ignore[no-untyped-def]
    def handler(request: Request[Any, Any, Any], exc: HTTPException) -> Template:
        return Template(template_name=template, context={"exc": exc}, status_code=status)

    return handler


PORTAL_HANDLERS: list[Any] = [enter, home]
PORTAL_EXCEPTION_HANDLERS: dict[Any, Any] = {
    PortalLinkUnknown: _render("core:portal/not_found.html", 404),
    PortalLinkExpired: _render("core:portal/expired.html", 410),
    PortalDisabled: _render("core:portal/disabled.html", 403),
}
