"""When an invoice is noticed and charged (pure date arithmetic shared by the job and the
portal's "next charges")."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from arportal.plugins.autopay.schedule import charge_day, plan, retry_day

D = dt.date(2026, 3, 16)
SETTINGS = SimpleNamespace(days_before_due=0, notice_days=2)


def day(offset: int) -> dt.date:
    return D + dt.timedelta(days=offset)


def planned(due: dt.date, today: dt.date, *, saved: dt.date = D, notice: Any = None,
            attempts: Any = (), settings: Any = SETTINGS, amount: int = 1000) -> Any:
    return plan(
        invoice={"due_date": due, "amount_due_minor": amount},
        method={"key": "m1", "saved_on": saved},
        attempts=list(attempts), notice=notice, settings=settings, today=today,
    )


def test_charged_on_the_due_date_or_days_before_it() -> None:
    assert charge_day(day(10), D, 0) == day(10)
    assert charge_day(day(10), D, 3) == day(7)


def test_an_invoice_overdue_when_the_method_is_saved_is_charged_two_days_later() -> None:
    assert charge_day(day(-30), D, 0) == day(2)
    assert charge_day(D, D, 0) == D  # due today is not overdue


def test_the_notice_goes_out_notice_days_before_and_the_charge_waits_for_it() -> None:
    early = planned(day(5), D)
    assert (early.notice, early.charge, early.next_charge) == (False, False, day(5))
    noticed_today = planned(day(2), D)
    assert (noticed_today.notice, noticed_today.charge) == (True, False)
    notice = {"amount_minor": 1000, "sent_on": D}
    on_due = planned(day(2), day(2), notice=notice)
    assert (on_due.notice, on_due.charge) == (False, True)


def test_a_late_notice_moves_the_charge() -> None:
    """Due today but never noticed: noticed now, charged notice_days later."""
    late = planned(D, D)
    assert (late.notice, late.charge, late.next_charge) == (True, False, day(2))
    notice = {"amount_minor": 1000, "sent_on": D}
    assert planned(D, day(1), notice=notice).charge is False
    assert planned(D, day(2), notice=notice).charge is True


def test_a_higher_amount_due_needs_a_new_notice() -> None:
    notice = {"amount_minor": 500, "sent_on": day(-5)}
    again = planned(D, D, notice=notice, amount=1000)
    assert (again.notice, again.charge) == (True, False)
    lower = planned(D, D, notice=notice, amount=400)
    assert (lower.notice, lower.charge) == (False, True)


def test_no_notice_wait_when_notice_days_is_zero() -> None:
    now = planned(D, D, settings=SimpleNamespace(days_before_due=0, notice_days=0))
    assert (now.notice, now.charge) == (True, True)


def test_retries_follow_retry_days_after_the_first_failure() -> None:
    assert retry_day([D], False, [1, 3, 7]) == day(1)
    assert retry_day([D, day(1)], False, [1, 3, 7]) == day(3)
    assert retry_day([D, day(1), day(3)], False, [1, 3, 7]) == day(7)
    assert retry_day([D, day(1), day(3), day(7)], False, [1, 3, 7]) is None
    assert retry_day([D], True, [1, 3, 7]) is None


def test_a_failed_attempt_waits_for_its_retry_day() -> None:
    failed = {"status": "failed", "method_key": "m1", "attempt_no": 1, "retry_on": day(1)}
    notice = {"amount_minor": 1000, "sent_on": day(-2)}
    assert planned(D, D, notice=notice, attempts=[failed]).charge is False
    assert planned(D, day(1), notice=notice, attempts=[failed]).charge is True
    final = {**failed, "retry_on": None}
    assert planned(D, day(9), notice=notice, attempts=[final]).next_charge is None


def test_failures_with_an_earlier_method_do_not_count() -> None:
    """A new method starts afresh: the failures were another card's."""
    old = {"status": "failed", "method_key": "old", "attempt_no": 1, "retry_on": None}
    notice = {"amount_minor": 1000, "sent_on": day(-2)}
    assert planned(D, D, notice=notice, attempts=[old]).charge is True


def test_nothing_is_planned_while_an_attempt_is_pending_or_succeeded() -> None:
    notice = {"amount_minor": 1000, "sent_on": day(-2)}
    for status in ("pending", "succeeded", "review"):
        attempt = {"status": status, "method_key": "m1", "attempt_no": 1, "retry_on": None}
        assert planned(D, D, notice=notice, attempts=[attempt]).charge is False
