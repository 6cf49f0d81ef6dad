"""The pages of a Save & View preview, under `/preview/<signed token>/` (see `arportal.preview`).

The core's portal templates rendered for a sample customer, with the plugins' slots (panels,
badges, actions, asides, theme, contact) called as on a real page: what the tenant's
customers would see once the draft is saved. Only GETs; the pages forbid form submission.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, Router, get
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Response, Template

from arportal.context import PortalContext, PortalDep
from arportal.formatting import format_date
from arportal.portal import queries, slots
from arportal.portal.access import CONTEXT_STATE_KEY
from arportal.portal.rendering import base_context, portal_page
from arportal.portal.routes import (
    invoice_url,
    logo_response,
    not_found_page,
    theme_css_response,
)
from arportal.preview import (
    PreviewExpired,
    PreviewUnknown,
    preview_context,
    sample_allocations,
    sample_invoices,
)

PREVIEW_PREFIX = "/preview"


async def provide_preview(request: Request[Any, Any, Any], token: FromPath[str]) -> PortalContext:
    state = request.scope["state"]
    if CONTEXT_STATE_KEY in state:
        return state[CONTEXT_STATE_KEY]  # type: ignore[no-any-return]
    app = request.app
    portal, preview = await preview_context(
        app.state.host, app.state.config, token, f"{PREVIEW_PREFIX}/{token}"
    )
    state[CONTEXT_STATE_KEY] = portal
    state["arportal_preview_expires"] = preview.expires_at
    return portal


def _notice(request: Request[Any, Any, Any], portal: PortalContext) -> dict[str, Any]:
    expires = request.scope["state"]["arportal_preview_expires"].astimezone(portal.timezone)
    return {
        "expires": expires.strftime("%H:%M"),
        "date": format_date(expires.date(), portal.locale),
    }


def _totals(invoices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    open_rows = [inv for inv in invoices if inv["status"] == "open"]
    if not open_rows:
        return []
    return [{
        "currency": open_rows[0]["currency"],
        "open_count": len(open_rows),
        "due_minor": sum(inv["amount_due_minor"] for inv in open_rows),
        "overdue_minor": sum(inv["amount_due_minor"] for inv in open_rows if inv["overdue"]),
        "overdue_count": sum(1 for inv in open_rows if inv["overdue"]),
    }]


@get("/{token:str}/")
async def preview_home(
    request: Request[Any, Any, Any], portal: PortalDep, status: FromQuery[str | None] = None
) -> Template:
    tab = status if status is not None and status in queries.TABS else queries.DEFAULT_TAB
    spec = queries.TABS[tab]
    invoices = sample_invoices(portal.today())
    rows = sorted(
        (dict(inv) for inv in invoices if inv["status"] in spec.statuses),
        key=lambda inv: (inv[spec.sort_key], inv["id"]),
        reverse=spec.descending,
    )
    for invoice in rows:
        invoice["url"] = invoice_url(portal, invoice["external_id"])
    charges = await slots.charges(portal)
    totals = slots.add_charges(_totals(invoices), charges)
    return await portal_page(
        portal,
        "core:portal/home.html",
        tab=tab,
        tabs=[(name, portal.url("") + "?" + urlencode({"status": name})) for name in queries.TABS],
        totals=totals,
        open_count=sum(row["open_count"] for row in totals),
        page=queries.InvoicePage(rows=rows),
        badges=await slots.badges(portal, rows),
        charges=slots.charge_lines(charges),
        panels=await slots.panels(portal),
        prev_url=None,
        next_url=None,
        first_url=None,
        preview=_notice(request, portal),
    )


async def _invoice(request: Request[Any, Any, Any], portal: PortalContext, external_id: str
                   ) -> Template:
    invoice = next(
        (dict(inv) for inv in sample_invoices(portal.today()) if inv["external_id"] == external_id),
        None,
    )
    if invoice is None:
        raise NotFoundException()
    invoice["url"] = invoice_url(portal, external_id)
    charges = slots.charges_by_invoice(await slots.charges(portal)).get(invoice["id"], [])
    charged = sum(c.amount_minor for c in charges if c.currency == invoice["currency"])
    return await portal_page(
        portal,
        "core:portal/invoice.html",
        invoice=invoice,
        charges=charges,
        due_with_charges=invoice["amount_due_minor"] + charged,
        pdf_url=None,
        allocations=sample_allocations(invoice),
        badges=(await slots.badges(portal, [invoice])).get(invoice["id"], []),
        actions=await slots.invoice_actions(portal, invoice),
        home_url=portal.url(""),
        preview=_notice(request, portal),
    )


@get("/{token:str}/invoices/{external_id:str}")
async def preview_invoice(
    request: Request[Any, Any, Any], portal: PortalDep, external_id: FromPath[str]
) -> Template:
    return await _invoice(request, portal, external_id)


@get("/{token:str}/theme.css")
async def preview_theme_css(portal: PortalDep) -> Response[str]:
    return await theme_css_response(portal)


@get("/{token:str}/logo")
async def preview_logo(portal: PortalDep) -> Response[bytes]:
    return await logo_response(portal)


def _unknown(request: Request[Any, Any, Any], exc: Exception) -> Template:
    return not_found_page(request, NotFoundException())


def _expired(request: Request[Any, Any, Any], exc: PreviewExpired) -> Template:
    return Template(
        template_name="core:portal/preview_expired.html",
        context=base_context("en"),
        status_code=410,
    )


PREVIEW_ROUTER = Router(
    path=PREVIEW_PREFIX,
    route_handlers=[preview_home, preview_invoice, preview_theme_css, preview_logo],
    dependencies={"portal": Provide(provide_preview)},
    exception_handlers={
        PreviewUnknown: _unknown,
        NotFoundException: _unknown,
        PreviewExpired: _expired,
    },
    include_in_schema=False,
)
