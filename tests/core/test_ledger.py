"""The AR ledger on both engines: upserts, allocations, all-or-nothing, events, bulk batches."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from arportal import CustomerToggle, Feature, SettingsSection, hookimpl, ledger
from arportal.ledger import (
    AllocationIn,
    CreditNoteIn,
    CustomerIn,
    InvoiceIn,
    LedgerError,
    PaymentIn,
    customer_out,
    invoice_out,
    upsert_credit_notes,
    upsert_customers,
    upsert_invoices,
    upsert_payments,
)
from arportal.links import find_link, link_state
from arportal.models import Allocation, AuditEvent, Customer, CustomerToggleValue, Invoice, Payment
from arportal.tenancy import load_context


class AutopaySettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    new_customers: bool = False


class Recorder:
    """A plugin that records the core's events and declares a toggle with a setting default."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    @hookimpl
    def arportal_features(self) -> list[Feature]:
        return [Feature("recorder", "Recorder", default=True)]

    @hookimpl
    def arportal_customer_toggles(self) -> list[CustomerToggle]:
        return [
            CustomerToggle(
                "autopay", "Autopay", default=False, default_setting="autopay.new_customers"
            )
        ]

    @hookimpl
    def arportal_settings(self) -> list[SettingsSection]:
        return [SettingsSection("autopay", AutopaySettings)]

    @hookimpl
    def arportal_customer_created(self, customer: Any) -> None:
        self.events.append(("customer_created", customer["external_id"]))

    @hookimpl
    def arportal_invoice_changed(self, invoice: Any, previous: Any) -> None:
        self.events.append(
            (
                "invoice_changed",
                (
                    invoice["external_id"],
                    invoice["amount_due_minor"],
                    invoice["status"],
                    previous and previous["amount_due_minor"],
                ),
            )
        )

    @hookimpl
    async def arportal_payment_recorded(self, payment: Any) -> None:
        self.events.append(
            (
                "payment_recorded",
                (
                    payment["external_id"],
                    [a["invoice_external_id"] for a in payment["allocations"]],
                ),
            )
        )


RECORDER = Recorder()


@pytest.fixture
def plugins() -> list[tuple[str, Any]]:
    RECORDER.events.clear()
    return [("recorder", RECORDER)]


@pytest.fixture
async def ctx(app: Any, tenant: Any) -> Any:
    return await load_context(app.host, app.config, tenant.row, actor="test")


def customer(ext: str = "C1", **kw: Any) -> CustomerIn:
    return CustomerIn(external_id=ext, name=kw.pop("name", f"Customer {ext}"), **kw)


def invoice(ext: str, cust: str = "C1", total: str = "100.00", **kw: Any) -> InvoiceIn:
    return InvoiceIn(
        external_id=ext,
        customer_external_id=cust,
        number=kw.pop("number", ext),
        issue_date=kw.pop("issue_date", dt.date(2026, 1, 1)),
        due_date=kw.pop("due_date", dt.date(2026, 1, 31)),
        currency=kw.pop("currency", "USD"),
        total=Decimal(total),
        **kw,
    )


def payment(
    ext: str,
    amount: str,
    allocations: list[tuple[str, str]],
    cust: str = "C1",
    currency: str = "USD",
) -> PaymentIn:
    return PaymentIn(
        external_id=ext,
        customer_external_id=cust,
        date=dt.date(2026, 2, 1),
        currency=currency,
        amount=Decimal(amount),
        allocations=[
            AllocationIn(invoice_external_id=i, amount=Decimal(a)) for i, a in allocations
        ],
    )


async def invoice_row(tenant_id: int, ext: str) -> dict[str, Any]:
    return (
        await Invoice.select()
        .where(  # type: ignore[no-any-return]
            (Invoice.tenant == tenant_id) & (Invoice.external_id == ext)
        )
        .first()
    )


