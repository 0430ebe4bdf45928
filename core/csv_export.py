"""CSV downloads of what a console page lists: streamed, safe to open in a spreadsheet.

One home for the format every export shares: a header row, money as a decimal
string beside its currency, dates in ISO 8601, and no cell a spreadsheet would
run as a formula.
"""

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal

from django.http import StreamingHttpResponse

# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MINOR_DIGITS = 2  # EUR, USD, GBP: the currencies a purchase may be in


def decimal_amount(cents: int) -> Decimal:
    """Minor units as a decimal amount, written "40.00" or "-0.05" (a number: never prefixed as a formula)."""
    return Decimal(cents).scaleb(-MINOR_DIGITS).quantize(Decimal(1).scaleb(-MINOR_DIGITS))


def cell(value: object) -> str:
    """One value as CSV text: dates ISO, None empty, text that would start a formula prefixed with '."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_START):
        return "'" + text
    return text


class _Echo:
    """csv.writer writes to it and gets the line back, so rows stream one at a time."""

    def write(self, value: str) -> str:
        return value


def csv_response(*, filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> StreamingHttpResponse:
    """A streamed CSV download: `rows` is consumed lazily (pass a queryset's .iterator())."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
