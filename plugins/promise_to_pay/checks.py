"""What a promise must satisfy, checked before anything is written.

Errors are collected per form field (`date`, `note`, `invoice`, `invoice:<external id>`,
`amount_<external id>`) in the reader's language, so the form can show each next to its field
and the API can name the field of its body. Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import NumberFormatError, get_currency_precision, parse_decimal

from arportal import Invoice
from arportal.plugins.promise_to_pay.i18n import day, money
from arportal.plugins.promise_to_pay.models import Promise
from arportal.plugins.promise_to_pay.settings import PromiseToPaySettings

NOTE_MAX = 1000
INVOICES_MAX = 200
_PLAIN_AMOUNT = re.compile(r"^\d+(?:[.,]\d+)?$")


class PromiseRefused(ValueError):
    """Input refused; `errors` maps each form field to its message (in the reader's language)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{key}: {message}" for key, message in errors.items()))
        self.errors = errors


class PromiseNotFound(LookupError):
    """No such promise for this tenant (or this customer): the same 404 for all."""


@dataclass
class Request:
    """A promise as asked for, before checks: the portal's form or the API's body."""

    invoices: list[str]
    """External ids, in the order given (repeats are dropped)."""
    date: dt.date | str | None
    note: str = ""
    amounts: dict[str, Decimal | str] = field(default_factory=dict)
    """Per external id: a Decimal (API) or text in the reader's locale (form); empty = all."""


@dataclass
class Planned:
    invoice: dict[str, Any]
    amount_minor: int


@dataclass
class Checked:
    date: dt.date
    note: str
    items: list[Planned]


def parse_date(value: dt.date | str | None, t: Callable[..., str]) -> tuple[dt.date | None, str]:
    if isinstance(value, dt.date):
        return value, ""
    text = (value or "").strip()
    if not text:
        return None, t("Choose a payment date.")
    try:
        return dt.date.fromisoformat(text), ""
    except ValueError:
        return None, t("Enter the date as YYYY-MM-DD.")


def window_error(
    chosen: dt.date, today: dt.date, last: dt.date, locale: str, t: Callable[..., str]
) -> str:
    if chosen < today:
        return t("The date cannot be before today ({date}).", date=day(today, locale))
    if chosen > last:
        return t("Choose a date no later than {date}.", date=day(last, locale))
    return ""


def check_note(note: str, t: Callable[..., str]) -> tuple[str, str]:
    note = note.strip()
    if len(note) > NOTE_MAX:
        return note, t("The note can have at most {count} characters.", count=NOTE_MAX)
    return note, ""


def parse_amount(
    value: Decimal | str, currency: str, locale: str, t: Callable[..., str]
) -> tuple[int | None, str]:
    """Minor units of an amount typed in the reader's locale (`1,234.50`, `1 234,50`)."""
    exponent = get_currency_precision(currency)
    example = money(1205 * 10**exponent // 10, currency, locale)
    if isinstance(value, Decimal):
        amount = value
    else:
        text = value.strip().replace("\u00a0", " ").replace("\u202f", " ")
        try:
            if _PLAIN_AMOUNT.match(text):
                amount = Decimal(text.replace(",", "."))
            else:
                amount = parse_decimal(text, locale=locale, strict=True)
        except (InvalidOperation, NumberFormatError, ValueError):
            return None, t("Enter an amount such as {example}.", example=example)
    if not amount.is_finite():
        return None, t("Enter an amount such as {example}.", example=example)
    scaled = amount.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        return None, t("Enter at most {count} decimals.", count=exponent)
    minor = int(scaled)
    if minor <= 0:
        return None, t("Enter an amount greater than zero.")
    return minor, ""


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(value.strip() for value in values if value and value.strip()))


async def pending_by_invoice(tenant_id: int, invoice_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The pending promise of each invoice that has one."""
    if not invoice_ids:
        return {}
    rows = await Promise.select(
        Promise.id, Promise.invoice, Promise.promised_date, Promise.amount_minor,
        Promise.currency,
    ).where(
        (Promise.tenant == tenant_id)
        & (Promise.status == "pending")
        & Promise.invoice.is_in(invoice_ids)
    )
    return {row["invoice"]: row for row in rows}


async def load_invoices(
    tenant_id: int, customer_id: int, external_ids: list[str]
) -> dict[str, dict[str, Any]]:
    if not external_ids:
        return {}
    rows = await Invoice.select(
        Invoice.id, Invoice.external_id, Invoice.number, Invoice.issue_date, Invoice.due_date,
        Invoice.currency, Invoice.total_minor, Invoice.amount_due_minor, Invoice.status,
    ).where(
        (Invoice.tenant == tenant_id)
        & (Invoice.customer == customer_id)
        & Invoice.external_id.is_in(external_ids)
    )
    return {row["external_id"]: row for row in rows}


async def check_request(
    request: Request,
    *,
    tenant_id: int,
    customer_id: int,
    settings: PromiseToPaySettings,
    today: dt.date,
    hide_future: bool,
    locale: str,
    t: Callable[..., str],
) -> Checked:
    """Every check of a new promise; raises `PromiseRefused` with every error at once."""
    errors: dict[str, str] = {}
    note, problem = check_note(request.note, t)
    if problem:
        errors["note"] = problem
    chosen, problem = parse_date(request.date, t)
    if chosen is not None:
        problem = window_error(
            chosen, today, today + dt.timedelta(days=settings.max_days), locale, t
        )
    if problem:
        errors["date"] = problem

    wanted = _unique(request.invoices)
    if not wanted:
        errors["invoice"] = t("Select at least one invoice.")
    elif len(wanted) > INVOICES_MAX:
        errors["invoice"] = t("Select at most {count} invoices at once.", count=INVOICES_MAX)
        wanted = []
    found = await load_invoices(tenant_id, customer_id, wanted)
    pending = await pending_by_invoice(tenant_id, [row["id"] for row in found.values()])
    items = []
    for external_id in wanted:
        invoice = found.get(external_id)
        key = f"invoice:{external_id}"
        if invoice is None or (hide_future and invoice["issue_date"] > today):
            errors[key] = t("There is no invoice {id} on your account.", id=external_id)
            continue
        number = invoice["number"]
        if invoice["status"] == "void":
            errors[key] = t("Invoice {number} is void.", number=number)
            continue
        if invoice["status"] == "paid" or invoice["amount_due_minor"] <= 0:
            errors[key] = t("Invoice {number} is already paid.", number=number)
            continue
        if invoice["id"] in pending:
            promised = pending[invoice["id"]]["promised_date"]
            errors[key] = t(
                "Invoice {number} already has a promise to pay for {date}.",
                number=number, date=day(promised, locale),
            )
            continue
        amount_minor = invoice["amount_due_minor"]
        raw = request.amounts.get(external_id)
        if raw is not None and (not isinstance(raw, str) or raw.strip()):
            amount_key = f"amount_{external_id}"
            if not settings.allow_partial:
                errors[amount_key] = t("Partial amounts are not accepted: leave the amount empty.")
                continue
            parsed, problem = parse_amount(raw, invoice["currency"], locale, t)
            if parsed is not None and parsed > invoice["amount_due_minor"]:
                due = money(invoice["amount_due_minor"], invoice["currency"], locale)
                parsed, problem = None, t("Enter at most {amount}, the amount due.", amount=due)
            if parsed is None:
                errors[amount_key] = problem
                continue
            amount_minor = parsed
        items.append(Planned(invoice=invoice, amount_minor=amount_minor))
    if errors:
        raise PromiseRefused(errors)
    assert chosen is not None
    return Checked(date=chosen, note=note, items=items)
