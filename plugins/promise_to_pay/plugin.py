"""Promise to pay: the hook implementations.

With the org-level feature `promise_to_pay` on, a customer promises on the portal to pay one
or more open invoices by a date (a "Promise to pay" action on each invoice, and a form for a
selection), and may change the date or withdraw the promise; the finance team sees, makes and
cancels promises through the admin API. A pending promise holds its invoice (reason
`promise_to_pay`) until its date; the `promise_to_pay.settle` job settles each as kept or
broken and reminds the customer the day before. With the feature off, all of it is absent and
stored promises stay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from arportal import (
    Feature,
    Hold,
    Job,
    SettingsSection,
    TenantContext,
    hookimpl,
    render_fragment,
)
from arportal.plugins.promise_to_pay.api import ADMIN_ROUTES
from arportal.plugins.promise_to_pay.checks import pending_by_invoice
from arportal.plugins.promise_to_pay.i18n import day, translator
from arportal.plugins.promise_to_pay.models import Promise
from arportal.plugins.promise_to_pay.routes import FEATURE, PORTAL_ROUTES
from arportal.plugins.promise_to_pay.service import settings_of
from arportal.plugins.promise_to_pay.settings import SECTION, PromiseToPaySettings
from arportal.plugins.promise_to_pay.settle import run_job, settle

ARPORTAL_REQUIRES = ">=0.1,<1"
HOLD_REASON = "promise_to_pay"
SETTLE_EVERY_SECONDS = 600


def _get(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, dict) else getattr(row, name)


def _locale(ctx: TenantContext) -> str:
    return getattr(ctx, "locale", "en")


# --- Declarations ---------------------------------------------------------------------------


@hookimpl
def arportal_features() -> list[Feature]:
    return [Feature(key=FEATURE, label="Promise to pay", default=False)]


@hookimpl
def arportal_settings() -> list[SettingsSection]:
    return [SettingsSection(key=SECTION, schema=PromiseToPaySettings)]


@hookimpl
def arportal_piccolo_app() -> str:
    return "arportal.plugins.promise_to_pay.piccolo_app"


@hookimpl
def arportal_portal_routes() -> list[Any]:
    return PORTAL_ROUTES


@hookimpl
def arportal_admin_routes() -> list[Any]:
    return ADMIN_ROUTES


@hookimpl
def arportal_template_dirs() -> list[str]:
    return [str(Path(__file__).parent / "templates")]


@hookimpl
def arportal_jobs() -> list[Job]:
    return [
        Job(
            name="promise_to_pay.settle",
            run=run_job,
            every_seconds=SETTLE_EVERY_SECONDS,
            feature=FEATURE,
        )
    ]


# --- Render slots ---------------------------------------------------------------------------


@hookimpl
async def arportal_invoice_actions(ctx: TenantContext, invoice: Any) -> Any:
    if _get(invoice, "status") != "open" or _get(invoice, "amount_due_minor") <= 0:
        return None
    promise = (await pending_by_invoice(ctx.tenant_id, [_get(invoice, "id")])).get(
        _get(invoice, "id")
    )
    locale = _locale(ctx)
    query = urlencode({"invoice": _get(invoice, "external_id")})
    return render_fragment(
        ctx,
        "promise_to_pay:action.html",
        t=translator(locale),
        promise=promise,
        promised_on=day(promise["promised_date"], locale) if promise else "",
        new_url=ctx.url("promises/new") + "?" + query,  # type: ignore[attr-defined]
    )


@hookimpl
async def arportal_invoice_badges(ctx: TenantContext, invoices: list[Any]) -> dict[int, list[str]]:
    """"Payment promised for <date>" on each invoice with a pending promise (one query)."""
    pending = await pending_by_invoice(ctx.tenant_id, [_get(inv, "id") for inv in invoices])
    locale = _locale(ctx)
    t = translator(locale)
    return {
        invoice_id: [t("Payment promised for {date}", date=day(row["promised_date"], locale))]
        for invoice_id, row in pending.items()
    }


@hookimpl
def arportal_portal_panels(ctx: TenantContext) -> Any:
    return render_fragment(ctx, "promise_to_pay:panel.html", t=translator(_locale(ctx)))


# --- Holds ----------------------------------------------------------------------------------


@hookimpl
async def arportal_invoice_holds(ctx: TenantContext, invoices: list[Any]) -> list[Hold]:
    """A pending promise holds its invoice until (and including) the promised date."""
    if not settings_of(ctx).hold_invoices:
        return []
    today = ctx.today()
    pending = await pending_by_invoice(ctx.tenant_id, [_get(inv, "id") for inv in invoices])
    return [
        Hold(
            invoice_id=invoice_id,
            reason=HOLD_REASON,
            detail=f"payment promised for {row['promised_date'].isoformat()}",
        )
        for invoice_id, row in pending.items()
        if row["promised_date"] >= today
    ]


# --- Events ---------------------------------------------------------------------------------


@hookimpl
async def arportal_invoice_changed(ctx: TenantContext, invoice: Any, previous: Any) -> None:
    """A payment, a credit or an import lowered what is due, or changed the invoice's status:
    settle its pending promise now, so a payment on the promised date counts that day."""
    if previous is None:
        return
    lower = _get(invoice, "amount_due_minor") < _get(previous, "amount_due_minor")
    if not lower and _get(invoice, "status") == _get(previous, "status"):
        return
    invoice_id = _get(invoice, "id")
    if await Promise.exists().where(
        (Promise.tenant == ctx.tenant_id)
        & (Promise.invoice == invoice_id)
        & (Promise.status == "pending")
    ):
        await settle(ctx, [invoice_id])


@hookimpl
def arportal_demo_settings() -> dict[str, Any]:
    """The demo tenant takes promises to pay, reported to a demo address."""
    return {
        "features": {"promise_to_pay": True},
        "promise_to_pay": {"notify_emails": ["ar@demo.example"]},
    }
