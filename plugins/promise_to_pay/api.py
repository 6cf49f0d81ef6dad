"""The finance team's API, under `/api/v1` (API key of the tenant):

- `GET /promises?status=&customer=&cursor=&limit=`: promises, oldest first, paged.
- `GET /promises/{id}`: one promise with its history.
- `POST /promises`: promise on a customer's behalf (`source: "team"`), the same checks as the
  portal's form: `{"customer_external_id", "invoices": [{"external_id", "amount"?}], "date",
  "note"?}`.
- `POST /promises/{id}/cancel`: cancel a pending promise (`{"note"?}`).

Input errors answer 422 `{"detail", "field", "errors"}` (`field` is the path of the first bad
value, `errors` every bad field); an unknown id answers 404. Tagged with the feature: 404 while
it is off.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery

from arportal import Customer, TenantContext, TenantDep
from arportal.plugins.promise_to_pay import queries, service
from arportal.plugins.promise_to_pay.checks import PromiseNotFound, PromiseRefused
from arportal.plugins.promise_to_pay.checks import Request as PromiseRequest
from arportal.plugins.promise_to_pay.models import STATUSES, Promise

FEATURE = "promise_to_pay"
OPT = {"feature": FEATURE}
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

ExternalId = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class InvoiceChoice(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    external_id: ExternalId
    amount: Decimal | None = None
    """Part of the amount due (when the setting `allow_partial` is on); all of it if absent."""


class PromiseIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    customer_external_id: ExternalId
    invoices: list[InvoiceChoice]
    date: dt.date
    note: str = ""


class CancelIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    note: str = ""


class ApiError(ValueError):
    def __init__(self, field: str, detail: str, errors: dict[str, str] | None = None):
        super().__init__(detail)
        self.field = field
        self.detail = detail
        self.errors = errors or {field: detail}


async def _body(request: Request[Any, Any, Any], type_: Any, empty: Any = None) -> Any:
    raw = await request.body()
    if not raw.strip():
        if empty is not None:
            return empty
        raise ApiError("body", "expected a JSON body")
    try:
        return msgspec.json.decode(raw, type=type_)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `$")
        path = where.rstrip("`").lstrip(".")
        if "field `" in message:
            name = message.split("field `", 1)[1].split("`", 1)[0]
            path = f"{path}.{name}" if path else name
        raise ApiError(path or "body", str(exc)) from None
    except msgspec.DecodeError as exc:
        raise ApiError("body", f"not valid JSON: {exc}") from None


def _api_errors(refused: PromiseRefused, external_ids: list[str]) -> ApiError:
    """The form's field names as paths of the request body."""
    position = {external_id: index for index, external_id in enumerate(external_ids)}

    def path(key: str) -> str:
        if key == "invoice":
            return "invoices"
        if key.startswith("invoice:"):
            return f"invoices[{position.get(key[8:], 0)}].external_id"
        if key.startswith("amount_"):
            return f"invoices[{position.get(key[7:], 0)}].amount"
        return key

    errors = {path(key): message for key, message in refused.errors.items()}
    field, detail = next(iter(errors.items()))
    return ApiError(field, f"{field}: {detail}", errors)


async def _customer_ids(tenant: TenantContext, ids: set[int]) -> dict[int, str]:
    customers = await queries.customers_by_id(tenant.tenant_id, ids)
    return {key: row["external_id"] for key, row in customers.items()}


@get("/promises", opt=OPT, summary="List promises to pay, by status and customer")
async def list_promises(
    tenant: TenantDep,
    status: FromQuery[str | None] = None,
    customer: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
    limit: FromQuery[int | None] = None,
) -> dict[str, Any]:
    size = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= size <= MAX_LIMIT:
        raise ApiError("limit", f"limit: expected an integer from 1 to {MAX_LIMIT}")
    where = Promise.tenant == tenant.tenant_id
    if status is not None:
        if status not in STATUSES:
            raise ApiError("status", f"status: expected one of {', '.join(STATUSES)}")
        where &= Promise.status == status
    if customer is not None:
        row = await Customer.select(Customer.id).where(
            (Customer.tenant == tenant.tenant_id) & (Customer.external_id == customer)
        ).first()
        if row is None:
            return {"items": [], "next_cursor": None}
        where &= Promise.customer == row["id"]
    if cursor is not None:
        if not cursor.isdigit() or len(cursor) > 18:
            raise ApiError("cursor", "cursor: not one this API gave out")
        where &= Promise.id > int(cursor)
    rows = await Promise.select().where(where).order_by(Promise.id).limit(size + 1)
    more = len(rows) > size
    rows = await queries.add_invoices(tenant.tenant_id, rows[:size])
    names = await _customer_ids(tenant, {row["customer"] for row in rows})
    return {
        "items": [queries.promise_out(row, names[row["customer"]]) for row in rows],
        "next_cursor": str(rows[-1]["id"]) if more else None,
    }