async def test_new_customers_get_a_link_and_toggles_and_updates_keep_them(ctx: Any) -> None:
    ctx.settings_data["autopay"] = {"new_customers": True}
    rows = await upsert_customers(
        ctx,
        [
            customer(
                "C1",
                email="ap@one.example",
                locale="fr-FR",
                currency="eur",
                extra={"netsuite_id": "77"},
            ),
            customer("C2"),
        ],
    )
    assert [r["external_id"] for r in rows] == ["C1", "C2"]
    assert rows[0]["currency"] == "EUR" and rows[0]["locale"] == "fr_FR"
    out = await customer_out(ctx, rows)
    assert out[0]["extra"] == {"netsuite_id": "77"}
    assert out[0]["toggles"] == {"portal": True, "autopay": True}
    token = out[0]["portal_url"].rsplit("/", 1)[1]
    link = await find_link(token)
    assert link_state(link) == "ok" and link["customer"] == rows[0]["id"]
    assert ("customer_created", "C1") in RECORDER.events

    RECORDER.events.clear()
    again = await upsert_customers(
        ctx,
        [
            customer(
                "C1",
                name="Renamed",
                email="ap@one.example",
                locale="fr_FR",
                currency="EUR",
                extra={"netsuite_id": "77"},
            )
        ],
    )
    assert again[0]["id"] == rows[0]["id"] and again[0]["name"] == "Renamed"
    assert RECORDER.events == []
    assert (await customer_out(ctx, again))[0]["portal_url"] == out[0]["portal_url"]
    actions = [
        a["action"]
        for a in await AuditEvent.select(AuditEvent.action)
        .where(AuditEvent.tenant == ctx.tenant_id)
        .order_by(AuditEvent.id)
    ]
    assert actions == ["customer.created", "customer.created", "customer.updated"]


async def test_toggle_default_falls_back_to_the_declared_default(ctx: Any) -> None:
    rows = await upsert_customers(ctx, [customer("C1")])
    assert (await customer_out(ctx, rows))[0]["toggles"] == {"portal": True, "autopay": False}
    stored = await CustomerToggleValue.select().where(CustomerToggleValue.customer == rows[0]["id"])
    assert [(r["key"], r["enabled"]) for r in stored] == [("autopay", False)]


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (CustomerIn(external_id="C9", name="x", currency="XXY"), "items[1].currency"),
        (CustomerIn(external_id="C9", name="x", locale="zz_QQ"), "items[1].locale"),
        (CustomerIn(external_id="C9", name="x", email="no at sign"), "items[1].email"),
        (CustomerIn(external_id="C1", name="again"), "items[1].external_id"),
    ],
)
async def test_one_bad_customer_writes_nothing(ctx: Any, item: CustomerIn, field: str) -> None:
    with pytest.raises(LedgerError) as err:
        await upsert_customers(ctx, [customer("C1"), item])
    assert err.value.field == field
    assert await Customer.count().where(Customer.tenant == ctx.tenant_id) == 0


