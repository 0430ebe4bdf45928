"""Queueing auto-reloads: the ledger's hook, run in the debit's transaction under the account's row lock.

A debit queues a reload when it leaves the balance below the account's
auto-reload threshold and either crosses it (from the threshold or more to
below) or finds the auto-reload `armed` (a failed reload wants another try).
Queueing disarms it, so however many debits race, they queue on the row lock
and one of them queues the reload; the partial unique index
`auto_reload_one_open` keeps a second open attempt out even if something else
queued one, and the insert yields to it instead of failing the debit. The
worker charges after commit (billing.tasks.auto_reload_charge), never the
request that debited.

A reload skipped for the monthly cap stays disarmed: later debits in that
month queue nothing (the owner raises the cap, or tops up and crosses again).
When the UTC month turns, the sweep (`month_rollover_queue`) queues one reload
for each account whose last attempt was that skip and whose balance is still
below its threshold.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from agencies.models import Agency, Organization
from core import db

from .models import AutoReload, AutoReloadAttempt

if TYPE_CHECKING:
    from .ledger import LockedAccounts, PairedDebit, PairedPosting


@dataclass(frozen=True)
class Setting:
    """An account's live auto-reload as read with its row lock: on, not paused."""

    threshold: int
    armed: bool


@dataclass(frozen=True)
class Due:
    organization_id: int | None
    agency_id: int | None
    threshold: int
    balance: int  # after the debit that queues it
    reference: str


def live(owner_field: str) -> QuerySet[AutoReload]:
    """The account's live auto-reload, for a subquery on the account row (owner_field: organization or agency)."""
    return AutoReload.objects.filter(**{owner_field: OuterRef("pk")}, enabled=True, paused_at__isnull=True)


def lock_annotations(owner_field: str) -> dict:
    """Columns to read with the account's row lock (billing.ledger.entry_post)."""
    reload = live(owner_field)
    return {
        "reload_threshold": Subquery(reload.values("threshold")[:1]),
        "reload_armed": Subquery(reload.values("armed")[:1]),
    }


def lock_columns_sql(*, account_table: str, owner_column: str) -> str:
    """The same two columns for the usage hot path's plain-SQL lock (billing.ledger.accounts_lock)."""
    table = db.table(AutoReload)
    where = f"r.{owner_column} = {account_table}.id AND r.enabled AND r.paused_at IS NULL"
    return f", (SELECT r.threshold FROM {table} r WHERE {where}), (SELECT r.armed FROM {table} r WHERE {where})"


def setting(threshold: int | None, armed) -> Setting | None:
    return None if threshold is None else Setting(int(threshold), bool(armed))


def due(
    *,
    setting: Setting | None,
    organization_id: int | None,
    agency_id: int | None,
    before: int,
    steps: Sequence[tuple[str, int]],
) -> Due | None:
    """The reload one account's debits (balance `before`, then after each) queue, if any: the first step that
    leaves the balance below the threshold while armed or crossing it."""
    if setting is None:
        return None
    previous, armed = before, setting.armed
    for reference, after in steps:
        if after < setting.threshold and (armed or previous >= setting.threshold):
            return Due(organization_id, agency_id, setting.threshold, after, reference)
        previous = after
    return None


def paired_dues(*, locked: "LockedAccounts", debits: "list[PairedDebit]", postings: "list[PairedPosting]") -> list[Due]:
    """The reloads billing.ledger.paired_debits_post queues; nothing to work out for accounts without auto-reload."""
    reloads = {pk: s for pk, s in locked.organization_reloads.items() if s is not None}
    if not reloads and locked.agency_reload is None:
        return []
    steps: dict[int, list[tuple[str, int]]] = {}
    for debit, posting in zip(debits, postings):
        if debit.organization_id in reloads:
            steps.setdefault(debit.organization_id, []).append((debit.reference, posting.organization_balance_after))
    candidates = [
        due(
            setting=reloads[pk],
            organization_id=pk,
            agency_id=None,
            before=locked.organization_balances[pk],
            steps=org_steps,
        )
        for pk, org_steps in steps.items()
    ]
    candidates.append(
        due(
            setting=locked.agency_reload,
            organization_id=None,
            agency_id=locked.agency_id,
            before=locked.agency_balance,
            steps=[(d.reference, p.agency_balance_after) for d, p in zip(debits, postings)],
        )
    )
    return [d for d in candidates if d is not None]


