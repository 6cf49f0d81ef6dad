"""Invoice holds: merged from every enabled plugin, asked once, failing closed
(SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

import arportal
from arportal.declarations import Feature, Hold
from arportal.holds import HoldsUnavailable, holds_for
from arportal.models import TenantFeature
from arportal.tenancy import load_context
from tests.conftest import make_tenant

INVOICES = [{"id": 11, "number": "INV-11"}, {"id": 12, "number": "INV-12"}, {"id": 13}]


class DisputesPlugin:
    """Holds INV-11 while its feature `disputes_test` is on (on by default)."""

    def __init__(self) -> None:
        self.asked: list[list[int]] = []
        self.fail = False

    @arportal.hookimpl
    def arportal_features(self) -> list[Feature]:
        return [Feature(key="disputes_test", label="Disputes", default=True)]

    @arportal.hookimpl
    async def arportal_invoice_holds(self, ctx: Any, invoices: list[Any]) -> list[Hold]:
        self.asked.append([invoice["id"] for invoice in invoices])
        if self.fail:
            raise RuntimeError("disputes table unreachable")
        return [Hold(invoice_id=i["id"], reason="dispute", detail="pricing")
                for i in invoices if i["id"] == 11]


class PromisesPlugin:
    """Holds INV-11 and INV-12 (a promise to pay), and names an invoice it was not asked
    about, which the core ignores."""

    def __init__(self) -> None:
        self.asked = 0

    @arportal.hookimpl
    def arportal_invoice_holds(self, invoices: list[Any]) -> list[Hold]:
        self.asked += 1
        return [
            Hold(invoice_id=11, reason="promise", detail="pays on the 30th"),
            Hold(invoice_id=12, reason="promise"),
            Hold(invoice_id=999, reason="promise"),
        ]


@pytest.fixture
def disputes() -> DisputesPlugin:
    return DisputesPlugin()


@pytest.fixture
def promises() -> PromisesPlugin:
    return PromisesPlugin()


@pytest.fixture
def plugins(disputes: DisputesPlugin, promises: PromisesPlugin) -> list[tuple[str, Any]]:
    return [("disputes_test", disputes), ("promises_test", promises)]


async def context(app: Any, slug: str = "acme") -> Any:
    handle = await make_tenant(slug, slug.title())
    return await load_context(app.host, app.config, handle.row)


async def test_holds_from_two_plugins_are_merged(
    app: Any, disputes: DisputesPlugin, promises: PromisesPlugin
) -> None:
    ctx = await context(app)

    holds = await arportal.holds_for(ctx, INVOICES)

    # The order among plugins is not part of the contract.
    assert {key: sorted(value, key=lambda h: h.reason) for key, value in holds.items()} == {
        11: [
            Hold(invoice_id=11, reason="dispute", detail="pricing"),
            Hold(invoice_id=11, reason="promise", detail="pays on the 30th"),
        ],
        12: [Hold(invoice_id=12, reason="promise")],
    }
    assert disputes.asked == [[11, 12, 13]] and promises.asked == 1


async def test_a_disabled_plugins_holds_are_not_returned(
    app: Any, disputes: DisputesPlugin
) -> None:
    handle = await make_tenant("acme", "Acme")
    await TenantFeature.insert(
        TenantFeature(tenant=handle.id, key="disputes_test", enabled=False)
    )
    ctx = await load_context(app.host, app.config, handle.row)

    holds = await holds_for(ctx, INVOICES)

    assert {key: [h.reason for h in value] for key, value in holds.items()} == {
        11: ["promise"], 12: ["promise"],
    }
    assert disputes.asked == []


async def test_a_failing_plugin_fails_closed_unless_asked_not_to(
    app: Any, disputes: DisputesPlugin
) -> None:
    ctx = await context(app)
    disputes.fail = True

    with pytest.raises(HoldsUnavailable, match="disputes table unreachable"):
        await holds_for(ctx, INVOICES)

    shown = await holds_for(ctx, INVOICES, strict=False)
    assert sorted(shown) == [11, 12]


async def test_no_invoices_asks_no_plugin(app: Any, disputes: DisputesPlugin) -> None:
    ctx = await context(app)
    assert await holds_for(ctx, []) == {}
    assert disputes.asked == []
