"""The statements on the portal (`<portal>/statements/...`) and the admin API
(`/api/v1/customers/{external_id}/statements/...`). Each route is tagged with its feature, so
the core answers 404 while a tenant has it off.

A bad period answers 400: on the portal a page in the customer's language with the form to
try again, on the API `{"detail": ..., "field": ...}`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from litestar import MediaType, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from arportal import PortalDep, TenantContext, TenantDep, fetch, portal_page
from arportal.plugins.statements import documents
from arportal.plugins.statements.data import TooManyLines
from arportal.plugins.statements.documents import RangeError
from arportal.plugins.statements.i18n import translator
from arportal.plugins.statements.pdf import ACCOUNT, Document

ACCOUNT_FEATURE = "account_statement"
OUTSTANDING_FEATURE = "outstanding_statement"
PDF = "application/pdf"
CSV = "text/csv"
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")

From = Annotated[str | None, QueryParameter(name="from", required=False)]
To = Annotated[str | None, QueryParameter(name="to", required=False)]

TOO_MANY = (
    "This statement would have more than {limit} lines, the most a statement may have: "
    "choose a shorter period."
)


def filename(document: Document, extension: str) -> str:
    name = "account-statement" if document.kind == ACCOUNT else "outstanding-statement"
    customer = _UNSAFE_FILENAME.sub("_", document.party.customer_external_id)[:60]
    return f"{name}-{customer}-{document.party.statement_date.isoformat()}.{extension}"


def _download(content: bytes, media_type: str, name: str) -> Response[bytes]:
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


async def _answer(ctx: TenantContext, document: Document, extension: str) -> Response[bytes]:
    if extension == "pdf":
        return _download(await documents.pdf(ctx, document), PDF, filename(document, "pdf"))
    return _download(await documents.csv(ctx, document), CSV, filename(document, "csv"))


# --- Portal ----------------------------------------------------------------------------------


def panel_context(ctx: Any) -> dict[str, Any]:
    """What the "Statements" panel needs: which statements are on, the default period."""
    start, end = documents.period(None, None, ctx.today())
    return {
        "st": translator(getattr(ctx, "locale", "en")),
        "account": ctx.feature_enabled(ACCOUNT_FEATURE),
        "outstanding": ctx.feature_enabled(OUTSTANDING_FEATURE),
        "start": start.isoformat(),
        "end": end.isoformat(),
    }


async def _portal_error(portal: Any, error: RangeError | TooManyLines) -> Template:
    st = translator(portal.locale)
    if isinstance(error, TooManyLines):
        message = st(TOO_MANY, limit=error.limit)
    else:
        values = {k: st(v) if isinstance(v, str) else v for k, v in error.values.items()}
        message = st(error.message, **values)
    return await portal_page(
        portal,
        "statements:error.html",
        status_code=400,
        message=message,
        home_url=portal.url(""),
        ctx=portal,
        **panel_context(portal),
    )


async def _portal_account(portal: Any, start: str | None, end: str | None, ext: str) -> Any:
    try:
        document = await documents.account_document(portal, portal.customer, start, end)
    except (RangeError, TooManyLines) as error:
        return await _portal_error(portal, error)
    return await _answer(portal, document, ext)


async def _portal_outstanding(portal: Any, ext: str) -> Any:
    try:
        document = await documents.outstanding_document(portal, portal.customer)
    except TooManyLines as error:
        return await _portal_error(portal, error)
    return await _answer(portal, document, ext)


@get("/statements/account.pdf", opt={"feature": ACCOUNT_FEATURE}, media_type=MediaType.HTML)
async def portal_account_pdf(portal: PortalDep, start: From = None, end: To = None) -> Any:
    """The account statement of `from` to `to` (default: the 12 months up to today)."""
    return await _portal_account(portal, start, end, "pdf")


@get("/statements/account.csv", opt={"feature": ACCOUNT_FEATURE}, media_type=MediaType.HTML)
async def portal_account_csv(portal: PortalDep, start: From = None, end: To = None) -> Any:
    return await _portal_account(portal, start, end, "csv")


@get(
    "/statements/outstanding.pdf", opt={"feature": OUTSTANDING_FEATURE}, media_type=MediaType.HTML
)
async def portal_outstanding_pdf(portal: PortalDep) -> Any:
    return await _portal_outstanding(portal, "pdf")


@get(
    "/statements/outstanding.csv", opt={"feature": OUTSTANDING_FEATURE}, media_type=MediaType.HTML
)
async def portal_outstanding_csv(portal: PortalDep) -> Any:
    return await _portal_outstanding(portal, "csv")


# --- Admin API -------------------------------------------------------------------------------


def _api_error(error: RangeError | TooManyLines) -> Response[dict[str, Any]]:
    if isinstance(error, TooManyLines):
        detail = TOO_MANY.format(limit=error.limit)
        return Response({"detail": detail, "field": "from"}, status_code=400)
    return Response({"detail": str(error), "field": error.field}, status_code=400)


async def _customer(tenant: TenantContext, external_id: str) -> dict[str, Any]:
    rows = await fetch(
        "SELECT id, external_id, name, locale, currency FROM customer "
        "WHERE tenant = {} AND external_id = {}",
        tenant.tenant_id,
        external_id,
    )
    if not rows:
        raise NotFoundException(f"no customer {external_id!r}")
    return rows[0]


async def _api_account(
    tenant: TenantContext, external_id: str, start: str | None, end: str | None, ext: str
) -> Any:
    customer = await _customer(tenant, external_id)
    try:
        document = await documents.account_document(tenant, customer, start, end)
    except (RangeError, TooManyLines) as error:
        return _api_error(error)
    return await _answer(tenant, document, ext)


async def _api_outstanding(tenant: TenantContext, external_id: str, ext: str) -> Any:
    customer = await _customer(tenant, external_id)
    try:
        document = await documents.outstanding_document(tenant, customer)
    except TooManyLines as error:
        return _api_error(error)
    return await _answer(tenant, document, ext)


ADMIN_PATH = "/customers/{external_id:str}/statements"


@get(
    ADMIN_PATH + "/account.pdf",
    opt={"feature": ACCOUNT_FEATURE},
    summary="A customer's account statement (PDF), ?from=&to= as YYYY-MM-DD",
    tags=["statements"],
)
async def api_account_pdf(
    tenant: TenantDep, external_id: FromPath[str], start: From = None, end: To = None
) -> Any:
    return await _api_account(tenant, external_id, start, end, "pdf")


@get(
    ADMIN_PATH + "/account.csv",
    opt={"feature": ACCOUNT_FEATURE},
    summary="A customer's account statement (CSV), ?from=&to= as YYYY-MM-DD",
    tags=["statements"],
)
async def api_account_csv(
    tenant: TenantDep, external_id: FromPath[str], start: From = None, end: To = None
) -> Any:
    return await _api_account(tenant, external_id, start, end, "csv")


@get(
    ADMIN_PATH + "/outstanding.pdf",
    opt={"feature": OUTSTANDING_FEATURE},
    summary="A customer's outstanding-balance statement (PDF)",
    tags=["statements"],
)
async def api_outstanding_pdf(tenant: TenantDep, external_id: FromPath[str]) -> Any:
    return await _api_outstanding(tenant, external_id, "pdf")


@get(
    ADMIN_PATH + "/outstanding.csv",
    opt={"feature": OUTSTANDING_FEATURE},
    summary="A customer's outstanding-balance statement (CSV)",
    tags=["statements"],
)
async def api_outstanding_csv(tenant: TenantDep, external_id: FromPath[str]) -> Any:
    return await _api_outstanding(tenant, external_id, "csv")


PORTAL_ROUTES = [portal_account_pdf, portal_account_csv, portal_outstanding_pdf,
                 portal_outstanding_csv]
ADMIN_ROUTES = [api_account_pdf, api_account_csv, api_outstanding_pdf, api_outstanding_csv]
