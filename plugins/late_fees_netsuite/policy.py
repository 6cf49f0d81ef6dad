"""What fees an overdue invoice owes: pure functions of the policy, the dates and the fees it
already has (no database, no clock).

A fee is due at the end of each complete recurrence period after the due date plus grace:
3% monthly (every 31 days) on 10,000.00 due 14 August is, on 3 November (81 days late), two
periods, two fees of 300.00. `once` is a single fee on the first day past the grace.

A policy change is never retroactive: fees already assessed keep their amount, and the
periods of an invoice that has fees continue from the end of its last one (so a change from
monthly to weekly does not fill in past weeks). An invoice without fees (its customer's
toggle just turned on) gets every period already complete.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from arportal import currency_exponent, round_minor
from arportal.plugins.late_fees_netsuite.settings import LateFeeSettings


@dataclass(frozen=True)
class History:
    """The fees an invoice already has: every status counts for the periods (a waived
    period is never assessed again); waived ones do not count towards the cap."""

    last_period: int = 0
    last_end: dt.date | None = None
    charged_minor: int = 0


@dataclass(frozen=True)
class NewFee:
    period: int
    period_end: dt.date
    amount_minor: int


def to_minor_units(amount: Decimal, currency: str) -> int:
    """An amount of the policy in the currency's minor unit, rounded half up (25.5 JPY: 26)."""
    return round_minor(amount.scaleb(currency_exponent(currency)))


def fee_amount(settings: LateFeeSettings, basis_minor: int, currency: str) -> int:
    if settings.fee_type == "percentage":
        assert settings.rate is not None
        return round_minor(Decimal(basis_minor) * settings.rate / 100)
    assert settings.amount is not None
    return to_minor_units(settings.amount, currency)


def period_ends(
    settings: LateFeeSettings, due_date: dt.date, today: dt.date, history: History
) -> list[tuple[int, dt.date]]:
    """`(period number, end date)` of each period complete by `today` and not assessed yet."""
    start = history.last_end or due_date + dt.timedelta(days=settings.grace_days)
    if settings.recurrence == "once":
        end = start + dt.timedelta(days=1)
        return [] if history.last_period or today < end else [(1, end)]
    length = settings.period_days
    complete = max((today - start).days // length, 0)
    return [
        (history.last_period + k, start + dt.timedelta(days=k * length))
        for k in range(1, complete + 1)
    ]


def new_fees(
    settings: LateFeeSettings,
    *,
    due_date: dt.date,
    basis_minor: int,
    currency: str,
    today: dt.date,
    history: History,
) -> list[NewFee]:
    """The fees to assess now for one invoice, `basis_minor` being its amount due."""
    if settings.missing_policy() is not None:
        return []
    if basis_minor <= 0 or basis_minor < to_minor_units(settings.min_invoice_amount, currency):
        return []
    amount = fee_amount(settings, basis_minor, currency)
    room = None
    if settings.max_total_per_invoice is not None:
        room = to_minor_units(settings.max_total_per_invoice, currency) - history.charged_minor
    fees = []
    for period, end in period_ends(settings, due_date, today, history):
        charged = amount if room is None else min(amount, room)
        if charged <= 0:
            break
        fees.append(NewFee(period, end, charged))
        if room is not None:
            room -= charged
    return fees
