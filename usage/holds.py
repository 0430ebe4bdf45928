"""Reads: reservation holds and releases as transaction rows, merged into the ledger's pages.

A reservation holds minutes for an authorized call: it lowers what is *free* (balance - held), never the
balance, so the ledger has no entry for it and billing.transactions cannot list it (billing never imports
usage). This module adds them, aggregated like usage, never a row per call:

- `reservation_hold`: one row per UTC day of `created_at` per client organization; amount -(minutes held that
  day), `calls` the number of reservations.
- `reservation_release`: one row per UTC day of `closed_at` per client; amount +(minutes released) by every
  reservation closed that day, whether it expired unused or was settled by its call. Settled ones count too:
  their calls' charges are on the usage rows, so the holds and releases of closed reservations net to zero and
  the amounts of all rows add up to the change in *free* credits/minutes. Active reservations are not released.
- `balance_after`: the account's ledger balance at the row's place in the order, the end of its day (now, for
  today), i.e. after the day's last entry; a hold or a release never changes a balance.

On an agency's minutes account (an agency key without organization_id) the rows are its clients' reservations,
a row per day per client. A row's key is (last microsecond of its day, HOLD_DAY | RELEASE_DAY, organization
id): the end of its day, above that day's usage row (billing.transactions ranks ENTRY and USAGE_DAY). A page
asks each stream (ledger, holds, releases) for limit + 1 rows after the cursor's key and merge-sorts them;
its cursor is its last row's key. New reservations only grow today's rows in place: no gaps, no repeats.
"""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, IntegerField, Max, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDate

from agencies.models import Agency, Organization
from billing import transactions as ledger_rows

from .models import Reservation

HOLD_DAY, RELEASE_DAY = 2, 3  # ranks after billing's USAGE_DAY: a day's holds, then its releases
HOLD, RELEASE = "reservation_hold", "reservation_release"
_STREAMS = ((HOLD, HOLD_DAY, "created_at"), (RELEASE, RELEASE_DAY, "closed_at"))
_EXPIRED = Q(status=Reservation.Status.EXPIRED)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _day_end(day: date) -> datetime:
    return _day_start(day) + timedelta(days=1, microseconds=-1)


