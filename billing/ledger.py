"""The ledger: the only code that changes a balance.

Every change is a LedgerEntry written in the same transaction as the balance
column it moves, so a balance always equals the sum of its entries. Writes are
idempotent by (account, reference): a repeated reference changes nothing.

Locking: a write locks the account row (SELECT ... FOR UPDATE) before it looks
for the reference, so concurrent writers of one account queue up and the
second sees the first's entry. Code that moves an agency and one of its
clients together locks the agency first, then the client, always in that
order, so two such writers cannot deadlock.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Sum

from agencies.models import Agency, Organization

from .models import LedgerEntry

Kind = LedgerEntry.Kind


class InsufficientBalance(Exception):
    """A debit that must not take the balance below zero would have."""

    def __init__(self, balance: int, amount: int):
        self.balance = balance
        self.amount = amount
        super().__init__(f"Balance {balance} cannot cover {amount}.")


@dataclass(frozen=True)
class Posted:
    entry: LedgerEntry
    created: bool  # False: the reference was already on the ledger; nothing changed


def _account(organization: Organization | None, agency: Agency | None):
    if (organization is None) == (agency is None):
        raise ValueError("A ledger entry names exactly one account: an organization or an agency.")
    if organization is not None:
        return Organization, organization.pk, "credits_balance", {"organization_id": organization.pk}
    return Agency, agency.pk, "minutes_balance", {"agency_id": agency.pk}


def entry_post(
    *,
    amount: int,
    kind: str,
    reference: str,
    description: str = "",
    organization: Organization | None = None,
    agency: Agency | None = None,
    actor=None,
    allow_negative: bool = True,
) -> Posted:
    """Move one account's balance by `amount` (signed, whole units) exactly once.

    With allow_negative=False a debit that would take the balance below zero
    raises InsufficientBalance and changes nothing.
    """
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise ValueError("amount must be a non-zero integer")
    model, pk, column, owner = _account(organization, agency)
    with transaction.atomic():
        balance = model.objects.select_for_update().values_list(column, flat=True).get(pk=pk)
        existing = LedgerEntry.objects.filter(reference=reference, **owner).first()
        if existing is not None:
            return Posted(existing, created=False)
        if not allow_negative and amount < 0 and balance + amount < 0:
            raise InsufficientBalance(balance, -amount)
        model.objects.filter(pk=pk).update(**{column: F(column) + amount})
        entry = LedgerEntry.objects.create(
            amount=amount, kind=kind, reference=reference, description=description[:300],
            balance_after=balance + amount, actor=actor, **owner,
        )
    return Posted(entry, created=True)


def credits_allocate(*, organization: Organization, amount: int, description: str, actor, reference: str) -> Posted:
    """An agency admin grants credits by hand."""
    return entry_post(organization=organization, amount=amount, kind=Kind.ALLOCATION,
                      reference=reference, description=description, actor=actor)


def credits_deduct(*, organization: Organization, amount: int, description: str, actor, reference: str) -> Posted:
    """An agency admin takes credits back by hand; never below zero."""
    return entry_post(organization=organization, amount=-amount, kind=Kind.DEDUCTION,
                      reference=reference, description=description, actor=actor, allow_negative=False)


@dataclass(frozen=True)
class Mismatch:
    account: str
    balance: int
    entries_sum: int


def balances_check() -> list[Mismatch]:
    """Every account whose balance column differs from the sum of its entries."""
    org_sums = dict(
        LedgerEntry.objects.filter(organization__isnull=False)
        .values_list("organization").annotate(total=Sum("amount")).values_list("organization", "total")
    )
    agency_sums = dict(
        LedgerEntry.objects.filter(agency__isnull=False)
        .values_list("agency").annotate(total=Sum("amount")).values_list("agency", "total")
    )
    problems = []
    for pk, name, balance in Organization.objects.values_list("pk", "name", "credits_balance"):
        if balance != org_sums.get(pk, 0):
            problems.append(Mismatch(f"organization {pk} ({name})", balance, org_sums.get(pk, 0)))
    for pk, name, balance in Agency.objects.values_list("pk", "company_name", "minutes_balance"):
        if balance != agency_sums.get(pk, 0):
            problems.append(Mismatch(f"agency {pk} ({name})", balance, agency_sums.get(pk, 0)))
    return problems
