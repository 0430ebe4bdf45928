"""Stored usage records that a reader cannot load, or that today's ingest would refuse.

Before created_at was bounded (usage.records), a time such as
0001-01-01T00:30:00+01:00 was stored as year 0 in UTC: PostgreSQL keeps it,
Python cannot load it, so every read of that row failed. This finds such rows
without loading them (the time is read as text) and repairs them by moving
created_at to received_at, the moment we took the record: a real time, in the
same month the call was charged. The charge itself (its ledger entries) is
not touched; the daily rollups move with the calls (rebuilt from the raw rows
for each organization repaired, in the repair's transaction).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, models, transaction
from django.utils import timezone

from agencies.models import Agency

from .models import UsageRecord
from .records import EARLIEST_CREATED_AT, FUTURE_TOLERANCE
from .rollups import rollups_rebuild_rows


@dataclass(frozen=True)
class OddRecord:
    pk: int
    agency_id: int
    record_id: str
    created_at: str  # as the database writes it: it may be no Python datetime at all


def _column(name: str) -> str:
    field = UsageRecord._meta.get_field(name)
    assert isinstance(field, models.Field) and field.column
    return field.column


def _bounds(now: datetime | None = None) -> list:
    upper = (now or timezone.now()) + FUTURE_TOLERANCE
    return [connection.ops.adapt_datetimefield_value(moment) for moment in (EARLIEST_CREATED_AT, upper)]


def _where() -> str:
    return f"{_column('created_at')} < %s OR {_column('created_at')} > %s"


def usage_odd_records(*, now: datetime | None = None) -> list[OddRecord]:
    """Records whose created_at is before EARLIEST_CREATED_AT or in the future, oldest id first."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_column('id')}, {_column('agency')}, {_column('record_id')}, "
            f"CAST({_column('created_at')} AS TEXT) FROM {UsageRecord._meta.db_table} WHERE {_where()} ORDER BY 1",
            _bounds(now),
        )
        return [OddRecord(*row) for row in cursor.fetchall()]


def usage_odd_records_repair(*, now: datetime | None = None) -> int:
    """Move the created_at of every odd record to its received_at; the number of records repaired.

    The agencies of the odd records are locked first (in id order, as the ingest locks them), so no
    ingest interleaves; then each repaired organization's rollups are rebuilt from its raw rows. Rare
    and one-off: rebuilding all of an organization's days is simpler than tracking the days that moved.
    """
    bounds = _bounds(now)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT {_column('agency')}, {_column('organization')} FROM {UsageRecord._meta.db_table} "
                f"WHERE {_where()}",
                bounds,
            )
            owners = cursor.fetchall()
        list(Agency.objects.select_for_update().filter(pk__in={a for a, _ in owners}).order_by("pk").values_list("pk"))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {UsageRecord._meta.db_table} SET {_column('created_at')} = {_column('received_at')} "
                f"WHERE {_where()}",
                bounds,
            )
            repaired = cursor.rowcount
        for organization_id in sorted({o for _, o in owners}):
            rollups_rebuild_rows(organization_id=organization_id)
        return repaired
