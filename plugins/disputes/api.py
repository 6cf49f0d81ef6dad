"""The operators' API under `/api/v1/disputes`.

Reading, downloading attachments and resolving stay available while the feature is off (the
disputes are kept, and an operator may still settle them); opening a dispute for a customer
and replying need the feature on. Bodies are JSON checked by msgspec; a refused field answers
422 `{"detail", "field"}` like the core's API, a resolved dispute 409, another tenant's id 404.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.di import Provide
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery

from arportal import TenantContext, TenantDep, attachment_response, read_upload
from arportal.plugins.disputes.disputes import (
    FEATURE,
    OPERATOR,
    STATUSES,
    AlreadyOpen,
    DisputeError,
    NotOpen,
    add_message,
    customer_row,
    dispute_query,
    find_invoice,
    get_dispute,
    messages_of,
    open_dispute,
    reason_label,
    resolve,
)
from arportal.plugins.disputes.models import Dispute

KEEP = {"keep_when_disabled": True}
ON = {"feature": FEATURE}
_AT = re.compile(r"^(?P<message>.*?) - at `\$\.?(?P<path>[^`]*)`$", re.DOTALL)
_NAMED = re.compile(r"(?:unknown|missing required) field `(?P<name>[^`]+)`")


class OpenIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    invoice_external_id: str
    reason: str
    message: str
    """At most 2,000 characters, like the customer's."""


class MessageIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    body: str
    """At most 2,000 characters."""


class ResolveIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    resolution: Literal["accepted", "rejected"]
    note: str = ""
    """Shown to the customer and mailed to them; at most 2,000 characters."""


class ApiError(Exception):
    def __init__(self, status_code: int, detail: str, **extra: Any):
        super().__init__(detail)
        self.status_code = status_code
        self.body = {"detail": detail, **extra}


def _documented(schema: Any) -> dict[str, Provide]:
    """Dependencies that only show the JSON body in OpenAPI (the body is decoded by `_body`,
    whose errors name the field)."""

    async def body(data: Any) -> None:
        return None

    body.__annotations__ = {"data": schema, "return": None}
    return {"_documented_body": Provide(body)}


async def _body(request: Request[Any, Any, Any], schema: type[Any]) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise ApiError(422, "body: expected a JSON body", field="body")
    try:
        return msgspec.json.decode(raw, type=schema)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _AT.match(text)
        message, path = (match["message"], match["path"]) if match else (text, "")
        named = _NAMED.search(message)
        if named:
            path = f"{path}.{named['name']}" if path else named["name"]
        field = path or "body"
        raise ApiError(422, f"{field}: {message}", field=field) from None
    except msgspec.DecodeError as exc:
        raise ApiError(422, f"body: not valid JSON: {exc}", field="body") from None


def _refused(exc: DisputeError, names: dict[str, str]) -> ApiError:
    field = names.get(exc.field, exc.field)
    return ApiError(exc.status_code, f"{field}: {exc.message}", field=field)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def dispute_out(
    ctx: TenantContext, row: dict[str, Any], messages: list[dict[str, Any]]
) -> dict[str, Any]:
    base = f"/api/v1/disputes/{row['id']}"
    return {
        "id": row["id"],
        "invoice_external_id": row["invoice_external_id"],
        "invoice_number": row["invoice_number"],
        "customer_external_id": row["customer_external_id"],
        "reason": row["reason"],
        "reason_label": reason_label(ctx, row),
        "message": messages[0]["body"] if messages else "",
        "status": row["status"],
        "resolution": row["resolution"],
        "resolution_note": row["resolution_note"],
        "opened_by": row["opened_by"],
        "created_at": _iso(row["created_at"]),
        "resolved_at": _iso(row["resolved_at"]),
        "messages": [
            {
                "id": message["id"],
                "author": message["author"],
                "body": message["body"],
                "created_at": _iso(message["created_at"]),
                "attachment": None if message["attachment"] is None else {
                    "name": message["attachment_name"],
                    "content_type": message["attachment_type"],
                    "size": message["attachment_size"],
                    "url": f"{base}/messages/{message['id']}/attachment",
                },
            }
            for message in messages
        ],
    }


async def _one(tenant: TenantContext, dispute_id: int) -> dict[str, Any]:
    row = await get_dispute(tenant, dispute_id)
    if row is None:
        raise NotFoundException(f"no dispute {dispute_id}")
    return row


async def _out(tenant: TenantContext, row: dict[str, Any]) -> dict[str, Any]:
    messages = (await messages_of(tenant, [row["id"]]))[row["id"]]
    return dispute_out(tenant, row, messages)


