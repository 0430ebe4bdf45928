"""Low-balance crossings: the ledger notices them, ops tells people about them.

A balance *crosses* its account's threshold T (Organization/Agency
`low_balance_threshold`) when one debit takes it from T or more to below T.
Further debits while below T cross nothing; a credit that brings the balance
back to T or more arms it again, so the next debit below T is a new crossing.

The ledger works crossings out from the balance before and after each debit,
under the account's row lock, inside the transaction that writes the debit
(the threshold comes with that lock: billing.ledger reads it in the same
statement). Two concurrent debits queue on the lock and exactly one of them
sees "before >= T > after". The BalanceCrossing row commits or rolls back with
the debit. Billing stops there: ops, a layer above, takes new crossings and
sends the email and webhook (ops.alerts.crossings_deliver).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils import timezone

from agencies.models import Agency, Organization
from core import db

from .models import BalanceCrossing, LedgerEntry


@dataclass(frozen=True)
class Drop:
    """One account's balance going down in one transaction: `before`, then the balance after each debit."""

    organization_id: int | None
    agency_id: int | None
    threshold: int | None
    before: int
    steps: Sequence[tuple[str, int]]  # (ledger reference, balance after), in posting order


def _crossing(drop: Drop) -> tuple[str, int, int] | None:
    """(reference, balance before, balance after) of the step that took the balance from at or
    above the threshold to below it, if one did."""
    if drop.threshold is None:
        return None
    previous = drop.before
    for reference, after in drop.steps:
        if previous >= drop.threshold > after:
            return reference, previous, after
        previous = after
    return None


def crossings_record(drops: Sequence[Drop]) -> int:
    """Record a BalanceCrossing for each drop that crosses its threshold; how many were recorded.

    Call inside the transaction that posts the debits, with the accounts locked. One INSERT for
    all of them, and none when nothing crossed (plain SQL: the usage sync's hot path runs this).
    """
    now = timezone.now()
    rows = []
    for drop in drops:
        crossed = _crossing(drop)
        if crossed is not None:
            reference, before, after = crossed
            rows.append((drop.organization_id, drop.agency_id, drop.threshold, before, after, reference[:200], now))
    db.rows_insert(
        model=BalanceCrossing,
        rows=rows,
        fields=[
            "organization",
            "agency",
            "threshold",
            "balance_before",
            "balance_after",
            "reference",
            "created_at",
        ],
    )
    return len(rows)


def account_drop(
    *,
    organization: Organization | None,
    agency: Agency | None,
    threshold: int | None,
    before: int,
    reference: str,
    after: int,
) -> Drop:
    """The Drop of one debit on one account (billing.ledger.entry_post)."""
    return Drop(
        organization.pk if organization is not None else None,
        agency.pk if agency is not None else None,
        threshold,
        before,
        [(reference, after)],
    )


def exhaustion_record(*, agency_id: int, balance: int, free: int) -> BalanceCrossing | None:
    """Record that a call was refused for lack of the agency's minutes, once per exhaustion episode.

    An episode is named after the agency's latest credit (minutes bought or added): every refusal
    until the next credit belongs to it, and the unique (agency, reference) constraint lets it be
    recorded once. Call with the agency's row locked (billing.ledger.accounts_lock), in a
    transaction that commits although the call is refused: concurrent refusals queue on that lock
    and the first one records the crossing the others then see. None when this episode's is recorded.
    """
    last_credit = (
        LedgerEntry.objects.filter(agency_id=agency_id, amount__gt=0)
        .order_by("-created_at", "-pk")
        .values_list("pk", flat=True)
        .first()
    )
    reference = f"minutes-exhausted:after-entry-{last_credit or 0}"
    if BalanceCrossing.objects.filter(agency_id=agency_id, reference=reference).exists():
        return None
    return BalanceCrossing.objects.create(
        agency_id=agency_id,
        kind=BalanceCrossing.Kind.EXHAUSTED,
        threshold=1,  # a call needs one free minute
        balance_before=balance,
        balance_after=free,
        reference=reference,
    )
