"""The ledger: the only code that changes a balance.

Every change is a LedgerEntry written in the same transaction as the balance
column it moves, so a balance always equals the sum of its entries. Writes are
idempotent by (account, reference): a repeated reference changes nothing. The
database holds references unique per account, except usage entries', which
are unique through their usage record (see paired_debits_post).

Locking: a write locks the account row (SELECT ... FOR NO KEY UPDATE) before
it looks for the reference, so concurrent writers of one account queue up and
the second sees the first's entry. Code that moves an agency and one of its
clients together locks the agency first, then the client, always in that
order, so two such writers cannot deadlock. The lock is NO KEY UPDATE, not
UPDATE: it excludes the other writers of the balance just the same, but an
insert that refers to the locked row (a foreign key check takes KEY SHARE)
does not wait for it. With FOR UPDATE, a purchase credit holding its client
(then inserting its invoice, which refers to the agency) and a usage sync
holding the agency (then locking that client) deadlocked.
"""

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from agencies import roles
from agencies.audit import audit_record
from agencies.models import Agency, Organization
from core import db

from . import crossings, reload_queue
from .models import LedgerEntry, Purchase

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
    assert agency is not None  # exactly one of the two, checked above
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
    purchase=None,
) -> Posted:
    """Move one account's balance by `amount` (signed, whole units) exactly once.

    With allow_negative=False a debit that would take the balance below zero
    raises InsufficientBalance and changes nothing. `purchase` ties an entry
    to the Checkout purchase it credits or takes back (see purchases_check).
    """
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise ValueError("amount must be a non-zero integer")
    model, pk, column, owner = _account(organization, agency)
    with transaction.atomic():
        # The alert threshold comes with the lock: a debit below it records the crossing (billing.crossings),
        # and so does the auto-reload's: a debit below that queues one reload (billing.reload_queue).
        owner_field = "organization" if organization is not None else "agency"
        balance, threshold, reload_threshold, reload_armed = (
            model.objects.select_for_update(no_key=True)
            .annotate(**reload_queue.lock_annotations(owner_field))
            .values_list(column, "low_balance_threshold", "reload_threshold", "reload_armed")
            .get(pk=pk)
        )
        # Usage references are unique through their usage record, not indexed here (LedgerEntry.Meta);
        # every other kind's lookup names the kinds its unique index covers, so the index serves it.
        entries = LedgerEntry.objects.filter(reference=reference, **owner)
        entries = entries.filter(kind=Kind.USAGE) if kind == Kind.USAGE else entries.exclude(kind=Kind.USAGE)
        existing = next(iter(entries.order_by()[:1]), None)  # no ORDER BY: the unique index answers
        if existing is not None:
            return Posted(existing, created=False)
        if not allow_negative and amount < 0 and balance + amount < 0:
            raise InsufficientBalance(balance, -amount)
        model.objects.filter(pk=pk).update(**{column: F(column) + amount})
        entry = LedgerEntry.objects.create(
            amount=amount,
            kind=kind,
            reference=reference,
            description=description[:300],
            balance_after=balance + amount,
            actor=actor,
            purchase=purchase,
            **owner,
        )
        if amount < 0 and threshold is not None:  # under the row lock: exactly one debit sees the crossing
            crossings.crossings_record(
                [
                    crossings.account_drop(
                        organization=organization,
                        agency=agency,
                        threshold=threshold,
                        before=balance,
                        reference=reference,
                        after=balance + amount,
                    )
                ]
            )
        if amount < 0 and reload_threshold is not None:
            reload_due = reload_queue.due(
                setting=reload_queue.setting(reload_threshold, reload_armed),
                organization_id=organization.pk if organization is not None else None,
                agency_id=agency.pk if agency is not None else None,
                before=balance,
                steps=[(reference, balance + amount)],
            )
            if reload_due is not None:
                reload_queue.reloads_queue([reload_due])
    return Posted(entry, created=True)


def _audited(action: str, *, agency_id: int, organization: Organization | None, actor, post) -> Posted:
    """Post (a callable returning Posted) and, when it wrote an entry, log it in the same transaction."""
    with transaction.atomic():
        posted = post()
        if posted.created:
            entry = posted.entry
            audit_record(
                actor=actor,
                action=action,
                agency_id=agency_id,
                organization_id=organization.pk if organization is not None else None,
                obj=entry,
                object_repr=entry.description or entry.reference,
                changes={"balance": [entry.balance_after - entry.amount, entry.balance_after]},
            )
    return posted