@get("/", opt=KEEP, summary="List disputes, newest first, by status and customer")
async def list_disputes(
    tenant: TenantDep,
    status: FromQuery[str] = "all",
    customer: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
    limit: FromQuery[int] = 50,
) -> dict[str, Any]:
    """`?status=open|resolved|all&customer=<external id>`; pass `next_cursor` back as
    `cursor` for the next page."""
    where = Dispute.tenant == tenant.tenant_id
    if status != "all":
        if status not in STATUSES:
            raise ApiError(422, "status: expected open, resolved or all", field="status")
        where &= Dispute.status == status
    if customer is not None:
        where &= Dispute.customer.external_id == customer
    if cursor is not None:
        if not cursor.isdigit() or len(cursor) > 18:
            raise ApiError(422, "cursor: not one this endpoint gave", field="cursor")
        where &= Dispute.id < int(cursor)
    if not 1 <= limit <= 200:
        raise ApiError(422, "limit: expected 1 to 200", field="limit")
    rows = await dispute_query().where(where).order_by(Dispute.id, ascending=False).limit(limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    threads = await messages_of(tenant, [row["id"] for row in rows])
    return {
        "items": [dispute_out(tenant, row, threads[row["id"]]) for row in rows],
        "next_cursor": str(rows[-1]["id"]) if more else None,
    }


@get("/{dispute_id:int}", opt=KEEP, summary="One dispute with its thread")
async def show_dispute(tenant: TenantDep, dispute_id: FromPath[int]) -> dict[str, Any]:
    return await _out(tenant, await _one(tenant, dispute_id))


@get(
    "/{dispute_id:int}/messages/{message_id:int}/attachment",
    opt=KEEP,
    summary="A message's attachment (a download)",
    media_type="application/octet-stream",
)
async def message_attachment(
    tenant: TenantDep, dispute_id: FromPath[int], message_id: FromPath[int]
) -> Response[bytes]:
    row = await _one(tenant, dispute_id)
    messages = (await messages_of(tenant, [row["id"]]))[row["id"]]
    file_id = next(
        (m["attachment"] for m in messages if m["id"] == message_id and m["attachment"]), None
    )
    found = await read_upload(tenant, file_id) if file_id is not None else None
    if found is None:
        raise NotFoundException(f"no attachment on message {message_id}")
    return attachment_response(*found)


@post(
    "/",
    opt=ON,
    status_code=201,
    summary="Open a dispute for the customer of an open invoice",
    dependencies=_documented(OpenIn),
)
async def open_for_customer(tenant: TenantDep, request: Request[Any, Any, Any]) -> dict[str, Any]:
    body = await _body(request, OpenIn)
    invoice = await find_invoice(tenant, body.invoice_external_id)
    if invoice is None:
        raise NotFoundException(f"no invoice {body.invoice_external_id!r}")
    customer = await customer_row(tenant, invoice["customer"])
    try:
        row = await open_dispute(
            tenant, invoice=invoice, customer=customer, reason_key=body.reason,
            message=body.message, by=OPERATOR,
        )
    except DisputeError as exc:
        raise _refused(exc, {"invoice": "invoice_external_id"}) from None
    except AlreadyOpen as exc:
        raise ApiError(
            409, f"invoice {body.invoice_external_id!r} already has an open dispute",
            dispute_id=exc.dispute_id,
        ) from None
    return await _out(tenant, row)


@post(
    "/{dispute_id:int}/messages",
    opt=ON,
    status_code=201,
    summary="Reply to the customer (mailed to them)",
    dependencies=_documented(MessageIn),
)
async def reply(
    tenant: TenantDep, dispute_id: FromPath[int], request: Request[Any, Any, Any]
) -> dict[str, Any]:
    row = await _one(tenant, dispute_id)
    body = await _body(request, MessageIn)
    try:
        await add_message(tenant, row, author=OPERATOR, body=body.body, field="body")
    except DisputeError as exc:
        raise _refused(exc, {}) from None
    except NotOpen:
        raise ApiError(409, f"dispute {dispute_id} is resolved") from None
    return await _out(tenant, row)


@post(
    "/{dispute_id:int}/resolve",
    opt=KEEP,
    status_code=200,
    summary="Resolve: accepted or rejected, with a note for the customer",
    dependencies=_documented(ResolveIn),
)
async def resolve_dispute(
    tenant: TenantDep, dispute_id: FromPath[int], request: Request[Any, Any, Any]
) -> dict[str, Any]:
    row = await _one(tenant, dispute_id)
    body = await _body(request, ResolveIn)
    try:
        resolved = await resolve(tenant, row, body.resolution, body.note)
    except DisputeError as exc:
        raise _refused(exc, {}) from None
    except NotOpen:
        raise ApiError(409, f"dispute {dispute_id} is already resolved") from None
    return await _out(tenant, resolved)


def _api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[dict[str, Any]]:
    return Response(exc.body, status_code=exc.status_code)


def _parameters(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    field = first.get("key")
    message = first.get("message") or exc.detail
    return Response(
        {"detail": f"{field}: {message}" if field else str(message), "field": field},
        status_code=422,
    )


ADMIN_ROUTER = Router(
    path="/disputes",
    route_handlers=[
        list_disputes, show_dispute, message_attachment, open_for_customer, reply,
        resolve_dispute,
    ],
    exception_handlers={ApiError: _api_error, ValidationException: _parameters},
    tags=["disputes"],
)
