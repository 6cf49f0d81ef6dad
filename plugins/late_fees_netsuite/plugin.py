"""Late fees for NetSuite: the hook implementations.

- Feature `late_fees_netsuite` (on by default), which exists for a tenant only once its
  NetSuite connection is configured (`Feature.requires`).
- Customer toggle `late_fees` (off by default): only customers with it on are charged.
- Settings section `late_fees_netsuite` (`settings.py`), credentials write-only.
- Job `late_fees_netsuite.run`, hourly: assess the fees due (`assess.py`), then post pending
  ones to NetSuite (`posting.py`).
- The admin API (`routes.py`), and the customer's fees on the portal: under each invoice and
  in the balance (`arportal_customer_charges`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from arportal import (
    Charge,
    CustomerToggle,
    Feature,
    Job,
    SettingsSection,
    TenantContext,
    hookimpl,
)
from arportal.plugins.late_fees_netsuite.assess import TOGGLE, assess
from arportal.plugins.late_fees_netsuite.models import LateFee
from arportal.plugins.late_fees_netsuite.netsuite import NetSuiteClient
from arportal.plugins.late_fees_netsuite.posting import post_pending
from arportal.plugins.late_fees_netsuite.routes import ADMIN_ROUTES, FEATURE
from arportal.plugins.late_fees_netsuite.settings import SECRET_FIELDS, SECTION, LateFeeSettings

ARPORTAL_REQUIRES = ">=0.1,<1"
LABELS = {"en": "Late fee", "fr": "Frais de retard"}

_CHARGES = (
    "SELECT f.invoice, f.period_end, f.currency, f.amount_minor "
    "FROM late_fees_netsuite_fee f JOIN invoice i ON i.id = f.invoice "
    "WHERE f.tenant = {} AND f.customer = {} AND f.status IN ('pending', 'posted') "
    "AND i.status = 'open' ORDER BY f.invoice, f.period"
)


def _date(value: Any) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _settings(ctx: TenantContext) -> LateFeeSettings:
    return ctx.settings(SECTION)  # type: ignore[no-any-return]


def connection_missing(ctx: TenantContext) -> str | None:
    """`Feature.requires`: the feature exists once the NetSuite connection is configured."""
    missing = _settings(ctx).missing_connection()
    if not missing:
        return None
    return f"the NetSuite connection is not configured ({', '.join(missing)} not set)"


# --- Declarations ---------------------------------------------------------------------------


@hookimpl
def arportal_features() -> list[Feature]:
    return [
        Feature(
            key=FEATURE, label="Late fees posted to NetSuite", default=True,
            requires=connection_missing,
        )
    ]


@hookimpl
def arportal_customer_toggles() -> list[CustomerToggle]:
    return [CustomerToggle(key=TOGGLE, label="Late fees", default=False, feature=FEATURE)]


@hookimpl
def arportal_settings() -> list[SettingsSection]:
    return [SettingsSection(key=SECTION, schema=LateFeeSettings, secret_fields=SECRET_FIELDS)]


@hookimpl
def arportal_piccolo_app() -> str:
    return "arportal.plugins.late_fees_netsuite.piccolo_app"


@hookimpl
def arportal_admin_routes() -> list[Any]:
    return ADMIN_ROUTES


async def run(ctx: TenantContext) -> dict[str, Any]:
    """Assess the fees due today, then post the pending ones. Idempotent."""
    settings = _settings(ctx)
    assessed = await assess(ctx, settings, ctx.today())
    async with NetSuiteClient(settings) as client:
        outcome = await post_pending(ctx, settings, client)
    return {"assessed": assessed, **outcome.as_dict()}


@hookimpl
def arportal_jobs() -> list[Job]:
    return [Job(name="late_fees_netsuite.run", run=run, every_seconds=3600, feature=FEATURE)]


# --- The portal -----------------------------------------------------------------------------


@hookimpl
async def arportal_customer_charges(ctx: TenantContext) -> list[Charge]:
    """The customer's fees on open invoices, pending or posted (not failed or waived); they
    stay after the toggle is turned off."""
    if ctx.customer is None:
        return []
    locale = str(getattr(ctx, "locale", "en"))
    label = LABELS.get(locale.split("_", 1)[0], LABELS["en"])
    rows = await LateFee.raw(_CHARGES, ctx.tenant_id, ctx.customer["id"])
    return [
        Charge(
            invoice_id=row["invoice"],
            label=label,
            amount_minor=int(row["amount_minor"]),
            currency=row["currency"],
            date=_date(row["period_end"]),
        )
        for row in rows
    ]
