"""The admin API under `/api/v1/late-fees` (the API key's tenant only).

- `GET /late-fees?status=&customer=&cursor=&limit=`: fees, oldest first.
- `GET /late-fees/{id}`: one fee.
- `POST /late-fees/{id}/waive`: waive it (a posted fee is credited in NetSuite first).
- `POST /late-fees/{id}/retry`: post a failed fee again (after fixing its cause).
- `POST /late-fees/check`: test the NetSuite connection; answers what is wrong in words. It
  answers while the connection is still incomplete (a `setup` route), to say what is missing.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Response, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, FromQuery, QueryParameter

from arportal import TenantContext, TenantDep, from_minor
from arportal.plugins.late_fees_netsuite import posting
from arportal.plugins.late_fees_netsuite.models import STATUSES, LateFee
from arportal.plugins.late_fees_netsuite.netsuite import NetSuiteClient, NetSuiteError
from arportal.plugins.late_fees_netsuite.settings import SECTION, LateFeeSettings

FEATURE = "late_fees_netsuite"

_SELECT = (
    "SELECT f.id, f.period, f.period_end, f.assessed_on, f.currency, f.amount_minor, "
    "f.basis_minor, f.policy, f.status, f.external_id, f.netsuite_id, f.credit_memo_id, "
    "f.error, f.attempts, f.created_at, f.posted_at, f.waived_at, "
    "i.external_id AS invoice_external_id, i.number AS invoice_number, "
    "c.external_id AS customer_external_id "
    "FROM late_fees_netsuite_fee f JOIN invoice i ON i.id = f.invoice "
    "JOIN customer c ON c.id = f.customer WHERE f.tenant = {}"
)


class FeeOut(msgspec.Struct, kw_only=True):
    id: int
    customer: str
    invoice: str
    invoice_number: str
    period: int
    period_end: dt.date
    assessed_on: dt.date
    currency: str
    amount: str
    basis: str
    """The invoice's amount due the fee was computed on."""
    policy: dict[str, Any]
    status: str
    external_id: str
    netsuite_id: str | None
    credit_memo_id: str | None
    error: str | None
    attempts: int
    created_at: dt.datetime
    posted_at: dt.datetime | None
    waived_at: dt.datetime | None


class FeesPage(msgspec.Struct, kw_only=True):
    items: list[FeeOut]
    next_cursor: str | None


class CheckOut(msgspec.Struct, kw_only=True):
    ok: bool
    """The connection works (credentials, account, fee item)."""
    message: str
    checked: list[str]
    problems: list[str]
    warnings: list[str]