async def test_invoices_upsert_and_validate(ctx: Any) -> None:
    await upsert_customers(ctx, [customer("C1"), customer("C2")])
    rows = await upsert_invoices(
        ctx,
        [
            invoice("I1"),
            invoice("I2", total="50.00", amount_due="20.00"),
            invoice("I3", status="paid"),
            invoice("I4", total="10", currency="JPY", cust="C2"),
        ],
    )
    out = invoice_out(rows)
    assert [
        (o["external_id"], o["customer_external_id"], o["total"], o["amount_due"], o["status"])
        for o in out
    ] == [
        ("I1", "C1", "100.00", "100.00", "open"),
        ("I2", "C1", "50.00", "20.00", "open"),
        ("I3", "C1", "100.00", "0.00", "paid"),
        ("I4", "C2", "10", "10", "open"),
    ]
    assert out[0]["issue_date"] == "2026-01-01"
    events = [e for e in RECORDER.events if e[0] == "invoice_changed"]
    assert len(events) == 4 and events[0][1] == ("I1", 10000, "open", None)

    RECORDER.events.clear()
    await upsert_invoices(ctx, [invoice("I1")])
    assert RECORDER.events == []
    updated = await upsert_invoices(
        ctx, [invoice("I1", total="120.00", due_date=dt.date(2026, 3, 1))]
    )
    assert invoice_out(updated)[0]["amount_due"] == "120.00"
    assert RECORDER.events == [("invoice_changed", ("I1", 12000, "open", 10000))]


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (invoice("I9", cust="nobody"), "items[1].customer_external_id"),
        (invoice("I9", total="10.001"), "items[1].total"),
        (invoice("I9", total="10.5", currency="JPY"), "items[1].total"),
        (invoice("I9", total="10.00", amount_due=Decimal("10.01")), "items[1].amount_due"),
        (invoice("I9", currency="ZZZ"), "items[1].currency"),
        (invoice("I9", due_date=dt.date(2025, 1, 1)), "items[1].due_date"),
        (invoice("I9", pdf_url="javascript:alert(1)"), "items[1].pdf_url"),
    ],
)
async def test_one_bad_invoice_writes_nothing(ctx: Any, item: InvoiceIn, field: str) -> None:
    await upsert_customers(ctx, [customer("C1")])
    with pytest.raises(LedgerError) as err:
        await upsert_invoices(ctx, [invoice("I1"), item])
    assert err.value.field == field
    assert await Invoice.count().where(Invoice.tenant == ctx.tenant_id) == 0


async def test_payment_allocations_pay_invoices_idempotently(ctx: Any) -> None:
    await upsert_customers(ctx, [customer("C1")])
    await upsert_invoices(ctx, [invoice("I1"), invoice("I2", total="80.00")])
    RECORDER.events.clear()
    rows = await upsert_payments(
        ctx, [payment("P1", "130.00", [("I1", "100.00"), ("I2", "30.00")])]
    )
    assert rows[0]["customer_external_id"] == "C1"
    assert [a["invoice_external_id"] for a in rows[0]["allocations"]] == ["I1", "I2"]
    i1, i2 = await invoice_row(ctx.tenant_id, "I1"), await invoice_row(ctx.tenant_id, "I2")
    assert (i1["amount_due_minor"], i1["status"]) == (0, "paid")
    assert (i2["amount_due_minor"], i2["status"]) == (5000, "open")
    assert ("payment_recorded", ("P1", ["I1", "I2"])) in RECORDER.events
    assert ("invoice_changed", ("I1", 0, "paid", 10000)) in RECORDER.events

    RECORDER.events.clear()
    await upsert_payments(ctx, [payment("P1", "130.00", [("I1", "100.00"), ("I2", "30.00")])])
    assert RECORDER.events == []
    assert (await invoice_row(ctx.tenant_id, "I2"))["amount_due_minor"] == 5000
    assert await Allocation.count().where(Allocation.tenant == ctx.tenant_id) == 2

    # Re-upserting with other allocations gives the old amounts back first.
    await upsert_payments(ctx, [payment("P1", "130.00", [("I2", "80.00")])])
    i1, i2 = await invoice_row(ctx.tenant_id, "I1"), await invoice_row(ctx.tenant_id, "I2")
    assert (i1["amount_due_minor"], i1["status"]) == (10000, "open")
    assert (i2["amount_due_minor"], i2["status"]) == (0, "paid")
    assert await Payment.count().where(Payment.tenant == ctx.tenant_id) == 1

    # Re-sending the invoice without amount_due keeps what payments took.
    await upsert_invoices(ctx, [invoice("I2", total="80.00")])
    assert (await invoice_row(ctx.tenant_id, "I2"))["status"] == "paid"


