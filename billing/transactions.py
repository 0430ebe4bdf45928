"""Reads: one account's ledger as a list of transactions, newest first, a page at a time.

Every entry is one row, except usage: a call's charge is an entry of its own, and there are far too
many for a statement, so usage is one row per UTC day per client organization with the number of
calls (on an agency's account, the client is that of the paired client entry: same reference).

Pages are keyset pages, never offsets, so entries posted while someone pages never shift a page,
and nothing is shown twice or skipped. The order is the key (moment, rank, id), descending:
an entry is (created_at, 0, pk); a day's usage row is (the last microsecond of its day, 1,
organization id), so it sits at the end of its day and keeps its place however many calls the
day still gets. Each page is three queries whatever its size: entries, usage groups, and the
balance after each group's last entry.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, F, Max, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate

from agencies.models import Agency, Organization

from .models import LedgerEntry, Purchase

Kind = LedgerEntry.Kind
ENTRY, USAGE_DAY = 0, 1  # the rank in the key: a day's usage row comes after (below) its day's last entry
# Ranks above USAGE_DAY are a higher layer's day rows, merged into these pages at the end of their day
# (the last microsecond): this module never makes them, but must page on after one of their keys.
RANKS = range(4)
# What the API calls a purchase paid by a saved method (Purchase.kind, where the model has it).
PURCHASE_KINDS = ("topup", "auto_reload")
KINDS = (
    "purchase",
    *PURCHASE_KINDS,
    "usage",
    "reservation_hold",
    "reservation_release",
    "allocation",
    "deduction",
    "refund",
    "dispute",
    "reversal",
    "adjustment",
)
# Reservations hold free minutes without moving a balance, so the ledger has no entry for them.
NOT_ON_LEDGER = ("reservation_hold", "reservation_release")
_ONE_DAY = timedelta(days=1)
_LAST_MICROSECOND = timedelta(days=1, microseconds=-1)


def purchase_kind(purchase: Purchase | None) -> str:
    """ "purchase" (Checkout), or the top-up kind of a purchase paid by a saved method."""
    kind = getattr(purchase, "kind", "checkout") if purchase is not None else "checkout"
    return kind if kind in PURCHASE_KINDS else "purchase"


@dataclass(frozen=True)
class Key:
    """Where a row sits in the order; a page's cursor is its last row's key."""

    moment: datetime
    rank: int
    id: int

    def as_list(self) -> list:
        return [self.moment.isoformat(), self.rank, self.id]

    @classmethod
    def from_list(cls, values: list) -> "Key":
        """The key a cursor carried; ValueError when it is not one this module made."""
        if len(values) != 3 or not isinstance(values[0], str):
            raise ValueError("not a key")
        moment, rank, pk = datetime.fromisoformat(values[0]), values[1], values[2]
        if moment.tzinfo is None or type(rank) is not int or rank not in RANKS:
            raise ValueError("not a key")
        if not isinstance(pk, int) or isinstance(pk, bool) or not 0 <= pk < 2**63:
            raise ValueError("not a key")
        return cls(moment.astimezone(UTC), rank, pk)


@dataclass(frozen=True)
class Transaction:
    key: Key
    id: str
    kind: str
    created_at: datetime
    amount: int
    balance_after: int
    description: str
    reference: str | None
    calls: int | None
    money_cents: int | None
    currency: str | None
    organization_id: int | None


@dataclass(frozen=True)
class Page:
    rows: list[Transaction]
    next_key: Key | None


def account_entries(*, agency: Agency | None, organization: Organization | None) -> QuerySet[LedgerEntry]:
    """Every ledger entry of one account: the organization's credits, or (organization None) the agency's minutes."""
    if organization is not None:
        return LedgerEntry.objects.filter(organization=organization)
    assert agency is not None  # one account or the other
    return LedgerEntry.objects.filter(agency=agency)


def _in_range(entries: QuerySet[LedgerEntry], start: date | None, end: date | None) -> QuerySet[LedgerEntry]:
    if start is not None:
        entries = entries.filter(created_at__gte=datetime.combine(start, time.min, tzinfo=UTC))
    if end is not None:
        entries = entries.filter(created_at__lt=datetime.combine(end, time.min, tzinfo=UTC) + _ONE_DAY)
    return entries


def _entries_of_kind(entries: QuerySet[LedgerEntry], kind: str | None) -> QuerySet[LedgerEntry]:
    """Entries other than usage, of the asked kind (top-ups are purchases with that Purchase.kind)."""
    entries = entries.exclude(kind=Kind.USAGE)
    if kind is None:
        return entries
    if kind in PURCHASE_KINDS:
        return entries.filter(kind=Kind.PURCHASE, purchase__kind=kind)
    if kind == "purchase":
        return entries.filter(kind=Kind.PURCHASE).exclude(purchase__kind__in=PURCHASE_KINDS)
    return entries.filter(kind=kind)


def _entry_rows(entries: QuerySet[LedgerEntry], after: Key | None, limit: int) -> list[Transaction]:
    if after is not None:
        below = Q(created_at__lt=after.moment)
        if after.rank > ENTRY:
            below |= Q(created_at=after.moment)
        else:
            below |= Q(created_at=after.moment, pk__lt=after.id)
        entries = entries.filter(below)
    page = entries.select_related("purchase").order_by("-created_at", "-pk")[: limit + 1]
    rows = []
    for entry in page:
        purchase = entry.purchase
        kind = purchase_kind(purchase) if entry.kind == Kind.PURCHASE else entry.kind
        paid = entry.kind == Kind.PURCHASE and purchase is not None
        rows.append(
            Transaction(
                key=Key(entry.created_at, ENTRY, entry.pk),
                id=f"le_{entry.pk}",
                kind=kind,
                created_at=entry.created_at,
                amount=entry.amount,
                balance_after=entry.balance_after,
                description=entry.description,
                reference=entry.reference,
                calls=None,
                money_cents=purchase.amount_cents if paid and purchase else None,
                currency=purchase.currency if paid and purchase else None,
                organization_id=entry.organization_id or (purchase.organization_id if purchase else None),
            )
        )
    return rows


def newest_day_groups(
    rows: QuerySet[Any, Any], *, field: str, group_by: tuple[str, ...], sums: dict[str, Any], count: int
) -> list[dict]:
    """The `count` newest groups of `rows` by (day, ...), `sums` aggregated, over a window of days that widens
    as needed. `rows` carries a `day` annotation (the UTC day of `field`); groups come newest day first, then
    by the other keys descending.

    Aggregating a deep history for every page would cost the whole history each time; the newest groups
    lie in the newest days, so the window starts at `count` days (a day is never cut in two) and widens
    only while it holds too few groups and older rows exist.
    """
    newest = rows.order_by(f"-{field}").values_list(field, flat=True).first()
    if newest is None:
        return []
    last_day = datetime.combine(newest.astimezone(UTC).date(), time.min, tzinfo=UTC)
    days = count
    while True:
        since = last_day - timedelta(days=days - 1)
        groups = list(
            rows.filter(**{f"{field}__gte": since})
            .order_by()
            .values("day", *group_by)
            .annotate(**sums)
            .order_by("-day", *(f"-{key}" for key in group_by))[:count]
        )
        if len(groups) == count or not rows.filter(**{f"{field}__lt": since}).exists():
            return groups
        days *= 4


def _usage_rows(
    entries: QuerySet[LedgerEntry], *, agency_account: bool, after: Key | None, limit: int
) -> list[Transaction]:
    usage = entries.filter(kind=Kind.USAGE)
    if agency_account:
        # The agency's usage entry names the call's client (written by the usage sync).
        usage = usage.annotate(client=Coalesce(F("usage_client_id"), Value(0)))
    else:
        usage = usage.annotate(client=F("organization_id"))
    usage = usage.annotate(day=TruncDate("created_at", tzinfo=UTC))
    if after is not None:
        day = after.moment.date()
        below = Q(created_at__lt=datetime.combine(day, time.min, tzinfo=UTC))
        if after.moment == datetime.combine(day, time.min, tzinfo=UTC) + _LAST_MICROSECOND:
            if after.rank == USAGE_DAY:
                below |= Q(day=day, client__lt=after.id)
            elif after.rank > USAGE_DAY:  # a higher layer's day row: the whole day's usage lies below it
                below |= Q(day=day)
        usage = usage.filter(below)
    groups = newest_day_groups(
        usage,
        field="created_at",
        group_by=("client",),
        sums={"calls": Count("pk"), "amount": Sum("amount"), "latest": Max("created_at"), "last_pk": Max("pk")},
        count=limit + 1,
    )
    # Entries of one account are posted under its row lock, so the highest id is the day's last entry.
    balances = dict(
        LedgerEntry.objects.filter(pk__in=[g["last_pk"] for g in groups]).values_list("pk", "balance_after")
    )
    rows = []
    for group in groups:
        day, client = group["day"], group["client"] or None
        rows.append(
            Transaction(
                key=Key(datetime.combine(day, time.min, tzinfo=UTC) + _LAST_MICROSECOND, USAGE_DAY, client or 0),
                id=f"us_{day:%Y%m%d}_{client or 0}",
                kind="usage",
                created_at=group["latest"],
                amount=group["amount"],
                balance_after=balances[group["last_pk"]],
                description=f"{group['calls']:,} call{'s' if group['calls'] != 1 else ''} on {day.isoformat()}",
                reference=None,
                calls=group["calls"],
                money_cents=None,
                currency=None,
                organization_id=client,
            )
        )
    return rows


def transactions_page(
    *,
    agency: Agency | None = None,
    organization: Organization | None = None,
    kind: str | None = None,
    start: date | None = None,
    end: date | None = None,
    after: Key | None = None,
    limit: int = 25,
) -> Page:
    """One page of an account's transactions (a client's credits, or an agency's minutes), newest first.

    `kind` one of KINDS (None: all); `start`/`end` inclusive UTC days; `after` the key of the previous
    page's last row. Reservation kinds are never on the ledger (NOT_ON_LEDGER): their pages are empty.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    if kind in NOT_ON_LEDGER:
        return Page([], None)
    entries = _in_range(account_entries(agency=agency, organization=organization), start, end)
    rows: list[Transaction] = []
    if kind != "usage":
        rows += _entry_rows(_entries_of_kind(entries, kind), after, limit)
    if kind in (None, "usage"):
        rows += _usage_rows(entries, agency_account=organization is None, after=after, limit=limit)
    rows.sort(key=lambda row: (row.key.moment, row.key.rank, row.key.id), reverse=True)
    if len(rows) > limit:
        return Page(rows[:limit], rows[limit - 1].key)
    return Page(rows, None)
