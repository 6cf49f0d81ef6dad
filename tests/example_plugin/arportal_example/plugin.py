"""Payment reminders opt-in: the hook implementations.

Customers whose `example_optin` toggle is on get a reminder before invoices fall due and can
see what is coming; every customer of a tenant with the `example` feature on can leave notes
for the finance team. The plugin uses every hook of the contract, so its tests prove it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from arportal import (
    CustomerToggle,
    Feature,
    Hold,
    Invoice,
    Job,
    MailSender,
    SettingsSection,
    TenantContext,
    Theme,
    hookimpl,
    render_fragment,
)

from arportal_example import hookspecs as example_hookspecs
from arportal_example.models import ExampleNote
from arportal_example.routes import ADMIN_ROUTES, FEATURE, PORTAL_ROUTES, TOGGLE
from arportal_example.settings import ExampleSettings

ARPORTAL_REQUIRES = ">=0.1,<1"
SECTION = "example"


def _get(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, dict) else getattr(row, name)


def _settings(ctx: TenantContext) -> ExampleSettings:
    return ctx.settings(SECTION)  # type: ignore[no-any-return]


async def _note(ctx: TenantContext, kind: str, body: str, customer_id: int | None = None) -> None:
    await ExampleNote.insert(
        ExampleNote(tenant=ctx.tenant_id, customer=customer_id, kind=kind, body=body)
    )


# --- Declarations ---------------------------------------------------------------------------


@hookimpl
def arportal_features() -> list[Feature]:
    return [Feature(key=FEATURE, label="Payment reminders", default=False)]


@hookimpl
def arportal_customer_toggles() -> list[CustomerToggle]:
    return [CustomerToggle(key=TOGGLE, label="Payment reminders opt-in", feature=FEATURE)]


@hookimpl
def arportal_settings() -> list[SettingsSection]:
    return [SettingsSection(key=SECTION, schema=ExampleSettings)]


@hookimpl
def arportal_piccolo_app() -> str:
    return "arportal_example.piccolo_app"


@hookimpl
def arportal_portal_routes() -> list[Any]:
    return PORTAL_ROUTES


@hookimpl
def arportal_admin_routes() -> list[Any]:
    return ADMIN_ROUTES


@hookimpl
def arportal_template_dirs() -> list[str]:
    return [str(Path(__file__).parent / "templates")]


async def count_due_soon(ctx: TenantContext) -> None:
    """Per tenant: write down how many open invoices fall due within the reminder window."""
    horizon = ctx.today() + dt.timedelta(days=_settings(ctx).remind_days_before)
    due = await Invoice.count().where(
        (Invoice.tenant == ctx.tenant_id)
        & (Invoice.status == "open")
        & (Invoice.due_date <= horizon)
    )
    await _note(ctx, "job", f"{due} open invoices due by {horizon.isoformat()}")


@hookimpl
def arportal_jobs() -> list[Job]:
    return [Job(name="example.due_soon", run=count_due_soon, every_seconds=86400, feature=FEATURE)]


@hookimpl
def arportal_hookspecs() -> list[Any]:
    return [example_hookspecs]


# --- Render slots ---------------------------------------------------------------------------


@hookimpl
def arportal_invoice_actions(ctx: TenantContext, invoice: Any) -> Any:
    return render_fragment(ctx, "example:action.html", invoice_number=_get(invoice, "number"))


@hookimpl
def arportal_invoice_badges(ctx: TenantContext, invoices: list[Any]) -> dict[int, list[str]]:
    """Opted-in customers see which open invoices a reminder is coming for."""
    if not ctx.toggle_enabled(TOGGLE):
        return {}
    horizon = ctx.today() + dt.timedelta(days=_settings(ctx).remind_days_before)
    return {
        _get(inv, "id"): ["Reminder coming"]
        for inv in invoices
        if _get(inv, "status") == "open" and _get(inv, "due_date") <= horizon
    }


@hookimpl
async def arportal_portal_panels(ctx: TenantContext) -> Any:
    return render_fragment(
        ctx, "example:panel.html", settings=_settings(ctx), opted_in=ctx.toggle_enabled(TOGGLE)
    )


@hookimpl
def arportal_portal_aside(ctx: TenantContext) -> Any:
    """On every portal page, after the content."""
    return render_fragment(ctx, "example:aside.html")


@hookimpl
def arportal_theme(ctx: TenantContext) -> Theme | None:
    if not _settings(ctx).brand_theme:
        return None
    return Theme(display_name=ctx.name, primary_color="#0a7d32", banner_color="#0a3d1a")


@hookimpl
def arportal_mail_sender(ctx: TenantContext) -> MailSender | None:
    email = _settings(ctx).sender_email
    return MailSender(email=email, name=ctx.name) if email else None


@hookimpl
def arportal_contact_info(ctx: TenantContext) -> dict[str, str] | None:
    phone = _settings(ctx).contact_phone
    return {"phone": phone} if phone else None


# --- Holds ---------------------------------------------------------------------------------


@hookimpl
def arportal_invoice_holds(ctx: TenantContext, invoices: list[Any]) -> list[Hold]:
    prefix = _settings(ctx).hold_prefix
    if not prefix:
        return []
    return [
        Hold(invoice_id=_get(inv, "id"), reason="example", detail=f"number starts with {prefix}")
        for inv in invoices
        if str(_get(inv, "number")).startswith(prefix)
    ]


# --- Events --------------------------------------------------------------------------------


@hookimpl
async def arportal_customer_created(ctx: TenantContext, customer: Any) -> None:
    await _note(ctx, "welcome", f"welcome {_get(customer, 'external_id')}", _get(customer, "id"))


@hookimpl
async def arportal_invoice_changed(ctx: TenantContext, invoice: Any, previous: Any) -> None:
    was_paid = previous is not None and _get(previous, "status") == "paid"
    if _get(invoice, "status") == "paid" and not was_paid:
        number = _get(invoice, "number")
        await _note(ctx, "paid", f"invoice {number} paid", _get(invoice, "customer"))


@hookimpl
async def arportal_payment_recorded(ctx: TenantContext, payment: Any) -> None:
    external_id = _get(payment, "external_id")
    await _note(ctx, "payment", f"payment {external_id}", _get(payment, "customer"))


@hookimpl
async def arportal_event(ctx: TenantContext, name: str, data: dict[str, Any]) -> None:
    await _note(ctx, "event", name)
