"""What a statement says, read from the ledger in a fixed number of queries.

Account statement (two queries): per currency, the opening balance on `start` (invoices
issued before it, less payments and credit notes dated before it), then every invoice,
payment and credit note dated from `start` to `end`, in date order, with a running balance.
Closing = opening + invoices - payments - credit notes. Void invoices are not owed and never
count; with the portal setting `hide_future_invoices`, neither do invoices issued after today.

Outstanding-balance statement (one query): every open invoice with its days overdue, the
ageing per currency and the total due.

Money stays in integer minor units here; the PDF and the CSV format it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from arportal import fetch

INVOICE, CREDIT_NOTE, PAYMENT = "invoice", "credit_note", "payment"
KIND_ORDER = {INVOICE: 0, CREDIT_NOTE: 1, PAYMENT: 2}
"""On one day, invoices come before what pays them."""

AGEING_BUCKETS = ("Current", "1–30 days", "31–60 days", "61–90 days", "Over 90 days")


class TooManyLines(ValueError):
    def __init__(self, limit: int):
        super().__init__(f"more than {limit} lines")
        self.limit = limit


@dataclass(frozen=True)
class Line:
    kind: str
    day: dt.date
    reference: str
    debit: int
    credit: int
    balance: int


@dataclass
class AccountSection:
    currency: str
    opening: int
    lines: list[Line] = field(default_factory=list)

    @property
    def invoiced(self) -> int:
        return sum(line.debit for line in self.lines)

    @property
    def paid(self) -> int:
        return sum(line.credit for line in self.lines if line.kind == PAYMENT)

    @property
    def credited(self) -> int:
        return sum(line.credit for line in self.lines if line.kind == CREDIT_NOTE)

    @property
    def closing(self) -> int:
        return self.opening + self.invoiced - self.paid - self.credited


@dataclass(frozen=True)
class OpenInvoice:
    number: str
    issue_date: dt.date
    due_date: dt.date
    total: int
    amount_due: int
    days_overdue: int

    @property
    def bucket(self) -> int:
        """Index in AGEING_BUCKETS."""
        days = self.days_overdue
        if days <= 0:
            return 0
        return 1 if days <= 30 else 2 if days <= 60 else 3 if days <= 90 else 4


@dataclass
class OutstandingSection:
    currency: str
    invoices: list[OpenInvoice] = field(default_factory=list)

    @property
    def ageing(self) -> list[int]:
        amounts = [0] * len(AGEING_BUCKETS)
        for invoice in self.invoices:
            amounts[invoice.bucket] += invoice.amount_due
        return amounts

    @property
    def total_due(self) -> int:
        return sum(invoice.amount_due for invoice in self.invoices)


@dataclass
class Party:
    """Who the statement is from and for."""

    tenant_name: str
    customer_name: str
    customer_external_id: str
    locale: str
    statement_date: dt.date


def _int(value: Any) -> int:
    """SUM() is numeric on PostgreSQL (Decimal) and an integer on SQLite."""
    return int(value or 0)


def _invoice_filter(hide_future: bool, today: dt.date) -> tuple[str, list[Any]]:
    if hide_future:
        return " AND issue_date <= {}", [today]
    return "", []


async def account_sections(
    tenant_id: int,
    customer_id: int,
    start: dt.date,
    end: dt.date,
    *,
    today: dt.date,
    hide_future: bool,
    max_lines: int,
    default_currency: str,
) -> list[AccountSection]:
    """The account statement's sections, one per currency with a balance or activity.

    Raises TooManyLines when the period has more than `max_lines` lines (read with a LIMIT,
    so a huge period costs no more than the limit)."""
    future_sql, future_args = _invoice_filter(hide_future, today)
    owner = [tenant_id, customer_id]
    opening_rows = await fetch(
        "SELECT 'invoice' AS kind, currency, SUM(total_minor) AS amount FROM invoice "
        "WHERE tenant = {} AND customer = {} AND status <> 'void' AND issue_date < {}"
        f"{future_sql} GROUP BY currency "
        "UNION ALL SELECT 'payment', currency, SUM(amount_minor) FROM payment "
        "WHERE tenant = {} AND customer = {} AND date < {} GROUP BY currency "
        "UNION ALL SELECT 'credit_note', currency, SUM(amount_minor) FROM credit_note "
        "WHERE tenant = {} AND customer = {} AND date < {} GROUP BY currency",
        *owner, start, *future_args, *owner, start, *owner, start,
    )
    line_rows = await fetch(
        "SELECT 'invoice' AS kind, id, issue_date AS date, number AS reference, currency, "
        "total_minor AS amount FROM invoice "
        "WHERE tenant = {} AND customer = {} AND status <> 'void' "
        f"AND issue_date >= {{}} AND issue_date <= {{}}{future_sql} "
        "UNION ALL SELECT 'payment', id, date, external_id, currency, amount_minor FROM payment "
        "WHERE tenant = {} AND customer = {} AND date >= {} AND date <= {} "
        "UNION ALL SELECT 'credit_note', id, date, "
        "CASE WHEN number <> '' THEN number ELSE external_id END, currency, amount_minor "
        "FROM credit_note WHERE tenant = {} AND customer = {} AND date >= {} AND date <= {} "
        "LIMIT {}",
        *owner, start, end, *future_args, *owner, start, end, *owner, start, end,
        max_lines + 1,
    )
    if len(line_rows) > max_lines:
        raise TooManyLines(max_lines)
    openings: dict[str, int] = {}
    for row in opening_rows:
        sign = 1 if row["kind"] == INVOICE else -1
        openings[row["currency"]] = openings.get(row["currency"], 0) + sign * _int(row["amount"])
    line_rows.sort(
        key=lambda row: (row["currency"], row["date"], KIND_ORDER[row["kind"]], row["id"])
    )
    sections: dict[str, AccountSection] = {
        currency: AccountSection(currency, opening) for currency, opening in openings.items()
    }
    balances = dict(openings)
    for row in line_rows:
        currency = row["currency"]
        section = sections.setdefault(currency, AccountSection(currency, 0))
        amount = _int(row["amount"])
        debit, credit = (amount, 0) if row["kind"] == INVOICE else (0, amount)
        balances[currency] = balances.get(currency, 0) + debit - credit
        section.lines.append(
            Line(row["kind"], row["date"], row["reference"], debit, credit, balances[currency])
        )
    if not sections:
        return [AccountSection(default_currency, 0)]
    return [sections[currency] for currency in sorted(sections)]


async def outstanding_sections(
    tenant_id: int,
    customer_id: int,
    *,
    today: dt.date,
    hide_future: bool,
    max_lines: int,
) -> list[OutstandingSection]:
    """Open invoices per currency, earliest due first (one query)."""
    future_sql, future_args = _invoice_filter(hide_future, today)
    rows = await fetch(
        "SELECT id, number, issue_date, due_date, currency, total_minor, amount_due_minor "
        "FROM invoice WHERE tenant = {} AND customer = {} AND status = 'open'"
        f"{future_sql} ORDER BY currency, due_date, id LIMIT {{}}",
        tenant_id, customer_id, *future_args, max_lines + 1,
    )
    if len(rows) > max_lines:
        raise TooManyLines(max_lines)
    sections: dict[str, OutstandingSection] = {}
    for row in rows:
        section = sections.setdefault(row["currency"], OutstandingSection(row["currency"]))
        section.invoices.append(
            OpenInvoice(
                number=row["number"],
                issue_date=row["issue_date"],
                due_date=row["due_date"],
                total=_int(row["total_minor"]),
                amount_due=_int(row["amount_due_minor"]),
                days_overdue=max(0, (today - row["due_date"]).days),
            )
        )
    return list(sections.values())
