"""The core admin JSON API on both engines, as an operator's script sees it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest

from arportal import Feature, SettingsSection, hookimpl
from arportal.models import TenantSetting


class GatewaySettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    api_token: str = ""
    retries: int = 3


class Gateway:
    @hookimpl
    def arportal_features(self) -> list[Feature]:
        return [Feature("gateway", "Payment gateway", default=False)]

    @hookimpl
    def arportal_settings(self) -> list[SettingsSection]:
        return [SettingsSection("gateway", GatewaySettings, secret_fields=("api_token",))]


@pytest.fixture
def plugins() -> list[tuple[str, Any]]:
    return [("gateway", Gateway())]


CUSTOMERS = [
    {
        "external_id": "C1",
        "name": "One Ltd",
        "email": "ap@one.example",
        "currency": "EUR",
        "locale": "fr",
    },
    {"external_id": "C2", "name": "Two Inc", "extra": {"netsuite_id": "42"}},
]


def inv(ext: str, cust: str = "C1", total: str = "100.00", **kw: Any) -> dict[str, Any]:
    return {
        "external_id": ext,
        "customer_external_id": cust,
        "number": f"N-{ext}",
        "issue_date": "2026-01-01",
        "due_date": "2026-01-31",
        "currency": "EUR",
        "total": total,
        **kw,
    }


async def put(client: Any, tenant: Any, path: str, body: Any) -> Any:
    return await client.put(f"/api/v1/{path}", json=body, headers=tenant.headers)


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


async def test_requests_without_a_valid_key_are_refused(client: Any, tenant: Any) -> None:
    assert (await client.get("/api/v1/customers")).status_code == 401
    bad = {"Authorization": "Bearer arp_nope_nope"}
    assert (await client.get("/api/v1/customers", headers=bad)).status_code == 401


async def test_customers_upsert_list_get_and_patch(client: Any, tenant: Any) -> None:
    response = await put(client, tenant, "customers", CUSTOMERS)
    assert response.status_code == 200, response.text
    one, two = response.json()
    assert one["external_id"] == "C1" and one["currency"] == "EUR" and one["locale"] == "fr"
    assert one["portal_url"].startswith("http://testserver/p/")
    assert one["toggles"] == {"portal": True}
    assert two["extra"] == {"netsuite_id": "42"} and two["currency"] == "USD"

    listed = (await client.get("/api/v1/customers", headers=tenant.headers)).json()
    assert [c["external_id"] for c in listed["items"]] == ["C1", "C2"]
    assert listed["next_cursor"] is None

    got = (await client.get("/api/v1/customers/C1", headers=tenant.headers)).json()
    assert got == one

    patched = await client.patch(
        "/api/v1/customers/C1",
        headers=tenant.headers,
        json={"name": "One SA", "toggles": {"portal": False}},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "One SA" and patched.json()["toggles"] == {"portal": False}
    assert patched.json()["email"] == "ap@one.example"
    # The customer's portal is now off for them.
    portal = await client.get(f"/p/{token_of(one['portal_url'])}")
    assert portal.status_code == 403

    again = await put(client, tenant, "customers", [{"external_id": "C1", "name": "One SA"}])
    assert again.json()[0]["portal_url"] == one["portal_url"]
    assert (await client.get("/api/v1/customers/C9", headers=tenant.headers)).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 5}, "name"),
        ({"currency": "EURO"}, "currency"),
        ({"locale": "xx_YY_ZZ"}, "locale"),
        ({"nickname": "x"}, "nickname"),
        ({"toggles": {"nope": True}}, "toggles.nope"),
        ({"toggles": {"portal": "yes"}}, "toggles.portal"),
    ],
)
async def test_customer_patch_errors_name_the_field(
    client: Any, tenant: Any, body: Any, field: str
) -> None:
    await put(client, tenant, "customers", CUSTOMERS)
    response = await client.patch("/api/v1/customers/C1", headers=tenant.headers, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert (await client.get("/api/v1/customers/C1", headers=tenant.headers)).json() == (
        await put(client, tenant, "customers", [CUSTOMERS[0]])
    ).json()[0]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"external_id": "C3", "name": "x", "nickname": "y"}, "items[2].nickname"),
        ({"external_id": "C3"}, "items[2].name"),
        ({"external_id": "C3", "name": 7}, "items[2].name"),
        ({"external_id": "C3", "name": "x", "currency": "ABC"}, "items[2].currency"),
        ({"external_id": "C3", "name": "x", "email": "two@@"}, "items[2].email"),
        ({"external_id": "", "name": "x"}, "items[2].external_id"),
    ],
)
async def test_one_bad_customer_is_422_and_nothing_is_written(
    client: Any, tenant: Any, bad: Any, field: str
) -> None:
    response = await put(client, tenant, "customers", [*CUSTOMERS, bad])
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert field in response.json()["detail"]
    listed = (await client.get("/api/v1/customers", headers=tenant.headers)).json()
    assert listed == {"items": [], "next_cursor": None}


async def test_bodies_that_are_not_json_lists_are_422(client: Any, tenant: Any) -> None:
    response = await client.put("/api/v1/customers", headers=tenant.headers, content=b"[{")
    assert response.status_code == 422 and response.json()["field"] == "body"
    response = await put(client, tenant, "customers", {"external_id": "C1"})
    assert response.status_code == 422 and response.json()["field"] == "items"


async def test_invoices_payments_and_credit_notes(client: Any, tenant: Any) -> None:
    await put(client, tenant, "customers", CUSTOMERS)
    response = await put(
        client,
        tenant,
        "invoices",
        [
            inv("I1"),
            inv("I2", total="250.50", pdf_url="https://erp.example/i2.pdf"),
            inv("I3", cust="C2", currency="USD", status="void"),
        ],
    )
    assert response.status_code == 200, response.text
    assert response.json()[1] == {
        "external_id": "I2",
        "customer_external_id": "C1",
        "number": "N-I2",
        "issue_date": "2026-01-01",
        "due_date": "2026-01-31",
        "currency": "EUR",
        "total": "250.50",
        "amount_due": "250.50",
        "status": "open",
        "pdf_url": "https://erp.example/i2.pdf",
    }
    payment = {
        "external_id": "P1",
        "customer_external_id": "C1",
        "date": "2026-02-01",
        "currency": "EUR",
        "amount": "150.00",
        "allocations": [
            {"invoice_external_id": "I1", "amount": "100.00"},
            {"invoice_external_id": "I2", "amount": 50},
        ],
    }
    response = await put(client, tenant, "payments", [payment])
    assert response.status_code == 200, response.text
    assert response.json()[0]["allocations"] == [
        {"invoice_external_id": "I1", "amount": "100.00"},
        {"invoice_external_id": "I2", "amount": "50.00"},
    ]
    i1 = (await client.get("/api/v1/invoices/I1", headers=tenant.headers)).json()
    assert (i1["amount_due"], i1["status"]) == ("0.00", "paid")
    # The same payment again changes nothing.
    assert (await put(client, tenant, "payments", [payment])).status_code == 200
    i2 = (await client.get("/api/v1/invoices/I2", headers=tenant.headers)).json()
    assert (i2["amount_due"], i2["status"]) == ("200.50", "open")

    credit = {
        "external_id": "CN1",
        "customer_external_id": "C1",
        "number": "CN-1",
        "date": "2026-02-02",
        "currency": "EUR",
        "amount": "200.50",
        "allocations": [{"invoice_external_id": "I2", "amount": "200.50"}],
    }
    response = await put(client, tenant, "credit-notes", [credit])
    assert response.status_code == 200, response.text
    assert response.json()[0]["number"] == "CN-1"
    assert (await client.get("/api/v1/invoices/I2", headers=tenant.headers)).json()[
        "status"
    ] == "paid"

    payments = (await client.get("/api/v1/payments", headers=tenant.headers)).json()
    assert [p["external_id"] for p in payments["items"]] == ["P1"]
    assert payments["items"][0]["amount"] == "150.00"
    notes = (await client.get("/api/v1/credit-notes?customer=C1", headers=tenant.headers)).json()
    assert notes["items"][0]["allocations"] == [{"invoice_external_id": "I2", "amount": "200.50"}]
    assert (await client.get("/api/v1/payments/P1", headers=tenant.headers)).status_code == 200
    assert (await client.get("/api/v1/payments/P9", headers=tenant.headers)).status_code == 404

    async def invoice_ids(query: str) -> list[str]:
        response = await client.get(f"/api/v1/invoices{query}", headers=tenant.headers)
        assert response.status_code == 200, response.text
        return [i["external_id"] for i in response.json()["items"]]

    assert await invoice_ids("") == ["I1", "I2", "I3"]
    assert await invoice_ids("?customer=C1") == ["I1", "I2"]
    assert await invoice_ids("?status=void") == ["I3"]
    assert await invoice_ids("?customer=C1&status=open") == []
    assert await invoice_ids("?customer=nobody") == []
    bad = await client.get("/api/v1/invoices?status=late", headers=tenant.headers)
    assert bad.status_code == 422 and bad.json()["field"] == "status"
    assert (await client.get("/api/v1/invoices/I9", headers=tenant.headers)).status_code == 404


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (inv("I9", total="10.00", amount_due="10.01"), "items[1].amount_due"),
        (inv("I9", total="10.001"), "items[1].total"),
        (inv("I9", total="ten"), "items[1].total"),
        (inv("I9", status="late"), "items[1].status"),
        (inv("I9", issue_date="2024-13-01"), "items[1].issue_date"),
        (inv("I9", cust="ghost"), "items[1].customer_external_id"),
        (inv("I9", colour="red"), "items[1].colour"),
    ],
)
async def test_one_bad_invoice_is_422_and_nothing_is_written(
    client: Any, tenant: Any, bad: Any, field: str
) -> None:
    await put(client, tenant, "customers", CUSTOMERS)
    response = await put(client, tenant, "invoices", [inv("I1"), bad])
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    listed = (await client.get("/api/v1/invoices", headers=tenant.headers)).json()
    assert listed["items"] == []


async def test_over_allocation_is_422_naming_the_allocation(client: Any, tenant: Any) -> None:
    await put(client, tenant, "customers", CUSTOMERS)
    await put(client, tenant, "invoices", [inv("I1")])
    response = await put(
        client,
        tenant,
        "payments",
        [
            {
                "external_id": "P1",
                "customer_external_id": "C1",
                "date": "2026-02-01",
                "currency": "EUR",
                "amount": "500",
                "allocations": [{"invoice_external_id": "I1", "amount": "100.01"}],
            }
        ],
    )
    assert response.status_code == 422
    assert response.json()["field"] == "items[0].allocations[0].amount"
    assert (await client.get("/api/v1/payments", headers=tenant.headers)).json()["items"] == []


async def test_settings_read_and_patch(client: Any, tenant: Any, app: Any) -> None:
    settings = (await client.get("/api/v1/settings", headers=tenant.headers)).json()
    assert settings["features"] == {"gateway": False}
    assert settings["portal"]["link_validity_days"] == 25
    assert settings["portal"]["hide_future_invoices"] is False
    assert settings["gateway"] == {"api_token": "", "retries": 3}

    response = await client.patch(
        "/api/v1/settings",
        headers=tenant.headers,
        json={
            "features": {"gateway": True},
            "portal": {"link_validity_days": 10, "hide_future_invoices": True},
            "gateway": {"api_token": "s3cret"},
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["features"] == {"gateway": True}
    assert body["portal"]["link_validity_days"] == 10 and body["portal"]["hide_future_invoices"]
    assert body["gateway"] == {"api_token": "********", "retries": 3}
    assert "s3cret" not in response.text

    # Sending the mask back keeps the secret.
    response = await client.patch(
        "/api/v1/settings",
        headers=tenant.headers,
        json={"gateway": {"api_token": "********", "retries": 5}},
    )
    assert response.json()["gateway"] == {"api_token": "********", "retries": 5}
    row = (
        await TenantSetting.select()
        .where((TenantSetting.tenant == tenant.id) & (TenantSetting.section == "gateway"))
        .output(load_json=True)
        .first()
    )
    assert row["data"]["api_token"] == "s3cret"
    again = (await client.get("/api/v1/settings", headers=tenant.headers)).json()
    assert again["portal"]["link_validity_days"] == 10 and again["gateway"]["retries"] == 5

    audit = (await client.get("/api/v1/audit", headers=tenant.headers)).json()["items"]
    assert audit[0]["action"] == "settings.changed"
    assert "s3cret" not in str(audit)


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"portal": {"link_validity_days": 0}}, "portal.link_validity_days"),
        ({"portal": {"link_validity_days": 1001}}, "portal.link_validity_days"),
        ({"portal": {"link_validity_days": "ten"}}, "portal.link_validity_days"),
        ({"portal": {"hide_future_invoices": "yes"}}, "portal.hide_future_invoices"),
        ({"portal": {"timezone": "Mars/Base"}}, "portal.timezone"),
        ({"portal": {"nope": 1}}, "portal.nope"),
        ({"portal": 3}, "portal"),
        ({"nope": {}}, "nope"),
        ({"features": {"nope": True}}, "features.nope"),
        ({"features": {"gateway": "on"}}, "features.gateway"),
    ],
)
async def test_bad_settings_are_422_naming_the_path(
    client: Any, tenant: Any, patch: Any, field: str
) -> None:
    response = await client.patch(
        "/api/v1/settings", headers=tenant.headers, json={"features": {"gateway": True}, **patch}
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    settings = (await client.get("/api/v1/settings", headers=tenant.headers)).json()
    assert settings["features"]["gateway"] is False
    assert settings["portal"]["link_validity_days"] == 25


async def test_link_validity_bounds_are_accepted(client: Any, tenant: Any) -> None:
    for days in (1, 1000):
        response = await client.patch(
            "/api/v1/settings",
            headers=tenant.headers,
            json={"portal": {"link_validity_days": days}},
        )
        assert response.status_code == 200
        assert response.json()["portal"]["link_validity_days"] == days


async def test_new_links_follow_link_validity_days(client: Any, tenant: Any) -> None:
    await client.patch(
        "/api/v1/settings", headers=tenant.headers, json={"portal": {"link_validity_days": 3}}
    )
    customer = (await put(client, tenant, "customers", CUSTOMERS)).json()[0]
    expires = dt.datetime.fromisoformat(customer["portal_link_expires_at"])
    left = expires - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=2, hours=23) < left <= dt.timedelta(days=3)


async def test_portal_links_create_and_rotate(client: Any, tenant: Any) -> None:
    first = (await put(client, tenant, "customers", CUSTOMERS)).json()[0]["portal_url"]
    response = await client.post(
        "/api/v1/customers/C1/portal-link", headers=tenant.headers, json={"expires_in_days": 2}
    )
    assert response.status_code == 201, response.text
    second = response.json()["portal_url"]
    assert second != first
    left = dt.datetime.fromisoformat(response.json()["expires_at"]) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=1, hours=23) < left <= dt.timedelta(days=2)
    no_body = await client.post("/api/v1/customers/C1/portal-link", headers=tenant.headers)
    assert no_body.status_code == 201
    for url in (first, second):
        assert (await client.get(f"/p/{token_of(url)}")).status_code == 303
    # The customer now shows the newest link.
    shown = (await client.get("/api/v1/customers/C1", headers=tenant.headers)).json()
    assert shown["portal_url"] == no_body.json()["portal_url"]

    for days in (0, 1001, "2"):
        bad = await client.post(
            "/api/v1/customers/C1/portal-link",
            headers=tenant.headers,
            json={"expires_in_days": days},
        )
        assert bad.status_code == 422 and bad.json()["field"] == "expires_in_days"

    rotated = await client.post("/api/v1/customers/C1/portal-link/rotate", headers=tenant.headers)
    assert rotated.status_code == 201, rotated.text
    fresh = rotated.json()["portal_url"]
    for url in (first, second, no_body.json()["portal_url"]):
        assert (await client.get(f"/p/{token_of(url)}")).status_code == 404
    assert (await client.get(f"/p/{token_of(fresh)}")).status_code == 303
    shown = (await client.get("/api/v1/customers/C1", headers=tenant.headers)).json()
    assert shown["portal_url"] == fresh
    for path in ("portal-link", "portal-link/rotate"):
        response = await client.post(f"/api/v1/customers/C9/{path}", headers=tenant.headers)
        assert response.status_code == 404


async def test_lists_are_paginated_with_a_cursor(client: Any, tenant: Any) -> None:
    await put(
        client,
        tenant,
        "customers",
        [{"external_id": f"C{i:02d}", "name": f"Customer {i}"} for i in range(5)],
    )
    seen, cursor, pages = [], None, 0
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = (await client.get(f"/api/v1/customers{query}", headers=tenant.headers)).json()
        seen += [c["external_id"] for c in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"C{i:02d}" for i in range(5)] and pages == 3
    for query, field in (
        ("?cursor=garbage!", "cursor"),
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=many", "limit"),
    ):
        response = await client.get(f"/api/v1/customers{query}", headers=tenant.headers)
        assert response.status_code == 422, (query, response.text)
        assert response.json()["field"] == field
    assert (
        await client.get("/api/v1/customers?limit=1000", headers=tenant.headers)
    ).status_code == 200


async def test_audit_lists_what_happened_newest_first(client: Any, tenant: Any) -> None:
    await put(client, tenant, "customers", CUSTOMERS)
    await client.post("/api/v1/customers/C1/portal-link/rotate", headers=tenant.headers)
    body = (await client.get("/api/v1/audit?limit=2", headers=tenant.headers)).json()
    assert [(e["action"], e["subject_id"]) for e in body["items"]] == [
        ("portal_link.rotated", "C1"),
        ("customer.created", "C2"),
    ]
    assert body["items"][0]["actor"] == "operator"
    rest = (
        await client.get(f"/api/v1/audit?cursor={body['next_cursor']}", headers=tenant.headers)
    ).json()
    assert [(e["action"], e["subject_id"]) for e in rest["items"]] == [("customer.created", "C1")]
    assert rest["next_cursor"] is None


async def test_bulk_put_of_many_items(client: Any, tenant: Any) -> None:
    n = 20_000
    customers = [{"external_id": f"C{i}", "name": f"Customer {i}"} for i in range(200)]
    assert (await put(client, tenant, "customers", customers)).status_code == 200
    invoices = [
        {
            "external_id": f"I{i}",
            "customer_external_id": f"C{i % 200}",
            "number": f"I{i}",
            "issue_date": "2026-01-01",
            "due_date": "2026-01-31",
            "currency": "USD",
            "total": "10.00",
        }
        for i in range(n)
    ]
    response = await put(client, tenant, "invoices", invoices)
    assert response.status_code == 200, response.text[:300]
    assert len(response.json()) == n
    payments = [
        {
            "external_id": f"P{i}",
            "customer_external_id": f"C{i % 200}",
            "date": "2026-02-01",
            "currency": "USD",
            "amount": "10.00",
            "allocations": [{"invoice_external_id": f"I{i}", "amount": "10.00"}],
        }
        for i in range(n)
    ]
    assert (await put(client, tenant, "payments", payments)).status_code == 200
    page = (await client.get("/api/v1/invoices?status=open&limit=1", headers=tenant.headers)).json()
    assert page == {"items": [], "next_cursor": None}


async def test_openapi_documents_the_bodies(client: Any) -> None:
    schema = (await client.get("/api/v1/schema/openapi.json")).json()
    put_invoices = schema["paths"]["/api/v1/invoices"]["put"]
    body = put_invoices["requestBody"]["content"]["application/json"]["schema"]
    assert body["type"] == "array" and body["items"]["$ref"].endswith("/InvoiceIn")
    assert "amount_due" in schema["components"]["schemas"]["InvoiceIn"]["properties"]
    assert "requestBody" in schema["paths"]["/api/v1/customers/{external_id}"]["patch"]
    parameters = {p["name"] for p in put_invoices.get("parameters", [])}
    assert "_documented_body" not in parameters and "data" not in parameters


async def test_ids_with_a_slash_are_read_through_the_query(client: Any, tenant: Any) -> None:
    """ERP numbers such as `INV/2026/0001` cannot be a path segment (the path is decoded
    before routing): each list answers `?external_id=` with that one record."""
    await put(client, tenant, "customers", [{"external_id": "C/7", "name": "Slash Ltd"}])
    await put(client, tenant, "invoices", [inv("INV/2026/0001", cust="C/7"), inv("INV-2", "C/7")])
    payment = {
        "external_id": "PAY/1", "customer_external_id": "C/7", "date": "2026-02-01",
        "currency": "EUR", "amount": "10.00",
        "allocations": [{"invoice_external_id": "INV/2026/0001", "amount": "10.00"}],
    }
    credit = {**payment, "external_id": "CN/1", "allocations": []}
    assert (await put(client, tenant, "payments", [payment])).status_code == 200
    assert (await put(client, tenant, "credit-notes", [credit])).status_code == 200

    async def one(path: str, external_id: str) -> dict[str, Any]:
        response = await client.get(
            f"/api/v1/{path}", params={"external_id": external_id}, headers=tenant.headers
        )
        assert response.status_code == 200, response.text
        [item] = response.json()["items"]
        return item  # type: ignore[no-any-return]

    assert (await one("customers", "C/7"))["name"] == "Slash Ltd"
    invoice = await one("invoices", "INV/2026/0001")
    assert (invoice["external_id"], invoice["amount_due"]) == ("INV/2026/0001", "90.00")
    assert (await one("payments", "PAY/1"))["allocations"][0]["amount"] == "10.00"
    assert (await one("credit-notes", "CN/1"))["amount"] == "10.00"
    missing = await client.get(
        "/api/v1/invoices", params={"external_id": "INV/9"}, headers=tenant.headers
    )
    assert missing.json()["items"] == []
