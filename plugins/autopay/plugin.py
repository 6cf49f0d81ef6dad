"""Autopay: the hook implementations.

Declares the `autopay` feature, the customer toggle `autopay` (its default for new customers
is the tenant setting `autopay.enable_for_new_customers`), the settings sections `autopay` and
`autopay_stripe`, its tables, the portal pages and panel, the admin API, the hourly job
`autopay.charge`, its own hooks (`arportal_payment_gateways`, `arportal_autopay_succeeded`,
`arportal_autopay_failed`) and the two gateways it ships, `sandbox` and `stripe`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from arportal import (
    CustomerToggle,
    Feature,
    Job,
    PortalContext,
    SettingsSection,
    TenantContext,
    hookimpl,
    render_fragment,
)
from arportal.plugins.autopay import hookspecs
from arportal.plugins.autopay.api import ADMIN_ROUTES
from arportal.plugins.autopay.charging import run_autopay
from arportal.plugins.autopay.gateways.sandbox import SandboxGateway
from arportal.plugins.autopay.gateways.stripe import StripeGateway
from arportal.plugins.autopay.i18n import translator
from arportal.plugins.autopay.methods import described
from arportal.plugins.autopay.models import AutopayMethod
from arportal.plugins.autopay.routes import FEATURE, PORTAL_ROUTES, TOGGLE, static_url
from arportal.plugins.autopay.settings import AutopaySettings, StripeSettings
from arportal.plugins.autopay.views import customer_view

ARPORTAL_REQUIRES = ">=0.1,<1"
GATEWAYS = [SandboxGateway(), StripeGateway()]


@hookimpl
def arportal_features() -> list[Feature]:
    return [Feature(key=FEATURE, label="Autopay", default=False)]


@hookimpl
def arportal_customer_toggles() -> list[CustomerToggle]:
    return [
        CustomerToggle(
            key=TOGGLE, label="Autopay", default=False,
            default_setting="autopay.enable_for_new_customers", feature=FEATURE,
        )
    ]


@hookimpl
def arportal_settings() -> list[SettingsSection]:
    return [
        SettingsSection(key="autopay", schema=AutopaySettings),
        SettingsSection(
            key="autopay_stripe", schema=StripeSettings,
            secret_fields=("secret_key", "webhook_secret"),
        ),
    ]


@hookimpl
def arportal_piccolo_app() -> str:
    return "arportal.plugins.autopay.piccolo_app"


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
    return [Job(name="autopay.charge", run=run_autopay, every_seconds=3600, feature=FEATURE)]


@hookimpl
def arportal_hookspecs() -> list[Any]:
    return [hookspecs]


@hookimpl
def arportal_payment_gateways() -> list[Any]:
    return GATEWAYS


@hookimpl
async def arportal_portal_panels(ctx: TenantContext) -> Any:
    if not isinstance(ctx, PortalContext) or not ctx.toggle_enabled(TOGGLE):
        return None
    return render_fragment(
        ctx, "autopay:panel.html", view=await customer_view(ctx), tr=translator(ctx.locale),
        stylesheet_url=static_url(ctx, "autopay.css"),
    )


@hookimpl
async def arportal_customer_details(
    ctx: TenantContext, customers: list[Any]
) -> dict[int, dict[str, Any]]:
    """Whether autopay is active for each customer, and with which method (brand, last 4)."""
    ids = [row["id"] for row in customers]
    methods = {
        row["customer"]: row
        for row in await AutopayMethod.select().where(
            (AutopayMethod.tenant == ctx.tenant_id) & AutopayMethod.customer.is_in(ids)
        )
    } if ids else {}
    toggled = set()
    if ids:
        rows = await AutopayMethod.raw(
            "SELECT customer FROM customer_toggle WHERE tenant = {} AND key = 'autopay'"
            f" AND enabled = {{}} AND customer IN ({', '.join(['{}'] * len(ids))})",
            ctx.tenant_id, True, *ids,
        )
        toggled = {row["customer"] for row in rows}
    out = {}
    for customer_id in ids:
        method = methods.get(customer_id)
        out[customer_id] = {
            "active": bool(
                method and customer_id in toggled and method["enabled"]
                and method["status"] == "active"
            ),
            "method": described(method) if method else None,
        }
    return out


@hookimpl
def arportal_demo_settings() -> dict[str, Any]:
    """Demo customers may turn autopay on, with the sandbox gateway's test cards."""
    return {
        "features": {"autopay": True},
        "autopay": {"gateway": "sandbox", "enable_for_new_customers": True},
    }