def _counted(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _account_reservations(*, agency: Agency | None, organization: Organization | None) -> QuerySet[Reservation]:
    if organization is not None:
        return Reservation.objects.filter(organization=organization)
    assert agency is not None  # one account or the other
    return Reservation.objects.filter(agency=agency)


def _below(field: str, rank: int, after: ledger_rows.Key) -> Q:
    """The day rows of this stream whose key is below `after` (rows ordered by day, then organization)."""
    day = after.moment.date()
    below = Q(**{f"{field}__lt": _day_start(day)})
    if after.moment == _day_end(day):
        if rank < after.rank:
            below |= Q(day=day)
        elif rank == after.rank:
            below |= Q(day=day, organization_id__lt=after.id)
    return below


def _description(kind: str, group: dict, unit: str) -> str:
    calls, minutes = group["calls"], group["held"]
    if kind == HOLD:
        return f"{_counted(calls, 'call')} authorized: {_counted(minutes, unit)} held (not charged; balance unchanged)"
    expired, expired_minutes = group["expired_calls"], group["expired_minutes"] or 0
    if expired == calls:
        return f"{_counted(calls, 'authorization')} expired unused: {_counted(minutes, unit)} released"
    if expired == 0:
        return f"{_counted(calls, 'call')} settled: {_counted(minutes, unit)} released (charged as usage)"
    return (
        f"{_counted(calls, 'authorization')} closed: {_counted(minutes, unit)} released "
        f"({calls - expired:,} settled by their calls, {expired:,} expired unused: {_counted(expired_minutes, unit)})"
    )


def _stream_rows(
    *,
    kind: str,
    rank: int,
    field: str,
    agency: Agency | None,
    organization: Organization | None,
    start: date | None,
    end: date | None,
    after: ledger_rows.Key | None,
    limit: int,
) -> list[ledger_rows.Transaction]:
    """Up to limit + 1 day rows of one stream (holds or releases) below `after`, newest first; two queries."""
    account = _account_reservations(agency=agency, organization=organization)
    reservations = account.filter(**{f"{field}__isnull": False}).annotate(day=TruncDate(field, tzinfo=UTC))
    if start is not None:
        reservations = reservations.filter(**{f"{field}__gte": _day_start(start)})
    if end is not None:
        reservations = reservations.filter(**{f"{field}__lt": _day_start(end) + timedelta(days=1)})
    if after is not None:
        reservations = reservations.filter(_below(field, rank, after))
    groups = ledger_rows.newest_day_groups(
        reservations,
        field=field,
        group_by=("organization_id",),
        sums={
            "calls": Count("pk"),
            "held": Sum("minutes"),
            "latest": Max(field),
            "expired_calls": Count("pk", filter=_EXPIRED),
            "expired_minutes": Sum("minutes", filter=_EXPIRED),
        },
        count=limit + 1,
    )
    unit = "credit" if organization is not None else "minute"
    sign = -1 if kind == HOLD else 1
    prefix = "rh" if kind == HOLD else "rr"
    return [
        ledger_rows.Transaction(
            key=ledger_rows.Key(_day_end(group["day"]), rank, group["organization_id"]),
            id=f"{prefix}_{group['day']:%Y%m%d}_{group['organization_id']}",
            kind=kind,
            created_at=group["latest"],
            amount=sign * group["held"],
            balance_after=0,  # the page's day rows get theirs together: _with_day_end_balances
            description=_description(kind, group, unit),
            reference=None,
            calls=group["calls"],
            money_cents=None,
            currency=None,
            organization_id=group["organization_id"],
        )
        for group in groups
    ]


def _with_day_end_balances(
    rows: list[ledger_rows.Transaction], *, agency: Agency | None, organization: Organization | None
) -> list[ledger_rows.Transaction]:
    """The day rows of a page with the account's balance at the end of their day (now, for today).

    One query for the page, not one per row: a scalar subquery per day, each reading one entry off the
    account's (account, -created_at) index."""
    days = sorted({row.key.moment.date() for row in rows if row.key.rank in (HOLD_DAY, RELEASE_DAY)})
    if not days:
        return rows
    ledger = ledger_rows.account_entries(agency=agency, organization=organization).order_by("-created_at", "-pk")
    subqueries = {
        f"d{n}": Subquery(
            ledger.filter(created_at__lt=_day_start(day) + timedelta(days=1)).values("balance_after")[:1],
            output_field=IntegerField(),
        )
        for n, day in enumerate(days)
    }
    if organization is not None:
        account: QuerySet[Any, Any] = Organization.objects.filter(pk=organization.pk)
    else:
        assert agency is not None  # one account or the other
        account = Agency.objects.filter(pk=agency.pk)
    found: dict[str, Any] = account.values(**subqueries).first() or {}
    balances: dict[date, int] = {day: found.get(f"d{n}") or 0 for n, day in enumerate(days)}
    return [
        replace(row, balance_after=balances[row.key.moment.date()]) if row.key.rank in (HOLD_DAY, RELEASE_DAY) else row
        for row in rows
    ]


def transactions_page(
    *,
    agency: Agency | None = None,
    organization: Organization | None = None,
    kind: str | None = None,
    start: date | None = None,
    end: date | None = None,
    after: ledger_rows.Key | None = None,
    limit: int = 25,
) -> ledger_rows.Page:
    """One page of an account's transactions, reservations included: billing.transactions.transactions_page's
    rows merged with the day rows of holds and releases, newest first (same arguments)."""
    if kind is not None and kind not in ledger_rows.KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    rows: list[ledger_rows.Transaction] = []
    if kind not in ledger_rows.NOT_ON_LEDGER:
        rows += ledger_rows.transactions_page(
            agency=agency, organization=organization, kind=kind, start=start, end=end, after=after, limit=limit + 1
        ).rows
    for stream_kind, rank, field in _STREAMS:
        if kind in (None, stream_kind):
            rows += _stream_rows(
                kind=stream_kind,
                rank=rank,
                field=field,
                agency=agency,
                organization=organization,
                start=start,
                end=end,
                after=after,
                limit=limit,
            )
    rows.sort(key=lambda row: (row.key.moment, row.key.rank, row.key.id), reverse=True)
    page, next_key = (rows[:limit], rows[limit - 1].key) if len(rows) > limit else (rows, None)
    return ledger_rows.Page(_with_day_end_balances(page, agency=agency, organization=organization), next_key)
