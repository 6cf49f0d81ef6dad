"""Building a tenant with customers and invoices through the admin API, running the job on a
given day, and reading the portal as the customer does."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

from arportal.clock import freeze_today
from arportal.jobs import JobRun, run_due_jobs
from tests.conftest import Running, TenantHandle, make_tenant
from tests.plugins.late_fees_netsuite.standin import NetSuiteStandIn

JOB = "late_fees_netsuite.run"
AUG_14 = dt.date(2026, 8, 14)
NOV_3 = dt.date(2026, 11, 3)


async def configured_tenant(
    app: Running, standin: NetSuiteStandIn, slug: str = "acme", **settings: Any
) -> TenantHandle:
    tenant = await make_tenant(slug, slug.title())
    values = {"rate": "3", "recurrence": "monthly", "max_concurrent_requests": 1, **settings}
    section = standin.settings(**{k: v for k, v in values.items() if v is not None})
    response = await app.client.patch(
        "/api/v1/settings", json={"late_fees_netsuite": section}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    return tenant


async def add_customer(app: Running, tenant: TenantHandle, external_id: str, *,
                       netsuite_id: str | None = None, late_fees: bool = True,
                       locale: str = "en") -> dict[str, Any]:
    extra = {"netsuite_id": netsuite_id} if netsuite_id else {}
    response = await app.client.put(
        "/api/v1/customers",
        json=[{"external_id": external_id, "name": f"Customer {external_id}",
               "currency": "USD", "locale": locale, "extra": extra}],
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    if late_fees:
        await set_toggle(app, tenant, external_id, True)
    return dict(response.json()[0])


async def set_toggle(app: Running, tenant: TenantHandle, external_id: str, on: bool) -> None:
    response = await app.client.patch(
        f"/api/v1/customers/{external_id}", json={"toggles": {"late_fees": on}},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text


async def add_invoice(app: Running, tenant: TenantHandle, customer: str, number: str, *,
                      due: dt.date = AUG_14, total: str = "10000.00",
                      amount_due: str | None = None, status: str = "open") -> None:
    item = {"external_id": number, "customer_external_id": customer, "number": number,
            "issue_date": (due - dt.timedelta(days=30)).isoformat(),
            "due_date": due.isoformat(), "currency": "USD", "total": total, "status": status}
    if amount_due is not None:
        item["amount_due"] = amount_due
    response = await app.client.put("/api/v1/invoices", json=[item], headers=tenant.headers)
    assert response.status_code == 200, response.text


async def run_job(app: Running, day: dt.date) -> list[JobRun]:
    freeze_today(day)
    return await run_due_jobs(app.host, app.config, force=True, only=[JOB])


async def fees(app: Running, tenant: TenantHandle, **query: str) -> list[dict[str, Any]]:
    response = await app.client.get("/api/v1/late-fees", params=query, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def open_portal(app: Running, tenant: TenantHandle, customer: str) -> None:
    response = await app.client.get(f"/api/v1/customers/{customer}", headers=tenant.headers)
    path = response.json()["portal_url"].removeprefix("http://testserver")
    entered = await app.client.get(path)
    assert entered.status_code == 303, entered.text


def text(markup: str) -> str:
    """The visible text of some HTML, whitespace collapsed (babel's narrow spaces too)."""
    plain = html.unescape(re.sub(r"<[^>]+>", " ", markup))
    return re.sub(r"\s+", " ", plain.replace("\u202f", " ").replace("\xa0", " ")).strip()


def part(markup: str, start: str, end: str) -> str:
    index = markup.index(start)
    return markup[index : markup.index(end, index)]
