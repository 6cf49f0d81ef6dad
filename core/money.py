"""Money: integer minor units in the database, Decimal at the edges (display: formatting.py)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import get_currency_precision, is_currency


class MoneyError(ValueError):
    pass


def currency_exponent(currency: str) -> int:
    return int(get_currency_precision(currency))


def check_currency(currency: str) -> str:
    code = currency.upper()
    if len(code) != 3 or not is_currency(code):
        raise MoneyError(f"unknown currency {currency!r}")
    return code


def to_minor(amount: Decimal | str | int, currency: str) -> int:
    """'1234.50' EUR -> 123450. More decimals than the currency has is an error."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise MoneyError(f"not a decimal amount: {amount!r}") from None
    if not value.is_finite():
        raise MoneyError(f"not a decimal amount: {amount!r}")
    exponent = currency_exponent(currency)
    scaled = value.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{amount} has more than {exponent} decimals for {currency}")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    exponent = currency_exponent(currency)
    return Decimal(minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


def round_minor(value: Decimal) -> int:
    """Round a computed amount in minor units (a fee, a share) half up to a whole unit."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def decimal_str(minor: int, currency: str) -> str:
    return str(from_minor(minor, currency))
