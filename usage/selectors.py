"""Reads: balances with what is reserved, usage listings and totals, what minutes cost."""

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from django.utils.functional import cached_property

from agencies.models import Agency, CreditPackage, Organization
from core.money import round_half_up

from .models import Reservation, UsageAgencyDay, UsageDay, UsageDayNumber, UsageRecord


@dataclass(frozen=True)
class Balance:
    total: int
    reserved: int

    @property
    def free(self) -> int:
        return self.total - self.reserved

    def as_json(self) -> dict[str, int]:
        return {"free": self.free, "reserved": self.reserved, "total": self.total}


def _held(now: datetime | None = None) -> QuerySet[Reservation]:
    return Reservation.objects.filter(status=Reservation.Status.ACTIVE, expires_at__gt=now or timezone.now())


def organization_balance(*, organization: Organization) -> Balance:
    reserved = _held().filter(organization=organization).aggregate(total=Sum("minutes"))["total"] or 0
    return Balance(organization.credits_balance, reserved)


def agency_balance(*, agency: Agency) -> Balance:
    reserved = _held().filter(agency=agency).aggregate(total=Sum("minutes"))["total"] or 0
    return Balance(agency.minutes_balance, reserved)


def reserved_by_organization(*, organization_ids: Iterable[int]) -> dict[int, int]:
    """Credits held by active reservations, per organization, in one query."""
    rows = (
        _held()
        .filter(organization_id__in=set(organization_ids))
        .values_list("organization_id")
        .annotate(total=Sum("minutes"))
        .values_list("organization_id", "total")
    )
    return dict(rows)


def organization_balances(*, organizations: Iterable[Organization]) -> dict[int, Balance]:
    """Balance (total, reserved, free) of each organization, by id, with one query for all of them."""
    totals = {organization.pk: organization.credits_balance for organization in organizations}
    reserved = reserved_by_organization(organization_ids=totals) if totals else {}
    return {pk: Balance(total, reserved.get(pk, 0)) for pk, total in totals.items()}


def month_start(now: datetime | None = None) -> datetime:
    now = timezone.localtime(now or timezone.now())
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def monthly_usage_minutes(*, agency: Agency | None = None, organization: Organization | None = None) -> int:
    """Billed minutes of calls made since the start of this calendar month (UTC), from the daily rollups."""
    first = month_start().astimezone(UTC).date()
    days: QuerySet[Any]
    if organization is not None:
        days = UsageDay.objects.filter(organization=organization, day__gte=first)
    else:
        days = UsageAgencyDay.objects.filter(agency=agency, day__gte=first)
    return days.aggregate(total=Sum("minutes"))["total"] or 0


# --- Sums over UTC days, from the rollups (usage.rollups) -------------------------------


@dataclass(frozen=True)
class UsageRange:
    """The calls of an agency's clients (or of one client) made from `start` to `end`, inclusive UTC days."""

    agency_id: int
    organization: Organization | None
    start: date
    end: date

    def rollups(self, model: type[UsageDay] | type[UsageDayNumber] = UsageDay) -> QuerySet[Any]:
        """The range's rollup rows per organization: UsageDay, or UsageDayNumber for sums by number or direction."""
        rows: QuerySet[Any] = model.objects.filter(agency_id=self.agency_id, day__gte=self.start, day__lte=self.end)
        return rows.filter(organization=self.organization) if self.organization is not None else rows

    def days(self) -> QuerySet[Any]:
        """A row per day with calls, seconds and minutes: the client's UsageDay, or the agency's UsageAgencyDay."""
        if self.organization is not None:
            return self.rollups()
        return UsageAgencyDay.objects.filter(agency_id=self.agency_id, day__gte=self.start, day__lte=self.end)


# --- Usage listings ------------------------------------------------------------


def usage_in_range(
    *, agency_id: int, organization: Organization | None, start: date, end: date
) -> QuerySet[UsageRecord]:
    """Records of calls made from `start` to `end` inclusive (UTC days), newest first."""
    records = UsageRecord.objects.filter(
        created_at__gte=datetime.combine(start, time.min, tzinfo=UTC),
        created_at__lt=datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC),
    )
    if organization is not None:
        records = records.filter(organization=organization)
    else:
        records = records.filter(agency_id=agency_id)
    return records.order_by("-created_at", "-pk")


@dataclass(frozen=True)
class UsageTotals:
    calls: int
    seconds: int
    minutes: int


def usage_totals(*, agency_id: int, organization: Organization | None, start: date, end: date) -> UsageTotals:
    """Calls, seconds and billed minutes from `start` to `end` (UTC days), summed from the daily rollups."""
    days = UsageRange(agency_id, organization, start, end).days()
    totals = days.aggregate(calls=Sum("calls"), seconds=Sum("seconds"), minutes=Sum("minutes"))
    return UsageTotals(totals["calls"] or 0, totals["seconds"] or 0, totals["minutes"] or 0)


