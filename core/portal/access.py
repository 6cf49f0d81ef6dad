"""Who is looking at the portal: a link token in the path, or the session cookie it became.

`GET /p/<token>` checks the link, sets a session cookie bound to that link and redirects to
token-free `/portal/...` URLs. Requests under `/p/<token>/...` are served directly (the ASGI
wrapper `PortalPathRewrite` maps them onto `/portal/...` and keeps the token aside), so every
portal URL a plugin documents works with the token or with the session.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotFoundException, TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler
from litestar.utils.scope.state import ScopeState
from piccolo.table import Table

from arportal import db, security
from arportal.context import PortalContext
from arportal.links import link_state, token_hash
from arportal.models import Customer, PortalLink, Tenant
from arportal.portal.i18n import normalize_locale
from arportal.portal.queries import PageQuery
from arportal.ratelimit import FixedWindow, app_limiter, client_address
from arportal.tenancy import context_subquery, split_context_rows

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send

SESSION_COOKIE = "arportal_session"
TOKEN_STATE_KEY = "arportal_portal_token"  # noqa: S105 - a scope-state key
CONTEXT_STATE_KEY = security.CONTEXT_STATE_KEY
PREFETCHED_STATE_KEY = "arportal_prefetched"


class PortalLinkUnknown(NotFoundException):
    """Unknown, revoked or rotated link, or no session: the same 404 for all."""


class PortalLinkExpired(HTTPException):
    """The link (or the session's link) is past its `expires_at`. Carries what the expired
    page shows: the customer's locale and the tenant's name, never the address on file."""

    status_code = 410

    def __init__(self, link_id: int, locale: str = "en", tenant_name: str = ""):
        super().__init__(detail="this link has expired")
        self.link_id = link_id
        self.locale = locale
        self.tenant_name = tenant_name


class PortalDisabled(HTTPException):
    status_code = 403

    def __init__(self, locale: str = "en", tenant_name: str = "") -> None:
        super().__init__(detail="portal not available")
        self.locale = locale
        self.tenant_name = tenant_name


class PortalRateLimited(TooManyRequestsException):
    """Too many failed link look-ups (or renewals) from this client: 429 with Retry-After."""

    def __init__(self, retry_after: int, locale: str | None = None) -> None:
        super().__init__(detail="too many attempts", headers={"Retry-After": str(retry_after)})
        self.locale = locale


def session_value(secret: bytes, link: dict[str, Any]) -> str:
    return _session_value(secret, link["id"], link["token_hash"])


@functools.lru_cache(maxsize=4096)
def _session_value(secret: bytes, link_id: int, token_hash: str) -> str:
    """Remembered: a session's pages all check the same value (a rotated link has a new
    `token_hash`, so an old session's value is never found for it)."""
    mac = hmac.new(secret, f"session:{link_id}:{token_hash}".encode(), hashlib.sha256)
    return f"{link_id}.{mac.hexdigest()}"


def _columns(table: type[Table], alias: str) -> str:
    return ", ".join(
        f'{alias}."{column._meta.db_column_name}" AS "{alias}__{column._meta.name}"'
        for column in table._meta.columns
    )


@functools.lru_cache(maxsize=64)
def _link_sql(postgres: bool, where: str, prefetch_sql: str | None = None) -> str:
    prefetched = f", {prefetch_sql} AS x__prefetched" if prefetch_sql else ""
    return (
        f"SELECT {_columns(PortalLink, 'l')}, {_columns(Customer, 'c')}, "
        f"{_columns(Tenant, 't')}, {context_subquery('l.tenant', 'l.customer')} AS x__context"
        f"{prefetched} FROM portal_link l "
        "JOIN customer c ON c.id = l.customer AND c.tenant = l.tenant "
        f"JOIN tenant t ON t.id = l.tenant {where}"
    )


def _json(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


async def _link_with_owner(
    where: str, value: Any, prefetch: PageQuery | None = None
) -> dict[str, Any] | None:
    """The link with its customer (`link["_customer"]`), tenant (`link["_tenant"]`) and the
    rows of their context (`link["_context"]`: settings, features, toggles), in one query;
    the link, customer and tenant have the shape `Table.select()` gives. With `prefetch`,
    that page query's JSON comes along, undecoded, as `link["_prefetched"]`."""
    postgres = db.is_postgres()
    if prefetch is None:
        rows = await db.fetch(_link_sql(postgres, where), value)
    else:
        rows = await db.fetch(_link_sql(postgres, where, prefetch.sql), *prefetch.args, value)
    if not rows:
        return None
    row = rows[0]
    link: dict[str, Any] = {}
    owners: dict[str, dict[str, Any]] = {"l": link, "c": {}, "t": {}, "x": {}}
    for key, (alias, name) in zip(row, _split_names(tuple(row)), strict=True):
        owners[alias][name] = row[key]
    link["_customer"] = owners["c"]
    link["_tenant"] = owners["t"]
    link["_context"] = _json(owners["x"]["context"])
    link["_prefetched"] = owners["x"].get("prefetched")
    return link


@functools.lru_cache(maxsize=8)
def _split_names(keys: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """`l__id` -> ("l", "id"): which row (link, customer, tenant, extra) a column belongs to."""
    return tuple((alias, name) for alias, _, name in (key.partition("__") for key in keys))


async def link_from_token(token: str) -> dict[str, Any] | None:
    if not token or len(token) > 100:
        return None
    return await _link_with_owner("WHERE l.token_hash = {}", token_hash(token))


def session_link_id(value: str | None) -> int | None:
    """The link id a session cookie names (not yet checked: see `link_from_session`)."""
    if not value or "." not in value:
        return None
    link_id = value.partition(".")[0]
    if not link_id.isdigit() or len(link_id) > 18:
        return None
    return int(link_id)


async def link_from_session(
    secret: bytes, value: str | None, prefetch: PageQuery | None = None
) -> dict[str, Any] | None:
    link_id = session_link_id(value)
    if link_id is None or value is None:
        return None
    link = await _link_with_owner("WHERE l.id = {}", link_id, prefetch)
    if link is None or not hmac.compare_digest(session_value(secret, link), value):
        return None
    return link


def failed_lookups(connection: ASGIConnection[Any, Any, Any, Any]) -> FixedWindow:
    """Failed link look-ups per client address, `config.failed_lookup_limit` a minute."""
    app = connection.app
    return app_limiter(app, "failed-lookup", app.state.config.failed_lookup_limit, 60)


Prefetch = Callable[[PortalContext, ASGIConnection[Any, Any, Any, Any]], PageQuery]
"""A route's `opt["portal_prefetch"]`: the page's read for a request (`PageQuery`), built from
the portal context and the request alone, so that the guard can run it within the link
look-up. The handler builds it again and reads the answer with `page_data`."""

RECENT_PORTALS = 1024
_recent_portals: dict[int, PortalContext] = {}
"""The last portal context this process built for each link (at most `RECENT_PORTALS`): the
guess a prefetched query is built from before the link is looked up. The guess is checked
after the look-up (the query built from the real context must be the same query), so a stale
or wrong guess only costs the statement it could have saved."""


def _remember(portal: PortalContext) -> None:
    _recent_portals.pop(portal.link_id, None)
    _recent_portals[portal.link_id] = portal
    if len(_recent_portals) > RECENT_PORTALS:
        del _recent_portals[next(iter(_recent_portals))]


async def presented_link(
    connection: ASGIConnection[Any, Any, Any, Any], prefetch: Prefetch | None = None
) -> tuple[dict[str, Any] | None, str]:
    """The link row the request presents (token in the path, else session cookie), whatever
    its state, with its customer and tenant, and the portal base URL.

    Every presented token or cookie that finds no live link counts as a failed look-up of
    the client address. Past the limit a token is refused (429) before it is looked up, so a
    guess cannot be confirmed; a cookie is looked up first (an HMAC-signed cookie cannot be
    guessed, and the pages of a live session then cost the store nothing). A request that
    presents nothing gets the 404 without counting.

    With `prefetch` and a session this process has served before, the page's query runs in
    the same statement (`link["_prefetch_query"]` says which query it was)."""
    state = connection.scope["state"]
    token = state.get(TOKEN_STATE_KEY)
    cookie = connection.cookies.get(SESSION_COOKIE)
    if token is None and not cookie:
        return None, "/portal"
    limiter = failed_lookups(connection)
    client = client_address(connection.scope)
    query = None
    if token is not None:
        if await limiter.exceeded(client):
            raise PortalRateLimited(limiter.retry_after())
        link = await link_from_token(token)
        base = f"/p/{token}"
    else:
        guess = _recent_portals.get(session_link_id(cookie) or 0)
        if prefetch is not None and guess is not None:
            query = prefetch(guess, connection)
        link = await link_from_session(connection.app.state.secret, cookie, query)
        base = "/portal"
    if link_state(link) == "unknown":
        if not await limiter.hit(client) and token is None:
            raise PortalRateLimited(limiter.retry_after())
        return None, base
    assert link is not None
    link["_prefetch_query"] = query
    return link, base


def _csrf_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The request's CSRF token (set by the CSRF middleware), for forms in slot fragments."""
    token = ScopeState.from_scope(connection.scope).csrf_token
    return token if isinstance(token, str) else ""


async def resolve_portal(
    connection: ASGIConnection[Any, Any, Any, Any], prefetch: Prefetch | None = None
) -> PortalContext:
    """The portal context of this request, computed once and kept in the scope (with
    `prefetch`, the page's query answered along, when it could be, for `page_data`)."""
    state = connection.scope["state"]
    if CONTEXT_STATE_KEY in state:
        return state[CONTEXT_STATE_KEY]  # type: ignore[no-any-return]
    app_state = connection.app.state
    link, base = await presented_link(connection, prefetch)
    if link is None:
        raise PortalLinkUnknown()
    customer, tenant = link["_customer"], link["_tenant"]
    settings, features, toggles = split_context_rows(link["_context"])
    portal = PortalContext(
        tenant_id=tenant["id"],
        slug=tenant["slug"],
        name=tenant["name"],
        host=app_state.host,
        config=app_state.config,
        settings_data=settings,
        feature_values=features,
        customer=customer,
        toggle_values=toggles,
        actor=f"customer:{customer['external_id']}",
        link_id=link["id"],
        base=base,
        locale=normalize_locale(customer["locale"]),
        csrf_token=_csrf_token(connection),
    )
    if not portal.toggle_enabled("portal"):
        raise PortalDisabled(portal.locale, portal.name)
    if link_state(link) == "expired":
        raise PortalLinkExpired(link["id"], portal.locale, portal.name)
    state[CONTEXT_STATE_KEY] = portal
    state["arportal_link"] = link
    query = link["_prefetch_query"]
    if query is not None and prefetch is not None and prefetch(portal, connection) == query:
        state[PREFETCHED_STATE_KEY] = (query, link["_prefetched"])
    _remember(portal)
    return portal


async def page_data(
    connection: ASGIConnection[Any, Any, Any, Any], query: PageQuery
) -> str | bytes:
    """The JSON text of a page's query: from the link look-up when the guard could run it
    there (see `Prefetch`), else by running it now."""
    prefetched = connection.scope["state"].pop(PREFETCHED_STATE_KEY, None)
    if prefetched is not None and prefetched[0] == query:
        return prefetched[1]  # type: ignore[no-any-return]
    rows = await db.fetch(f"SELECT {query.sql} AS data", *query.args)
    return rows[0]["data"]  # type: ignore[no-any-return]


async def provide_portal(request: Request[Any, Any, Any]) -> PortalContext:
    return await resolve_portal(request)


def guarded_portal(connection: ASGIConnection[Any, Any, Any, Any]) -> PortalContext:
    """The context `portal_guard` resolved for this request, without Litestar's dependency
    injection (`PortalDep`), for the hottest page."""
    return connection.scope["state"][CONTEXT_STATE_KEY]  # type: ignore[no-any-return]


async def portal_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Resolve the customer, then answer 404 when the route's feature or toggle is off."""
    if handler.opt.get("public"):
        return
    portal = await resolve_portal(connection, handler.opt.get("portal_prefetch"))
    if not portal.route_enabled(handler.opt):
        raise NotFoundException()


class PortalPathRewrite:
    """ASGI wrapper run before routing: `/p/<token>[/rest]` is served as `/portal/enter` or
    `/portal/rest`, with the token kept in the scope state (never in the routed path)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith("/p/"):
                token, slash, rest = path[3:].partition("/")
                scope["state"][TOKEN_STATE_KEY] = token
                new_path = "/portal/" + rest if slash else "/portal/enter"
                scope["path"] = new_path
                scope["raw_path"] = new_path.encode()
        await self.app(scope, receive, send)
