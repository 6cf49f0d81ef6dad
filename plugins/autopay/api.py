"""Autopay's admin API (under `/api/v1`, API key of the tenant) and the Stripe webhook.

GET  /autopay/attempts?customer=&status=&cursor=&limit=   the attempts, newest first
POST /autopay/stripe/webhook/{tenant_id}                   Stripe's events (signature checked)
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, FromQuery, QueryParameter

from arportal import TenantDep, tenant_context_by_id
from arportal.plugins.autopay.charging import amount_str, settle_by_key
from arportal.plugins.autopay.gateways import stripe as stripe_gateway
from arportal.plugins.autopay.models import AutopayAttempt
from arportal.plugins.autopay.store import ATTEMPT_VIEW

FEATURE = "autopay"
STATUSES = ("pending", "succeeded", "failed", "review")


def attempt_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "customer_external_id": row["customer_external_id"],
        "invoice_external_id": row["invoice_external_id"],
        "invoice_number": row["invoice_number"],
        "attempt": row["attempt_no"],
        "status": row["status"],
        "amount": amount_str(row["amount_minor"], row["currency"]),
        "currency": row["currency"],
        "gateway": row["gateway"],
        "method": {"brand": row["brand"], "last4": row["last4"]},
        "charge_id": row["charge_id"],
        "decline_code": row["decline_code"],
        "message": row["message"],
        "hard_decline": bool(row["hard"]),
        "final": bool(row["final"]),
        "retry_on": row["retry_on"].isoformat() if row["retry_on"] else None,
        "payment_external_id": row["payment_external_id"] or None,
        "charged_on": row["charged_on"].isoformat(),
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


@get("/autopay/attempts", opt={"feature": FEATURE}, summary="Autopay attempts, newest first")
async def list_attempts(
    tenant: TenantDep,
    customer: FromQuery[str | None] = None,
    status: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Pass `next_cursor` back as `cursor` for older attempts."""
    where = " WHERE a.tenant = {}"
    params: list[Any] = [tenant.tenant_id]
    if customer is not None:
        where += " AND c.external_id = {}"
        params.append(customer)
    if status is not None:
        if status not in STATUSES:
            raise HTTPException(
                status_code=422, detail=f"status: expected one of {', '.join(STATUSES)}",
                extra={"field": "status"},
            )
        where += " AND a.status = {}"
        params.append(status)
    if cursor is not None:
        if not cursor.isdigit() or len(cursor) > 18:
            raise HTTPException(status_code=422, detail="cursor: not one this endpoint gave",
                                extra={"field": "cursor"})
        where += " AND a.id < {}"
        params.append(int(cursor))
    rows = await AutopayAttempt.raw(
        ATTEMPT_VIEW + where + f" ORDER BY a.id DESC LIMIT {limit + 1}", *params
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [attempt_out(row) for row in rows],
        "next_cursor": str(rows[-1]["id"]) if more else None,
    }


@post("/autopay/stripe/webhook/{tenant_id:int}", opt={"public": True}, status_code=200,
      summary="Stripe's webhook (no API key: the Stripe-Signature is checked)")
async def stripe_webhook(
    request: Request[Any, Any, Any], tenant_id: FromPath[int]
) -> dict[str, Any]:
    state = request.app.state
    ctx = await tenant_context_by_id(state.host, state.config, tenant_id, actor="gateway:stripe")
    if ctx is None or not ctx.route_enabled({"feature": FEATURE, "plugin": "autopay"}):
        raise NotFoundException()
    secret = ctx.settings(stripe_gateway.SECTION).webhook_secret
    if not secret:
        raise NotFoundException()
    try:
        event = stripe_gateway.verify_event(
            await request.body(), request.headers.get("stripe-signature"), secret
        )
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    outcome = stripe_gateway.event_outcome(event)
    settled = False
    if outcome is not None:
        settled = await settle_by_key(ctx, *outcome)
    return {"received": True, "settled": settled}


ADMIN_ROUTES = [list_attempts, stripe_webhook]
