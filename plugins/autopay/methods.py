"""The customer's payment method: saving (with consent to the mandate), removing, and the
customer's own on/off switch. Each change is one statement and an audit entry."""

from __future__ import annotations

import secrets
from typing import Any

from arportal import PortalContext, TenantContext, emit_event
from arportal.plugins.autopay.gateways.base import SavedMethod
from arportal.plugins.autopay.i18n import translator
from arportal.plugins.autopay.models import AutopayMethod
from arportal.plugins.autopay.store import now

_UPSERT = (
    "INSERT INTO autopay_method (tenant, customer, key, gateway, reference, gateway_customer,"
    " brand, last4, exp_month, exp_year, enabled, status, status_reason, consent_text,"
    " consented_at, saved_on, created_at, updated_at)"
    " VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, 'active', '', {}, {}, {}, {}, {})"
    " ON CONFLICT (customer) DO UPDATE SET key = excluded.key, gateway = excluded.gateway,"
    " reference = excluded.reference, gateway_customer = excluded.gateway_customer,"
    " brand = excluded.brand, last4 = excluded.last4, exp_month = excluded.exp_month,"
    " exp_year = excluded.exp_year, enabled = excluded.enabled, status = 'active',"
    " status_reason = '', consent_text = excluded.consent_text,"
    " consented_at = excluded.consented_at, saved_on = excluded.saved_on,"
    " updated_at = excluded.updated_at"
)


def mandate_text(ctx: TenantContext, locale: str) -> str:
    """What the customer consents to: the tenant's own text, or the built-in one."""
    custom = ctx.settings("autopay").mandate_text
    if custom:
        return custom.replace("{tenant}", ctx.name)
    return translator(locale)(
        "I authorise {tenant} to charge this payment method for my open invoices on their "
        "due dates, after a notice sent {days} days before each charge. I can turn autopay "
        "off or remove this method at any time on this portal.",
        tenant=ctx.name, days=ctx.settings("autopay").notice_days,
    )


async def method_of(ctx: TenantContext, customer_id: int) -> dict[str, Any] | None:
    return await (
        AutopayMethod.select()
        .where((AutopayMethod.tenant == ctx.tenant_id) & (AutopayMethod.customer == customer_id))
        .first()
    )


def described(method: dict[str, Any]) -> dict[str, Any]:
    """What may be shown of a method (never its token)."""
    return {
        "gateway": method["gateway"],
        "brand": method["brand"],
        "last4": method["last4"],
        "exp_month": method["exp_month"],
        "exp_year": method["exp_year"],
        "enabled": bool(method["enabled"]),
        "status": method["status"],
        "status_reason": method["status_reason"],
        "saved_on": method["saved_on"].isoformat(),
    }


async def save(ctx: PortalContext, gateway: str, saved: SavedMethod) -> dict[str, Any]:
    moment = now()
    await AutopayMethod.raw(
        _UPSERT, ctx.tenant_id, ctx.customer["id"], secrets.token_hex(8), gateway,
        saved.reference, saved.gateway_customer, saved.brand[:32], saved.last4[-4:],
        saved.exp_month, saved.exp_year, True, mandate_text(ctx, ctx.locale), moment,
        ctx.today(), moment, moment,
    )
    method = await method_of(ctx, ctx.customer["id"])
    assert method is not None
    await emit_event(ctx, "autopay_method_saved", described(method), subject_type="customer",
                     subject_id=ctx.customer["external_id"])
    return method


async def remove(ctx: PortalContext) -> dict[str, Any] | None:
    rows = await (
        AutopayMethod.delete()
        .where(
            (AutopayMethod.tenant == ctx.tenant_id)
            & (AutopayMethod.customer == ctx.customer["id"])
        )
        .returning(*AutopayMethod.all_columns())
    )
    if not rows:
        return None
    await emit_event(ctx, "autopay_method_removed", described(rows[0]), subject_type="customer",
                     subject_id=ctx.customer["external_id"])
    return rows[0]


async def switch(ctx: PortalContext, enabled: bool) -> bool:
    values: dict[Any, Any] = {AutopayMethod.enabled: enabled, AutopayMethod.updated_at: now()}
    if enabled:
        values[AutopayMethod.consent_text] = mandate_text(ctx, ctx.locale)
        values[AutopayMethod.consented_at] = now()
    rows = await (
        AutopayMethod.update(values)
        .where(
            (AutopayMethod.tenant == ctx.tenant_id)
            & (AutopayMethod.customer == ctx.customer["id"])
        )
        .returning(AutopayMethod.id)
    )
    if rows:
        await emit_event(ctx, "autopay_turned_on" if enabled else "autopay_turned_off", {},
                         subject_type="customer", subject_id=ctx.customer["external_id"])
    return bool(rows)
