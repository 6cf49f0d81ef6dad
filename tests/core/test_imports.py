"""CSV imports: every row or none, errors naming the line (header = 1) and the column."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from arportal.imports import ImportFailure, import_file, read_csv
from arportal.ledger import CustomerIn, InvoiceIn, PaymentIn
from arportal.models import Customer, Invoice, Payment
from arportal.tenancy import load_context

CUSTOMERS = """external_id,name,email,currency,locale,extra.netsuite_id
C1,One Ltd,ap@one.example,EUR,fr,NS-1
C2,"Two, Inc",,USD,en,
"""

INVOICES = """external_id,customer_external_id,number,issue_date,due_date,currency,total,amount_due
I1,C1,N-1,2026-01-01,2026-01-31,EUR,100.00,
I2,C1,N-2,2026-01-05,2026-02-04,EUR,80.50,20
I3,C2,N-3,2026-01-05,2026-02-04,USD,10,
"""

PAYMENT_HEADER = (
    "external_id,customer_external_id,date,currency,amount,invoice_external_id,allocation_amount\n"
)


@pytest.fixture
async def ctx(app: Any, tenant: Any) -> Any:
    return await load_context(app.host, app.config, tenant.row, actor="cli")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def failure(text: str, struct: Any) -> ImportFailure:
    with pytest.raises(ImportFailure) as err:
        read_csv(io.StringIO(text), struct)
    return err.value


def test_read_csv_maps_columns_to_api_fields() -> None:
    rows = read_csv(io.StringIO("\ufeff" + CUSTOMERS), CustomerIn)
    assert [r.external_id for r in rows] == ["C1", "C2"]
    assert rows[0].extra == {"netsuite_id": "NS-1"} and rows[1].extra == {}
    assert rows[1].name == "Two, Inc" and rows[1].email == ""
    assert rows.lines == [2, 3]
    contacts = read_csv(
        io.StringIO(
            "external_id,name,contacts,extra\n"
            'C1,One,"[{""email"": ""a@b.example""}]","{""k"": 1}"\n'
        ),
        CustomerIn,
    )
    assert contacts[0].contacts == [{"email": "a@b.example"}] and contacts[0].extra == {"k": 1}


def test_read_csv_from_a_binary_file() -> None:
    rows = read_csv(io.BytesIO(INVOICES.encode()), InvoiceIn)
    assert [str(r.total) for r in rows] == ["100.00", "80.50", "10"]
    assert rows[0].amount_due is None and str(rows[1].amount_due) == "20"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            INVOICES.replace("2026-01-31", "2024-13-01"),
            "line 2: due_date: expected YYYY-MM-DD, got '2024-13-01'",
        ),
        (
            INVOICES.replace("80.50", '"80,50"'),
            "line 3: total: expected a decimal amount like 1234.50, got '80,50'",
        ),
        (
            INVOICES + "I4,C2,,2026-01-05,2026-02-04,USD,10,\n",
            "line 5: number: required, but the cell is empty",
        ),
        (
            INVOICES.replace("amount_due\n", "amount_due,status\n").replace("10,\n", "10,,late\n"),
            "line 4: status: expected one of open, paid, void, got 'late'",
        ),
        (INVOICES.replace("amount_due", "colour"), "line 1: colour: unknown column; expected"),
        (INVOICES.replace("number,", ""), "line 1: number: missing column"),
        ("", "line 1: the file is empty"),
        (
            INVOICES + "I4,C2,N-4,2026-01-05,2026-02-04,USD,10,,extra\n",
            "line 5: 9 cells, but the header has 8 columns",
        ),
    ],
)
def test_read_csv_errors_name_line_and_column(text: str, expected: str) -> None:
    assert str(failure(text, InvoiceIn)).startswith(expected)


def test_blank_lines_keep_spreadsheet_line_numbers() -> None:
    text = INVOICES.replace("I2,", "\nI2,").replace("2026-02-04,USD,10", "2026-02-04,USD,x")
    err = failure(text, InvoiceIn)
    assert (err.line, err.field) == (5, "total")


def test_payment_rows_with_one_external_id_are_one_payment() -> None:
    text = PAYMENT_HEADER + """P1,C1,2026-02-01,EUR,120.00,I1,100.00
