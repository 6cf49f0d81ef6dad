"""Charges on top of invoices (late fees, interest) from plugins: drawn under their invoice and
counted in the balance (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import arportal
from arportal import Charge
from tests.conftest import make_tenant, running_app
from tests.core.test_portal import add_customer, add_invoice, enter, new_link, part, text


class Fees:
    """Answers the charges set in `charges` (invoice ids filled in by the test)."""

    def __init__(self) -> None:
        self.charges: list[Any] = []
        self.calls = 0

    @arportal.hookimpl
    def arportal_customer_charges(self, ctx: Any) -> list[Any]:
        self.calls += 1
        return self.charges


class Broken:
    @arportal.hookimpl
    def arportal_customer_charges(self, ctx: Any) -> list[Any]:
        raise RuntimeError("fees table unreachable")


async def test_charges_are_drawn_under_invoices_and_counted_in_the_balance(
    make_config: Any, frozen_today: dt.date
) -> None:
    fees = Fees()
    async with running_app(make_config(), [("fees", fees), ("broken", Broken())]) as app:
        client = app.client
        tenant = await make_tenant()
        customer = await add_customer(tenant.id)
        first = await add_invoice(tenant.id, customer, "I-1", number="INV-1", total=100000)
        second = await add_invoice(tenant.id, customer, "I-2", number="INV-2", total=5000)
        fees.charges = [
            Charge(invoice_id=first, label="Late fee", amount_minor=3000, currency="EUR",
                   date=dt.date(2026, 3, 5)),
            Charge(invoice_id=first, label="Late fee", amount_minor=3000, currency="EUR",
                   date=dt.date(2026, 3, 12)),
            Charge(invoice_id=first, label="Interest", amount_minor=150, currency="EUR"),
            Charge(invoice_id=second, label="Fee in dollars", amount_minor=700, currency="USD"),
            Charge(invoice_id=second, label="negative", amount_minor=-5, currency="EUR"),
            Charge(invoice_id=second, label="float", amount_minor=1.5, currency="EUR"),  # type: ignore[arg-type]
            Charge(invoice_id=second, label="bad currency", amount_minor=5, currency="EURO"),
            {"invoice_id": second, "amount_minor": 5},
        ]
        await enter(client, await new_link(tenant.id, customer))

        home = (await client.get("/portal/")).text
        assert fees.calls == 1
        balances = text(part(home, 'class="balances"'))
        assert "Total due EUR €1,111.50 of which overdue €1,050.00" in balances, balances
        assert "of which fees and charges €61.50" in balances
        assert "Total due USD $7.00" in balances, "a currency of charges only gets its line"
        row = text(part(home, ">INV-1<", "</tr>"))
        assert "+ Late fee ×2 €60.00" in row and "+ Interest €1.50" in row, row
        other = text(part(home, ">INV-2<", "</tr>"))
        assert "+ Fee in dollars $7.00" in other
        for ignored in ("negative", "float", "bad currency"):
            assert ignored not in home

        page = (await client.get("/portal/invoices/I-1")).text
        table = text(part(page, 'class="charges"'))
        assert "Mar 5, 2026 Late fee €30.00 Mar 12, 2026 Late fee €30.00" in table, table
        assert "Interest €1.50" in table
        assert "Amount due with fees and charges €1,061.50" in text(page)

        fees.charges = []
        home = (await client.get("/portal/")).text
        assert "fees and charges" not in home and 'class="charge"' not in home
        page = (await client.get("/portal/invoices/I-1")).text
        assert 'class="charges"' not in page
