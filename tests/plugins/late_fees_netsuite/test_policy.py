"""What a fee is: the periods, amounts, caps and rounding the policy gives (no database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from arportal.plugins.late_fees_netsuite.policy import History, NewFee, new_fees
from arportal.plugins.late_fees_netsuite.settings import LateFeeSettings

AUG_14 = dt.date(2026, 8, 14)


def fees(settings: LateFeeSettings, today: dt.date, *, due: dt.date = AUG_14,
         basis: int = 1_000_000, currency: str = "USD", history: History | None = None
         ) -> list[NewFee]:
    return new_fees(settings, due_date=due, basis_minor=basis, currency=currency, today=today,
                    history=history or History())


def test_the_issue_example_two_monthly_periods_of_three_percent() -> None:
    settings = LateFeeSettings(rate=Decimal(3), recurrence="monthly")
    got = fees(settings, dt.date(2026, 11, 3))  # 81 days late
    assert got == [
        NewFee(1, dt.date(2026, 9, 14), 30000),
        NewFee(2, dt.date(2026, 10, 15), 30000),
    ]


def test_a_period_is_due_only_once_complete() -> None:
    settings = LateFeeSettings(rate=Decimal(3), recurrence="monthly")
    assert fees(settings, AUG_14 + dt.timedelta(days=30)) == []
    assert [f.period for f in fees(settings, AUG_14 + dt.timedelta(days=31))] == [1]


def test_weekly_is_every_seven_days_after_the_grace() -> None:
    settings = LateFeeSettings(rate=Decimal(1), recurrence="weekly", grace_days=10)
    got = fees(settings, AUG_14 + dt.timedelta(days=10 + 21))
    assert [(f.period, f.period_end) for f in got] == [
        (1, dt.date(2026, 8, 31)), (2, dt.date(2026, 9, 7)), (3, dt.date(2026, 9, 14)),
    ]
    assert fees(settings, AUG_14 + dt.timedelta(days=16)) == [], "still within grace + 7 days"


def test_once_is_a_single_fee_on_the_first_day_past_the_grace() -> None:
    settings = LateFeeSettings(fee_type="fixed", amount=Decimal("25"), recurrence="once",
                               grace_days=5)
    assert fees(settings, AUG_14 + dt.timedelta(days=5)) == []
    assert fees(settings, dt.date(2027, 1, 1)) == [NewFee(1, dt.date(2026, 8, 20), 2500)]
    assert fees(settings, dt.date(2027, 1, 1),
                history=History(last_period=1, last_end=dt.date(2026, 8, 20))) == []


@pytest.mark.parametrize(
    ("settings", "basis", "currency", "expected"),
    [
        (LateFeeSettings(rate=Decimal("3")), 33333, "USD", 1000),  # 999.99 cents -> 10.00
        (LateFeeSettings(rate=Decimal("1.5")), 101, "EUR", 2),  # 1.515 cents -> 0.02
        (LateFeeSettings(rate=Decimal("2")), 1001, "JPY", 20),  # 20.02 yen -> 20
        (LateFeeSettings(fee_type="fixed", amount=Decimal("25.5")), 9999, "JPY", 26),
        (LateFeeSettings(fee_type="fixed", amount=Decimal("7.125")), 9999, "KWD", 7125),
        (LateFeeSettings(fee_type="fixed", amount=Decimal("0.005")), 9999, "EUR", 1),
    ],
)
def test_amounts_are_rounded_half_up_to_the_currency_minor_unit(
    settings: LateFeeSettings, basis: int, currency: str, expected: int
) -> None:
    got = fees(settings, dt.date(2026, 9, 20), basis=basis, currency=currency)
    assert [f.amount_minor for f in got] == [expected]


def test_the_cap_limits_the_total_and_waived_fees_do_not_count() -> None:
    settings = LateFeeSettings(rate=Decimal(3), recurrence="weekly",
                               max_total_per_invoice=Decimal("700"))
    got = fees(settings, AUG_14 + dt.timedelta(days=7 * 5))
    assert [f.amount_minor for f in got] == [30000, 30000, 10000]
    assert sum(f.amount_minor for f in got) == 70000
    later = fees(settings, AUG_14 + dt.timedelta(days=7 * 6),
                 history=History(last_period=2, last_end=AUG_14 + dt.timedelta(days=14),
                                 charged_minor=30000))
    assert [f.amount_minor for f in later] == [30000, 10000], "the waived period frees room"


def test_small_invoices_get_no_fee() -> None:
    settings = LateFeeSettings(fee_type="fixed", amount=Decimal(40),
                               min_invoice_amount=Decimal("100"))
    assert fees(settings, dt.date(2026, 10, 1), basis=9999) == []
    assert len(fees(settings, dt.date(2026, 10, 1), basis=10000)) == 1


def test_a_policy_change_continues_from_the_last_fee_and_never_fills_in_the_past() -> None:
    history = History(last_period=2, last_end=dt.date(2026, 10, 15), charged_minor=60000)
    weekly = LateFeeSettings(rate=Decimal(5), recurrence="weekly")
    got = fees(weekly, dt.date(2026, 10, 30), history=history)
    assert [(f.period, f.period_end, f.amount_minor) for f in got] == [
        (3, dt.date(2026, 10, 22), 50000), (4, dt.date(2026, 10, 29), 50000),
    ]


def test_no_rate_means_no_fee() -> None:
    assert fees(LateFeeSettings(), dt.date(2027, 1, 1)) == []
