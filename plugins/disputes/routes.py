"""The customer's pages: the dispute form, the thread, replies and attachments.

Every route is tagged with the feature (the core answers 404 while it is off) and looks up
invoices and disputes within the customer's own (anyone else's id is the same 404). Forms are
plain HTML posts carrying the CSRF token; a refused form is shown again with the errors and
what was typed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import msgspec
from babel.dates import format_datetime
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from arportal import PortalContext, PortalDep, attachment_response, portal_page, read_upload
from arportal.plugins.disputes.disputes import (
    CUSTOMER,
    FEATURE,
    MESSAGE_MAX,
    OPEN,
    AlreadyOpen,
    Attachment,
    DisputeError,
    NotOpen,
    active_reason,
    add_message,
    by_invoice,
    clean_text,
    find_invoice,
    get_dispute,
    messages_of,
    open_dispute,
    reason_label,
    settings_of,
)
from arportal.plugins.disputes.i18n import translator

OPT = {"feature": FEATURE}
STYLESHEET = Path(__file__).parent / "static" / "disputes.css"


class DisputeForm(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    invoice: str
    reason: str = ""
    message: str = ""
    csrf_token: str = msgspec.field(default="", name="_csrf_token")


class ReplyForm(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    message: str = ""
    csrf_token: str = msgspec.field(default="", name="_csrf_token")


# --- URLs ------------------------------------------------------------------------------------


def invoice_url(portal: PortalContext, external_id: str) -> str:
    """The core's invoice page (ids with a slash go in the query string, as the core does)."""
    if "/" in external_id:
        return portal.url("invoice") + "?" + urlencode({"id": external_id})
    return portal.url(f"invoices/{quote(external_id, safe='')}")


def new_url(portal: PortalContext, external_id: str) -> str:
    return portal.url("disputes/new") + "?" + urlencode({"invoice": external_id})


def thread_url(portal: PortalContext, dispute_id: int) -> str:
    return portal.url(f"disputes/{dispute_id}")


@cache
def stylesheet_bytes() -> tuple[bytes, str]:
    content = STYLESHEET.read_bytes()
    return content, hashlib.sha256(content).hexdigest()[:12]


def stylesheet_url(portal: PortalContext) -> str:
    return portal.url("disputes/static/disputes.css") + f"?v={stylesheet_bytes()[1]}"


# --- input -----------------------------------------------------------------------------------


async def read_form(
    request: Request[Any, Any, Any], schema: type[Any]
) -> tuple[Any, Attachment | None]:
    """The text fields (checked by `schema`) and the optional `attachment` file."""
    form = await request.form()
    fields: dict[str, str] = {}
    attachment = None
    for key, value in form.multi_items():
        if key == "attachment":
            if isinstance(value, UploadFile) and value.filename:
                attachment = Attachment(await value.read(), value.filename)
            continue
        if not isinstance(value, str):
            raise HTTPException(status_code=400, detail=f"{key}: expected text")
        fields.setdefault(key, value)
    try:
        return msgspec.convert(fields, schema), attachment
    except msgspec.ValidationError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None


def size_text(limit: int) -> str:
    megabytes = limit / (1024 * 1024)
    return f"{megabytes:g} MB" if megabytes >= 1 else f"{limit / 1024:g} KB"


def error_text(portal: PortalContext, exc: DisputeError) -> str:
    """What the customer reads for a refused field, in their language."""
    tr = translator(portal.locale)
    if exc.field == "reason":
        return tr("Choose one of the reasons.")
    if exc.field == "attachment":
        if exc.status_code == 413:
            return tr("The file is larger than {size}.",
                      size=size_text(portal.config.upload_max_bytes))
        if "empty" in exc.message:
            return tr("The file is empty.")
        return tr("Only PDF, PNG and JPEG files are accepted.")
    if exc.message == "required":
        return tr("Write a message.")
    return tr("The message is longer than {count} characters.", count=MESSAGE_MAX)


