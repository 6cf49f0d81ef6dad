"""Bearer API key -> the tenant's context. A key of one tenant never reaches another's data."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.handlers.base import BaseRouteHandler

from arportal.api_keys import tenant_for_key
from arportal.context import TenantContext
from arportal.tenancy import load_context

STATE_KEY = "arportal_tenant_context"


async def resolve_tenant(connection: ASGIConnection[Any, Any, Any, Any]) -> TenantContext:
    state = connection.scope["state"]
    if STATE_KEY in state:
        return state[STATE_KEY]  # type: ignore[no-any-return]
    header = connection.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise NotAuthorizedException("missing Authorization: Bearer <api key>")
    tenant = await tenant_for_key(key.strip())
    if tenant is None:
        raise NotAuthorizedException("invalid or revoked API key")
    ctx = await load_context(
        connection.app.state.host, connection.app.state.config, tenant, actor="operator"
    )
    state[STATE_KEY] = ctx
    return ctx


async def provide_tenant(request: Request[Any, Any, Any]) -> TenantContext:
    return await resolve_tenant(request)


async def admin_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Authenticate, then answer 404 while the route's feature (or plugin) is off."""
    if handler.opt.get("public") or connection.scope["path"].startswith("/api/v1/schema"):
        return
    ctx = await resolve_tenant(connection)
    if not ctx.route_enabled(handler.opt):
        raise NotFoundException()
