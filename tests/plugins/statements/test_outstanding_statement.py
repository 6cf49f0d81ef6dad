"""The outstanding-balance statement: open invoices, days overdue, ageing, total due and how to
pay, as PDF and CSV, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import make_tenant
from tests.plugins.statements.helpers import (
    add_customer,
    api,
    csv_rows,
    invoice,
    open_portal,
    page_footers,
    pdf_lines,
    pdf_pages,
    set_features,
    set_statements,
    statements_app,
)

OUTSTANDING = "/portal/statements/outstanding"
REMITTANCE = (
    "Pay by transfer to IBAN FR76 3000 6000 0112 3456 7890 189\nReference: your account number"
)


async def seed(app: Any, tenant: Any) -> None:
    """Today is 2026-03-15. Due dates put one invoice in each ageing bucket; a paid and a
    void invoice are not outstanding."""
    await api(app, tenant, "PUT", "/invoices", [
        invoice("F-CUR", "2026-03-01", "100.00", due="2026-03-31"),
        invoice("F-10", "2026-02-01", "200.00", due="2026-03-05"),
        invoice("F-45", "2026-01-01", "300.00", due="2026-01-29"),
        invoice("F-75", "2025-12-01", "400.00", due="2025-12-30"),
        invoice("F-120", "2025-10-01", "500.00", due="2025-11-15"),
        invoice("F-PAID", "2026-01-01", "50.00", status="paid"),
        invoice("F-VOID", "2026-01-01", "60.00", status="void"),
        invoice("F-USD", "2026-03-10", "80.00", due="2026-04-10", currency="USD"),
    ])
    await api(app, tenant, "PUT", "/payments", [{
        "external_id": "P-1", "customer_external_id": "C-1", "date": "2026-03-10",
        "currency": "EUR", "amount": "150.00",
        "allocations": [{"invoice_external_id": "F-120", "amount": "150.00"}],
    }])


async def test_outstanding_pdf_lists_open_invoices_ageing_and_how_to_pay(
    make_config, frozen_today
):
    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        await set_features(app, tenant, outstanding_statement=True)
        await set_statements(app, tenant, remittance_text=REMITTANCE)
        customer = await add_customer(app, tenant)
        await seed(app, tenant)
        await open_portal(app, customer)

        response = await app.client.get(f"{OUTSTANDING}.pdf")
        assert response.status_code == 200, response.text
        assert response.headers["content-disposition"] == (
            'attachment; filename="outstanding-statement-C-1-2026-03-15.pdf"'
        )
        lines = pdf_lines(response.content)
        text = "\n".join(lines)
        assert "Outstanding balance statement" in text
        assert "Number Issue date Due date Total Amount due Days overdue" in lines
        assert [line for line in lines if line.startswith("F-")] == [
            "F-120 Oct 1, 2025 Nov 15, 2025 €500.00 €350.00 120",
            "F-75 Dec 1, 2025 Dec 30, 2025 €400.00 €400.00 75",
            "F-45 Jan 1, 2026 Jan 29, 2026 €300.00 €300.00 45",
            "F-10 Feb 1, 2026 Mar 5, 2026 €200.00 €200.00 10",
            "F-CUR Mar 1, 2026 Mar 31, 2026 €100.00 €100.00",
            "F-USD Mar 10, 2026 Apr 10, 2026 $80.00 $80.00",
        ]
        assert "Current 1–30 days 31–60 days 61–90 days Over 90 days Total due" in lines
        assert "€100.00 €200.00 €300.00 €400.00 €350.00 €1,350.00" in lines
        assert "$80.00 $0.00 $0.00 $0.00 $0.00 $80.00" in lines
        assert "F-PAID" not in text and "F-VOID" not in text
        assert "How to pay" in lines
        assert "Pay by transfer to IBAN FR76 3000 6000 0112 3456 7890 189" in lines
        assert "Reference: your account number" in lines
        assert page_footers(pdf_pages(response.content)) == ["Page 1 of 1"]


async def test_outstanding_csv_has_the_same_figures(make_config, frozen_today):
    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        await set_features(app, tenant, outstanding_statement=True)
        customer = await add_customer(app, tenant)
        await seed(app, tenant)
        await open_portal(app, customer)

        rows = csv_rows((await app.client.get(f"{OUTSTANDING}.csv")).content)
        assert rows[0] == [
            "Currency", "Number", "Issue date", "Due date", "Total", "Amount due",
            "Days overdue", "Ageing",
        ]
        assert rows[1] == [
            "EUR", "F-120", "2025-10-01", "2025-11-15", "500.00", "350.00", "120", "Over 90 days"
        ]
        assert rows[5] == [
            "EUR", "F-CUR", "2026-03-01", "2026-03-31", "100.00", "100.00", "0", "Current"
        ]
        summary = [row for row in rows if row[0] == "EUR" and not row[1].startswith("F-")]
        assert summary == [
            ["EUR", "Current", "", "", "", "100.00", "", ""],
            ["EUR", "1–30 days", "", "", "", "200.00", "", ""],
            ["EUR", "31–60 days", "", "", "", "300.00", "", ""],
            ["EUR", "61–90 days", "", "", "", "400.00", "", ""],
            ["EUR", "Over 90 days", "", "", "", "350.00", "", ""],
            ["EUR", "Total due", "", "", "", "1350.00", "", ""],
        ]
        assert rows[-1] == ["USD", "Total due", "", "", "", "80.00", "", ""]


async def test_nothing_outstanding_says_so(make_config, frozen_today):
    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        await set_features(app, tenant, outstanding_statement=True)
        customer = await add_customer(app, tenant, locale="fr")
        await open_portal(app, customer)
        lines = pdf_lines((await app.client.get(f"{OUTSTANDING}.pdf")).content)
        assert "Relevé des factures à payer" in "\n".join(lines)
        assert "Aucune facture à payer." in lines
        assert "0,00 € 0,00 € 0,00 € 0,00 € 0,00 € 0,00 €" in lines  # ageing and total due


async def test_many_open_invoices_run_over_pages(make_config, frozen_today):
    async with statements_app(make_config) as app:
        tenant = await make_tenant()
        await set_features(app, tenant, outstanding_statement=True)
        await set_statements(app, tenant, remittance_text=REMITTANCE)
        customer = await add_customer(app, tenant)
        await api(app, tenant, "PUT", "/invoices", [
            invoice(f"N{i:03d}", "2026-01-01", "10.00", due=f"2026-02-{1 + i % 28:02d}")
            for i in range(260)
        ])
        await open_portal(app, customer)
        pages = pdf_pages((await app.client.get(f"{OUTSTANDING}.pdf")).content)
        count = len(pages)
        assert count >= 5
        assert page_footers(pages) == [f"Page {n} of {count}" for n in range(1, count + 1)]
        numbers = re.findall(r"^(N\d{3}) ", "\n".join(pages), flags=re.M)
        assert sorted(numbers) == [f"N{i:03d}" for i in range(260)]
        assert "€0.00 €1,440.00 €1,160.00 €0.00 €0.00 €2,600.00" in "\n".join(pages)
        assert "How to pay" in pages[-1]