def credits_allocate(*, organization: Organization, amount: int, description: str, actor, reference: str) -> Posted:
    """An agency admin grants credits by hand."""
    roles.require_actor(actor, agency="clients")
    return _audited(
        "client.allocate",
        agency_id=organization.agency_id,
        organization=organization,
        actor=actor,
        post=lambda: entry_post(
            organization=organization,
            amount=amount,
            kind=Kind.ALLOCATION,
            reference=reference,
            description=description,
            actor=actor,
        ),
    )


def credits_deduct(*, organization: Organization, amount: int, description: str, actor, reference: str) -> Posted:
    """An agency admin takes credits back by hand; never below zero."""
    roles.require_actor(actor, agency="clients")
    return _audited(
        "client.deduct",
        agency_id=organization.agency_id,
        organization=organization,
        actor=actor,
        post=lambda: entry_post(
            organization=organization,
            amount=-amount,
            kind=Kind.DEDUCTION,
            reference=reference,
            description=description,
            actor=actor,
            allow_negative=False,
        ),
    )


@dataclass(frozen=True)
class Mismatch:
    account: str
    balance: int
    entries_sum: int


def balances_check() -> list[Mismatch]:
    """Every account whose balance column differs from the sum of its entries."""
    org_sums = dict(
        LedgerEntry.objects.filter(organization__isnull=False)
        .values_list("organization")
        .annotate(total=Sum("amount"))
        .values_list("organization", "total")
    )
    agency_sums = dict(
        LedgerEntry.objects.filter(agency__isnull=False)
        .values_list("agency")
        .annotate(total=Sum("amount"))
        .values_list("agency", "total")
    )
    problems = []
    for pk, name, balance in Organization.objects.values_list("pk", "name", "credits_balance"):
        if balance != org_sums.get(pk, 0):
            problems.append(Mismatch(f"organization {pk} ({name})", balance, org_sums.get(pk, 0)))
    for pk, name, balance in Agency.objects.values_list("pk", "company_name", "minutes_balance"):
        if balance != agency_sums.get(pk, 0):
            problems.append(Mismatch(f"agency {pk} ({name})", balance, agency_sums.get(pk, 0)))
    return problems


def purchases_check() -> list[Mismatch]:
    """Every purchase whose ledger entries differ from the credits it should hold.

    A fulfilled Checkout session holds its credits minus what refunds and open
    or lost disputes took back; an unfulfilled one holds nothing. The entries
    must also sit on the purchase's own account: its organization, or for
    minutes bought from the platform, its agency.
    """
    sums = dict(
        LedgerEntry.objects.filter(purchase__isnull=False)
        .values_list("purchase")
        .annotate(total=Sum("amount"))
        .values_list("purchase", "total")
    )
    # A client's purchase moves that client's credits; a minute purchase its agency's minutes.
    off_client = Q(purchase__organization__isnull=False) & (
        Q(organization__isnull=True) | ~Q(organization=F("purchase__organization"))
    )
    off_agency = Q(purchase__organization__isnull=True) & (Q(agency__isnull=True) | ~Q(agency=F("purchase__agency")))
    misplaced = set(
        LedgerEntry.objects.filter(purchase__isnull=False)
        .filter(off_client | off_agency)
        .values_list("purchase", flat=True)
    )
    problems = []
    for purchase in Purchase.objects.only(
        "pk",
        "credits",
        "credits_refunded",
        "credits_disputed",
        "fulfilled_at",
        "organization_id",
        "agency_id",
    ).iterator():
        total = sums.get(purchase.pk, 0)
        if total != purchase.credits_kept or purchase.pk in misplaced:
            owner = (
                f"agency {purchase.agency_id}, minutes"
                if purchase.is_minutes
                else f"organization {purchase.organization_id}"
            )
            problems.append(Mismatch(f"purchase {purchase.pk} ({owner})", purchase.credits_kept, total))
    return problems


def purchase_totals() -> tuple[int, int]:
    """(credits fulfilled Checkout sessions hold after refunds and disputes, credits purchase entries add up to)."""
    expected = sum(
        p.credits_kept
        for p in Purchase.objects.filter(fulfilled_at__isnull=False)
        .only("credits", "credits_refunded", "credits_disputed", "fulfilled_at")
        .iterator()
    )
    posted = LedgerEntry.objects.filter(purchase__isnull=False).aggregate(total=Sum("amount"))["total"] or 0
    return expected, posted


