"""Reads for the dashboards: a fixed number of queries whatever the number of clients and calls.

Usage figures come from the daily rollups (usage.rollups), never from the calls themselves.

Days are UTC days, like the usage API's. Money is integer minor units with its
currency; converting to the platform currency (for the margin) uses
EXCHANGE_RATES, the margin calculator's rates, rounded half up once per currency.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from agencies.models import Agency, Organization
from billing.models import Purchase
from core import money
from invoices.models import CreditNote
from usage import selectors as usage_selectors
from usage.models import UsageAgencyDay, UsageDay

CHART_DAYS = 30
MAX_RANGE_DAYS = 366
LOW_CLIENTS_SHOWN = 20


def today() -> date:
    return timezone.now().astimezone(UTC).date()


def last_days(days: int = CHART_DAYS) -> tuple[date, date]:
    end = today()
    return end - timedelta(days=days - 1), end


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(start, time.min, tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC),
    )


def daily_minutes(
    *, start: date, end: date, organization: Organization | None = None, agency: Agency | None = None
) -> list[tuple[date, int]]:
    """Billed minutes per UTC day from start to end, days without calls as 0 (one query, on the daily rollups)."""
    days: QuerySet[Any]
    if organization is not None:
        days = UsageDay.objects.filter(organization=organization, day__gte=start, day__lte=end)
    else:  # a row a day for the whole agency, however many clients it has
        days = UsageAgencyDay.objects.filter(agency=agency, day__gte=start, day__lte=end)
    rows = days.order_by().values("day").annotate(total=Sum("minutes")).values_list("day", "total")
    by_day = dict(rows)
    return [
        (start + timedelta(days=n), by_day.get(start + timedelta(days=n), 0)) for n in range((end - start).days + 1)
    ]


def last_days_minutes(*, organization: Organization) -> list[tuple[date, int]]:
    """A client's billed minutes per day, last CHART_DAYS days: its report's and console page's chart."""
    start, end = last_days()
    return daily_minutes(start=start, end=end, organization=organization)


# --- The agency's dashboard ------------------------------------------------------------


@dataclass(frozen=True)
class Sales:
    currency: str
    purchases: int
    credits: int  # credits sold, less those refunded
    paid_cents: int
    refunded_cents: int
    net_cents: int = 0  # the invoices' net amounts (VAT taken out)
    refunded_net_cents: int = 0  # the credit notes' net amounts

    @property
    def revenue_cents(self) -> int:
        """What clients paid, less refunds: VAT included where charged."""
        return self.paid_cents - self.refunded_cents

    @property
    def revenue_net_cents(self) -> int:
        """Revenue net of VAT: the invoices' net less the credit notes' net, to the cent."""
        return self.net_cents - self.refunded_net_cents


@dataclass(frozen=True)
class Margin:
    revenue_cents: int  # net of VAT, in the platform currency
    cost_cents: int
    unconverted: list = field(default_factory=list)  # currencies without an exchange rate, left out
    gross_cents: int = 0  # the same sales with VAT, in the platform currency

    @property
    def margin_cents(self) -> int:
        return self.revenue_cents - self.cost_cents


def sales_by_currency(*, agency: Agency, start: date, end: date) -> list[Sales]:
    """Credit packages the agency's clients paid for in the period, per currency (one query).

    A purchase counts on the day it was paid; its refunds so far are taken off. Net of VAT is what
    its invoice and credit notes say; a purchase whose invoice is not issued yet counts as paid.
    """
    low, high = _bounds(start, end)
    notes_net = (
        CreditNote.objects.filter(invoice__purchase=OuterRef("pk"))
        .order_by()
        .values("invoice")
        .annotate(total=Sum("net_cents"))
        .values("total")
    )
    rows = (
        Purchase.objects.filter(agency=agency, organization__isnull=False, fulfilled_at__gte=low, fulfilled_at__lt=high)
        .annotate(
            net_row=Coalesce("invoice__net_cents", "amount_cents", output_field=BigIntegerField()),
            refunded_net_row=Case(
                When(invoice__isnull=True, then=F("refunded_cents")),
                default=Coalesce(Subquery(notes_net, output_field=BigIntegerField()), Value(0)),
                output_field=BigIntegerField(),
            ),
        )
        .order_by()
        .values("currency")
        .annotate(
            n=Count("pk"),
            credits=Sum(F("credits") - F("credits_refunded")),
            paid=Sum("amount_cents"),
            refunded=Sum("refunded_cents"),
            net=Sum("net_row"),
            refunded_net=Sum("refunded_net_row"),
        )
        .order_by("currency")
    )
    return [
        Sales(
            r["currency"],
            r["n"],
            r["credits"] or 0,
            r["paid"] or 0,
            r["refunded"] or 0,
            r["net"] or 0,
            r["refunded_net"] or 0,
        )
        for r in rows
    ]