def calls_count(*, agency_id: int, organization: Organization | None, start: date, end: date) -> int:
    """How many calls a listing of the range holds, for its pager: from the rollups, not a COUNT(*) of the calls."""
    return usage_totals(agency_id=agency_id, organization=organization, start=start, end=end).calls


class CountedPaginator(Paginator):  # type: ignore[type-arg]  # generic in the stubs only
    """A Paginator told how many rows there are (calls_count), so paging never counts the calls themselves."""

    def __init__(self, object_list: Any, per_page: int, *, count: int):
        super().__init__(object_list, per_page)
        self.known_count = count

    @cached_property
    def count(self) -> int:
        return self.known_count


class BadCursor(ValueError):
    pass


def cursor_encode(record: UsageRecord) -> str:
    raw = f"{record.created_at.isoformat()}|{record.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_decode(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, number = raw.split("|")
        created_at, pk = datetime.fromisoformat(moment), int(number)
        if created_at.tzinfo is None or not 0 < pk < 2**63:
            raise ValueError("not ours")
        created_at.astimezone(UTC)  # compared in UTC: year 0 or 10000 there is no time at all
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        raise BadCursor("cursor is not one this API returned") from None
    return created_at, pk


def usage_page(
    records: QuerySet[UsageRecord], *, cursor: str | None, limit: int
) -> tuple[list[UsageRecord], str | None]:
    """One page of `records` (newest first) after `cursor`, and the cursor of the next page."""
    if cursor:
        created_at, pk = _cursor_decode(cursor)
        records = records.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
    page = list(
        records.only("pk", "record_id", "duration_sec", "created_at", "number_id", "organization_id", "direction")[
            : limit + 1
        ]
    )
    if len(page) > limit:
        return page[:limit], cursor_encode(page[limit - 1])
    return page, None


# --- What minutes cost ----------------------------------------------------------


@dataclass(frozen=True)
class MinutePrice:
    """price_cents buys `per` minutes (credits), in minor units of `currency`."""

    price_cents: int
    per: int
    currency: str

    def cost(self, minutes: int) -> int:
        """Cost of `minutes` in minor units, rounded half up: integers all the way."""
        return round_half_up(minutes * self.price_cents, self.per)


def platform_minute_price() -> MinutePrice:
    """What an agency pays the platform per minute."""
    return MinutePrice(settings.PLATFORM_MINUTE_PRICE_CENTS, 1, settings.PLATFORM_CURRENCY)


def client_credit_price(*, agency_id: int) -> MinutePrice | None:
    """What a client pays per credit: the lowest per-credit price among the agency's packages on sale.

    The best price the agency sells credits at, so a cost shown to a client
    never overstates what its calls cost. None when the agency sells nothing.
    """
    packages = (
        CreditPackage.objects.on_sale()
        .filter(agency_id=agency_id)
        .values_list(
            "price_cents",
            "credits",
            "currency",
        )
    )
    best = min(packages, key=lambda p: (Fraction(p[0], p[1]), p[1]), default=None)
    return MinutePrice(*best) if best else None


# --- Minutes coverage ------------------------------------------------------------

COVERAGE_DAYS = 14  # the window the recent daily use is averaged over
COVERAGE_MIN_DAYS = 3  # fewer days of minutes than this at the recent rate is a warning


@dataclass(frozen=True)
class Coverage:
    """Can the agency's minutes carry its clients' calls? Credits are minutes of calls."""

    client_credits: int
    minutes: int
    daily_minutes: int  # average of the last COVERAGE_DAYS days, rounded up

    @property
    def short_of_credits(self) -> bool:
        return self.minutes < self.client_credits

    @property
    def short_of_recent_use(self) -> bool:
        return self.minutes < COVERAGE_MIN_DAYS * self.daily_minutes

    @property
    def days_left(self) -> int | None:
        return self.minutes // self.daily_minutes if self.daily_minutes else None

    @property
    def warning(self) -> bool:
        return self.short_of_credits or self.short_of_recent_use


def minutes_coverage(*, agency: Agency, now: datetime | None = None) -> Coverage:
    """Clients' credits against the agency's minutes and its recent daily use: two aggregate queries."""
    now = now or timezone.now()
    credits = (
        Organization.objects.filter(agency=agency, credits_balance__gt=0).aggregate(total=Sum("credits_balance"))[
            "total"
        ]
        or 0
    )
    # The last COVERAGE_DAYS UTC days, today included (whole days: the rollups' grain); the (agency, day) index.
    first = now.astimezone(UTC).date() - timedelta(days=COVERAGE_DAYS - 1)
    recent = UsageAgencyDay.objects.filter(agency=agency, day__gte=first).aggregate(total=Sum("minutes"))["total"] or 0
    daily = -(-recent // COVERAGE_DAYS)
    return Coverage(client_credits=credits, minutes=agency.minutes_balance, daily_minutes=daily)