async def test_credit_notes_reduce_amount_due(ctx: Any) -> None:
    await upsert_customers(ctx, [customer("C1")])
    await upsert_invoices(ctx, [invoice("I1")])
    rows = await upsert_credit_notes(
        ctx,
        [
            CreditNoteIn(
                external_id="CN1",
                customer_external_id="C1",
                number="CN-1",
                date=dt.date(2026, 2, 1),
                currency="USD",
                amount=Decimal("25"),
                allocations=[AllocationIn(invoice_external_id="I1", amount=Decimal("25"))],
            )
        ],
    )
    assert rows[0]["number"] == "CN-1"
    assert ledger.doc_out(rows)[0]["allocations"] == [
        {"invoice_external_id": "I1", "amount": "25.00"}
    ]
    assert (await invoice_row(ctx.tenant_id, "I1"))["amount_due_minor"] == 7500


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (payment("P9", "10", [("nope", "10")]), "items[1].allocations[0].invoice_external_id"),
        (payment("P9", "10", [("I1", "11")]), "items[1].allocations"),
        (payment("P9", "200", [("I1", "40"), ("I2", "150")]), "items[1].allocations[1].amount"),
        (payment("P9", "10", [("I1", "10")], currency="EUR"), "items[1].currency"),
        (payment("P9", "10", [("I3", "10")], cust="C1"), "items[1].currency"),
        (
            payment("P9", "10", [("I4", "10")], cust="C1"),
            "items[1].allocations[0].invoice_external_id",
        ),
        (payment("P9", "10.123", []), "items[1].amount"),
        (payment("P9", "10", [], cust="ghost"), "items[1].customer_external_id"),
    ],
)
async def test_one_bad_payment_writes_nothing(ctx: Any, item: PaymentIn, field: str) -> None:
    await upsert_customers(ctx, [customer("C1"), customer("C2")])
    await upsert_invoices(
        ctx,
        [
            invoice("I1"),
            invoice("I2", total="100.00"),
            invoice("I3", currency="EUR"),
            invoice("I4", cust="C2"),
        ],
    )
    # P0 takes 50 of I1 within the same call; the bad item makes P0 vanish too.
    with pytest.raises(LedgerError) as err:
        await upsert_payments(ctx, [payment("P0", "50", [("I1", "50")]), item])
    assert err.value.field == field, err.value
    assert await Payment.count().where(Payment.tenant == ctx.tenant_id) == 0
    assert (await invoice_row(ctx.tenant_id, "I1"))["amount_due_minor"] == 10000


async def test_over_allocating_an_invoice_across_payments_is_refused(ctx: Any) -> None:
    await upsert_customers(ctx, [customer("C1")])
    await upsert_invoices(ctx, [invoice("I1")])
    with pytest.raises(LedgerError) as err:
        await upsert_payments(
            ctx,
            [
                payment("P1", "60", [("I1", "60")]),
                payment("P2", "60", [("I1", "60")]),
            ],
        )
    assert err.value.field == "items[1].allocations[0].amount"
    assert "40.00 due" in str(err.value)


async def test_another_tenants_rows_are_unknown(ctx: Any, app: Any) -> None:
    from tests.conftest import make_tenant

    other = await make_tenant("other", "Other")
    other_ctx = await load_context(app.host, app.config, other.row)
    await upsert_customers(other_ctx, [customer("C1")])
    await upsert_invoices(other_ctx, [invoice("I1")])
    with pytest.raises(LedgerError) as err:
        await upsert_invoices(ctx, [invoice("I1")])
    assert err.value.field == "items[0].customer_external_id"
    await upsert_customers(ctx, [customer("C1")])
    with pytest.raises(LedgerError) as err:
        await upsert_payments(ctx, [payment("P1", "10", [("I1", "10")])])
    assert err.value.field == "items[0].allocations[0].invoice_external_id"


