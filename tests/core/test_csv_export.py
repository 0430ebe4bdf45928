"""The CSV format every export shares."""

from datetime import UTC, date, datetime

import pytest

from core.csv_export import cell, decimal_amount


@pytest.mark.parametrize("text", ["=1+1", "+49 30 1234", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_text_a_spreadsheet_would_run_as_a_formula_is_prefixed(text):
    assert cell(text) == "'" + text


def test_numbers_dates_and_empty_values():
    assert cell(-5) == "-5"
    assert cell(decimal_amount(-5)) == "-0.05"  # a negative amount is a number, not a formula
    assert cell(decimal_amount(4000)) == "40.00"
    assert cell(None) == ""
    assert cell(date(2026, 3, 15)) == "2026-03-15"
    assert cell(datetime(2026, 3, 15, 12, 0, 0, 123, tzinfo=UTC)) == "2026-03-15T12:00:00+00:00"
    assert cell("Acme Bakery") == "Acme Bakery"
