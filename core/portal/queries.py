"""The portal's read queries: a fixed number per page, whatever the number of invoices.

Every query is scoped by tenant and customer, written with placeholders only (the SQL text is
assembled from fixed fragments chosen by an allowlist, never from input), and returns money as
integer minor units. The invoice list is paged with a keyset cursor on the sort key and the
id, so it reads from the `(tenant, customer, status, due_date, id)` and
`(tenant, customer, issue_date, id)` indexes instead of counting past skipped rows.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from arportal import db

INVOICE_COLUMNS = (
    "id, external_id, number, issue_date, due_date, currency, total_minor, "
    "amount_due_minor, status, pdf_url"
)
VISIBLE_STATUSES = ("open", "paid")
"""Void invoices never show on the portal."""


@dataclass(frozen=True)
class Tab:
    statuses: tuple[str, ...]
    sort_key: str
    descending: bool


TABS: dict[str, Tab] = {
    "open": Tab(("open",), "due_date", descending=False),
    "paid": Tab(("paid",), "due_date", descending=True),
    "all": Tab(VISIBLE_STATUSES, "issue_date", descending=True),
}
DEFAULT_TAB = "open"

_CURSOR = re.compile(r"^(\d{4}-\d{2}-\d{2})\.(\d{1,18})$")


@dataclass(frozen=True)
class Cursor:
    day: dt.date
    id: int

    def encode(self) -> str:
        return f"{self.day.isoformat()}.{self.id}"

    @classmethod
    def decode(cls, value: str | None) -> Cursor | None:
        """None for anything that is not a cursor this module wrote (the first page shows)."""
        match = _CURSOR.match(value or "")
        if not match:
            return None
        try:
            return cls(dt.date.fromisoformat(match.group(1)), int(match.group(2)))
        except ValueError:
            return None


@dataclass
class InvoicePage:
    rows: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None
    prev_cursor: str | None = None


def _int(value: Any) -> int:
    """SUM() is numeric on PostgreSQL (Decimal) and an int on SQLite; amounts are whole."""
    return int(value or 0)


async def balances(
    tenant_id: int, customer_id: int, today: dt.date, hide_future: bool
) -> list[dict[str, Any]]:
    """What the customer owes and what is overdue, per currency (one GROUP BY query)."""
    sql = (
        "SELECT currency, COUNT(*) AS open_count, SUM(amount_due_minor) AS due_minor, "
        "SUM(CASE WHEN due_date < {} AND amount_due_minor > 0 THEN amount_due_minor ELSE 0 END)"
        " AS overdue_minor, "
        "SUM(CASE WHEN due_date < {} AND amount_due_minor > 0 THEN 1 ELSE 0 END)"
        " AS overdue_count "
        "FROM invoice WHERE tenant = {} AND customer = {} AND status = 'open'"
    )
    args: list[Any] = [today, today, tenant_id, customer_id]
    if hide_future:
        sql += " AND issue_date <= {}"
        args.append(today)
    sql += " GROUP BY currency ORDER BY currency"
    rows = await db.fetch(sql, *args)
    return [
        {
            "currency": row["currency"],
            "open_count": _int(row["open_count"]),
            "due_minor": _int(row["due_minor"]),
            "overdue_minor": _int(row["overdue_minor"]),
            "overdue_count": _int(row["overdue_count"]),
        }
        for row in rows
    ]


async def invoice_page(
    tenant_id: int,
    customer_id: int,
    tab_name: str,
    *,
    today: dt.date,
    hide_future: bool,
    size: int,
    after: Cursor | None = None,
    before: Cursor | None = None,
) -> InvoicePage:
    """One page of a tab's invoices (one query). `after` pages forward from a row, `before`
    back; the page has `next_cursor`/`prev_cursor` when there is more that way."""
    tab = TABS[tab_name]
    backward = before is not None and after is None
    cursor = before if backward else after
    descending = tab.descending != backward
    placeholders = ", ".join("{}" for _ in tab.statuses)
    sql = (
        f"SELECT {INVOICE_COLUMNS} FROM invoice "
        f"WHERE tenant = {{}} AND customer = {{}} AND status IN ({placeholders})"
    )
    args: list[Any] = [tenant_id, customer_id, *tab.statuses]
    if hide_future:
        sql += " AND issue_date <= {}"
        args.append(today)
    key = tab.sort_key
    if cursor is not None:
        sql += f" AND ({key}, id) {'<' if descending else '>'} ({{}}, {{}})"
        args.extend([cursor.day, cursor.id])
    direction = "DESC" if descending else "ASC"
    sql += f" ORDER BY {key} {direction}, id {direction} LIMIT {{}}"
    args.append(size + 1)
    rows = list(await db.fetch(sql, *args))
    more = len(rows) > size
    rows = rows[:size]
    if backward:
        rows.reverse()
    page = InvoicePage(rows=[_invoice(row, today) for row in rows])
    if rows:
        first = Cursor(rows[0][key], rows[0]["id"]).encode()
        last = Cursor(rows[-1][key], rows[-1]["id"]).encode()
        if backward:
            page.prev_cursor = first if more else None
            page.next_cursor = last
        else:
            page.next_cursor = last if more else None
            page.prev_cursor = first if cursor is not None else None
    return page


async def invoice_by_external_id(
    tenant_id: int, customer_id: int, external_id: str, today: dt.date, hide_future: bool
) -> dict[str, Any] | None:
    placeholders = ", ".join("{}" for _ in VISIBLE_STATUSES)
    sql = (
        f"SELECT {INVOICE_COLUMNS} FROM invoice WHERE tenant = {{}} AND customer = {{}} "
        f"AND external_id = {{}} AND status IN ({placeholders})"
    )
    args: list[Any] = [tenant_id, customer_id, external_id, *VISIBLE_STATUSES]
    if hide_future:
        sql += " AND issue_date <= {}"
        args.append(today)
    rows = await db.fetch(sql, *args)
    return _invoice(rows[0], today) if rows else None


async def allocations(tenant_id: int, invoice_id: int) -> list[dict[str, Any]]:
    """Payments and credit notes applied to an invoice, oldest first (one query)."""
    rows = await db.fetch(
        "SELECT a.id, a.amount_minor, "
        "p.external_id AS payment_ref, p.date AS payment_date, "
        "c.external_id AS credit_ref, c.number AS credit_number, c.date AS credit_date "
        "FROM allocation a "
        "LEFT JOIN payment p ON p.id = a.payment AND p.tenant = a.tenant "
        "LEFT JOIN credit_note c ON c.id = a.credit_note AND c.tenant = a.tenant "
        "WHERE a.tenant = {} AND a.invoice = {} ORDER BY a.id",
        tenant_id,
        invoice_id,
    )
    result = []
    for row in rows:
        is_payment = row["payment_ref"] is not None
        result.append(
            {
                "id": row["id"],
                "kind": "payment" if is_payment else "credit_note",
                "reference": row["payment_ref"] if is_payment
                else (row["credit_number"] or row["credit_ref"]),
                "date": row["payment_date"] if is_payment else row["credit_date"],
                "amount_minor": _int(row["amount_minor"]),
            }
        )
    result.sort(key=lambda item: (item["date"] or dt.date.min, item["id"]))
    return result


def _invoice(row: dict[str, Any], today: dt.date) -> dict[str, Any]:
    invoice = dict(row)
    invoice["total_minor"] = _int(row["total_minor"])
    invoice["amount_due_minor"] = _int(row["amount_due_minor"])
    invoice["overdue"] = (
        row["status"] == "open" and row["due_date"] < today and invoice["amount_due_minor"] > 0
    )
    return invoice
