"""The statements as CSV, for the customer's spreadsheet: the same figures as the PDF.

Amounts are plain decimals (`1234.50`) and dates ISO, whatever the locale, so a spreadsheet
reads them as numbers and dates; headers and labels are in the customer's language. UTF-8
with a byte-order mark, which spreadsheet programs need to detect it. A text cell that a
spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR) is prefixed with `'`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from babel.numbers import get_currency_precision

from arportal.plugins.statements.data import AGEING_BUCKETS, AccountSection, OutstandingSection
from arportal.plugins.statements.i18n import translator
from arportal.plugins.statements.pdf import ACCOUNT, KIND_LABELS, Document

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def decimal(minor: int, currency: str) -> str:
    exponent = int(get_currency_precision(currency))
    return str(Decimal(minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))


def text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def iso(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def csv_bytes(document: Document) -> bytes:
    t = translator(document.party.locale)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if document.kind == ACCOUNT:
        writer.writerow([t(h) for h in (
            "Currency", "Date", "Type", "Reference", "Debit", "Credit", "Balance"
        )])
        for section in document.sections:
            assert isinstance(section, AccountSection)
            cur = section.currency
            writer.writerow([cur, iso(document.start), t("Opening balance"), "", "", "",
                             decimal(section.opening, cur)])
            for line in section.lines:
                writer.writerow([
                    cur, iso(line.day), t(KIND_LABELS[line.kind]), text(line.reference),
                    decimal(line.debit, cur) if line.debit else "",
                    decimal(line.credit, cur) if line.credit else "",
                    decimal(line.balance, cur),
                ])
            writer.writerow([
                cur, iso(document.end), t("Closing balance"), "",
                decimal(section.invoiced, cur), decimal(section.paid + section.credited, cur),
                decimal(section.closing, cur),
            ])
    else:
        writer.writerow([t(h) for h in (
            "Currency", "Number", "Issue date", "Due date", "Total", "Amount due",
            "Days overdue", "Ageing",
        )])
        for section in document.sections:
            assert isinstance(section, OutstandingSection)
            cur = section.currency
            for invoice in section.invoices:
                writer.writerow([
                    cur, text(invoice.number), iso(invoice.issue_date), iso(invoice.due_date),
                    decimal(invoice.total, cur), decimal(invoice.amount_due, cur),
                    invoice.days_overdue, t(AGEING_BUCKETS[invoice.bucket]),
                ])
            for label, amount in zip(AGEING_BUCKETS, section.ageing, strict=True):
                writer.writerow([cur, t(label), "", "", "", decimal(amount, cur), "", ""])
            writer.writerow([cur, t("Total due"), "", "", "", decimal(section.total_due, cur),
                             "", ""])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
