"""Stored usage records that a reader cannot load, or that today's ingest would refuse.

Before created_at was bounded (usage.records), a time such as
0001-01-01T00:30:00+01:00 was stored as year 0 in UTC: PostgreSQL keeps it,
Python cannot load it, so every read of that row failed. This finds such rows
without loading them (the time is read as text) and repairs them by moving
created_at to received_at, the moment we took the record: a real time, in the
same month the call was charged. The charge itself (its ledger entries) is
not touched.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from .models import UsageRecord
from .records import EARLIEST_CREATED_AT, FUTURE_TOLERANCE


@dataclass(frozen=True)
class OddRecord:
    pk: int
    agency_id: int
    record_id: str
    created_at: str  # as the database writes it: it may be no Python datetime at all


def _bounds(now: datetime | None = None) -> list:
    upper = (now or timezone.now()) + FUTURE_TOLERANCE
    return [connection.ops.adapt_datetimefield_value(moment) for moment in (EARLIEST_CREATED_AT, upper)]


def _where() -> str:
    created_at = UsageRecord._meta.get_field("created_at").column
    return f"{created_at} < %s OR {created_at} > %s"


def usage_odd_records(*, now: datetime | None = None) -> list[OddRecord]:
    """Records whose created_at is before EARLIEST_CREATED_AT or in the future, oldest id first."""
    table, column = UsageRecord._meta.db_table, UsageRecord._meta.get_field
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column('id').column}, {column('agency').column}, {column('record_id').column}, "
            f"CAST({column('created_at').column} AS TEXT) FROM {table} WHERE {_where()} ORDER BY 1",
            _bounds(now),
        )
        return [OddRecord(*row) for row in cursor.fetchall()]


def usage_odd_records_repair(*, now: datetime | None = None) -> int:
    """Move the created_at of every odd record to its received_at; the number of records repaired."""
    table = UsageRecord._meta.db_table
    created_at, received_at = (UsageRecord._meta.get_field(name).column for name in ("created_at", "received_at"))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {created_at} = {received_at} WHERE {_where()}", _bounds(now))
        return cursor.rowcount
