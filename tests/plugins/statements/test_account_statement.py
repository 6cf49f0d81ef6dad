"""The account statement as the customer's clerk downloads it (PDF and CSV) from the portal,
and as the operator gets it from the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest

from arportal import db
from tests.conftest import make_tenant
from tests.plugins.statements.helpers import (
    HEADER,
    add_customer,
    api,
    csv_rows,
    document,
    invoice,
    open_portal,
    page_footers,
    pdf_lines,
    pdf_pages,
    set_statements,
    statements_app,
)

ACCOUNT = "/portal/statements/account"


async def seed_ledger(app: Any, tenant: Any) -> None:
    """Opening EUR balance on 2026-01-01: 500.00 invoiced - 200.00 paid = 300.00 (a void
    invoice never counts). In the period: two invoices, a credit note and a payment, one
    invoice after it, and a USD invoice."""
    await api(app, tenant, "PUT", "/invoices", [
        invoice("INV-OLD", "2025-11-10", "500.00"),
        invoice("INV-VOID", "2025-12-05", "999.00", status="void"),
        invoice("INV-1", "2026-01-05", "1234.50"),
        invoice("INV-2", "2026-02-01", "250.00"),
        invoice("INV-VOID2", "2026-02-10", "50.00", status="void"),
        invoice("INV-LATER", "2026-04-01", "70.00"),
        invoice("INV-US", "2026-02-15", "100.00", currency="USD"),
    ])
    await api(app, tenant, "PUT", "/payments", [
        document("PAY-OLD", "2025-12-01", "200.00"),
        document("PAY-1", "2026-02-01", "1000.00"),
    ])
    await api(app, tenant, "PUT", "/credit-notes", [
        document("CN-1", "2026-01-20", "34.50", number="AV-1"),
    ])


EXPECTED_EUR = [
    "Jan 1, 2026 Opening balance €300.00",
    "Jan 5, 2026 Invoice INV-1 €1,234.50 €1,534.50",
    "Jan 20, 2026 Credit note AV-1 €34.50 €1,500.00",
    "Feb 1, 2026 Invoice INV-2 €250.00 €1,750.00",
    "Feb 1, 2026 Payment PAY-1 €1,000.00 €750.00",
    "Mar 15, 2026 Closing balance €1,484.50 €1,034.50 €750.00",
]
EXPECTED_USD = [
    "Jan 1, 2026 Opening balance $0.00",
    "Feb 15, 2026 Invoice INV-US $100.00 $100.00",
    "Mar 15, 2026 Closing balance $100.00 $0.00 $100.00",
]


def rows_between(lines: list[str], first: str, last: str) -> list[str]:
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    stop = next(i for i, line in enumerate(lines[start:], start) if line.startswith(last))
    return lines[start : stop + 1]


async def test_pdf_shows_opening_lines_running_balance_and_closing(make_config, frozen_today):
    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        customer = await add_customer(app, tenant)
        await seed_ledger(app, tenant)
        await open_portal(app, customer)

        response = await app.client.get(f"{ACCOUNT}.pdf?from=2026-01-01&to=2026-03-15")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"] == (
            'attachment; filename="account-statement-C-1-2026-03-15.pdf"'
        )
        assert response.headers["x-content-type-options"] == "nosniff"
        lines = pdf_lines(response.content)
        text = "\n".join(lines)
        assert "Account statement" in text
        assert "Customer: Northwind Traders" in text
        assert "Account: C-1" in text
        assert "Statement date: Mar 15, 2026" in text
        assert "Period: Jan 1, 2026 to Mar 15, 2026" in text
        assert "Acme Corp" in text  # the tenant's name: no theme plugin, a plain statement

        eur = rows_between(lines, "Jan 1, 2026 Opening balance €", "Mar 15, 2026 Closing balance €")
        assert eur == EXPECTED_EUR
        usd = rows_between(lines, "Jan 1, 2026 Opening balance $", "Mar 15, 2026 Closing balance $")
        assert usd == EXPECTED_USD
        assert "INV-VOID" not in text and "INV-LATER" not in text and "INV-OLD" not in text
        assert lines.count(HEADER) == 2  # one table per currency
        assert page_footers(pdf_pages(response.content)) == ["Page 1 of 1"]


async def test_csv_has_the_same_figures(make_config, frozen_today):
    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        customer = await add_customer(app, tenant)
        await seed_ledger(app, tenant)
        await open_portal(app, customer)

        response = await app.client.get(f"{ACCOUNT}.csv?from=2026-01-01&to=2026-03-15")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.headers["content-disposition"].endswith('-C-1-2026-03-15.csv"')
        rows = csv_rows(response.content)
        assert rows == [
            ["Currency", "Date", "Type", "Reference", "Debit", "Credit", "Balance"],
            ["EUR", "2026-01-01", "Opening balance", "", "", "", "300.00"],
            ["EUR", "2026-01-05", "Invoice", "INV-1", "1234.50", "", "1534.50"],
            ["EUR", "2026-01-20", "Credit note", "AV-1", "", "34.50", "1500.00"],
            ["EUR", "2026-02-01", "Invoice", "INV-2", "250.00", "", "1750.00"],
            ["EUR", "2026-02-01", "Payment", "PAY-1", "", "1000.00", "750.00"],
            ["EUR", "2026-03-15", "Closing balance", "", "1484.50", "1034.50", "750.00"],
            ["USD", "2026-01-01", "Opening balance", "", "", "", "0.00"],
            ["USD", "2026-02-15", "Invoice", "INV-US", "100.00", "", "100.00"],
            ["USD", "2026-03-15", "Closing balance", "", "100.00", "0.00", "100.00"],
        ]


async def test_default_period_is_the_last_12_months(make_config, frozen_today):
    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        customer = await add_customer(app, tenant)
        await seed_ledger(app, tenant)
        await open_portal(app, customer)

        response = await app.client.get(f"{ACCOUNT}.pdf")
        assert response.status_code == 200
        lines = pdf_lines(response.content)
        assert "Period: Mar 15, 2025 to Mar 15, 2026" in lines
        # Everything since 2025-03-15 is a line now, so the opening balance is zero.
        assert "Mar 15, 2025 Opening balance €0.00" in lines
        assert "Nov 10, 2025 Invoice INV-OLD €500.00 €500.00" in lines
        assert "Mar 15, 2026 Closing balance €1,984.50 €1,234.50 €750.00" in lines, "\n".join(lines)


async def test_french_customer_gets_a_french_statement(make_config, frozen_today):
    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        customer = await add_customer(app, tenant, locale="fr_FR")
        await seed_ledger(app, tenant)
        await open_portal(app, customer)

        pdf = await app.client.get(f"{ACCOUNT}.pdf?from=2026-01-01&to=2026-03-15")
        lines = pdf_lines(pdf.content)
        text = "\n".join(lines)
        assert "Relevé de compte" in text
        assert "Période : du 1 janv. 2026 au 15 mars 2026" in text
        assert "5 janv. 2026 Facture INV-1 1 234,50 € 1 534,50 €" in lines
        assert "15 mars 2026 Solde de clôture 1 484,50 € 1 034,50 € 750,00 €" in lines
        assert "Date Type Référence Débit Crédit Solde" in lines
        assert page_footers(pdf_pages(pdf.content)) == ["Page 1 sur 1"]

        rows = csv_rows((await app.client.get(f"{ACCOUNT}.csv?from=2026-01-01")).content)
        assert rows[0] == ["Devise", "Date", "Type", "Référence", "Débit", "Crédit", "Solde"]
        assert rows[2] == ["EUR", "2026-01-05", "Facture", "INV-1", "1234.50", "", "1534.50"]


async def seed_many(app: Any, tenant: Any, count: int) -> tuple[Decimal, list[str]]:
    """`count` lines from 2026-01-01 on, 15 a day: invoices, payments and credit notes in
    turn. Answers the closing balance and the references in statement order (on one day:
    invoices, then credit notes, then payments)."""
    invoices, payments, credits = [], [], []
    balance = Decimal(0)
    order = []
    for i in range(count):
        day = dt.date(2026, 1, 1) + dt.timedelta(days=i // 15)
        amount = Decimal(1000 + i) / 100
        reference = f"L{i:04d}"
        if i % 3 == 0:
            invoices.append(invoice(reference, day.isoformat(), str(amount * 2)))
            balance += amount * 2
        elif i % 3 == 1:
            payments.append(document(reference, day.isoformat(), str(amount)))
            balance -= amount
        else:
            credits.append(document(reference, day.isoformat(), str(amount), number=reference))
            balance -= amount
        order.append((day, (0, 2, 1)[i % 3], i, reference))
    await api(app, tenant, "PUT", "/invoices", invoices)
    await api(app, tenant, "PUT", "/payments", payments)
    await api(app, tenant, "PUT", "/credit-notes", credits)
    return balance, [reference for *_, reference in sorted(order)]


def money(value: Decimal) -> str:
    return f"-€{-value:,.2f}" if value < 0 else f"€{value:,.2f}"


async def test_a_1000_line_statement_runs_over_pages_with_headers_and_page_numbers(
    make_config, frozen_today
):
    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        customer = await add_customer(app, tenant)
        closing, order = await seed_many(app, tenant, 1000)
        await open_portal(app, customer)

        response = await app.client.get(f"{ACCOUNT}.pdf?from=2026-01-01&to=2026-03-15")
        assert response.status_code == 200
        pages = pdf_pages(response.content)
        count = len(pages)
        assert count > 15
        assert page_footers(pages) == [f"Page {n} of {count}" for n in range(1, count + 1)]
        for page in pages:
            assert HEADER in page.splitlines()  # the table header, repeated on every page
            assert "Northwind Traders" in page
        lines = [line for page in pages for line in page.splitlines()]
        references = [m.group(1) for line in lines if (m := re.search(r" (L\d{4}) ", line))]
        assert references == order
        closing_at = next(
            i for i, line in enumerate(lines) if line.startswith("Mar 15, 2026 Closing balance")
        )
        assert lines[closing_at].endswith(" " + money(closing))
        assert lines[closing_at - 1].endswith(" " + money(closing))  # the last running balance

        rows = csv_rows((await app.client.get(f"{ACCOUNT}.csv?from=2026-01-01")).content)
        assert len(rows) == 1 + 1 + 1000 + 1
        assert rows[-1][-1] == f"{closing:.2f}"


async def test_parallel_runs_of_pages_equal_one_document(make_config, frozen_today):
    """The same statement laid out by one process and by two in parallel (joined): the same
    pages, word for word."""
    texts = []
    for workers in (1, 2):
        async with statements_app(make_config, process_workers=workers) as app:
            tenant = await make_tenant(f"t{workers}")
            customer = await add_customer(app, tenant)
            await seed_many(app, tenant, 220)
            await open_portal(app, customer)
            response = await app.client.get(f"{ACCOUNT}.pdf?from=2026-01-01&to=2026-03-15")
            assert response.status_code == 200
            texts.append(pdf_pages(response.content))
    single, parallel = texts
    assert len(single) >= 4
    assert parallel == single


async def test_a_layout_that_misses_the_plan_is_laid_out_again_and_numbered_right(
    make_config, frozen_today, monkeypatch
):
    """If the planned pages overflow (here: the plan believes rows are 3 mm high), the
    statement is laid out again as one document, and its page numbers are still right."""
    from arportal.plugins.statements import layout

    monkeypatch.setattr(layout, "ROW_MM", 3.0)
    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        customer = await add_customer(app, tenant)
        _, order = await seed_many(app, tenant, 200)
        await open_portal(app, customer)
        response = await app.client.get(f"{ACCOUNT}.pdf?from=2026-01-01&to=2026-03-15")
        pages = pdf_pages(response.content)
        planned = len(layout.paginate([202], layout.Geometry("A4")))
        assert len(pages) > planned
        count = len(pages)
        assert page_footers(pages) == [f"Page {n} of {count}" for n in range(1, count + 1)]
        assert re.findall(r" (L\d{4}) ", "\n".join(pages)) == order


async def test_statement_data_takes_a_fixed_number_of_queries(make_config, frozen_today):
    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        counts = {}
        for external_id, lines in (("SMALL", 3), ("BIG", 300)):
            customer = await add_customer(app, tenant, external_id)
            await api(app, tenant, "PUT", "/invoices", [
                invoice(f"{external_id}-{i}", "2026-02-01", "10.00", customer=external_id)
                for i in range(lines)
            ])
            await open_portal(app, customer)
            with db.count_queries() as queries:
                response = await app.client.get(f"{ACCOUNT}.csv?from=2026-01-01")
            assert response.status_code == 200
            assert len(csv_rows(response.content)) == lines + 3
            counts[external_id] = queries[0]
        assert counts["SMALL"] == counts["BIG"]
        assert counts["BIG"] <= 3, counts  # the portal's one, then opening balances and lines


async def test_portal_pages_answer_while_a_1000_line_statement_renders(
    make_config, frozen_today
):
    async with statements_app(make_config, process_workers=1) as app:
        tenant = await make_tenant()
        customer = await add_customer(app, tenant)
        await seed_many(app, tenant, 1000)
        await open_portal(app, customer)
        assert (await app.client.get("/portal/")).status_code == 200

        statement = asyncio.create_task(
            app.client.get(f"{ACCOUNT}.pdf?from=2026-01-01&to=2026-03-15")
        )
        answered_meanwhile = 0
        while not statement.done():
            await asyncio.sleep(0.02)  # other requests get their turn, as between network reads
            home = await app.client.get("/portal/")
            assert home.status_code == 200
            assert "Northwind Traders" in home.text
            if not statement.done():
                answered_meanwhile += 1
        assert (await statement).status_code == 200
        assert answered_meanwhile >= 3, "the event loop was blocked while the PDF was laid out"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-03-01&to=2026-02-01", "The start date is after the end date."),
        ("from=2026-13-01", "from: expected a date as YYYY-MM-DD"),
        ("from=yesterday", "from: expected a date as YYYY-MM-DD"),
        ("to=2026-02-30", "to: expected a date as YYYY-MM-DD"),
        ("from=2015-01-01&to=2026-03-01", "A statement covers at most 10 years."),
    ],
)
async def test_bad_periods_answer_400_with_a_message(make_config, frozen_today, query, message):
    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        customer = await add_customer(app, tenant)
        await open_portal(app, customer)
        for ext in ("pdf", "csv"):
            response = await app.client.get(f"{ACCOUNT}.{ext}?{query}")
            assert response.status_code == 400
            assert response.headers["content-type"].startswith("text/html")
            assert message in response.text
            assert 'action="/portal/statements/account.pdf"' in response.text  # try again

        api_answer = await app.client.get(
            f"/api/v1/customers/C-1/statements/account.pdf?{query}", headers=tenant.headers
        )
        assert api_answer.status_code == 400
        assert api_answer.json()["detail"] == message
        assert api_answer.json()["field"] in ("from", "to")


async def test_a_bad_period_in_french(make_config, frozen_today):
    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        customer = await add_customer(app, tenant, locale="fr")
        await open_portal(app, customer)
        response = await app.client.get(f"{ACCOUNT}.pdf?from=2026-03-01&to=2026-02-01")
        assert response.status_code == 400
        assert "La date de début est postérieure à la date de fin." in response.text


async def test_a_statement_over_the_line_limit_answers_400(make_config, frozen_today):
    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        customer = await add_customer(app, tenant)
        await set_statements(app, tenant, max_lines=5)
        await seed_many(app, tenant, 6)
        await open_portal(app, customer)
        response = await app.client.get(f"{ACCOUNT}.pdf?from=2026-01-01")
        assert response.status_code == 400
        assert "more than 5 lines" in response.text
        assert (await app.client.get(f"{ACCOUNT}.pdf?from=2026-01-02")).status_code == 200


async def test_letter_paper_by_setting(make_config, frozen_today):
    import io

    import pypdf

    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        customer = await add_customer(app, tenant)
        await open_portal(app, customer)
        a4 = await app.client.get(f"{ACCOUNT}.pdf")
        await set_statements(app, tenant, paper_size="Letter")
        letter = await app.client.get(f"{ACCOUNT}.pdf")
        boxes = [pypdf.PdfReader(io.BytesIO(r.content)).pages[0].mediabox for r in (a4, letter)]
        sizes = [(round(float(box.width)), round(float(box.height))) for box in boxes]
        assert sizes == [(595, 842), (612, 792)]
        assert "No activity in this period." in pdf_lines(letter.content)


async def test_long_dates_and_large_amounts_are_printed_whole(make_config):
    """The widest dates and amounts of a statement fit their cells (a cut amount would be
    worse than none): September in French, hundreds of millions, in bold totals too."""
    from arportal.clock import freeze_today

    freeze_today(dt.date(2026, 9, 30))
    try:
        async with statements_app(make_config) as app:
            tenant = await make_tenant()
            customer = await add_customer(app, tenant, locale="fr_FR")
            await api(app, tenant, "PUT", "/invoices", [
                invoice("F-BIG", "2026-09-30", "987654321.98")
            ])
            await api(app, tenant, "PUT", "/credit-notes", [
                document("AV-BIG", "2026-09-28", "123456789.99", number="AV-BIG")
            ])
            await open_portal(app, customer)
            response = await app.client.get(f"{ACCOUNT}.pdf?from=2026-09-01")
            lines = pdf_lines(response.content)
            assert "28 sept. 2026 Avoir AV-BIG 123 456 789,99 € -123 456 789,99 €" in lines
            assert "30 sept. 2026 Facture F-BIG 987 654 321,98 € 864 197 531,99 €" in lines
            assert (
                "30 sept. 2026 Solde de clôture 987 654 321,98 € 123 456 789,99 € "
                "864 197 531,99 €"
            ) in lines
            assert "…" not in "\n".join(lines)
    finally:
        freeze_today(None)
