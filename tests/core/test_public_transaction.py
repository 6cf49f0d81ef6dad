"""`arportal.transaction()` and `arportal.translate()`, offered to plugins: writes in one
transaction commit together or not at all; two writers on SQLite queue instead of failing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import arportal
from arportal.models import Tenant
from tests.conftest import Running


async def test_a_transaction_commits_or_rolls_back_as_a_whole(app: Running) -> None:
    async with arportal.transaction():
        await Tenant.insert(Tenant(slug="one", name="One"))
        await Tenant.insert(Tenant(slug="two", name="Two"))
    with pytest.raises(RuntimeError):
        async with arportal.transaction():
            await Tenant.insert(Tenant(slug="three", name="Three"))
            raise RuntimeError("stop")
    assert sorted(row["slug"] for row in await Tenant.select(Tenant.slug)) == ["one", "two"]


async def test_two_writers_read_then_write_one_after_the_other(app: Running) -> None:
    """Each reads a counter and writes it back plus one: without a write lock taken up
    front, both would read 0 (or SQLite would refuse the second upgrade to a writer)."""
    await Tenant.insert(Tenant(slug="counter", name="0"))

    async def increment() -> None:
        async with arportal.transaction():
            query: Any = Tenant.select(Tenant.name).where(Tenant.slug == "counter")
            if Tenant._meta.db.engine_type == "postgres":
                query = query.lock_rows("UPDATE")
            (row,) = await query
            await asyncio.sleep(0.05)
            await Tenant.update({Tenant.name: str(int(row["name"]) + 1)}).where(
                Tenant.slug == "counter"
            )

    await asyncio.gather(increment(), increment())
    (row,) = await Tenant.select(Tenant.name).where(Tenant.slug == "counter")
    assert row["name"] == "2"


def test_translate_uses_the_portal_catalogs() -> None:
    assert arportal.translate("fr_CA", "Invoice {number}", number="F-1") == "Facture F-1"
    assert arportal.translate("de", "Invoices") == "Invoices"
