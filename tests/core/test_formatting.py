"""Money and dates read as babel writes them, for every locale a customer may have."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency, get_currency_precision

from arportal.formatting import format_date, format_money, money_formatter

LOCALES = ["en", "en_US", "en_GB", "en_IN", "fr", "fr_FR", "fr_CH", "de", "de_CH", "es", "it",
           "nl", "pt_BR", "ja", "ar", "hi", "sv", "pl"]
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CHF", "INR", "BHD", "SEK"]


@pytest.mark.parametrize("locale", LOCALES)
def test_money_is_written_exactly_as_babel_writes_it(locale: str) -> None:
    rng = random.Random(locale)
    amounts = [0, 1, 7, 99, 100, 123456, -5000, 10**12 + 7] + [
        rng.randrange(-10**11, 10**11) for _ in range(200)
    ]
    for currency in CURRENCIES:
        exponent = int(get_currency_precision(currency))
        for minor in amounts:
            expected = format_currency(Decimal(minor).scaleb(-exponent), currency, locale=locale)
            assert format_money(minor, currency, locale) == expected, (minor, currency, locale)


def test_common_pairs_use_the_precomputed_formatter() -> None:
    assert money_formatter("EUR", "fr") is not None
    assert money_formatter("USD", "en") is not None
    assert format_money(123450, "EUR", "fr") == "1\u202f234,50\xa0€"
    assert format_money(123450, "USD", "en") == "$1,234.50"
    assert format_money(5, "JPY", "en") == "¥5"


@pytest.mark.parametrize("locale", ["en", "fr", "de", "ja"])
def test_dates_are_written_as_babel_writes_them(locale: str) -> None:
    day = dt.date(2026, 3, 15)
    for style in ("short", "medium", "long"):
        assert format_date(day, locale, style) == babel_format_date(day, style, locale=locale)
    assert format_date(None, locale) == ""
