"""The portal's read queries: a fixed number per page, whatever the number of invoices.

Every query is scoped by tenant and customer, written with placeholders only (the SQL text is
assembled from fixed fragments chosen by an allowlist, never from input), and returns money as
integer minor units. The invoice list is paged with a keyset cursor on the sort key and the
id, so it reads from the `invoice_portal_list` index (tenant, customer, status, due_date, id,
carrying the listed columns) and `(tenant, customer, issue_date, id)` instead of counting past
skipped rows.

The home page's read is a `PageQuery`: one SQL expression answering JSON, so that on a
returning visit it can ride on the link look-up (one statement per page, see
`arportal.portal.access.Prefetch`).
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

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


HOME_COLUMNS = (
    "id, external_id, number, issue_date, due_date, currency, total_minor, amount_due_minor, "
    "status"
)
"""What the home page lists: the columns its index carries (`invoice_portal_list`), so the
rows come from the index alone."""
_BALANCE_FIELDS = ("currency", "open_count", "due_minor", "overdue_minor", "overdue_count")


@dataclass(frozen=True)
class PageQuery:
    """A page's read as one SQL expression whose value is JSON text, with its arguments
    (`{}` placeholders). It runs alone (`arportal.portal.access.page_data`) or rides as one
    more column on the link look-up that every portal request makes (see `portal_prefetch`
    in `arportal.portal.access`): one statement per page instead of two."""

    sql: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class HomeRequest:
    """What the home page shows: a tab, where in it, for whom, as of which day."""

    tenant_id: int
    customer_id: int
    tab_name: str
    today: dt.date
    hide_future: bool
    size: int
    after: Cursor | None = None
    before: Cursor | None = None

    @property
    def backward(self) -> bool:
        return self.before is not None and self.after is None

    @property
    def cursor(self) -> Cursor | None:
        return self.before if self.backward else self.after

    @functools.cached_property
    def query(self) -> PageQuery:
        """What the customer owes and what is overdue, per currency, and one page of the
        tab's invoices (`size` + 1 rows, to know whether there is more), as one JSON value
        `[[invoice row, ...], [balance row, ...]]` of arrays in `HOME_COLUMNS` and
        `_BALANCE_FIELDS` order. Each part reads its own index."""
        tab = TABS[self.tab_name]
        cursor = self.cursor
        sql = _home_sql(db.is_postgres(), self.tab_name, self.hide_future,
                        cursor is not None, tab.descending != self.backward)
        future = (self.today,) if self.hide_future else ()
        page_args: tuple[Any, ...] = (self.tenant_id, self.customer_id, *tab.statuses, *future)
        if cursor is not None:
            page_args += (cursor.day, cursor.id)
        return PageQuery(sql, (*page_args, self.size + 1, self.today, self.today,
                               self.tenant_id, self.customer_id, *future))

    def result(self, data: str | bytes) -> tuple[list[dict[str, Any]], InvoicePage]:
        """The balances (one dict per currency) and the invoice page from the query's JSON."""
        invoices, balance_rows = _HOME_JSON.decode(data)
        tab = TABS[self.tab_name]
        invoices.sort(key=operator.attrgetter(tab.sort_key, "id"),
                      reverse=tab.descending != self.backward)
        more = len(invoices) > self.size
        del invoices[self.size:]
        if self.backward:
            invoices.reverse()
        today = self.today
        rows = []
        for invoice in invoices:
            row = _asdict(invoice)
            row["overdue"] = (invoice.status == "open" and invoice.due_date < today
                              and invoice.amount_due_minor > 0)
            rows.append(row)
        balances = [
            {"currency": currency, "open_count": count, "due_minor": due,
             "overdue_minor": overdue, "overdue_count": overdue_count}
            for currency, count, due, overdue, overdue_count in sorted(balance_rows)
        ]
        return balances, self._page(rows, more)

    def _page(self, rows: list[dict[str, Any]], more: bool) -> InvoicePage:
        page = InvoicePage(rows=rows)
        if rows:
            key = TABS[self.tab_name].sort_key
            first = Cursor(rows[0][key], rows[0]["id"]).encode()
            last = Cursor(rows[-1][key], rows[-1]["id"]).encode()
            if self.backward:
                page.prev_cursor = first if more else None
                page.next_cursor = last
            else:
                page.next_cursor = last if more else None
                page.prev_cursor = first if self.cursor is not None else None
        return page


class _InvoiceRow(msgspec.Struct, array_like=True):
    """A row in `HOME_COLUMNS` order, as the JSON of `HomeRequest.query` gives it."""

    id: int
    external_id: str
    number: str | None
    issue_date: dt.date
    due_date: dt.date
    currency: str
    total_minor: int
    amount_due_minor: int
    status: str


_BalanceRow = tuple[str, int, int, int, int]
_HOME_JSON = msgspec.json.Decoder(tuple[list[_InvoiceRow], list[_BalanceRow]])
"""Types checked, dates parsed and rows built by msgspec, in C (then `asdict`): 26 us for 51
rows against 62 for the same done here."""
_asdict = msgspec.structs.asdict


@functools.lru_cache(maxsize=64)
def _home_sql(postgres: bool, tab_name: str, hide_future: bool, from_cursor: bool,
              descending: bool) -> str:
    tab = TABS[tab_name]
    future = " AND issue_date <= {}" if hide_future else ""
    statuses = ", ".join("{}" for _ in tab.statuses)
    page_sql = (
        f"SELECT {HOME_COLUMNS} FROM invoice "
        f"WHERE tenant = {{}} AND customer = {{}} AND status IN ({statuses}){future}"
    )
    key = tab.sort_key
    if from_cursor:
        page_sql += f" AND ({key}, id) {'<' if descending else '>'} ({{}}, {{}})"
    direction = "DESC" if descending else "ASC"
    page_sql += f" ORDER BY {key} {direction}, id {direction} LIMIT {{}}"
    overdue = "due_date < {} AND amount_due_minor > 0"
    balance_sql = (
        "SELECT currency, COUNT(*) AS open_count, SUM(amount_due_minor) AS due_minor, "
        f"SUM(CASE WHEN {overdue} THEN amount_due_minor ELSE 0 END) AS overdue_minor, "
        f"SUM(CASE WHEN {overdue} THEN 1 ELSE 0 END) AS overdue_count "
        f"FROM invoice WHERE tenant = {{}} AND customer = {{}} AND status = 'open'{future} "
        "GROUP BY currency"
    )
    if postgres:
        def rows(select: str, columns: str) -> str:
            return (f"(SELECT COALESCE(json_agg(json_build_array({columns})), '[]'::json) "
                    f"FROM ({select}) r)")
        combine = "json_build_array({}, {})"
    else:
        def rows(select: str, columns: str) -> str:
            return f"(SELECT json_group_array(json_array({columns})) FROM ({select}))"
        combine = "json_array(json({}), json({}))"
    return combine.format(rows(page_sql, HOME_COLUMNS),
                          rows(balance_sql, ", ".join(_BALANCE_FIELDS)))


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
    """The row as pages use it (`fetch` gives each call its own dicts: changed in place)."""
    due = row["amount_due_minor"]
    row["overdue"] = row["status"] == "open" and row["due_date"] < today and due > 0
    return row