def _date(value: Any) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _stamp(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    stamp = dt.datetime.fromisoformat(value)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def fee_out(row: dict[str, Any]) -> FeeOut:
    policy = row["policy"]
    if isinstance(policy, str | bytes):
        policy = msgspec.json.decode(policy)
    currency = row["currency"]
    return FeeOut(
        id=row["id"],
        customer=row["customer_external_id"],
        invoice=row["invoice_external_id"],
        invoice_number=row["invoice_number"],
        period=row["period"],
        period_end=_date(row["period_end"]),
        assessed_on=_date(row["assessed_on"]),
        currency=currency,
        amount=str(from_minor(int(row["amount_minor"]), currency)),
        basis=str(from_minor(int(row["basis_minor"]), currency)),
        policy=policy,
        status=row["status"],
        external_id=row["external_id"],
        netsuite_id=row["netsuite_id"],
        credit_memo_id=row["credit_memo_id"],
        error=row["error"],
        attempts=int(row["attempts"]),
        created_at=_stamp(row["created_at"]),  # type: ignore[arg-type]
        posted_at=_stamp(row["posted_at"]),
        waived_at=_stamp(row["waived_at"]),
    )


def _settings(tenant: TenantContext) -> LateFeeSettings:
    return tenant.settings(SECTION)  # type: ignore[no-any-return]


async def _one(tenant: TenantContext, fee_id: int) -> FeeOut:
    rows = await LateFee.raw(_SELECT + " AND f.id = {}", tenant.tenant_id, fee_id)
    if not rows:
        raise NotFoundException(f"no late fee {fee_id}")
    return fee_out(rows[0])


def _unprocessable(field: str, message: str) -> HTTPException:
    return HTTPException(status_code=422, detail=f"{field}: {message}", extra={"field": field})


@get("/late-fees", opt={"feature": FEATURE}, summary="Late fees, oldest first")
async def list_fees(
    tenant: TenantDep,
    status: FromQuery[str | None] = None,
    customer: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
) -> FeesPage:
    """Filter by `status` (pending, posted, failed, waived) and `customer` (external id);
    pass `next_cursor` back as `cursor` for the next page."""
    sql, args = _SELECT, [tenant.tenant_id]
    if status:
        if status not in STATUSES:
            raise _unprocessable("status", f"expected one of {', '.join(STATUSES)}")
        sql += " AND f.status = {}"
        args.append(status)
    if customer:
        sql += " AND c.external_id = {}"
        args.append(customer)
    if cursor is not None:
        if not cursor.isdigit() or len(cursor) > 18:
            raise _unprocessable("cursor", "not one this endpoint gave")
        sql += " AND f.id > {}"
        args.append(int(cursor))
    sql += " ORDER BY f.id LIMIT {}"
    args.append(limit + 1)
    rows = await LateFee.raw(sql, *args)
    more = len(rows) > limit
    rows = rows[:limit]
    return FeesPage(
        items=[fee_out(row) for row in rows],
        next_cursor=str(rows[-1]["id"]) if more else None,
    )


@get("/late-fees/{fee_id:int}", opt={"feature": FEATURE}, summary="One late fee")
async def get_fee(tenant: TenantDep, fee_id: FromPath[int]) -> FeeOut:
    return await _one(tenant, fee_id)


def _netsuite_failure(what: str, exc: NetSuiteError) -> Response[dict[str, Any]]:
    return Response({"detail": f"{what}: {exc.message}", "retryable": exc.retryable},
                    status_code=502)


@post("/late-fees/{fee_id:int}/waive", opt={"feature": FEATURE}, status_code=200,
      summary="Waive a fee (a posted one is credited in NetSuite)")
async def waive_fee(tenant: TenantDep, fee_id: FromPath[int]) -> Response[Any]:
    settings = _settings(tenant)
    try:
        async with NetSuiteClient(settings) as client:
            await posting.waive(tenant, settings, client, fee_id)
    except LookupError:
        raise NotFoundException(f"no late fee {fee_id}") from None
    except posting.Busy:
        raise HTTPException(
            status_code=409, detail="the fee is being sent to NetSuite right now; try again soon"
        ) from None
    except NetSuiteError as exc:
        return _netsuite_failure("NetSuite did not take the credit memo", exc)
    return Response(await _one(tenant, fee_id))


@post("/late-fees/{fee_id:int}/retry", opt={"feature": FEATURE}, status_code=200,
      summary="Post a failed fee again")
async def retry_fee(tenant: TenantDep, fee_id: FromPath[int]) -> FeeOut:
    settings = _settings(tenant)
    await _one(tenant, fee_id)
    async with NetSuiteClient(settings) as client:
        result = await posting.retry(tenant, settings, client, fee_id)
    if result == "not failed":
        raise HTTPException(status_code=409, detail="only a failed fee can be retried")
    return await _one(tenant, fee_id)


@post("/late-fees/check", opt={"feature": FEATURE, "setup": True}, status_code=200,
      summary="Test the NetSuite connection")
async def check(tenant: TenantDep) -> CheckOut:
    settings = _settings(tenant)
    warnings = []
    policy = settings.missing_policy()
    if policy:
        warnings.append(f"no fee will be assessed: {policy}")
    missing = settings.missing_connection()
    if missing:
        fields = ", ".join(missing)
        return CheckOut(
            ok=False,
            message=f"The NetSuite connection is not configured: {fields} "
            f"{'is' if len(missing) == 1 else 'are'} not set (settings section {SECTION}). "
            "Late fees are off until it is.",
            checked=[],
            problems=[f"{name} is not set" for name in missing],
            warnings=warnings,
        )
    try:
        async with NetSuiteClient(settings) as client:
            checked = await client.check()
    except NetSuiteError as exc:
        return CheckOut(
            ok=False,
            message=f"The NetSuite connection does not work: {exc.message}.",
            checked=[],
            problems=[exc.message],
            warnings=warnings,
        )
    return CheckOut(
        ok=True,
        message=f"The NetSuite connection works: {'; '.join(checked)}.",
        checked=checked,
        problems=[],
        warnings=warnings,
    )


ADMIN_ROUTES = [list_fees, get_fee, waive_fee, retry_fee, check]