def when(portal: PortalContext, moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return format_datetime(moment.astimezone(portal.timezone), "medium", locale=portal.locale)


# --- pages -----------------------------------------------------------------------------------


async def _disputable(portal: PortalContext, external_id: str | None) -> dict[str, Any]:
    invoice = None
    if external_id:
        invoice = await find_invoice(portal, external_id, portal.customer["id"], portal=True)
    if invoice is None or invoice["status"] != OPEN:
        raise NotFoundException()
    return invoice


async def _form_page(
    portal: PortalContext, invoice: dict[str, Any], *, values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None, status_code: int = 200,
) -> Template:
    tr = translator(portal.locale)
    return await portal_page(
        portal,
        "disputes:form.html",
        status_code=status_code,
        tr=tr,
        stylesheet_url=stylesheet_url(portal),
        invoice=invoice,
        invoice_url=invoice_url(portal, invoice["external_id"]),
        action=portal.url("disputes"),
        reasons=[(reason.key, tr(reason.label)) for reason in settings_of(portal).active()],
        values=values or {},
        errors=errors or {},
        message_max=MESSAGE_MAX,
        max_size=size_text(portal.config.upload_max_bytes),
    )


async def _thread_page(
    portal: PortalContext, dispute: dict[str, Any], *, notice: str = "",
    reply: str = "", errors: dict[str, str] | None = None, status_code: int = 200,
) -> Template:
    tr = translator(portal.locale)
    messages = (await messages_of(portal, [dispute["id"]]))[dispute["id"]]
    for message in messages:
        message["when"] = when(portal, message["created_at"])
        if message["attachment"] is not None:
            message["attachment_url"] = portal.url(
                f"disputes/{dispute['id']}/attachments/{message['id']}"
            )
    return await portal_page(
        portal,
        "disputes:thread.html",
        status_code=status_code,
        tr=tr,
        stylesheet_url=stylesheet_url(portal),
        dispute=dispute,
        label=tr(reason_label(portal, dispute)),
        opened=when(portal, dispute["created_at"]),
        messages=messages,
        invoice_url=invoice_url(portal, dispute["invoice_external_id"]),
        action=portal.url(f"disputes/{dispute['id']}/messages"),
        notice=notice,
        reply=reply,
        errors=errors or {},
        message_max=MESSAGE_MAX,
        max_size=size_text(portal.config.upload_max_bytes),
    )


async def _own_dispute(portal: PortalContext, dispute_id: int) -> dict[str, Any]:
    dispute = await get_dispute(portal, dispute_id, portal.customer["id"])
    if dispute is None:
        raise NotFoundException()
    return dispute


@get("/disputes/new", opt=OPT, name="disputes:new")
async def new_dispute(
    portal: PortalDep, invoice: FromQuery[str | None] = None
) -> Template | Redirect:
    found = await _disputable(portal, invoice)
    existing = await by_invoice(portal, [found["id"]])
    if existing:
        return Redirect(thread_url(portal, existing[found["id"]]["id"]), status_code=303)
    return await _form_page(portal, found)


@post("/disputes", opt=OPT, status_code=303)
async def create_dispute(
    portal: PortalDep, request: Request[Any, Any, Any]
) -> Template | Redirect:
    form, attachment = await read_form(request, DisputeForm)
    invoice = await _disputable(portal, form.invoice)
    tr = translator(portal.locale)
    values = {"reason": form.reason, "message": form.message}
    errors: dict[str, str] = {}
    for check in (lambda: active_reason(portal, form.reason),
                  lambda: clean_text(form.message, "message", MESSAGE_MAX)):
        try:
            check()
        except DisputeError as exc:
            errors[exc.field] = error_text(portal, exc)
    if errors:
        return await _form_page(portal, invoice, values=values, errors=errors, status_code=422)
    try:
        dispute = await open_dispute(
            portal, invoice=invoice, customer=portal.customer, reason_key=form.reason,
            message=form.message, attachment=attachment, by=CUSTOMER,
        )
    except DisputeError as exc:
        return await _form_page(
            portal, invoice, values=values, errors={exc.field: error_text(portal, exc)},
            status_code=exc.status_code,
        )
    except AlreadyOpen as exc:
        existing = await get_dispute(portal, exc.dispute_id, portal.customer["id"])
        assert existing is not None
        return await _thread_page(
            portal, existing, status_code=409, reply=form.message,
            notice=tr("This invoice already has an open dispute: you can add your message "
                      "to it below."),
        )
    return Redirect(thread_url(portal, dispute["id"]) + "?sent=dispute", status_code=303)


@get("/disputes/{dispute_id:int}", opt=OPT, name="disputes:thread")
async def thread(
    portal: PortalDep, dispute_id: FromPath[int], sent: FromQuery[str | None] = None
) -> Template:
    dispute = await _own_dispute(portal, dispute_id)
    tr = translator(portal.locale)
    notice = {
        "dispute": tr("Your dispute was sent. We will answer you here."),
        "message": tr("Your message was sent."),
    }.get(sent or "", "")
    return await _thread_page(portal, dispute, notice=notice)


@post("/disputes/{dispute_id:int}/messages", opt=OPT, status_code=303)
async def reply(
    portal: PortalDep, dispute_id: FromPath[int], request: Request[Any, Any, Any]
) -> Template | Redirect:
    dispute = await _own_dispute(portal, dispute_id)
    form, attachment = await read_form(request, ReplyForm)
    tr = translator(portal.locale)
    try:
        message_id = await add_message(
            portal, dispute, author=CUSTOMER, body=form.message, attachment=attachment
        )
    except DisputeError as exc:
        return await _thread_page(
            portal, dispute, reply=form.message, errors={exc.field: error_text(portal, exc)},
            status_code=exc.status_code,
        )
    except NotOpen:
        current = await _own_dispute(portal, dispute_id)
        return await _thread_page(
            portal, current, status_code=409,
            notice=tr("This dispute is resolved: you can no longer add messages."),
        )
    return Redirect(
        thread_url(portal, dispute_id) + f"?sent=message#message-{message_id}", status_code=303
    )


@get("/disputes/{dispute_id:int}/attachments/{message_id:int}", opt=OPT)
async def attachment(
    portal: PortalDep, dispute_id: FromPath[int], message_id: FromPath[int]
) -> Response[bytes]:
    dispute = await _own_dispute(portal, dispute_id)
    messages = (await messages_of(portal, [dispute["id"]]))[dispute["id"]]
    file_id = next(
        (m["attachment"] for m in messages if m["id"] == message_id and m["attachment"]), None
    )
    found = await read_upload(portal, file_id) if file_id is not None else None
    if found is None:
        raise NotFoundException()
    return attachment_response(*found)


@get("/disputes/static/disputes.css", opt={"public": True})
async def stylesheet() -> Response[bytes]:
    return Response(
        stylesheet_bytes()[0],
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=86400"},
    )


PORTAL_ROUTES = [new_dispute, create_dispute, thread, reply, attachment, stylesheet]
