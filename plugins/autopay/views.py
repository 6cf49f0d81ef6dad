"""What the customer sees of autopay: the method, the next charges with their dates (computed
by the same `schedule.plan` as the job), and the latest attempts. Three queries."""

from __future__ import annotations

from typing import Any

from arportal import PortalContext, holds_for
from arportal.plugins.autopay.methods import method_of
from arportal.plugins.autopay.models import AutopayAttempt
from arportal.plugins.autopay.schedule import plan

_OPEN = (
    "SELECT i.id, i.external_id, i.number, i.due_date, i.currency, i.amount_due_minor,"
    " n.amount_minor AS notice_amount, n.sent_on AS notice_sent_on"
    " FROM invoice i LEFT JOIN autopay_notice n ON n.invoice = i.id"
    " WHERE i.tenant = {} AND i.customer = {} AND i.status = 'open' AND i.amount_due_minor > 0"
    " ORDER BY i.due_date, i.id LIMIT 200"
)
_ATTEMPTS = (
    "SELECT a.id, a.invoice, a.attempt_no, a.method_key, a.status, a.retry_on, a.charged_on,"
    " a.amount_minor, a.currency, a.decline_code, a.message, i.number AS invoice_number"
    " FROM autopay_attempt a JOIN invoice i ON i.id = a.invoice"
    " WHERE a.tenant = {} AND a.customer = {} ORDER BY a.id DESC LIMIT 500"
)


def active(portal: PortalContext, method: dict[str, Any] | None) -> bool:
    return bool(
        method and portal.toggle_enabled("autopay") and method["enabled"]
        and method["status"] == "active"
    )


async def customer_view(portal: PortalContext) -> dict[str, Any]:
    customer_id = portal.customer["id"]
    method = await method_of(portal, customer_id)
    view: dict[str, Any] = {"method": method, "active": active(portal, method),
                            "upcoming": [], "recent": []}
    if method is None:
        return view
    attempts = await AutopayAttempt.raw(_ATTEMPTS, portal.tenant_id, customer_id)
    view["recent"] = [a for a in attempts if a["status"] != "pending"][:5]
    if not view["active"]:
        return view
    invoices = await AutopayAttempt.raw(_OPEN, portal.tenant_id, customer_id)
    held = await holds_for(portal, invoices, strict=False) if invoices else {}
    by_invoice: dict[int, list[dict[str, Any]]] = {}
    for attempt in attempts:
        by_invoice.setdefault(attempt["invoice"], []).append(attempt)
    settings = portal.settings("autopay")
    today = portal.today()
    for invoice in invoices:
        tries = by_invoice.get(invoice["id"], [])
        notice = (
            {"amount_minor": invoice["notice_amount"], "sent_on": invoice["notice_sent_on"]}
            if invoice["notice_sent_on"] is not None else None
        )
        planned = plan(invoice=invoice, method=method, attempts=tries, notice=notice,
                       settings=settings, today=today)
        if invoice["id"] in held:
            state = "held"
        elif any(a["status"] in ("pending", "review") for a in tries):
            state = "processing"
        elif planned.next_charge is None:
            state = "stopped"
        else:
            state = "retry" if tries else "scheduled"
        view["upcoming"].append({**invoice, "date": planned.next_charge, "state": state})
    return view
