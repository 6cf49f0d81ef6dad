"""When an invoice is noticed and charged: pure date arithmetic, shared by the job and by the
portal's "next charges", so what the customer is told is what the job does.

- The charge day is the due date less `days_before_due`. An invoice that was already overdue
  when the method was saved is charged `OVERDUE_DELAY_DAYS` after the save.
- The pre-debit notice goes out `notice_days` before the charge day; a charge never comes
  sooner than `notice_days` after its notice (a late notice moves the charge), and a notice
  covers up to its amount (a higher amount due needs a new notice).
- After a soft decline the invoice is tried again `retry_days` after the first failure with
  the same method; after a hard decline or the last retry, not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

OVERDUE_DELAY_DAYS = 2


def days(count: int) -> dt.timedelta:
    return dt.timedelta(days=count)


def charge_day(due_date: dt.date, saved_on: dt.date, days_before_due: int) -> dt.date:
    if due_date < saved_on:
        return saved_on + days(OVERDUE_DELAY_DAYS)
    return due_date - days(days_before_due)


def retry_day(
    failures: Sequence[dt.date], hard: bool, retry_days: Sequence[int]
) -> dt.date | None:
    """The next try after `failures` (the days of the failed attempts with this method, the
    last one included), or None when there is none."""
    if hard or len(failures) > len(retry_days):
        return None
    return min(failures) + days(retry_days[len(failures) - 1])


@dataclass(frozen=True)
class Plan:
    """What to do today about one invoice, and when its next charge is expected."""

    notice: bool
    charge: bool
    next_charge: dt.date | None
    """None: nothing planned (in progress, or no retry left)."""


def plan(
    *,
    invoice: dict[str, Any],
    method: dict[str, Any],
    attempts: Sequence[dict[str, Any]],
    notice: dict[str, Any] | None,
    settings: Any,
    today: dt.date,
) -> Plan:
    """`attempts` are the invoice's attempts (any method); `notice` its notice row or None."""
    if any(a["status"] in ("pending", "succeeded", "review") for a in attempts):
        return Plan(notice=False, charge=False, next_charge=None)
    failed = [a for a in attempts if a["status"] == "failed" and a["method_key"] == method["key"]]
    if failed:
        last = max(failed, key=lambda a: a["attempt_no"])
        retry = last["retry_on"]
        return Plan(notice=False, charge=retry is not None and retry <= today, next_charge=retry)
    target = charge_day(invoice["due_date"], method["saved_on"], settings.days_before_due)
    noticed = notice is not None and notice["amount_minor"] >= invoice["amount_due_minor"]
    if noticed:
        assert notice is not None
        ready = max(target, notice["sent_on"] + days(settings.notice_days))
        return Plan(notice=False, charge=ready <= today, next_charge=max(ready, today))
    send = today >= target - days(settings.notice_days)
    ready = max(target, today + days(settings.notice_days))
    return Plan(notice=send, charge=send and ready <= today, next_charge=ready)
