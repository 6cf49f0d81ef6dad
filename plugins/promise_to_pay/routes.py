"""The customer's pages: the promise form (one invoice or a selection), their promises, and
one promise with its history, where its date is changed or it is withdrawn.

Every route is tagged with the feature, so the core answers 404 while a tenant has it off.
Forms work without JavaScript and carry the CSRF token (checked by the core's middleware). A
refused form is shown again (422) with each message next to its field and nothing saved.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from arportal import Invoice, PortalContext, PortalDep, portal_page
from arportal.plugins.promise_to_pay import queries, service
from arportal.plugins.promise_to_pay.checks import (
    INVOICES_MAX,
    PromiseNotFound,
    PromiseRefused,
    pending_by_invoice,
)
from arportal.plugins.promise_to_pay.checks import (
    Request as PromiseRequest,
)
from arportal.plugins.promise_to_pay.i18n import day, translator

FEATURE = "promise_to_pay"
OPT = {"feature": FEATURE}
NOTICES = {
    "made": "Thank you: your promise to pay was sent.",
    "withdrawn": "Your promise was withdrawn.",
}


async def _page(
    portal: PortalContext, template: str, *, status_code: int = 200, **context: Any
) -> Response[Any]:
    return await portal_page(
        portal,
        f"promise_to_pay:{template}",
        status_code=status_code,
        t=translator(portal.locale),
        day=lambda value: day(value, portal.locale),
        **context,
    )


async def _open_invoices(portal: PortalContext) -> list[dict[str, Any]]:
    """The customer's open invoices as the portal shows them, soonest due first."""
    where = (
        (Invoice.tenant == portal.tenant_id)
        & (Invoice.customer == portal.customer["id"])
        & (Invoice.status == "open")
        & (Invoice.amount_due_minor > 0)
    )
    if portal.portal_settings.hide_future_invoices:
        where &= Invoice.issue_date <= portal.today()
    return await (  # type: ignore[no-any-return]
        Invoice.select(
            Invoice.id, Invoice.external_id, Invoice.number, Invoice.due_date, Invoice.currency,
            Invoice.amount_due_minor,
        )
        .where(where)
        .order_by(Invoice.due_date, Invoice.id)
        .limit(INVOICES_MAX)
    )


