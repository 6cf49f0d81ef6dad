"""Safety rules of DESIGN sections 5 and 9 that belong to no single page, on both engines."""

from __future__ import annotations

import datetime as dt
import math
import sqlite3

import asyncpg
import pytest

from arportal.api_keys import tenant_for_key
from arportal.links import create_link, derive_token
from arportal.models import ApiKey, Customer, Invoice, PortalLink, Tenant
from tests.conftest import SECRET

FOREIGN_KEY_ERRORS = (sqlite3.IntegrityError, asyncpg.ForeignKeyViolationError)


async def _customer_with_invoice(tenant_id: int) -> int:
    rows = await Customer.insert(
        Customer(tenant=tenant_id, external_id="C-1", name="Northwind", currency="USD")
    ).returning(Customer.id)
    customer_id = rows[0]["id"]
    await Invoice.insert(
        Invoice(
            tenant=tenant_id, customer=customer_id, external_id="I-1", number="INV-1",
            issue_date=dt.date(2026, 1, 1), due_date=dt.date(2026, 1, 31), currency="USD",
            total_minor=10000, amount_due_minor=10000,
        )
    )
    return customer_id


async def test_ledger_rows_are_never_cascade_deleted(app, tenant) -> None:
    customer_id = await _customer_with_invoice(tenant.id)
    with pytest.raises(FOREIGN_KEY_ERRORS) as refused:
        await Customer.delete().where(Customer.id == customer_id)
    assert "foreign key" in str(refused.value).lower()
    assert await Invoice.count() == 1
    with pytest.raises(FOREIGN_KEY_ERRORS):
        await Tenant.delete().where(Tenant.id == tenant.id)
    assert await Customer.count() == 1


async def test_api_keys_are_stored_hashed(app, tenant) -> None:
    rows = await ApiKey.select()
    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0].values())
    assert tenant.api_key not in stored
    secret = tenant.api_key.split("_", 2)[2]  # arp_<hex>_<token_urlsafe>, which may hold "_"
    assert secret and secret not in stored
    assert (await tenant_for_key(tenant.api_key))["slug"] == tenant.slug
    assert await tenant_for_key(tenant.api_key[:-1] + "x") is None


async def test_portal_link_entropy_and_no_token_in_the_database(app, tenant) -> None:
    customer_id = await _customer_with_invoice(tenant.id)
    link = await create_link(SECRET.encode(), tenant.id, customer_id, 25)
    token = link["token"]
    assert len(token) * 6 >= 256 - 6, "at least 128 bits an attacker cannot guess (we use 256)"
    assert math.log2(64) * len(set(token)) > 100
    dump = " ".join(str(v) for row in await PortalLink.select() for v in row.values())
    assert token not in dump
    assert derive_token(b"another secret", link["nonce"]) != token, "a dump alone opens nothing"


async def test_request_bodies_over_the_limit_are_refused(make_config) -> None:
    from tests.conftest import make_tenant, running_app

    async with running_app(make_config(request_max_bytes=2000), plugins=[]) as running:
        handle = await make_tenant()
        customers = [
            {"external_id": f"C-{i}", "name": "x" * 50, "currency": "USD"} for i in range(60)
        ]
        response = await running.client.put(
            "/api/v1/customers", json=customers, headers=handle.headers
        )
        assert response.status_code == 413
        assert await Customer.count() == 0
        small = await running.client.put(
            "/api/v1/customers", json=customers[:2], headers=handle.headers
        )
        assert small.status_code == 200