def to_platform_currency(cents: int, currency: str) -> int | None:
    """`cents` of `currency` in the platform currency; None when it has no exchange rate."""
    rate = money.exchange_rate(currency)
    return None if rate is None else money.to_platform_currency(cents, rate)


def margin_for(*, sales: list[Sales], minutes_used: int) -> Margin:
    """Revenue net of VAT (converted) less what the minutes the clients used cost at the platform price."""
    revenue, gross, unconverted = 0, 0, []
    for row in sales:
        converted = to_platform_currency(row.revenue_net_cents, row.currency)
        if converted is None:
            unconverted.append(row.currency)
        else:
            revenue += converted
            gross += to_platform_currency(row.revenue_cents, row.currency) or 0
    cost = usage_selectors.platform_minute_price().cost(minutes_used)
    return Margin(revenue, cost, unconverted, gross)


def minutes_bought(*, agency: Agency, start: date, end: date) -> dict:
    """Minutes the agency bought from the platform in the period, and what it paid (one query)."""
    low, high = _bounds(start, end)
    totals = Purchase.objects.filter(
        agency=agency, organization__isnull=True, fulfilled_at__gte=low, fulfilled_at__lt=high
    ).aggregate(
        minutes=Sum(F("credits") - F("credits_refunded")), paid=Sum("amount_cents"), refunded=Sum("refunded_cents")
    )
    return {"minutes": totals["minutes"] or 0, "paid_cents": (totals["paid"] or 0) - (totals["refunded"] or 0)}


def clients_running_low(*, agency: Agency, limit: int = LOW_CLIENTS_SHOWN):
    """Clients below their own alert threshold, or below LOW_BALANCE_DEFAULT_CREDITS without one; lowest first.

    One query, whatever the number of clients.
    """
    return (
        Organization.objects.filter(agency=agency)
        .annotate(
            limit=Coalesce(
                "low_balance_threshold", Value(settings.LOW_BALANCE_DEFAULT_CREDITS), output_field=IntegerField()
            )
        )
        .filter(credits_balance__lt=F("limit"))
        .order_by("credits_balance", "pk")[:limit]
    )


@dataclass(frozen=True)
class AgencyDashboard:
    start: date
    end: date
    balance: object  # usage.selectors.Balance
    daily: list
    minutes_used: int
    sales: list
    margin: Margin
    bought: dict
    running_low: list
    client_count: int


def agency_dashboard(*, agency: Agency, start: date, end: date) -> AgencyDashboard:
    daily = daily_minutes(agency=agency, start=start, end=end)
    minutes_used = sum(minutes for _, minutes in daily)
    sales = sales_by_currency(agency=agency, start=start, end=end)
    return AgencyDashboard(
        start=start,
        end=end,
        balance=usage_selectors.agency_balance(agency=agency),
        daily=daily,
        minutes_used=minutes_used,
        sales=sales,
        margin=margin_for(sales=sales, minutes_used=minutes_used),
        bought=minutes_bought(agency=agency, start=start, end=end),
        running_low=list(clients_running_low(agency=agency)),
        client_count=Organization.objects.filter(agency=agency).count(),
    )


# --- Periods typed into a form ----------------------------------------------------------


def period_from(data, *, default_days: int = CHART_DAYS) -> tuple[date, date, str]:
    """(start, end, problem) from ?start=&end= (YYYY-MM-DD); the last `default_days` days when absent or bad."""
    default = last_days(default_days)
    raw_start, raw_end = data.get("start", ""), data.get("end", "")
    if not raw_start and not raw_end:
        return *default, ""
    try:
        start = date.fromisoformat(raw_start) if raw_start else default[0]
        end = date.fromisoformat(raw_end) if raw_end else default[1]
    except ValueError:
        return *default, "Enter dates as YYYY-MM-DD. Showing the last 30 days."
    if start > end:
        return *default, "The start must not be after the end. Showing the last 30 days."
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        return *default, f"Choose at most {MAX_RANGE_DAYS} days. Showing the last 30 days."
    return start, end, ""