async def test_bulk_upserts_run_in_batches(ctx: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger, "BATCH_SIZE", 500)
    n = 1200
    seen: list[tuple[int, int]] = []
    await upsert_customers(
        ctx,
        [customer(f"C{i}") for i in range(n)],
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(500, n), (1000, n), (1200, n)]
    await upsert_invoices(ctx, [invoice(f"I{i}", cust=f"C{i}") for i in range(n)])
    await upsert_payments(
        ctx, [payment(f"P{i}", "100", [(f"I{i}", "100")], cust=f"C{i}") for i in range(n)]
    )
    assert (
        await Invoice.count().where((Invoice.tenant == ctx.tenant_id) & (Invoice.status == "paid"))
        == n
    )
    # A summary audit entry per call instead of one per row.
    assert await AuditEvent.count().where(AuditEvent.tenant == ctx.tenant_id) == 3
    # One bad row in the last batch: nothing of the earlier batches stays.
    items = [invoice(f"J{i}", cust=f"C{i}") for i in range(n)]
    items[-1] = invoice("J-bad", cust="nobody")
    with pytest.raises(LedgerError) as err:
        await upsert_invoices(ctx, items)
    assert err.value.field == f"items[{n - 1}].customer_external_id"
    assert await Invoice.count().where(Invoice.tenant == ctx.tenant_id) == n


@pytest.mark.parametrize("currency", ["USD", "JPY", "BHD", "EUR"])
@pytest.mark.parametrize("minor", [0, 1, 5, 99, 100, 123450, -1, -250, 10**15 + 7])
def test_amount_str_matches_money_decimal_str(minor: int, currency: str) -> None:
    from arportal.money import decimal_str

    assert ledger.amount_str(minor, currency) == decimal_str(minor, currency)


async def test_concurrent_payments_on_one_invoice_do_not_lose_updates(ctx: Any) -> None:
    import asyncio

    await upsert_customers(ctx, [customer("C1")])
    await upsert_invoices(ctx, [invoice("I1")])
    await asyncio.gather(*(
        upsert_payments(ctx, [payment(f"P{i}", "30", [("I1", "30")])]) for i in range(3)
    ))
    assert (await invoice_row(ctx.tenant_id, "I1"))["amount_due_minor"] == 1000
    results = await asyncio.gather(
        *(upsert_payments(ctx, [payment(f"Q{i}", "10", [("I1", "10")])]) for i in range(2)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, LedgerError) for r in results) == 1
    assert (await invoice_row(ctx.tenant_id, "I1"))["amount_due_minor"] == 0


async def test_bulk_invoice_writes_return_and_announce_the_stored_ids(
    ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger, "BULK_BATCH_SIZE", 40)
    monkeypatch.setattr(ledger, "BATCH_SIZE", 30)
    monkeypatch.setattr(ledger, "LOOKUP_CHUNK", 25)
    await upsert_customers(ctx, [customer("C1"), customer("C2")])
    await upsert_invoices(ctx, [invoice(f"I{i}") for i in range(0, 100, 3)])
    RECORDER.events.clear()
    items = [
        invoice(
            f"I{i}",
            cust=f"C{1 + i % 2}",
            total=f"{100 + (i % 2)}.00",
            status="paid" if i % 7 == 0 else "open",
        )
        for i in range(100)
    ]
    rows = await upsert_invoices(ctx, items)
    stored = {
        r["external_id"]: r for r in await Invoice.select().where(Invoice.tenant == ctx.tenant_id)
    }
    assert [row["id"] for row in rows] == [stored[item.external_id]["id"] for item in items]
    assert [row["status"] for row in rows] == [stored[item.external_id]["status"] for item in items]
    assert [row["customer_external_id"] for row in rows] == [
        item.customer_external_id for item in items
    ]
    new_ids = [stored[f"I{i}"]["id"] for i in range(100) if i % 3]
    assert new_ids == sorted(new_ids)  # in the order of the items
    changed = [e[1][0] for e in RECORDER.events if e[0] == "invoice_changed"]
    unchanged = {f"I{i}" for i in range(0, 100, 3) if i % 2 == 0 and i % 7}
    assert sorted(changed) == sorted(f"I{i}" for i in range(100) if f"I{i}" not in unchanged)
    # A later write gets ids after those taken beforehand.
    await upsert_invoices(ctx, [invoice("I-last")])
    row = await invoice_row(ctx.tenant_id, "I-last")
    assert row["id"] > max(r["id"] for r in stored.values())
    entries = await AuditEvent.count().where(
        AuditEvent.action.is_in(["invoice.created", "invoice.updated"])
    )
    assert entries == 34 + len(changed) + 1
