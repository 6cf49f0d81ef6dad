"""A key of tenant A never reads or changes anything of tenant B (404, not 403), on both
engines, even where both tenants use the same external ids."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import make_tenant


def customers(prefix: str) -> list[dict[str, Any]]:
    return [
        {"external_id": "SHARED", "name": f"{prefix} shared"},
        {"external_id": f"{prefix}-only", "name": f"{prefix} only", "currency": "EUR"},
    ]


def invoices(prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "external_id": ext,
            "customer_external_id": cust,
            "number": f"{prefix}-{ext}",
            "issue_date": "2026-01-01",
            "due_date": "2026-01-31",
            "currency": "EUR",
            "total": "100.00",
        }
        for ext, cust in (("INV-SHARED", f"{prefix}-only"), (f"INV-{prefix}", f"{prefix}-only"))
    ]


def payment(prefix: str, invoice: str, customer: str) -> dict[str, Any]:
    return {
        "external_id": f"PAY-{prefix}",
        "customer_external_id": customer,
        "date": "2026-02-01",
        "currency": "EUR",
        "amount": "10.00",
        "allocations": [{"invoice_external_id": invoice, "amount": "10.00"}],
    }


@pytest.fixture
async def two(client: Any, tenant: Any) -> tuple[Any, Any, dict[str, Any]]:
    other = await make_tenant("beta", "Beta")
    b_customers = {}
    for handle, prefix in ((tenant, "A"), (other, "B")):
        response = await client.put(
            "/api/v1/customers", json=customers(prefix), headers=handle.headers
        )
        assert response.status_code == 200
        if prefix == "B":
            b_customers = {c["external_id"]: c for c in response.json()}
        assert (
            await client.put("/api/v1/invoices", json=invoices(prefix), headers=handle.headers)
        ).status_code == 200
        assert (
            await client.put(
                "/api/v1/payments",
                json=[payment(prefix, f"INV-{prefix}", f"{prefix}-only")],
                headers=handle.headers,
            )
        ).status_code == 200
        assert (
            await client.put(
                "/api/v1/credit-notes",
                json=[
                    {
                        **payment(prefix, "INV-SHARED", f"{prefix}-only"),
                        "external_id": f"CN-{prefix}",
                    }
                ],
                headers=handle.headers,
            )
        ).status_code == 200
    return tenant, other, b_customers


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/customers/B-only", None),
        ("PATCH", "/api/v1/customers/B-only", {"name": "stolen"}),
        ("POST", "/api/v1/customers/B-only/portal-link", None),
        ("POST", "/api/v1/customers/B-only/portal-link/rotate", None),
        ("GET", "/api/v1/invoices/INV-B", None),
        ("GET", "/api/v1/payments/PAY-B", None),
        ("GET", "/api/v1/credit-notes/CN-B", None),
    ],
)
async def test_another_tenants_rows_are_404(
    client: Any, two: Any, method: str, path: str, body: Any
) -> None:
    a, _b, b_customers = two
    response = await client.request(method, path, json=body, headers=a.headers)
    assert response.status_code == 404
    # B's customer and links are untouched.
    token = b_customers["B-only"]["portal_url"].rsplit("/", 1)[1]
    assert (await client.get(f"/p/{token}")).status_code == 303


async def test_lists_only_show_the_keys_tenant(client: Any, two: Any) -> None:
    a, b, _ = two
    for handle, prefix, other in ((a, "A", "B"), (b, "B", "A")):

        async def items(path: str, handle: Any = handle) -> list[dict[str, Any]]:
            response = await client.get(path, headers=handle.headers)
            assert response.status_code == 200
            return response.json()["items"]  # type: ignore[no-any-return]

        names = [c["name"] for c in await items("/api/v1/customers")]
        assert names == [f"{prefix} shared", f"{prefix} only"]
        numbers = [i["number"] for i in await items("/api/v1/invoices")]
        assert numbers == [f"{prefix}-INV-SHARED", f"{prefix}-INV-{prefix}"]
        assert await items(f"/api/v1/invoices?customer={other}-only") == []
        assert [p["external_id"] for p in await items("/api/v1/payments")] == [f"PAY-{prefix}"]
        assert [c["external_id"] for c in await items("/api/v1/credit-notes")] == [f"CN-{prefix}"]
        audit = await items("/api/v1/audit?limit=1000")
        assert audit and all(other + "-" not in (e["subject_id"] or "") for e in audit)
        shared = (await client.get("/api/v1/invoices/INV-SHARED", headers=handle.headers)).json()
        assert shared["number"] == f"{prefix}-INV-SHARED"
        assert shared["amount_due"] == "90.00"


async def test_writes_never_reach_another_tenant(client: Any, two: Any) -> None:
    a, b, _ = two
    # The same external id names each tenant's own customer.
    response = await client.patch(
        "/api/v1/customers/SHARED", json={"name": "A renamed"}, headers=a.headers
    )
    assert response.status_code == 200
    b_shared = (await client.get("/api/v1/customers/SHARED", headers=b.headers)).json()
    assert b_shared["name"] == "B shared"
    # A cannot point its rows at B's customer or invoice.
    response = await client.put(
        "/api/v1/invoices",
        headers=a.headers,
        json=[{**invoices("A")[0], "external_id": "INV-NEW", "customer_external_id": "B-only"}],
    )
    assert response.status_code == 422
    assert response.json()["field"] == "items[0].customer_external_id"
    response = await client.put(
        "/api/v1/payments", headers=a.headers, json=[payment("A2", "INV-B", "A-only")]
    )
    assert response.status_code == 422
    assert response.json()["field"] == "items[0].allocations[0].invoice_external_id"
    b_invoice = (await client.get("/api/v1/invoices/INV-B", headers=b.headers)).json()
    assert b_invoice["amount_due"] == "90.00"
    # Upserting A's INV-SHARED leaves B's alone.
    response = await client.put(
        "/api/v1/invoices", headers=a.headers, json=[{**invoices("A")[0], "total": "500.00"}]
    )
    assert response.status_code == 200
    b_shared_invoice = (await client.get("/api/v1/invoices/INV-SHARED", headers=b.headers)).json()
    assert b_shared_invoice["total"] == "100.00"
    # Settings are per tenant.
    response = await client.patch(
        "/api/v1/settings", headers=a.headers, json={"portal": {"link_validity_days": 5}}
    )
    assert response.status_code == 200
    b_settings = (await client.get("/api/v1/settings", headers=b.headers)).json()
    assert b_settings["portal"]["link_validity_days"] == 25


async def test_toggles_of_another_tenants_customer_are_refused(app: Any, two: Any) -> None:
    from arportal.models import Customer, CustomerToggleValue
    from arportal.settings import SettingsError
    from arportal.settings_store import set_customer_toggles
    from arportal.tenancy import load_context

    a, b, _ = two
    b_customer = await Customer.select(Customer.id).where(
        (Customer.tenant == b.id) & (Customer.external_id == "B-only")).first()
    ctx = await load_context(app.host, app.config, a.row)
    with pytest.raises(SettingsError):
        await set_customer_toggles(ctx, b_customer["id"], {"portal": False})
    assert not await CustomerToggleValue.exists().where(
        CustomerToggleValue.customer == b_customer["id"])
