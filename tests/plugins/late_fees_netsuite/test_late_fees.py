"""Late fees as an operator and a customer see them, against the NetSuite stand-in, on SQLite
and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

import arportal
from arportal.clock import freeze_today
from arportal.declarations import Hold
from arportal.plugins.late_fees_netsuite import netsuite
from arportal.plugins.late_fees_netsuite import plugin as late_fees
from arportal.plugins.late_fees_netsuite.models import LateFee
from arportal.tenancy import load_context
from tests.conftest import Running, make_tenant
from tests.plugins.late_fees_netsuite.helpers import (
    AUG_14,
    NOV_3,
    add_customer,
    add_invoice,
    configured_tenant,
    fees,
    open_portal,
    part,
    run_job,
    set_toggle,
    text,
)
from tests.plugins.late_fees_netsuite.standin import NetSuiteStandIn


class Holder:
    """Holds invoices whose number starts with HOLD-, as the disputes plugin holds an invoice
    in dispute."""

    @arportal.hookimpl
    def arportal_invoice_holds(self, invoices: list[Any]) -> list[Hold]:
        return [Hold(invoice_id=i["id"], reason="dispute") for i in invoices
                if str(i["number"]).startswith("HOLD-")]


@pytest.fixture
def plugins() -> list[tuple[str, Any]]:
    return [("late_fees_netsuite", late_fees), ("holder", Holder())]


@pytest.fixture(autouse=True)
def unfreeze() -> Iterator[None]:
    yield
    freeze_today(None)


def summary(runs: list[Any], slug: str = "acme") -> dict[str, Any]:
    (run,) = [r for r in runs if r.tenant_slug == slug]
    assert run.ok, run.error
    return dict(run.result)


# --- the feature and its settings ------------------------------------------------------------


async def test_the_feature_exists_only_once_the_connection_is_configured(
    app: Running, standin: NetSuiteStandIn
) -> None:
    client = app.client
    tenant = await make_tenant()
    headers = tenant.headers
    assert (await client.get("/api/v1/late-fees", headers=headers)).status_code == 404
    check = await client.post("/api/v1/late-fees/check", headers=headers)
    assert check.status_code == 200
    assert check.json()["ok"] is False
    assert check.json()["message"] == (
        "The NetSuite connection is not configured: account_id, consumer_key, consumer_secret, "
        "token_id, token_secret, fee_item_id are not set (settings section late_fees_netsuite)."
        " Late fees are off until it is."
    )
    await add_customer(app, tenant, "C-1")
    await add_invoice(app, tenant, "C-1", "INV-1")
    assert await run_job(app, NOV_3) == [], "the job skips a tenant without a connection"

    section = standin.settings(rate="3")
    del section["fee_item_id"]
    await client.patch("/api/v1/settings", json={"late_fees_netsuite": section}, headers=headers)
    assert (await client.get("/api/v1/late-fees", headers=headers)).status_code == 404
    check = (await client.post("/api/v1/late-fees/check", headers=headers)).json()
    assert check["problems"] == ["fee_item_id is not set"]

    patch = {"late_fees_netsuite": {"fee_item_id": "900"}}
    await client.patch("/api/v1/settings", json=patch, headers=headers)
    assert (await client.get("/api/v1/late-fees", headers=headers)).json()["items"] == []
    check = (await client.post("/api/v1/late-fees/check", headers=headers)).json()
    assert check["ok"] is True, check
    assert check["message"] == (
        "The NetSuite connection works: signed in to NetSuite account 1234567_SB1 and read "
        "invoices; fee lines will use item 900 (Late fee)."
    )
    assert summary(await run_job(app, NOV_3))["assessed"] == 2

    await client.patch("/api/v1/settings", json={"features": {"late_fees_netsuite": False}},
                       headers=headers)
    assert (await client.get("/api/v1/late-fees", headers=headers)).status_code == 404
    assert (await client.post("/api/v1/late-fees/check", headers=headers)).status_code == 404
    assert await run_job(app, NOV_3) == []


async def test_credentials_are_write_only_and_never_logged(
    app: Running, standin: NetSuiteStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tenant = await configured_tenant(app, standin)
    shown = (await app.client.get("/api/v1/settings", headers=tenant.headers)).json()
    section = shown["late_fees_netsuite"]
    assert {k: section[k] for k in ("consumer_key", "consumer_secret", "token_id",
                                    "token_secret")} == dict.fromkeys(
        ("consumer_key", "consumer_secret", "token_id", "token_secret"), "********")
    assert section["account_id"] == "1234567_SB1" and section["rate"] == "3"

    # Sending the masked settings back keeps the secrets.
    response = await app.client.patch("/api/v1/settings", json={"late_fees_netsuite": section},
                                      headers=tenant.headers)
    assert response.status_code == 200
    check = (await app.client.post("/api/v1/late-fees/check", headers=tenant.headers)).json()
    assert check["ok"] is True

    await add_customer(app, tenant, "C-1")
    await add_invoice(app, tenant, "C-1", "INV-1")
    standin.fail_next(429)
    await run_job(app, NOV_3)
    await app.client.patch(
        "/api/v1/settings", json={"late_fees_netsuite": {"token_secret": "ts-wrong"}},
        headers=tenant.headers,
    )
    check = (await app.client.post("/api/v1/late-fees/check", headers=tenant.headers)).json()
    assert check["ok"] is False and "NetSuite refused the credentials" in check["message"]

    audit = (await app.client.get("/api/v1/audit", headers=tenant.headers)).text
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in (standin.account.consumer_key, standin.account.consumer_secret,
                   standin.account.token_id, standin.account.token_secret, "ts-wrong"):
        assert secret not in logged and secret not in audit and secret not in check["message"]


async def test_bad_settings_are_refused_with_the_field(app: Running,
                                                       standin: NetSuiteStandIn) -> None:
    tenant = await configured_tenant(app, standin)
    for patch, field in [
        ({"rate": "-1"}, "late_fees_netsuite.rate"),
        ({"recurrence": "daily"}, "late_fees_netsuite.recurrence"),
        ({"account_id": "12 34"}, "late_fees_netsuite.account_id"),
        ({"fee_item_id": "Late fee"}, "late_fees_netsuite.fee_item_id"),
        ({"base_url": "ftp://x"}, "late_fees_netsuite.base_url"),
        ({"nope": 1}, "late_fees_netsuite.nope"),
    ]:
        response = await app.client.patch(
            "/api/v1/settings", json={"late_fees_netsuite": patch}, headers=tenant.headers
        )
        assert response.status_code == 422, patch
        assert response.json()["field"] == field, response.json()


# --- assessing and posting --------------------------------------------------------------------


async def test_the_issue_example_is_assessed_posted_and_shown_on_the_portal(
    app: Running, standin: NetSuiteStandIn
) -> None:
    tenant = await configured_tenant(app, standin)
    await add_customer(app, tenant, "C-1", netsuite_id="4711")
    await add_invoice(app, tenant, "C-1", "INV-1")
    await add_invoice(app, tenant, "C-1", "INV-2", due=dt.date(2026, 10, 30), total="500.00")

    assert summary(await run_job(app, NOV_3)) == {
        "assessed": 2, "posted": 2, "failed": 0, "retrying": 0, "errors": []
    }
    listed = await fees(app, tenant)
    assert [(f["invoice"], f["period"], f["period_end"], f["amount"], f["status"])
            for f in listed] == [
        ("INV-1", 1, "2026-09-14", "300.00", "posted"),
        ("INV-1", 2, "2026-10-15", "300.00", "posted"),
    ]
    assert listed[0]["basis"] == "10000.00" and listed[0]["policy"]["rate"] == "3"
    created = standin.created()
    assert sorted(f["netsuite_id"] for f in listed) == sorted(r["id"] for r in created)
    first = next(r for r in created if r["externalId"] == listed[0]["external_id"])
    assert first["entity"] == {"id": "4711"}, "the customer's netsuite_id (extra fields)"
    assert first["tranDate"] == "2026-11-03"
    (line,) = first["item"]["items"]
    assert line["item"] == {"id": "900"} and line["amount"] == Decimal("300.00")
    assert "INV-1" in line["description"]
    assert listed[0]["external_id"].startswith("arportal-acme-fee-")

    assert summary(await run_job(app, NOV_3))["assessed"] == 0, "a repeated run adds nothing"
    assert len(standin.created()) == 2

    await open_portal(app, tenant, "C-1")
    home = (await app.client.get("/portal/")).text
    balance = text(part(home, 'class="balances"', "</section>"))
    assert "Total due USD $11,100.00" in balance, balance
    assert "of which fees and charges $600.00" in balance
    row = text(part(home, ">INV-1<", "</tr>"))
    assert "+ Late fee ×2 $600.00" in row, row
    assert "Late fee" not in text(part(home, ">INV-2<", "</tr>"))
    page = (await app.client.get("/portal/invoices/INV-1")).text
    charges = text(part(page, 'class="charges"', "</section>"))
    assert "Sep 14, 2026 Late fee $300.00 Oct 15, 2026 Late fee $300.00" in charges, charges
    assert "Amount due with fees and charges $10,600.00" in text(page)


async def test_toggles_holds_and_policy_changes(app: Running, standin: NetSuiteStandIn) -> None:
    tenant = await configured_tenant(app, standin)
    await add_customer(app, tenant, "C-1", late_fees=False)
    await add_customer(app, tenant, "C-2")
    await add_invoice(app, tenant, "C-1", "INV-1")
    await add_invoice(app, tenant, "C-2", "INV-2")
    await add_invoice(app, tenant, "C-2", "HOLD-3")
    await add_invoice(app, tenant, "C-2", "PAID-4", status="paid")

    await run_job(app, NOV_3)
    assert [(f["invoice"], f["period"]) for f in await fees(app, tenant)] == [
        ("INV-2", 1), ("INV-2", 2),
    ], "only customers with the toggle on, never an invoice on hold or paid"
    assert {r["entity"]["id"] for r in standin.created()} == {"C-2"}, "else its external id"

    await set_toggle(app, tenant, "C-1", True)
    await run_job(app, NOV_3)
    assert [f["period"] for f in await fees(app, tenant, customer="C-1")] == [1, 2], (
        "turning the toggle on assesses existing overdue invoices"
    )

    await set_toggle(app, tenant, "C-2", False)
    await app.client.patch(
        "/api/v1/settings",
        json={"late_fees_netsuite": {"rate": "5", "recurrence": "weekly"}},
        headers=tenant.headers,
    )
    await run_job(app, dt.date(2026, 11, 20))
    c2 = await fees(app, tenant, customer="C-2")
    assert [(f["period"], f["amount"]) for f in c2] == [(1, "300.00"), (2, "300.00")], (
        "toggle off: no new fees, the old ones stay"
    )
    c1 = await fees(app, tenant, customer="C-1")
    assert [(f["period"], f["period_end"], f["amount"]) for f in c1] == [
        (1, "2026-09-14", "300.00"), (2, "2026-10-15", "300.00"),
        (3, "2026-10-22", "500.00"), (4, "2026-10-29", "500.00"), (5, "2026-11-05", "500.00"),
        (6, "2026-11-12", "500.00"), (7, "2026-11-19", "500.00"),
    ], "a policy change applies from the last fee on, never to the past"


async def test_netsuite_failures(app: Running, standin: NetSuiteStandIn) -> None:
    tenant = await configured_tenant(app, standin)
    await add_customer(app, tenant, "C-1", netsuite_id="4711")
    await add_customer(app, tenant, "C-9", netsuite_id="9999")
    await add_invoice(app, tenant, "C-1", "INV-1", due=dt.date(2026, 9, 30))
    await add_invoice(app, tenant, "C-9", "INV-9", due=dt.date(2026, 9, 30))
    standin.fail_next(429, body_pattern='"4711"')
    standin.fail_next(500, after_commit=True, body_pattern='"4711"')

    result = summary(await run_job(app, NOV_3))
    assert (result["posted"], result["failed"]) == (1, 1)
    ok, bad = await fees(app, tenant)
    assert ok["status"] == "posted" and ok["netsuite_id"]
    assert [r["externalId"] for r in standin.created()] == [ok["external_id"]], (
        "429 retried, the answer lost after the commit taken as posted: one NetSuite invoice"
    )
    assert bad["status"] == "failed"
    assert bad["error"] == (
        "INVALID_FLD_VALUE: Invalid Field Value 9999 for the following field: entity"
    )
    assert summary(await run_job(app, NOV_3))["failed"] == 0, "a failed fee waits for the operator"

    standin.account.customers.add("9999")
    retried = await app.client.post(f"/api/v1/late-fees/{bad['id']}/retry",
                                    headers=tenant.headers)
    assert retried.status_code == 200 and retried.json()["status"] == "posted"
    again = await app.client.post(f"/api/v1/late-fees/{bad['id']}/retry", headers=tenant.headers)
    assert again.status_code == 409


async def test_an_outage_leaves_fees_pending_for_a_later_run(
    app: Running, standin: NetSuiteStandIn
) -> None:
    tenant = await configured_tenant(app, standin, rate="2")
    await add_customer(app, tenant, "C-1")
    await add_invoice(app, tenant, "C-1", "INV-1", due=dt.date(2026, 9, 30))
    standin.fail_next(503, times=netsuite.ATTEMPTS)
    result = summary(await run_job(app, NOV_3))
    assert (result["assessed"], result["posted"], result["retrying"]) == (1, 0, 1)
    (fee,) = await fees(app, tenant)
    assert fee["status"] == "pending" and fee["attempts"] == 1
    assert fee["error"].startswith("NetSuite answered 503")
    assert summary(await run_job(app, NOV_3))["retrying"] == 0, "not due again yet"

    await app.client.patch("/api/v1/settings",
                           json={"late_fees_netsuite": {"token_secret": "ts-wrong"}},
                           headers=tenant.headers)
    await LateFee.update({LateFee.next_attempt_at: None}).where(LateFee.id == fee["id"])
    result = summary(await run_job(app, NOV_3))
    assert result["retrying"] == 1 and "NetSuite refused the credentials" in result["errors"][0]
    assert (await fees(app, tenant))[0]["status"] == "pending", "a connection fault fails no fee"

    fixed = {"late_fees_netsuite": {"token_secret": standin.account.token_secret}}
    await app.client.patch("/api/v1/settings", json=fixed, headers=tenant.headers)
    await LateFee.update({LateFee.next_attempt_at: None}).where(LateFee.id == fee["id"])
    assert summary(await run_job(app, NOV_3))["posted"] == 1
    assert (await fees(app, tenant))[0]["error"] is None


async def test_waiving(app: Running, standin: NetSuiteStandIn) -> None:
    tenant = await configured_tenant(app, standin)
    await add_customer(app, tenant, "C-1")
    await add_invoice(app, tenant, "C-1", "INV-1")
    standin.fail_next(503, times=netsuite.ATTEMPTS, body_pattern='"externalId":"[^"]*-1"')
    await run_job(app, NOV_3)
    pending, posted = await fees(app, tenant)
    assert (pending["status"], posted["status"]) == ("pending", "posted")

    response = await app.client.post(f"/api/v1/late-fees/{pending['id']}/waive",
                                     headers=tenant.headers)
    assert response.status_code == 200 and response.json()["status"] == "waived"
    assert response.json()["credit_memo_id"] is None and standin.created("creditMemo") == []

    standin.fail_next(400, path="!transform", detail="The accounting period is closed.")
    refused = await app.client.post(f"/api/v1/late-fees/{posted['id']}/waive",
                                    headers=tenant.headers)
    assert refused.status_code == 502
    assert refused.json()["detail"] == (
        "NetSuite did not take the credit memo: USER_ERROR: The accounting period is closed."
    )
    assert (await fees(app, tenant, status="posted"))[0]["id"] == posted["id"]

    for _ in range(2):
        response = await app.client.post(f"/api/v1/late-fees/{posted['id']}/waive",
                                         headers=tenant.headers)
        assert response.status_code == 200 and response.json()["status"] == "waived"
    (memo,) = standin.created("creditMemo")
    assert memo["createdFrom"] == posted["netsuite_id"]
    assert response.json()["credit_memo_id"] == memo["id"]
    assert memo["externalId"] == posted["external_id"] + "-credit"

    await run_job(app, NOV_3)
    assert [f["status"] for f in await fees(app, tenant)] == ["waived", "waived"], (
        "a waived period is never assessed again"
    )
    await open_portal(app, tenant, "C-1")
    assert "Late fee" not in (await app.client.get("/portal/")).text


async def test_the_api_lists_filters_and_keeps_tenants_apart(
    app: Running, standin: NetSuiteStandIn
) -> None:
    tenant = await configured_tenant(app, standin)
    other = await configured_tenant(app, standin, slug="globex")
    for handle in (tenant, other):
        await add_customer(app, handle, "C-1")
        await add_customer(app, handle, "C-2")
        await add_invoice(app, handle, "C-1", "INV-1")
        await add_invoice(app, handle, "C-2", "INV-2", due=dt.date(2026, 9, 30))
    runs = await run_job(app, NOV_3)
    assert summary(runs)["assessed"] == 3 and summary(runs, "globex")["assessed"] == 3

    assert [f["invoice"] for f in await fees(app, tenant, customer="C-2")] == ["INV-2"]
    assert len(await fees(app, tenant, status="posted")) == 3
    assert await fees(app, tenant, status="failed") == []
    page = (await app.client.get("/api/v1/late-fees", params={"limit": 2},
                                 headers=tenant.headers)).json()
    rest = await fees(app, tenant, cursor=page["next_cursor"])
    assert len(page["items"]) == 2 and len(rest) == 1
    bad = await app.client.get("/api/v1/late-fees", params={"status": "late"},
                               headers=tenant.headers)
    assert bad.status_code == 422 and "status" in bad.json()["detail"]

    theirs = (await fees(app, other))[0]["id"]
    assert (await app.client.get(f"/api/v1/late-fees/{theirs}",
                                 headers=tenant.headers)).status_code == 404
    waive = await app.client.post(f"/api/v1/late-fees/{theirs}/waive", headers=tenant.headers)
    assert waive.status_code == 404
    assert (await app.client.get(f"/api/v1/late-fees/{theirs}",
                                 headers=other.headers)).json()["status"] == "posted"


async def test_the_portal_speaks_french(app: Running, standin: NetSuiteStandIn) -> None:
    tenant = await configured_tenant(app, standin, fee_type="fixed", amount="40", rate=None)
    await add_customer(app, tenant, "C-1", locale="fr_FR")
    await add_invoice(app, tenant, "C-1", "INV-1", due=dt.date(2026, 9, 30))
    await run_job(app, NOV_3)
    await open_portal(app, tenant, "C-1")
    home = text((await app.client.get("/portal/")).text)
    assert "dont frais et pénalités 40,00 $US" in home, home
    assert "+ Frais de retard 40,00 $US" in home
    page = text((await app.client.get("/portal/invoices/INV-1")).text)
    assert "Frais et pénalités" in page and "31 oct. 2026 Frais de retard 40,00 $US" in page


# --- concurrency -------------------------------------------------------------------------------


async def test_two_runs_at_once_assess_and_post_each_period_once(
    app: Running, standin: NetSuiteStandIn
) -> None:
    tenant = await configured_tenant(app, standin, max_concurrent_requests=4)
    for customer in ("C-1", "C-2"):
        await add_customer(app, tenant, customer)
        for index in range(6):
            await add_invoice(app, tenant, customer, f"{customer}-INV-{index}",
                              due=AUG_14 + dt.timedelta(days=index))
    freeze_today(NOV_3)
    contexts = [await load_context(app.host, app.config, tenant.row) for _ in range(2)]
    results = await asyncio.gather(*(late_fees.run(ctx) for ctx in contexts))

    assert sum(r["assessed"] for r in results) == 24, results
    assert sum(r["posted"] for r in results) == 24, results
    listed = await fees(app, tenant, limit="100")
    assert len(listed) == 24 and {f["status"] for f in listed} == {"posted"}
    keys = [(f["invoice"], f["period"]) for f in listed]
    assert len(set(keys)) == 24
    created = standin.created()
    assert len(created) == 24, "never posted twice"
    assert sorted(r["externalId"] for r in created) == sorted(f["external_id"] for f in listed)
    assert len([r for r in standin.posts() if r.status == 204]) == 24
