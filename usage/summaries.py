"""Reads: calls, seconds and billed minutes summed by day, number, direction or client, in SQL.

Minutes are the sum of each call's billed whole minutes (UsageRecord.minutes, ceil(sec/60) per call,
what the ledger charged), never ceil(total seconds / 60). One aggregate query per summary, plus one
for the organization names when grouping by client.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate

from agencies.models import Organization

from .models import UsageRecord
from .selectors import MinutePrice

GROUPINGS = ("day", "number", "direction", "organization")
_FIELD = {"day": "day", "number": "number_id", "direction": "direction", "organization": "organization_id"}


@dataclass(frozen=True)
class Summary:
    key: str
    name: str | None
    calls: int
    seconds: int
    minutes: int


def records_between(*, agency_id: int, organization: Organization | None, start: date, end: date) -> QuerySet:
    """The calls of an agency's clients (or of one client) made from `start` to `end`, inclusive UTC days."""
    records = UsageRecord.objects.filter(
        agency_id=agency_id,
        created_at__gte=datetime.combine(start, time.min, tzinfo=UTC),
        created_at__lt=datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC),
    )
    if organization is not None:
        records = records.filter(organization=organization)
    return records


def usage_total(records: QuerySet) -> Summary:
    totals = records.order_by().aggregate(calls=Count("pk"), seconds=Sum("duration_sec"), minutes=Sum("minutes"))
    return Summary("total", None, totals["calls"], totals["seconds"] or 0, totals["minutes"] or 0)


def usage_grouped(records: QuerySet, *, group_by: str) -> list[Summary]:
    """Sums per group (only groups with calls), ordered by key: days and names oldest/alphabetical first."""
    if group_by not in GROUPINGS:
        raise ValueError(f"unknown grouping {group_by!r}")
    field = _FIELD[group_by]
    if group_by == "day":
        records = records.annotate(day=TruncDate("created_at", tzinfo=UTC))
    rows = (
        records.order_by()
        .values(field)
        .annotate(calls=Count("pk"), seconds=Sum("duration_sec"), minutes=Sum("minutes"))
        .order_by(field)
    )
    names: dict[int, str] = {}
    if group_by == "organization":
        rows = list(rows)
        names = dict(Organization.objects.filter(pk__in=[r[field] for r in rows]).values_list("pk", "name"))
    return [
        Summary(
            row[field].isoformat() if group_by == "day" else str(row[field]),
            names.get(row[field]) if group_by == "organization" else None,
            row["calls"],
            row["seconds"] or 0,
            row["minutes"] or 0,
        )
        for row in rows
    ]


def summary_json(summary: Summary, price: MinutePrice | None, *, label: str | None = None) -> dict:
    """The API's shape of one summary; `label` names the key field ("date" or "key"), None for totals."""
    data: dict = {}
    if label is not None:
        data[label] = summary.key
        if label == "key":
            data["name"] = summary.name
    data.update(
        calls=summary.calls,
        seconds=summary.seconds,
        minutes=summary.minutes,
        cost={"amount": price.cost(summary.minutes), "currency": price.currency} if price else None,
    )
    return data
