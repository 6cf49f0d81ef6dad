"""The plugin's portal page and admin API. Every route is tagged with the feature, so the core
answers 404 while a tenant has it off."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from arportal import Invoice, PortalDep, TenantDep, emit_event, enqueue_mail
from litestar import get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.params import Body, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from arportal_example.models import ExampleNote

FEATURE = "example"
TOGGLE = "example_optin"
NOTE_MAX = 1000


class NoteForm(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    body: str
    csrf_token: str = msgspec.field(default="", name="_csrf_token")

    def __post_init__(self) -> None:
        self.body = self.body.strip()
        if not 1 <= len(self.body) <= NOTE_MAX:
            raise ValueError(f"body: expected 1 to {NOTE_MAX} characters")


class NoteOut(msgspec.Struct, kw_only=True):
    id: int
    kind: str
    body: str
    customer_external_id: str | None
    created_at: dt.datetime


class NotesPage(msgspec.Struct, kw_only=True):
    items: list[NoteOut]
    next_cursor: str | None


async def _customer_notes(tenant_id: int, customer_id: int) -> list[dict[str, Any]]:
    return await (
        ExampleNote.select(ExampleNote.id, ExampleNote.body, ExampleNote.created_at)
        .where(
            (ExampleNote.tenant == tenant_id)
            & (ExampleNote.customer == customer_id)
            & (ExampleNote.kind == "note")
        )
        .order_by(ExampleNote.id, ascending=False)
        .limit(50)
    )


async def _upcoming(portal: Any, days: int) -> list[dict[str, Any]]:
    horizon = portal.today() + dt.timedelta(days=days)
    return await (
        Invoice.select(Invoice.id, Invoice.number, Invoice.due_date, Invoice.currency,
                       Invoice.amount_due_minor)
        .where(
            (Invoice.tenant == portal.tenant_id)
            & (Invoice.customer == portal.customer["id"])
            & (Invoice.status == "open")
            & (Invoice.due_date <= horizon)
        )
        .order_by(Invoice.due_date)
        .limit(50)
    )


@get("/example", opt={"feature": FEATURE}, name="example:page")
async def page(portal: PortalDep, invoice: FromQuery[str | None] = None) -> Template:
    settings = portal.settings("example")
    return Template(
        template_name="example:page.html",
        context={
            "portal": portal,
            "settings": settings,
            "opted_in": portal.toggle_enabled(TOGGLE),
            "notes": await _customer_notes(portal.tenant_id, portal.customer["id"]),
            "prefill": f"About invoice {invoice}: " if invoice else "",
        },
    )


@post("/example/notes", opt={"feature": FEATURE}, status_code=303)
async def add_note(
    portal: PortalDep,
    data: Annotated[NoteForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Redirect:
    rows = await ExampleNote.insert(
        ExampleNote(
            tenant=portal.tenant_id, customer=portal.customer["id"], kind="note", body=data.body
        )
    ).returning(ExampleNote.id)
    note_id = rows[0]["id"]
    if portal.customer["email"]:
        await enqueue_mail(
            portal,
            to=[portal.customer["email"]],
            subject=f"{portal.name} received your note",
            template="example:mail/note_received",
            context={"body": data.body, "customer_name": portal.customer["name"]},
            dedupe_key=f"example-note-{note_id}",
        )
    await emit_event(
        portal,
        "example_note_added",
        {"note_id": note_id, "customer_external_id": portal.customer["external_id"]},
        subject_type="customer",
        subject_id=portal.customer["external_id"],
    )
    return Redirect(portal.url("example"), status_code=303)


@get("/example/reminders", opt={"feature": FEATURE, "toggle": TOGGLE}, name="example:reminders")
async def reminders(portal: PortalDep) -> Template:
    """Only for customers who opted in (the core answers 404 to the others)."""
    settings = portal.settings("example")
    invoices = await _upcoming(portal, settings.remind_days_before)
    texts = []
    for invoice in invoices:
        text = await portal.first("example_reminder_text", invoice=invoice)
        default = f"Invoice {invoice['number']} is due on {invoice['due_date'].isoformat()}."
        texts.append(text or default)
    return Template(
        template_name="example:reminders.html",
        context={"portal": portal, "settings": settings, "reminders": texts},
    )


@get("/example/notes", opt={"feature": FEATURE})
async def list_notes(
    tenant: TenantDep,
    kind: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
) -> NotesPage:
    """The tenant's notes, oldest first; pass `next_cursor` back as `cursor` for more."""
    where = ExampleNote.tenant == tenant.tenant_id
    if kind:
        where &= ExampleNote.kind == kind
    if cursor is not None:
        if not cursor.isdigit() or len(cursor) > 18:
            raise HTTPException(status_code=422, detail="cursor: not one this endpoint gave")
        where &= ExampleNote.id > int(cursor)
    rows = await (
        ExampleNote.select(
            ExampleNote.id,
            ExampleNote.kind,
            ExampleNote.body,
            ExampleNote.created_at,
            ExampleNote.customer.external_id.as_alias("customer_external_id"),
        )
        .where(where)
        .order_by(ExampleNote.id)
        .limit(limit + 1)
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return NotesPage(
        items=[NoteOut(**row) for row in rows],
        next_cursor=str(rows[-1]["id"]) if more else None,
    )


PORTAL_ROUTES = [page, add_note, reminders]
ADMIN_ROUTES = [list_notes]
