"""Checking one usage record as the calling platform sends it.

Pure functions, no database: the ingest checks everything that needs the
database (organization, reservation, earlier records) under its locks.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeGuard

MAX_RECORD_ID = 100
MAX_NUMBER_ID = 100
MAX_DURATION_SEC = 7 * 24 * 3600  # a week: anything longer is a broken counter, not a call
FUTURE_TOLERANCE = timedelta(minutes=5)  # clock skew between the platform and us
# No real call is older: an earlier time is a broken clock (or year 0, which no database reader can load).
EARLIEST_CREATED_AT = datetime(2000, 1, 1, tzinfo=UTC)
MAX_ID = 2**63 - 1  # a bigint: anything larger cannot name a row
DIRECTIONS = ("inbound", "outbound")
# ASCII digits only ([0-9], not \d): Unicode digits would pass a regex and then fail further down.
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:?[0-9]{2})"
)
# Control characters and lone surrogates: PostgreSQL refuses NUL in text and psycopg cannot encode a
# surrogate, so either would fail the whole batch's transaction; the others have no place in an id.
_UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def minutes_for(duration_sec: int) -> int:
    """Whole minutes billed for a call: a 2 min 15 s call costs 3."""
    return (duration_sec + 59) // 60


@dataclass(frozen=True, slots=True)
class Incoming:
    """A record whose fields are well-formed; not yet known to be ours or new."""

    index: int
    record_id: str
    organization_id: int
    duration_sec: int
    minutes: int
    created_at: datetime
    number_id: str
    direction: str
    reservation_id: uuid.UUID | None

    def content(self) -> tuple:
        """What must match for a repeat of this id to be a duplicate rather than a conflict."""
        return (
            self.organization_id,
            self.duration_sec,
            self.created_at,
            self.number_id,
            self.direction,
            self.reservation_id,
        )


@dataclass(frozen=True, slots=True)
class Rejected:
    index: int
    record_id: str | None
    code: str
    reason: str


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(raw: dict, field: str, limit: int) -> str:
    value = raw.get(field)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field} must be a non-empty string")
    if len(value) > limit:
        raise ValueError(f"{field} must be at most {limit} characters")
    if _UNSTORABLE.search(value):
        raise ValueError(f"{field} must not contain control characters or unpaired surrogates")
    return value


def text_shown(value: str) -> str:
    """`value` with anything unstorable replaced, so a rejection can be echoed and noted."""
    return _UNSTORABLE.sub("\ufffd", value)


def _timestamp(value, now: datetime) -> datetime:
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        raise ValueError("created_at must be an ISO 8601 time with a time zone, e.g. 2025-12-13T10:00:00.000Z")
    try:
        moment = datetime.fromisoformat(value)
        # In UTC, as stored: 0001-01-01T00:30+01:00 is in year 0 and 9999-12-31T23:30-01:00 in year 10000.
        in_utc = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError("created_at is not a real date and time") from None
    if in_utc < EARLIEST_CREATED_AT:
        raise ValueError("created_at must be 2000-01-01T00:00:00Z or later")
    if in_utc > now + FUTURE_TOLERANCE:
        raise ValueError("created_at is in the future")
    return moment


def record_check(index: int, raw, now: datetime) -> Incoming | Rejected:
    """Parse one record; every problem is named, the first one found is returned."""
    if not isinstance(raw, dict):
        return Rejected(index, None, "invalid_record", "each record must be a JSON object")
    record_id = raw.get("id")
    shown_id = text_shown(record_id) if isinstance(record_id, str) else None
    try:
        record_id = _text(raw, "id", MAX_RECORD_ID)
        organization_id = raw.get("organization_id")
        if not _is_int(organization_id) or not 0 < organization_id <= MAX_ID:
            raise ValueError("organization_id must be a positive integer")
        duration = raw.get("duration_sec")
        if not _is_int(duration):
            raise ValueError("duration_sec must be a whole number of seconds")
        if duration < 0:
            raise ValueError("duration_sec must not be negative")
        if duration > MAX_DURATION_SEC:
            raise ValueError(f"duration_sec must be at most {MAX_DURATION_SEC}")
        created_at = _timestamp(raw.get("created_at"), now)
        number_id = _text(raw, "number_id", MAX_NUMBER_ID)
        direction = raw.get("direction")
        if direction not in DIRECTIONS:
            raise ValueError('direction must be "inbound" or "outbound"')
        reservation_id = raw.get("reservation_id")
        if reservation_id is not None:
            if not isinstance(reservation_id, str):
                raise ValueError("reservation_id must be a reservation id string or null")
            try:
                reservation_id = uuid.UUID(reservation_id)
            except ValueError:
                raise ValueError("reservation_id is not a reservation id") from None
    except ValueError as problem:
        return Rejected(index, shown_id, "invalid_record", str(problem))
    return Incoming(
        index,
        record_id,
        organization_id,
        duration,
        minutes_for(duration),
        created_at,
        number_id,
        direction,
        reservation_id,
    )
