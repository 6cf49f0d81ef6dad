"""The comparison apps of the portal benchmark, served by uvicorn like the real one.

`create_app` is the real app (`build_app`, same config, middleware and Jinja environment)
plus two routes:

- `/portal_memory/`: the portal home template (`core:portal/home.html`) rendered from the
  context the real page built once at start-up for the customer of `BENCH_PORTAL_TOKEN`,
  so the work left is routing, the template and the response: no SQL. Its path starts with
  `/portal`, so the app's security-header wrapper treats it as it treats the real page.
- `/portal_naive/`: the same page as a straightforward Litestar + Piccolo handler would build
  it (`naive_home`): the session's link, customer, tenant, settings, switches, toggles, the
  page of invoices and the balances read with Piccolo's query builder, one query each, on
  Piccolo's engine (its own pool on PostgreSQL; a connection and a thread per query on
  SQLite), then the same template. The reference the issue's budget was set against
  ("a naive Litestar + Piccolo page"), measured here instead of quoted.
- `/portal_one_query/`: DESIGN's "naive Piccolo page" (section 10: about 1,600 req/s on
  PostgreSQL against 3,200 from memory): the page's invoice rows by one Piccolo select of the
  captured customer's open invoices, everything else from the captured context; no link
  look-up, no balances. What one ORM query per page costs on each engine.
- `/bench/hello`: a plain-text hello through the same app and middleware.

`create_bare_app` is a bare Litestar app with one hello route: the server's floor.
"""

from __future__ import annotations

import hmac
import os
from typing import Any

from litestar import Litestar, MediaType, Request, get
from litestar.exceptions import NotFoundException
from litestar.response import Template

MEMORY_PATH = "/portal_memory/"
NAIVE_PATH = "/portal_naive/"
ONE_QUERY_PATH = "/portal_one_query/"
HELLO_PATH = "/bench/hello"
TOKEN_ENV = "BENCH_PORTAL_TOKEN"  # noqa: S105 - the name of a variable
"""Not ARPORTAL_*: the config reads every ARPORTAL_ variable as a setting."""


@get(HELLO_PATH, media_type=MediaType.TEXT, include_in_schema=False)
async def hello() -> str:
    return "Hello, world!"


def create_app() -> Litestar:
    from arportal.app import build_app
    from arportal.config import load_config
    from bench.inprocess import HOME_TEMPLATE, capture_home

    app = build_app(load_config(), migrate=False)
    captured: dict[str, Any] = {}

    async def capture(app: Litestar) -> None:
        captured["context"], _ = await capture_home(app, os.environ[TOKEN_ENV])

    @get(MEMORY_PATH, include_in_schema=False)
    async def memory_home() -> Template:
        return Template(
            template_name=HOME_TEMPLATE, context=captured["context"], media_type=MediaType.HTML
        )

    @get(NAIVE_PATH, include_in_schema=False)
    async def naive(request: Request[Any, Any, Any]) -> Template:
        context = await naive_home(request, request.app.state.secret)
        return Template(template_name=HOME_TEMPLATE, context={**captured["context"], **context},
                        media_type=MediaType.HTML)

    @get(ONE_QUERY_PATH, include_in_schema=False)
    async def one_query() -> Template:
        context = captured["context"]
        rows = await one_query_rows(context["portal"])
        page = type(context["page"])(rows=rows, next_cursor=context["page"].next_cursor)
        return Template(template_name=HOME_TEMPLATE, context={**context, "page": page},
                        media_type=MediaType.HTML)

    app.on_startup.append(capture)
    app.register(memory_home)
    app.register(naive)
    app.register(one_query)
    app.register(hello)
    return app


def create_bare_app() -> Litestar:
    return Litestar(route_handlers=[hello], logging_config=None, debug=False)