async def _form(
    portal: PortalContext,
    *,
    selected: list[str],
    date_value: str = "",
    note: str = "",
    amounts: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[Any]:
    settings = service.settings_of(portal)
    today = portal.today()
    invoices = await _open_invoices(portal)
    pending = await pending_by_invoice(portal.tenant_id, [inv["id"] for inv in invoices])
    errors = errors or {}
    listed = {f"invoice:{inv['external_id']}" for inv in invoices if inv["id"] not in pending}
    return await _page(
        portal,
        "new.html",
        status_code=status_code,
        invoices=[inv for inv in invoices if inv["id"] not in pending],
        promised=[(inv, pending[inv["id"]]) for inv in invoices if inv["id"] in pending],
        selected=set(selected),
        first=today,
        last=today + dt.timedelta(days=settings.max_days),
        allow_partial=settings.allow_partial,
        date_value=date_value,
        note=note,
        amounts=amounts or {},
        errors=errors,
        other_errors=[
            message for key, message in errors.items()
            if key.startswith("invoice:") and key not in listed
        ],
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


@get("/promises/new", opt=OPT, name="promise_to_pay:new")
async def new_promise(
    portal: PortalDep, invoice: FromQuery[list[str] | None] = None
) -> Response[Any]:
    """The form, with the invoices named in `?invoice=` already ticked."""
    return await _form(portal, selected=invoice or [])


@post("/promises", opt=OPT)
async def make_promise(portal: PortalDep, request: Request[Any, Any, Any]) -> Response[Any]:
    form = await request.form()
    invoices = [_text(value) for value in form.getall("invoice", [])]
    amounts = {
        key.removeprefix("amount_"): _text(value)
        for key, value in form.items()
        if key.startswith("amount_")
    }
    asked = PromiseRequest(
        invoices=invoices,
        date=_text(form.get("date")),
        note=_text(form.get("note")),
        amounts=dict(amounts),
    )
    try:
        await service.make_promises(
            portal, portal.customer, asked, source="customer", locale=portal.locale
        )
    except PromiseRefused as refused:
        return await _form(
            portal,
            selected=invoices,
            date_value=_text(form.get("date")),
            note=_text(form.get("note")),
            amounts=amounts,
            errors=refused.errors,
            status_code=422,
        )
    return Redirect(portal.url("promises") + "?done=made", status_code=303)


@get("/promises", opt=OPT, name="promise_to_pay:list")
async def list_promises(portal: PortalDep, done: FromQuery[str | None] = None) -> Response[Any]:
    promises = await queries.customer_promises(portal.tenant_id, portal.customer["id"])
    return await _page(
        portal, "list.html", promises=promises, notice=NOTICES.get(done or "")
    )


async def _detail(
    portal: PortalContext,
    promise_id: FromPath[int],
    *,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    date_value: str = "",
    note: str = "",
    status_code: int = 200,
) -> Response[Any]:
    promise = await queries.one_promise(portal.tenant_id, promise_id, portal.customer["id"])
    if promise is None:
        raise NotFoundException()
    settings = service.settings_of(portal)
    today = portal.today()
    changeable = promise["status"] == "pending" and today <= promise["promised_date"]
    return await _page(
        portal,
        "detail.html",
        status_code=status_code,
        promise=promise,
        history=await queries.history(portal.tenant_id, promise_id),
        changeable=changeable,
        first=today,
        last=promise["made_on"] + dt.timedelta(days=settings.max_days),
        notice=notice,
        errors=errors or {},
        date_value=date_value or promise["promised_date"].isoformat(),
        note=note,
    )


@get("/promises/{promise_id:int}", opt=OPT, name="promise_to_pay:detail")
async def promise_page(
    portal: PortalDep, promise_id: FromPath[int], done: FromQuery[str | None] = None
) -> Response[Any]:
    notice = "changed" if done == "changed" else NOTICES.get(done or "")
    return await _detail(portal, promise_id, notice=notice)


@post("/promises/{promise_id:int}/change", opt=OPT)
async def change_promise(
    portal: PortalDep, promise_id: FromPath[int], request: Request[Any, Any, Any]
) -> Response[Any]:
    form = await request.form()
    date_value, note = _text(form.get("date")), _text(form.get("note"))
    try:
        await service.change_date(
            portal, promise_id, date_value, note, customer_id=portal.customer["id"],
            actor="customer", locale=portal.locale,
        )
    except PromiseNotFound:
        raise NotFoundException() from None
    except PromiseRefused as refused:
        return await _detail(
            portal, promise_id, errors=refused.errors, date_value=date_value, note=note,
            status_code=422,
        )
    return Redirect(portal.url(f"promises/{promise_id}") + "?done=changed", status_code=303)


@post("/promises/{promise_id:int}/withdraw", opt=OPT)
async def withdraw_promise(
    portal: PortalDep, promise_id: FromPath[int], request: Request[Any, Any, Any]
) -> Response[Any]:
    form = await request.form()
    try:
        await service.withdraw(
            portal, promise_id, _text(form.get("note")), customer_id=portal.customer["id"],
            actor="customer", locale=portal.locale,
        )
    except PromiseNotFound:
        raise NotFoundException() from None
    except PromiseRefused as refused:
        return await _detail(portal, promise_id, errors=refused.errors, status_code=422)
    return Redirect(portal.url(f"promises/{promise_id}") + "?done=withdrawn", status_code=303)


PORTAL_ROUTES = [new_promise, make_promise, list_promises, promise_page, change_promise,
                 withdraw_promise]
