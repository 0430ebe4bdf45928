"""Usage sync: the calling platform's call records, each charged exactly once.

One function, `usage_ingest`, serves the push endpoint (POST /api/v1/usage)
and any later pull sync. A batch is applied in one transaction:

1. every record is checked on its own (usage.records); a bad one is rejected
   with its reason and the others go on;
2. the agency row is locked, then its clients' rows in id order (the ledger's
   lock order), so concurrent batches of one agency queue up and cannot
   deadlock, and whatever an earlier batch wrote is visible once we hold it;
3. under those locks, records already stored are duplicates (same content)
   or conflicts (different content); so are repeats inside the batch;
4. the new records are inserted in bulk, their ledger entries (client and
   agency, reference `usage:<record id>`) in bulk, and each balance moves by
   one conditional UPDATE (billing.ledger.paired_debits_post);
5. the day's rollups (usage.rollups) grow by the new records' sums: one
   upsert for every organization, day and number the batch touched;
6. reservations named by the records are settled, releasing what they held.

Records are checked so that nothing the database or its driver would refuse
reaches it. Should one get through anyway (or an old row fail to load), the
batch is not lost: it is applied again record by record, each in its own
savepoint, and the one the database refuses is rejected. Only that rare path
costs extra round trips.

A call that happened is never refused: a charge may take a balance below
zero, and the record is then marked overdraft.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from django.db import DataError, transaction
from django.utils import timezone
from psycopg import DataError as DriverDataError  # raised while loading a row, outside Django's wrapping

from billing import ledger
from core import db

from .models import Reservation, UsageRecord
from .records import Incoming, Rejected, record_check
from .rollups import rollups_add

logger = logging.getLogger(__name__)
MAX_BATCH = 1000
APPLIED, DUPLICATE, CONFLICT, REJECTED = "applied", "duplicate", "conflict", "rejected"
# A value the database or its driver cannot store or load: one record's fault, never the batch's.
RECORD_ERRORS = (DataError, DriverDataError, OverflowError, UnicodeError)


@dataclass(frozen=True, slots=True)
class Outcome:
    index: int
    record_id: str | None
    status: str
    minutes: int | None = None
    overdraft: bool = False
    code: str | None = None
    reason: str | None = None

    def as_json(self) -> dict:
        data = {"index": self.index, "id": self.record_id, "status": self.status}
        if self.status == APPLIED:
            data["minutes"] = self.minutes
            data["overdraft"] = self.overdraft
        elif self.status != DUPLICATE:
            data["code"] = self.code
            data["reason"] = self.reason
        return data


def reference_for(record_id: str) -> str:
    """The ledger reference of a record's charge, on the client and on the agency."""
    return f"usage:{record_id}"


def _rejected(rejection: Rejected) -> Outcome:
    return Outcome(rejection.index, rejection.record_id, REJECTED, code=rejection.code, reason=rejection.reason)


def _conflict(record: Incoming) -> Outcome:
    return Outcome(
        record.index,
        record.record_id,
        CONFLICT,
        code="conflict",
        reason="a record with this id was already received with different content",
    )


def usage_ingest(*, agency_id: int, records: Sequence) -> list[Outcome]:
    """Apply a batch of raw records (parsed JSON) for an agency; one Outcome per record, in order."""
    if len(records) > MAX_BATCH:
        raise ValueError(f"a batch holds at most {MAX_BATCH} records")
    now = timezone.now()
    outcomes: list[Outcome | None] = [None] * len(records)
    first: dict[str, Incoming] = {}  # record id -> its first well-formed occurrence
    repeats: list[Incoming] = []
    for index, raw in enumerate(records):
        checked = record_check(index, raw, now)
        if isinstance(checked, Rejected):
            outcomes[index] = _rejected(checked)
        elif checked.record_id in first:
            repeats.append(checked)
        else:
            first[checked.record_id] = checked
    if first:
        try:
            with transaction.atomic():
                _apply(agency_id, list(first.values()), outcomes, now)
        except RECORD_ERRORS:
            logger.warning(
                "Agency %s: the database refused a record; applying the batch one by one", agency_id, exc_info=True
            )
            _apply_one_by_one(agency_id, list(first.values()), outcomes, now)
    for record in repeats:
        # A repeat inside the batch shares its first occurrence's fate, unless it differs.
        earlier = first[record.record_id]
        fate = outcomes[earlier.index]
        assert fate is not None  # _apply gave every first occurrence its outcome
        if record.content() != earlier.content():
            outcomes[record.index] = _conflict(record)
        elif fate.status in (APPLIED, DUPLICATE):
            outcomes[record.index] = Outcome(record.index, record.record_id, DUPLICATE)
        else:
            outcomes[record.index] = Outcome(
                record.index, record.record_id, fate.status, code=fate.code, reason=fate.reason
            )
    return cast(list[Outcome], outcomes)  # every index holds an outcome by now


