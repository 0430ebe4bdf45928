"""core.db, the plain-SQL helpers of the usage hot path: the parts the callers rely on."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from agencies.models import Agency
from core import db

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.django_db
def test_a_nested_cursor_leaves_the_outer_ones_results_alone(make_agency):
    first, second = make_agency(), make_agency()
    with db.hot_cursor() as outer:
        outer.execute(f"SELECT id FROM {db.table(Agency)} WHERE id IN (%s, %s) ORDER BY id", [first.pk, second.pk])
        assert outer.fetchone() == (first.pk,)
        with db.hot_cursor() as inner:
            assert inner is not outer
            assert inner.execute(f"SELECT id FROM {db.table(Agency)} WHERE id = %s", [second.pk]).fetchall() == [
                (second.pk,)
            ]
        assert outer.fetchone() == (second.pk,)


@pytest.mark.django_db
def test_a_balance_that_moved_since_it_was_locked_aborts_the_swap(make_agency):
    agency = make_agency()
    with pytest.raises(RuntimeError, match="moved while locked"), transaction.atomic():
        db.balances_swap(model=Agency, field="minutes_balance", changes={agency.pk: (5, 10)})  # it is 0, not 5
    agency.refresh_from_db()
    assert agency.minutes_balance == 0


@pytest.mark.django_db(transaction=True)
def test_first_read_lets_a_bad_query_fail_without_reconnecting(make_agency):
    make_agency()
    connection.close_if_unusable_or_obsolete()  # a request starts
    with pytest.raises(DatabaseError):
        db.first_read("SELECT no_such_column FROM agencies_agency")
    assert db.first_read(f"SELECT count(*) FROM {db.table(Agency)}") == [(1,)]


# --- It behaves like the rest of Django ---------------------------------------------------------


@pytest.mark.django_db
def test_hot_statements_reach_execute_wrappers_and_the_captured_queries(make_agency):
    agency = make_agency()
    seen = []

    def spy(execute, sql, params, many, context):
        seen.append((sql, list(params)))
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(spy):
        rows = db.first_read(f"SELECT id FROM {db.table(Agency)} WHERE id = %s", [agency.pk])
        db.balances_swap(model=Agency, field="minutes_balance", changes={agency.pk: (0, 0)})

    assert rows == [(agency.pk,)]
    assert [sql.split()[0] for sql, _ in seen] == ["SELECT", "UPDATE"]
    assert seen[0][1] == [agency.pk]
    logged = [query["sql"] for query in captured.captured_queries]
    assert [sql.split()[0] for sql in logged] == ["SELECT", "UPDATE"]
    assert logged[0].endswith(f"WHERE id = {agency.pk}")  # with its parameters, as Django logs its own


@pytest.mark.django_db
def test_an_execute_wrapper_can_veto_a_hot_statement(make_agency):
    agency = make_agency()

    def refuse(execute, sql, params, many, context):
        raise DatabaseError("refused by the wrapper")

    with connection.execute_wrapper(refuse), pytest.raises(DatabaseError, match="refused"):
        db.balances_swap(model=Agency, field="minutes_balance", changes={agency.pk: (0, 7)})
    agency.refresh_from_db()
    assert agency.minutes_balance == 0


@pytest.mark.django_db
def test_the_hot_path_adds_no_attribute_to_djangos_connection(make_agency):
    agency = make_agency()
    connection.ensure_connection()
    before = set(vars(connection))
    for _ in range(2):
        db.first_read(f"SELECT id FROM {db.table(Agency)} WHERE id = %s", [agency.pk])
        db.balances_swap(model=Agency, field="minutes_balance", changes={agency.pk: (0, 0)})
    assert set(vars(connection)) - before == set()


@pytest.mark.postgres
@pytest.mark.django_db
def test_copy_is_one_statement_to_the_wrappers_and_the_query_log():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE hot_copy_probe (n integer)")
    seen = []

    def spy(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(spy), db.hot_cursor() as cursor:
        cursor.copy_rows("hot_copy_probe (n)", [(n,) for n in range(25)])
    assert seen == ["COPY hot_copy_probe (n) FROM STDIN"]
    assert [query["sql"] for query in captured.captured_queries] == seen
    assert db.first_read("SELECT count(*), sum(n) FROM hot_copy_probe") == [(25, sum(range(25)))]


# --- Statement preparation, and switching it off for PgBouncer ------------------------------------

PREPARED_AFTER_HOT_READS = """
import django
django.setup()
from django.db import connection
from core import db
for n in range(3):
    assert db.first_read("SELECT %s::int + 1", [n]) == [(n + 1,)]
with connection.cursor() as cursor:
    cursor.execute("SELECT count(*) FROM pg_prepared_statements")
    print(cursor.fetchone()[0])
"""


def _prepared_statements_after_hot_reads(**environ) -> int:
    settings_dict = connection.settings_dict
    url = f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/{settings_dict['NAME']}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", "DATABASE_URL": url, **environ}
    done = subprocess.run(
        [sys.executable, "-c", PREPARED_AFTER_HOT_READS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


@pytest.mark.postgres
@pytest.mark.django_db
def test_hot_statements_are_prepared_on_the_server_by_default():
    assert _prepared_statements_after_hot_reads() == 1


@pytest.mark.postgres
@pytest.mark.django_db
def test_database_prepare_0_prepares_nothing_for_pgbouncer_in_transaction_mode():
    assert _prepared_statements_after_hot_reads(DATABASE_PREPARE="0") == 0
