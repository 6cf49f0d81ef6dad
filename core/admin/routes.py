"""Core admin API handlers, under `/api/v1` (the app's admin Router adds the prefix, the
`tenant` dependency and the API-key guard).

Amounts are decimal strings, dates ISO. Lists answer `{"items": [...], "next_cursor": ...}`
(`?cursor=&limit=`). Input errors answer 422 `{"detail", "field"}`; another tenant's external
id answers 404, the same as an unknown one.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Router, get, patch, post, put
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from arportal import ledger
from arportal.admin.errors import EXCEPTION_HANDLERS, decode_body, documented_body
from arportal.context import TenantContext, TenantDep
from arportal.events import audit
from arportal.ledger import (
    CREDIT_NOTES,
    PAYMENTS,
    CreditNoteIn,
    CustomerIn,
    InvoiceIn,
    LedgerError,
    PaymentIn,
    customer_out,
    doc_out,
    invoice_out,
)
from arportal.links import create_link, portal_url, rotate_links
from arportal.models import AuditEvent, Customer, Invoice
from arportal.pagination import CursorError, paginated
from arportal.preview import create_preview
from arportal.settings_store import apply_settings, read_settings, set_customer_toggles

UNSET: Any = msgspec.UNSET
STATUSES = ("open", "paid", "void")


class CustomerPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: ledger.Name | msgspec.UnsetType = UNSET
    email: Annotated[str, msgspec.Meta(max_length=320)] | msgspec.UnsetType = UNSET
    currency: str | msgspec.UnsetType = UNSET
    locale: str | msgspec.UnsetType = UNSET
    contacts: list[dict[str, Any]] | msgspec.UnsetType = UNSET
    extra: dict[str, Any] | msgspec.UnsetType = UNSET
    toggles: dict[str, Any] | msgspec.UnsetType = UNSET
    """Checked by `set_customer_toggles`, so an error names the toggle (`toggles.portal`)."""


class LinkRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None


async def _customer(tenant: TenantContext, external_id: str) -> dict[str, Any]:
    row = await ledger.get_customer(tenant.tenant_id, external_id)
    if row is None:
        raise NotFoundException(f"no customer {external_id!r}")
    return row


# --- settings -------------------------------------------------------------------------------


@get("/settings", summary="Feature switches and every settings section")
async def get_settings(tenant: TenantDep) -> dict[str, Any]:
    return await read_settings(tenant)


@patch(
    "/settings",
    summary="Change any part of the settings",
    dependencies=documented_body(dict[str, Any]),
)
async def patch_settings(tenant: TenantDep, request: Request[Any, Any, Any]) -> dict[str, Any]:
    body = await decode_body(request, dict[str, Any])
    return await apply_settings(tenant, body)


@post(
    "/preview",
    summary="Save & View: a 15-minute, read-only preview of a sample portal with a draft",
    description=(
        "The body is an optional draft with the shape of `PATCH /settings` (features and any "
        "sections), checked as saving it would be; nothing is saved. `?locale=fr` previews "
        "in another language. Answers `{\"url\", \"expires_at\"}`."
    ),
    dependencies=documented_body(dict[str, Any] | None),
    status_code=200,
)
async def post_preview(
    tenant: TenantDep, request: Request[Any, Any, Any], locale: FromQuery[str | None] = None
) -> dict[str, str]:
    draft = await decode_body(request, dict[str, Any], empty={})
    return await create_preview(tenant, draft, locale or "en")


# --- customers ------------------------------------------------------------------------------


@put(
    "/customers",
    summary="Upsert customers by external_id",
    dependencies=documented_body(list[CustomerIn]),
)
async def put_customers(tenant: TenantDep, request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    items = await decode_body(request, list[CustomerIn], root="items")
    return await customer_out(tenant, await ledger.upsert_customers(tenant, items))


@get("/customers", summary="List customers (or the one of `?external_id=`)")
async def list_customers(
    tenant: TenantDep,
    external_id: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
    limit: FromQuery[int | None] = None,
) -> dict[str, Any]:
    """`?external_id=` reaches ids a path segment cannot carry (ERP numbers like `C/2026/7`)."""
    query = Customer.select().where(Customer.tenant == tenant.tenant_id).output(load_json=True)
    if external_id is not None:
        query = query.where(Customer.external_id == external_id)
    return await paginated(
        query, Customer.id, cursor, limit, lambda rows: customer_out(tenant, rows)
    )


@get("/customers/{external_id:str}", summary="One customer, with portal link and toggles")
async def get_customer(tenant: TenantDep, external_id: FromPath[str]) -> dict[str, Any]:
    return (await customer_out(tenant, [await _customer(tenant, external_id)]))[0]


@patch(
    "/customers/{external_id:str}",
    summary="Change a customer (and its toggles)",
    dependencies=documented_body(CustomerPatch),
)
async def patch_customer(
    tenant: TenantDep, external_id: FromPath[str], request: Request[Any, Any, Any]
) -> dict[str, Any]:
    change = await decode_body(request, CustomerPatch)
    row = await _customer(tenant, external_id)
    fields = {
        name: getattr(change, name) if getattr(change, name) is not UNSET else row[name]
        for name in ledger.CUSTOMER_FIELDS
    }
    async with ledger.transaction():
        if change.toggles is not UNSET:
            await set_customer_toggles(tenant, row["id"], change.toggles)
        try:
            rows = await ledger.upsert_customers(
                tenant, [CustomerIn(external_id=external_id, **fields)]
            )
        except LedgerError as exc:
            raise LedgerError(exc.field.removeprefix("items[0]."), exc.message) from None
    return (await customer_out(tenant, rows))[0]


@post(
    "/customers/{external_id:str}/portal-link",
    summary="A fresh portal link (earlier ones stay valid)",
    dependencies=documented_body(LinkRequest | None),
)
async def new_portal_link(
    tenant: TenantDep, external_id: FromPath[str], request: Request[Any, Any, Any]
) -> dict[str, Any]:
    body = await decode_body(request, LinkRequest, empty=LinkRequest())
    row = await _customer(tenant, external_id)
    days = body.expires_in_days or tenant.portal_settings.link_validity_days
    link = await create_link(tenant.config.resolved_secret(), tenant.tenant_id, row["id"], days)
    await audit(tenant, "portal_link.created", "customer", external_id, {"expires_in_days": days})
    return _link_out(tenant, link)


@post(
    "/customers/{external_id:str}/portal-link/rotate",
    summary="Kill every earlier link; make a fresh one",
)
async def rotate_portal_link(tenant: TenantDep, external_id: FromPath[str]) -> dict[str, Any]:
    row = await _customer(tenant, external_id)
    days = tenant.portal_settings.link_validity_days
    async with ledger.transaction():
        link = await rotate_links(
            tenant.config.resolved_secret(), tenant.tenant_id, row["id"], days
        )
        await audit(tenant, "portal_link.rotated", "customer", external_id, {})
    return _link_out(tenant, link)


def _link_out(tenant: TenantContext, link: dict[str, Any]) -> dict[str, Any]:
    return {
        "portal_url": portal_url(tenant.config.base_url, link["token"]),
        "expires_at": link["expires_at"].isoformat(),
    }


# --- invoices -------------------------------------------------------------------------------


@put(
    "/invoices",
    summary="Upsert invoices by external_id",
    dependencies=documented_body(list[InvoiceIn]),
)
async def put_invoices(tenant: TenantDep, request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    items = await decode_body(request, list[InvoiceIn], root="items")
    return invoice_out(await ledger.upsert_invoices(tenant, items))


@get("/invoices", summary="List invoices, by customer, status or external_id")
async def list_invoices(
    tenant: TenantDep,
    customer: FromQuery[str | None] = None,
    status: FromQuery[str | None] = None,
    external_id: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
    limit: FromQuery[int | None] = None,
) -> dict[str, Any]:
    """`?external_id=` reaches ids a path segment cannot carry (ERP numbers like
    `INV/2026/0001`: the path is decoded before routing, so `%2F` is a slash there too)."""
    query = ledger.invoice_query(tenant.tenant_id)
    if external_id is not None:
        query = query.where(Invoice.external_id == external_id)
    if customer is not None:
        query = query.where(Invoice.customer.external_id == customer)
    if status is not None:
        if status not in STATUSES:
            raise CursorError("status", f"expected one of {', '.join(STATUSES)}")
        query = query.where(Invoice.status == status)
    return await paginated(query, Invoice.id, cursor, limit, invoice_out)


@get("/invoices/{external_id:str}", summary="One invoice")
async def get_invoice(tenant: TenantDep, external_id: FromPath[str]) -> dict[str, Any]:
    row = (
        await ledger.invoice_query(tenant.tenant_id)
        .where(Invoice.external_id == external_id)
        .first()
    )
    if row is None:
        raise NotFoundException(f"no invoice {external_id!r}")
    return invoice_out([row])[0]


# --- payments and credit notes ----------------------------------------------------------------


@put(
    "/payments",
    summary="Upsert payments and their allocations",
    dependencies=documented_body(list[PaymentIn]),
)
async def put_payments(tenant: TenantDep, request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    items = await decode_body(request, list[PaymentIn], root="items")
    return doc_out(await ledger.upsert_payments(tenant, items))


@put(
    "/credit-notes",
    summary="Upsert credit notes and their allocations",
    dependencies=documented_body(list[CreditNoteIn]),
)
async def put_credit_notes(
    tenant: TenantDep, request: Request[Any, Any, Any]
) -> list[dict[str, Any]]:
    items = await decode_body(request, list[CreditNoteIn], root="items")
    return doc_out(await ledger.upsert_credit_notes(tenant, items))


async def _list_docs(
    tenant: TenantContext,
    kind: Any,
    customer: str | None,
    external_id: str | None,
    cursor: str | None,
    limit: int | None,
) -> dict[str, Any]:
    query = ledger.doc_query(tenant.tenant_id, kind)
    if external_id is not None:
        query = query.where(kind.table.external_id == external_id)
    if customer is not None:
        query = query.where(kind.table.customer.external_id == customer)

    async def render(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return doc_out(await ledger.load_docs(tenant.tenant_id, kind, rows=rows))

    return await paginated(query, kind.table.id, cursor, limit, render)


async def _one_doc(tenant: TenantContext, kind: Any, external_id: str) -> dict[str, Any]:
    rows = await ledger.load_docs(tenant.tenant_id, kind, [external_id])
    if not rows:
        raise NotFoundException(f"no {kind.name.replace('_', ' ')} {external_id!r}")
    return doc_out(rows)[0]


@get("/payments", summary="List payments with their allocations")
async def list_payments(
    tenant: TenantDep,
    customer: FromQuery[str | None] = None,
    external_id: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
    limit: FromQuery[int | None] = None,
) -> dict[str, Any]:
    return await _list_docs(tenant, PAYMENTS, customer, external_id, cursor, limit)


@get("/payments/{external_id:str}", summary="One payment")
async def get_payment(tenant: TenantDep, external_id: FromPath[str]) -> dict[str, Any]:
    return await _one_doc(tenant, PAYMENTS, external_id)


@get("/credit-notes", summary="List credit notes with their allocations")
async def list_credit_notes(
    tenant: TenantDep,
    customer: FromQuery[str | None] = None,
    external_id: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
    limit: FromQuery[int | None] = None,
) -> dict[str, Any]:
    return await _list_docs(tenant, CREDIT_NOTES, customer, external_id, cursor, limit)


@get("/credit-notes/{external_id:str}", summary="One credit note")
async def get_credit_note(tenant: TenantDep, external_id: FromPath[str]) -> dict[str, Any]:
    return await _one_doc(tenant, CREDIT_NOTES, external_id)


# --- audit ------------------------------------------------------------------------------------


@get("/audit", summary="What operators, customers and the system did, newest first")
async def list_audit(
    tenant: TenantDep, cursor: FromQuery[str | None] = None, limit: FromQuery[int | None] = None
) -> dict[str, Any]:
    query = AuditEvent.select().where(AuditEvent.tenant == tenant.tenant_id).output(load_json=True)

    def render(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                "id": row["id"],
                "at": row["created_at"].isoformat(),
                "actor": row["actor"],
                "action": row["action"],
                "subject_type": row["subject_type"],
                "subject_id": row["subject_id"],
                "data": row["data"],
            }
            for row in rows
        ]

    return await paginated(query, AuditEvent.id, cursor, limit, render, descending=True)


CORE_ADMIN_ROUTER = Router(
    path="/",
    route_handlers=[
        get_settings,
        patch_settings,
        post_preview,
        put_customers,
        list_customers,
        get_customer,
        patch_customer,
        new_portal_link,
        rotate_portal_link,
        put_invoices,
        list_invoices,
        get_invoice,
        put_payments,
        list_payments,
        get_payment,
        put_credit_notes,
        list_credit_notes,
        get_credit_note,
        list_audit,
    ],
    exception_handlers=EXCEPTION_HANDLERS,
    tags=["core"],
)

ADMIN_HANDLERS: list[Any] = [CORE_ADMIN_ROUTER]
