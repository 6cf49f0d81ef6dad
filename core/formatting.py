"""Locale-aware display of money and dates, as Jinja filters and plain functions.

babel decides how each locale writes money and dates; calling it per cell costs 20 to 40 us
(it re-reads the locale's patterns each time), which on a 50-invoice page is most of the
page's time. So each (locale, currency) gets a formatter built once from babel's data, and
checked at build time against babel itself on sample amounts: where the two would differ (an
unusual pattern), that pair keeps calling babel. Dates are memoised: a page repeats them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache, partial

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.numbers import (
    format_currency,
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
)
from jinja2 import Environment

SAMPLE_MINOR = (0, 1, 5, 99, 100, 1234, 100000, 123456789, 98765432109, -1, -123456789)


@lru_cache(maxsize=64)
def _locale(code: str) -> Locale:
    return Locale.parse(code.replace("-", "_"))


def _babel_money(minor: int, currency: str, locale: str) -> str:
    exponent = int(get_currency_precision(currency))
    return format_currency(Decimal(minor).scaleb(-exponent), currency, locale=_locale(locale))


@dataclass(frozen=True)
class MoneyFormat:
    """How one locale writes one currency, read from babel's pattern."""

    exponent: int
    prefixes: tuple[str, str]
    suffixes: tuple[str, str]
    group: str
    decimal: str
    primary: int
    secondary: int

    def compile(self) -> Callable[[int], str]:
        """A function of an amount in minor units, with this format's parts bound to it: a
        page formats about a hundred amounts, so each attribute read counts."""
        scale = 10**self.exponent
        positive, negative = self.prefixes
        positive_end, negative_end = self.suffixes
        decimal = self.decimal if self.exponent else ""
        group = self.group
        digits: Callable[[int], str] = str
        if self.primary == 3 and self.secondary == 3:

            def thousands(units: int) -> str:
                text = format(units, ",")
                return text if group == "," else text.replace(",", group)

            digits = thousands
        elif self.primary:
            digits = partial(_grouped, self.group, self.primary, self.secondary)

        def fraction(value: int) -> str:
            return str(value + scale)[1:] if scale > 1 else ""

        def format_minor(minor: int) -> str:
            if minor < 0:
                units, rest = divmod(-minor, scale)
                return negative + digits(units) + decimal + fraction(rest) + negative_end
            units, rest = divmod(minor, scale)
            return positive + digits(units) + decimal + fraction(rest) + positive_end

        return format_minor


def _grouped(group: str, primary: int, secondary: int, units: int) -> str:
    """Groups of unequal size (`#,##,##0` in India): the last `primary` digits, then
    `secondary` at a time."""
    digits = str(units)
    if len(digits) <= primary:
        return digits
    head, tail = digits[:-primary], digits[-primary:]
    groups = [tail]
    while len(head) > secondary:
        groups.append(head[-secondary:])
        head = head[:-secondary]
    groups.append(head)
    return group.join(reversed(groups))


@lru_cache(maxsize=512)
def money_formatter(currency: str, locale: str) -> Callable[[int], str] | None:
    """The fast formatter for this pair, or None where it would not match babel exactly."""
    loc = _locale(locale)
    pattern = loc.currency_formats["standard"]
    symbol = get_currency_symbol(currency, loc)
    spec = MoneyFormat(
        exponent=int(get_currency_precision(currency)),
        prefixes=(
            pattern.prefix[0].replace("¤", symbol),
            pattern.prefix[1].replace("¤", symbol),
        ),
        suffixes=(
            pattern.suffix[0].replace("¤", symbol),
            pattern.suffix[1].replace("¤", symbol),
        ),
        group=get_group_symbol(loc),
        decimal=get_decimal_symbol(loc),
        primary=pattern.grouping[0] if pattern.grouping[0] < 1000 else 0,
        secondary=pattern.grouping[1] if pattern.grouping[1] < 1000 else 0,
    )
    if spec.secondary == 0:
        spec = MoneyFormat(**{**spec.__dict__, "secondary": spec.primary or 3})
    fast = spec.compile()
    for minor in SAMPLE_MINOR:
        if fast(minor) != _babel_money(minor, currency, locale):
            return None
    return fast


def format_money(minor: int, currency: str, locale: str = "en") -> str:
    """123450, "EUR", "fr" -> "1 234,50 €" (as babel writes it)."""
    formatter = money_formatter(currency, locale)
    if formatter is None:
        return _babel_money(int(minor), currency, locale)
    return formatter(int(minor))


@lru_cache(maxsize=8192)
def format_date(value: dt.date | None, locale: str = "en", style: str = "medium") -> str:
    if value is None:
        return ""
    return babel_format_date(value, format=style, locale=_locale(locale))


def install_filters(env: Environment) -> None:
    env.filters["money"] = format_money
    env.filters["date"] = format_date
