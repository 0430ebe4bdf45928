"""A client's billing history and dashboard figures: the ledger with its usage summed per day.

Usage is one ledger entry per call; a history of those buries the purchases.
Here every other entry (purchases, allocations, deductions, refunds, disputes)
is a row of its own, and calls are one row per day, dated by when the calls
happened (the usage records' time, not when they were reported), read from the
daily rollups (usage.rollups), never from the calls. One SQL query (a UNION) per
page, and one to count, however many calls there are.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

from django.db.models import F, IntegerField, QuerySet, Sum, Value
from django.db.models.functions import TruncDate
from django.utils import timezone

from agencies.models import Organization
from billing.models import LedgerEntry

from .models import UsageDay, UsageRecord

Kind = LedgerEntry.Kind
USAGE = "usage"
# The history's kind filter: key -> (label, ledger kinds); usage is its own kind, from the usage records.
KINDS: dict[str, tuple[str, list[str]]] = {
    "purchase": ("Purchases", [Kind.PURCHASE]),
    "allocation": ("Allocations", [Kind.ALLOCATION, Kind.ADJUSTMENT]),
    "deduction": ("Deductions", [Kind.DEDUCTION]),
    USAGE: ("Usage", []),
    "refund": ("Refunds", [Kind.REFUND]),
    "dispute": ("Disputes", [Kind.DISPUTE, Kind.REVERSAL]),
}
LABELS = {**dict(Kind.choices), USAGE: "Usage"}
COLUMNS = ("at", "kind", "description", "amount", "balance_after", "calls", "day")


@dataclass(frozen=True)
class HistoryRow:
    at: datetime  # a ledger entry's time; for usage, the day's last call
    kind: str
    description: str
    amount: int
    balance_after: int | None  # None for a day of usage: many entries, no one balance
    calls: int
    day: date  # UTC

    @property
    def is_usage(self) -> bool:
        return self.kind == USAGE

    @property
    def label(self) -> str:
        return LABELS.get(self.kind, self.kind)


def history_rows(*, organization: Organization, kind: str = "") -> QuerySet:
    """The organization's history newest first as value tuples (COLUMNS); `kind` is a KINDS key or "" for all.

    Wrap each row of a page in HistoryRow."""
    days = (
        UsageDay.objects.filter(organization=organization)
        .order_by()
        .annotate(
            at=F("last_call_at"),
            kind=Value(USAGE),
            description=Value(""),
            amount=-F("minutes"),
            balance_after=Value(None, output_field=IntegerField()),
        )
        .values_list(*COLUMNS)
    )
    entries = LedgerEntry.objects.filter(organization=organization).exclude(kind=Kind.USAGE).order_by()
    entries = entries.annotate(at=F("created_at"), calls=Value(0), day=TruncDate("created_at")).values_list(*COLUMNS)
    if kind == USAGE:
        return days.order_by("-at")
    if kind in KINDS:
        return entries.filter(kind__in=KINDS[kind][1]).order_by("-at")
    return entries.union(days, all=True).order_by("-at")


def daily_rate(*, organization: Organization, days: int = 14, now: datetime | None = None) -> Fraction:
    """Minutes a day the organization used over the last `days` UTC days, today included, as an exact ratio.

    Whole days (the rollups' grain), by the calls' time."""
    first = (now or timezone.now()).astimezone(UTC).date() - timedelta(days=days - 1)
    used = UsageDay.objects.filter(organization=organization, day__gte=first).aggregate(total=Sum("minutes"))["total"]
    used = used or 0
    return Fraction(used, days)


def days_left(*, free: int, rate: Fraction) -> int | None:
    """Whole days `free` credits last at `rate` a day; None when nothing was used lately (no estimate)."""
    if rate <= 0:
        return None
    return max(0, int(Fraction(free) / rate))


def recent_calls(*, organization: Organization, limit: int = 5) -> list[UsageRecord]:
    return list(organization.usage_records.order_by("-created_at", "-pk")[:limit])