# --- Agency minutes and paired usage debits ------------------------------------
# Added for usage (issue 4). entry_post stays the way to move one balance; the
# functions below move an agency and its clients together, in bulk, under the
# same rules: agency locked first, then clients in id order; one entry per
# account and reference; balance_after right for every entry. They are the
# usage sync's hot path, so they speak plain SQL (core.db) instead of
# compiling ORM queries per request.


def minutes_add(*, agency: Agency, amount: int, description: str, actor, reference: str) -> Posted:
    """The platform operator adds minutes an agency bought (or, negative, takes some back).

    A removal never takes the balance below zero.
    """
    kind = Kind.ALLOCATION if amount > 0 else Kind.ADJUSTMENT
    return _audited(
        "minutes.add" if amount > 0 else "minutes.remove",
        agency_id=agency.pk,
        organization=None,
        actor=actor,
        post=lambda: entry_post(
            agency=agency,
            amount=amount,
            kind=kind,
            reference=reference,
            description=description,
            actor=actor,
            allow_negative=amount > 0,
        ),
    )


@dataclass(frozen=True)
class LockedAccounts:
    """Balances read under row locks; good only inside the transaction that took them.

    Each account's low-balance alert threshold (None: no alert) is a column of
    the locked row, read in the same statement, so the debits posted under
    these locks can tell a crossing without another round trip (billing.crossings).
    """

    agency_id: int
    agency_balance: int
    organization_balances: dict[int, int]  # only clients of agency_id
    agency_threshold: int | None = None
    organization_thresholds: dict[int, int | None] = field(default_factory=dict)
    # Each account's live auto-reload (billing.reload_queue), read in the same statements.
    agency_reload: reload_queue.Setting | None = None
    organization_reloads: dict[int, reload_queue.Setting | None] = field(default_factory=dict)


def accounts_lock(*, agency_id: int, organization_ids) -> LockedAccounts:
    """Lock the agency row, then those of the named organizations that are its clients.

    Clients are locked in id order, after the agency, so two writers with
    overlapping clients queue up instead of deadlocking. Ids that are not the
    agency's clients are left out. Must run inside transaction.atomic().
    """
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("accounts_lock needs an open transaction")
    ids = sorted(set(organization_ids))
    with db.hot_cursor() as cursor:
        cursor.execute(
            f"SELECT {db.column(Agency, 'minutes_balance')}, {db.column(Agency, 'low_balance_threshold')}"
            f"{reload_queue.lock_columns_sql(account_table=db.table(Agency), owner_column='agency_id')} "
            f"FROM {db.table(Agency)} WHERE id = %s{db.for_update(no_key=True)}",
            [agency_id],
        )
        row = cursor.fetchone()
        if row is None:
            raise Agency.DoesNotExist(f"agency {agency_id}")
        rows = []
        if ids:
            cursor.execute(
                f"SELECT id, {db.column(Organization, 'credits_balance')}, "
                f"{db.column(Organization, 'low_balance_threshold')}"
                f"{reload_queue.lock_columns_sql(account_table=db.table(Organization), owner_column='organization_id')} "
                f"FROM {db.table(Organization)} "
                f"WHERE {db.column(Organization, 'agency')} = %s AND id IN ({db.placeholders(len(ids))}) "
                f"ORDER BY id{db.for_update(no_key=True)}",
                [agency_id, *ids],
            )
            rows = cursor.fetchall()
    return LockedAccounts(
        agency_id,
        row[0],
        {r[0]: r[1] for r in rows},
        agency_threshold=row[1],
        organization_thresholds={r[0]: r[2] for r in rows},
        agency_reload=reload_queue.setting(row[2], row[3]),
        organization_reloads={r[0]: reload_queue.setting(r[3], r[4]) for r in rows},
    )


@dataclass(frozen=True)
class PairedDebit:
    """Take `amount` (> 0) from one client and, equally, from its agency."""

    organization_id: int
    amount: int
    reference: str
    description: str = ""


@dataclass(frozen=True)
class PairedPosting:
    organization_balance_after: int
    agency_balance_after: int


