"""Money as integer minor units: half-up rounding, currency conversion for margins, and display.

The one home of each: VAT, minute costs, exchange-rate conversions and margin
percentages all round here, and every amount a person reads is formatted here
(the `money` template filter is a wrapper). No floats: ratios are Fractions.
"""

from decimal import Decimal
from fractions import Fraction

from django.conf import settings

Ratio = int | Fraction | Decimal

SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator to the nearest integer; a half rounds away from zero.

    The same as Decimal's ROUND_HALF_UP (2.5 -> 3, -2.5 -> -3), in integers only.
    """
    if denominator == 0:
        raise ZeroDivisionError("round_half_up: denominator is 0")
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    magnitude = (2 * abs(numerator) + denominator) // (2 * denominator)
    return magnitude if numerator >= 0 else -magnitude


def round_ratio(value: Ratio) -> int:
    """An exact rational amount (Fraction, Decimal or int) rounded half up to an integer."""
    ratio = Fraction(value)
    return round_half_up(ratio.numerator, ratio.denominator)


# --- Margins: converting between the platform currency and a package currency ----------


def exchange_rate(currency: str) -> Decimal | None:
    """Platform-currency units per unit of `currency` (EXCHANGE_RATES); None when none is set or it is not positive."""
    if currency == settings.PLATFORM_CURRENCY:
        return Decimal(1)
    rate = settings.EXCHANGE_RATES.get(currency)
    return rate if rate is not None and rate > 0 else None


def to_platform_currency(cents: int, rate: Ratio) -> int:
    """`cents` of a currency whose rate is `rate`, in platform-currency minor units, rounded once, half up."""
    return round_ratio(Fraction(cents) * Fraction(rate))


def from_platform_currency(cents: int, rate: Ratio) -> int:
    """Platform-currency `cents` in a currency whose rate is `rate` (> 0), rounded once, half up."""
    return round_ratio(Fraction(cents) / Fraction(rate))


def margin_percent(*, profit_cents: int, price_cents: int) -> Decimal:
    """profit / price in percent with one decimal place, half up (Decimal("12.5"))."""
    percent = Decimal(round_half_up(abs(profit_cents) * 1000, price_cents)).scaleb(-1)
    # A loss too small to show still reads "-0.0", as Decimal arithmetic always gave it.
    return percent.copy_negate() if profit_cents < 0 else percent


# --- Display -----------------------------------------------------------------------------


def money_format(cents: int | str | None, currency: str = "EUR", *, symbol: bool = True) -> str:
    """Minor units as text: 4000, "EUR" -> "€40.00"; with symbol=False "40.00 EUR". None or "" -> "".

    A currency without a known symbol is written as its code: "CHF 40.00".
    """
    if cents is None or cents == "":
        return ""
    cents = int(cents)
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    amount = f"{whole:,}.{rest:02d}"
    if not symbol:
        return f"{sign}{amount} {currency.upper()}"
    return f"{sign}{SYMBOLS.get(currency, currency + ' ')}{amount}"
