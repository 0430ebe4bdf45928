"""Each reported call writes a usage record and two ledger entries, so each index on them costs every call.

billing 0015 and usage 0005 dropped the single-column indexes that composite ones already lead with, and
index the foreign keys that usage rows leave empty (actor, purchase, reservation) only where set. These
tests pin what that must keep: the lookups Django makes through those keys (a purchase's entries, a
reservation's records, the PROTECT and SET_NULL checks on delete) still find an index.
"""

import pytest
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _plan(sql: str, params: list) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the tables are tiny here: ask whether an index *can* serve
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _indexes(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return dict(cursor.fetchall())


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        ('SELECT 1 FROM "billing_ledgerentry" WHERE "purchase_id" = %s', "ledger_purchase"),
        ('SELECT 1 FROM "billing_ledgerentry" WHERE "purchase_id" IN (%s, 7)', "ledger_purchase"),
        ('SELECT 1 FROM "billing_ledgerentry" WHERE "actor_id" IN (%s)', "ledger_actor"),
        ('SELECT 1 FROM "billing_ledgerentry" WHERE "organization_id" IN (%s)', "ledger_org_recent"),
        ('SELECT 1 FROM "billing_ledgerentry" WHERE "agency_id" = %s', "ledger_agency_recent"),
        ('SELECT 1 FROM "usage_usagerecord" WHERE "reservation_id" IN (%s::uuid)', "usage_record_reservation"),
        ('SELECT 1 FROM "usage_usagerecord" WHERE "organization_id" = %s', "usage_org_time"),
        ('SELECT 1 FROM "usage_usageday" WHERE "agency_id" = %s', "usage_day_agency"),
        ('SELECT 1 FROM "usage_usagedaynumber" WHERE "organization_id" = %s', "usage_day_number_unique"),
    ],
)
def test_the_lookups_through_the_keys_still_use_an_index(sql, index):
    assert index in _plan(sql, ["00000000-0000-0000-0000-000000000003" if "uuid" in sql else 3])


def test_usage_rows_are_left_out_of_the_partial_indexes():
    ledger = _indexes("billing_ledgerentry")
    assert "WHERE (actor_id IS NOT NULL)" in ledger["ledger_actor"]
    assert "WHERE (purchase_id IS NOT NULL)" in ledger["ledger_purchase"]
    assert "WHERE (reservation_id IS NOT NULL)" in _indexes("usage_usagerecord")["usage_record_reservation"]


def test_no_single_column_index_repeats_a_composite_one():
    for table in ["billing_ledgerentry", "usage_usagerecord", "usage_usageday", "usage_usagedaynumber"]:
        columns = {}
        for name, definition in _indexes(table).items():
            columns.setdefault(definition.split("(", 1)[1].split(")")[0], []).append(name)
        for single in ["organization_id", "agency_id"]:
            assert single not in columns, (table, columns[single])