P1,C1,2026-02-01,EUR,120.00,I2,20.00
P2,C1,2026-02-02,EUR,5,,
"""
    rows = read_csv(io.StringIO(text), PaymentIn)
    assert [r.external_id for r in rows] == ["P1", "P2"]
    assert [(a.invoice_external_id, str(a.amount)) for a in rows[0].allocations] == [
        ("I1", "100.00"),
        ("I2", "20.00"),
    ]
    assert rows[1].allocations == []
    assert rows.allocation_lines == [[2, 3], []]
    err = failure(
        text.replace("P1,C1,2026-02-01,EUR,120.00,I2", "P1,C1,2026-02-01,EUR,121,I2"), PaymentIn
    )
    assert str(err) == "line 3: amount: differs from line 2, where 'P1' starts"
    err = failure(text.replace("I2,20.00", "I2,"), PaymentIn)
    assert (err.line, err.field) == (3, "allocation_amount")


async def test_import_writes_everything(ctx: Any, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    assert (
        await import_file(
            ctx,
            "customers",
            write(tmp_path, "c.csv", CUSTOMERS),
            progress=lambda done, total: seen.append((done, total)),
        )
        == 2
    )
    assert seen[0] == (0, 2) and seen[-1] == (2, 2)
    row = await Customer.select().where(Customer.external_id == "C1").output(load_json=True).first()
    assert row["extra"] == {"netsuite_id": "NS-1"} and row["locale"] == "fr"
    assert await import_file(ctx, "invoices", write(tmp_path, "i.csv", INVOICES)) == 3
    payments = PAYMENT_HEADER + """P1,C1,2026-02-01,EUR,120.00,I1,100.00
P1,C1,2026-02-01,EUR,120.00,I2,20.00
"""
    assert await import_file(ctx, "payments", write(tmp_path, "p.csv", payments)) == 1
    paid = (
        await Invoice.select(Invoice.external_id, Invoice.status)
        .where((Invoice.tenant == ctx.tenant_id) & (Invoice.status == "paid"))
        .order_by(Invoice.id)
    )
    assert [r["external_id"] for r in paid] == ["I1", "I2"]


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        (
            "invoices",
            INVOICES.replace("I3,C2", "I3,C9"),
            "line 4: customer_external_id: unknown customer 'C9'",
        ),
        (
            "invoices",
            INVOICES.replace("10,\n", "10.5,\n").replace("USD", "JPY"),
            "line 4: total: 10.5 has more than 0 decimals for JPY",
        ),
        (
            "invoices",
            INVOICES + "I1,C1,N-1,2026-01-01,2026-01-31,EUR,100.00,\n",
            "line 5: external_id: duplicate external_id 'I1'",
        ),
        (
            "payments",
            "external_id,customer_external_id,date,currency,amount,invoice_external_id,"
            "allocation_amount\nP1,C1,2026-02-01,EUR,500,I1,100\nP1,C1,2026-02-01,EUR,500,I2,70\n",
            "line 3: allocation_amount: 70.00 is more than the 20.00 due on invoice 'I2'",
        ),
        (
            "payments",
            "external_id,customer_external_id,date,currency,amount,invoice_external_id,"
            "allocation_amount\nP1,C1,2026-02-01,EUR,50,I1,30\nP1,C1,2026-02-01,EUR,50,I2,30\n",
            "line 2: allocation_amount: allocations add up to 60.00, more than the amount 50.00",
        ),
    ],
)
async def test_one_bad_row_and_nothing_is_written(
    ctx: Any, tmp_path: Path, kind: str, text: str, expected: str
) -> None:
    await import_file(ctx, "customers", write(tmp_path, "c.csv", CUSTOMERS))
    if kind == "payments":
        await import_file(ctx, "invoices", write(tmp_path, "i.csv", INVOICES))
    before = await Invoice.count().where(Invoice.tenant == ctx.tenant_id)
    with pytest.raises(ImportFailure) as err:
        await import_file(ctx, kind, write(tmp_path, "bad.csv", text))
    assert str(err.value).startswith(expected), str(err.value)
    assert await Invoice.count().where(Invoice.tenant == ctx.tenant_id) == before
    assert await Payment.count().where(Payment.tenant == ctx.tenant_id) == 0
    due = await Invoice.select(Invoice.amount_due_minor).where(Invoice.external_id == "I2").first()
    assert due is None or due["amount_due_minor"] == 2000


async def test_unknown_kind_is_refused(ctx: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind"):
        await import_file(ctx, "widgets", write(tmp_path, "w.csv", CUSTOMERS))


# --- invoices: the fast reader gives what read_csv + prepare_invoice give --------------------

ODD_INVOICES = INVOICES.splitlines()[0] + """,status,pdf_url
I1,C1,N-1,2026-01-01,2026-01-31,EUR,100.00,,,
 I2 , C1 ,"N, 2",2026-01-05,2026-02-04, eur ,0080.5,20,paid,https://x.example/2.pdf