def _apply_one_by_one(agency_id: int, candidates: list[Incoming], outcomes: list, now) -> None:
    """The safety net: each record in its own savepoint, so the one the database refuses is the only one lost."""
    for record in candidates:
        try:
            with transaction.atomic():
                _apply(agency_id, [record], outcomes, now)
        except RECORD_ERRORS:
            outcomes[record.index] = Outcome(
                record.index,
                record.record_id,
                REJECTED,
                code="invalid_record",
                reason="the database cannot store this record, or an earlier one with this id",
            )


# The fields Incoming.content() compares, as UsageRecord fields.
CONTENT_FIELDS = ("organization", "duration_sec", "created_at", "number_id", "direction", "reservation")


def _stored(agency_id: int, record_ids: list[str]) -> dict[str, tuple]:
    """The content of records the agency already sent, by record id (plain SQL: every sync runs it)."""
    columns = ", ".join(db.column(UsageRecord, field) for field in ("record_id", *CONTENT_FIELDS))
    with db.hot_cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {db.table(UsageRecord)} WHERE {db.column(UsageRecord, 'agency')} = %s "
            f"AND {db.column(UsageRecord, 'record_id')} IN ({db.placeholders(len(record_ids))})",
            [agency_id, *record_ids],
        )
        rows = cursor.fetchall()
    return {
        row[0]: tuple(db.from_db(UsageRecord, field, value) for field, value in zip(CONTENT_FIELDS, row[1:]))
        for row in rows
    }


def _apply(agency_id: int, candidates: list[Incoming], outcomes: list, now) -> None:
    """Steps 2-6 of the module docstring, inside the caller's transaction."""
    locked = ledger.accounts_lock(agency_id=agency_id, organization_ids={r.organization_id for r in candidates})
    stored = _stored(agency_id, [r.record_id for r in candidates])
    wanted = {r.reservation_id for r in candidates if r.reservation_id is not None}
    reservations = (
        dict(Reservation.objects.filter(pk__in=wanted).values_list("pk", "organization_id")) if wanted else {}
    )

    new: list[Incoming] = []
    for record in candidates:
        if record.record_id in stored:
            same = stored[record.record_id] == record.content()
            outcomes[record.index] = Outcome(record.index, record.record_id, DUPLICATE) if same else _conflict(record)
        elif record.organization_id not in locked.organization_balances:
            outcomes[record.index] = Outcome(
                record.index,
                record.record_id,
                REJECTED,
                code="unknown_organization",
                reason=f"organization_id {record.organization_id} is not a client of this agency",
            )
        elif record.reservation_id is not None and reservations.get(record.reservation_id) != record.organization_id:
            outcomes[record.index] = Outcome(
                record.index,
                record.record_id,
                REJECTED,
                code="unknown_reservation",
                reason="reservation_id does not name a reservation of this organization",
            )
        else:
            new.append(record)
    if not new:
        return

    charged = [r for r in new if r.minutes > 0]
    postings = ledger.paired_debits_post(
        locked=locked,
        debits=[
            ledger.PairedDebit(r.organization_id, r.minutes, reference_for(r.record_id), f"Call {r.record_id}")
            for r in charged
        ],
    )
    overdrawn = {
        r.record_id
        for r, posting in zip(charged, postings)
        if posting.organization_balance_after < 0 or posting.agency_balance_after < 0
    }
    db.rows_insert(
        model=UsageRecord,
        rows=[
            (
                agency_id,
                r.organization_id,
                r.record_id,
                r.duration_sec,
                r.minutes,
                r.created_at,
                r.number_id,
                r.direction,
                r.reservation_id,
                r.record_id in overdrawn,
                now,
            )
            for r in new
        ],
        fields=[
            "agency",
            "organization",
            "record_id",
            "duration_sec",
            "minutes",
            "created_at",
            "number_id",
            "direction",
            "reservation",
            "overdraft",
            "received_at",
        ],
    )
    rollups_add(agency_id=agency_id, records=new)  # only what was applied: never duplicates or refusals
    settled = {r.reservation_id for r in new if r.reservation_id is not None}
    if settled:
        # Charged at the real minutes above; whatever the reservation held beyond them is free again.
        Reservation.objects.filter(pk__in=settled, status=Reservation.Status.ACTIVE).update(
            status=Reservation.Status.SETTLED,
            closed_at=now,
        )
    for record in new:
        outcomes[record.index] = Outcome(
            record.index, record.record_id, APPLIED, minutes=record.minutes, overdraft=record.record_id in overdrawn
        )
