""""Today" in a time zone, with a switch for tests to freeze it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

_frozen_today: dt.date | None = None


def freeze_today(day: dt.date | None) -> None:
    """Make every tenant's "today" be `day` (None unfreezes). For tests and demos."""
    global _frozen_today
    _frozen_today = day


def today_in(timezone: ZoneInfo) -> dt.date:
    if _frozen_today is not None:
        return _frozen_today
    return dt.datetime.now(timezone).date()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