def paired_debits_post(
    *,
    locked: LockedAccounts,
    debits: list[PairedDebit],
    kind: str = Kind.USAGE,
    actor=None,
) -> list[PairedPosting]:
    """Post many client+agency debit pairs in a few statements; one PairedPosting per debit.

    `locked` must come from accounts_lock in the current transaction. Every
    reference must be new to both accounts: the caller checks that under the
    same locks. For usage (the only caller) the usage record inserted in the
    same transaction is what the database holds unique: its (agency,
    record_id) constraint aborts the transaction on a repeat, so the ledger
    keeps no index of its own on usage references (LedgerEntry.Meta). The
    agency's entry of each pair names the client (usage_client). Balances may go negative (usage that
    already happened is never refused). Entries are inserted in bulk, and each
    balance moves by one conditional UPDATE that fails if it changed since it
    was locked.
    """
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("paired_debits_post needs the transaction of accounts_lock")
    agency_balance = locked.agency_balance
    org_balances = dict(locked.organization_balances)
    now = timezone.now()
    actor_id = actor.pk if actor is not None else None
    rows: list[tuple[object, ...]] = []
    postings = []
    for debit in debits:
        if not isinstance(debit.amount, int) or isinstance(debit.amount, bool) or debit.amount <= 0:
            raise ValueError("a paired debit amount must be a positive integer")
        if debit.organization_id not in org_balances:
            raise ValueError(
                f"organization {debit.organization_id} is not a locked client of agency {locked.agency_id}"
            )
        org_balances[debit.organization_id] -= debit.amount
        agency_balance -= debit.amount
        description = debit.description[:300]
        rows.append(
            (
                debit.organization_id,
                None,
                -debit.amount,
                kind,
                debit.reference,
                org_balances[debit.organization_id],
                actor_id,
                description,
                now,
                None,
            )
        )
        usage_client = debit.organization_id if kind == Kind.USAGE else None  # names the call's client
        rows.append(
            (
                None,
                locked.agency_id,
                -debit.amount,
                kind,
                debit.reference,
                agency_balance,
                actor_id,
                description,
                now,
                usage_client,
            )
        )
        postings.append(PairedPosting(org_balances[debit.organization_id], agency_balance))
    if not rows:
        return postings

    db.rows_insert(
        model=LedgerEntry,
        rows=rows,
        fields=[
            "organization",
            "agency",
            "amount",
            "kind",
            "reference",
            "balance_after",
            "actor",
            "description",
            "created_at",
            "usage_client",
        ],
    )
    db.balances_swap(
        model=Agency, field="minutes_balance", changes={locked.agency_id: (locked.agency_balance, agency_balance)}
    )
    db.balances_swap(
        model=Organization,
        field="credits_balance",
        changes={
            pk: (locked.organization_balances[pk], balance)
            for pk, balance in org_balances.items()
            if balance != locked.organization_balances[pk]
        },
    )
    # Still under the locks: a debit that takes a balance below its alert threshold records the crossing,
    # and one below its auto-reload threshold queues the reload.
    _paired_crossings_record(locked, debits, postings)
    reload_queue.reloads_queue(reload_queue.paired_dues(locked=locked, debits=debits, postings=postings))
    return postings


def _paired_crossings_record(locked: LockedAccounts, debits: list[PairedDebit], postings: list[PairedPosting]) -> None:
    """The crossings of paired_debits_post: the agency and every client it debited that has a threshold.

    The usage sync's hot path: the steps are only worked out for accounts with a threshold.
    """
    thresholds = {pk: limit for pk, limit in locked.organization_thresholds.items() if limit is not None}
    if not thresholds and locked.agency_threshold is None:
        return
    steps: dict[int, list[tuple[str, int]]] = {}
    for debit, posting in zip(debits, postings):
        if debit.organization_id in thresholds:
            steps.setdefault(debit.organization_id, []).append((debit.reference, posting.organization_balance_after))
    drops = [
        crossings.Drop(pk, None, thresholds[pk], locked.organization_balances[pk], org_steps)
        for pk, org_steps in steps.items()
    ]
    if locked.agency_threshold is not None:
        drops.append(
            crossings.Drop(
                None,
                locked.agency_id,
                locked.agency_threshold,
                locked.agency_balance,
                [(d.reference, p.agency_balance_after) for d, p in zip(debits, postings)],
            )
        )
    crossings.crossings_record(drops)
