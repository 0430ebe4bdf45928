"""A single-record usage sync costs 11 database round trips on PostgreSQL, and every statement is Django-visible.

The floor (bench/README.md) was 9: BEGIN, lock the agency, lock the client, look
for an earlier record, insert the ledger entries, move each balance, insert the
record, COMMIT. The daily rollups add one: a single upsert statement for the three
rollup tables, whatever the batch touched (usage.rollups). The eleventh is the
API-key lookup, which doubles as the connection health check
(core.db.first_read), so no `SELECT 1` goes first.
"""

import tempfile

import pytest
from django.db import connection

from tests.usage.conftest import record

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

STATEMENTS = [
    "SELECT k.id",  # the API key (and the health check)
    'SELECT "minutes_balance", "low_balance_threshold"',  # lock the agency, with its alert threshold
    'SELECT id, "credits_balance", "low_balance_threshold"',  # lock the client, with its alert threshold
    'SELECT "record_id"',  # records already applied
    'INSERT INTO "billing_ledgerentry"',
    'UPDATE "agencies_agency"',
    'UPDATE "agencies_organization"',
    'INSERT INTO "usage_usagerecord"',
    'WITH day_rollup AS (INSERT INTO "usage_usageday"',  # the day's rollups, all three tables in one statement
]


def _round_trips(trace: str) -> int:
    # The server ends every answer to a request with ReadyForQuery: one per round trip.
    return sum(1 for line in trace.splitlines() if line.split("\t")[:1] == ["B"] and "ReadyForQuery" in line)


def test_a_single_record_sync_is_nine_statements_and_eleven_round_trips(api, org, agency_key):
    from psycopg import pq

    # A first request connects and prepares the statements; the next request on that connection is measured.
    assert api.post("usage", record(org), key=agency_key).status_code == 201
    connection.close_if_unusable_or_obsolete()  # a request starts: the health check is due again
    seen = []

    def spy(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    pgconn = connection.connection.pgconn
    with tempfile.TemporaryFile("w+") as trace, connection.execute_wrapper(spy):
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            response = api.post("usage", record(org), key=agency_key)
        finally:
            pgconn.untrace()
        trace.seek(0)
        protocol = trace.read()

    assert response.status_code == 201, response.content
    assert [next((s for s in STATEMENTS if sql.startswith(s)), sql) for sql in seen] == STATEMENTS
    assert _round_trips(protocol) == 11, protocol
    simple_queries = [
        line.split("\t")[-1].strip() for line in protocol.splitlines() if line.startswith("F\t") and "\tQuery\t" in line
    ]
    assert simple_queries == ['"BEGIN"', '"COMMIT"']  # no `SELECT 1` health check
    assert "\tParse\t" not in protocol  # all nine ran as statements prepared by the first request