async def naive_home(request: Request[Any, Any, Any], secret: bytes) -> dict[str, Any]:
    """The home page's data, read the way a first version would read it: the session cookie's
    link, then its customer, tenant, settings, switches and toggles, the first page of open
    invoices and the balances, one Piccolo query each (nine in all). Answers what the template
    needs of them; the rest of the context is the captured one (brand, tabs, strings)."""
    import datetime as dt

    import msgspec
    from piccolo.query.functions.aggregate import Count, Sum

    from arportal.models import (
        Customer,
        CustomerToggleValue,
        Invoice,
        PortalLink,
        Tenant,
        TenantFeature,
        TenantSetting,
    )
    from arportal.portal.access import SESSION_COOKIE, session_link_id, session_value
    from arportal.portal.queries import HOME_COLUMNS, InvoicePage
    from arportal.settings import PortalSettings

    cookie = request.cookies.get(SESSION_COOKIE, "")
    link = await PortalLink.select().where(PortalLink.id == (session_link_id(cookie) or 0)).first()
    if link is None or link["revoked_at"] is not None or not hmac.compare_digest(
        cookie, session_value(secret, link)
    ):
        raise NotFoundException()
    customer = await Customer.select().where(Customer.id == link["customer"]).first()
    tenant = await Tenant.select().where(Tenant.id == customer["tenant"]).first()
    settings = await TenantSetting.select().where(TenantSetting.tenant == tenant["id"])
    await TenantFeature.select().where(TenantFeature.tenant == tenant["id"])  # for the buttons
    toggles = await CustomerToggleValue.select().where(
        (CustomerToggleValue.tenant == tenant["id"])
        & (CustomerToggleValue.customer == customer["id"])
    )
    if any(row["key"] == "portal" and not row["enabled"] for row in toggles):
        raise NotFoundException()
    portal = next((row["data"] for row in settings if row["section"] == "portal"), {})
    if isinstance(portal, str):
        portal = msgspec.json.decode(portal)
    size = msgspec.convert(portal, PortalSettings).page_size
    open_invoices = (
        (Invoice.tenant == tenant["id"]) & (Invoice.customer == customer["id"])
        & (Invoice.status == "open")
    )
    columns = [getattr(Invoice, name.strip()) for name in HOME_COLUMNS.split(",")]
    rows = await (
        Invoice.select(*columns).where(open_invoices)
        .order_by(Invoice.due_date, Invoice.id).limit(size + 1)
    )
    totals = await (
        Invoice.select(Invoice.currency, Count(alias="open_count"),
                       Sum(Invoice.amount_due_minor, alias="due_minor"))
        .where(open_invoices).group_by(Invoice.currency)
    )
    today = dt.date.today()
    overdue = await (
        Invoice.select(Invoice.currency, Count(alias="overdue_count"),
                       Sum(Invoice.amount_due_minor, alias="overdue_minor"))
        .where(open_invoices & (Invoice.due_date < today) & (Invoice.amount_due_minor > 0))
        .group_by(Invoice.currency)
    )
    late = {row["currency"]: row for row in overdue}
    balances = []
    for row in sorted(totals, key=lambda row: row["currency"]):
        past = late.get(row["currency"], {})
        balances.append({
            "currency": row["currency"], "open_count": row["open_count"],
            "due_minor": int(row["due_minor"] or 0),
            "overdue_minor": int(past.get("overdue_minor") or 0),
            "overdue_count": past.get("overdue_count", 0),
        })
    more = len(rows) > size
    rows = rows[:size]
    for row in rows:
        row["overdue"] = row["due_date"] < today and row["amount_due_minor"] > 0
        row["url"] = f"/portal/invoices/{row['external_id']}"
    page = InvoicePage(
        rows=rows,
        next_cursor=f"{rows[-1]['due_date'].isoformat()}.{rows[-1]['id']}" if more else None,
    )
    return {"page": page, "totals": balances,
            "open_count": sum(row["open_count"] for row in balances)}


async def one_query_rows(portal: Any) -> list[dict[str, Any]]:
    """The open tab's first page for the portal context's customer, one Piccolo select."""
    import datetime as dt

    from arportal.models import Invoice
    from arportal.portal.queries import HOME_COLUMNS

    size = portal.portal_settings.page_size
    columns = [getattr(Invoice, name.strip()) for name in HOME_COLUMNS.split(",")]
    rows = await (
        Invoice.select(*columns)
        .where((Invoice.tenant == portal.tenant_id) & (Invoice.customer == portal.customer["id"])
               & (Invoice.status == "open"))
        .order_by(Invoice.due_date, Invoice.id).limit(size)
    )
    today = dt.date.today()
    for row in rows:
        row["overdue"] = row["due_date"] < today and row["amount_due_minor"] > 0
        row["url"] = f"/portal/invoices/{row['external_id']}"
    return rows  # type: ignore[no-any-return]