async def _one(tenant: TenantContext, promise_id: FromPath[int]) -> dict[str, Any]:
    row = await queries.one_promise(tenant.tenant_id, promise_id)
    if row is None:
        raise NotFoundException(f"no promise {promise_id}")
    names = await _customer_ids(tenant, {row["customer"]})
    out = queries.promise_out(row, names[row["customer"]])
    out["history"] = [
        queries.history_out(entry) for entry in await queries.history(tenant.tenant_id, row["id"])
    ]
    return out


@get("/promises/{promise_id:int}", opt=OPT, summary="One promise to pay, with its history")
async def get_promise(tenant: TenantDep, promise_id: FromPath[int]) -> dict[str, Any]:
    return await _one(tenant, promise_id)


@post("/promises", opt=OPT, summary="Promise to pay on a customer's behalf", status_code=201)
async def post_promise(tenant: TenantDep, request: Request[Any, Any, Any]) -> dict[str, Any]:
    body: PromiseIn = await _body(request, PromiseIn)
    customer = await Customer.select(
        Customer.id, Customer.external_id, Customer.name, Customer.email, Customer.locale
    ).where(
        (Customer.tenant == tenant.tenant_id)
        & (Customer.external_id == body.customer_external_id)
    ).first()
    if customer is None:
        field = "customer_external_id"
        raise ApiError(field, f"{field}: no customer {body.customer_external_id!r}")
    external_ids = [choice.external_id for choice in body.invoices]
    asked = PromiseRequest(
        invoices=external_ids,
        date=body.date,
        note=body.note,
        amounts={c.external_id: c.amount for c in body.invoices if c.amount is not None},
    )
    try:
        promises = await service.make_promises(
            tenant, customer, asked, source="team", locale="en"
        )
    except PromiseRefused as refused:
        raise _api_errors(refused, external_ids) from None
    return {"items": [queries.promise_out(p, customer["external_id"]) for p in promises]}


@post("/promises/{promise_id:int}/cancel", opt=OPT, summary="Cancel a pending promise",
      status_code=200)
async def cancel_promise(
    tenant: TenantDep, promise_id: FromPath[int], request: Request[Any, Any, Any]
) -> Response[dict[str, Any]]:
    """409 when the promise is not pending any more (kept, broken, withdrawn, cancelled)."""
    body: CancelIn = await _body(request, CancelIn, empty=CancelIn())
    try:
        await service.cancel(tenant, promise_id, body.note)
    except PromiseNotFound:
        raise NotFoundException(f"no promise {promise_id}") from None
    except PromiseRefused as refused:
        field, detail = next(iter(refused.errors.items()))
        if field == "status":
            return Response({"detail": detail, "field": "status"}, status_code=409)
        raise ApiError(field, f"{field}: {detail}") from None
    return Response(await _one(tenant, promise_id))


def _unprocessable(request: Request[Any, Any, Any], exc: ApiError) -> Response[dict[str, Any]]:
    return Response(
        {"detail": exc.detail, "field": exc.field, "errors": exc.errors}, status_code=422
    )


def _parameter(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    """A query or path parameter of the wrong type (`?limit=abc`), as the core answers it."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    field = str(first.get("key") or "query")
    message = first.get("message") or exc.detail
    return _unprocessable(request, ApiError(field, f"{field}: {message}"))


ADMIN_ROUTES = [
    Router(
        path="/",
        route_handlers=[list_promises, get_promise, post_promise, cancel_promise],
        exception_handlers={ApiError: _unprocessable, ValidationException: _parameter},
        tags=["promise_to_pay"],
    )
]
