"""Locale-aware display of money and dates (babel), as Jinja filters and plain functions."""

from __future__ import annotations

import datetime as dt

from babel.dates import format_date as babel_format_date
from jinja2 import Environment

from arportal.money import format_money


def format_date(value: dt.date | None, locale: str = "en", style: str = "medium") -> str:
    if value is None:
        return ""
    return babel_format_date(value, format=style, locale=locale)


def _money_filter(minor: int, currency: str, locale: str = "en") -> str:
    return format_money(int(minor), currency, locale)


def install_filters(env: Environment) -> None:
    env.filters["money"] = lambda minor, currency, locale="en": format_money(
        int(minor), currency, locale
    )
    env.filters["date"] = format_date
