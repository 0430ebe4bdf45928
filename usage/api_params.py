"""Shared parts of the /api/v1/ endpoints: timestamps, money, and the query parameters every list reads.

One home for each format the contract fixes: times `2025-12-13T10:00:00.000Z`, money objects, dates
YYYY-MM-DD, months YYYY-MM, `limit` 1-100, and opaque cursors signed so a client can neither forge nor
edit one (a bad one is a 400 invalid_cursor, never a 500).
"""

import re
from datetime import UTC, date, datetime, time

from django.core import signing
from django.http import HttpRequest
from django.utils import timezone

from .api import ApiError, query_int

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
LAST_DATE = date(9998, 12, 31)  # a range ends the day after its end_date, which must still be a date
LIST_LIMIT, MAX_LIST_LIMIT = 25, 100
MAX_RANGE_DAYS = 366  # the longest from/to range a listing or summary covers
CURSOR_MAX_LENGTH = 500


def timestamp(moment: datetime) -> str:
    """2025-12-13T10:00:00.000Z, as the platform writes them."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def money(amount: int | None, currency: str | None) -> dict | None:
    """{"amount": minor units, "currency": "EUR"}, or None when either is unknown."""
    if amount is None or not currency:
        return None
    return {"amount": amount, "currency": currency}


def day_start(day: date) -> datetime:
    """Midnight UTC starting `day`."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def query_date(request: HttpRequest, name: str) -> date | None:
    """A YYYY-MM-DD query parameter, None when absent, else a 400 invalid_date."""
    raw = request.GET.get(name, "")
    if raw == "":
        return None
    if not _DATE.fullmatch(raw):
        raise ApiError(400, "invalid_date", f"{name} must be a date written YYYY-MM-DD.")
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "invalid_date", f"{name} is not a real date.") from None
    if day > LAST_DATE:
        raise ApiError(400, "invalid_date", f"{name} must be {LAST_DATE.isoformat()} or earlier.")
    return day


def query_month(request: HttpRequest, name: str = "month") -> date:
    """A YYYY-MM query parameter as the first day of that month; this month (UTC) when absent; else 400."""
    raw = request.GET.get(name, "")
    if raw == "":
        return timezone.now().astimezone(UTC).date().replace(day=1)
    match = _MONTH.fullmatch(raw)
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1 or raw > LAST_DATE.isoformat()[:7]:
        raise ApiError(400, "invalid_month", f"{name} must be a month written YYYY-MM, e.g. 2026-11.")
    return date(int(match[1]), int(match[2]), 1)


def query_limit(request: HttpRequest) -> int:
    """`limit`: 1-100, default 25; else a 400 invalid_parameter."""
    try:
        return query_int(request, "limit", default=LIST_LIMIT, maximum=MAX_LIST_LIMIT)
    except ApiError:  # query_int's range error names a body field (invalid_field); this is a query parameter
        raise ApiError(400, "invalid_parameter", f"limit must be a whole number from 1 to {MAX_LIST_LIMIT}.") from None


def query_choice(request: HttpRequest, name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
    """A query parameter that must be one of `choices`; `default` when absent; else a 400 invalid_parameter."""
    raw = request.GET.get(name, "")
    if raw == "":
        return default
    if raw not in choices:
        raise ApiError(400, "invalid_parameter", f"{name} must be one of: {', '.join(choices)}.")
    return raw


def cursor_dump(values: list, *, salt: str) -> str:
    """An opaque cursor carrying `values` (JSON-able), signed with SECRET_KEY and `salt`."""
    return signing.dumps(values, salt=salt, compress=True)


def cursor_load(request: HttpRequest, *, salt: str) -> list | None:
    """The values of the request's `cursor` (None when absent); forged, edited or garbage → 400 invalid_cursor.

    The caller still checks the values' shape; a cursor signed for another list (another salt) is refused here.
    """
    raw = request.GET.get("cursor", "")
    if raw == "":
        return None
    if len(raw) > CURSOR_MAX_LENGTH or not raw.isascii():
        raise bad_cursor()
    try:
        values = signing.loads(raw, salt=salt)
    except (signing.BadSignature, ValueError, UnicodeDecodeError):
        raise bad_cursor() from None
    if not isinstance(values, list):
        raise bad_cursor()
    return values


def bad_cursor() -> ApiError:
    return ApiError(400, "invalid_cursor", "cursor is not one this API returned for this list.")
