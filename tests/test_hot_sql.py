"""portal.db, the plain-SQL helpers of the usage hot path: the parts the callers rely on."""

import pytest
from django.db import DatabaseError, connection, transaction

from agencies.models import Agency
from portal import db


@pytest.mark.django_db
def test_a_nested_cursor_leaves_the_outer_ones_results_alone(make_agency):
    first, second = make_agency(), make_agency()
    with db.hot_cursor() as outer:
        outer.execute(f"SELECT id FROM {db.table(Agency)} WHERE id IN (%s, %s) ORDER BY id", [first.pk, second.pk])
        assert outer.fetchone() == (first.pk,)
        with db.hot_cursor() as inner:
            assert inner is not outer
            assert inner.execute(f"SELECT id FROM {db.table(Agency)} WHERE id = %s", [second.pk]).fetchall() \
                == [(second.pk,)]
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
