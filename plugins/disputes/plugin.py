"""Disputes: the hook implementations.

With the `disputes` feature on, every open invoice on the portal gets a "Dispute" action,
disputed invoices a "Disputed: <reason>" badge (on the list and on the invoice's page), the
home page a list of the customer's open disputes, and the core's invoice holds name every
invoice with an open dispute (autopay and late fees skip them). With it off, the core calls
none of these and the portal routes answer 404; the disputes stay in the database and in the
admin API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from arportal import (
    Feature,
    Hold,
    PortalContext,
    SettingsSection,
    TenantContext,
    hookimpl,
    render_fragment,
)
from arportal.plugins.disputes.api import ADMIN_ROUTER
from arportal.plugins.disputes.disputes import (
    FEATURE,
    OPEN,
    SECTION,
    by_invoice,
    open_of_customer,
    reason_label,
)
from arportal.plugins.disputes.i18n import translator
from arportal.plugins.disputes.routes import PORTAL_ROUTES, new_url, thread_url
from arportal.plugins.disputes.settings import DisputesSettings

ARPORTAL_REQUIRES = ">=0.1,<1"


def _id(invoice: Any) -> int:
    return int(invoice["id"] if isinstance(invoice, dict) else invoice.id)


# --- Declarations ---------------------------------------------------------------------------


@hookimpl
def arportal_features() -> list[Feature]:
    return [Feature(key=FEATURE, label="Invoice disputes", default=False)]


@hookimpl
def arportal_settings() -> list[SettingsSection]:
    return [
        SettingsSection(
            key=SECTION, schema=DisputesSettings, feature=FEATURE,
            required_when_on=("notify_emails",),
        )
    ]


@hookimpl
def arportal_piccolo_app() -> str:
    return "arportal.plugins.disputes.piccolo_app"


@hookimpl
def arportal_portal_routes() -> list[Any]:
    return PORTAL_ROUTES


@hookimpl
def arportal_admin_routes() -> list[Any]:
    return [ADMIN_ROUTER]


@hookimpl
def arportal_template_dirs() -> list[str]:
    return [str(Path(__file__).parent / "templates")]


# --- Render slots ---------------------------------------------------------------------------


@hookimpl
async def arportal_invoice_actions(ctx: TenantContext, invoice: Any) -> Any:
    """"Dispute" on an open invoice; "View dispute" while one is open; a link to the last
    resolved one."""
    if not isinstance(ctx, PortalContext):
        return None
    latest = (await by_invoice(ctx, [_id(invoice)], only_open=False)).get(_id(invoice))
    is_open = latest is not None and latest["status"] == OPEN
    return render_fragment(
        ctx,
        "disputes:action.html",
        tr=translator(ctx.locale),
        thread_url=thread_url(ctx, latest["id"]) if is_open else None,
        new_url=new_url(ctx, invoice["external_id"]) if invoice["status"] == OPEN else None,
        past_url=thread_url(ctx, latest["id"]) if latest and not is_open else None,
    )


@hookimpl
async def arportal_invoice_badges(
    ctx: TenantContext, invoices: list[Any]
) -> dict[int, list[str]]:
    """"Disputed: <reason>" for every invoice of the page with an open dispute (one query)."""
    open_ones = await by_invoice(ctx, [_id(invoice) for invoice in invoices])
    tr = translator(getattr(ctx, "locale", "en"))
    return {
        invoice_id: [tr("Disputed: {reason}", reason=tr(reason_label(ctx, dispute)))]
        for invoice_id, dispute in open_ones.items()
    }


@hookimpl
async def arportal_portal_panels(ctx: TenantContext) -> Any:
    if not isinstance(ctx, PortalContext):
        return None
    disputes = await open_of_customer(ctx, ctx.customer["id"])
    if not disputes:
        return None
    tr = translator(ctx.locale)
    items = [
        {
            "url": thread_url(ctx, row["id"]),
            "number": row["invoice_number"],
            "label": tr(reason_label(ctx, row)),
        }
        for row in disputes
    ]
    return render_fragment(ctx, "disputes:panel.html", tr=tr, disputes=items)


# --- Holds ---------------------------------------------------------------------------------


@hookimpl
async def arportal_invoice_holds(ctx: TenantContext, invoices: list[Any]) -> list[Hold]:
    """An invoice is on hold while a dispute of it is open (asked for many at once)."""
    open_ones = await by_invoice(ctx, [_id(invoice) for invoice in invoices])
    return [
        Hold(invoice_id=invoice_id, reason="dispute", detail=reason_label(ctx, dispute))
        for invoice_id, dispute in open_ones.items()
    ]


@hookimpl
def arportal_demo_settings() -> dict[str, Any]:
    """The demo tenant takes disputes, reported to a demo address."""
    return {"features": {"disputes": True}, "disputes": {"notify_emails": ["ar@demo.example"]}}