I3,C2,"N
3",2026-01-05,2026-01-05,USD,1e2,1_0,void,
I4,C2,N-4,2026-01-05,2026-02-04,JPY,10,.0,open,
I5,C2,N-5,2026-01-05,2026-02-04,BHD,1.234,1.,,
I6,C2,N-6,2026-01-05,2026-02-04,USD,5.,5.00,,
,,,,,,,,,
I7,C2,N-7,2026-01-05,2026-02-04,USD,12.5,,open,http://x.example/7
"""


def usual_header() -> str:
    return ODD_INVOICES.splitlines()[0] + "\n"


def generic_invoices(text: str) -> tuple[list[Any], list[int]]:
    from arportal.ledger import prepare_invoice

    items = read_csv(io.StringIO(text), InvoiceIn)
    return [prepare_invoice(i, item) for i, item in enumerate(items)], list(items.lines)


@pytest.mark.parametrize("chunk", [1, 2, 500])
def test_read_invoices_gives_what_read_csv_and_prepare_give(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    from arportal import imports

    monkeypatch.setattr(imports, "CHUNK_ROWS", chunk)
    usual = "".join(
        f"U{i},C{i % 3},N{i},2026-0{1 + i % 9}-1{i % 10},2026-1{i % 3}-2{i % 8},"
        f"{'USD' if i % 7 else 'EUR'},{i}.{i % 100:02d},{i % 5}.00,{('open', 'paid', '')[i % 3]},\n"
        for i in range(1, 30)
    )
    for text in (ODD_INVOICES, ODD_INVOICES + usual, INVOICES, usual_header() + "\n" + usual):
        expected, lines = generic_invoices(text)
        rows = imports.read_invoices(io.StringIO(text))
        assert list(rows) == expected
        assert list(rows.lines) == lines


@pytest.mark.parametrize("chunk", [1, 500])
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            INVOICES.replace("2026-01-31", "2024-13-01"),
            "line 2: due_date: expected YYYY-MM-DD, got '2024-13-01'",
        ),
        (
            INVOICES.replace("80.50", '"80,50"'),
            "line 3: total: expected a decimal amount like 1234.50, got '80,50'",
        ),
        (
            INVOICES + "I4,C2,,2026-01-05,2026-02-04,USD,10,\n",
            "line 5: number: required, but the cell is empty",
        ),
        (INVOICES.replace("amount_due", "colour"), "line 1: colour: unknown column; expected"),
        ("", "line 1: the file is empty"),
        (
            INVOICES + "I4,C2,N-4,2026-01-05,2026-02-04,USD,10,,extra\n",
            "line 5: 9 cells, but the header has 8 columns",
        ),
        (
            INVOICES.replace("10,\n", "10.5,\n").replace("USD", "JPY"),
            "line 4: total: 10.5 has more than 0 decimals for JPY",
        ),
        (INVOICES.replace("EUR,100.00", "EUR,-1"), "line 2: total: must not be negative"),
        (INVOICES.replace("80.50,20", "80.50,81"), "line 3: amount_due: 81 is more than"),
        (INVOICES.replace("2026-01-31", "2025-12-31"), "line 2: due_date: is before issue_date"),
        (INVOICES.replace("USD", "ZZZ"), "line 4: currency: unknown currency 'ZZZ'"),
        # An error read_csv finds comes before one prepare_invoice finds on an earlier line.
        (
            INVOICES.replace("EUR,100.00", "EUR,-1").replace("10,\n", "x,\n"),
            "line 4: total: expected a decimal amount",
        ),
    ],
)
def test_read_invoices_errors_are_those_of_read_csv_and_prepare(
    monkeypatch: pytest.MonkeyPatch, chunk: int, text: str, expected: str
) -> None:
    from arportal import imports
    from arportal.ledger import LedgerError, prepare_invoice

    monkeypatch.setattr(imports, "CHUNK_ROWS", chunk)
    with pytest.raises(ImportFailure) as err:
        imports.read_invoices(io.StringIO(text))
    assert str(err.value).startswith(expected), str(err.value)
    try:
        items = read_csv(io.StringIO(text), InvoiceIn)
        for index, item in enumerate(items):
            prepare_invoice(index, item)
    except ImportFailure as generic:
        assert str(generic) == str(err.value)
    except LedgerError as generic:
        assert generic.message == err.value.message


async def test_invoice_import_in_several_batches_and_the_collector_resumes(
    ctx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from arportal import imports, ledger

    monkeypatch.setattr(imports, "CHUNK_ROWS", 7)
    monkeypatch.setattr(ledger, "BULK_BATCH_SIZE", 20)
    monkeypatch.setattr(ledger, "BATCH_SIZE", 10)
    monkeypatch.setattr(ledger, "LOOKUP_CHUNK", 15)
    await import_file(ctx, "customers", write(tmp_path, "c.csv", CUSTOMERS))
    header = INVOICES.splitlines()[0] + ",status\n"
    body = "".join(
        f"I{i},C{1 + i % 2},N-{i},2026-01-05,2026-02-04,{'EUR' if i % 2 else 'USD'},"
        f"{i}.50,{'' if i % 3 else '0.50'},{'paid' if i % 5 == 0 else ''}\n"
        for i in range(1, 56)
    )
    seen: list[tuple[int, int]] = []
    count = await import_file(
        ctx, "invoices", write(tmp_path, "i.csv", header + body), lambda d, t: seen.append((d, t))
    )
    assert count == 55 and seen == [(0, 55), (20, 55), (40, 55), (55, 55)]
    assert gc.isenabled()
    stored = {
        r["external_id"]: r
        for r in await Invoice.select().where(Invoice.tenant == ctx.tenant_id).order_by(Invoice.id)
    }
    assert list(stored) == [f"I{i}" for i in range(1, 56)]
    assert (stored["I1"]["total_minor"], stored["I1"]["amount_due_minor"]) == (150, 150)
    assert (stored["I3"]["amount_due_minor"], stored["I3"]["status"]) == (50, "open")
    assert (stored["I5"]["amount_due_minor"], stored["I5"]["status"]) == (0, "paid")
    # Again, with some rows changed and some new: existing ones are updated in place.
    body = body.replace("I7,C2,N-7", "I7,C2,N-7b") + "I56,C1,N-56,2026-01-05,2026-02-04,USD,1,,\n"
    assert await import_file(ctx, "invoices", write(tmp_path, "j.csv", header + body)) == 56
    again = {
        r["external_id"]: r
        for r in await Invoice.select().where(Invoice.tenant == ctx.tenant_id).order_by(Invoice.id)
    }
    assert again["I7"]["number"] == "N-7b" and again["I7"]["id"] == stored["I7"]["id"]
    assert list(again)[-1] == "I56" and len(again) == 56
    # A bad row in the last batch: nothing of the earlier batches stays, and the collector
    # is back on.
    bad = body.replace("I8,", "J8,") + "I57,C9,N-57,2026-01-05,2026-02-04,USD,1,,\n"
    with pytest.raises(ImportFailure, match="line 58: customer_external_id: unknown"):
        await import_file(ctx, "invoices", write(tmp_path, "k.csv", header + bad))
    assert gc.isenabled()
    assert await Invoice.count().where(Invoice.tenant == ctx.tenant_id) == 56


def test_usual_rows_are_converted_column_by_column() -> None:
    from arportal.imports import CsvRows, _field_types, _InvoiceReader

    header, *rows = [line.split(",") for line in INVOICES.splitlines()]
    reader = _InvoiceReader(header, _field_types(InvoiceIn), CsvRows())
    converted = reader.chunk(rows)
    assert converted is not None
    assert [(item[6], item[7]) for item in converted] == [(10000, None), (8050, 2000), (1000, None)]
    rows[1][6] = "80.5e0"
    assert reader.chunk(rows) is None
