"""Reads: calls, seconds and billed minutes summed by day, number, direction or client, from the rollups.

Minutes are the sum of each call's billed whole minutes (UsageRecord.minutes, ceil(sec/60) per call,
what the ledger charged), never ceil(total seconds / 60). One aggregate query per summary over the
daily rollups (usage.rollups: UsageAgencyDay or UsageDay, UsageDayNumber by number or direction), plus one for the
organization names when grouping by client; none reads the calls themselves.
"""

from dataclasses import dataclass
from datetime import date

from django.db.models import Sum

from agencies.models import Organization

from .models import UsageDay, UsageDayNumber
from .selectors import MinutePrice, UsageRange

GROUPINGS = ("day", "number", "direction", "organization")
_FIELD = {"day": "day", "number": "number_id", "direction": "direction", "organization": "organization_id"}
_SUMS = {"calls": Sum("calls"), "seconds": Sum("seconds"), "minutes": Sum("minutes")}


@dataclass(frozen=True)
class Summary:
    key: str
    name: str | None
    calls: int
    seconds: int
    minutes: int


def usage_range(*, agency_id: int, organization: Organization | None, start: date, end: date) -> UsageRange:
    """The calls of an agency's clients (or of one client) made from `start` to `end`, inclusive UTC days."""
    return UsageRange(agency_id, organization, start, end)


def usage_total(calls: UsageRange) -> Summary:
    totals = calls.days().aggregate(**_SUMS)
    return Summary("total", None, totals["calls"] or 0, totals["seconds"] or 0, totals["minutes"] or 0)


def usage_grouped(calls: UsageRange, *, group_by: str) -> list[Summary]:
    """Sums per group (only groups with calls), ordered by key: days and names oldest/alphabetical first."""
    if group_by not in GROUPINGS:
        raise ValueError(f"unknown grouping {group_by!r}")
    field = _FIELD[group_by]
    if group_by == "day":
        rollups = calls.days()  # a row a day, for an agency too
    else:
        rollups = calls.rollups(UsageDayNumber if group_by in ("number", "direction") else UsageDay)
    rows = rollups.order_by().values(field).annotate(**_SUMS).order_by(field)
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
