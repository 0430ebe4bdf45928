"""core.money: the one half-up rounding, the margin arithmetic and money display the apps share."""

from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from core.money import (
    from_platform_currency,
    margin_percent,
    money_format,
    round_half_up,
    round_ratio,
    to_platform_currency,
)

ints = st.integers(min_value=-(10**15), max_value=10**15)
positive = st.integers(min_value=1, max_value=10**9)


def _decimal_half_up(numerator: int, denominator: int) -> int:
    # Enough digits that the quotient is exact before it is rounded.
    with localcontext() as ctx:
        ctx.prec = 80
        return int((Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@given(ints, positive)
def test_half_up_agrees_with_decimal_round_half_up_for_every_integer(numerator, denominator):
    assert round_half_up(numerator, denominator) == _decimal_half_up(numerator, denominator)
    assert round_half_up(-numerator, -denominator) == _decimal_half_up(numerator, denominator)


@given(ints, positive)
def test_half_up_is_symmetric_and_never_more_than_half_off(numerator, denominator):
    rounded = round_half_up(numerator, denominator)
    assert round_half_up(-numerator, denominator) == -rounded
    assert abs(Fraction(numerator, denominator) - rounded) <= Fraction(1, 2)


@pytest.mark.parametrize(
    "numerator, denominator, expected",
    [
        (5, 2, 3),
        (-5, 2, -3),
        (3, 2, 2),
        (1, 2, 1),
        (1, 3, 0),
        (2, 3, 1),
        (0, 7, 0),
        (-1, 3, 0),
        (-2, 3, -1),
    ],
)
def test_halves_round_away_from_zero(numerator, denominator, expected):
    assert round_half_up(numerator, denominator) == expected


def test_a_zero_denominator_is_refused():
    with pytest.raises(ZeroDivisionError):
        round_half_up(1, 0)


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10**4))
def test_the_old_non_negative_formula_is_kept(numerator, denominator_less_one):
    # invoices/vat.py, usage MinutePrice.cost and ops/dashboards all wrote (2n + d) // 2d for n >= 0.
    denominator = denominator_less_one + 1
    assert round_half_up(numerator, denominator) == (2 * numerator + denominator) // (2 * denominator)


@given(
    st.integers(min_value=0, max_value=10**12),
    st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(1000), places=4),
)
def test_converting_matches_the_decimal_arithmetic_it_replaces(cents, rate):
    # agencies/margin.py divided by the rate in Decimal; ops/dashboards multiplied with Fractions.
    assert from_platform_currency(cents, rate) == _decimal_half_up(cents * 10**4, int(rate * 10**4))
    assert to_platform_currency(cents, rate) == _decimal_half_up(cents * int(rate * 10**4), 10**4)


@given(st.integers(min_value=-(10**9), max_value=10**9), positive)
def test_margin_percent_has_one_decimal_place_rounded_half_up(profit, price):
    expected = (Decimal(profit) * 100 / price).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    assert margin_percent(profit_cents=profit, price_cents=price) == expected
    assert str(margin_percent(profit_cents=profit, price_cents=price)) == str(expected)


def test_round_ratio_takes_fractions_and_decimals():
    assert round_ratio(Fraction(5, 2)) == 3
    assert round_ratio(Decimal("-2.5")) == -3
    assert round_ratio(Decimal("0.92") * 150) == 138


@pytest.mark.parametrize(
    "cents, currency, shown",
    [
        (4000, "EUR", "€40.00"),
        (123456789, "USD", "$1,234,567.89"),
        (-150, "GBP", "-£1.50"),
        (5, "EUR", "€0.05"),
        (0, "EUR", "€0.00"),
        (4000, "CHF", "CHF 40.00"),
        ("4000", "EUR", "€40.00"),
        (None, "EUR", ""),
        ("", "EUR", ""),
    ],
)
def test_money_format_keeps_the_template_filters_output(cents, currency, shown):
    assert money_format(cents, currency) == shown


@pytest.mark.parametrize(
    "cents, currency, shown",
    [
        (4500, "eur", "45.00 EUR"),
        (123456, "USD", "1,234.56 USD"),
        (-150, "EUR", "-1.50 EUR"),
    ],
)
def test_money_format_with_the_currency_code(cents, currency, shown):
    assert money_format(cents, currency, symbol=False) == shown
