"""Reading promises: one customer's, one with its history, the operator's lists, and the
shapes the API and events give them. Every query is scoped by tenant."""

from __future__ import annotations

from typing import Any

from arportal import Customer, Invoice
from arportal.plugins.promise_to_pay.i18n import amount_str
from arportal.plugins.promise_to_pay.models import Promise, PromiseHistory

Row = dict[str, Any]


async def add_invoices(tenant_id: int, promises: list[Row]) -> list[Row]:
    """Set `invoice_number`, `invoice_external_id`, `invoice_status` and
    `invoice_amount_due_minor` on each promise (one query)."""
    ids = sorted({p["invoice"] for p in promises})
    found: dict[int, Row] = {}
    if ids:
        rows = await Invoice.select(
            Invoice.id, Invoice.number, Invoice.external_id, Invoice.status,
            Invoice.amount_due_minor,
        ).where((Invoice.tenant == tenant_id) & Invoice.id.is_in(ids))
        found = {row["id"]: row for row in rows}
    for promise in promises:
        invoice = found.get(promise["invoice"], {})
        promise["invoice_number"] = invoice.get("number", "")
        promise["invoice_external_id"] = invoice.get("external_id", "")
        promise["invoice_status"] = invoice.get("status", "")
        promise["invoice_amount_due_minor"] = invoice.get("amount_due_minor", 0)
    return promises


async def customers_by_id(tenant_id: int, ids: set[int]) -> dict[int, Row]:
    if not ids:
        return {}
    rows = await Customer.select(
        Customer.id, Customer.external_id, Customer.name, Customer.email, Customer.locale
    ).where((Customer.tenant == tenant_id) & Customer.id.is_in(sorted(ids)))
    return {row["id"]: row for row in rows}


async def customer_promises(tenant_id: int, customer_id: int, limit: int = 200) -> list[Row]:
    """The customer's promises, newest first."""
    rows = await (
        Promise.select()
        .where((Promise.tenant == tenant_id) & (Promise.customer == customer_id))
        .order_by(Promise.id, ascending=False)
        .limit(limit)
    )
    return await add_invoices(tenant_id, rows)


async def one_promise(
    tenant_id: int, promise_id: int, customer_id: int | None = None
) -> Row | None:
    where = (Promise.tenant == tenant_id) & (Promise.id == promise_id)
    if customer_id is not None:
        where &= Promise.customer == customer_id
    row = await Promise.select().where(where).first()
    if row is None:
        return None
    return (await add_invoices(tenant_id, [row]))[0]


async def history(tenant_id: int, promise_id: int) -> list[Row]:
    return await (  # type: ignore[no-any-return]
        PromiseHistory.select()
        .where((PromiseHistory.tenant == tenant_id) & (PromiseHistory.promise == promise_id))
        .order_by(PromiseHistory.id)
    )


def event_data(promise: Row, customer_external_id: str) -> Row:
    """What events (and the audit log) say about a promise."""
    return {
        "promise_id": promise["id"],
        "status": promise["status"],
        "source": promise["source"],
        "customer_external_id": customer_external_id,
        "invoice_external_id": promise["invoice_external_id"],
        "invoice_number": promise["invoice_number"],
        "promised_date": promise["promised_date"].isoformat(),
        "amount": amount_str(promise["amount_minor"], promise["currency"]),
        "currency": promise["currency"],
        "batch": promise["batch"],
    }


def promise_out(promise: Row, customer_external_id: str) -> Row:
    """A promise as the admin API answers it."""
    data = event_data(promise, customer_external_id)
    return {
        "id": data.pop("promise_id"),
        **data,
        "amount_due_at_promise": amount_str(promise["due_at_promise_minor"], promise["currency"]),
        "note": promise["note"],
        "made_on": promise["made_on"].isoformat(),
        "created_at": promise["created_at"].isoformat(),
        "updated_at": promise["updated_at"].isoformat(),
        "settled_at": promise["settled_at"].isoformat() if promise["settled_at"] else None,
    }


def history_out(entry: Row) -> Row:
    return {
        "action": entry["action"],
        "actor": entry["actor"],
        "promised_date": entry["promised_date"].isoformat(),
        "previous_date": entry["previous_date"].isoformat() if entry["previous_date"] else None,
        "note": entry["note"],
        "at": entry["created_at"].isoformat(),
    }
