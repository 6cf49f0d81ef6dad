"""Core portal pages: home (balance and invoices), an invoice, its PDF, the stylesheets, and the
error pages. Each page makes a fixed number of SQL queries and plugin calls, whatever the
number of invoices (see `arportal.portal.queries`)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Request, Response, get
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotFoundException, TooManyRequestsException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from arportal.context import PortalContext, PortalDep
from arportal.portal import queries, slots
from arportal.portal.access import (
    CONTEXT_STATE_KEY,
    SESSION_COOKIE,
    TOKEN_STATE_KEY,
    PortalDisabled,
    PortalLinkExpired,
    guarded_portal,
    page_data,
    session_value,
)
from arportal.portal.i18n import from_accept_language
from arportal.portal.rendering import base_context, portal_page, stylesheet
from arportal.portal.renew import link_sent, renew

_PLAIN_ID = re.compile(r"[A-Za-z0-9._~-]+")
"""What `quote` leaves as it is: most ERP numbers, so most ids skip it."""


def invoice_url(portal: PortalContext, external_id: str, suffix: str = "") -> str:
    """An invoice's page (or `suffix="/pdf"`). Ids with a slash, common in ERPs, cannot be a
    path segment (the path is decoded before routing), so they go in the query string."""
    if "/" in external_id:
        return portal.url(f"invoice{suffix}") + "?" + urlencode({"id": external_id})
    segment = external_id if _PLAIN_ID.fullmatch(external_id) else quote(external_id, safe="")
    return portal.url(f"invoices/{segment}{suffix}")


def _safe_pdf_url(value: Any) -> str | None:
    """An http(s) URL or a same-origin path; anything else (javascript:, //host) is no link."""
    if not isinstance(value, str) or not value or any(c in value for c in "\r\n\t "):
        return None
    lowered = value.lower()
    if lowered.startswith(("https://", "http://")):
        return value
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


# --- Pages -----------------------------------------------------------------------------------


@get("/enter")
async def enter(request: Request[Any, Any, Any], portal: PortalDep) -> Redirect:
    """`GET /p/<token>`: bind a session cookie to the link and go to token-free URLs. Nothing
    is written: a mail scanner opening the link uses nothing up."""
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


_HOME_STATE_KEY = "arportal_home_request"


def _home_request(
    portal: PortalContext, connection: ASGIConnection[Any, Any, Any, Any]
) -> queries.HomeRequest:
    """What the home page shows for this request, built once per portal context."""
    state = connection.scope["state"]
    built = state.get(_HOME_STATE_KEY)
    if built is not None and built[0] is portal:
        return built[1]  # type: ignore[no-any-return]
    params = connection.query_params
    status = params.get("status")
    settings = portal.portal_settings
    shown = queries.HomeRequest(
        tenant_id=portal.tenant_id,
        customer_id=portal.customer["id"],
        tab_name=status if status in queries.TABS else queries.DEFAULT_TAB,
        today=portal.today(),
        hide_future=settings.hide_future_invoices,
        size=settings.page_size,
        after=queries.Cursor.decode(params.get("after")),
        before=queries.Cursor.decode(params.get("before")),
    )
    state[_HOME_STATE_KEY] = (portal, shown)
    return shown


def _home_query(
    portal: PortalContext, connection: ASGIConnection[Any, Any, Any, Any]
) -> queries.PageQuery:
    return _home_request(portal, connection).query


@get("/", opt={"portal_prefetch": _home_query})
async def home(request: Request[Any, Any, Any]) -> Template:
    """Balances per currency, the tabs and one page of invoices: one statement with the link
    look-up once this process has served the session (two before)."""
    portal = guarded_portal(request)
    shown = _home_request(portal, request)
    totals, page = shown.result(await page_data(request, shown.query))
    invoices = portal.url("invoices/")
    for invoice in page.rows:
        external_id = invoice["external_id"]
        invoice["url"] = (invoices + external_id if _PLAIN_ID.fullmatch(external_id)
                          else invoice_url(portal, external_id))
    badges = await slots.badges(portal, page.rows)
    panels = await slots.panels(portal)
    charges = await slots.charges(portal)
    totals = slots.add_charges(totals, charges)
    root = portal.url("")
    tab = shown.tab_name

    def tab_url(name: str, cursor: str = "") -> str:
        """Tab names and cursors (`2026-01-31.42`) need no escaping in a query string."""
        return f"{root}?status={name}{cursor}"

    return await portal_page(
        portal,
        "core:portal/home.html",
        tab=tab,
        tabs=[(name, tab_url(name)) for name in queries.TABS],
        totals=totals,
        open_count=sum(row["open_count"] for row in totals),
        page=page,
        badges=badges,
        charges=slots.charge_lines(charges),
        panels=panels,
        prev_url=tab_url(tab, f"&before={page.prev_cursor}") if page.prev_cursor else None,
        next_url=tab_url(tab, f"&after={page.next_cursor}") if page.next_cursor else None,
        first_url=tab_url(tab) if page.prev_cursor else None,
    )


async def _invoice_or_404(portal: PortalContext, external_id: FromPath[str]) -> dict[str, Any]:
    settings = portal.portal_settings
    invoice = await queries.invoice_by_external_id(
        portal.tenant_id,
        portal.customer["id"],
        external_id,
        portal.today(),
        settings.hide_future_invoices,
    )
    if invoice is None:
        raise NotFoundException()
    return invoice


async def _invoice_page(portal: PortalContext, external_id: FromPath[str]) -> Template:
    invoice = await _invoice_or_404(portal, external_id)
    invoice["url"] = invoice_url(portal, invoice["external_id"])
    pdf = _safe_pdf_url(invoice["pdf_url"])
    charges = slots.charges_by_invoice(await slots.charges(portal)).get(invoice["id"], [])
    charged = sum(c.amount_minor for c in charges if c.currency == invoice["currency"])
    return await portal_page(
        portal,
        "core:portal/invoice.html",
        invoice=invoice,
        charges=charges,
        due_with_charges=invoice["amount_due_minor"] + charged,
        pdf_url=invoice_url(portal, invoice["external_id"], "/pdf") if pdf else None,
        allocations=await queries.allocations(portal.tenant_id, invoice["id"]),
        badges=(await slots.badges(portal, [invoice])).get(invoice["id"], []),
        actions=await slots.invoice_actions(portal, invoice),
        home_url=portal.url(""),
    )


@get("/invoices/{external_id:str}")
async def invoice_page(portal: PortalDep, external_id: FromPath[str]) -> Template:
    return await _invoice_page(portal, external_id)


@get("/invoice")
async def invoice_page_by_query(portal: PortalDep, id: FromQuery[str]) -> Template:  # noqa: A002
    return await _invoice_page(portal, id)


async def _pdf(portal: PortalContext, external_id: FromPath[str]) -> Redirect:
    invoice = await _invoice_or_404(portal, external_id)
    target = _safe_pdf_url(invoice["pdf_url"])
    if target is None:
        raise NotFoundException()
    return Redirect(target, status_code=303)


@get("/invoices/{external_id:str}/pdf")
async def invoice_pdf(portal: PortalDep, external_id: FromPath[str]) -> Redirect:
    """The invoice's PDF: a redirect to where it is kept (`pdf_url`)."""
    return await _pdf(portal, external_id)


@get("/invoice/pdf")
async def invoice_pdf_by_query(portal: PortalDep, id: FromQuery[str]) -> Redirect:  # noqa: A002
    return await _pdf(portal, id)


# --- Stylesheets and logo --------------------------------------------------------------------


@get("/static/portal.css", opt={"public": True})
async def portal_css() -> Response[bytes]:
    content, version = stylesheet()
    return Response(
        content,
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=86400", "ETag": f'"{version}"'},
    )


async def theme_css_response(portal: PortalContext) -> Response[str]:
    brand = slots.brand(portal, await slots.theme_of(portal))
    return Response(
        brand.css(),
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )


async def logo_response(portal: PortalContext) -> Response[bytes]:
    theme = await slots.theme_of(portal)
    if not theme.logo_bytes or theme.logo_content_type not in slots.LOGO_TYPES:
        raise NotFoundException()
    return Response(
        theme.logo_bytes,
        media_type=theme.logo_content_type,
        headers={"Cache-Control": "private, max-age=300"},
    )


@get("/theme.css")
async def theme_css(portal: PortalDep) -> Response[str]:
    """The tenant's colours as CSS custom properties (no inline style under the CSP)."""
    return await theme_css_response(portal)


@get("/logo")
async def logo(portal: PortalDep) -> Response[bytes]:
    return await logo_response(portal)


# --- Error pages -----------------------------------------------------------------------------


def _known_locale(request: Request[Any, Any, Any]) -> str:
    portal = request.scope["state"].get(CONTEXT_STATE_KEY)
    if portal is not None:
        return portal.locale  # type: ignore[no-any-return]
    return from_accept_language(request.headers.get("accept-language"))


def _not_found(request: Request[Any, Any, Any], exc: HTTPException) -> Template:
    """Unknown, rotated and revoked links, no session, and missing pages: one 404 page (it
    shows nothing of the tenant or the customer unless the session is a live one)."""
    portal = request.scope["state"].get(CONTEXT_STATE_KEY)
    extra: dict[str, Any] = {}
    if portal is not None:
        extra = {"home_url": portal.url("")}
    return Template(
        template_name="core:portal/not_found.html",
        context=base_context(_known_locale(request), **extra),
        status_code=404,
    )


def _expired(request: Request[Any, Any, Any], exc: PortalLinkExpired) -> Template:
    token = request.scope["state"].get(TOKEN_STATE_KEY)
    base = f"/p/{token}" if token is not None else "/portal"
    return Template(
        template_name="core:portal/expired.html",
        context=base_context(exc.locale, tenant_name=exc.tenant_name, renew_url=base + "/renew"),
        status_code=410,
    )


def _disabled(request: Request[Any, Any, Any], exc: PortalDisabled) -> Template:
    return Template(
        template_name="core:portal/disabled.html",
        context=base_context(exc.locale, tenant_name=exc.tenant_name),
        status_code=403,
    )


def _rate_limited(request: Request[Any, Any, Any], exc: TooManyRequestsException) -> Template:
    locale = getattr(exc, "locale", None) or _known_locale(request)
    return Template(
        template_name="core:portal/rate_limited.html",
        context=base_context(locale),
        status_code=429,
        headers=dict(exc.headers or {}),
    )


PORTAL_HANDLERS: list[Any] = [
    enter,
    home,
    invoice_page,
    invoice_page_by_query,
    invoice_pdf,
    invoice_pdf_by_query,
    portal_css,
    theme_css,
    logo,
    renew,
    link_sent,
]
not_found_page = _not_found

PORTAL_EXCEPTION_HANDLERS: dict[Any, Any] = {
    NotFoundException: _not_found,
    PortalLinkExpired: _expired,
    PortalDisabled: _disabled,
    TooManyRequestsException: _rate_limited,
}