def reloads_queue(dues: Sequence[Due]) -> int:
    """Queue one attempt per due account unless one is open already; how many were queued.

    Call in the debit's transaction, with the accounts locked. The charge is queued when it commits.
    """
    if not dues:
        return 0
    accounts = Q(pk__in=[])
    for d in dues:
        accounts |= Q(organization_id=d.organization_id) if d.organization_id else Q(agency_id=d.agency_id)
    settings = {
        (row.organization_id, row.agency_id): row
        for row in AutoReload.objects.filter(accounts, enabled=True, paused_at__isnull=True).only(
            "pk", "organization_id", "agency_id", "amount_cents", "currency"
        )
    }
    now = timezone.now()
    attempts = []
    for d in dues:
        row = settings.get((d.organization_id, d.agency_id))
        if row is None:
            continue
        attempts.append(
            AutoReloadAttempt(
                auto_reload_id=row.pk,
                threshold=d.threshold,
                balance=d.balance,
                reference=d.reference[:200],
                amount_cents=row.amount_cents,
                currency=row.currency,
                created_at=now,
                run_after=now,
            )
        )
    if not attempts:
        return 0
    # An open attempt (one waiting out the hourly limit) stands for this crossing too: skip, never fail the debit.
    AutoReloadAttempt.objects.bulk_create(attempts, ignore_conflicts=True)
    AutoReload.objects.filter(pk__in=[a.auto_reload_id for a in attempts]).update(armed=False)
    transaction.on_commit(_enqueue, robust=True)  # a lost enqueue is the sweep's
    return len(attempts)


def month_rollover_queue(*, now: datetime | None = None) -> int:
    """Queue one reload for every live auto-reload whose latest attempt was skipped for the monthly cap in an
    earlier UTC month and whose balance is still below its threshold; how many were queued.

    Run by the sweep (billing.tasks.auto_reload_sweep). Each account is re-checked under its row lock, the
    lock a debit takes, so a debit and the sweep never both queue; once queued, the latest attempt is no
    longer the skip, so later sweeps leave it alone.
    """
    now = now or timezone.now()
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    latest = AutoReloadAttempt.objects.filter(auto_reload=OuterRef("pk")).order_by("-created_at", "-pk")
    candidates = (
        AutoReload.objects.filter(enabled=True, paused_at__isnull=True, threshold__isnull=False)
        .filter(Q(organization__credits_balance__lt=F("threshold")) | Q(agency__minutes_balance__lt=F("threshold")))
        .annotate(
            last_status=Subquery(latest.values("status")[:1]), last_finished=Subquery(latest.values("finished_at")[:1])
        )
        .filter(last_status=AutoReloadAttempt.Status.SKIPPED_CAP, last_finished__lt=start)
    )
    return sum(_rollover_one(pk, start=start) for pk in candidates.values_list("pk", flat=True))


def _rollover_one(pk: int, *, start: datetime) -> int:
    with transaction.atomic():
        owner = AutoReload.objects.filter(pk=pk).values("organization_id", "agency_id").first()
        if owner is None:
            return 0
        if owner["organization_id"] is not None:
            accounts = Organization.objects.select_for_update(no_key=True).filter(pk=owner["organization_id"])
            balance = accounts.values_list("credits_balance", flat=True).first()
        else:
            accounts = Agency.objects.select_for_update(no_key=True).filter(pk=owner["agency_id"])
            balance = accounts.values_list("minutes_balance", flat=True).first()
        row = AutoReload.objects.filter(pk=pk, enabled=True, paused_at__isnull=True).first()
        if balance is None or row is None or row.threshold is None or balance >= row.threshold:
            return 0
        last = row.attempts.order_by("-created_at", "-pk").first()
        skipped = AutoReloadAttempt.Status.SKIPPED_CAP
        if last is None or last.status != skipped or last.finished_at is None or last.finished_at >= start:
            return 0
        due = Due(row.organization_id, row.agency_id, row.threshold, int(balance), f"month-start-{start:%Y-%m}")
        return reloads_queue([due])


def _enqueue() -> None:
    from .tasks import auto_reload_queue_due  # the tasks module imports this one

    auto_reload_queue_due()
